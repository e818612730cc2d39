"""A realistic OpenWrt router's configuration, as test fixtures (tests/fixtures/openwrt/).

One home router, coherent across packages: a dual-band AP with a main and a guest SSID, a
PPPoE WAN, a LAN bridge, an IPTV VLAN, DHCP pools with static leases, port forwards, NTP
servers, and a dnsmasq lease file. :func:`router_confdir` copies it (with the repo's
default ``cwmp``) into a test's own directory, so tests read and write it freely; the
lease file's path is written into ``dhcp.@dnsmasq[0].leasefile``.
"""

import shutil
from pathlib import Path

from icwmpy.config.uci import Uci

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "openwrt"
LEASES = "dnsmasq.leases"


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
