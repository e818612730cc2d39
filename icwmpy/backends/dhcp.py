"""DHCP servers, DHCP clients and the DNS relay of an OpenWrt router, as bbfdm maps them.

The source is the ``dhcp`` UCI package (dnsmasq serves DHCPv4 and DNS, odhcpd DHCPv6
and router advertisements), the ``network`` package for the addresses pools hand out
(read, never written here), dnsmasq's lease file and netifd's resolv.conf.auto:

- a ``config dhcp`` section that is not ``ignore``'d is a DHCPv4 pool: MinAddress and
  MaxAddress are its interface's network plus ``start`` and ``start + limit - 1``,
  DNSServers, IPRouters and DomainName its ``dhcp_option`` 6, 3 and 15 (else what
  dnsmasq sends anyway: the router's address, the dnsmasq ``domain``);
- ``config host`` sections are static leases, of the pool whose subnet holds their ``ip``
  (or whose interface their ``dhcp`` option names, as iopsys writes them);
- ``dhcp_option`` list entries are pool options, ``server`` list entries relay
  forwarders: a UCI list has no per-item identity or on/off switch, which TR-181 tables
  have, so :class:`_ListEntries` keeps both in the store, as bbfdm's dmmap does;
- the ``dhcpv6`` and ``ra`` options of a section (server, relay, hybrid, disabled) are the
  DHCPv6 pool and the router advertisement setting of its interface.

Interfaces are referenced by their ``network`` section name, the key of
``Device.IP.Interface.`` on a router (``ctx.refs``). Bad values that the definitions'
types cannot catch (an address outside the pool's subnet, an interface path that names
nothing) raise ValueError, which the engine turns into 9007 and a rollback.
"""

import binascii
import copy
import ipaddress
import re
import struct
import time

from icwmpy.backends.linux import kernel_addresses, kernel_routes
from icwmpy.backends.uci import UciTable
from icwmpy.model.types import format_datetime

PKG = "dhcp"
DNSMASQ = "@dnsmasq[0]"
LEASES = "/tmp/dhcp.leases"
RESOLV_AUTO = ("/tmp/resolv.conf.d/resolv.conf.auto", "/tmp/resolv.conf.auto")
IP_INTERFACE = "Device.IP.Interface."
INFINITE = "9999-12-31T23:59:59Z"      # TR-181's dateTime for an infinite lease
DEFAULT_START, DEFAULT_LIMIT, DEFAULT_LEASE = 100, 150, "12h"   # dnsmasq.init's defaults
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
TRUE = ("1", "true", "on", "yes", "enabled")
HEX_TEXT = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2})+")   # dnsmasq's hex option values

OPTION_NAMES = {"netmask": 1, "router": 3, "dns-server": 6, "domain-name": 15,
                "ntp-server": 42}  # dnsmasq's "option:<name>" forms met in configs
IP_OPTIONS = {1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 16, 28, 32, 41, 42, 44, 45, 48, 49, 54, 65,
              68, 69, 70, 71, 72, 73, 74, 75, 76}
INT_OPTIONS = {**dict.fromkeys((19, 20, 23, 27, 29, 30, 31, 34, 36, 37, 39, 46), "B"),
               **dict.fromkeys((13, 22, 26, 57), "H"),
               **dict.fromkeys((24, 35, 38, 51, 58, 59), "I"), 2: "i"}


# ------------------------------------------------------------------ small helpers

def _true(value, default=False):
    return default if value in (None, "") else str(value).strip().lower() in TRUE


def as_list(value):
    """A UCI value as a list (a ``list`` is one already, an option one item)."""
    return list(value) if isinstance(value, list) else ([value] if value else [])


def interface_path(ctx, iface):
    return ctx.refs.path(IP_INTERFACE, iface) if iface else ""


def _interface_key(ctx, path):
    """The network section an ``Device.IP.Interface.N`` path names ('' for '')."""
    if path == "":
        return ""
    key = ctx.refs.key(path)
    if key is None:
        raise ValueError(f"{path} is not an IP interface")
    return key


def _free_name(ctx, prefix):
    taken = {name for name, _ in ctx.uci.sections(PKG)}
    n = 1
    while f"{prefix}_{n}" in taken:
        n += 1
    return f"{prefix}_{n}"


def named_sections(ctx, type):
    """The names of the ``dhcp`` sections of a type, anonymous ones named first
    (``host_1``...) as UCI tables name them, so that their instances keep their numbers."""
    return UciTable({"uci": PKG, "type": type}).instances(ctx, "", ())


