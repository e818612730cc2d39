"""``Device.Hosts.``: the devices on the LAN, from dnsmasq's leases and the kernel's neighbours.

A host is a MAC address that either holds a DHCP lease or is in the neighbour table
(ARP and IPv6 neighbour discovery, read with one netlink dump per family, no ``ip``
process). On a router only neighbours on the LAN side count: the devices of network
interfaces a DHCP pool serves (the WAN's gateway is no host of ours); on a plain host,
every neighbour. Layer3Interface is the network interface of the neighbour's device
(the bridge), else the pool whose subnet holds the lease; DHCPClient names the host's
leases in the DHCPv4 server's pools (empty for a host with a static address);
InterfaceType and Layer1Interface say which bridge port it was learnt on (the bridge's
forwarding database, one more dump): a WiFi.SSID or an Ethernet.Interface.
"""

import ipaddress
import os
import socket
import struct

from icwmpy.backends import dhcp, linux, wifi
from icwmpy.backends.network import is_router

RTM_GETNEIGH = 30
NDA_DST, NDA_LLADDR, NDA_MASTER = 1, 2, 9
NUD_INCOMPLETE, NUD_FAILED, NUD_NOARP, NUD_PERMANENT = 0x01, 0x20, 0x40, 0x80
AF_BRIDGE = 7
SYS_NET = "/sys/class/net"


def _neigh_dump(family):
    """[(device, state, {attribute: bytes})] of one RTM_GETNEIGH dump of an address family."""
    request = struct.pack("=IHHIIBBHiHBB", 28, RTM_GETNEIGH, 0x301, 1, 0, family, 0, 0, 0, 0, 0, 0)
    return [(linux.interface_name(index), state, attrs)
            for (_, _, _, index, state, _, _), attrs in linux.netlink_dump(request, "=BBHiHBB")]


def _mac(attrs):
    mac = attrs.get(NDA_LLADDR, b"")
    return ":".join(f"{b:02x}" for b in mac) if len(mac) == 6 and any(mac) else None


def neighbours(family):
    """[(address, mac, device)] of the kernel's neighbour table for IPv4 or IPv6, leaving
    out entries without a link-layer address (incomplete, failed, no-ARP ones)."""
    fam = socket.AF_INET if family == 4 else socket.AF_INET6
    return [(socket.inet_ntop(fam, attrs[NDA_DST]), _mac(attrs), device)
            for device, state, attrs in _neigh_dump(fam)
            if NDA_DST in attrs and _mac(attrs)
            and not state & (NUD_INCOMPLETE | NUD_FAILED | NUD_NOARP)]


def bridge_ports():
    """{mac: bridge port} of the bridges' forwarding databases: where each host was learnt
    (or statically put); the bridge ports' own addresses are left out."""
    return {_mac(attrs): device for device, state, attrs in _neigh_dump(AF_BRIDGE)
            if NDA_MASTER in attrs and _mac(attrs) and not state & NUD_PERMANENT}


def interface_type(port):
    """TR-181's InterfaceType of the port a host is on ('' where it is not known)."""
    if not port:
        return ""
    wireless = any(os.path.exists(f"{SYS_NET}/{port}/{d}") for d in ("wireless", "phy80211"))
    return "Wi-Fi" if wireless else "Ethernet"


def _network_devices(ctx):
    """{device: network interface} of the network package's interfaces."""
    out = {}
    for name, _ in ctx.uci.sections("network", "interface"):
        device = ctx.uci.get("network", name, "device") or ctx.uci.get("network", name, "ifname")
        if isinstance(device, str) and device and not device.startswith("@"):
            out.setdefault(device, name)
    return out


def _entry(hosts, mac):
    return hosts.setdefault(mac, {"v4": [], "v6": [], "name": "", "iface": "", "port": "",
                                  "active": False})


