"""The router's network tree: the OpenWrt fixture's UCI ``network`` package and a real kernel.

A network namespace made here holds what netifd would have built from the fixture: bridge
br-lan over ports lan1..lan3 (veth pairs, their peers lan1p..lan3p outside the config),
br-guest, the WAN port ``wan`` (a veth pair with the ISP side ``isp``), VLAN wan.100 with a
DHCP-style (expiring) address (a veth of that name where the kernel has no 802.1Q
support), ``pppoe-wan`` (a point-to-point tun device standing in for pppd's), addresses,
the static routes and a default route over PPP. The CLI runs inside it. Writes go through
the CLI and through AddObject/SetParameterValues/DeleteObject in a daemon session; the UCI
file says what they did.
"""

import os
import shutil
import subprocess

import pytest

import acs as A
from cpe import Cpe
from icwmpy.config.uci import Uci
from openwrt import router_confdir

TIMEOUT = 20
NS = f"icwmpy-router-{os.getpid()}"
LINKS = [
    "link set lo up",
    *[f"link add lan{n} type veth peer name lan{n}p" for n in (1, 2, 3)],
    "link add br-lan type bridge", "link add br-guest type bridge",
    *[f"link set lan{n} master br-lan up" for n in (1, 2, 3)],
    "link add wan type veth peer name isp",
]
VLAN = "link add link wan name wan.100 type vlan id 100"
VLAN_STANDIN = ["link add wan.100 type veth peer name wan.100p", "link set wan.100p up"]
TOPOLOGY = [
    "tuntap add dev pppoe-wan mode tun",
    *[f"link set {dev} up" for dev in ("br-lan", "br-guest", "wan", "isp", "wan.100",
                                       "pppoe-wan", "lan1p", "lan2p", "lan3p")],
    "addr add 192.168.1.1/24 dev br-lan",
    "addr add fd4b:19c2:83f0::1/64 dev br-lan nodad",
    "addr add 2001:db8:1200:10::1/64 dev br-lan nodad",
    "-6 route add unreachable 2001:db8:1200::/56 metric 2147483647",
    "addr add 192.168.2.1/24 dev br-guest",
    "addr add 10.100.0.23/24 dev wan.100 valid_lft 3600 preferred_lft 3600",
    "addr add 100.64.1.2 peer 100.64.0.1 dev pppoe-wan",
    "route add 10.10.0.0/16 via 192.168.1.254 dev br-lan",
    "-6 route add fd00:10::/64 via fd4b:19c2:83f0::fe dev br-lan",
    "route add default dev pppoe-wan",
]


def ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture(scope="module")
def netns():
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("network namespaces need root and ip (iproute2)")
    try:
        ip("netns", "add", NS)
    except subprocess.CalledProcessError as e:
        pytest.skip(f"cannot make network namespaces: {e.stderr.decode().strip()}")
    try:
        for command in LINKS:
            ip("-n", NS, *command.split())
        try:
            ip("-n", NS, *VLAN.split())
        except subprocess.CalledProcessError:   # no 802.1Q in this kernel
            for command in VLAN_STANDIN:
                ip("-n", NS, *command.split())
        for command in TOPOLOGY:
            ip("-n", NS, *command.split())
        yield NS
    finally:
        ip("netns", "del", NS)


@pytest.fixture
def router(tmp_path):
    """A CPE sandbox whose config dir holds the router fixtures."""
    router_confdir(tmp_path)
    return Cpe(tmp_path)


def cli(cpe, *words, ns=NS):
    argv = cpe.argv("-c", *words)
    return subprocess.run(["ip", "netns", "exec", ns, *argv] if ns else argv,
                          capture_output=True, text=True, timeout=60, cwd=str(cpe.root))


def values(cpe, path, ns=NS):
    done = cli(cpe, "get", path, ns=ns)
    assert done.returncode == 0, done.stderr
    return dict(line.split(" => ", 1) for line in done.stdout.splitlines())


def instance(found, table, param, value):
    """The instance path of ``table`` whose ``param`` is ``value``."""
    hits = [name[: -len(param)] for name, v in found.items()
            if name.startswith(table) and name.endswith("." + param) and v == value
            and name[len(table):-len(param) - 1].isdigit()]
    assert len(hits) == 1, (table, param, value, hits)
    return hits[0]


def network(cpe):
    return Uci(str(cpe.confdir))


