"""Device.NAT and Device.Firewall on the router's UCI firewall package (issue 9), as bbfdm
maps them: read and written through ``icwmpd -c`` and through an ACS session, the file
checked as written (strict uci syntax: tests/test_uci.py reads files as libuci does)."""

import asyncio
import subprocess
import sys

import pytest

import acs as A
from cpe import Cpe
from icwmpy.config.uci import Uci
from icwmpy.cr import firewall as cr_firewall
from icwmpy.model import DataModel
from icwmpy.model.schema import Definitions
from icwmpy.store import Store
from openwrt import REPO, router_confdir

NAT = "Device.NAT."
PM = "Device.NAT.PortMapping."
RULES = "Device.Firewall.Chain.1.Rule."
TIMEOUT = 20


class Router:
    """The router's config dir with the CLI and the data model over it (one state dir)."""

    def __init__(self, tmp_path):
        self.root = tmp_path
        self.confdir = router_confdir(tmp_path)

    def cli(self, *words):
        return subprocess.run([sys.executable, "-m", "icwmpy", "--confdir", str(self.confdir),
                               "--statedir", str(self.root / "state"),
                               "--rundir", str(self.root / "run"), "-c", *words],
                              capture_output=True, text=True, timeout=60, cwd=str(REPO))

    def get(self, path):
        out = self.cli("get", path)
        assert out.returncode == 0, out.stderr
        return dict(line.split(" => ", 1) for line in out.stdout.splitlines())

    def set(self, name, value):
        out = self.cli("set", name, value)
        assert out.returncode == 0, out.stderr

    def fault(self, *words):
        """The fault code a CLI command fails with."""
        out = self.cli(*words)
        assert out.returncode == 1, out.stdout
        return out.stderr.split()[1].rstrip(":")

    def interface(self, network):
        """The IP.Interface instance of a network, in this router's own numbering."""
        model = DataModel(Definitions().load_dir(str(REPO / "datamodel")),
                          Uci(str(self.confdir)), Store(str(self.root / "state")))
        path = model.ctx.refs.path("Device.IP.Interface.", network)
        assert path, f"no IP.Interface for network {network}"
        return path

    def options(self, section):
        return Uci(str(self.confdir)).options("firewall", section)

    def sections(self, type):
        return [name for name, _ in Uci(str(self.confdir)).sections("firewall", type)]


@pytest.fixture
def router(tmp_path):
    return Router(tmp_path)


def instance(values, table, **match):
    """The instance path of ``table`` whose parameters have the values ``match`` gives."""
    numbers = {name[len(table):].split(".")[0] for name in values if name.startswith(table)}
    found = [f"{table}{n}." for n in sorted(numbers, key=int)
             if all(values.get(f"{table}{n}.{k}") == v for k, v in match.items())]
    assert len(found) == 1, (match, found)
    return found[0]


def test_port_mappings_and_nat_interfaces_read_from_the_firewall(router):
    wan, lan = router.interface("wan"), router.interface("lan")
    values = router.get(NAT)
    assert values[NAT + "PortMappingNumberOfEntries"] == "2"
    ssh = instance(values, PM, Description="NAS-SSH")
    assert {k[len(ssh):]: v for k, v in values.items() if k.startswith(ssh)} == {
        "Enable": "1", "Status": "Enabled", "Alias": f"cpe-{ssh[-2]}", "Interface": wan,
        "AllInterfaces": "0", "LeaseDuration": "0", "RemoteHost": "", "ExternalPort": "2222",
        "ExternalPortEndRange": "0", "InternalPort": "22", "Protocol": "TCP",
        "InternalClient": "192.168.1.10", "Description": "NAS-SSH"}
    game = instance(values, PM, Description="Game")
    assert values[game + "ExternalPort"] == "27015"
    assert values[game + "ExternalPortEndRange"] == "27030"
    assert values[game + "InternalPort"] == "0"   # no dest_port: the external ports
    assert values[game + "Protocol"] == "TCP"     # "tcp udp", as bbfdm reads it
    setting = "Device.NAT.InterfaceSetting."
    assert values[NAT + "InterfaceSettingNumberOfEntries"] == "3"
    masq = instance(values, setting, Enable="1")
    assert values[masq + "Status"] == "Enabled" and values[masq + "Interface"] == wan
    plain = instance(values, setting, Interface=lan)
    assert values[plain + "Enable"] == "0" and values[plain + "Status"] == "Disabled"


