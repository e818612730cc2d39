"""``Device.NAT.`` and ``Device.Firewall.`` on OpenWrt's UCI ``firewall`` package, as bbfdm
(iopsys) maps them.

- ``NAT.InterfaceSetting.{i}``: one per ``zone`` section; Enable is the zone's ``masq``.
- ``NAT.PortMapping.{i}``: the ``redirect`` sections whose target is DNAT (a redirect
  without a target is one); ``src_dport`` "27015-27030" is ExternalPort and
  ExternalPortEndRange, ``proto`` "udp" reads UDP and everything else TCP, as in bbfdm.
- ``Firewall.Level.{i}`` and ``Firewall.Chain.{i}``: the one level and the one chain
  bbfdm shows; ``Chain.{i}.Rule.{i}``: the ``rule`` sections in file order, except
  icwmpy's own connection request rule (:mod:`icwmpy.cr.firewall`), which no ACS sees.

Zones name networks (``list network 'wan'``); a network is an ``IP.Interface`` instance
whose key is the network's section name, so Interface parameters go through
``ctx.refs`` both ways. Handlers are per CPE (:mod:`icwmpy.backends.python`); a set that
would not change what the parameter reads stages nothing, so an ACS writing a value
back (``TCP`` on a "tcp udp" mapping) loses nothing of the section.
"""

import socket

from icwmpy.backends.uci import UciTable
from icwmpy.cr.firewall import SECTION as CR_RULE

PKG = "firewall"
IP_INTERFACE = "Device.IP.Interface."
TARGETS = {"ACCEPT": "Accept", "REJECT": "Reject", "DROP": "Drop"}
# rule targets that do not end the packet's way through the filter, as bbfdm reads MARK
NON_TERMINAL = {"MARK", "NOTRACK", "HELPER", "DSCP"}
PROTOCOL_NAMES = {1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 51: "ah",
                  58: "icmpv6", 132: "sctp"}
TCP_UDP = 255   # bbfdm's number for fw's "tcp udp", also what a rule without proto means
FAMILIES = {"ipv4": "4", "ipv6": "6"}


# ------------------------------------------------------------------ zones and interfaces

def _words(value):
    """An option's items, whether written as a list or as one space-separated option."""
    if value is None:
        return []
    return value if isinstance(value, list) else value.split()


def _flag(value, default="1"):
    """A UCI boolean as 1/0 (fw treats anything but a false word as true)."""
    if value is None:
        return default
    return "0" if value.strip().lower() in ("0", "no", "off", "false", "disabled") else "1"


def _zones(uci):
    """{zone name: zone section}; a zone without a name option is named by its section."""
    return {uci.get(PKG, s, "name", s): s for s, _ in uci.sections(PKG, "zone")}


def zone_interface(ctx, zone):
    """The IP.Interface of a zone's first network that is one ("" if none)."""
    section = _zones(ctx.uci).get(zone)
    if section is None:
        return ""
    for network in _words(ctx.uci.get(PKG, section, "network")):
        path = ctx.refs.path(IP_INTERFACE, network)
        if path:
            return path
    return ""


def _network(ctx, path):
    """The network (IP.Interface key) a path names; ValueError if none."""
    network = ctx.refs.key(path)
    if network is None:
        raise ValueError(f"{path} is no IP.Interface instance")
    return network


def zone_of(ctx, path):
    """The name of the zone holding the network ``path`` names; ValueError if none."""
    network = _network(ctx, path)
    for zone, section in _zones(ctx.uci).items():
        if network in _words(ctx.uci.get(PKG, section, "network")):
            return zone
    raise ValueError(f"no firewall zone holds network {network!r}")


# ------------------------------------------------------------------ port ranges

def _range(value):
    """"27015-27030" (or fw's "27015:27030"; the first of several ports) -> (27015, 27030);
    (None, None) when there is no port."""
    words = _words(value)
    if not words:
        return None, None
    start, sep, end = words[0].replace(":", "-").partition("-")
    return int(start), (int(end) if sep else None)


def _join(start, end):
    if start is None:
        return ""
    return f"{start}-{end}" if end is not None and end >= start else str(start)


