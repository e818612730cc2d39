"""The udhcpc hook etc/udhcpc.user.d/icwmp, run by a real shell with udhcpc's environment.

Each test gives the hook the event and the lease's options as udhcpc exports them (hex in
``opt43``/``opt125``) over the router's real UCI files, then reads what it left: the
``cwmp`` package, the gateway identity the CLI serves as Device.GatewayInfo., and the
SIGHUP a running daemon gets.
"""

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

import acs as A
from cpe import Cpe
from icwmpy.config.settings import load_settings
from icwmpy.config.uci import Uci
from openwrt import REPO, router_confdir

HOOK = REPO / "etc" / "udhcpc.user.d" / "icwmp"
ACS = "https://acs.isp.example:7547/cwmp"


def tlv(code, value):
    data = value.encode() if isinstance(value, str) else value
    return bytes([code, len(data)]) + data


def vendor_125(*subs, enterprise=3561):
    data = b"".join(tlv(code, value) for code, value in subs)
    return enterprise.to_bytes(4, "big") + bytes([len(data)]) + data


@pytest.fixture
def router(tmp_path):
    conf = router_confdir(tmp_path)
    return type("Router", (), {"conf": conf, "state": tmp_path / "state", "run": tmp_path / "run",
                               "uci": lambda self: Uci(str(conf))})()


