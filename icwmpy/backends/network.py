"""The network side of a router: TR-181 IP, Ethernet, Bridging, PPP, Routing and
InterfaceStack over OpenWrt's UCI ``network`` package and the Linux kernel, as bbfdm maps them.

An IP.Interface is a ``config interface`` section; what runs below it comes from the
config (``device``, ``proto``, ``config device`` sections of type bridge or 8021q, legacy
``option type bridge``), what it is doing now from the kernel (sysfs, netlink). The
stack, top down::

    IP.Interface(lan)  -> Ethernet.Link(br-lan) -> Bridge(br-lan).Port(management)
                                                   -> Port(lan1) -> Ethernet.Interface(lan1)
    IP.Interface(wan)  -> PPP.Interface(wan)    -> Ethernet.Link(wan) -> Ethernet.Interface(wan)
    IP.Interface(iptv) -> VLANTermination(wan.100) -> Ethernet.Link(wan)

Keys: interface section names (IP.Interface, PPP.Interface), device names (Ethernet.Link,
VLANTermination, Bridge, Port; a wireless port is its wifi-iface section), route section
names or a kernel route's description (IPv4/IPv6Forwarding). Paths between tables go
through ``ctx.refs`` in the CPE's own numbering. Writes stage UCI changes; the ``network``
reload in the definitions applies them.

On a host without ``/etc/config/network`` the IP tables are the kernel's interfaces and
addresses (:class:`icwmpy.backends.system.NetInterfaces`, ``Addresses``), the routing table
is the kernel's, and the router-only tables are empty.
"""

import ipaddress
import os
import socket
import struct

from icwmpy.backends import system
from icwmpy.backends.system import SYS_NET, STATS, _counter, _int, _read
from icwmpy.backends.uci import UciTable

PPP_PROTOS = ("pppoe", "pppoa")
IPV4_PROTOS = ("static", "dhcp") + PPP_PROTOS
VLAN_TYPES = {"8021q": 0x8100, "8021ad": 0x88A8}
RT_TABLE_MAIN, RTN_UNICAST = 254, 1
RTPROT_KERNEL, RTPROT_BOOT, RTPROT_RA, RTPROT_DHCP = 2, 3, 9, 16
RESOLV_AUTO = "/tmp/resolv.conf.d/resolv.conf.auto"


def is_router(ctx):
    """True on an OpenWrt router: the UCI ``network`` package exists."""
    return os.path.isfile(ctx.uci.path("network"))


def _true(value):
    return str(value).strip().lower() in ("1", "true", "on", "yes", "enabled")


def _mask(plen):
    return str(ipaddress.IPv4Network(f"0.0.0.0/{plen}").netmask)


def _plen(mask):
    return ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen


def _path(ctx, table, key):
    """The path of the instance with ``key`` in ``table``; "" where there is none, or where
    the table is not served (WiFi.SSID before the wireless definitions exist)."""
    try:
        return ctx.refs.path(table, key)
    except ValueError:
        return ""


# ------------------------------------------------------------------ the kernel

def _netlink(request, header):
    """The messages of one NETLINK_ROUTE dump: [(fixed header fields, {attr type: bytes})]."""
    done_type, error_type = 3, 2
    size = struct.calcsize(header)
    out = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as s:
        s.sendto(request, (0, 0))
        while True:
            data = s.recv(1 << 16)
            off = 0
            while off + 16 <= len(data):
                length, mtype = struct.unpack_from("=IH", data, off)
                if mtype == done_type or length < 16:
                    return out
                if mtype == error_type:
                    raise OSError("netlink dump failed")
                attrs, pos = {}, off + 16 + size
                while pos + 4 <= off + length:
                    alen, atype = struct.unpack_from("=HH", data, pos)
                    if alen < 4:
                        break
                    attrs[atype] = data[pos + 4:pos + alen]
                    pos += (alen + 3) & ~3
                out.append((struct.unpack_from(header, data, off + 16), attrs))
                off += (length + 3) & ~3


def _ifname(index):
    try:
        return socket.if_indextoname(index)
    except OSError:
        return ""


def kernel_addresses(family):
    """[{dev, address, peer, plen, flags}] of every address (one RTM_GETADDR dump)."""
    fam = socket.AF_INET if family == 4 else socket.AF_INET6
    ifa_address, ifa_local, ifa_flags = 1, 2, 8
    request = struct.pack("=IHHIIBBBBI", 24, 22, 0x301, 1, 0, fam, 0, 0, 0, 0)
    out = []
    for (_, plen, flags, _, index), attrs in _netlink(request, "=BBBBI"):
        if ifa_flags in attrs:
            flags = struct.unpack("=I", attrs[ifa_flags][:4])[0]
        local, peer = attrs.get(ifa_local), attrs.get(ifa_address)
        if local or peer:
            out.append({"dev": _ifname(index), "address": socket.inet_ntop(fam, local or peer),
                        "peer": socket.inet_ntop(fam, peer) if local and peer and peer != local
                        else "", "plen": plen, "flags": flags})
    return out