def subnet(ctx, iface):
    """The IPv4 network of a network interface from its ``ipaddr``/``netmask`` (or CIDR
    ``ipaddr``) as an IPv4Interface; None where it has no static address."""
    addrs = as_list(ctx.uci.get("network", iface, "ipaddr")) if iface else []
    if not addrs:
        return None
    addr, mask = addrs[0], ctx.uci.get("network", iface, "netmask")
    try:
        return ipaddress.IPv4Interface(addr if "/" in addr or not mask else f"{addr}/{mask}")
    except ValueError:
        return None


def lease_seconds(text):
    """dnsmasq's lease time (``12h``, ``30m``, ``3600``, ``infinite``) in seconds, -1 infinite."""
    text = (text or DEFAULT_LEASE).strip().lower()
    if text == "infinite":
        return -1
    unit = UNITS.get(text[-1:])
    return int(text[:-1] if unit else text) * (unit or 1)


def lease_text(seconds):
    """Seconds as dnsmasq's lease time, in the largest whole unit (``43200`` -> ``12h``)."""
    if seconds < 0:
        return "infinite"
    for unit in ("h", "m"):
        if seconds and seconds % UNITS[unit] == 0:
            return f"{seconds // UNITS[unit]}{unit}"
    return str(seconds)


def read_leases(ctx):
    """dnsmasq's DHCPv4 leases: [(expiry, mac, ip, hostname, clientid)] (expiry 0:
    infinite; '' for a hostname or client id the client did not send).

    The file (``dhcp.@dnsmasq[0].leasefile``) has one lease a line, ``expiry mac ip
    hostname clientid``; DHCPv6 leases follow a ``duid`` line and are left out.
    """
    path = ctx.uci.get(PKG, DNSMASQ, "leasefile") or LEASES
    out = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    for line in lines:
        fields = line.split()
        if fields[:1] == ["duid"]:
            break
        if len(fields) >= 4 and fields[0].isdigit() and ":" not in fields[2]:
            name, clientid = (("" if f == "*" else f) for f in (fields + ["*"])[3:5])
            out.append((int(fields[0]), fields[1].lower(), fields[2], name, clientid))
    return out


def lease_expiry(expiry):
    return INFINITE if expiry == 0 else format_datetime(expiry)


def lease_active(expiry):
    return expiry == 0 or expiry > time.time()


# ------------------------------------------------------------------ DHCP option values

def parse_option(item):
    """A ``dhcp_option`` item (``6,192.168.1.1`` or ``option:dns-server,...``) as
    (tag, value text); None for forms without a plain tag (``tag:...``, ``vendor:...``)."""
    head, _, value = item.partition(",")
    head = head.strip()
    if head.startswith("option:"):
        head = str(OPTION_NAMES.get(head[7:], head[7:]))
    return (int(head), value) if head.isdigit() else None


def option_hex(tag, text):
    """An option's dnsmasq text as TR-181 hexBinary: ``01:02`` hex as it is, addresses
    and numbers in network order as DHCP sends them, anything else as its bytes."""
    if HEX_TEXT.fullmatch(text):
        return text.replace(":", "").upper()
    items = [i.strip() for i in text.split(",")] if text else []
    try:
        if tag in IP_OPTIONS:
            raw = b"".join(ipaddress.IPv4Address(i).packed for i in items)
        elif tag in INT_OPTIONS:
            raw = b"".join(struct.pack("!" + INT_OPTIONS[tag], int(i, 0)) for i in items)
        else:
            raw = text.encode()
    except (ValueError, struct.error):   # not what the tag carries: sent as written
        raw = text.encode()
    return raw.hex().upper()


def option_text(tag, hexvalue):
    """The reverse of :func:`option_hex`: what the ``dhcp_option`` item says after the tag."""
    raw = binascii.unhexlify(hexvalue)
    if tag in IP_OPTIONS and len(raw) % 4 == 0:
        return ",".join(str(ipaddress.IPv4Address(raw[i:i + 4])) for i in range(0, len(raw), 4))
    fmt = INT_OPTIONS.get(tag)
    if fmt and len(raw) % struct.calcsize(fmt) == 0:
        return ",".join(str(v[0]) for v in struct.iter_unpack("!" + fmt, raw))
    text = raw.decode("ascii", "replace")
    if text.isprintable() and "," not in text and not text.startswith(" "):
        return text
    return ":".join(f"{b:02x}" for b in raw)


def _pool_option(ctx, section, tag):
    for item in as_list(ctx.uci.get(PKG, section, "dhcp_option")):
        parsed = parse_option(item)
        if parsed and parsed[0] == tag:
            return parsed[1]
    return None