def device(cpe, name, option):
    """An option of the ``config device`` section named ``name`` (anonymous sections)."""
    uci = network(cpe)
    section = next(s for s, _ in uci.sections("network", "device")
                   if uci.get("network", s, "name") == name)
    return uci.get("network", section, option)


def test_ip_interfaces_are_the_interface_sections_on_their_devices(router, netns):
    v = values(router, "Device.")
    ifaces = {v[p + "Alias"]: p for p in (instance(v, "Device.IP.Interface.", "Name", n)
                                          for n in ("br-lan", "br-guest", "wan.100", "lo"))}
    assert len(ifaces) == 4
    lan = instance(v, "Device.IP.Interface.", "Name", "br-lan")
    assert v[lan + "Status"] == "Up" and v[lan + "Enable"] == "1" and v[lan + "Type"] == "Normal"
    assert v[instance(v, "Device.IP.Interface.", "Name", "lo") + "Type"] == "Loopback"
    assert v["Device.IP.InterfaceNumberOfEntries"] == "6"   # + wan and wan6 on pppoe-wan
    sent = int(subprocess.run(
        ["ip", "netns", "exec", netns, "cat", "/sys/class/net/br-lan/statistics/tx_packets"],
        capture_output=True, text=True, check=True).stdout)
    assert 0 <= sent - int(v[lan + "Stats.PacketsSent"]) < 100

    # the static address is the config's and writable; the VLAN's DHCP one the kernel's
    assert v[lan + "IPv4Address.1.IPAddress"] == "192.168.1.1"
    assert v[lan + "IPv4Address.1.SubnetMask"] == "255.255.255.0"
    assert v[lan + "IPv4Address.1.AddressingType"] == "Static"
    assert v[lan + "IPv4AddressNumberOfEntries"] == "1"
    iptv = instance(v, "Device.IP.Interface.", "Name", "wan.100")
    assert v[iptv + "IPv4Address.1.IPAddress"] == "10.100.0.23"
    assert v[iptv + "IPv4Address.1.AddressingType"] == "DHCP"
    assert v[iptv + "IPv4Address.1.SubnetMask"] == "255.255.255.0"
    # wan and wan6 share pppoe-wan: the IPCP address shows once, under wan
    ppp_ifaces = [p for p, name in v.items() if p.startswith("Device.IP.Interface.")
                  and p.endswith(".Name") and name == "pppoe-wan"]
    assert len(ppp_ifaces) == 2
    wan, wan6 = (p[: -len("Name")] for p in sorted(ppp_ifaces))
    assert v[wan + "IPv4Address.1.IPAddress"] == "100.64.1.2"
    assert v[wan + "IPv4Address.1.AddressingType"] == "IPCP"
    assert v[wan6 + "IPv4AddressNumberOfEntries"] == "0"
    # IPv6: the ULA address and the /64 the LAN was given from the ULA prefix
    lan6 = {v[k] for k in v if k.startswith(lan + "IPv6Address.") and k.endswith("IPAddress")}
    assert "fd4b:19c2:83f0::1" in lan6
    prefixes = {v[k]: v[k[: -len("Prefix")] + "Origin"] for k in v
                if k.startswith(lan + "IPv6Prefix.") and k.endswith(".Prefix")}
    assert prefixes == {"fd4b:19c2:83f0::/64": "Static", "2001:db8:1200:10::/64": "Child"}
    # the prefix delegated to wan6 (netifd's unreachable guard route), not a route to show
    assert (v[wan6 + "IPv6Prefix.1.Prefix"], v[wan6 + "IPv6Prefix.1.Origin"]) == \
        ("2001:db8:1200::/56", "PrefixDelegation")
    assert v[wan + "IPv6PrefixNumberOfEntries"] == "0"
    child = next(k[: -len("Prefix")] for k in v if k.startswith(lan + "IPv6Prefix.")
                 and v[k] == "2001:db8:1200:10::/64")
    assert v[child + "ParentPrefix"] == wan6 + "IPv6Prefix.1"
    assert (v[child + "StaticType"], v[wan6 + "IPv6Prefix.1.StaticType"]) == \
        ("Inapplicable", "Inapplicable")
    address = next(k[: -len("IPAddress")] for k in v if k.startswith(lan + "IPv6Address.")
                   and v[k] == "2001:db8:1200:10::1")
    assert v[address + "Prefix"] == child.rstrip(".")
    assert "2001:db8:1200::/56" not in {
        v[k] for k in v if k.startswith("Device.Routing.") and k.endswith("DestIPPrefix")}