def test_only_dnat_redirects_are_port_mappings(router):
    uci = Uci(str(router.confdir))
    uci.add("firewall", "redirect", "snat_office")
    for option, value in {"target": "SNAT", "src": "lan", "dest": "wan",
                          "src_ip": "192.168.1.50", "snat_ip": "198.51.100.7"}.items():
        uci.set("firewall", "snat_office", option, value)
    uci.commit("firewall")
    values = router.get(PM)
    assert sorted(v for k, v in values.items() if k.endswith(".Description")) == ["Game", "NAS-SSH"]


def test_rules_read_targets_protocols_ports_addresses_and_zones(router):
    wan, lan, guest = (router.interface(n) for n in ("wan", "lan", "guest"))
    values = router.get(RULES)
    assert router.get("Device.Firewall.Chain.1.RuleNumberOfEntries") == {
        "Device.Firewall.Chain.1.RuleNumberOfEntries": "13"}

    def rule(description):
        path = instance(values, RULES, Description=description)
        return {k[len(path):]: v for k, v in values.items() if k.startswith(path)}

    renew = rule("Allow-DHCP-Renew")
    assert renew["Order"] == "1" and renew["Enable"] == "1" and renew["Status"] == "Enabled"
    assert (renew["Target"], renew["Protocol"], renew["IPVersion"]) == ("Accept", "17", "4")
    assert (renew["DestPort"], renew["DestPortRangeMax"], renew["SourcePort"]) == ("68", "-1", "-1")
    assert (renew["SourceInterface"], renew["DestInterface"]) == (wan, "")
    assert rule("Allow-Ping")["Protocol"] == "1" and rule("Allow-IGMP")["Protocol"] == "2"
    assert rule("Allow-IPSec-ESP")["Protocol"] == "50"
    assert rule("Guest-DNS")["Protocol"] == "255"           # "tcp udp", as bbfdm says
    assert rule("Guest-DNS")["IPVersion"] == "-1"
    dhcp = rule("Guest-DHCP")
    assert (dhcp["SourcePort"], dhcp["SourcePortRangeMax"]) == ("67", "68")
    assert (dhcp["DestPort"], dhcp["DestPortRangeMax"]) == ("67", "68")
    no_lan = rule("Guest-No-LAN")
    assert (no_lan["Target"], no_lan["Protocol"]) == ("Reject", "-1")
    assert (no_lan["SourceInterface"], no_lan["DestInterface"]) == (guest, lan)
    mld = rule("Allow-MLD")
    assert (mld["SourceIP"], mld["SourceMask"], mld["IPVersion"]) == ("fe80::", "fe80::/10", "6")
    forward = rule("Allow-ICMPv6-Forward")
    assert (forward["DestAllInterfaces"], forward["DestInterface"]) == ("1", "")
    office = rule("Admin-SSH-from-office")
    assert (office["Enable"], office["Status"]) == ("0", "Disabled")
    assert (office["SourceIP"], office["SourceMask"]) == ("203.0.113.0", "203.0.113.0/24")
    top = router.get("Device.Firewall.")
    assert top["Device.Firewall.Config"] == "Advanced"
    assert top["Device.Firewall.AdvancedLevel"] == "Device.Firewall.Level.1"
    assert top["Device.Firewall.Level.1.Chain"] == "Device.Firewall.Chain.1"
    assert top["Device.Firewall.Level.1.DefaultPolicy"] == "Reject"   # defaults input


def test_port_mapping_writes_keep_ranges_and_refuse_bad_values(router):
    game = instance(router.get(PM), PM, Description="Game")
    section = next(s for s in router.sections("redirect")
                   if router.options(s).get("name") == "Game")
    router.set(game + "ExternalPort", "27000")
    assert router.options(section)["src_dport"] == "27000-27030"
    router.set(game + "ExternalPortEndRange", "27010")
    assert router.options(section)["src_dport"] == "27000-27010"
    router.set(game + "Protocol", "TCP")                 # what it reads: nothing lost
    assert router.options(section)["proto"] == "tcp udp"
    router.set(game + "ExternalPortEndRange", "0")
    assert router.options(section)["src_dport"] == "27000"
    router.set(game + "Protocol", "UDP")
    router.set(game + "Interface", router.interface("lan"))
    router.set(game + "InternalPort", "0")
    assert {k: router.options(section).get(k) for k in ("proto", "src", "dest_port")} == {
        "proto": "udp", "src": "lan", "dest_port": None}
    assert router.fault("set", game + "Protocol", "ICMP") == "9007"
    assert router.fault("set", game + "ExternalPort", "70000") == "9007"
    assert router.fault("set", game + "LeaseDuration", "3600") == "9007"  # static only
    assert router.fault("set", game + "Interface", "Device.WiFi.SSID.1") == "9007"
    assert router.fault("set", game + "Status", "Enabled") == "9008"
    # iptv is an IP.Interface in no firewall zone: the set fails and changes nothing
    assert router.fault("set", game + "Interface", router.interface("iptv")) == "9007"
    assert router.options(section)["src"] == "lan"
    assert router.options(section)["proto"] == "udp"