class Hosts:
    """``Hosts.Host.{i}.``, keyed by MAC address; one snapshot of leases, neighbours and
    static host names per listing."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.snapshot = {}

    def instances(self, keys):
        ctx = self.ctx
        served = [ctx.uci.get(dhcp.PKG, p, "interface", "") for p in dhcp.Pools(ctx).instances(())]
        pools = {iface: dhcp.subnet(ctx, iface) for iface in served}   # interface: its subnet
        hosts = {}
        self._neighbours(hosts, pools)
        for expiry, mac, ip, name, _ in dhcp.read_leases(ctx):
            if dhcp.lease_active(expiry):
                entry = _entry(hosts, mac)
                if ip not in entry["v4"]:
                    entry["v4"].insert(0, ip)
                entry["name"] = entry["name"] or name
                entry["iface"] = entry["iface"] or next(
                    (iface for iface, net in pools.items()
                     if net and ipaddress.IPv4Address(ip) in net.network), "")
        for section, _ in ctx.uci.sections(dhcp.PKG, "host"):
            for mac in dhcp.as_list(ctx.uci.get(dhcp.PKG, section, "mac")):
                if mac.lower() in hosts and not hosts[mac.lower()]["name"]:
                    hosts[mac.lower()]["name"] = ctx.uci.get(dhcp.PKG, section, "name", "")
        self.snapshot = hosts
        return list(hosts)

    def _neighbours(self, hosts, pools):
        """Add the neighbours on the LAN (on a router: the devices of the interfaces the
        DHCP ``pools`` serve) to ``hosts``."""
        router = is_router(self.ctx)
        lan = {dev: iface for dev, iface in _network_devices(self.ctx).items()
               if iface in pools} if router else {}
        try:
            found = [(4, n) for n in neighbours(4)] + [(6, n) for n in neighbours(6)]
            ports = bridge_ports()
        except OSError:
            found, ports = [], {}
        for family, (address, mac, device) in found:
            if (router and device not in lan) or device == "lo":
                continue
            entry = _entry(hosts, mac)
            entry["v4" if family == 4 else "v6"].append(address)
            entry["active"] = True
            entry["iface"] = entry["iface"] or (lan[device] if router else device)
            entry["port"] = ports.get(mac) or (
                "" if os.path.isdir(f"{SYS_NET}/{device}/bridge") else device)

    def get(self, keys, relname):
        entry = self.snapshot.get(keys[-1])
        if entry is None:
            return ""
        if relname == "PhysAddress":
            return keys[-1]
        if relname == "IPAddress":
            return (entry["v4"] + entry["v6"] + [""])[0]
        if relname == "HostName":
            return entry["name"][:64]
        if relname == "Active":
            return "1" if entry["active"] else "0"
        if relname == "Layer3Interface":
            return dhcp.interface_path(self.ctx, entry["iface"])
        if relname == "InterfaceType":
            return interface_type(entry["port"])
        if relname == "Layer1Interface":
            return self._layer1(entry["port"])
        if relname == "DHCPClient":
            return ",".join(self._leases(keys[-1]))
        return ""

    def _layer1(self, port):
        """The port as a WiFi.SSID (the wifi-iface whose Linux interface it is) or an
        Ethernet.Interface."""
        if interface_type(port) == "Wi-Fi":
            air = wifi.Wireless(self.ctx)
            section = next((i for i in air.ifaces() if air.ifname(i) == port), None)
            return self.ctx.refs.path("Device.WiFi.SSID.", section) if section else ""
        return self.ctx.refs.path("Device.Ethernet.Interface.", port) if port else ""

    def _leases(self, mac):
        """The ``DHCPv4.Server.Pool.{i}.Client.{i}`` entries of a host's leases."""
        for pool in dhcp.Pools(self.ctx).instances(()):
            pool_path = self.ctx.refs.path("Device.DHCPv4.Server.Pool.", pool)
            client = pool_path and self.ctx.refs.path(f"{pool_path}.Client.", mac)
            if client:
                yield client

    def addresses(self, mac, family):
        entry = self.snapshot.get(mac)
        return list(entry["v4" if family == 4 else "v6"]) if entry else []


class HostAddresses:
    """``Hosts.Host.{i}.IPv4Address.{i}.`` / ``IPv6Address.{i}.``: the addresses a host
    was seen with (a fresh look at leases and neighbours for each host listed: a home
    LAN has tens of hosts, each costing two netlink dumps)."""

    def __init__(self, ctx, family=4):
        self.hosts = Hosts(ctx)
        self.family = family

    def instances(self, keys):
        self.hosts.instances(())
        return self.hosts.addresses(keys[-1], self.family)

    def get(self, keys, relname):
        return keys[-1] if relname == "IPAddress" else ""
