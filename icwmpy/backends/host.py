"""Backends for Time, DeviceInfo extras, UPnP, UserInterface, DynamicDNS and GatewayInfo.

What OpenWrt keeps in its own UCI packages (``system``, ``ddns``) is read and staged
there, as bbfdm maps it; what the kernel knows (temperatures, TCP limits) is read from
sysfs and procfs at each call. Where TR-181 lets the ACS add instances that OpenWrt can
hold only one of (its single NTP client, one host name per ddns-scripts service, one
ACS-given location), a second AddObject is refused with 9004 rather than creating
configuration nothing would use.

Functions are ``python`` parameter backends (``fn(ctx, **args)``, setters
``fn(ctx, value, **args)``); classes are table handlers made per CPE as
``Class(ctx, **args)``, see :mod:`icwmpy.backends.python`.
"""

import json
import os
import time

from icwmpy.backends import system
from icwmpy.backends.uci import UciTable
from icwmpy.faults import CwmpFault
from icwmpy.model.types import format_datetime

NO_READING = "-274"                 # TR-181: below absolute zero, no good reading
IP_INTERFACE = "Device.IP.Interface."
GATEWAY_FILE = "gatewayinfo.json"   # in the state directory, written by icwmpy.dhcp_options


def _single_instance_refused(what):
    return CwmpFault(9004, f"Resources exceeded: {what}")


# ------------------------------------------------------------------ Time

def timezone(ctx, option, zonename, zoneinfo):
    """LocalTimeZone as OpenWrt keeps it (the setter's arguments, which it needs)."""
    return system._uci(ctx, option)


def set_timezone(ctx, value, option, zonename, zoneinfo):
    """LocalTimeZone is a POSIX TZ string (``system.@system[0].timezone``); OpenWrt also
    keeps the zone's name (``zonename``, what LuCI shows and /etc/init.d/system links
    /etc/localtime to). The name stays if its zone has that rule, else becomes the first
    zone of the zoneinfo database that has it, else goes: a stale name would put the
    clock in another zone than the rule the ACS set."""
    system._set_uci(ctx, option, value)
    current = system._uci(ctx, zonename)
    if current and _zone_rule(zoneinfo, current) == value:
        return
    match = next((name for name in _zone_names(zoneinfo) if _zone_rule(zoneinfo, name) == value), "")
    system._set_uci(ctx, zonename, match)


def _zone_rule(zoneinfo, name):
    """The POSIX TZ string a TZif (version 2+) file ends with, between newlines."""
    try:
        with open(os.path.join(zoneinfo, name), "rb") as f:
            data = f.read()
    except OSError:
        return None
    if not data.startswith(b"TZif") or not data.endswith(b"\n"):
        return None
    return data[data.rfind(b"\n", 0, -1) + 1:-1].decode("ascii", "replace")


def _zone_names(zoneinfo):
    """Region/City zone names, sorted (as LuCI lists them; no posix/ or right/ copies)."""
    names = []
    for top, dirs, files in os.walk(zoneinfo):
        dirs[:] = [d for d in dirs if d not in ("posix", "right")]
        rel = os.path.relpath(top, zoneinfo)
        if rel != "." and rel[0].isupper():
            names += [f"{rel}/{f}" for f in files]
    return sorted(names)


class NtpClients:
    """``Time.Client.{i}.``: OpenWrt's one NTP client, sysntpd, configured by the
    ``timeserver`` section ``system.ntp`` (key ``ntp``): Enable is its ``enabled``, Servers
    its ``server`` list. AddObject creates that section when it is missing."""

    def __init__(self, ctx, package="system", section="ntp"):
        self.ctx = ctx
        self.package = package
        self.section = section

    def instances(self, keys):
        found = self.ctx.uci.section_type(self.package, self.section) == "timeserver"
        return [self.section] if found else []

    def get(self, keys, relname):
        uci = self.ctx.uci
        enabled = system._true(uci.get(self.package, self.section, "enabled", "1"))
        if relname == "Enable":
            return "1" if enabled else "0"
        if relname == "Status":
            if not enabled:
                return "Disabled"
            return "Synchronized" if system.clock_synchronized(self.ctx) == "1" else "Unsynchronized"
        if relname == "Servers":
            servers = uci.get(self.package, self.section, "server", [])
            return ",".join(servers if isinstance(servers, list) else servers.split())
        return ""

    def set(self, keys, relname, value):
        uci = self.ctx.uci
        if relname == "Enable":
            uci.set(self.package, self.section, "enabled", value)
        elif relname == "Servers":
            uci.set(self.package, self.section, "server",
                    [s.strip() for s in value.split(",") if s.strip()])
        else:
            raise OSError(f"{relname} cannot be written")

    def add(self, keys):
        if self.instances(keys):
            raise _single_instance_refused("OpenWrt has one NTP client (system.ntp)")
        if not os.path.isfile(self.ctx.uci.path(self.package)):
            raise _single_instance_refused(f"no UCI package {self.package}")
        self.ctx.uci.set_section(self.package, self.section, "timeserver")
        self.ctx.uci.set(self.package, self.section, "enabled", "0")
        return self.section

    def delete(self, keys, key):
        self.ctx.uci.delete(self.package, key)


