"""``Routing.``: one router over the main routing table: the network config's static
routes and the kernel's (see :mod:`icwmpy.backends.network`)."""

from icwmpy.backends.linux import RTPROT_DHCP, RTPROT_RA, kernel_routes
from icwmpy.backends.network import (PPP_PROTOS, Network, is_router, netmask, prefix_length,
                                     ref, true)
from icwmpy.backends.uci import UciTable
from icwmpy.faults import CwmpFault

UCI_TYPES = {"unicast": "Normal", "local": "Receive", "blackhole": "Blackhole",
             "unreachable": "Unreachable", "prohibit": "Prohibit"}
KERNEL_TYPES = {2: "Receive", 6: "Blackhole", 7: "Unreachable", 8: "Prohibit"}


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
            return dst, prefix_length(opts.get("netmask") or "255.255.255.255")
        except ValueError:
            return dst, 32

    def _match(self, opts, routes):
        """The kernel route a section put there, or None."""
        if true(opts.get("disabled", "0")) or not opts.get("target"):
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
            "Enable": "1", "Status": "Enabled", "StaticRoute": "0",
            "Type": KERNEL_TYPES.get(r["type"], "Normal"),
            "Interface": ref(self.ctx, "Device.IP.Interface.", iface) if iface else "",
            "ForwardingMetric": str(r["metric"]), "Origin": self._origin(r, iface),
        }
        if self.family == 4:
            values.update(DestIPAddress=r["dst"], DestSubnetMask=netmask(r["plen"]),
                          GatewayIPAddress=r["gateway"] or "0.0.0.0")
        else:
            values.update(DestIPPrefix=f"{r['dst']}/{r['plen']}", NextHop=r["gateway"])
        return values.get(relname, "")

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
        enabled = not true(opts.get("disabled", "0"))
        dst, plen = self._target(opts)
        if relname == "Enable":
            return "1" if enabled else "0"
        if relname == "Status":
            return "Disabled" if not enabled else ("Enabled" if kernel else "Error_Misconfigured")
        if relname == "StaticRoute":
            return "1"
        if relname == "Type":
            return UCI_TYPES.get(opts.get("type") or "unicast", "Normal")
        if relname == "Origin":
            return "Static"
        if relname == "Interface":
            iface = opts.get("interface", "")
            return ref(self.ctx, "Device.IP.Interface.", iface) if iface else ""
        if relname == "ForwardingMetric":
            return opts.get("metric", "0")
        if relname == "DestIPAddress":
            return dst
        if relname == "DestSubnetMask":
            return netmask(plen) if dst else ""
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
            raise CwmpFault(9008, "a route the kernel learnt cannot be written")
        opts = self.static[key][0]
        target = opts.get("target", "")
        if relname == "Enable":
            option, value = "disabled", "" if value == "1" else "1"
        elif relname == "DestIPAddress":
            option = "target"
            value = value + target[target.find("/"):] if "/" in target else value
        elif relname == "DestSubnetMask":
            if "/" in target:
                option, value = "target", f"{target.split('/')[0]}/{prefix_length(value)}"
            else:
                option = "netmask"
        elif relname in ("GatewayIPAddress", "NextHop"):
            option = "gateway"
            value = "" if value in ("0.0.0.0", "::") else value
        elif relname == "Type":
            option = "type"
            value = "" if value == "Normal" else {v: k for k, v in UCI_TYPES.items()}[value]
        elif relname == "DestIPPrefix":
            option = "target"
        elif relname == "ForwardingMetric":
            option = "metric"
            value = "" if value == "-1" else value
        elif relname == "Interface":
            iface = self.ctx.refs.key(value) if value else ""
            if iface is None or not value.startswith("Device.IP.Interface."):
                raise CwmpFault(9007, f"Interface {value!r}: one Device.IP.Interface. instance")
            option, value = "interface", iface
        else:
            raise OSError(f"{relname} cannot be written")
        self.ctx.uci.set("network", key, option, value)
        opts[option] = value

    def add(self, keys):
        if self.net is None:
            raise CwmpFault(9001, "static routes need the network config")
        return self.sections.add(self.ctx, None, (), None)

    def delete(self, keys, key):
        if key not in self.static:
            raise CwmpFault(9001, "a route the kernel learnt cannot be deleted")
        self.ctx.uci.delete("network", key)