def test_the_stack_from_ip_down_to_the_ports(router, netns):
    v = values(router, "Device.")
    lan = instance(v, "Device.IP.Interface.", "Name", "br-lan")
    link = v[lan + "LowerLayers"]
    assert link.startswith("Device.Ethernet.Link.") and v[link + ".Name"] == "br-lan"
    assert v[link + ".Status"] == "Up"
    bridge = instance(v, "Device.Bridging.Bridge.", "Name", "br-lan")
    management = v[link + ".LowerLayers"]
    assert management.startswith(bridge + "Port.")
    assert v[management + ".ManagementPort"] == "1" and v[management + ".Name"] == "br-lan"
    ports = v[management + ".LowerLayers"].split(",")
    names = {v[p + ".Name"]: p for p in ports}
    assert {"lan1", "lan2", "lan3"} <= set(names)
    lan1 = v[names["lan1"] + ".LowerLayers"]
    assert lan1.startswith("Device.Ethernet.Interface.") and v[lan1 + ".Name"] == "lan1"
    assert v[names["lan1"] + ".Status"] == "Up"
    wifi = [p for p in ports if v[p + ".LowerLayers"].startswith("Device.WiFi.SSID.")
            or v[p + ".Name"].startswith("default_radio")]
    assert len(wifi) == 2   # default_radio0/1 have network lan

    # IPTV: IP -> VLANTermination(wan.100, VID 100) -> Link(wan) -> Ethernet.Interface(wan)
    iptv = instance(v, "Device.IP.Interface.", "Name", "wan.100")
    vlan = v[iptv + "LowerLayers"]
    assert vlan.startswith("Device.Ethernet.VLANTermination.")
    assert (v[vlan + ".VLANID"], v[vlan + ".TPID"], v[vlan + ".Status"]) == ("100", "33024", "Up")
    wan_link = v[vlan + ".LowerLayers"]
    assert v[wan_link + ".Name"] == "wan"
    assert v[v[wan_link + ".LowerLayers"] + ".Name"] == "wan"
    # WAN: IP -> PPP.Interface -> the same Link(wan)
    ppp = instance(v, "Device.PPP.Interface.", "Name", "pppoe-wan")
    assert v[ppp + "LowerLayers"] == wan_link
    assert ppp.rstrip(".") in {v[p] for p in v if p.startswith("Device.IP.Interface.")
                               and p.endswith("LowerLayers")}
    # InterfaceStack says the same pairs
    stack = {(v[p + "HigherLayer"], v[p + "LowerLayer"])
             for p in {k[: -len("HigherLayer")] for k in v if k.endswith(".HigherLayer")}}
    assert (lan.rstrip("."), link) in stack and (link, management) in stack
    assert (vlan, wan_link) in stack and (ppp.rstrip("."), wan_link) in stack
    assert (names["lan1"], lan1) in stack
    assert v["Device.InterfaceStackNumberOfEntries"] == str(len(stack))


def test_ppp_interface_from_config_and_kernel(router, netns):
    v = values(router, "Device.PPP.")
    ppp = instance(v, "Device.PPP.Interface.", "Name", "pppoe-wan")
    assert v[ppp + "Username"] == "customer@example-isp.net"
    assert v[ppp + "Password"] == ""   # secret: never read back
    assert v[ppp + "ConnectionStatus"] == "Connected"
    assert v[ppp + "LastConnectionError"] == "ERROR_NONE"
    assert v[ppp + "IPCP.LocalIPAddress"] == "100.64.1.2"
    assert v[ppp + "IPCP.RemoteIPAddress"] == "100.64.0.1"
    assert (v[ppp + "PPPoE.ACName"], v[ppp + "PPPoE.ServiceName"]) == ("BRAS-01", "internet")
    assert (v[ppp + "MaxMRUSize"], v[ppp + "ConnectionTrigger"], v[ppp + "LCPEcho"]) == \
        ("1492", "AlwaysOn", "0")
    for name, value, option, written in (("LCPEcho", "10", "keepalive", "5 10"),
                                         ("LCPEchoRetry", "3", "keepalive", "3 10"),
                                         ("ConnectionTrigger", "OnDemand", "demand", "300"),
                                         ("IdleDisconnectTime", "600", "demand", "600"),
                                         ("MaxMRUSize", "1480", "mtu", "1480"),
                                         ("ConnectionTrigger", "Manual", "auto", "0")):
        done = cli(router, "set", ppp + name, value)
        assert done.returncode == 0, done.stderr
        assert network(router).get("network", "wan", option) == written
    after = values(router, ppp)
    assert (after[ppp + "ConnectionTrigger"], after[ppp + "LCPEchoRetry"]) == ("Manual", "3")