def kernel_routes(family):
    """[{dst, plen, gateway, dev, metric, proto, type}] of the main routing table."""
    fam = socket.AF_INET if family == 4 else socket.AF_INET6
    rta_dst, rta_oif, rta_gateway, rta_priority, rta_table = 1, 4, 5, 6, 15
    request = struct.pack("=IHHIIBBBBBBBBI", 28, 26, 0x301, 1, 0, fam, 0, 0, 0, 0, 0, 0, 0, 0)
    any_address = "0.0.0.0" if family == 4 else "::"
    out = []
    for (_, plen, _, _, table, proto, _, rtype, _), attrs in _netlink(request, "=BBBBBBBBI"):
        if rta_table in attrs:
            table = struct.unpack("=I", attrs[rta_table][:4])[0]
        dev = _ifname(struct.unpack("=I", attrs[rta_oif][:4])[0]) if rta_oif in attrs else ""
        if table != RT_TABLE_MAIN or dev == "lo":
            continue
        out.append({
            "dst": socket.inet_ntop(fam, attrs[rta_dst]) if rta_dst in attrs else any_address,
            "plen": plen, "dev": dev, "proto": proto, "type": rtype,
            "gateway": socket.inet_ntop(fam, attrs[rta_gateway]) if rta_gateway in attrs else "",
            "metric": struct.unpack("=I", attrs[rta_priority][:4])[0] if rta_priority in attrs else 0})
    return out


def device_status(dev):
    """TR-181 Status of a kernel device; NotPresent when there is no such device."""
    base = f"{SYS_NET}/{dev}"
    if not dev or not os.path.isdir(base):
        return "NotPresent"
    return system.NetInterfaces._status(base, _int(f"{base}/flags"))


def device_stat(dev, relname):
    """A Stats.* parameter of a kernel device (0 when it is not there)."""
    if relname == "Stats.Reset":
        return "0"
    file, bits = STATS[relname]
    return _counter(_int(f"{SYS_NET}/{dev}/statistics/{file}"), bits)


def resolv_servers(iface, path=RESOLV_AUTO):
    """The DNS servers netifd learnt on one interface: its ``# Interface <name>`` block of
    resolv.conf.auto."""
    servers, current = [], None
    for line in _read(path).splitlines():
        fields = line.split()
        if line.startswith("# Interface"):
            current = fields[-1] if len(fields) > 2 else None
        elif current == iface and len(fields) >= 2 and fields[0] == "nameserver":
            servers.append(fields[1])
    return servers


# ------------------------------------------------------------------ the config

class Network:
    """The ``network`` package read the way netifd reads it, made once per listing."""

    def __init__(self, uci):
        self.uci = uci
        self.interfaces = {name: uci.options("network", name) or {}
                           for name, _ in uci.sections("network", "interface")}
        self.devices = {}     # device name -> (section, options)
        for section, _ in uci.sections("network", "device"):
            opts = uci.options("network", section) or {}
            if opts.get("name"):
                self.devices[opts["name"]] = (section, opts)

    def device(self, iface):
        """The device an interface is configured on (``@other`` for an alias)."""
        opts = self.interfaces.get(iface, {})
        if opts.get("type") == "bridge":
            return f"br-{iface}"
        value = opts.get("device") or opts.get("ifname") or ""
        return (value if isinstance(value, str) else " ".join(value)).split(" ")[0]

    def l3(self, iface, depth=0):
        """The kernel device an interface's addresses are on: pppoe-wan, br-lan, ..."""
        proto = self.interfaces.get(iface, {}).get("proto", "")
        if proto in PPP_PROTOS:
            return f"{proto}-{iface}"
        dev = self.device(iface)
        if dev.startswith("@") and depth < 8:
            return self.l3(dev[1:], depth + 1)
        return dev

    def interface_of(self, dev):
        """The first interface whose L3 device is ``dev``, or None."""
        return next((i for i in self.interfaces if self.l3(i) == dev), None)

    def owner(self, iface, family):
        """Whether ``iface`` is where the addresses of its device in ``family`` are shown:
        several interfaces share a device (wan and wan6 on pppoe-wan)."""
        dev = self.l3(iface)
        sharing = [i for i in self.interfaces if self.l3(i) == dev]
        if family == 4:
            sharing = [i for i in sharing if self.interfaces[i].get("proto") in IPV4_PROTOS]
        else:
            sharing = sorted(sharing, key=lambda i: self.interfaces[i].get("proto") != "dhcpv6")
        return bool(sharing) and sharing[0] == iface

    def ppp(self):
        return [i for i, o in self.interfaces.items() if o.get("proto") in PPP_PROTOS]

    def vlans(self):
        """{device name: options} of the 802.1Q/802.1ad devices."""
        return {name: opts for name, (_, opts) in self.devices.items()
                if opts.get("type") in VLAN_TYPES}

    def bridges(self):
        """{bridge name: [ethernet port names]}: ``config device`` bridges and the legacy
        ``option type bridge`` interfaces (ports in their ifname/device option)."""
        out = {}
        for name, (_, opts) in self.devices.items():
            if opts.get("type") == "bridge":
                out[name] = list(opts.get("ports") or [])
        for iface, opts in self.interfaces.items():
            if opts.get("type") == "bridge":
                ports = opts.get("device") or opts.get("ifname") or ""
                out[f"br-{iface}"] = ports if isinstance(ports, list) else ports.split()
        return out

    def wireless_ports(self, bridge):
        """Wireless sections whose network is an interface on ``bridge``."""
        out = []
        for section, _ in self.uci.sections("wireless", "wifi-iface"):
            networks = self.uci.get("wireless", section, "network", "")
            networks = networks if isinstance(networks, list) else networks.split()
            if any(self.device(n) == bridge for n in networks):
                out.append(section)
        return out

    def links(self):
        """Ethernet.Link keys in order: each L2 device an interface, PPP or VLAN runs over."""
        out = []
        for iface in self.interfaces:
            dev = self.device(iface)
            if not dev or dev.startswith("@") or dev == "lo":
                continue
            dev = self.vlans().get(dev, {}).get("ifname", dev)
            if dev not in out:
                out.append(dev)
        return out

    def lower(self, dev):
        """``(table, key)`` of what a device is, for LowerLayers above it."""
        if dev in self.vlans():
            return "Device.Ethernet.VLANTermination.", dev
        return "Device.Ethernet.Link.", dev

    def section(self, dev):
        """The ``config device`` section of a device, or None."""
        found = self.devices.get(dev)
        return found[0] if found else None


