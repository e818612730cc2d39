"""What every diagnostic test shares: its request, its outcome, names, sockets and times.

A test module has ``async def run(request) -> Outcome``; the runner reads the request from
the data model and persists the outcome. Values are TR-069 strings both ways.
"""

import asyncio
import datetime
import socket
from dataclasses import dataclass, field

from icwmpy.faults import CwmpFault

FAMILIES = {"IPv4": socket.AF_INET, "IPv6": socket.AF_INET6, "Any": socket.AF_UNSPEC}


@dataclass
class Request:
    """The test's parameters (``params``: name -> value as the data model reads it) and
    ``device``: the Linux interface its Interface parameter names (None: routing decides)."""
    params: dict
    device: str | None = None

    def __getitem__(self, name):
        return self.params.get(name, "")

    def int(self, name):
        return int(self.params.get(name) or 0)

    def flag(self, name):
        return self.params.get(name) in ("1", "true")

    @property
    def family(self):
        return FAMILIES.get(self.params.get("ProtocolVersion") or "Any", socket.AF_UNSPEC)


@dataclass
class Outcome:
    """``state``: the DiagnosticsState the test ends in; ``results``: its result parameters;
    ``tables``: rows (dicts) of its result tables (RouteHops, Result, ...)."""
    state: str
    results: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)


class Unresolved(Exception):
    """A host name that gives no address of the family asked for."""


async def resolve(host, family=socket.AF_UNSPEC):
    """(family, address) of ``host`` (a name or a literal), IPv4 first for Any as ping
    does; Unresolved when it has none."""
    host = (host or "").strip().strip("[]")
    if not host:
        raise Unresolved("no host")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, family=family,
                                                             type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as e:
        raise Unresolved(str(e)) from None
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    return infos[0][0], infos[0][4][0]


def prepare(sock, family, device=None, dscp=0):
    """Bind ``sock`` to ``device`` (SO_BINDTODEVICE) and mark its packets with ``dscp``
    (IP_TOS / IPV6_TCLASS: the DSCP is the field's upper six bits)."""
    if device:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device.encode())
    if dscp:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, dscp << 2)
        else:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, dscp << 2)


def utc_micro(timestamp):
    """A TR-143 time: UTC with microseconds (2008-04-09T15:01:05.123456Z)."""
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rtt_stats(rtts, scale):
    """(average, minimum, maximum) of round trip times in seconds as whole ``scale`` units
    (1000: ms, 1000000: µs); zeros when there were none, as TR-181 says."""
    if not rtts:
        return "0", "0", "0"
    values = [r * scale for r in rtts]
    return tuple(str(round(v)) for v in (sum(values) / len(values), min(values), max(values)))


class BadInterface(Exception):
    """The Interface parameter names no IP interface (any more)."""


def read_request(model, path):
    """(model worker) The parameters directly under ``path`` as the data model reads them
    (defaults included), and the Linux device its Interface names."""
    params = {name[len(path):]: value for name, value, _ in model.get_values(path)
              if "." not in name[len(path):]}
    interface = params.get("Interface", "").rstrip(".")
    if not interface:
        return Request(params)
    try:
        return Request(params, model.read(interface + ".Name"))
    except CwmpFault:
        raise BadInterface(interface) from None