def test_routes_static_from_config_and_learnt_from_the_kernel(router, netns):
    v = values(router, "Device.")
    static = instance(v, "Device.Routing.Router.1.IPv4Forwarding.", "DestIPAddress", "10.10.0.0")
    assert v[static + "StaticRoute"] == "1" and v[static + "Status"] == "Enabled"
    assert v[static + "DestSubnetMask"] == "255.255.0.0"
    assert v[static + "GatewayIPAddress"] == "192.168.1.254"
    lan = instance(v, "Device.IP.Interface.", "Name", "br-lan")
    assert v[static + "Interface"] == lan.rstrip(".")
    default = instance(v, "Device.Routing.Router.1.IPv4Forwarding.", "DestSubnetMask", "0.0.0.0")
    assert v[default + "StaticRoute"] == "0" and v[default + "Origin"] == "IPCP"
    assert v[v[default + "Interface"] + ".Name"] == "pppoe-wan"
    connected = instance(v, "Device.Routing.Router.1.IPv4Forwarding.", "DestIPAddress",
                         "192.168.2.0")
    assert v[connected + "Interface"] == instance(v, "Device.IP.Interface.", "Name",
                                                  "br-guest").rstrip(".")
    route6 = instance(v, "Device.Routing.Router.1.IPv6Forwarding.", "DestIPPrefix",
                      "fd00:10::/64")
    assert (v[route6 + "NextHop"], v[route6 + "Status"]) == ("fd4b:19c2:83f0::fe", "Enabled")
    assert cli(router, "set", static + "Type", "Blackhole").returncode == 0
    assert network(router).get("network", "route_1", "type") == "blackhole"
    assert values(router, static + "Type")[static + "Type"] == "Blackhole"
    # a kernel route is not the ACS's to change
    done = cli(router, "del", default)
    assert done.returncode == 1 and "Fault 9001" in done.stderr
    done = cli(router, "set", default + "ForwardingMetric", "5")
    assert done.returncode == 1 and "Fault 9008" in done.stderr
    done = cli(router, "set", static + "Interface", v[default + "Interface"].replace(
        "IP.Interface", "PPP.Interface"))
    assert done.returncode == 1 and "Fault 9007" in done.stderr


def test_cli_writes_land_in_the_network_file(router, netns):
    v = values(router, "Device.")
    lan = instance(v, "Device.IP.Interface.", "Name", "br-lan")
    for name, value in ((lan + "IPv4Address.1.IPAddress", "192.168.10.1"),
                        (lan + "IPv4Address.1.SubnetMask", "255.255.0.0")):
        done = cli(router, "set", name, value)
        assert done.returncode == 0, done.stderr
    uci = network(router)
    assert (uci.get("network", "lan", "ipaddr"), uci.get("network", "lan", "netmask")) == \
        ("192.168.10.1", "255.255.0.0")
    assert values(router, lan + "IPv4Address.1.IPAddress")[lan + "IPv4Address.1.IPAddress"] \
        == "192.168.10.1"
    done = cli(router, "set", lan + "IPv4Address.1.IPAddress", "192.168.300.1")
    assert done.returncode == 1 and "9007" in done.stderr
    iptv = instance(v, "Device.IP.Interface.", "Name", "wan.100")
    done = cli(router, "set", iptv + "IPv4Address.1.IPAddress", "10.100.0.99")
    assert done.returncode == 1 and "Fault 9008" in done.stderr

    vlan = v[iptv + "LowerLayers"]
    assert cli(router, "set", vlan + ".VLANID", "200").returncode == 0
    assert "9007" in cli(router, "set", vlan + ".VLANID", "5000").stderr
    assert cli(router, "set", vlan + ".TPID", "34984").returncode == 0
    assert "9007" in cli(router, "set", vlan + ".TPID", "1234").stderr
    ppp = instance(v, "Device.PPP.Interface.", "Name", "pppoe-wan")
    assert cli(router, "set", ppp + "Username", "other@isp").returncode == 0
    assert cli(router, "set", ppp + "Password", "n3w-secret").returncode == 0
    assert cli(router, "set", lan + "Enable", "0").returncode == 0
    assert cli(router, "set", lan + "MaxMTUSize", "1492").returncode == 0
    assert cli(router, "set", iptv + "IPv6Enable", "0").returncode == 0
    uci = network(router)
    assert (device(router, "wan.100", "vid"), device(router, "wan.100", "type")) == \
        ("200", "8021ad")
    assert (uci.get("network", "wan", "username"), uci.get("network", "wan", "password")) == \
        ("other@isp", "n3w-secret")
    assert uci.get("network", "lan", "disabled") == "1"
    assert device(router, "br-lan", "mtu") == "1492"
    assert uci.get("network", "iptv", "ipv6") == "0"
    assert values(router, ppp + "Password")[ppp + "Password"] == ""
    assert values(router, lan + "Status")[lan + "Status"] == "Down"