def _set_pool_option(ctx, section, tag, text):
    """Replace (or with '' drop) the ``dhcp_option`` item of ``tag``, keeping the others."""
    items = [i for i in as_list(ctx.uci.get(PKG, section, "dhcp_option"))
             if (parse_option(i) or (None,))[0] != tag]
    ctx.uci.set(PKG, section, "dhcp_option", items + ([f"{tag},{text}"] if text else []))


# ------------------------------------------------------------------ list items as tables

class _ListEntries:
    """The items of one UCI list option as instances with stable keys and an Enable.

    Kept in the store namespace ``dhcp_entries`` under ``<section>.<option>``:
    ``{"next": n, "items": {key: [item, enabled]}}``. Enabled items are the list's; a
    disabled (or newly added, still empty) item lives only in the store. Each listing
    reconciles with the file: an item edited there keeps its key when ``identity`` (the
    DHCP tag, say) still matches, one removed there is forgotten, a new one gets a key.
    """

    def __init__(self, ctx, option, identity):
        self.ctx = ctx
        self.option = option
        self.identity = identity
        self.ns = ctx.store["dhcp_entries"]

    def _record(self, section):
        """A copy to change: the store writes a value that differs from what it holds."""
        rec = self.ns.get(f"{section}.{self.option}")
        return copy.deepcopy(rec) if rec else {"next": 1, "items": {}}

    def _save(self, section, rec):
        self.ns.set(f"{section}.{self.option}", rec)

    def keys(self, section):
        rec = self._record(section)
        before = repr(rec)
        items = rec["items"]
        free = {k for k, (_, on) in items.items() if on}
        for item in as_list(self.ctx.uci.get(PKG, section, self.option)):
            key = next((k for k in sorted(free, key=int) if items[k][0] == item), None)
            if key is None:
                key = next((k for k in sorted(free, key=int)
                            if self.identity(items[k][0]) == self.identity(item)), None)
            if key is None:
                key = str(rec["next"])
                rec["next"] += 1
            free.discard(key)
            items[key] = [item, True]
        for key in free:
            del items[key]
        if repr(rec) != before:
            self._save(section, rec)
        return sorted(items, key=int)

    def get(self, section, key):
        """(item, enabled); ('', False) for a key that is gone."""
        return tuple(self._record(section)["items"].get(key, ("", False)))

    def items(self, section):
        return [self.get(section, k) for k in self.keys(section)]

    def _write(self, section, rec):
        self.ctx.uci.set(PKG, section, self.option,
                         [item for item, on in (rec["items"][k] for k in sorted(
                             rec["items"], key=int)) if on])
        self._save(section, rec)

    def update(self, section, key, item=None, enabled=None):
        rec = self._record(section)
        old_item, old_on = rec["items"][key]
        item = old_item if item is None else item
        enabled = old_on if enabled is None else enabled
        if enabled and not item:
            raise ValueError("an empty entry cannot be enabled")
        rec["items"][key] = [item, enabled]
        self._write(section, rec)

    def add(self, section, item=""):
        rec = self._record(section)
        key = str(rec["next"])
        rec["next"] += 1
        rec["items"][key] = [item, False]
        self._save(section, rec)
        return key

    def delete(self, section, key):
        rec = self._record(section)
        rec["items"].pop(key, None)
        self._write(section, rec)

    def forget(self, section):
        """Drop what is kept about a section that is gone (a new one may get its name)."""
        self.ns.delete(f"{section}.{self.option}")


# ------------------------------------------------------------------ DHCPv4 server

def server_enable(ctx):
    if ctx.uci.resolve(PKG, DNSMASQ) is None:
        return "0"
    return "1" if _true(ctx.uci.get(PKG, DNSMASQ, "dhcpv4server"), True) else "0"


def set_server_enable(ctx, value):
    ctx.uci.set(PKG, DNSMASQ, "dhcpv4server", value)


