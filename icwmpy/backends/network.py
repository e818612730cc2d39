"""The network side of a router: TR-181 IP, Ethernet and PPP over OpenWrt's UCI ``network``
package and the Linux kernel, as bbfdm maps them; the config view (:class:`Network`) and the
stack (:func:`lower_layers`) that :mod:`.bridging`, :mod:`.routing` and
:mod:`.interfacestack` share.

An IP.Interface is a ``config interface`` section; what runs below it comes from the
config (``device``, ``proto``, ``config device`` sections of type bridge or 8021q, legacy
``option type bridge``), what it is doing now from the kernel (:mod:`.linux`). The
stack, top down::

    IP.Interface(lan)  -> Ethernet.Link(br-lan) -> Bridge(br-lan).Port(management)
                                                   -> Port(lan1) -> Ethernet.Interface(lan1)
    IP.Interface(wan)  -> PPP.Interface(wan)    -> Ethernet.Link(wan) -> Ethernet.Interface(wan)
    IP.Interface(iptv) -> VLANTermination(wan.100) -> Ethernet.Link(wan)

Keys: interface section names (IP.Interface, PPP.Interface), device names (Ethernet.Link,
VLANTermination, Bridge, Port; a wireless port is its wifi-iface section). Paths between
tables go through ``ctx.refs`` in the CPE's own numbering. Writes stage UCI changes; the
``network`` reload in the definitions applies them.

On a host without ``/etc/config/network`` the IP tables are the kernel's interfaces and
addresses (:class:`icwmpy.backends.system.NetInterfaces`, ``Addresses``), the routing table
is the kernel's, and the router-only tables are empty.
"""

import ipaddress
import os

from icwmpy.backends import system
from icwmpy.backends.linux import (RESOLV_AUTO, SYS_NET, _int, _read, delegated_prefixes,
                                   device_stat, device_status, kernel_addresses, resolv_servers)
from icwmpy.faults import CwmpFault

PPP_PROTOS = ("pppoe", "pppoa")
IPV4_PROTOS = ("static", "dhcp") + PPP_PROTOS
VLAN_TYPES = {"8021q": 0x8100, "8021ad": 0x88A8}


def is_router(ctx):
    """True on an OpenWrt router: the UCI ``network`` package exists."""
    return os.path.isfile(ctx.uci.path("network"))


def true(value):
    return str(value).strip().lower() in ("1", "true", "on", "yes", "enabled")


def netmask(plen):
    return str(ipaddress.IPv4Network(f"0.0.0.0/{plen}").netmask)


def prefix_length(mask):
    return ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen


def ref(ctx, table, key):
    """The path of the instance with ``key`` in ``table``; "" where there is none, or where
    the table is not served (WiFi.SSID before the wireless definitions exist)."""
    try:
        return ctx.refs.path(table, key)
    except ValueError:
        return ""


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