class _Handler:
    """Common ground of the router tables: a fresh :class:`Network` at each listing."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.net = None

    def instances(self, keys):
        self.net = Network(self.ctx.uci)
        return self.keys(keys) if is_router(self.ctx) else []

    def uci_set(self, section, option, value):
        self.ctx.uci.set("network", section, option, value)

    def path(self, table, key):
        return _path(self.ctx, table, key)

    def paths(self, pairs):
        """Comma-separated paths of [(table, key)], those that exist."""
        return ",".join(p for p in (self.path(t, k) for t, k in pairs) if p)


def lower_layers(handler, table, key):
    """[(table, key)] below one instance: what LowerLayers and InterfaceStack say."""
    net = handler.net
    if table == "Device.IP.Interface.":
        opts = net.interfaces.get(key, {})
        dev = net.device(key)
        if opts.get("proto") in PPP_PROTOS:
            return [("Device.PPP.Interface.", key)]
        if dev.startswith("@"):
            return lower_layers(handler, table, dev[1:]) if dev[1:] != key else []
        return [] if dev in ("", "lo") else [net.lower(dev)]
    if table == "Device.PPP.Interface.":
        return [net.lower(net.device(key))]
    if table == "Device.Ethernet.VLANTermination.":
        return [("Device.Ethernet.Link.", net.vlans()[key].get("ifname", ""))]
    if table == "Device.Ethernet.Link.":
        if key in net.bridges():
            return [(f"{handler.path('Device.Bridging.Bridge.', key)}.Port.", key)]
        return [("Device.Ethernet.Interface.", key)]
    return []


# ------------------------------------------------------------------ IP

class IPInterfaces(system.NetInterfaces):
    """``IP.Interface.{i}.``: the ``config interface`` sections on a router; on a host the
    kernel's interfaces (:class:`system.NetInterfaces`)."""

    def __init__(self, ctx):
        super().__init__(ctx)
        self.router = _Handler(ctx)

    def instances(self, keys):
        self.net = self.router.net = Network(self.router.ctx.uci)
        if not is_router(self.router.ctx):
            self.net = None
            return super().instances(keys)
        return list(self.net.interfaces)

    def get(self, keys, relname):
        if self.net is None:
            return super().get(keys, relname)
        iface, net = keys[-1], self.net
        opts, dev = net.interfaces.get(iface, {}), net.l3(keys[-1])
        if relname.startswith("Stats."):
            return device_stat(dev, relname)
        if relname == "Enable":
            return "0" if _true(opts.get("disabled", "0")) else "1"
        if relname == "Status":
            if _true(opts.get("disabled", "0")):
                return "Down"
            status = device_status(dev)
            return "LowerLayerDown" if status == "NotPresent" else status
        if relname == "Name":
            return dev
        if relname == "LowerLayers":
            return self.router.paths(lower_layers(self.router, "Device.IP.Interface.", iface))
        if relname == "Type":
            return "Loopback" if dev == "lo" else "Normal"
        if relname == "IPv6Enable":
            return "0" if opts.get("ipv6") == "0" else "1"
        if relname == "MaxMTUSize":
            mtu = _int(f"{SYS_NET}/{dev}/mtu") or int(opts.get("mtu") or 1500)
            return str(min(max(mtu, 64), 65535))
        return super().get(keys[:-1] + (dev,), relname)

    def set(self, keys, relname, value):
        if self.net is None:
            return super().set(keys, relname, value)
        iface = keys[-1]
        if relname == "Enable":
            self.router.uci_set(iface, "disabled", "" if value == "1" else "1")
        elif relname == "IPv6Enable":
            current = self.net.interfaces.get(iface, {}).get("ipv6", "")
            if value == "0":
                self.router.uci_set(iface, "ipv6", "0")
            elif current == "0":
                self.router.uci_set(iface, "ipv6", "")
        elif relname == "MaxMTUSize":
            section = self.net.section(self.net.device(iface))
            self.router.uci_set(section or iface, "mtu", value)
        else:
            raise OSError(f"{relname} cannot be written")