# ------------------------------------------------------------------ DeviceInfo

class OneInstance:
    """A table of one fixed instance whose parameters are constants
    (``DeviceInfo.SupportedDataModel.{i}.``: the data model this agent serves)."""

    def __init__(self, ctx, key="1"):
        self.key = key

    def instances(self, keys):
        return [self.key]

    def get(self, keys, relname):
        return ""


class Locations:
    """``DeviceInfo.Location.{i}.``: location information the ACS gives the device.

    TR-181 allows one CWMP-configured location: AddObject makes it (Source External,
    ExternalProtocol CWMP, ExternalSource the ACS URL of the moment), DataObject is the
    ACS's text, AcquiredTime when it was last written. Kept in the ``locations`` store
    namespace, since OpenWrt has no place for it.
    """

    KEY = "cwmp"

    def __init__(self, ctx, url, dhcp_url, dhcp_discovery):
        self.ctx = ctx
        self.acs = {"url": url, "dhcp_url": dhcp_url, "dhcp_discovery": dhcp_discovery}

    @property
    def _ns(self):
        return self.ctx.store["locations"]

    def instances(self, keys):
        return self._ns.keys()

    def get(self, keys, relname):
        entry = self._ns.get(keys[-1]) or {}
        if relname == "Source":
            return "External"
        if relname == "ExternalProtocol":
            return "CWMP"
        if relname == "AcquiredTime":
            return format_datetime(entry.get("acquired"))
        return entry.get({"ExternalSource": "source", "DataObject": "data"}.get(relname), "")

    def set(self, keys, relname, value):
        if relname != "DataObject":
            raise OSError(f"{relname} cannot be written")
        entry = dict(self._ns.get(keys[-1]) or {}, data=value, acquired=int(time.time()))
        self._ns.set(keys[-1], entry)

    def add(self, keys):
        if self._ns.get(self.KEY) is not None:
            raise _single_instance_refused("one CWMP-configured Location may exist")
        self._ns.set(self.KEY, {"source": system.acs_url(self.ctx, **self.acs), "data": ""})
        return self.KEY

    def delete(self, keys, key):
        self._ns.delete(key)


