"""Host backends: TR-181 values read from procfs, sysfs, netlink and /etc.

Everything here works the same on Debian and on OpenWrt (busybox, musl): it reads
kernel interfaces rather than spawning tools, so a full ``get Device.`` stays fast, and a
missing file or an unsupported call reads as a sensible empty value instead of failing.

Functions are ``python`` parameter backends, called as ``fn(ctx, **args)`` (setters as
``fn(ctx, value, **args)``). Classes are table handlers (``"_table": {"python": ...}``):
``instances(keys)`` lists the instance keys and takes a snapshot of what their
parameters need, ``get(keys, relname)`` answers from that snapshot, so one listing costs
one read of the source however many parameters are asked. Each CPE has its own handler
objects, made with its ``ctx``, so snapshots never mix devices.
"""

import array
import datetime
import fcntl
import os
import socket
import struct
import time

from icwmpy.model.types import format_datetime

SYS_NET = "/sys/class/net"
IFF_UP, IFF_LOOPBACK = 0x1, 0x8
ARPHRD_ETHER = 1
TUNNEL_TYPES = {768, 769, 776, 778, 823, 65534}   # ipip, ip6tnl, sit, gre, ip6gre, tun/wg
TIME_ERROR = 5                                     # adjtimex(): clock not synchronized
TMPFS = {"tmpfs", "ramfs"}


# ------------------------------------------------------------------ small readers

def _read(path, default=""):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return default


def _int(path, default=0):
    try:
        return int(_read(path), 0)
    except ValueError:
        return default


def _uci(ctx, ref, default=""):
    """The value of a ``package.section.option`` reference (lists joined by commas)."""
    package, section_option = ref.split(".", 1)
    section, _, option = section_option.rpartition(".")
    value = ctx.uci.get(package, section, option, default)
    return ",".join(value) if isinstance(value, list) else value


def _set_uci(ctx, ref, value):
    package, section_option = ref.split(".", 1)
    section, _, option = section_option.rpartition(".")
    ctx.uci.set(package, section, option, value)


def _true(value):
    return str(value).strip().lower() in ("1", "true", "on", "yes", "enable", "enabled")


def _counter(value, bits):
    """A kernel counter as a TR-181 StatsCounter32/64: wraps, and never reads as maxval."""
    maxval = (1 << bits) - 1
    value %= maxval + 1
    return str(maxval - 1 if value == maxval else value)


# ------------------------------------------------------------------ plain values

def env(ctx, name):
    return os.environ.get(name, "")


def kernel_release(ctx):
    return os.uname().release


def machine(ctx):
    return os.uname().machine


def mac_oui(ctx):
    """The OUI of the first physical interface with a globally administered MAC."""
    for name in _interfaces(ethernet=True):
        mac = _read(f"{SYS_NET}/{name}/address").replace(":", "").upper()
        if len(mac) == 12 and not int(mac[:2], 16) & 0x02 and mac != "0" * 12:
            return mac[:6]
    return ""


def cpu_usage(ctx, interval=0.05):
    """Percentage of non-idle CPU time over a short sampling window."""
    def sample():
        fields = [int(v) for v in _read("/proc/stat").splitlines()[0].split()[1:]]
        return sum(fields), fields[3] + (fields[4] if len(fields) > 4 else 0)
    try:
        total1, idle1 = sample()
        time.sleep(interval)
        total2, idle2 = sample()
    except (IndexError, ValueError):
        return "0"
    busy = (total2 - total1) - (idle2 - idle1)
    return str(round(100 * busy / (total2 - total1))) if total2 > total1 else "0"


def local_time(ctx):
    """Current local time with its UTC offset, as TR-181 CurrentLocalTime wants."""
    now = datetime.datetime.now().astimezone().replace(microsecond=0)
    return now.isoformat()


def clock_synchronized(ctx):
    """'1' when the kernel says an NTP client keeps the clock synchronized (adjtimex)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        timex = ctypes.create_string_buffer(512)   # struct timex, modes = 0: query only
        state = libc.adjtimex(timex)
    except (ImportError, OSError, AttributeError):
        return "0"
    return "1" if 0 <= state != TIME_ERROR else "0"


def time_status(ctx, enable):
    """Time.Status from the NTP enable option and the kernel's synchronisation state."""
    if not _true(_uci(ctx, enable, "1")):
        return "Disabled"
    return "Synchronized" if clock_synchronized(ctx) == "1" else "Unsynchronized"