class IPAddresses(system.Addresses):
    """``IP.Interface.{i}.IPv4Address.{i}.`` / ``IPv6Address.{i}.``.

    On a router a static interface's own addresses (``ipaddr``/``netmask``, also as a list
    or ``a.b.c.d/len``; keys ``ipaddr``, ``ipaddr.2``, ...) are writable; the others are the
    kernel's addresses on the interface's L3 device (keys ``address/len``), read-only, of
    the interface that shows its device's addresses (wan, not wan6, for IPv4).
    """

    def __init__(self, ctx, family=4):
        super().__init__(ctx, family)
        self.ctx = ctx
        self.config = {}   # iface -> {key: (address, plen)} of its UCI addresses
        self.net = None

    def instances(self, keys):
        if not is_router(self.ctx):
            self.net = None
            return super().instances(keys)
        self.net = net = Network(self.ctx.uci)
        iface = keys[-1]
        opts = net.interfaces.get(iface, {})
        own = self.config[iface] = self._configured(opts) if self.family == 4 else {}
        found = {}
        if net.owner(iface, self.family):
            dev = net.l3(iface)
            mine = {a for a, _ in own.values()}
            for a in kernel_addresses(self.family):
                if a["dev"] == dev and a["address"] not in mine:
                    found[f"{a['address']}/{a['plen']}"] = (a["address"], a["plen"], a["flags"])
        self.snapshot[iface] = found
        return list(own) + list(found)

    @staticmethod
    def _configured(opts):
        if opts.get("proto") != "static":
            return {}
        values = opts.get("ipaddr") or []
        values = values if isinstance(values, list) else [values]
        out = {}
        for n, value in enumerate(values, 1):
            address, _, plen = value.partition("/")
            try:
                plen = int(plen) if plen else _plen(opts.get("netmask") or "255.255.255.255")
            except ValueError:
                plen = 32
            out["ipaddr" if n == 1 else f"ipaddr.{n}"] = (address, plen)
        return out

    def get(self, keys, relname):
        if self.net is None:
            return super().get(keys, relname)
        iface, key = keys[-2], keys[-1]
        own = self.config.get(iface, {}).get(key)
        if own is None:
            return self._kernel(iface, key, relname)
        address, plen = own
        disabled = _true(self.net.interfaces.get(iface, {}).get("disabled", "0"))
        return {"Enable": "0" if disabled else "1", "Status": "Disabled" if disabled else "Enabled",
                "IPAddress": address, "SubnetMask": _mask(plen),
                "AddressingType": "Static"}.get(relname, "")

    def _kernel(self, iface, key, relname):
        value = super().get((iface, key), relname)
        proto = self.net.interfaces.get(iface, {}).get("proto", "")
        if relname == "AddressingType":
            return "IPCP" if proto in PPP_PROTOS else value
        if relname == "Origin" and value == "AutoConfigured" and proto == "dhcpv6" \
                and not key.lower().startswith("fe80:"):
            return "DHCPv6"
        return value

    def set(self, keys, relname, value):
        iface, key = keys[-2], keys[-1]
        own = self.config.get(iface, {}).get(key) if self.net else None
        if own is None:
            raise OSError("only the addresses of a static interface can be written")
        opts = self.net.interfaces[iface]
        values = opts.get("ipaddr")
        as_list = isinstance(values, list)
        values = values if as_list else [values]
        index = 0 if key == "ipaddr" else int(key.split(".")[1]) - 1
        address, plen = own
        cidr = "/" in values[index] or len(values) > 1
        if relname == "IPAddress":
            address = value
        elif relname == "SubnetMask":
            plen = _plen(value)
        else:
            raise OSError(f"{relname} cannot be written")
        if cidr:
            values[index] = f"{address}/{plen}"
        else:
            values[index] = address
            self.ctx.uci.set("network", iface, "netmask", _mask(plen))
        self.ctx.uci.set("network", iface, "ipaddr", values if as_list else values[0])
        self.config[iface][key] = (address, plen)


class IPv6Prefixes(_Handler):
    """``IP.Interface.{i}.IPv6Prefix.{i}.``: the prefixes a LAN interface was given
    (``ip6assign``), read from the global addresses the kernel has on its device; from the
    ``ula_prefix`` they are Static, from a delegated prefix Child."""

    def keys(self, keys):
        iface = keys[-1]
        if not self.net.interfaces.get(iface, {}).get("ip6assign"):
            return []
        dev = self.net.l3(iface)
        self.found = {}
        for a in kernel_addresses(6):
            if a["dev"] == dev and not a["address"].lower().startswith("fe80:"):
                prefix = str(ipaddress.IPv6Network(f"{a['address']}/{a['plen']}", strict=False))
                self.found.setdefault(prefix, a["flags"])
        return list(self.found)

    def get(self, keys, relname):
        prefix = keys[-1]
        if relname == "Enable":
            return "1"
        if relname == "Status":
            return "Enabled"
        if relname == "PrefixStatus":
            deprecated = self.found.get(prefix, 0) & system.Addresses.IFA_F_DEPRECATED
            return "Deprecated" if deprecated else "Preferred"
        if relname == "Prefix":
            return prefix
        if relname == "Origin":
            ula = self.ctx.uci.get("network", "globals", "ula_prefix", "")
            try:
                inside = ula and ipaddress.IPv6Network(prefix).subnet_of(ipaddress.IPv6Network(ula))
            except ValueError:
                inside = False
            return "Static" if inside else "Child"
        return ""


# ------------------------------------------------------------------ Ethernet