class TemperatureSensors:
    """``DeviceInfo.TemperatureStatus.TemperatureSensor.{i}.``: the kernel's sensors.

    Keys are ``hwmon<N>/temp<M>`` (hwmon ``temp*_input``, millidegrees; MinValue and
    MaxValue are the driver's ``temp*_lowest``/``_highest`` history where it keeps one)
    and ``thermal_zone<N>`` (``temp``). Every reading is taken when asked, so LastUpdate
    is the time of the answer. Enable is the agent's own switch (a disabled sensor reads
    as having no reading), kept in the ``temperature`` store namespace.
    """

    def __init__(self, ctx, hwmon="/sys/class/hwmon", thermal="/sys/class/thermal"):
        self.ctx = ctx
        self.hwmon = hwmon
        self.thermal = thermal

    def instances(self, keys):
        found = []
        for device in _listdir(self.hwmon):
            inputs = [f for f in _listdir(os.path.join(self.hwmon, device))
                      if f.startswith("temp") and f.endswith("_input")]
            found += sorted((f"{device}/{f[:-len('_input')]}" for f in inputs), key=_natural)
        found += [z for z in _listdir(self.thermal) if z.startswith("thermal_zone")]
        return sorted(found, key=lambda k: (k.startswith("thermal"), _natural(k)))

    def _files(self, key):
        """{what: file} of one sensor: its reading, and where known its name and history."""
        if key.startswith("thermal_zone"):
            base = os.path.join(self.thermal, key)
            return {"value": f"{base}/temp", "name": f"{base}/type"}
        device, sensor = key.split("/")
        base = os.path.join(self.hwmon, device)
        return {"value": f"{base}/{sensor}_input", "name": f"{base}/name",
                "label": f"{base}/{sensor}_label", "min": f"{base}/{sensor}_lowest",
                "max": f"{base}/{sensor}_highest"}

    def get(self, keys, relname):
        key = keys[-1]
        enabled = self.ctx.store["temperature"].get(key, "1") == "1"
        files = self._files(key)
        if relname == "Enable":
            return "1" if enabled else "0"
        if relname == "Name":
            label = system._read(files.get("label", ""))
            name = system._read(files["name"]) or key
            return (f"{name} {label}" if label else name)[:256]
        reading = _celsius(files["value"]) if enabled else None
        if relname == "Status":
            return "Disabled" if not enabled else "Enabled" if reading is not None else "Error"
        if relname == "Value":
            return NO_READING if reading is None else str(reading)
        if relname == "LastUpdate":
            return format_datetime(None if reading is None else time.time())
        if relname in ("MinValue", "MaxValue"):
            path = files.get("min" if relname == "MinValue" else "max")
            value = _celsius(path) if enabled and path else None
            return NO_READING if value is None else str(value)
        return ""

    def set(self, keys, relname, value):
        if relname != "Enable":
            raise OSError(f"{relname} cannot be written")
        self.ctx.store["temperature"].set(keys[-1], value)


def _listdir(path):
    try:
        return os.listdir(path)
    except OSError:
        return []


def _natural(name):
    """Sort key: 'temp10' after 'temp2'."""
    head = name.rstrip("0123456789")
    return head, int(name[len(head):] or 0)


def _celsius(path):
    """Whole degrees Celsius of a millidegree sysfs file; None when it gives no reading."""
    try:
        with open(path, encoding="ascii") as f:
            return round(int(f.read().strip()) / 1000)
    except (OSError, ValueError):
        return None


def max_tcp_window(ctx):
    """The largest receive window Linux advertises: the maximum TCP receive buffer
    (tcp_rmem's third field) with window scaling, else the unscaled 65535."""
    if not system._int("/proc/sys/net/ipv4/tcp_window_scaling", 1):
        return "65535"
    fields = system._read("/proc/sys/net/ipv4/tcp_rmem").split()
    return fields[2] if len(fields) == 3 and fields[2].isdigit() else "65535"


def tcp_implementation(ctx):
    """Linux recovers from loss as New Reno (RFC 6582) whatever the congestion control;
    Vegas where its module is available."""
    available = system._read("/proc/sys/net/ipv4/tcp_available_congestion_control").split()
    return "New Reno,Vegas" if "vegas" in available else "New Reno"


# ------------------------------------------------------------------ UserInterface

def http_protocols(ctx, package="uhttpd"):
    """HTTP and/or HTTPS, as the web server's (uhttpd's) sections listen for them."""
    listening = set()
    for name, _ in ctx.uci.sections(package, "uhttpd"):
        for option, protocol in (("listen_http", "HTTP"), ("listen_https", "HTTPS")):
            if ctx.uci.get(package, name, option):
                listening.add(protocol)
    return ",".join(p for p in ("HTTP", "HTTPS") if p in listening)


# ------------------------------------------------------------------ UPnP

def igd_version(ctx, igdv1):
    """The IGD version miniupnpd offers: 1 with ``igdv1``, else 2 (its default)."""
    return "1" if system._true(system._uci(ctx, igdv1)) else "2"


# ------------------------------------------------------------------ DynamicDNS