def uci_datetime(ctx, option):
    """A UCI dateTime option; icwmp writes '0' or nothing for "no time"."""
    value = _uci(ctx, option).strip()
    return format_datetime(None) if value in ("", "0") else value


def set_uci(ctx, value, option):
    _set_uci(ctx, option, value)


def acs_url(ctx, url, dhcp_url, dhcp_discovery):
    """The ACS URL as icwmp reads it: the DHCP-discovered one wins when discovery is on."""
    if _true(_uci(ctx, dhcp_discovery)) and _uci(ctx, dhcp_url):
        return _uci(ctx, dhcp_url)
    return _uci(ctx, url)


def set_acs_url(ctx, value, url, dhcp_url, dhcp_discovery):
    """An ACS-set URL turns DHCP discovery off, else the next lease would override it."""
    _set_uci(ctx, url, value)
    if _true(_uci(ctx, dhcp_discovery)):
        _set_uci(ctx, dhcp_discovery, "0")


def alias_based_addressing(ctx, option):
    """Alias-based addressing is a TR-069 Amendment 4 feature: offered from amd_version 4 on,
    as the RPC layer does (icwmp's getter says > 4 while its alias handling starts at 4)."""
    try:
        return "1" if int(_uci(ctx, option, "5") or 5) >= 4 else "0"
    except ValueError:
        return "0"


def lwn_protocols(ctx, option):
    return "UDP" if _true(_uci(ctx, option)) else ""


def set_lwn_protocols(ctx, value, option):
    _set_uci(ctx, option, "1" if "UDP" in value.split(",") else "0")


IPV6_SWITCHES = ("/proc/sys/net/ipv6/conf/all/disable_ipv6",
                 "/proc/sys/net/ipv6/conf/default/disable_ipv6")


def ipv6_capable(ctx):
    return "1" if os.path.isdir("/proc/sys/net/ipv6") else "0"


def ipv6_enabled(ctx):
    return "0" if _int(IPV6_SWITCHES[0], 1) else "1"


def set_ipv6_enabled(ctx, value):
    """The kernel-wide switch: existing interfaces (all) and those created later (default)."""
    for path in IPV6_SWITCHES:
        _write(path, "0" if value == "1" else "1")


def ipv6_status(ctx):
    return "Enabled" if ipv6_enabled(ctx) == "1" else "Disabled"


# ------------------------------------------------------------------ network helpers

def _interfaces(ethernet=False):
    """Interface names by index; ``ethernet`` keeps physical ARPHRD_ETHER ones only."""
    try:
        names = os.listdir(SYS_NET)
    except OSError:
        return []
    if ethernet:
        names = [n for n in names if _int(f"{SYS_NET}/{n}/type", -1) == ARPHRD_ETHER
                 and os.path.exists(f"{SYS_NET}/{n}/device")]
    return sorted(names, key=lambda n: (_int(f"{SYS_NET}/{n}/ifindex", 1 << 30), n))


def _default_route_interfaces():
    ifaces = set()
    for line in _read("/proc/net/route").splitlines()[1:]:
        fields = line.split()
        if len(fields) > 2 and fields[1] == "00000000":
            ifaces.add(fields[0])
    return ifaces


def _ethtool(name, update=None):
    """Read (and with ``update`` a dict, change) link settings via SIOCETHTOOL.

    Returns {"speed", "duplex", "autoneg"} or None where the driver has no ethtool support.
    """
    fmt = "=IIIHBBBBBBIIHBBI2I"
    sioc_ethtool, gset, sset = 0x8946, 1, 2
    buf = array.array("B", struct.pack(fmt, gset, *([0] * 17)))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sP", name.encode()[:15], buf.buffer_info()[0]).ljust(40, b"\0")
        try:
            fcntl.ioctl(s.fileno(), sioc_ethtool, ifreq)
        except OSError:
            if update:
                raise
            return None
        fields = list(struct.unpack(fmt, buf.tobytes()))
        settings = {"speed": fields[3] | fields[12] << 16, "duplex": fields[4], "autoneg": fields[8]}
        if update:
            settings.update(update)
            fields[0], fields[3], fields[12] = sset, settings["speed"] & 0xFFFF, settings["speed"] >> 16
            fields[4], fields[8] = settings["duplex"], settings["autoneg"]
            buf[:] = array.array("B", struct.pack(fmt, *fields))
            fcntl.ioctl(s.fileno(), sioc_ethtool, ifreq)
    return settings