class Pools:
    """``DHCPv4.Server.Pool.{i}.``: the ``config dhcp`` sections dnsmasq serves (not ignored).

    AddObject makes a section served with dnsmasq.init's defaults but ``dhcpv4
    disabled`` until the ACS enables it; DeleteObject removes it, or where odhcpd still
    serves DHCPv6 or router advertisements from it, sets ``ignore`` instead.
    """

    def __init__(self, ctx):
        self.ctx = ctx

    def instances(self, keys):
        return [name for name in named_sections(self.ctx, "dhcp")
                if not _true(self.ctx.uci.get(PKG, name, "ignore"))]

    def _opt(self, section, option, default=None):
        return self.ctx.uci.get(PKG, section, option, default)

    def _range(self, section):
        """(network, start, limit) of a pool; network None without a static address."""
        net = subnet(self.ctx, self._opt(section, "interface"))
        return (net, int(self._opt(section, "start", DEFAULT_START)),
                int(self._opt(section, "limit", DEFAULT_LIMIT)))

    def _address(self, section, offset):
        net, _, _ = self._range(section)
        return str(net.network.network_address + offset) if net else ""

    def get(self, keys, relname):
        section, ctx = keys[-1], self.ctx
        iface = self._opt(section, "interface", "")
        if relname == "Enable":
            return "0" if self._opt(section, "dhcpv4") == "disabled" else "1"
        if relname == "Status":
            return "Disabled" if self.get(keys, "Enable") == "0" else "Enabled"
        if relname == "Interface":
            return interface_path(ctx, iface)
        if relname == "MinAddress":
            return self._address(section, self._range(section)[1])
        if relname == "MaxAddress":
            _, start, limit = self._range(section)
            return self._address(section, start + limit - 1)
        if relname == "SubnetMask":
            net = subnet(ctx, iface)
            return self._opt(section, "netmask") or (str(net.netmask) if net else "")
        if relname in ("DNSServers", "IPRouters"):
            net = subnet(ctx, iface)
            found = _pool_option(ctx, section, 6 if relname == "DNSServers" else 3)
            return found if found is not None else (str(net.ip) if net else "")
        if relname == "DomainName":
            found = _pool_option(ctx, section, 15)
            return found if found is not None else ctx.uci.get(PKG, DNSMASQ, "domain", "")
        if relname == "LeaseTime":
            return str(lease_seconds(self._opt(section, "leasetime")))
        return ""

    def set(self, keys, relname, value):
        section, uci = keys[-1], self.ctx.uci
        if relname == "Enable":
            uci.set(PKG, section, "dhcpv4", "server" if value == "1" else "disabled")
        elif relname == "Interface":
            uci.set(PKG, section, "interface", _interface_key(self.ctx, value))
        elif relname in ("MinAddress", "MaxAddress"):
            self._set_bound(section, relname, value)
        elif relname == "SubnetMask":
            uci.set(PKG, section, "netmask", value)
        elif relname in ("DNSServers", "IPRouters", "DomainName"):
            tag = {"DNSServers": 6, "IPRouters": 3, "DomainName": 15}[relname]
            _set_pool_option(self.ctx, section, tag, value)
        elif relname == "LeaseTime":
            uci.set(PKG, section, "leasetime", lease_text(int(value)))
        else:
            raise OSError(f"{relname} cannot be written")

    def _set_bound(self, section, relname, value):
        """MinAddress moves ``start`` keeping the last address; MaxAddress sets ``limit``."""
        net, start, limit = self._range(section)
        if net is None:
            raise ValueError("the pool's interface has no static IPv4 network")
        address = ipaddress.IPv4Address(value)
        if address not in net.network:
            raise ValueError(f"{value} is outside {net.network}")
        offset = int(address) - int(net.network.network_address)
        if relname == "MinAddress":
            start, limit = offset, start + limit - offset
        else:
            limit = offset - start + 1
        if limit < 1:
            raise ValueError("MinAddress would be above MaxAddress")
        self.ctx.uci.set(PKG, section, "start", str(start))
        self.ctx.uci.set(PKG, section, "limit", str(limit))

    def add(self, keys):
        uci = self.ctx.uci
        name = uci.add(PKG, "dhcp", _free_name(self.ctx, "dhcp"))
        for option, value in (("start", str(DEFAULT_START)), ("limit", str(DEFAULT_LIMIT)),
                              ("leasetime", DEFAULT_LEASE), ("dhcpv4", "disabled")):
            uci.set(PKG, name, option, value)
        return name

    def delete(self, keys, key):
        uci = self.ctx.uci
        if any(uci.get(PKG, key, o, "disabled") != "disabled" for o in ("dhcpv6", "ra")):
            uci.set(PKG, key, "ignore", "1")
        else:
            uci.delete(PKG, key)
            _ListEntries(self.ctx, "dhcp_option", _option_tag).forget(key)


def _pool_hosts(ctx, section):
    """The ``config host`` sections of a pool: named by its interface, or with an ``ip``
    in its subnet."""
    iface = ctx.uci.get(PKG, section, "interface", "")
    net = subnet(ctx, iface)
    out = []
    for name in named_sections(ctx, "host"):
        owner = ctx.uci.get(PKG, name, "dhcp")
        ip = ctx.uci.get(PKG, name, "ip", "")
        try:
            inside = net is not None and ipaddress.IPv4Address(ip) in net.network
        except ValueError:
            inside = False
        if owner == iface if owner else inside:
            out.append(name)
    return out