class _Sections:
    """The sections of one type of the firewall package (named the first time they are
    listed, as :class:`UciTable` does, so instance numbers last); a parameter ``X`` is
    read by the method ``get_X`` and written by ``set_X``, or, when it is one of the
    ``options`` table, by the reading named there and its ``set_`` twin on the option
    given there.

    An ACS may set a range's end before its start (in one SetParameterValues, or one
    ``icwmpd -c set`` after the other): an end that does not fit the start written yet is
    kept in the CPE's store (namespace ``firewall``) and read as the end until the start
    comes, as bbfdm keeps it in its dmmap.
    """

    type = None
    options = {}   # {parameter: (reading, option, more arguments)}

    def __init__(self, ctx):
        self.ctx = ctx
        self.uci = ctx.uci
        self.sections = UciTable({"uci": PKG, "type": self.type})
        self.pending = ctx.store[PKG]

    def listed(self, section):
        return True

    def instances(self, keys):
        return [s for s in self.sections.instances(self.ctx, None, keys) if self.listed(s)]

    def option(self, section, name, default=None):
        return self.uci.get(PKG, section, name, default)

    def put(self, section, name, value):
        self.uci.set(PKG, section, name, value)

    def get(self, keys, relname):
        if relname in self.options:
            reading, *args = self.options[relname]
            return getattr(self, reading)(keys[-1], *args)
        return getattr(self, "get_" + relname)(keys[-1])

    def set(self, keys, relname, value):
        if self.get(keys, relname) == value:
            return
        if relname in self.options:
            reading, *args = self.options[relname]
            getattr(self, "set_" + reading)(keys[-1], value, *args)
        else:
            getattr(self, "set_" + relname)(keys[-1], value)

    def add(self, keys):
        section = self.sections.add(self.ctx, None, keys, None)
        for name, value in self.defaults(section).items():
            self.put(section, name, value)
        return section

    def delete(self, keys, key):
        self.uci.delete(PKG, key)
        for name in self.pending.keys():
            if name.startswith(key + "."):
                self.pending.delete(name)

    # a section is on unless its ``enabled`` says otherwise, as fw reads it
    def get_Enable(self, section):
        return _flag(self.option(section, "enabled"))

    def set_Enable(self, section, value):
        self.put(section, "enabled", value)

    def get_Status(self, section):
        return "Enabled" if self.get_Enable(section) == "1" else "Disabled"

    # a port range option, with ``none`` as the reading of no port
    def range_start(self, section, option, none):
        start, _ = _range(self.option(section, option))
        return str(none if start is None else start)

    def range_end(self, section, option, none):
        end = self.pending.get(f"{section}.{option}")
        if end is None:
            end = _range(self.option(section, option))[1]
        return str(none if end is None else end)

    def set_range_start(self, section, value, option, none):
        start = None if int(value) == none else int(value)
        waiting = f"{section}.{option}"
        end = self.pending.get(waiting, _range(self.option(section, option))[1])
        self._wait_if_before(waiting, start, end)
        self.put(section, option, _join(start, end))

    def set_range_end(self, section, value, option, none):
        end = None if int(value) == none else int(value)
        start = _range(self.option(section, option))[0]
        self._wait_if_before(f"{section}.{option}", start, end)
        self.put(section, option, _join(start, end))

    def _wait_if_before(self, waiting, start, end):
        if end is not None and (start is None or end < start):
            self.pending.set(waiting, end)
        else:
            self.pending.delete(waiting)


# ------------------------------------------------------------------ Device.NAT.

class InterfaceSettings(_Sections):
    """``NAT.InterfaceSetting.{i}``: the firewall zones; NAT on one is its ``masq``."""

    type = "zone"

    def defaults(self, section):
        """A new zone as bbfdm makes one, closed to the outside; named as its section."""
        return {"name": section, "input": "REJECT", "output": "ACCEPT", "forward": "REJECT"}

    def get_Enable(self, section):
        return _flag(self.option(section, "masq"), "0")

    def set_Enable(self, section, value):
        self.put(section, "masq", value)

    def get_Interface(self, section):
        return zone_interface(self.ctx, self.option(section, "name", section))

    def set_Interface(self, section, value):
        """The zone then holds that one network (bbfdm rewrites the list too)."""
        self.put(section, "network", [_network(self.ctx, value)] if value else [])