def test_rule_writes_map_back_to_fw_words(router):
    rules = router.get(RULES)
    ping = instance(rules, RULES, Description="Allow-Ping")
    section = next(s for s in router.sections("rule")
                   if router.options(s).get("name") == "Allow-Ping")
    for name, value in (("Target", "Drop"), ("Protocol", "255"), ("DestPortRangeMax", "2000"),
                        ("DestPort", "1000"), ("SourceIP", "198.51.100.0"),
                        ("SourceMask", "198.51.100.0/24"), ("IPVersion", "-1"),
                        ("DestInterface", router.interface("guest"))):
        router.set(ping + name, value)
    options = router.options(section)
    assert {k: options.get(k) for k in ("target", "proto", "dest_port", "src_ip", "family",
                                        "dest")} == {
        "target": "DROP", "proto": "tcp udp", "dest_port": "1000-2000",
        "src_ip": "198.51.100.0/24", "family": None, "dest": "guest"}
    router.set(ping + "DestPortRangeMax", "-1")
    router.set(ping + "Protocol", "-1")
    assert (router.options(section)["dest_port"], router.options(section)["proto"]) == ("1000", "all")
    assert router.fault("set", ping + "Protocol", "256") == "9007"
    assert router.fault("set", ping + "Target", "Return") == "9007"
    assert router.fault("set", ping + "IPVersion", "5") == "9007"
    assert router.fault("set", ping + "DestPort", "65536") == "9007"


def test_rule_order_moves_the_section_in_the_file(router):
    rules = router.get(RULES)
    office = instance(rules, RULES, Description="Admin-SSH-from-office")
    renew = instance(rules, RULES, Description="Allow-DHCP-Renew")
    router.set(office + "Order", "1")
    names = [router.options(s)["name"] for s in router.sections("rule")]
    assert names[:2] == ["Admin-SSH-from-office", "Allow-DHCP-Renew"] and len(names) == 13
    after = router.get(RULES)
    assert after[office + "Order"] == "1" and after[renew + "Order"] == "2"  # numbers stay
    assert after[office + "Description"] == "Admin-SSH-from-office"
    router.set(office + "Order", "99")                  # past the end: the last one
    assert [router.options(s)["name"] for s in router.sections("rule")][-1] == "Admin-SSH-from-office"
    assert router.get(office + "Order") == {office + "Order": "13"}


def test_the_connection_request_rule_stays_hidden_and_intact(router):
    uci = Uci(str(router.confdir))
    cr_firewall.open_port(uci, 7547, udp=True, network="wan", incoming_rule="Port_Only",
                          acs_ip=None)
    before = router.options(cr_firewall.SECTION)
    rules = router.get(RULES)
    assert cr_firewall.NAME not in rules.values()
    assert len([k for k in rules if k.endswith(".Description")]) == 13
    out = router.cli("add", RULES)
    assert out.returncode == 0, out.stderr
    added = out.stdout.split()[1]
    router.set(added + "Order", "1")
    router.set(instance(router.get(RULES), RULES, Description="Guest-DNS") + "Order", "14")
    out = router.cli("del", instance(router.get(RULES), RULES, Description="Allow-IGMP"))
    assert out.returncode == 0, out.stderr
    assert router.options(cr_firewall.SECTION) == before
    assert len(router.sections("rule")) == 14    # 13 + 1 - 1, and icwmpy's own