class StaticAddresses:
    """``Pool.{i}.StaticAddress.{i}.``: static leases (``config host``: mac, ip, enable)."""

    def __init__(self, ctx):
        self.ctx = ctx

    def instances(self, keys):
        return _pool_hosts(self.ctx, keys[-1])

    def get(self, keys, relname):
        host = keys[-1]
        if relname == "Enable":
            return "1" if _true(self.ctx.uci.get(PKG, host, "enable"), True) else "0"
        if relname == "Chaddr":
            return ",".join(as_list(self.ctx.uci.get(PKG, host, "mac")))
        if relname == "Yiaddr":
            return self.ctx.uci.get(PKG, host, "ip", "")
        return ""

    def set(self, keys, relname, value):
        pool, host = keys[-2], keys[-1]
        if relname == "Enable":
            self.ctx.uci.set(PKG, host, "enable", value)
        elif relname == "Chaddr":
            self.ctx.uci.set(PKG, host, "mac", value)   # as given: an ACS compares it
        elif relname == "Yiaddr":
            net = subnet(self.ctx, self.ctx.uci.get(PKG, pool, "interface", ""))
            if net is not None and ipaddress.IPv4Address(value) not in net.network:
                raise ValueError(f"{value} is outside the pool's network {net.network}")
            self.ctx.uci.set(PKG, host, "ip", value)
        else:
            raise OSError(f"{relname} cannot be written")

    def add(self, keys):
        """A disabled host bound to the pool's interface (its ``ip`` is not set yet)."""
        uci = self.ctx.uci
        name = uci.add(PKG, "host", _free_name(self.ctx, "host"))
        uci.set(PKG, name, "dhcp", uci.get(PKG, keys[-1], "interface", ""))
        uci.set(PKG, name, "enable", "0")
        return name

    def delete(self, keys, key):
        self.ctx.uci.delete(PKG, key)


def _option_tag(item):
    parsed = parse_option(item)
    return parsed[0] if parsed else item


class PoolOptions:
    """``Pool.{i}.Option.{i}.``: the pool's ``dhcp_option`` items (Tag, Value as hexBinary).

    A new option gets the lowest tag the pool does not use yet, as bbfdm does, and stays
    disabled (out of the UCI list) until enabled.
    """

    def __init__(self, ctx):
        self.entries = _ListEntries(ctx, "dhcp_option", _option_tag)

    def instances(self, keys):
        return self.entries.keys(keys[-1])

    def _parsed(self, keys):
        item, enabled = self.entries.get(keys[-2], keys[-1])
        tag, text = parse_option(item) or (0, "")
        return tag, text, enabled

    def get(self, keys, relname):
        tag, text, enabled = self._parsed(keys)
        if relname == "Enable":
            return "1" if enabled else "0"
        if relname == "Tag":
            return str(tag)
        if relname == "Value":
            return option_hex(tag, text)
        return ""

    def set(self, keys, relname, value):
        pool, key = keys[-2], keys[-1]
        tag, text, _ = self._parsed(keys)
        if relname == "Enable":
            self.entries.update(pool, key, enabled=value == "1")
        elif relname == "Tag":
            if int(value) != tag and int(value) in self._tags(pool):
                raise ValueError(f"option {value} is already in the pool")
            self.entries.update(pool, key, item=f"{value},{option_text(int(value), option_hex(tag, text))}")
        elif relname == "Value":
            self.entries.update(pool, key, item=f"{tag},{option_text(tag, value)}")
        else:
            raise OSError(f"{relname} cannot be written")

    def _tags(self, pool):
        return {_option_tag(item) for item, _ in self.entries.items(pool)}

    def add(self, keys):
        used = self._tags(keys[-1])
        tag = next(t for t in range(1, 255) if t not in used)
        return self.entries.add(keys[-1], f"{tag},")

    def delete(self, keys, key):
        self.entries.delete(keys[-1], key)


