"""UDP connection requests (TR-069 Annex G) and the socket they share with STUN.

Behind a NAT the ACS reaches the CPE with one HTTP-over-UDP datagram sent to the public
address STUN learnt (UDPConnectionRequestAddress):

    GET http://host:port?ts=1120673700&id=1234&un=CPE57689&cn=XTGRWIPC6D3&sig=3545F7... HTTP/1.1

``sig`` is HMAC-SHA1 keyed with ConnectionRequestPassword over ts, id, un and cn
concatenated, in hex. UDP has no answer and no handshake, so a datagram is accepted only
when it proves the credentials and is not a replay: its ``id`` differs from the last
accepted one (the ACS sends each message several times, with the same id) and its ``ts`` is
not older than the last accepted one. Everything else is dropped without a word (logged at
DEBUG): answering would turn the CPE into a reflector. The last accepted ``(ts, id)`` is
persisted, so a captured datagram cannot be replayed after a restart either.

The same socket carries the STUN Binding traffic that keeps the NAT binding open (the
binding must be the one the connection requests come through): datagrams are told apart
by their first bytes (STUN: first two bits zero and the magic cookie; requests: "GET ").
"""

import asyncio
import hmac
import logging
import socket
import time
from urllib.parse import unquote, urlsplit

from . import stun
from .admission import Admission, no_throttle
from .sockets import listening_socket

log = logging.getLogger("icwmpy.cr")

MAX_DATAGRAM = 2048  # a connection request is a request line and a Host header
UDP_CR_ADDRESS = "Device.ManagementServer.UDPConnectionRequestAddress"
NAT_DETECTED = "Device.ManagementServer.NATDetected"
_FIELDS = ("ts", "id", "un", "cn", "sig")


def signature(password, ts, request_id, username, cnonce):
    """The ``sig`` of a UDP connection request (lower-case hex)."""
    text = f"{ts}{request_id}{username}{cnonce}".encode()
    return hmac.new(password.encode("utf-8"), text, "sha1").hexdigest()


def _query(datagram):
    """The ts/id/un/cn/sig fields of an HTTP-over-UDP GET, or a reason it has none."""
    if len(datagram) > MAX_DATAGRAM:
        return None, "datagram too large"
    line = datagram.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        method, target, version = line.decode("ascii").split(" ")
    except (UnicodeDecodeError, ValueError):
        return None, "not an HTTP request line"
    if method != "GET" or not version.startswith("HTTP/1."):
        return None, "not an HTTP GET"
    fields = {}
    for pair in urlsplit(target).query.split("&"):
        key, _, value = pair.partition("=")
        if key in fields:
            return None, f"repeated {key!r}"
        fields[key] = unquote(value)
    missing = [f for f in _FIELDS if f not in fields]
    if missing:
        return None, f"missing {', '.join(missing)}"
    if not fields["ts"].isdigit() or not fields["ts"].isascii():
        return None, "ts is not a number of seconds"
    return fields, ""


class UdpCrValidator:
    """Decides whether a datagram is a connection request to act on; no I/O.

    ``credentials()`` gives the live (ConnectionRequestUsername, ConnectionRequestPassword);
    an empty username refuses everything. ``clock`` is monotonic seconds, for ``throttle()``
    (minimum seconds between accepted requests, 0 = none) and ``rate`` (at most so many in
    a period, as for HTTP). ``memory`` (a store namespace) keeps the last accepted
    ``(ts, id)`` across restarts; None keeps it in memory only.
    """

    def __init__(self, credentials, clock=time.monotonic, *, throttle=no_throttle,
                 rate=None, memory=None):
        self._credentials = credentials
        self._clock = clock
        self._admission = Admission(throttle, rate)
        self._memory = memory
        self._last = tuple(memory.get("last", ())) if memory is not None else ()

    def check(self, datagram):
        """``(True, "accepted")`` for a request to act on, else ``(False, reason)``."""
        fields, reason = _query(datagram)
        if fields is None:
            return False, reason
        username, password = self._credentials()
        if not username:
            return False, "no ConnectionRequestUsername configured"
        expected = signature(password, fields["ts"], fields["id"], fields["un"], fields["cn"])
        # Both comparisons always run: "&", not "and".
        if not (_same(fields["un"], username) & _same(fields["sig"].lower(), expected)):
            return False, "wrong username or signature"
        ts = int(fields["ts"])
        if self._last:
            if ts < self._last[0]:
                return False, f"ts {ts} older than the last accepted {self._last[0]}"
            if fields["id"] == self._last[1]:
                return False, "id already accepted (retransmission or replay)"
        self._last = (ts, fields["id"])
        if self._memory is not None:
            self._memory.set("last", list(self._last))
        refusal = self._admission.refusal(self._clock())
        return (False, refusal) if refusal else (True, "accepted")