class EthernetInterfaces(system.NetInterfaces):
    """``Ethernet.Interface.{i}.``: the physical ports; on a router every Ethernet device of
    the kernel that is a port (switch ports, whatever their driver), not a bridge, VLAN or
    wireless interface (uevent DEVTYPE, or what the network config makes it)."""

    NOT_PORTS = {"DEVTYPE=bridge", "DEVTYPE=vlan", "DEVTYPE=wlan"}

    def __init__(self, ctx):
        super().__init__(ctx, ethernet=True)
        self.ctx = ctx

    def instances(self, keys):
        if not is_router(self.ctx):
            return super().instances(keys)
        net = Network(self.ctx.uci)
        made = set(net.bridges()) | set(net.vlans())
        return [n for n in system._interfaces()
                if _int(f"{SYS_NET}/{n}/type", -1) == system.ARPHRD_ETHER and n not in made
                and not self.NOT_PORTS & set(_read(f"{SYS_NET}/{n}/uevent").splitlines())]


class EthernetLinks(_Handler):
    """``Ethernet.Link.{i}.``: one per L2 device below an interface, PPP or VLAN."""

    def keys(self, keys):
        return self.net.links()

    def get(self, keys, relname):
        dev = keys[-1]
        if relname.startswith("Stats."):
            return device_stat(dev, relname)
        if relname == "Enable":
            return "1"
        if relname == "Status":
            return device_status(dev)
        if relname == "Name":
            return dev
        if relname == "LowerLayers":
            return self.paths(lower_layers(self, "Device.Ethernet.Link.", dev))
        if relname == "MACAddress":
            return _read(f"{SYS_NET}/{dev}/address")
        return ""


class VLANTerminations(_Handler):
    """``Ethernet.VLANTermination.{i}.``: the ``config device`` sections of type 8021q (and
    8021ad); VLANID, TPID and the Link below (LowerLayers) are writable."""

    def keys(self, keys):
        return list(self.net.vlans())

    def get(self, keys, relname):
        dev = keys[-1]
        opts = self.net.vlans().get(dev, {})
        if relname.startswith("Stats."):
            return device_stat(dev, relname)
        if relname == "Enable":
            return "1"
        if relname == "Status":
            status = device_status(dev)
            return "LowerLayerDown" if status == "NotPresent" else status
        if relname == "Name":
            return dev
        if relname == "LowerLayers":
            return self.paths(lower_layers(self, "Device.Ethernet.VLANTermination.", dev))
        if relname == "VLANID":
            return opts.get("vid", "0")
        if relname == "TPID":
            return str(VLAN_TYPES.get(opts.get("type"), 0x8100))
        return ""

    def set(self, keys, relname, value):
        section = self.net.section(keys[-1])
        if relname == "VLANID":
            self.uci_set(section, "vid", value)
        elif relname == "TPID":
            types = {str(v): k for k, v in VLAN_TYPES.items()}
            if value not in types:
                raise OSError(f"TPID {value}: only 33024 (802.1Q) and 34984 (802.1ad)")
            self.uci_set(section, "type", types[value])
        elif relname == "LowerLayers":
            link = self.ctx.refs.key(value) if value.startswith("Device.Ethernet.Link.") else None
            if link is None:
                raise OSError(f"LowerLayers {value!r}: one Device.Ethernet.Link. instance")
            self.uci_set(section, "ifname", link)
        else:
            raise OSError(f"{relname} cannot be written")


# ------------------------------------------------------------------ Bridging

class Bridges(_Handler):
    """``Bridging.Bridge.{i}.``: bridge devices of the network config."""

    def keys(self, keys):
        return list(self.net.bridges())

    def get(self, keys, relname):
        bridge = keys[-1]
        if relname == "Enable":
            return "1"
        if relname == "Status":
            return "Enabled" if os.path.isdir(f"{SYS_NET}/{bridge}/bridge") else "Disabled"
        if relname == "Name":
            return bridge
        if relname == "Standard":
            vlans = _int(f"{SYS_NET}/{bridge}/bridge/vlan_filtering")
            return "802.1Q-2011" if vlans else "802.1D-2004"
        return ""