class PortMappings(_Sections):
    """``NAT.PortMapping.{i}``: the DNAT redirects (port forwards)."""

    type = "redirect"
    options = {"ExternalPort": ("range_start", "src_dport", 0),
               "ExternalPortEndRange": ("range_end", "src_dport", 0)}

    def listed(self, section):
        return self.option(section, "target", "DNAT").upper() == "DNAT"

    def defaults(self, section):
        """Disabled until the ACS has said where it goes and enables it."""
        return {"target": "DNAT", "src": "wan", "dest": "lan", "proto": "tcp", "enabled": "0"}

    def get_Interface(self, section):
        src = self.option(section, "src", "")
        return "" if src == "*" else zone_interface(self.ctx, src)

    def set_Interface(self, section, value):
        self.put(section, "src", zone_of(self.ctx, value) if value else "")

    def get_AllInterfaces(self, section):
        return "1" if self.option(section, "src") == "*" else "0"

    def set_AllInterfaces(self, section, value):
        self.put(section, "src", "*" if value == "1" else "wan")

    def get_LeaseDuration(self, section):
        return "0"  # only static mappings: the definition refuses anything else

    def get_RemoteHost(self, section):
        return self.option(section, "src_ip", "")

    def set_RemoteHost(self, section, value):
        self.put(section, "src_ip", value)

    def get_InternalPort(self, section):
        return self.range_start(section, "dest_port", 0)

    def set_InternalPort(self, section, value):
        self.put(section, "dest_port", "" if value == "0" else value)

    def get_Protocol(self, section):
        return "UDP" if self.option(section, "proto", "") == "udp" else "TCP"

    def set_Protocol(self, section, value):
        self.put(section, "proto", value.lower())

    def get_InternalClient(self, section):
        return self.option(section, "dest_ip", "")

    def set_InternalClient(self, section, value):
        self.put(section, "dest_ip", value)

    def get_Description(self, section):
        return self.option(section, "name", "")

    def set_Description(self, section, value):
        self.put(section, "name", value)


# ------------------------------------------------------------------ Device.Firewall.

def _configured(ctx):
    """Whether there is a firewall configuration (a router, not a plain host)."""
    return bool(ctx.uci.sections(PKG))


def enabled(ctx):
    """bbfdm's switch of the whole firewall, ``firewall.globals.enabled``: on by default
    where there is a firewall configuration. iopsys's firewall reads it; stock OpenWrt's
    fw4 does not, so there a written 0 is kept but changes no traffic."""
    return _flag(ctx.uci.get(PKG, "globals", "enabled"), "1" if _configured(ctx) else "0")


def set_enabled(ctx, value):
    if ctx.uci.section_type(PKG, "globals") is None:
        ctx.uci.set_section(PKG, "globals", "globals")
    ctx.uci.set(PKG, "globals", "enabled", value)


def config(ctx):
    """The rules are the configuration: "Advanced", the one Config bbfdm offers; "Off"
    where there is no firewall configuration."""
    return "Advanced" if _configured(ctx) else "Off"


def advanced_level(ctx):
    return ctx.refs.path("Device.Firewall.Level.", Levels.KEY)


def set_nothing(ctx, value):
    """For values with one possible setting (the definition refuses the others)."""


class Levels:
    """``Firewall.Level.{i}``: the one level, whose default policy is the defaults'
    ``input`` (what the router does with traffic for itself that no rule matched)."""

    KEY = "Default"

    def __init__(self, ctx):
        self.ctx = ctx

    def instances(self, keys):
        return [self.KEY]

    def get(self, keys, relname):
        if relname == "Chain":
            return self.ctx.refs.path("Device.Firewall.Chain.", Chains.KEY)
        if relname == "DefaultPolicy":
            policy = self.ctx.uci.get(PKG, "@defaults[0]", "input", "DROP").upper()
            return TARGETS.get(policy, "Drop")
        return ""

    def set(self, keys, relname, value):
        if self.ctx.uci.section_type(PKG, "@defaults[0]") is None:
            self.ctx.uci.add(PKG, "defaults")
        self.ctx.uci.set(PKG, "@defaults[0]", "input", value.upper())


class Chains:
    """``Firewall.Chain.{i}``: the one chain, the rules of the firewall configuration."""

    KEY = "Defaults"

    def __init__(self, ctx):
        pass

    def instances(self, keys):
        return [self.KEY]

    def get(self, keys, relname):
        return "1"   # Enable: the configuration's rules are always in force

    def set(self, keys, relname, value):
        if value != "1":
            raise ValueError("the firewall configuration's chain cannot be disabled")


def _protocol_number(proto):
    """A rule's ``proto`` as a TR-181 protocol number: -1 any, 255 fw's TCP+UDP (what a
    rule without one means, and any list of protocols), as bbfdm reads them."""
    if len(_words(proto)) != 1 or proto == "tcpudp":
        return TCP_UDP
    if proto in ("all", "0"):
        return -1
    if proto.isdigit():
        return int(proto)
    by_name = {v: k for k, v in PROTOCOL_NAMES.items()}
    if proto.lower() in by_name:
        return by_name[proto.lower()]
    try:
        return socket.getprotobyname(proto)
    except OSError:
        return -1