def hook(router, event, **options):
    env = {"PATH": os.environ["PATH"], "ICWMPD_PYTHON": sys.executable,
           "ICWMPD_CONFDIR": str(router.conf), "ICWMPD_STATEDIR": str(router.state),
           "ICWMPD_RUNDIR": str(router.run), "INTERFACE": "wan", "interface": "eth1",
           "ip": "203.0.113.7", "subnet": "255.255.255.0", "router": "203.0.113.1"}
    env.update({k: v.hex() if isinstance(v, bytes) else v for k, v in options.items()})
    done = subprocess.run(["sh", str(HOOK), event], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stderr


def dhcp_values(router):
    uci = router.uci()
    return {"url": uci.get("cwmp", "acs", "dhcp_url"),
            "code": uci.get("cwmp", "cpe", "dhcp_provisioning_code"),
            "wait": uci.get("cwmp", "acs", "dhcp_retry_min_wait_interval"),
            "multiplier": uci.get("cwmp", "acs", "dhcp_retry_interval_multiplier")}


def gateway(router):
    done = subprocess.run(
        [sys.executable, "-m", "icwmpy", "--confdir", str(router.conf), "--statedir",
         str(router.state), "-c", "get", "Device.GatewayInfo."],
        capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    return dict(line.split(" => ", 1) for line in done.stdout.splitlines())


FULL_43 = tlv(1, ACS) + tlv(2, "PROV-2024") + tlv(3, "10") + tlv(4, "3000")


def test_bound_lease_writes_the_acs_url_code_and_retry_policy(router):
    hook(router, "bound", opt43=FULL_43)
    assert dhcp_values(router) == {"url": ACS, "code": "PROV-2024", "wait": "10",
                                   "multiplier": "3000"}
    settings = load_settings(str(router.conf), uci=router.uci())  # the daemon can read it
    assert settings.acs.dhcp_url == ACS


def test_renewal_without_a_sub_option_clears_its_value(router):
    hook(router, "bound", opt43=FULL_43)
    hook(router, "renew", opt43=tlv(1, ACS + "2"))
    assert dhcp_values(router) == {"url": ACS + "2", "code": None, "wait": None,
                                   "multiplier": None}


def test_a_bare_url_and_the_vendorspecific_name_are_understood(router):
    hook(router, "bound", vendorspecific=b"http://10.0.0.1:7547/")
    assert dhcp_values(router)["url"] == "http://10.0.0.1:7547/"


@pytest.mark.parametrize("bad", [
    tlv(1, ACS)[:-3],                                # the URL cut short
    tlv(1, ACS) + bytes([2, 40]) + b"short",         # a sub-option longer than the option
    tlv(1, "ftp://acs.isp.example/"),                # not an http(s) URL
    tlv(1, ACS) + tlv(3, "0"),                       # retry wait below 1
    tlv(1, ACS) + tlv(4, "999"),                     # multiplier below 1000
    tlv(1, ACS) + tlv(2, b"\xff\xfe"),               # not text
    b"\x99\x01\x02",                                 # neither sub-options nor a URL
    "zz-not-hex",
], ids=["cut-url", "overlong", "ftp", "wait-0", "multiplier-999", "binary", "junk", "not-hex"])
def test_bad_option_43_changes_nothing(router, bad):
    hook(router, "bound", opt43=FULL_43)
    before = (router.conf / "cwmp").read_bytes()
    message = hook(router, "renew", opt43=bad)
    assert "option 43 ignored" in message
    assert (router.conf / "cwmp").read_bytes() == before


def test_other_interfaces_and_events_are_left_alone(router):
    before = (router.conf / "cwmp").read_bytes()
    hook(router, "bound", opt43=FULL_43, INTERFACE="iptv")  # the IPTV VLAN's DHCP server
    hook(router, "deconfig", opt43=FULL_43)
    hook(router, "leasefail", opt43=FULL_43)
    assert (router.conf / "cwmp").read_bytes() == before


def test_option_125_gives_gateway_info(router):
    assert gateway(router) == {"Device.GatewayInfo.ManufacturerOUI": "",
                               "Device.GatewayInfo.ProductClass": "",
                               "Device.GatewayInfo.SerialNumber": ""}
    other = vendor_125((1, "nope"), enterprise=9)
    opt125 = other + vendor_125((4, "00A0C5"), (5, "GW-0042"), (6, "HomeGateway"))
    hook(router, "bound", opt125=opt125)
    assert gateway(router) == {"Device.GatewayInfo.ManufacturerOUI": "00A0C5",
                               "Device.GatewayInfo.ProductClass": "HomeGateway",
                               "Device.GatewayInfo.SerialNumber": "GW-0042"}
    message = hook(router, "renew", opt125=vendor_125((4, "00A0C5"))[:-2])
    assert "option 125 ignored" in message
    assert gateway(router)["Device.GatewayInfo.SerialNumber"] == "GW-0042"


HOLDER = """
import fcntl, os, signal, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.lockf(fd, fcntl.LOCK_EX)
signal.signal(signal.SIGHUP, lambda *_: (open(sys.argv[2], "w").write("reload"), sys.exit(0)))
print("locked", flush=True)
time.sleep(30)
"""


def test_a_running_daemon_is_told_to_reload_only_when_cwmp_changed(router, tmp_path):
    """A process holding icwmpd's lock in the run directory stands for the daemon."""
    hook(router, "bound", opt43=tlv(1, "http://127.0.0.1:9/"))
    router.run.mkdir()
    told = tmp_path / "told"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(router.run / "icwmpd.pid"),
                               str(told)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        hook(router, "renew", opt43=tlv(1, "http://127.0.0.1:9/"))            # the same
        hook(router, "bound", opt43=tlv(1, "http://127.0.0.1:8/"), INTERFACE="iptv")
        time.sleep(0.3)
        assert holder.poll() is None and not told.exists()
        hook(router, "renew", opt43=tlv(1, "http://127.0.0.1:8/"))
        assert holder.wait(timeout=10) == 0
        assert told.read_text() == "reload"
    finally:
        if holder.poll() is None:
            holder.send_signal(signal.SIGKILL)
            holder.wait()


def test_the_daemon_informs_the_acs_a_lease_names(tmp_path):
    """icwmpd with DHCP discovery on, its configured ACS unreachable: a lease whose option
    43 names the test ACS makes the next session go there, with the lease's code."""
    router_confdir(tmp_path)
    router = type("Router", (), {"conf": tmp_path / "config", "state": tmp_path / "state",
                                 "run": tmp_path / "run"})()

    async def main():
        acs = A.Acs()
        await acs.start()
        cpe = Cpe(tmp_path, "http://127.0.0.1:9/", {("acs", "dhcp_discovery"): "1"})
        await cpe.start()
        try:
            await asyncio.sleep(1)
            assert not acs.sessions
            await asyncio.to_thread(hook, router, "bound",
                                    opt43=tlv(1, acs.url) + tlv(2, "PROV-DHCP"))
            session = await acs.wait_session(1, timeout=20)
        finally:
            await cpe.stop()
            await acs.stop()
        return session

    session = A.run(main(), timeout=60)
    assert ("0 BOOTSTRAP", "") in session.events
    assert session.parameters["Device.DeviceInfo.ProvisioningCode"] == "PROV-DHCP"