class BridgePorts(_Handler):
    """``Bridging.Bridge.{i}.Port.{i}.``: the management port (the bridge itself, key the
    bridge name), its ethernet ports (``ports`` list; key the device name) and the wireless
    interfaces whose network is on the bridge (key their wifi-iface section). Ethernet
    ports are added and deleted through the ports list; a port added by the ACS has no
    device until its LowerLayers names an Ethernet.Interface, so its key (``port-<n>``) is
    remembered against its device in the store, as is a port whose device was changed:
    instance numbers follow keys, and these must not change with the device."""

    NAMESPACE = "bridge_ports"   # {bridge: {key: device, "" until there is one}}

    def _named(self, bridge):
        return dict(self.ctx.store[self.NAMESPACE].get(bridge) or {})

    def _name(self, bridge, key, device=None):
        """Remember (``device`` "": pending) or forget (None) a key of its own."""
        named = self._named(bridge)
        named.pop(key, None)
        if device is not None and device != key:
            named[key] = device
        self.ctx.store[self.NAMESPACE].set(bridge, named)

    def keys(self, keys):
        bridge = keys[-1]
        named = self._named(bridge)
        by_device = {dev: key for key, dev in named.items() if dev}
        ethernet = [by_device.get(p, p) for p in self.net.bridges().get(bridge, [])]
        pending = [key for key, dev in named.items() if not dev]
        return [bridge] + ethernet + pending + self.net.wireless_ports(bridge)

    def _kind(self, bridge, port):
        if port == bridge:
            return "management"
        named = self._named(bridge)
        if named.get(port) == "":
            return "pending"
        if named.get(port, port) in self.net.bridges().get(bridge, []):
            return "ethernet"
        return "wireless" if self.ctx.uci.section_type("wireless", port) else "pending"

    def _device(self, bridge, port):
        kind = self._kind(bridge, port)
        if kind == "wireless":
            return self.ctx.uci.get("wireless", port, "ifname", "")
        return "" if kind == "pending" else self._named(bridge).get(port, port)

    def get(self, keys, relname):
        bridge, port = keys[-2], keys[-1]
        kind = self._kind(bridge, port)
        dev = self._device(bridge, port)
        if relname.startswith("Stats."):
            return device_stat(dev, relname)
        if relname == "Enable":
            return "1"
        if relname == "Status":
            return device_status(dev) if dev else ("Down" if kind == "wireless" else "NotPresent")
        if relname == "Name":
            return dev or (port if kind == "wireless" else "")
        if relname == "ManagementPort":
            return "1" if kind == "management" else "0"
        if relname == "LowerLayers":
            return self._lower(bridge, port, kind)
        return ""

    def _lower(self, bridge, port, kind):
        if kind == "management":
            table = f"{self.path('Device.Bridging.Bridge.', bridge)}.Port."
            return self.paths([(table, p) for p in self.keys((bridge,)) if p != bridge])
        if kind == "wireless":
            return self.path("Device.WiFi.SSID.", port)
        if kind == "ethernet":
            return self.path("Device.Ethernet.Interface.", self._device(bridge, port))
        return ""

    def set(self, keys, relname, value):
        bridge, port = keys[-2], keys[-1]
        kind = self._kind(bridge, port)
        if relname != "LowerLayers" or kind not in ("ethernet", "pending"):
            raise OSError(f"{relname} of this port cannot be written")
        dev = self.ctx.refs.key(value) if value.startswith("Device.Ethernet.Interface.") else None
        if dev is None:
            raise OSError(f"LowerLayers {value!r}: one Device.Ethernet.Interface. instance")
        old = self._device(bridge, port)
        ports = [dev if p == old else p for p in self.net.bridges()[bridge]]
        if kind == "pending":
            ports.append(dev)
        self._name(bridge, port, dev)
        self._set_ports(bridge, ports)

    def add(self, keys):
        bridge = keys[-1]
        if bridge not in self.net.bridges():
            raise OSError(f"{bridge} is not a bridge")
        taken = set(self._named(bridge)) | set(self.keys(keys))
        n = 1
        while f"port-{n}" in taken:
            n += 1
        self._name(bridge, f"port-{n}", "")
        return f"port-{n}"

    def delete(self, keys, port):
        bridge = keys[-1]
        kind = self._kind(bridge, port)
        if kind == "ethernet":
            dev = self._device(bridge, port)
            self._set_ports(bridge, [p for p in self.net.bridges()[bridge] if p != dev])
        elif kind != "pending":
            raise OSError("only ethernet ports can be deleted")
        self._name(bridge, port)

    def _set_ports(self, bridge, ports):
        section = self.net.section(bridge)
        if section is not None:
            self.uci_set(section, "ports", ports)
        else:   # legacy: option type bridge on the interface, ports in its ifname/device
            iface = bridge[len("br-"):]
            option = "device" if "device" in self.net.interfaces[iface] else "ifname"
            self.uci_set(iface, option, " ".join(ports))


class BridgeVLANs(_Handler):
    """``Bridging.Bridge.{i}.VLAN.{i}.``: the ``bridge-vlan`` sections of a VLAN-filtering
    bridge (keys: their section names, anonymous ones named once as :class:`UciTable`
    does); VLANID is their ``vlan`` option."""

    def __init__(self, ctx):
        super().__init__(ctx)
        self.sections = UciTable({"uci": "network", "type": "bridge-vlan"})

    def keys(self, keys):
        return [s for s in self.sections.instances(self.ctx, None, ())
                if self.ctx.uci.get("network", s, "device") == keys[-1]]

    def get(self, keys, relname):
        vid = self.ctx.uci.get("network", keys[-1], "vlan", "")
        return {"Enable": "1", "Name": f"{keys[-2]}.{vid}", "VLANID": vid}.get(relname, "")

    def set(self, keys, relname, value):
        if relname != "VLANID":
            raise OSError(f"{relname} cannot be written")
        self.uci_set(keys[-1], "vlan", value)


# ------------------------------------------------------------------ PPP