class PoolClients:
    """``Pool.{i}.Client.{i}.``: dnsmasq's leases inside the pool's subnet, by MAC; the
    expiries read are remembered per pool, as the engine lists every pool's clients
    before it reads any of them."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.snapshot = {}

    def instances(self, keys):
        net = subnet(self.ctx, self.ctx.uci.get(PKG, keys[-1], "interface", ""))
        clients = self.snapshot[keys[-1]] = {}
        for expiry, mac, ip, _, _ in read_leases(self.ctx):
            if net is not None and ipaddress.IPv4Address(ip) in net.network:
                clients.setdefault(mac, []).append(expiry)
        return list(clients)

    def get(self, keys, relname):
        if relname == "Chaddr":
            return keys[-1]
        if relname == "Active":
            expiries = self.snapshot.get(keys[-2], {}).get(keys[-1], [])
            return "1" if any(lease_active(expiry) for expiry in expiries) else "0"
        return ""


class ClientAddresses:
    """``Pool.{i}.Client.{i}.IPv4Address.{i}.``: a client's leased addresses (remembered
    per client, as :class:`PoolClients`)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.snapshot = {}

    def instances(self, keys):
        found = self.snapshot[keys[-1]] = {ip: expiry for expiry, mac, ip, _, _
                                           in read_leases(self.ctx) if mac == keys[-1]}
        return list(found)

    def get(self, keys, relname):
        if relname == "IPAddress":
            return keys[-1]
        if relname == "LeaseTimeRemaining":
            expiry = self.snapshot.get(keys[-2], {}).get(keys[-1])
            return format_datetime(None) if expiry is None else lease_expiry(expiry)
        return ""


class ClientOptions:
    """``Pool.{i}.Client.{i}.Option.{i}.``: what dnsmasq keeps of the options a client
    sent: its host name (12) and client identifier (61), keyed by tag."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.snapshot = {}

    def instances(self, keys):
        options = self.snapshot[keys[-1]] = {}
        for _, mac, _, name, clientid in read_leases(self.ctx):
            if mac == keys[-1]:
                if name:
                    options["12"] = name.encode().hex().upper()
                if clientid:
                    options["61"] = clientid.replace(":", "").upper()
        return list(options)

    def get(self, keys, relname):
        if relname == "Tag":
            return keys[-1]
        if relname == "Value":
            return self.snapshot.get(keys[-2], {}).get(keys[-1], "")
        return ""


# ------------------------------------------------------------------ DHCPv4 clients

class DhcpClients:
    """``DHCPv4.Client.{i}.``: the ``network`` interfaces with ``proto dhcp``; what they
    obtained is read from the kernel (address and mask of the device, default routes
    through it) and from netifd's resolv.conf.auto."""

    def __init__(self, ctx):
        self.ctx = ctx

    def instances(self, keys):
        return [name for name, _ in self.ctx.uci.sections("network", "interface")
                if self.ctx.uci.get("network", name, "proto") == "dhcp"]

    def _device(self, iface):
        return self.ctx.uci.get("network", iface, "device") or \
            self.ctx.uci.get("network", iface, "ifname", "")

    def _address(self, iface):
        device = self._device(iface)
        found = [a for a in kernel_addresses(4) if a["dev"] == device]
        return ipaddress.IPv4Interface(f"{found[0]['address']}/{found[0]['plen']}") \
            if found else None

    def get(self, keys, relname):
        iface = keys[-1]
        if relname == "Enable":
            return "0" if _true(self.ctx.uci.get("network", iface, "disabled")) else "1"
        if relname == "Status":
            return "Enabled" if self.get(keys, "Enable") == "1" else "Disabled"
        if relname == "Interface":
            return interface_path(self.ctx, iface)
        address = self._address(iface)
        if relname == "DHCPStatus":
            return "Bound" if address else "Requesting"
        if relname == "IPAddress":
            return str(address.ip) if address else ""
        if relname == "SubnetMask":
            return str(address.netmask) if address else ""
        if relname == "IPRouters":
            device = self._device(iface)
            return ",".join(dict.fromkeys(r["gateway"] for r in kernel_routes(4)
                                          if r["dev"] == device and r["plen"] == 0
                                          and r["gateway"]))
        if relname == "DNSServers":
            return ",".join(s for s, i in upstream_servers(self.ctx) if i == iface and ":" not in s)
        return ""


def upstream_servers(ctx):
    """[(server, network interface)] of netifd's resolv.conf.auto (dnsmasq's
    ``resolvfile``), whose ``# Interface <name>`` lines say which interface learnt the
    servers that follow."""
    configured = ctx.uci.get(PKG, DNSMASQ, "resolvfile")
    for path in [configured] if configured else RESOLV_AUTO:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        out, iface = [], ""
        for line in lines:
            fields = line.split()
            if fields[:2] == ["#", "Interface"] and len(fields) > 2:
                iface = fields[2]
            elif len(fields) >= 2 and fields[0] == "nameserver":
                if (fields[1], iface) not in out:
                    out.append((fields[1], iface))
        return out
    return []