def _write(path, value):
    with open(path, "w", encoding="utf-8") as f:
        f.write(value)


# ------------------------------------------------------------------ interface tables

STATS = {  # relname -> (file in statistics/, counter bits)
    "Stats.BytesSent": ("tx_bytes", 64), "Stats.BytesReceived": ("rx_bytes", 64),
    "Stats.PacketsSent": ("tx_packets", 64), "Stats.PacketsReceived": ("rx_packets", 64),
    "Stats.ErrorsSent": ("tx_errors", 32), "Stats.ErrorsReceived": ("rx_errors", 32),
    "Stats.DiscardPacketsSent": ("tx_dropped", 32), "Stats.DiscardPacketsReceived": ("rx_dropped", 32),
    "Stats.MulticastPacketsReceived": ("multicast", 64),
    "Stats.UnknownProtoPacketsReceived": ("rx_nohandler", 32),
    "Stats.Collisions": ("collisions", 64),
}
OPERSTATE = {"up": "Up", "down": "Down", "dormant": "Dormant", "notpresent": "NotPresent",
             "lowerlayerdown": "LowerLayerDown", "testing": "Unknown"}


class NetInterfaces:
    """``Device.Ethernet.Interface.{i}.`` (``ethernet``: physical ones) or ``Device.IP.Interface.{i}.``.

    Keys are kernel interface names. Enable, MaxMTUSize and IPv6Enable write the kernel
    (sysfs flags and mtu, the ipv6 ``disable_ipv6`` switch); MaxBitRate and DuplexMode
    change the link settings through the ethtool ioctl.
    """

    def __init__(self, ctx, ethernet=False):
        self.ethernet = ethernet

    def instances(self, keys):
        return _interfaces(self.ethernet)

    def get(self, keys, relname):
        name = keys[-1]
        base = f"{SYS_NET}/{name}"
        if relname in STATS:
            file, bits = STATS[relname]
            return _counter(_int(f"{base}/statistics/{file}"), bits)
        if relname == "Stats.Reset":
            return "0"
        flags = _int(f"{base}/flags")
        if relname == "Enable":
            return "1" if flags & IFF_UP else "0"
        if relname == "Status":
            return self._status(base, flags)
        if relname == "Name":
            return name
        if relname == "MACAddress":
            return _read(f"{base}/address")
        if relname == "CurrentBitRate":
            return str(max(_int(f"{base}/speed"), 0))
        if relname in ("MaxBitRate", "DuplexMode"):
            link = _ethtool(name)
            auto = link is None or link["autoneg"] or link["speed"] in (0, 0xFFFF, 0xFFFFFFFF)
            if relname == "MaxBitRate":
                return "-1" if auto else str(link["speed"])
            return "Auto" if auto else ("Full" if link["duplex"] == 1 else "Half")
        if relname == "Upstream":
            return "1" if name in _default_route_interfaces() else "0"
        if relname == "Type":
            if flags & IFF_LOOPBACK:
                return "Loopback"
            return "Tunnel" if _int(f"{base}/type") in TUNNEL_TYPES else "Normal"
        if relname == "MaxMTUSize":
            return str(min(max(_int(f"{base}/mtu"), 64), 65535))
        if relname == "IPv4Enable":
            return "1"   # Linux has no per-interface IPv4 switch: IPv4 is always on
        if relname == "IPv6Enable":
            return "0" if _int(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6", 1) else "1"
        return ""

    @staticmethod
    def _status(base, flags):
        if not flags & IFF_UP:
            return "Down"
        state = _read(f"{base}/operstate", "unknown")
        if state == "unknown":  # loopback and many virtual interfaces report no operstate
            return "Up" if _int(f"{base}/carrier") == 1 else "Down"
        return OPERSTATE.get(state, "Unknown")

    def set(self, keys, relname, value):
        name = keys[-1]
        base = f"{SYS_NET}/{name}"
        if relname == "Enable":
            flags = _int(f"{base}/flags")
            _write(f"{base}/flags", hex(flags | IFF_UP if value == "1" else flags & ~IFF_UP))
        elif relname == "MaxMTUSize":
            _write(f"{base}/mtu", value)
        elif relname == "IPv6Enable":
            _write(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6", "0" if value == "1" else "1")
        elif relname == "MaxBitRate":
            speed = int(value)
            _ethtool(name, {"autoneg": 1} if speed < 0 else {"autoneg": 0, "speed": speed})
        elif relname == "DuplexMode":
            _ethtool(name, {"autoneg": 1} if value == "Auto"
                     else {"autoneg": 0, "duplex": 1 if value == "Full" else 0})
        else:
            raise OSError(f"{relname} cannot be written")


class Addresses:
    """``IP.Interface.{i}.IPv4Address.{i}.`` / ``IPv6Address.{i}.``: the kernel's addresses.

    Keys are ``address/prefixlen``; one netlink dump per listing, remembered per interface
    because the engine lists every interface's addresses before it reads any of them.
    """

    IFA_F_DADFAILED, IFA_F_DEPRECATED, IFA_F_TENTATIVE = 0x08, 0x20, 0x40
    IFA_F_OPTIMISTIC, IFA_F_PERMANENT = 0x04, 0x80

    def __init__(self, ctx, family=4):
        self.family = family
        self.snapshot = {}

    def instances(self, keys):
        from icwmpy.backends.linux import kernel_addresses   # here: linux imports this module
        try:
            found = [a for a in kernel_addresses(self.family) if a["dev"] == keys[-1]]
        except OSError:
            found = []
        listed = {f"{a['address']}/{a['plen']}": (a["address"], a["plen"], a["flags"])
                  for a in found}
        self.snapshot[keys[-1]] = listed
        return list(listed)

    def get(self, keys, relname):
        addr, plen, flags = self.snapshot.get(keys[-2], {}).get(keys[-1]) or self._parse(keys[-1])
        if relname == "Enable":
            return "1"
        if relname == "Status":
            return "Error_Misconfigured" if flags & self.IFA_F_DADFAILED else "Enabled"
        if relname == "IPAddress":
            return addr
        if relname == "SubnetMask":
            return socket.inet_ntoa(struct.pack("!I", (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF))
        if relname == "AddressingType":
            return "Static" if flags & self.IFA_F_PERMANENT else "DHCP"
        if relname == "IPAddressStatus":
            for bit, word in ((self.IFA_F_DADFAILED, "Duplicate"), (self.IFA_F_TENTATIVE, "Tentative"),
                              (self.IFA_F_DEPRECATED, "Deprecated"), (self.IFA_F_OPTIMISTIC, "Optimistic")):
                if flags & bit:
                    return word
            return "Preferred"
        if relname == "Origin":
            if addr == "::1":
                return "WellKnown"
            if addr.lower().startswith("fe80:") or not flags & self.IFA_F_PERMANENT:
                return "AutoConfigured"
            return "Static"
        return ""

    @staticmethod
    def _parse(key):
        addr, _, plen = key.rpartition("/")
        return addr, int(plen), Addresses.IFA_F_PERMANENT


class DnsServers:
    """``DNS.Client.Server.{i}.``: nameservers of the first resolver file that exists.

    OpenWrt keeps the upstream servers learnt by netifd in resolv.conf.auto (its
    /etc/resolv.conf points at the local dnsmasq); Debian has them in /etc/resolv.conf.
    Servers of an ``.auto`` file were learnt from the network, the others are static.
    """

    def __init__(self, ctx, files):
        self.files = files
        self.source = ""

    def instances(self, keys):
        for path in self.files:
            if os.path.exists(path):
                self.source = path
                servers = []
                for line in _read(path).splitlines():
                    fields = line.split()
                    if len(fields) >= 2 and fields[0] == "nameserver" and fields[1] not in servers:
                        servers.append(fields[1])
                return servers
        return []

    def get(self, keys, relname):
        server = keys[-1]
        if relname == "Enable":
            return "1"
        if relname == "Status":
            return "Enabled"
        if relname == "DNSServer":
            return server.split("%")[0]
        if relname == "Type":
            if not self.source.endswith(".auto"):
                return "Static"
            return "DHCPv6" if ":" in server else "DHCPv4"
        return ""


class Users:
    """``Users.User.{i}.``: a read-only view of the accounts in the passwd file."""

    def __init__(self, ctx, passwd="/etc/passwd"):
        self.passwd = passwd
        self.snapshot = {}

    def instances(self, keys):
        self.snapshot = {}
        for line in _read(self.passwd).splitlines():
            fields = line.split(":")
            if len(fields) >= 7 and fields[0] and fields[0] not in self.snapshot:
                self.snapshot[fields[0]] = fields
        return list(self.snapshot)

    def get(self, keys, relname):
        fields = self.snapshot.get(keys[-1])
        if fields is None:
            return ""
        if relname == "Username":
            return fields[0]
        if relname == "UserID":
            return fields[2]
        if relname == "Enable":  # an account whose shell refuses logins is disabled
            shell = os.path.basename(fields[6].strip())
            return "0" if shell in ("nologin", "false", "") else "1"
        if relname == "StaticUser":
            return "1"
        return ""


# ------------------------------------------------------------------ DeviceInfo tables

class VendorConfigFiles:
    """``DeviceInfo.VendorConfigFile.{i}.``: one entry per UCI package of the config dir."""

    def __init__(self, ctx):
        self.uci = ctx.uci

    def instances(self, keys):
        return self.uci.packages()

    def get(self, keys, relname):
        package = keys[-1]
        if relname == "Name":
            return package
        if relname == "Date":
            try:
                return format_datetime(os.stat(self.uci.path(package)).st_mtime)
            except OSError:
                return format_datetime(None)
        if relname == "Description":
            return f"UCI configuration package {package}"
        if relname == "UseForBackupRestore":
            return "0"
        return ""


def _mount_type(path):
    """File system type of the mount holding ``path`` (longest mount point prefix)."""
    best, kind = "", ""
    for line in _read("/proc/mounts").splitlines():
        fields = line.split()
        if len(fields) > 2 and (path == fields[1] or path.startswith(fields[1].rstrip("/") + "/")) \
                and len(fields[1]) > len(best):
            best, kind = fields[1], fields[2]
    return kind


class VendorLogFiles:
    """``DeviceInfo.VendorLogFile.{i}.``: the system log files present, and icwmpd's own log."""

    def __init__(self, ctx, files, own_log, own_max_size):
        self.ctx = ctx
        self.files = files
        self.own_log = own_log
        self.own_max_size = own_max_size

    def instances(self, keys):
        own = _uci(self.ctx, self.own_log)
        paths = self.files + ([own] if own and own not in self.files else [])
        return [p for p in paths if os.path.isfile(p)]

    def get(self, keys, relname):
        path = keys[-1]
        if relname == "Name":
            return path[-64:]
        if relname == "MaximumSize":
            return _uci(self.ctx, self.own_max_size, "0") if path == _uci(self.ctx, self.own_log) else "0"
        if relname == "Persistent":
            return "0" if _mount_type(os.path.realpath(path)) in TMPFS else "1"
        return ""


PROCESS_STATES = {"R": "Running", "S": "Sleeping", "D": "Uninterruptible", "T": "Stopped",
                  "t": "Stopped", "Z": "Zombie", "X": "Zombie", "I": "Idle"}


class Processes:
    """``DeviceInfo.ProcessStatus.Process.{i}.``: /proc/<pid>, one snapshot per listing."""

    def __init__(self, ctx):
        self.snapshot = {}
        self.ticks = os.sysconf("SC_CLK_TCK")

    def instances(self, keys):
        pids = sorted(int(d) for d in os.listdir("/proc") if d.isdigit())
        self.snapshot = {}
        for pid in pids:
            info = self._read(pid)
            if info is not None:
                self.snapshot[str(pid)] = info
        return list(self.snapshot)

    def _read(self, pid):
        stat = _read(f"/proc/{pid}/stat")
        comm_end = stat.rfind(")")
        rest = stat[comm_end + 2:].split()
        if comm_end < 0 or len(rest) < 21:
            return None
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                # arguments joined by single spaces: one line, whatever the arguments hold
                cmdline = " ".join(f.read().decode("utf-8", "replace").replace("\0", " ").split())
        except OSError:
            cmdline = ""
        ticks = int(rest[11]) + int(rest[12])
        return {
            "PID": str(pid),
            "Command": (cmdline or "[" + stat[stat.find("(") + 1:comm_end] + "]")[:256],
            "Size": str(int(rest[20]) // 1024),
            "Priority": str(min(max(int(rest[15]), 0), 99)),
            "CPUTime": str(ticks * 1000 // self.ticks),
            "State": PROCESS_STATES.get(rest[0], "Sleeping"),
        }

    def get(self, keys, relname):
        info = self.snapshot.get(keys[-1]) or self._read(int(keys[-1])) or {}
        return info.get(relname, "")
