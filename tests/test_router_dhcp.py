"""The router's DHCP, DNS relay and Hosts tree, on the OpenWrt fixtures (tests/fixtures/openwrt/).

Reads and writes go through the real CLI (``icwmpd -c``) and a real daemon session
(SetParameterValues/AddObject from the test ACS); what was written is checked in the UCI
file afterwards. The neighbour table and the DHCP client's address come from a real
kernel: a network namespace made here, with a LAN bridge, a WAN port and the IPTV
device, the CLI running inside it.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import acs as A
from icwmpy.config.uci import Uci
from openwrt import router_confdir, router_session

REPO = Path(__file__).resolve().parents[1]
POOL = "Device.DHCPv4.Server.Pool."


class Router:
    """The fixture router in ``tmp_path``, driven by the CLI (inside ``ns`` if given)."""

    def __init__(self, tmp_path, ns=None):
        self.root = Path(tmp_path)
        self.conf = router_confdir(tmp_path)
        self.state = self.root / "state"
        self.ns = ns

    def cli(self, *words):
        argv = [sys.executable, "-m", "icwmpy", "--confdir", str(self.conf),
                "--statedir", str(self.state), "-c", *words]
        if self.ns:
            argv = ["ip", "netns", "exec", self.ns, *argv]
        return subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=60)

    def get(self, path):
        done = self.cli("get", path)
        assert done.returncode == 0, done.stderr
        return dict(line.split(" => ", 1) for line in done.stdout.splitlines() if " => " in line)

    def value(self, name):
        return self.get(name)[name]

    def set(self, name, value):
        done = self.cli("set", name, value)
        assert done.returncode == 0, done.stderr

    def fault(self, *words):
        """The fault code of a CLI command that must fail."""
        done = self.cli(*words)
        assert done.returncode == 1, done.stdout
        return re.search(r"^Fault (\d+):", done.stderr, re.M).group(1)

    def add(self, table):
        done = self.cli("add", table)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()[-1]          # "Added <table>N."

    def uci(self, section, option):
        return Uci(str(self.conf)).get("dhcp", section, option)

    def interface_name(self, path):
        """The Name of the Device.IP.Interface a reference points at."""
        return self.value(path + ".Name") if path else ""


@pytest.fixture
def router(tmp_path):
    return Router(tmp_path)


def write_resolv(router, text):
    """netifd's resolv.conf.auto for this router, named by dnsmasq's ``resolvfile``."""
    path = router.root / "resolv.conf.auto"
    path.write_text(text)
    uci = Uci(str(router.conf))
    uci.set("dhcp", "@dnsmasq[0]", "resolvfile", str(path))
    uci.commit("dhcp")


def test_pools_are_the_served_dhcp_sections(router):
    values = router.get("Device.DHCPv4.Server.")
    assert values["Device.DHCPv4.Server.Enable"] == "1"
    assert values["Device.DHCPv4.Server.PoolNumberOfEntries"] == "2"   # wan is ignored
    lan, guest = (f"{POOL}{n}." for n in (1, 2))
    expected = {"Enable": "1", "Status": "Enabled", "MinAddress": "192.168.1.100",
                "MaxAddress": "192.168.1.249", "SubnetMask": "255.255.255.0",
                "DNSServers": "192.168.1.1", "IPRouters": "192.168.1.1", "DomainName": "lan",
                "LeaseTime": "43200", "StaticAddressNumberOfEntries": "2",
                "OptionNumberOfEntries": "1", "ClientNumberOfEntries": "3"}
    assert {k: values[lan + k] for k in expected} == expected
    assert router.interface_name(values[lan + "Interface"]) == "br-lan"
    assert router.interface_name(values[guest + "Interface"]) == "br-guest"
    assert (values[guest + "MinAddress"], values[guest + "MaxAddress"]) == ("192.168.2.50",
                                                                            "192.168.2.99")
    assert values[guest + "LeaseTime"] == "3600"
    assert values[guest + "DNSServers"] == "192.168.2.1"   # no option 6: the router itself
    assert [values[f"{lan}StaticAddress.{n}.{p}"] for n in (1, 2) for p in ("Chaddr", "Yiaddr")] \
        == ["00:11:32:a4:5b:c8", "192.168.1.10", "d8:bb:c1:0e:7f:21", "192.168.1.20"]
    assert (values[lan + "Option.1.Tag"], values[lan + "Option.1.Value"]) == ("6", "C0A80101")


def test_clients_are_the_leases_of_each_pool(router):
    values = router.get(POOL)
    lan = {values[f"{POOL}1.Client.{n}.Chaddr"]: (
        values[f"{POOL}1.Client.{n}.Active"], values[f"{POOL}1.Client.{n}.IPv4Address.1.IPAddress"],
        values[f"{POOL}1.Client.{n}.IPv4Address.1.LeaseTimeRemaining"]) for n in (1, 2, 3)}
    assert lan == {"00:11:32:a4:5b:c8": ("1", "192.168.1.10", "2030-01-01T00:00:00Z"),
                   "a4:83:e7:3c:91:0d": ("1", "192.168.1.142", "2029-12-31T23:00:00Z"),
                   "3c:22:fb:6a:02:e4": ("0", "192.168.1.187", "2023-11-14T22:13:20Z")}
    options = f"{POOL}1.Client.2.Option."                      # what iPhone-Anna sent
    assert [(values[f"{options}{n}.Tag"], values[f"{options}{n}.Value"]) for n in (1, 2)] \
        == [("12", b"iPhone-Anna".hex().upper()), ("61", "01A483E73C910D")]
    assert values[f"{POOL}2.Client.1.Chaddr"] == "b8:27:eb:5d:a1:07"
    assert values[f"{POOL}2.Client.1.OptionNumberOfEntries"] == "1"   # no client id sent
    assert values[f"{POOL}2.Client.1.IPv4Address.1.LeaseTimeRemaining"] == "9999-12-31T23:59:59Z"


def test_address_range_and_lease_time_rewrite_start_limit_leasetime(router):
    router.set(POOL + "1.MinAddress", "192.168.1.50")        # the last address stays .249
    assert (router.uci("lan", "start"), router.uci("lan", "limit")) == ("50", "200")
    router.set(POOL + "1.MaxAddress", "192.168.1.199")
    assert (router.uci("lan", "start"), router.uci("lan", "limit")) == ("50", "150")
    for seconds, text in (("1800", "30m"), ("7200", "2h"), ("-1", "infinite"), ("90", "90")):
        router.set(POOL + "1.LeaseTime", seconds)
        assert router.uci("lan", "leasetime") == text
        assert router.value(POOL + "1.LeaseTime") == seconds
    router.set(POOL + "1.DNSServers", "1.1.1.1,9.9.9.9")
    router.set(POOL + "1.IPRouters", "192.168.1.254")
    router.set(POOL + "1.DomainName", "home.arpa")
    assert router.uci("lan", "dhcp_option") == ["6,1.1.1.1,9.9.9.9", "3,192.168.1.254",
                                                "15,home.arpa"]
    router.set(POOL + "2.SubnetMask", "255.255.255.128")
    assert router.uci("guest", "netmask") == "255.255.255.128"
    router.set(POOL + "2.Enable", "0")
    assert router.uci("guest", "dhcpv4") == "disabled"
    assert router.value(POOL + "2.Status") == "Disabled"


def test_bad_values_fault_and_leave_the_file_alone(router):
    before = (router.conf / "dhcp").read_text()
    assert router.fault("set", POOL + "1.MinAddress", "192.168.1.300") == "9007"
    assert router.fault("set", POOL + "1.MinAddress", "10.0.0.1") == "9007"   # other subnet
    assert router.fault("set", POOL + "1.MaxAddress", "192.168.1.20") == "9007"  # below Min
    assert router.fault("set", POOL + "1.LeaseTime", "-2") == "9007"
    assert router.fault("set", POOL + "1.Interface", "Device.IP.Interface.99") == "9007"
    assert router.fault("set", POOL + "1.Status", "Enabled") == "9008"
    assert router.fault("set", POOL + "1.Nope", "1") == "9005"
    assert (router.conf / "dhcp").read_text() == before


def test_interface_writes_the_network_section_name(router):
    guest = router.value(POOL + "2.Interface")
    router.set(POOL + "1.Interface", guest)
    assert router.uci("lan", "interface") == "guest"
    assert router.value(POOL + "1.MinAddress") == "192.168.2.100"


def test_options_added_enabled_retagged_and_deleted(router):
    option = router.add(POOL + "1.Option.")
    assert router.get(option) == {option + "Enable": "0", option + "Alias": "cpe-2",
                                  option + "Tag": "1", option + "Value": ""}
    router.set(option + "Tag", "42")
    router.set(option + "Value", "C0A80102C0A80103")
    assert router.uci("lan", "dhcp_option") == ["6,192.168.1.1"]   # not enabled yet
    router.set(option + "Enable", "1")
    assert router.uci("lan", "dhcp_option") == ["6,192.168.1.1", "42,192.168.1.2,192.168.1.3"]
    assert router.fault("set", option + "Tag", "6") == "9007"    # the pool has option 6
    router.set(option + "Tag", "44")                              # same instance, new tag
    assert router.value(option + "Value") == "C0A80102C0A80103"
    router.set(option + "Enable", "0")
    assert router.uci("lan", "dhcp_option") == ["6,192.168.1.1"]
    router.set(option + "Enable", "1")
    done = router.cli("del", POOL + "1.Option.1.")
    assert done.returncode == 0, done.stderr
    assert router.uci("lan", "dhcp_option") == ["44,192.168.1.2,192.168.1.3"]
    assert router.value(POOL + "1.OptionNumberOfEntries") == "1"
    assert router.value(POOL + "1.DNSServers") == "192.168.1.1"  # option 6 gone: the router


def test_option_values_are_encoded_as_dhcp_sends_them(router):
    option = router.add(POOL + "2.Option.")
    for tag, value, item in (("51", "00000E10", "51,3600"), ("15", "6C616E", "15,lan"),
                             ("43", "0104C0A80101", "43,01:04:c0:a8:01:01"),
                             ("42", "C0A80101C0A80102", "42,192.168.1.1,192.168.1.2")):
        router.set(option + "Tag", tag)
        router.set(option + "Value", value)
        router.set(option + "Enable", "1")
        assert router.uci("guest", "dhcp_option") == [item]
        assert router.value(option + "Value") == value
    assert router.cli("del", POOL + "2.").returncode == 0       # its options go with it
    pool = router.add(POOL)
    assert router.value(pool + "OptionNumberOfEntries") == "0"


def test_an_option_edited_in_the_file_keeps_its_instance(router):
    assert router.value(POOL + "1.Option.1.Tag") == "6"
    uci = Uci(str(router.conf))
    uci.set("dhcp", "lan", "dhcp_option", ["6,192.168.1.2", "252,http://wpad/wpad.dat"])
    uci.commit("dhcp")
    values = router.get(POOL + "1.Option.")
    assert values[POOL + "1.Option.1.Value"] == "C0A80102"
    assert values[POOL + "1.Option.2.Tag"] == "252"
    assert bytes.fromhex(values[POOL + "1.Option.2.Value"]) == b"http://wpad/wpad.dat"


def test_static_addresses_added_and_deleted(router):
    static = router.add(POOL + "1.StaticAddress.")
    assert router.value(static + "Enable") == "0"
    router.set(static + "Chaddr", "02:AA:BB:CC:DD:EE")
    router.set(static + "Yiaddr", "192.168.1.30")
    router.set(static + "Enable", "1")
    assert router.value(static + "Chaddr") == "02:AA:BB:CC:DD:EE"   # read back as written
    hosts = {name: Uci(str(router.conf)).options("dhcp", name)
             for name, _ in Uci(str(router.conf)).sections("dhcp", "host")}
    assert hosts["host_3"] == {"dhcp": "lan", "enable": "1", "mac": "02:AA:BB:CC:DD:EE",
                               "ip": "192.168.1.30"}
    assert router.fault("set", static + "Yiaddr", "192.168.2.30") == "9007"  # not this pool
    assert router.value(POOL + "2.StaticAddressNumberOfEntries") == "0"
    done = router.cli("del", POOL + "1.StaticAddress.1.")
    assert done.returncode == 0, done.stderr
    names = [n for n, _ in Uci(str(router.conf)).sections("dhcp", "host")]
    assert names == ["host_2", "host_3"]
    assert router.value(POOL + "1.StaticAddressNumberOfEntries") == "2"


def test_pools_added_and_deleted(router):
    pool = router.add(POOL)
    assert pool == POOL + "3."
    options = Uci(str(router.conf)).options("dhcp", "dhcp_1")
    assert options == {"start": "100", "limit": "150", "leasetime": "12h", "dhcpv4": "disabled"}
    router.set(pool + "Interface", router.value(POOL + "2.Interface"))
    router.set(pool + "Enable", "1")
    assert router.uci("dhcp_1", "interface") == "guest"
    assert router.uci("dhcp_1", "dhcpv4") == "server"
    assert router.cli("del", pool).returncode == 0
    assert "dhcp_1" not in dict(Uci(str(router.conf)).sections("dhcp"))
    # lan's section still serves DHCPv6 and RAs: it is only ignored for DHCPv4
    assert router.cli("del", POOL + "1.").returncode == 0
    assert (router.uci("lan", "ignore"), router.uci("lan", "dhcpv6")) == ("1", "server")
    assert router.value("Device.DHCPv4.Server.PoolNumberOfEntries") == "1"
    assert router.value("Device.DHCPv6.Server.PoolNumberOfEntries") == "1"


def test_dhcpv6_pools_and_router_advertisement(router):
    values = router.get("Device.DHCPv6.Server.")
    assert values["Device.DHCPv6.Server.Pool.1.Enable"] == "1"
    assert router.interface_name(values["Device.DHCPv6.Server.Pool.1.Interface"]) == "br-lan"
    assert (values["Device.DHCPv6.Server.Pool.1.IANAEnable"],
            values["Device.DHCPv6.Server.Pool.1.IAPDEnable"]) == ("1", "1")   # odhcpd's default
    router.set("Device.DHCPv6.Server.Pool.1.IAPDEnable", "0")
    assert router.uci("lan", "dhcpv6_pd") == "0"
    uci = Uci(str(router.conf))
    uci.set("dhcp", "lan", "dhcpv6", "relay")
    uci.commit("dhcp")
    router.set("Device.DHCPv6.Server.Pool.1.Enable", "1")      # enabled already: stays relay
    assert router.uci("lan", "dhcpv6") == "relay"
    ra = "Device.RouterAdvertisement.InterfaceSetting."
    values = router.get(ra + "1.")
    assert {k: values[ra + "1." + k] for k in (
        "Status", "AdvManagedFlag", "AdvOtherConfigFlag", "MaxRtrAdvInterval",
        "AdvPreferredRouterFlag")} == {"Status": "Enabled", "AdvManagedFlag": "1",
                                       "AdvOtherConfigFlag": "1", "MaxRtrAdvInterval": "600",
                                       "AdvPreferredRouterFlag": "Medium"}
    router.set(ra + "1.AdvManagedFlag", "0")
    assert router.uci("lan", "ra_flags") == ["other-config"]
    router.set(ra + "1.AdvOtherConfigFlag", "0")
    assert router.uci("lan", "ra_flags") == ["none"]
    router.set(ra + "1.MaxRtrAdvInterval", "300")
    router.set(ra + "1.AdvPreferredRouterFlag", "High")
    assert (router.uci("lan", "ra_maxinterval"), router.uci("lan", "ra_preference")) \
        == ("300", "high")
    assert router.fault("set", ra + "1.MaxRtrAdvInterval", "2") == "9007"
    router.set(ra + "1.Enable", "0")
    assert router.uci("lan", "ra") == "disabled"
    setting = router.add(ra)
    router.set(setting + "Interface", router.value(POOL + "2.Interface"))
    router.set(setting + "Enable", "1")
    assert Uci(str(router.conf)).options("dhcp", "ra_1") == {"ignore": "1", "ra": "server",
                                                             "interface": "guest"}
    assert router.cli("del", setting).returncode == 0
    assert "ra_1" not in dict(Uci(str(router.conf)).sections("dhcp"))
    assert router.cli("del", "Device.DHCPv6.Server.Pool.1.").returncode == 0
    assert router.uci("lan", "dhcpv6") is None and router.uci("lan", "interface") == "lan"


def test_dns_relay_forwarders(router):
    write_resolv(router, "# Interface wan\nnameserver 100.64.0.53\nnameserver 2001:db8::53\n")
    relay = "Device.DNS.Relay."
    values = router.get(relay)
    servers = {values[f"{relay}Forwarding.{n}.DNSServer"]: values[f"{relay}Forwarding.{n}.Type"]
               for n in range(1, 5)}
    assert servers == {"10.8.0.1": "Static", "9.9.9.9": "Static", "100.64.0.53": "IPCP",
                       "2001:db8::53": "IPCP"}     # the WAN is PPPoE
    assert values[relay + "ForwardNumberOfEntries"] == "4"
    assert router.interface_name(values[relay + "Forwarding.3.Interface"]) == "pppoe-wan"
    assert values[relay + "Forwarding.1.Interface"] == ""
    router.set(relay + "Forwarding.2.Interface", values[relay + "Forwarding.3.Interface"])
    assert router.uci("@dnsmasq[0]", "server")[1] == "9.9.9.9@pppoe-wan"
    assert router.value(relay + "Forwarding.2.Interface") == values[relay + "Forwarding.3.Interface"]
    router.set(relay + "Forwarding.2.Interface", "")
    router.set(relay + "Forwarding.1.DNSServer", "10.8.0.2")
    assert router.uci("@dnsmasq[0]", "server") == ["/corp.example.com/10.8.0.2", "9.9.9.9"]
    assert router.fault("set", relay + "Forwarding.3.DNSServer", "1.2.3.4") == "9002"
    added = router.add(relay + "Forwarding.")
    router.set(added + "DNSServer", "1.0.0.1")
    router.set(added + "Enable", "1")
    assert router.uci("@dnsmasq[0]", "server")[-1] == "1.0.0.1"
    router.set(relay + "Forwarding.2.Enable", "0")
    assert router.uci("@dnsmasq[0]", "server") == ["/corp.example.com/10.8.0.2", "1.0.0.1"]
    assert router.value(relay + "Forwarding.2.Status") == "Disabled"
    router.set(relay + "Enable", "0")
    assert router.uci("@dnsmasq[0]", "port") == "0"
    assert router.value(relay + "Status") == "Disabled"


def test_a_daemon_session_adds_and_sets_and_the_file_follows(tmp_path):
    s = router_session(
        tmp_path,
        A.add_object(POOL + "1.StaticAddress.", "k1"),
        A.set_parameter_values([(POOL + "1.StaticAddress.3.Chaddr", "02:11:22:33:44:55"),
                                (POOL + "1.StaticAddress.3.Yiaddr", "192.168.1.40"),
                                (POOL + "1.StaticAddress.3.Enable", "1", "xsd:boolean"),
                                (POOL + "1.MaxAddress", "192.168.1.200"),
                                (POOL + "1.LeaseTime", "86400", "xsd:int")], "k2"),
        A.add_object(POOL + "2.Option.", "k3"),
        A.set_parameter_values([(POOL + "2.Option.1.Tag", "42", "xsd:unsignedInt"),
                                (POOL + "2.Option.1.Value", "C0A80201", "xsd:hexBinary"),
                                (POOL + "2.Option.1.Enable", "true", "xsd:boolean")],
                               "k4"),
        A.set_parameter_values([(POOL + "1.MinAddress", "192.168.1.10"),
                                (POOL + "1.MaxAddress", "192.168.7.1")], "k5"))
    assert s.methods == ["Inform", "AddObjectResponse", "SetParameterValuesResponse",
                         "AddObjectResponse", "SetParameterValuesResponse", "Fault"]
    assert s.messages[1].parsed == {"InstanceNumber": "3", "Status": "1"}  # dnsmasq reloads
    assert s.messages[2].parsed == {"Status": "1"}
    assert s.messages[3].parsed == {"InstanceNumber": "1", "Status": "0"}  # not in UCI yet
    assert "9007" in s.messages[5].raw.decode()      # 192.168.7.1: all of k5 is refused
    uci = Uci(str(tmp_path / "config"))
    assert uci.options("dhcp", "host_3") == {"dhcp": "lan", "enable": "1",
                                             "mac": "02:11:22:33:44:55", "ip": "192.168.1.40"}
    assert (uci.get("dhcp", "lan", "start"), uci.get("dhcp", "lan", "limit")) == ("100", "101")
    assert uci.get("dhcp", "lan", "leasetime") == "24h"
    assert uci.get("dhcp", "guest", "dhcp_option") == ["42,192.168.2.1"]


# ------------------------------------------------------------------ real kernel state

def ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def lan(tmp_path):
    """The router's namespace: br-lan (192.168.1.1/24, fd4b:19c2:83f0::1/64) with port lan1
    (a veth whose peer is a LAN host), wan (a veth to the ISP) with the ISP's gateway as a
    neighbour, and the IPTV device wan.100 holding a DHCP lease's address and default route
    (a veth by that name: the VLAN type needs the 8021q module, which a kernel may lack)."""
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("bridge"):
        pytest.skip("network namespaces need root, ip and bridge (iproute2)")
    ns = f"icwmpy-dhcp-{os.getpid()}"
    try:
        ip("netns", "add", ns)
    except subprocess.CalledProcessError as e:
        pytest.skip(f"cannot make network namespaces: {e.stderr.decode().strip()}")
    try:
        for args in (("link", "set", "lo", "up"),
                     ("link", "add", "br-lan", "type", "bridge"),
                     ("link", "add", "lan1", "type", "veth", "peer", "name", "host1"),
                     ("link", "set", "lan1", "master", "br-lan"),
                     ("addr", "add", "192.168.1.1/24", "dev", "br-lan"),
                     ("addr", "add", "fd4b:19c2:83f0::1/64", "dev", "br-lan", "nodad"),
                     ("link", "add", "wan", "type", "veth", "peer", "name", "isp"),
                     ("link", "add", "wan.100", "type", "veth", "peer", "name", "iptv"),
                     ("addr", "add", "10.64.3.23/22", "dev", "wan.100"),
                     ("addr", "add", "100.64.0.2/30", "dev", "wan"),
                     *(("link", "set", dev, "up") for dev in ("br-lan", "lan1", "host1", "wan",
                                                            "isp", "wan.100", "iptv")),
                     ("route", "add", "default", "via", "10.64.0.1", "dev", "wan.100"),
                     ("neigh", "add", "192.168.1.142", "lladdr", "a4:83:e7:3c:91:0d",
                      "dev", "br-lan"),
                     ("neigh", "add", "192.168.1.77", "lladdr", "02:00:00:00:00:77", "dev", "br-lan"),
                     ("-6", "neigh", "add", "fd4b:19c2:83f0::77", "lladdr", "02:00:00:00:00:77",
                      "dev", "br-lan"),
                     ("neigh", "add", "100.64.0.1", "lladdr", "02:00:00:00:00:01", "dev", "wan")):
            ip("-n", ns, *args)
        subprocess.run(["ip", "netns", "exec", ns, "bridge", "fdb", "add", "02:00:00:00:00:77",
                        "dev", "lan1", "master", "static"], check=True, capture_output=True)
        yield Router(tmp_path, ns)
    finally:
        ip("netns", "del", ns)


def test_hosts_are_leases_and_lan_neighbours(lan):
    values = lan.get("Device.Hosts.")
    hosts = {values[f"Device.Hosts.Host.{n}.PhysAddress"]: n
             for n in range(1, int(values["Device.Hosts.HostNumberOfEntries"]) + 1)}
    # three live leases and one host only the neighbour table knows; not the ISP's gateway
    assert sorted(hosts) == ["00:11:32:a4:5b:c8", "02:00:00:00:00:77", "a4:83:e7:3c:91:0d",
                             "b8:27:eb:5d:a1:07"]

    def host(mac, name):
        return values[f"Device.Hosts.Host.{hosts[mac]}.{name}"]

    assert (host("a4:83:e7:3c:91:0d", "Active"), host("a4:83:e7:3c:91:0d", "HostName"),
            host("a4:83:e7:3c:91:0d", "IPAddress")) == ("1", "iPhone-Anna", "192.168.1.142")
    assert (host("00:11:32:a4:5b:c8", "Active"), host("00:11:32:a4:5b:c8", "HostName")) \
        == ("0", "nas")
    new = "02:00:00:00:00:77"
    assert (host(new, "Active"), host(new, "IPAddress"), host(new, "HostName")) \
        == ("1", "192.168.1.77", "")
    assert host(new, "IPv4Address.1.IPAddress") == "192.168.1.77"
    assert host(new, "IPv6Address.1.IPAddress") == "fd4b:19c2:83f0::77"
    assert lan.interface_name(host(new, "Layer3Interface")) == "br-lan"
    assert host(new, "DHCPClient") == ""                        # a static address
    assert host(new, "InterfaceType") == "Ethernet"             # learnt on port lan1
    assert lan.value(host(new, "Layer1Interface") + ".Name") == "lan1"
    assert host("00:11:32:a4:5b:c8", "InterfaceType") == ""     # not seen: not known
    assert host("a4:83:e7:3c:91:0d", "DHCPClient") == POOL + "1.Client.2"
    assert host("b8:27:eb:5d:a1:07", "DHCPClient") == POOL + "2.Client.1"
    assert lan.interface_name(host("b8:27:eb:5d:a1:07", "Layer3Interface")) == "br-guest"


def test_dhcp_client_reads_what_the_kernel_holds(lan):
    write_resolv(lan, "# Interface wan\nnameserver 100.64.0.53\n"
                      "# Interface iptv\nnameserver 10.64.0.53\nnameserver 10.64.0.54\n")
    values = lan.get("Device.DHCPv4.")
    client = "Device.DHCPv4.Client.1."
    assert values["Device.DHCPv4.ClientNumberOfEntries"] == "1"
    assert lan.interface_name(values[client + "Interface"]) == "wan.100"
    assert {k: values[client + k] for k in ("Enable", "Status", "DHCPStatus", "IPAddress",
                                            "SubnetMask", "IPRouters", "DNSServers")} == {
        "Enable": "1", "Status": "Enabled", "DHCPStatus": "Bound", "IPAddress": "10.64.3.23",
        "SubnetMask": "255.255.252.0", "IPRouters": "10.64.0.1",
        "DNSServers": "10.64.0.53,10.64.0.54"}
    assert lan.fault("set", client + "Enable", "0") == "9008"