# ------------------------------------------------------------------ DHCPv6 and RA

class OdhcpdSettings:
    """``DHCPv6.Server.Pool.{i}.`` (``option="dhcpv6"``) and
    ``RouterAdvertisement.InterfaceSetting.{i}.`` (``option="ra"``): the ``config dhcp``
    sections that say how odhcpd serves their interface (server, relay, hybrid or
    disabled). AddObject makes a section of its own (``ignore``'d for DHCPv4) with the
    service disabled; DeleteObject removes the option, and the section with it when
    nothing else is served from it.

    Beyond Enable and Interface, odhcpd's own options of the service, with odhcpd's
    defaults: IA_NA and IA_PD of a DHCPv6 pool, the RA intervals, lifetime, preference
    and the managed / other-config flags (``ra_flags``).
    """

    OPTIONS = {  # relname: (odhcpd option, odhcpd's default)
        "dhcpv6": {"IANAEnable": ("dhcpv6_na", "1"), "IAPDEnable": ("dhcpv6_pd", "1")},
        "ra": {"MaxRtrAdvInterval": ("ra_maxinterval", "600"),
               "MinRtrAdvInterval": ("ra_mininterval", "200"),
               "AdvDefaultLifetime": ("ra_lifetime", "1800")},
    }
    RA_FLAGS = {"AdvManagedFlag": "managed-config", "AdvOtherConfigFlag": "other-config"}
    PREFERENCES = {"low": "Low", "medium": "Medium", "high": "High"}

    def __init__(self, ctx, option):
        self.ctx = ctx
        self.option = option
        self.options = self.OPTIONS[option]

    def instances(self, keys):
        return [name for name in named_sections(self.ctx, "dhcp")
                if self.ctx.uci.get(PKG, name, self.option)]

    def get(self, keys, relname):
        mode = self.ctx.uci.get(PKG, keys[-1], self.option, "disabled")
        if relname == "Enable":
            return "0" if mode == "disabled" else "1"
        if relname == "Status":
            return "Disabled" if mode == "disabled" else "Enabled"
        if relname == "Interface":
            return interface_path(self.ctx, self.ctx.uci.get(PKG, keys[-1], "interface", ""))
        if relname in self.options:
            option, default = self.options[relname]
            return self.ctx.uci.get(PKG, keys[-1], option, default)
        if relname in self.RA_FLAGS:
            return "1" if self.RA_FLAGS[relname] in self._flags(keys[-1]) else "0"
        if relname == "AdvPreferredRouterFlag":
            return self.PREFERENCES.get(self.ctx.uci.get(PKG, keys[-1], "ra_preference"), "Medium")
        return ""

    def _flags(self, section):
        """odhcpd's ``ra_flags`` (unset: other-config)."""
        flags = self.ctx.uci.get(PKG, section, "ra_flags")
        return ["other-config"] if flags is None else as_list(flags)

    def set(self, keys, relname, value):
        section, uci = keys[-1], self.ctx.uci
        if relname == "Enable":
            if value == "0" or uci.get(PKG, section, self.option, "disabled") == "disabled":
                uci.set(PKG, section, self.option, "server" if value == "1" else "disabled")
        elif relname == "Interface":
            uci.set(PKG, section, "interface", _interface_key(self.ctx, value))
        elif relname in self.options:
            uci.set(PKG, section, self.options[relname][0], value)
        elif relname in self.RA_FLAGS:
            flag = self.RA_FLAGS[relname]
            flags = [f for f in self._flags(section) if f not in (flag, "none")]
            uci.set(PKG, section, "ra_flags", (flags + [flag] if value == "1" else flags) or ["none"])
        elif relname == "AdvPreferredRouterFlag":
            uci.set(PKG, section, "ra_preference", value.lower())
        else:
            raise OSError(f"{relname} cannot be written")

    def add(self, keys):
        uci = self.ctx.uci
        name = uci.add(PKG, "dhcp", _free_name(self.ctx, self.option))
        uci.set(PKG, name, "ignore", "1")
        uci.set(PKG, name, self.option, "disabled")
        return name

    def delete(self, keys, key):
        uci = self.ctx.uci
        uci.delete(PKG, key, self.option)
        served = [o for o in ("dhcpv6", "ra", "ndp") if uci.get(PKG, key, o)]
        if _true(uci.get(PKG, key, "ignore")) and not served:
            uci.delete(PKG, key)


# ------------------------------------------------------------------ DNS relay