def test_bridge_ports_are_deleted_and_added_through_the_ports_list(router, netns):
    v = values(router, "Device.Bridging.")
    bridge = instance(v, "Device.Bridging.Bridge.", "Name", "br-lan")
    lan3 = instance(v, bridge + "Port.", "Name", "lan3")
    eth = v[lan3 + "LowerLayers"]
    assert cli(router, "del", lan3).returncode == 0
    assert device(router, "br-lan", "ports") == ["lan1", "lan2"]
    done = cli(router, "add", bridge + "Port.")
    assert done.returncode == 0, done.stderr
    added = done.stdout.split()[-1]
    done = cli(router, "set", added + "LowerLayers", eth)
    assert done.returncode == 0, done.stderr
    assert device(router, "br-lan", "ports") == ["lan1", "lan2", "lan3"]
    after = values(router, added)
    assert (after[added + "Name"], after[added + "LowerLayers"]) == ("lan3", eth)


def test_routes_ppp_and_addresses_are_written_in_a_session(tmp_path):
    """AddObject / SetParameterValues / DeleteObject from an ACS: route sections, the PPP
    credentials and a static address in the file (the daemon runs in this namespace: only
    the UCI side matters here)."""
    router_confdir(tmp_path)
    table = "Device.Routing.Router.1.IPv4Forwarding."

    def spv(session):
        number = session.messages[-1].parsed["InstanceNumber"]
        return A.set_parameter_values([
            (f"{table}{number}.DestIPAddress", "172.16.0.0"),
            (f"{table}{number}.DestSubnetMask", "255.240.0.0"),
            (f"{table}{number}.GatewayIPAddress", "192.168.1.253"),
            (f"{table}{number}.Interface", "Device.IP.Interface.2"),
            (f"{table}{number}.ForwardingMetric", "10", "xsd:int")], "routes")

    async def main():
        acs = A.Acs()
        await acs.start()
        cpe = Cpe(tmp_path, acs.url)
        before = {n for n, _ in network(cpe).sections("network", "route")}
        acs.queue(A.add_object(table, "add"), spv,
                  A.set_parameter_values([(f"{table}1.Enable", "0", "xsd:boolean")], "off"),
                  A.delete_object(f"{table}1.", "del"),
                  A.set_parameter_values([
                      ("Device.PPP.Interface.1.Username", "acs-user@isp"),
                      ("Device.PPP.Interface.1.Password", "acs-secret"),
                      ("Device.IP.Interface.2.IPv4Address.1.IPAddress", "10.0.0.1")], "wan"))
        await cpe.start()
        s = await acs.wait_session(1, timeout=TIMEOUT)
        assert await cpe.stop() == 0
        await acs.stop()
        return s, before, cpe.log_text()

    s, before, log = A.run(main(), timeout=60)
    assert "acs-secret" not in log
    assert s.methods[1:] == ["AddObjectResponse", "SetParameterValuesResponse",
                             "SetParameterValuesResponse", "DeleteObjectResponse",
                             "SetParameterValuesResponse"], s.methods
    assert s.messages[1].parsed["Status"] == "1"   # the network reload applies it
    uci = network(Cpe(tmp_path))
    routes = [n for n, _ in uci.sections("network", "route")]
    assert len(routes) == 1 and routes[0] not in before   # the fixture's route is gone
    assert uci.options("network", routes[0]) == {
        "target": "172.16.0.0", "netmask": "255.240.0.0", "gateway": "192.168.1.253",
        "interface": "lan", "metric": "10"}
    assert (uci.get("network", "wan", "username"), uci.get("network", "wan", "password"),
            uci.get("network", "lan", "ipaddr")) == ("acs-user@isp", "acs-secret", "10.0.0.1")