class DdnsClients:
    """``DynamicDNS.Client.{i}.``: the ``service`` sections of ddns-scripts (``ddns``).

    Status comes from what ddns-scripts leaves in its run directory
    (``<ddns_rundir>/<section>.update``, the time of the last successful update); the
    Interface is the IP interface whose UCI name is the section's ``interface``.
    """

    OPTIONS = {"Enable": "enabled", "Username": "username", "Password": "password"}

    def __init__(self, ctx, package="ddns"):
        self.ctx = ctx
        self.package = package
        self.sections = UciTable({"uci": package, "type": "service"})

    def instances(self, keys):
        return self.sections.instances(self.ctx, None, keys)

    def get(self, keys, relname):
        section = keys[-1]
        uci = self.ctx.uci
        if relname == "Enable":
            return "1" if system._true(uci.get(self.package, section, "enabled", "0")) else "0"
        if relname in self.OPTIONS:
            return uci.get(self.package, section, self.OPTIONS[relname], "")
        if relname == "Status":
            if self.get(keys, "Enable") != "1":
                return "Disabled"
            return "Updated" if ddns_last_update(self.ctx, self.package, section) else "Connecting"
        if relname == "Interface":
            interface = uci.get(self.package, section, "interface", "")
            return self.ctx.refs.path(IP_INTERFACE, interface) if interface else ""
        return ""

    def set(self, keys, relname, value):
        section = keys[-1]
        if relname in self.OPTIONS:
            self.ctx.uci.set(self.package, section, self.OPTIONS[relname], value)
        elif relname == "Interface":
            interface = self.ctx.refs.key(value) if value else ""
            if interface is None or value and not value.startswith(IP_INTERFACE):
                raise ValueError(f"Interface {value!r}: one {IP_INTERFACE} instance")
            self.ctx.uci.set(self.package, section, "interface", interface)
        else:
            raise OSError(f"{relname} cannot be written")

    def add(self, keys):
        section = self.sections.add(self.ctx, None, keys, None)
        self.ctx.uci.set(self.package, section, "enabled", "0")
        return section

    def delete(self, keys, key):
        self.sections.delete(self.ctx, None, keys, key)


def ddns_services(ctx, directories):
    """The providers ddns-scripts knows: the ``name`` of each service definition
    (``/usr/share/ddns/default/*.json``, and the operator's ``custom/`` ones), sorted;
    as many as TR-181's 1024 characters hold."""
    names = set()
    for directory in directories:
        for entry in _listdir(directory):
            if entry.endswith(".json"):
                try:
                    with open(os.path.join(directory, entry), encoding="utf-8") as f:
                        name = json.load(f).get("name")
                except (OSError, ValueError, AttributeError):
                    continue
                if isinstance(name, str) and name and "," not in name:
                    names.add(name)
    listed = ""
    for name in sorted(names):
        if len(listed) + len(name) + 1 > 1024:
            break
        listed = f"{listed},{name}" if listed else name
    return listed

def ddns_last_update(ctx, package, section):
    """The POSIX time ddns-scripts last updated a service, or 0."""
    rundir = ctx.uci.get(package, "global", "ddns_rundir", "/var/run/ddns")
    try:
        return int(system._read(os.path.join(rundir, f"{section}.update"), "0") or 0)
    except ValueError:
        return 0


class DdnsHostnames:
    """``DynamicDNS.Client.{i}.Hostname.{i}.``: the one host name (``domain``) a
    ddns-scripts service keeps up to date; key ``domain``. It cannot be deleted from its
    service, nor a second one added."""

    def __init__(self, ctx, package="ddns"):
        self.ctx = ctx
        self.package = package

    def instances(self, keys):
        return ["domain"] if self.ctx.uci.section_type(self.package, keys[-1]) else []

    def get(self, keys, relname):
        section = keys[-2]
        if relname == "Name":
            return self.ctx.uci.get(self.package, section, "domain", "")
        if relname in ("Status", "LastUpdate"):
            enabled = system._true(self.ctx.uci.get(self.package, section, "enabled", "0"))
            last = ddns_last_update(self.ctx, self.package, section)
            if relname == "LastUpdate":
                return format_datetime(last or None)
            return "Disabled" if not enabled else "Registered" if last else "UpdateNeeded"
        return ""

    def set(self, keys, relname, value):
        if relname != "Name":
            raise OSError(f"{relname} cannot be written")
        self.ctx.uci.set(self.package, keys[-2], "domain", value)

    def add(self, keys):
        raise _single_instance_refused("a ddns-scripts service updates one host name")

    def delete(self, keys, key):
        raise CwmpFault(9001, "Request denied: a ddns-scripts service needs its host name")


# ------------------------------------------------------------------ GatewayInfo

def gateway_info(ctx, field):
    """A field of the gateway's identity from DHCP option 125 (ManufacturerOUI,
    ProductClass, SerialNumber), as the DHCP hook last wrote it into the state directory;
    read at each call, since the hook is another process."""
    try:
        with open(os.path.join(ctx.store.directory, GATEWAY_FILE), encoding="utf-8") as f:
            value = json.load(f).get(field, "")
    except (OSError, ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""