class PPPInterfaces(_Handler):
    """``PPP.Interface.{i}.``: the pppoe/pppoa interfaces; IPCP from the kernel's
    point-to-point address and the servers netifd learnt (resolv.conf.auto)."""

    def __init__(self, ctx, resolv=RESOLV_AUTO):
        super().__init__(ctx)
        self.resolv = resolv

    def keys(self, keys):
        return self.net.ppp()

    def _address(self, dev):
        return next((a for a in kernel_addresses(4) if a["dev"] == dev), None)

    def get(self, keys, relname):
        iface = keys[-1]
        opts = self.net.interfaces.get(iface, {})
        dev = self.net.l3(iface)
        disabled = _true(opts.get("disabled", "0"))
        if relname.startswith("Stats."):
            return device_stat(dev, relname)
        if relname == "Enable":
            return "0" if disabled else "1"
        if relname == "Status":
            if disabled:
                return "Down"
            status = device_status(dev)
            return "LowerLayerDown" if status == "NotPresent" else status
        if relname == "Name":
            return dev
        if relname == "LowerLayers":
            return self.paths(lower_layers(self, "Device.PPP.Interface.", iface))
        if relname in ("ConnectionStatus", "LastConnectionError"):
            connected = not disabled and self._address(dev) is not None
            if relname == "LastConnectionError":
                return "ERROR_NONE" if connected or disabled else "ERROR_UNKNOWN"
            if connected:
                return "Connected"
            return "Disconnected" if disabled or not os.path.isdir(f"{SYS_NET}/{dev}") \
                else "Connecting"
        if relname in ("Username", "Password"):
            return opts.get(relname.lower(), "")
        if relname == "PPPoE.ACName":
            return opts.get("ac", "")
        if relname == "PPPoE.ServiceName":
            return opts.get("service", "")
        if relname in ("IPCP.LocalIPAddress", "IPCP.RemoteIPAddress"):
            found = self._address(dev) or {}
            return found.get("address" if relname.endswith("LocalIPAddress") else "peer", "")
        if relname == "IPCP.DNSServers":
            return ",".join(s for s in resolv_servers(iface, self.resolv) if ":" not in s)
        return ""

    OPTIONS = {"Username": "username", "Password": "password", "PPPoE.ACName": "ac",
               "PPPoE.ServiceName": "service"}

    def set(self, keys, relname, value):
        iface = keys[-1]
        if relname == "Enable":
            self.uci_set(iface, "disabled", "" if value == "1" else "1")
        elif relname in self.OPTIONS:
            self.uci_set(iface, self.OPTIONS[relname], value)
        else:
            raise OSError(f"{relname} cannot be written")


# ------------------------------------------------------------------ Routing

class Routers:
    """``Routing.Router.{i}.``: one router, the main routing table (on a host too)."""

    def __init__(self, ctx):
        pass

    def instances(self, keys):
        return ["main"]

    def get(self, keys, relname):
        return {"Enable": "1", "Status": "Enabled"}.get(relname, "")