def relay_enable(ctx):
    """dnsmasq relays DNS unless its ``port`` is 0."""
    if ctx.uci.resolve(PKG, DNSMASQ) is None:
        return "0"
    return "0" if ctx.uci.get(PKG, DNSMASQ, "port") == "0" else "1"


def set_relay_enable(ctx, value):
    ctx.uci.set(PKG, DNSMASQ, "port", "" if value == "1" else "0")


def relay_status(ctx):
    return "Enabled" if relay_enable(ctx) == "1" else "Disabled"


def forward_count(ctx):
    """DNS.Relay.ForwardNumberOfEntries: TR-181 does not name it after its table."""
    return str(len(Forwardings(ctx).instances(())))


def server_address(item):
    """The address of a dnsmasq ``server`` item (``/lan.example/10.0.0.1#5353@eth0``)."""
    return item.rpartition("/")[2].split("#")[0].split("@")[0]


def l3_device(ctx, iface):
    """The Linux device netifd gives a network interface (``pppoe-wan`` for a PPPoE one)."""
    proto = ctx.uci.get("network", iface, "proto", "")
    if proto in ("pppoe", "pppoa"):
        return f"{proto}-{iface}"
    return ctx.uci.get("network", iface, "device", "")


def server_device(item):
    """The device of a dnsmasq ``server`` item's ``@<device>`` ('' for none, or a source
    address)."""
    tail = item.rpartition("/")[2]
    device = tail.partition("@")[2]
    try:
        ipaddress.ip_address(device)
        return ""
    except ValueError:
        return device


class Forwardings:
    """``DNS.Relay.Forwarding.{i}.``: dnsmasq's ``server`` entries (Static, writable; an
    ``@<device>`` suffix is their Interface) and, unless ``noresolv``, the upstream servers
    netifd learnt (read-only: written by the network, keyed ``auto:<address>``)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.entries = _ListEntries(ctx, "server", lambda item: item)
        self.auto = {}

    def instances(self, keys):
        if self.ctx.uci.resolve(PKG, DNSMASQ) is None:
            return []
        self.auto = {}
        if not _true(self.ctx.uci.get(PKG, DNSMASQ, "noresolv")):
            self.auto = {f"auto:{server}": (server, iface)
                         for server, iface in upstream_servers(self.ctx)}
        return self.entries.keys(DNSMASQ) + list(self.auto)

    def get(self, keys, relname):
        key = keys[-1]
        if key.startswith("auto:"):
            server, iface = self.auto.get(key, (key[5:], ""))
            values = {"Enable": "1", "Status": "Enabled", "DNSServer": server,
                      "Interface": interface_path(self.ctx, iface),
                      "Type": self._type(server, iface)}
            return values.get(relname, "")
        item, enabled = self.entries.get(DNSMASQ, key)
        values = {"Enable": "1" if enabled else "0", "DNSServer": server_address(item),
                  "Status": "Enabled" if enabled else "Disabled", "Type": "Static",
                  "Interface": interface_path(self.ctx, self._interface(server_device(item)))}
        return values.get(relname, "")

    def _interface(self, device):
        return next((iface for iface, _ in self.ctx.uci.sections("network", "interface")
                     if device and l3_device(self.ctx, iface) == device), "")

    def _type(self, server, iface):
        if self.ctx.uci.get("network", iface, "proto", "") in ("pppoe", "pppoa", "ppp"):
            return "IPCP"
        return "DHCPv6" if ":" in server else "DHCPv4"

    def set(self, keys, relname, value):
        key = keys[-1]
        if key.startswith("auto:"):
            raise OSError("a server learnt from the network cannot be changed: add one")
        if relname == "Enable":
            self.entries.update(DNSMASQ, key, enabled=value == "1")
        elif relname == "DNSServer":  # the address changes, a /domain/ or #port stays
            item, _ = self.entries.get(DNSMASQ, key)
            old = server_address(item)
            at = item.rfind(old) if old else len(item)
            self.entries.update(DNSMASQ, key, item=item[:at] + value + item[at + len(old):])
        elif relname == "Interface":
            item, _ = self.entries.get(DNSMASQ, key)
            device = server_device(item)
            base = item[: -len(device) - 1] if device else item
            iface = _interface_key(self.ctx, value)
            self.entries.update(DNSMASQ, key, item=base + (
                f"@{l3_device(self.ctx, iface)}" if iface else ""))
        else:
            raise OSError(f"{relname} cannot be written")

    def add(self, keys):
        return self.entries.add(DNSMASQ)

    def delete(self, keys, key):
        if key.startswith("auto:"):
            raise OSError("a server learnt from the network cannot be deleted")
        self.entries.delete(DNSMASQ, key)