def test_add_object_makes_sections_as_bbfdm(router):
    out = router.cli("add", RULES)
    added = out.stdout.split()[1]
    assert router.get(added + "Order") == {added + "Order": "14"}
    section = router.sections("rule")[-1]
    assert router.options(section) == {"enabled": "0", "target": "DROP", "proto": "all"}
    out = router.cli("add", "Device.NAT.InterfaceSetting.")
    assert out.returncode == 0, out.stderr
    zone = router.sections("zone")[-1]
    assert router.options(zone) == {"name": zone, "input": "REJECT", "output": "ACCEPT",
                                    "forward": "REJECT"}
    router.set(out.stdout.split()[1] + "Interface", router.interface("iptv"))
    router.set(out.stdout.split()[1] + "Enable", "1")
    assert (router.options(zone)["network"], router.options(zone)["masq"]) == (["iptv"], "1")
    assert router.cli("del", out.stdout.split()[1]).returncode == 0
    assert zone not in router.sections("zone")
    assert router.fault("add", "Device.Firewall.Chain.") == "9005"


def port_forward_block(text, section):
    """The lines of one section in a UCI file's text."""
    blocks = text.split("\n\n")
    return next(b.strip("\n") for b in blocks if b.lstrip("\n").startswith(f"config redirect '{section}'"))


def test_an_acs_adds_a_port_forward_in_one_session(tmp_path):
    """AddObject, one SetParameterValues of its parameters (the range's end before its
    start), a refused protocol, a DeleteObject: the file has exactly the redirect after."""
    router = Router(tmp_path)
    confdir = router.confdir

    async def main():
        acs = A.Acs()
        await acs.start()
        cpe = Cpe(tmp_path, acs.url)
        ssh = instance(router.get(PM), PM, Description="NAS-SSH")
        acs.queue(A.add_object(PM, "pf-1"),
                  A.set_parameter_values([
                      (PM + "3.ExternalPortEndRange", "8090"), (PM + "3.ExternalPort", "8080"),
                      (PM + "3.InternalPort", "80"), (PM + "3.InternalClient", "192.168.1.30"),
                      (PM + "3.Protocol", "UDP"), (PM + "3.Description", "Web"),
                      (PM + "3.Enable", "1")], "pf-2"),
                  A.set_parameter_values([(PM + "3.Protocol", "SCTP")], "pf-3"),
                  A.delete_object(ssh, "pf-4"),
                  A.get_parameter_values(PM, RULES))
        await cpe.start()
        s = await acs.wait_session(1, timeout=TIMEOUT)
        assert s.methods == ["Inform", "AddObjectResponse", "SetParameterValuesResponse",
                             "Fault", "DeleteObjectResponse", "GetParameterValuesResponse"]
        assert s.messages[1].parsed == {"InstanceNumber": "3", "Status": "1"}
        assert s.messages[2].parsed == {"Status": "1"}
        fault = s.messages[3].raw.decode()
        assert "<FaultCode>9003</FaultCode>" in fault and "<FaultCode>9007</FaultCode>" in fault
        values = {p["Name"]: p.get("Value", "") for p in s.messages[5].parsed["ParameterList"]}
        assert values[PM + "3.ExternalPortEndRange"] == "8090"
        assert values[PM + "3.Status"] == "Enabled"
        assert not any(k.startswith(ssh) for k in values)
        assert cr_firewall.NAME not in values.values()      # the daemon's own rule: hidden
        await asyncio.sleep(0.2)
        assert await cpe.stop() == 0
        await acs.stop()

    A.run(main(), timeout=60)
    text = (confdir / "firewall").read_text()
    section = next(s for s in router.sections("redirect")
                   if router.options(s).get("name") == "Web")
    assert port_forward_block(text, section) == "\n".join([
        f"config redirect '{section}'",
        "\toption target 'DNAT'", "\toption src 'wan'", "\toption dest 'lan'",
        "\toption proto 'udp'", "\toption enabled '1'", "\toption src_dport '8080-8090'",
        "\toption dest_port '80'", "\toption dest_ip '192.168.1.30'", "\toption name 'Web'"])
    assert [router.options(s)["name"] for s in router.sections("redirect")] == ["Game", "Web"]
    rule = router.options(cr_firewall.SECTION)
    assert rule["name"] == cr_firewall.NAME and rule["target"] == "ACCEPT"


def test_a_host_without_firewall_configuration(tmp_path):
    """No firewall package (a plain host): off, and nothing to map."""
    router = Router(tmp_path)
    (router.confdir / "firewall").unlink()
    values = router.get("Device.Firewall.")
    assert (values["Device.Firewall.Enable"], values["Device.Firewall.Config"]) == ("0", "Off")
    assert values["Device.Firewall.Chain.1.RuleNumberOfEntries"] == "0"
    assert router.get(NAT) == {NAT + "InterfaceSettingNumberOfEntries": "0",
                               NAT + "PortMappingNumberOfEntries": "0"}