def _same(a, b):
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class UdpCrServer(asyncio.DatagramProtocol):
    """The UDP socket: connection requests go to ``validator`` and fire ``on_request``;
    STUN datagrams go to ``stun_handler(data, addr)`` when one is set.

    On a dual-stack socket IPv4 peers are IPv4-mapped IPv6 addresses; both directions
    translate, so that STUN (IPv4, TR-069 Annex G) sees plain IPv4 ones.
    """

    def __init__(self, validator, on_request):
        self._validator = validator
        self._on_request = on_request
        self.stun_handler = None
        self.port = None
        self._transport = None
        self._mapped = False  # IPv4 peers are ::ffff:a.b.c.d

    async def start(self, host=None, port=7547, *, version=None, device=None):
        """Listen as :func:`~icwmpy.cr.sockets.listening_socket` says (default: every
        address, IPv6 and IPv4)."""
        sock = listening_socket(socket.SOCK_DGRAM, port, host=host, version=version,
                                device=device)
        await asyncio.get_running_loop().create_datagram_endpoint(lambda: self, sock=sock)
        self._mapped = sock.family == socket.AF_INET6
        address, self.port = sock.getsockname()[:2]
        log.info("UDP connection request listener on %s port %d%s", address, self.port,
                 f" (interface {device})" if device else "")

    def connection_made(self, transport):
        self._transport = transport

    def sendto(self, data, addr):
        if self._transport is not None:
            if self._mapped and ":" not in addr[0]:
                addr = ("::ffff:" + addr[0], addr[1])
            self._transport.sendto(data, addr)

    def datagram_received(self, data, addr):
        if addr[0].startswith("::ffff:") and "." in addr[0]:
            addr = (addr[0][len("::ffff:"):], addr[1])
        try:
            if stun.is_stun(data):
                if self.stun_handler is not None:
                    self.stun_handler(data, addr)
                return
            ok, reason = self._validator.check(data)
        except Exception:  # e.g. a credentials callable that failed: drop, keep serving
            log.exception("UDP datagram from %s: cannot decide", addr)
            return
        if not ok:
            log.debug("UDP connection request from %s ignored: %s", addr, reason)
            return
        log.info("UDP connection request from %s accepted", addr)
        try:
            self._on_request()
        except Exception:
            log.exception("connection request callback failed")

    def error_received(self, exc):
        log.debug("UDP connection request socket: %s", exc)

    def close(self):
        if self._transport is not None:
            self._transport.close()
            self._transport = None


class UdpService:
    """An Agent's UDP connection requests and STUN keep-alives (see ``start``)."""

    def __init__(self, server, task):
        self.server = server
        self._task = task

    @property
    def port(self):
        return self.server.port

    async def close(self):
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self.server.close()


async def start(agent, port, host, *, version=None, device=None):
    """Listen for ``agent``'s UDP connection requests on ``port`` and run STUN from it.

    ``host`` is the CPE's own address (the ConnectionRequestURL host): with the port, what
    UDPConnectionRequestAddress says until STUN learns the public binding. ``version`` and
    ``device`` are the HTTP listener's (IP version, interface). Returns a
    UdpService, or None when the port cannot be bound (HTTP connection requests still work).
    Call right before ``agent.run()``: the STUN task uses ``agent.run_model``.
    """
    uci, model = agent.uci, agent.model
    validator = UdpCrValidator(
        lambda: (uci.get("cwmp", "cpe", "userid", "") or "",
                 uci.get("cwmp", "cpe", "passwd", "") or ""),
        throttle=lambda: agent.settings.cpe.cr_throttle, memory=agent.store["udp_cr"])
    server = UdpCrServer(validator, lambda: agent.trigger("6 CONNECTION REQUEST"))
    try:
        await server.start(port=port, version=version, device=device)
    except OSError as e:
        log.error("no UDP connection requests: cannot bind UDP port %d: %s", port, e)
        return None
    local = f"[{host}]:{server.port}" if ":" in host else f"{host}:{server.port}"
    previous = model.read(UDP_CR_ADDRESS) or None
    model.write(UDP_CR_ADDRESS, local)
    model.write(NAT_DETECTED, "0")

    async def publish(address, nat):
        await agent.run_model(model.write, UDP_CR_ADDRESS, address)
        await agent.run_model(model.write, NAT_DETECTED, "1" if nat else "0")

    client = stun.StunClient(
        server.sendto, lambda: agent.settings.stun,
        lambda: urlsplit(agent.settings.acs.url).hostname or "", publish,
        local_port=server.port, local_address=local, previous=previous)
    server.stun_handler = client.datagram_received
    return UdpService(server, asyncio.get_running_loop().create_task(client.run()))