def _protocol_name(number):
    if number == TCP_UDP:
        return "tcp udp"
    if number == -1:
        return "all"
    return PROTOCOL_NAMES.get(number, str(number))


class Rules(_Sections):
    """``Firewall.Chain.{i}.Rule.{i}``: the ``rule`` sections but icwmpy's own.

    Order is the position among them in the file; setting it moves the section by
    writing the rules from there on again behind it, as fw applies rules in file order.
    """

    type = "rule"
    options = {
        "SourceInterface": ("zone_interface", "src"), "DestInterface": ("zone_interface", "dest"),
        "SourceAllInterfaces": ("all_interfaces", "src"),
        "DestAllInterfaces": ("all_interfaces", "dest"),
        "SourceIP": ("address", "src_ip"), "DestIP": ("address", "dest_ip"),
        "SourceMask": ("mask", "src_ip"), "DestMask": ("mask", "dest_ip"),
        "SourcePort": ("range_start", "src_port", -1),
        "SourcePortRangeMax": ("range_end", "src_port", -1),
        "DestPort": ("range_start", "dest_port", -1),
        "DestPortRangeMax": ("range_end", "dest_port", -1)}

    def listed(self, section):
        return section != CR_RULE

    def defaults(self, section):
        """As bbfdm adds one: disabled, dropping, any protocol."""
        return {"enabled": "0", "target": "DROP", "proto": "all"}

    def get_Order(self, section):
        return str(self.instances(()).index(section) + 1)

    def set_Order(self, section, value):
        rules = self.instances(())
        rules.remove(section)
        rules.insert(min(int(value), len(rules) + 1) - 1, section)
        first = next((i for i, (a, b) in enumerate(zip(rules, self.instances(()), strict=True))
                      if a != b), len(rules))
        for name in rules[first:]:
            options = self.uci.options(PKG, name)
            self.uci.delete(PKG, name)
            self.uci.set_section(PKG, name, self.type)
            for option, item in options.items():
                self.put(name, option, item)

    def get_Description(self, section):
        return self.option(section, "name", "")

    def set_Description(self, section, value):
        self.put(section, "name", value)

    def get_Target(self, section):
        """fw rejects what a rule without a target matches."""
        target = self.option(section, "target", "REJECT").upper()
        return "Return" if target in NON_TERMINAL else TARGETS.get(target, "Reject")

    def set_Target(self, section, value):
        self.put(section, "target", value.upper())

    # a zone option (src, dest) read as Interface or AllInterfaces
    def zone_interface(self, section, option):
        zone = self.option(section, option, "")
        return "" if zone == "*" else zone_interface(self.ctx, zone)

    def set_zone_interface(self, section, value, option):
        self.put(section, option, zone_of(self.ctx, value) if value else "")

    def all_interfaces(self, section, option):
        return "1" if self.option(section, option) == "*" else "0"

    def set_all_interfaces(self, section, value, option):
        self.put(section, option, "*" if value == "1" else "")

    def get_IPVersion(self, section):
        return FAMILIES.get(self.option(section, "family", ""), "-1")

    def set_IPVersion(self, section, value):
        self.put(section, "family", {"4": "ipv4", "6": "ipv6"}.get(value, ""))

    # an address option holds "address" or "address/prefix length": IP and Mask
    def address(self, section, option):
        words = _words(self.option(section, option))
        return words[0].partition("/")[0] if words else ""

    def mask(self, section, option):
        words = _words(self.option(section, option))
        if not words:
            return ""
        if "/" in words[0]:
            return words[0]
        return words[0] + ("/128" if ":" in words[0] else "/32")

    def set_address(self, section, value, option):
        words = _words(self.option(section, option))
        prefix = words[0].partition("/")[2] if words else ""
        self.put(section, option, f"{value}/{prefix}" if value and prefix else value)

    def set_mask(self, section, value, option):
        address = self.address(section, option) or value.partition("/")[0]
        length = value.partition("/")[2]
        self.put(section, option, f"{address}/{length}" if address and length else address)

    def get_Protocol(self, section):
        return str(_protocol_number(self.option(section, "proto", "")))

    def set_Protocol(self, section, value):
        self.put(section, "proto", _protocol_name(int(value)))