class NetworkTable:
    """Common ground of the router tables: a fresh :class:`Network` at each listing."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.net = None

    def instances(self, keys):
        self.net = Network(self.ctx.uci)
        return self.keys(keys) if is_router(self.ctx) else []

    def uci_set(self, section, option, value):
        self.ctx.uci.set("network", section, option, value)

    def lower(self, table, key):
        """LowerLayers of one instance of ``table``."""
        return refs(self.ctx, lower_layers(self.ctx, self.net, table, key))


def interface_status(dev, disabled=False):
    """Status of an interface on the kernel device ``dev``: Down when it is disabled,
    LowerLayerDown while there is no such device (yet)."""
    if disabled:
        return "Down"
    status = device_status(dev)
    return "LowerLayerDown" if status == "NotPresent" else status


def refs(ctx, pairs):
    """Comma-separated paths of [(table, key)], those that exist."""
    return ",".join(p for p in (ref(ctx, t, k) for t, k in pairs) if p)


def lower_layers(ctx, net, table, key, depth=0):
    """[(table, key)] below one instance: what LowerLayers and InterfaceStack say."""
    if table == "Device.IP.Interface.":
        dev = net.device(key)
        if net.interfaces.get(key, {}).get("proto") in PPP_PROTOS:
            return [("Device.PPP.Interface.", key)]
        if dev.startswith("@"):   # an alias runs over what its interface runs over
            return lower_layers(ctx, net, table, dev[1:], depth + 1) if depth < 8 else []
        return [] if dev in ("", "lo") else [net.lower(dev)]
    if table == "Device.PPP.Interface.":
        return [net.lower(net.device(key))]
    if table == "Device.Ethernet.VLANTermination.":
        return [("Device.Ethernet.Link.", net.vlans()[key].get("ifname", ""))]
    if table == "Device.Ethernet.Link.":
        if key in net.bridges():   # the bridge's management port
            return [(f"{ref(ctx, 'Device.Bridging.Bridge.', key)}.Port.", key)]
        return [("Device.Ethernet.Interface.", key)]
    return []


# ------------------------------------------------------------------ IP

class IPInterfaces(system.NetInterfaces):
    """``IP.Interface.{i}.``: the ``config interface`` sections on a router; on a host the
    kernel's interfaces (:class:`system.NetInterfaces`)."""

    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self.net = None

    def instances(self, keys):
        if not is_router(self.ctx):
            self.net = None
            return super().instances(keys)
        self.net = Network(self.ctx.uci)
        return list(self.net.interfaces)

    def get(self, keys, relname):
        if self.net is None:
            return super().get(keys, relname)
        iface, net = keys[-1], self.net
        opts, dev = net.interfaces.get(iface, {}), net.l3(keys[-1])
        if relname.startswith("Stats."):
            return device_stat(dev, relname)
        if relname == "Enable":
            return "0" if true(opts.get("disabled", "0")) else "1"
        if relname == "Status":
            return interface_status(dev, true(opts.get("disabled", "0")))
        if relname == "Name":
            return dev
        if relname == "LowerLayers":
            return refs(self.ctx, lower_layers(self.ctx, net, "Device.IP.Interface.", iface))
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
            option, value = "disabled", "" if value == "1" else "1"
        elif relname == "IPv6Enable":   # 'auto' and the like stay unless IPv6 goes off
            current = self.net.interfaces.get(iface, {}).get("ipv6", "")
            option, value = "ipv6", "0" if value == "0" else ("" if current == "0" else current)
        elif relname == "MaxMTUSize":   # the device's own section has it, where there is one
            iface = self.net.section(self.net.device(iface)) or iface
            option = "mtu"
        else:
            raise OSError(f"{relname} cannot be written")
        self.ctx.uci.set("network", iface, option, value)


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
                plen = int(plen) if plen else prefix_length(opts.get("netmask") or 32)
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
        disabled = true(self.net.interfaces.get(iface, {}).get("disabled", "0"))
        return {"Enable": "0" if disabled else "1", "Status": "Disabled" if disabled else "Enabled",
                "IPAddress": address, "SubnetMask": netmask(plen),
                "AddressingType": "Static"}.get(relname, "")

    def _kernel(self, iface, key, relname):
        if relname == "Prefix":   # the IPv6Prefix of its interface that it is from
            prefix = ipaddress.IPv6Network(key, strict=False)
            return ref(self.ctx, f"{ref(self.ctx, 'Device.IP.Interface.', iface)}.IPv6Prefix.",
                       str(prefix))
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
            raise CwmpFault(9008, "only the addresses of a static interface can be written")
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
            plen = prefix_length(value)
        else:
            raise OSError(f"{relname} cannot be written")
        if cidr:
            values[index] = f"{address}/{plen}"
        else:
            values[index] = address
            self.ctx.uci.set("network", iface, "netmask", netmask(plen))
        self.ctx.uci.set("network", iface, "ipaddr", values if as_list else values[0])
        self.config[iface][key] = (address, plen)


class IPv6Prefixes(NetworkTable):
    """``IP.Interface.{i}.IPv6Prefix.{i}.``: on the first DHCPv6 interface the prefixes
    delegated to the router (PrefixDelegation); on a LAN interface (``ip6assign``) the
    prefixes it was given, read from the global addresses the kernel has on its device:
    Static from the ``ula_prefix``, else Child of a delegated one."""

    def __init__(self, ctx):
        super().__init__(ctx)
        self.found = {}   # iface -> {prefix: (origin, address flags)}: all listed before read

    def keys(self, keys):
        iface, net = keys[-1], self.net
        opts = net.interfaces.get(iface, {})
        found = self.found[iface] = {}
        dhcpv6 = [i for i, o in net.interfaces.items() if o.get("proto") == "dhcpv6"]
        if dhcpv6 and dhcpv6[0] == iface:
            found.update((prefix, ("PrefixDelegation", 0)) for prefix in delegated_prefixes())
        if opts.get("ip6assign"):
            dev = net.l3(iface)
            for a in kernel_addresses(6):
                if a["dev"] == dev and not a["address"].lower().startswith("fe80:"):
                    prefix = ipaddress.IPv6Network(f"{a['address']}/{a['plen']}", strict=False)
                    found.setdefault(str(prefix), (self._origin(prefix), a["flags"]))
        return list(found)

    def _origin(self, prefix):
        ula = self.ctx.uci.get("network", "globals", "ula_prefix", "")
        try:
            return "Static" if ula and prefix.subnet_of(ipaddress.IPv6Network(ula)) else "Child"
        except ValueError:
            return "Child"

    def get(self, keys, relname):
        prefix = keys[-1]
        origin, flags = self.found.get(keys[-2], {}).get(prefix, ("Static", 0))
        if relname == "Enable":
            return "1"
        if relname == "Status":
            return "Enabled"
        if relname == "PrefixStatus":
            return "Deprecated" if flags & system.Addresses.IFA_F_DEPRECATED else "Preferred"
        if relname == "Prefix":
            return prefix
        if relname == "Origin":
            return origin
        if relname == "StaticType":
            return "Static" if origin == "Static" else "Inapplicable"
        if relname == "ParentPrefix" and origin == "Child":
            return self._parent(ipaddress.IPv6Network(prefix))
        return ""

    def _parent(self, prefix):
        """The path of the delegated prefix a Child prefix was taken from."""
        dhcpv6 = [i for i, o in self.net.interfaces.items() if o.get("proto") == "dhcpv6"]
        for parent in delegated_prefixes() if dhcpv6 else []:
            if prefix.subnet_of(ipaddress.IPv6Network(parent)):
                table = f"{ref(self.ctx, 'Device.IP.Interface.', dhcpv6[0])}.IPv6Prefix."
                return ref(self.ctx, table, parent)
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


