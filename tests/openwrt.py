"""A realistic OpenWrt router's configuration, as test fixtures (tests/fixtures/openwrt/).

One home router, coherent across packages: a dual-band AP with a main and a guest SSID, a
PPPoE WAN, a LAN bridge, an IPTV VLAN, DHCP pools with static leases, port forwards, NTP
servers, and a dnsmasq lease file. :func:`router_confdir` copies it (with the repo's
default ``cwmp``) into a test's own directory, so tests read and write it freely; the
lease file's path is written into ``dhcp.@dnsmasq[0].leasefile``. :func:`router_session`
runs icwmpd on that copy through one session with the test ACS.
"""

import asyncio
import shutil
from pathlib import Path

import acs as A
from cpe import Cpe
from icwmpy.config.uci import Uci

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "openwrt"
LEASES = "dnsmasq.leases"
# what `iw dev phy0-ap0 station dump` prints with two stations on the main 2.4 GHz AP
STATION_DUMP = """\
Station 3c:22:fb:12:34:56 (on phy0-ap0)
\tinactive time:\t1230 ms
\trx bytes:\t1523612
\trx packets:\t10234
\ttx bytes:\t9823412
\ttx packets:\t8123
\ttx retries:\t112
\ttx failed:\t3
\trx drop misc:\t0
\tsignal:  \t-48 [-50, -51] dBm
\tsignal avg:\t-47 [-49, -50] dBm
\ttx bitrate:\t286.7 MBit/s HE-MCS 11 HE-NSS 2 HE-GI 0 HE-DCM 0
\ttx duration:\t123456 us
\trx bitrate:\t229.4 MBit/s HE-MCS 9 HE-NSS 2 HE-GI 0 HE-DCM 0
\trx duration:\t98765 us
\tauthorized:\tyes
\tauthenticated:\tyes
\tassociated:\tyes
\tpreamble:\tshort
\tWMM/WME:\tyes
\tMFP:\t\tno
\tTDLS peer:\tno
\tDTIM period:\t2
\tbeacon interval:100
\tshort slot time:yes
\tconnected time:\t3600 seconds
Station a4:83:e7:aa:bb:cc (on phy0-ap0)
\tinactive time:\t40 ms
\trx bytes:\t5120
\trx packets:\t40
\ttx bytes:\t20480
\ttx packets:\t80
\ttx retries:\t0
\ttx failed:\t0
\tsignal:  \t-71 dBm
\ttx bitrate:\t65.0 MBit/s MCS 7
\trx bitrate:\t6.0 MBit/s
\tauthorized:\tyes
\tauthenticated:\tyes
\tassociated:\tyes
\tconnected time:\t12 seconds
"""


def router_confdir(tmp_path):
    """``tmp_path/config`` holding the router's UCI packages and cwmp; returns the path."""
    conf = Path(tmp_path) / "config"
    conf.mkdir(parents=True, exist_ok=True)
    for source in FIXTURES.iterdir():
        if source.is_file() and source.name != LEASES:
            shutil.copy(source, conf / source.name)
    shutil.copy(REPO / "etc" / "config" / "cwmp", conf / "cwmp")
    if (FIXTURES / LEASES).exists() and (conf / "dhcp").exists():
        leases = Path(tmp_path) / LEASES
        shutil.copy(FIXTURES / LEASES, leases)
        uci = Uci(str(conf))
        uci.set("dhcp", "@dnsmasq[0]", "leasefile", str(leases))
        uci.commit("dhcp")
    return conf


def tools(directory, **outputs):
    """Stand-ins for wireless tools: ``name`` prints ``{args: output}[args]``, else fails."""
    directory.mkdir(exist_ok=True)
    for name, answers in outputs.items():
        cases = "".join(f"  '{args}') cat <<'EOF'\n{out}EOF\n  ;;\n" for args, out in answers.items())
        script = directory / name
        script.write_text(f'#!/bin/sh\ncase "$*" in\n{cases}  *) exit 237 ;;\nesac\n')
        script.chmod(0o755)
    return directory


def router_session(tmp_path, *rpcs, timeout=20):
    """The router's configuration in ``tmp_path`` (:func:`router_confdir`), icwmpd on it
    and a test ACS that answers the bootstrap Inform with ``rpcs``: that session, once the
    daemon has applied it (the services reload after the session) and exited with 0."""
    router_confdir(tmp_path)

    async def main():
        acs = A.Acs()
        await acs.start()
        cpe = Cpe(tmp_path, acs.url)
        acs.queue(*rpcs)
        await cpe.start()
        session = await acs.wait_session(1, timeout=timeout)
        await asyncio.sleep(0.2)
        assert await cpe.stop() == 0
        await acs.stop()
        return session

    return A.run(main(), timeout=timeout + 40)
