"""What the running Linux says about the network: addresses and routes (one netlink dump
each, no ``ip`` process), device state and counters (sysfs), and the DNS servers netifd
learnt per interface (resolv.conf.auto)."""

import os
import socket
import struct

from icwmpy.backends import system
from icwmpy.backends.system import STATS, SYS_NET, _counter, _int, _read

RT_TABLE_MAIN, RTN_UNREACHABLE, PREFIX_GUARD_METRIC = 254, 7, 0x7FFFFFFF
RTPROT_RA, RTPROT_DHCP = 9, 16
RESOLV_AUTO = "/tmp/resolv.conf.d/resolv.conf.auto"


def netlink_dump(request, header):
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


def interface_name(index):
    """The name of a kernel interface index; "" for one gone since the dump."""
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
    for (_, plen, flags, _, index), attrs in netlink_dump(request, "=BBBBI"):
        if ifa_flags in attrs:
            flags = struct.unpack("=I", attrs[ifa_flags][:4])[0]
        local, peer = attrs.get(ifa_local), attrs.get(ifa_address)
        if local or peer:
            out.append({"dev": interface_name(index),
                        "address": socket.inet_ntop(fam, local or peer),
                        "peer": socket.inet_ntop(fam, peer) if local and peer and peer != local
                        else "", "plen": plen, "flags": flags})
    return out


def kernel_routes(family):
    """[{dst, plen, gateway, dev, metric, proto, type}] of the main routing table, but for
    those on the loopback device (the kernel's own, netifd's prefix guards)."""
    return [r for r in _main_routes(family) if r["dev"] != "lo"]


def delegated_prefixes():
    """The IPv6 prefixes delegated to this router: netifd guards each with an unreachable
    route of the highest metric in the main table."""
    return [f"{r['dst']}/{r['plen']}" for r in _main_routes(6)
            if r["type"] == RTN_UNREACHABLE and r["metric"] == PREFIX_GUARD_METRIC]


def _main_routes(family):
    fam = socket.AF_INET if family == 4 else socket.AF_INET6
    rta_dst, rta_oif, rta_gateway, rta_priority, rta_table = 1, 4, 5, 6, 15
    request = struct.pack("=IHHIIBBBBBBBBI", 28, 26, 0x301, 1, 0, fam, 0, 0, 0, 0, 0, 0, 0, 0)
    any_address = "0.0.0.0" if family == 4 else "::"
    out = []
    for (_, plen, _, _, table, proto, _, rtype, _), attrs in netlink_dump(request, "=BBBBBBBBI"):
        if rta_table in attrs:
            table = struct.unpack("=I", attrs[rta_table][:4])[0]
        dev = (interface_name(struct.unpack("=I", attrs[rta_oif][:4])[0])
               if rta_oif in attrs else "")
        if table != RT_TABLE_MAIN:
            continue
        out.append({
            "dst": socket.inet_ntop(fam, attrs[rta_dst]) if rta_dst in attrs else any_address,
            "plen": plen, "dev": dev, "proto": proto, "type": rtype,
            "gateway": socket.inet_ntop(fam, attrs[rta_gateway]) if rta_gateway in attrs else "",
            "metric": struct.unpack("=I", attrs[rta_priority][:4])[0]
            if rta_priority in attrs else 0})
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