class EthernetLinks(NetworkTable):
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
            return self.lower("Device.Ethernet.Link.", dev)
        if relname == "MACAddress":
            return _read(f"{SYS_NET}/{dev}/address")
        return ""


class VLANTerminations(NetworkTable):
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
            return interface_status(dev)
        if relname == "Name":
            return dev
        if relname == "LowerLayers":
            return self.lower("Device.Ethernet.VLANTermination.", dev)
        if relname == "VLANID":
            return opts.get("vid", "0")
        if relname == "TPID":
            return str(VLAN_TYPES.get(opts.get("type"), 0x8100))
        return ""

    def set(self, keys, relname, value):
        section = self.net.section(keys[-1])
        if relname == "VLANID":
            self.uci_set(section, "vid", value)
        elif relname == "TPID":   # 33024 or 34984, the definition says
            self.uci_set(section, "type", {str(v): k for k, v in VLAN_TYPES.items()}[value])
        elif relname == "LowerLayers":
            link = self.ctx.refs.key(value) if value.startswith("Device.Ethernet.Link.") else None
            if link is None:
                raise CwmpFault(9007, f"LowerLayers {value!r}: one Device.Ethernet.Link. instance")
            self.uci_set(section, "ifname", link)
        else:
            raise OSError(f"{relname} cannot be written")


# ------------------------------------------------------------------ PPP

class PPPInterfaces(NetworkTable):
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
        disabled = true(opts.get("disabled", "0"))
        if relname.startswith("Stats."):
            return device_stat(dev, relname)
        if relname == "Enable":
            return "0" if disabled else "1"
        if relname == "Status":
            return interface_status(dev, disabled)
        if relname == "Name":
            return dev
        if relname == "LowerLayers":
            return self.lower("Device.PPP.Interface.", iface)
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
        if relname == "MaxMRUSize":   # ppp.sh gives pppd 'mtu N mru N'
            return opts.get("mtu", "1492" if opts.get("proto") == "pppoe" else "1500")
        if relname == "ConnectionTrigger":
            if opts.get("auto") == "0":
                return "Manual"
            return "OnDemand" if _int_option(opts, "demand") else "AlwaysOn"
        if relname == "IdleDisconnectTime":
            return str(_int_option(opts, "demand"))
        if relname in ("LCPEcho", "LCPEchoRetry"):
            return str(_keepalive(opts)[relname == "LCPEchoRetry"])
        return ""

    OPTIONS = {"Username": "username", "Password": "password", "PPPoE.ACName": "ac",
               "PPPoE.ServiceName": "service", "MaxMRUSize": "mtu", "IdleDisconnectTime": "demand"}

    def set(self, keys, relname, value):
        iface = keys[-1]
        current = self.ctx.uci.options("network", iface) or {}   # with this transaction's sets
        if relname == "Enable":
            self.uci_set(iface, "disabled", "" if value == "1" else "1")
        elif relname in self.OPTIONS:
            self.uci_set(iface, self.OPTIONS[relname], "" if value == "0" else value)
        elif relname == "ConnectionTrigger":
            self.uci_set(iface, "auto", "0" if value == "Manual" else "")
            demand = str(_int_option(current, "demand") or 300) if value == "OnDemand" else ""
            self.uci_set(iface, "demand", demand)
        elif relname in ("LCPEcho", "LCPEchoRetry"):
            echo, retry = _keepalive(current)
            echo, retry = (int(value), retry) if relname == "LCPEcho" else (echo, int(value))
            self.uci_set(iface, "keepalive", f"{retry or 5} {echo}" if echo else "")
        else:
            raise OSError(f"{relname} cannot be written")


def _int_option(opts, name):
    try:
        return int(opts.get(name) or 0)
    except ValueError:
        return 0


def _keepalive(opts):
    """(LCP echo interval, failures) of ppp.sh's ``keepalive 'failures [interval]'`` (interval
    5 when not given); (0, 0) when there is none."""
    fields = (opts.get("keepalive") or "").replace(",", " ").split()
    try:
        failures = int(fields[0]) if fields else 0
        interval = int(fields[1]) if len(fields) > 1 else 5
    except ValueError:
        return 0, 0
    return (interval, failures) if failures > 0 else (0, 0)