class Forwarding:
    """``Routing.Router.{i}.IPv4Forwarding.{i}.`` (``family`` 4) / ``IPv6Forwarding`` (6).

    On a router the static ``route``/``route6`` sections come first (keys: their section
    names, anonymous ones named once as :class:`UciTable` does); they are added, deleted
    and written. Then the kernel's main-table routes that are not one of them, read-only
    (keys: the route's own description). On a host only the kernel's routes.
    """

    def __init__(self, ctx, family=4):
        self.ctx = ctx
        self.family = family
        self.type = "route" if family == 4 else "route6"
        self.sections = UciTable({"uci": "network", "type": self.type})
        self.static, self.kernel, self.net = {}, {}, None

    def instances(self, keys):
        routes = kernel_routes(self.family)
        self.static, self.kernel = {}, {}
        self.net = Network(self.ctx.uci) if is_router(self.ctx) else None
        if self.net is not None:
            for name in self.sections.instances(self.ctx, None, ()):
                opts = self.ctx.uci.options("network", name) or {}
                self.static[name] = (opts, self._match(opts, routes))
        taken = [r for _, r in self.static.values() if r]
        for r in routes:
            if not any(r is t for t in taken):
                key = f"{r['dst']}/{r['plen']} via {r['gateway'] or '-'} dev {r['dev']} " \
                      f"metric {r['metric']}"
                self.kernel[key] = r
        return list(self.static) + list(self.kernel)

    def _target(self, opts):
        """(destination, prefix length) of a route section."""
        target = opts.get("target", "")
        dst, _, plen = target.partition("/")
        if plen:
            return dst, int(plen) if plen.isdigit() else 0
        if self.family == 6:
            return dst, 128
        try:
            return dst, _plen(opts.get("netmask") or "255.255.255.255")
        except ValueError:
            return dst, 32

    def _match(self, opts, routes):
        """The kernel route a section put there, or None."""
        if _true(opts.get("disabled", "0")) or not opts.get("target"):
            return None
        dst, plen = self._target(opts)
        dev = self.net.l3(opts.get("interface", ""))
        for r in routes:
            if (r["dst"], r["plen"]) == (dst, plen) and (not dev or r["dev"] == dev) \
                    and r["gateway"] in ("", opts.get("gateway", "")):
                return r
        return None

    def get(self, keys, relname):
        key = keys[-1]
        if key in self.static:
            return self._static(key, relname)
        r = self.kernel.get(key)
        if r is None:
            return ""
        iface = self.net.interface_of(r["dev"]) if self.net else r["dev"]
        values = {
            "Enable": "1", "Status": "Enabled", "StaticRoute": "0", "Type": self._type(r),
            "Interface": _path(self.ctx, "Device.IP.Interface.", iface) if iface else "",
            "ForwardingMetric": str(r["metric"]), "Origin": self._origin(r, iface),
        }
        if self.family == 4:
            values.update(DestIPAddress=r["dst"], DestSubnetMask=_mask(r["plen"]),
                          GatewayIPAddress=r["gateway"] or "0.0.0.0")
        else:
            values.update(DestIPPrefix=f"{r['dst']}/{r['plen']}", NextHop=r["gateway"])
        return values.get(relname, "")

    @staticmethod
    def _type(route):
        return {6: "Blackhole", 7: "Unreachable", 8: "Prohibit"}.get(route["type"], "Normal")

    def _origin(self, route, iface):
        proto = (self.net.interfaces.get(iface, {}).get("proto", "") if self.net and iface
                 else "")
        if self.family == 4:
            if proto in PPP_PROTOS or route["dev"].startswith("ppp"):
                return "IPCP"
            return "DHCPv4" if route["proto"] == RTPROT_DHCP or proto == "dhcp" else "Static"
        if route["proto"] == RTPROT_RA:
            return "RA"
        return "DHCPv6" if route["proto"] == RTPROT_DHCP or proto == "dhcpv6" else "Static"

    def _static(self, key, relname):
        opts, kernel = self.static[key]
        enabled = not _true(opts.get("disabled", "0"))
        dst, plen = self._target(opts)
        if relname == "Enable":
            return "1" if enabled else "0"
        if relname == "Status":
            return "Disabled" if not enabled else ("Enabled" if kernel else "Error_Misconfigured")
        if relname == "StaticRoute":
            return "1"
        if relname == "Type":
            return (opts.get("type") or "unicast").capitalize().replace("Unicast", "Normal")
        if relname == "Origin":
            return "Static"
        if relname == "Interface":
            iface = opts.get("interface", "")
            return _path(self.ctx, "Device.IP.Interface.", iface) if iface else ""
        if relname == "ForwardingMetric":
            return opts.get("metric", "0")
        if relname == "DestIPAddress":
            return dst
        if relname == "DestSubnetMask":
            return _mask(plen) if dst else ""
        if relname == "GatewayIPAddress":
            return opts.get("gateway", "")
        if relname == "DestIPPrefix":
            return f"{dst}/{plen}" if dst else ""
        if relname == "NextHop":
            return opts.get("gateway", "")
        return ""

    def set(self, keys, relname, value):
        key = keys[-1]
        if key not in self.static:
            raise OSError("a route the kernel learnt cannot be written")
        opts = self.static[key][0]
        target = opts.get("target", "")
        if relname == "Enable":
            option, value = "disabled", "" if value == "1" else "1"
        elif relname == "DestIPAddress":
            option = "target"
            value = value + target[target.find("/"):] if "/" in target else value
        elif relname == "DestSubnetMask":
            if "/" in target:
                option, value = "target", f"{target.split('/')[0]}/{_plen(value)}"
            else:
                option = "netmask"
        elif relname in ("GatewayIPAddress", "NextHop"):
            option = "gateway"
            value = "" if value in ("0.0.0.0", "::") else value
        elif relname == "DestIPPrefix":
            option = "target"
        elif relname == "ForwardingMetric":
            option = "metric"
            value = "" if value == "-1" else value
        elif relname == "Interface":
            iface = self.ctx.refs.key(value) if value else ""
            if iface is None or not value.startswith("Device.IP.Interface."):
                raise OSError(f"Interface {value!r}: one Device.IP.Interface. instance")
            option, value = "interface", iface
        else:
            raise OSError(f"{relname} cannot be written")
        self.ctx.uci.set("network", key, option, value)
        opts[option] = value

    def add(self, keys):
        if self.net is None:
            raise OSError("static routes need the network config")
        return self.sections.add(self.ctx, None, (), None)

    def delete(self, keys, key):
        if key not in self.static:
            raise OSError("a route the kernel learnt cannot be deleted")
        self.ctx.uci.delete("network", key)


# ------------------------------------------------------------------ InterfaceStack

class InterfaceStack(_Handler):
    """``InterfaceStack.{i}.``: every (higher, lower) pair the LowerLayers above say,
    keys ``higher|lower``."""

    TABLES = ("Device.IP.Interface.", "Device.PPP.Interface.",
              "Device.Ethernet.VLANTermination.", "Device.Ethernet.Link.")

    def keys(self, keys):
        net, pairs = self.net, []
        members = {"Device.IP.Interface.": list(net.interfaces), "Device.PPP.Interface.": net.ppp(),
                   "Device.Ethernet.VLANTermination.": list(net.vlans()),
                   "Device.Ethernet.Link.": net.links()}
        for table in self.TABLES:
            for key in members[table]:
                higher = self.path(table, key)
                for lower in lower_layers(self, table, key):
                    pairs.append((higher, self.path(*lower)))
        ports = BridgePorts(self.ctx)
        ports.net = net
        for bridge in net.bridges():
            table = f"{self.path('Device.Bridging.Bridge.', bridge)}.Port."
            for port in ports.keys((bridge,)):
                higher = self.path(table, port)
                for lower in ports._lower(bridge, port, ports._kind(bridge, port)).split(","):
                    pairs.append((higher, lower))
        return [f"{h}|{lo}" for h, lo in pairs if h and lo]

    def get(self, keys, relname):
        higher, _, lower = keys[-1].partition("|")
        return {"HigherLayer": higher, "LowerLayer": lower}.get(relname, "")