def test_host_without_network_config_keeps_the_kernel_view(tmp_path):
    cpe = Cpe(tmp_path)
    v = values(cpe, "Device.", ns=None)
    names = {v[k] for k in v if k.startswith("Device.IP.Interface.") and k.endswith(".Name")}
    assert names == set(os.listdir("/sys/class/net"))
    assert v["Device.Ethernet.LinkNumberOfEntries"] == "0"
    assert v["Device.Bridging.BridgeNumberOfEntries"] == "0"
    assert v["Device.PPP.InterfaceNumberOfEntries"] == "0"
    assert v["Device.InterfaceStackNumberOfEntries"] == "0"
    assert int(v["Device.Routing.Router.1.IPv4ForwardingNumberOfEntries"]) >= 1


def test_bridge_vlans_are_the_bridge_vlan_sections(router):
    uci = network(router)
    for vid, ports in (("1", ["lan1:u*", "lan2:u*"]), ("10", ["lan3:t"])):
        section = uci.add("network", "bridge-vlan")
        uci.set("network", section, "device", "br-lan")
        uci.set("network", section, "vlan", vid)
        uci.set("network", section, "ports", ports)
    uci.commit("network")
    v = values(router, "Device.Bridging.", ns=None)
    bridge = instance(v, "Device.Bridging.Bridge.", "Name", "br-lan")
    guest = instance(v, "Device.Bridging.Bridge.", "Name", "br-guest")
    assert v[bridge + "VLANNumberOfEntries"] == "2" and v[guest + "VLANNumberOfEntries"] == "0"
    ten = instance(v, bridge + "VLAN.", "VLANID", "10")
    assert v[ten + "Name"] == "br-lan.10"
    assert cli(router, "set", ten + "VLANID", "20", ns=None).returncode == 0
    assert "9007" in cli(router, "set", ten + "VLANID", "4095", ns=None).stderr
    uci = network(router)
    vids = sorted(uci.get("network", s, "vlan") for s, _ in uci.sections("network", "bridge-vlan"))
    assert vids == ["1", "20"]


def test_ipcp_dns_servers_are_the_interface_block_of_resolv_conf_auto(tmp_path):
    from icwmpy.backends.linux import resolv_servers
    resolv = tmp_path / "resolv.conf.auto"
    resolv.write_text("# Interface wan\nnameserver 198.51.100.53\nnameserver 198.51.100.54\n"
                      "nameserver 2001:db8::53\n# Interface iptv\nnameserver 10.100.0.1\n")
    assert resolv_servers("wan", str(resolv)) == ["198.51.100.53", "198.51.100.54", "2001:db8::53"]
    assert resolv_servers("iptv", str(resolv)) == ["10.100.0.1"]
    assert resolv_servers("lan", str(resolv)) == []


def test_legacy_bridge_interfaces_are_bridges_too(tmp_path):
    """OpenWrt before 21.02: ``option type bridge`` on the interface, ports in ifname."""
    conf = tmp_path / "config"
    conf.mkdir()
    (conf / "network").write_text(
        "config interface 'lan'\n\toption type 'bridge'\n\toption ifname 'eth0.1 eth0.3'\n"
        "\toption proto 'static'\n\toption ipaddr '192.168.1.1/24'\n")
    cpe = Cpe(tmp_path)
    v = values(cpe, "Device.", ns=None)
    assert v["Device.IP.Interface.1.Name"] == "br-lan"
    assert v["Device.IP.Interface.1.IPv4Address.1.SubnetMask"] == "255.255.255.0"
    assert v["Device.Bridging.Bridge.1.Name"] == "br-lan"
    ports = {v[k]: k[: -len("Name")] for k in v
             if k.startswith("Device.Bridging.Bridge.1.Port.") and k.endswith(".Name")}
    assert set(ports) == {"br-lan", "eth0.1", "eth0.3"}
    assert cli(cpe, "del", ports["eth0.3"], ns=None).returncode == 0
    done = cli(cpe, "set", "Device.IP.Interface.1.IPv4Address.1.IPAddress", "10.1.1.1", ns=None)
    assert done.returncode == 0, done.stderr
    uci = network(cpe)
    assert (uci.get("network", "lan", "ifname"), uci.get("network", "lan", "ipaddr")) == \
        ("eth0.1", "10.1.1.1/24")
