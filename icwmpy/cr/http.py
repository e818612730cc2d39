"""HTTP connection request listener (TR-069 section 3.2.2).

The ACS asks the CPE to open a session by sending an authenticated HTTP GET to the
ConnectionRequestURL. The listener answers that GET and nothing more: the session itself
is run elsewhere (``Route.on_request`` only schedules it). One server can carry many
routes (one per simulated CPE in fleet mode), each with its own credentials and throttle.

The port faces the network, so the listener assumes every client is hostile: it bounds
header read time and request size, the number of connections and of outstanding nonces,
compares secrets in constant time, refuses replays, and never lets an exception escape.
"""

import asyncio
import base64
import binascii
import hmac
import logging
import re
import secrets
import socket
import time
from dataclasses import dataclass, field
from collections.abc import Callable
from urllib.parse import urlsplit

from .. import digest
from .admission import Admission, no_throttle
from .nonces import NonceStore, Verdict
from .sockets import first_free

log = logging.getLogger("icwmpy.cr")

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_NC = re.compile(r"[0-9a-fA-F]{8}\Z")
_DIGITS = re.compile(r"[0-9]+\Z")
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
# After refusing a request we read and drop what the client still sends before closing:
# closing a socket with unread input makes the kernel reset the connection, and a reset
# can destroy our answer before the client reads it. Bounded so nobody can hold us.
_DISCARD_BYTES = 65536
_DISCARD_SECONDS = 1.0


def _never():
    return False


@dataclass(eq=False)
class Route:
    """One connection request target: whose credentials, and what to do when it fires.

    The callables are read on every request, so a SetParameterValues that changes the
    credentials, the Basic policy or the throttle takes effect on the very next request.
    ``on_request`` runs on the event loop after the answer is sent; it must only schedule
    work (a session), never block.
    """

    credentials: Callable[[], tuple[str, str]]
    on_request: Callable[[], None]
    allow_basic: Callable[[], bool] = _never
    throttle: Callable[[], float] = no_throttle  # minimum seconds between triggers, 0 = none
    admission: Admission = field(init=False, repr=False)

    def __post_init__(self):
        self.admission = Admission(self.throttle)


class _Refused(Exception):
    """A request we answer with ``status`` before it was fully read."""

    def __init__(self, status):
        super().__init__(status)
        self.status = status


@dataclass
class _Request:
    method: str
    target: str  # as sent: the Digest "uri" must repeat it exactly
    path: str  # for route matching: no query, no scheme/authority
    headers: dict[str, list[str]]
    body_length: int

    def header(self, name):
        """The single value of header ``name`` or None; a repeated header is malformed."""
        values = self.headers.get(name, [])
        if len(values) > 1:
            raise _Refused(400)
        return values[0] if values else None


def _parse_head(head):
    """Parse the request line and header fields (``head`` ends with the blank line)."""
    request_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
    parts = request_line.split(" ")
    if len(parts) != 3:
        raise _Refused(400)
    method, target, version = parts
    if not _TOKEN.match(method) or version not in ("HTTP/1.0", "HTTP/1.1") \
            or not target or _CONTROL.search(target) or "\t" in target:
        raise _Refused(400)
    if target.startswith("/"):
        path = target.partition("?")[0]
    else:  # absolute-form, which servers must accept (RFC 9112 3.2.2)
        url = urlsplit(target)
        if url.scheme.lower() not in ("http", "https") or not url.netloc:
            raise _Refused(400)
        path = url.path or "/"
    headers = {}
    for line in lines:
        name, colon, value = line.partition(":")
        # A name that does not parse includes obsolete line folding (leading whitespace).
        if not colon or not _TOKEN.match(name) or _CONTROL.search(value):
            raise _Refused(400)
        headers.setdefault(name.lower(), []).append(value.strip(" \t"))
    if "transfer-encoding" in headers:  # a connection request has no body to stream
        raise _Refused(400)
    lengths = set(headers.get("content-length", ["0"]))
    if len(lengths) != 1 or not _DIGITS.match(next(iter(lengths))):
        raise _Refused(400)
    return _Request(method, target, path, headers, int(lengths.pop()))


def _same(a, b):
    """Constant-time string equality (so timing does not reveal how much matched)."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _check_basic(token, username, password):
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user, colon, pw = decoded.partition(":")
    # Both comparisons always run: "&", not "and".
    return bool(colon) & _same(user, username) & _same(pw, password)


def _response_bytes(status, headers):
    lines = [f"HTTP/1.1 {status} {_REASONS[status]}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines += ["Content-Length: 0", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


class CrServer:
    """The asyncio HTTP server answering connection requests for a set of routes.

    ``host`` "::" (or "") listens on every address of IP ``version`` (4, 6, None = both),
    only on interface ``device`` when given; another ``host`` on that address alone. When
    ``port`` is taken, the next of ``port_tries`` ports is used (``port`` then says which).
    """

    def __init__(self, host="::", port=7547, *, version=None, device=None, port_tries=1,
                 header_timeout=10.0, max_request=8192, realm="icwmpy", nonce_ttl=300.0,
                 max_connections=32, max_nonces=256):
        if not realm or _CONTROL.search(realm) or '"' in realm or "\\" in realm:
            raise ValueError(f"unusable Digest realm {realm!r}")
        self.host = host
        self.port = port  # the bound port once started (useful with port 0)
        self._where = {"host": None if host in ("", "::") else host, "version": version,
                       "device": device or None}
        self._port_tries = port_tries
        self._header_timeout = header_timeout
        self._max_request = max_request
        self._realm = realm
        self._max_connections = max_connections
        self._nonces = NonceStore(nonce_ttl, max_nonces)
        self._opaque = secrets.token_hex(16)
        self._routes = {}
        self._server = None
        self._connections = {}  # handler task -> its transport

    def add_route(self, path, route):
        """Serve ``route`` at exactly ``path`` (the query string is not part of the match)."""
        if not path.startswith("/") or "?" in path:
            raise ValueError(f"route path must be an absolute path without query: {path!r}")
        if path in self._routes:
            raise ValueError(f"route {path!r} already exists")
        self._routes[path] = route

    def remove_route(self, path):
        """Stop serving ``path``; nothing happens if it is not served."""
        self._routes.pop(path, None)

    async def start(self):
        sock = first_free(socket.SOCK_STREAM, self.port, self._port_tries, **self._where)
        self._server = await asyncio.start_server(self._handle, limit=self._max_request, sock=sock)
        address, self.port = sock.getsockname()[:2]
        device = self._where["device"]
        log.info("connection request listener on %s port %d%s", address, self.port,
                 f" (interface {device})" if device else "")

    async def close(self):
        """Stop listening and cut every connection still open."""
        if self._server is None:
            return
        self._server.close()
        # Aborting ends every pending read, so the handlers finish on their own; cancelling
        # them instead makes asyncio 3.11's stream callback log a spurious error.
        for transport in self._connections.values():
            transport.abort()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _handle(self, reader, writer):
        peer = writer.get_extra_info("peername")
        transport = writer.transport
        if len(self._connections) >= self._max_connections:
            log.warning("connection request from %s dropped: too many connections", peer)
            transport.abort()
            return
        task = asyncio.current_task()
        self._connections[task] = transport
        try:
            await self._exchange(reader, writer, peer)
        except Exception:
            log.exception("connection request from %s: handler failed", peer)
        finally:
            del self._connections[task]
            if transport.get_write_buffer_size():  # a client that does not read: drop it
                transport.abort()
            else:
                transport.close()

    async def _exchange(self, reader, writer, peer):
        """Read one request, answer it, fire its route if accepted."""
        linger = True
        try:
            async with asyncio.timeout(self._header_timeout):
                request = await self._read_head(reader)
        except TimeoutError:
            log.info("connection request from %s: header timeout", peer)
            return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        except _Refused as refused:
            status, headers, route = refused.status, [], None
        else:
            linger = request.body_length > 0
            try:
                status, headers, route = self._decide(request)
            except _Refused as refused:
                status, headers, route = refused.status, [], None
            except Exception:  # e.g. a credentials callable that failed: fail closed
                log.exception("connection request from %s: cannot decide", peer)
                status, headers, route = 500, [], None
            log.debug("connection request from %s: %s %s -> %d",
                      peer, request.method, request.path, status)
        if route is not None:
            log.info("connection request from %s accepted", peer)
            # Runs only once this task yields, i.e. after the answer below is on the wire.
            asyncio.get_running_loop().call_soon(self._fire, route)
        writer.write(_response_bytes(status, headers))
        if linger:
            writer.write_eof()
            await self._discard(reader)

    async def _read_head(self, reader):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise _Refused(431) from None
        request = _parse_head(head)
        if len(head) + request.body_length > self._max_request:
            raise _Refused(413)
        return request

    @staticmethod
    async def _discard(reader):
        """Drop what the client still sends (a body, the rest of a refused request)."""
        received = 0
        try:
            async with asyncio.timeout(_DISCARD_SECONDS):
                while received < _DISCARD_BYTES:
                    chunk = await reader.read(4096)
                    if not chunk:
                        return
                    received += len(chunk)
        except (TimeoutError, ConnectionError):
            pass

    def _decide(self, request):
        """Status, extra headers and the route to fire (or None) for a parsed request."""
        if request.method != "GET":
            return 405, [("Allow", "GET")], None
        route = self._routes.get(request.path)
        if route is None:
            return 404, [], None
        challenge = self._authenticate(request, route)
        if challenge is not None:
            return 401, challenge, None
        # Refused with a bare 503: TR-069 3.2.2 says no Retry-After for this reason.
        if route.admission.refusal(time.monotonic()):
            return 503, [], None
        return 200, [], route

    def _authenticate(self, request, route):
        """None when the request proves the route's credentials, else 401 challenge headers.

        An empty configured username can never authenticate (fail closed).
        """
        header = request.header("authorization")
        username, password = route.credentials()
        basic = route.allow_basic()
        stale = False
        if header and username:
            scheme, _, rest = header.strip().partition(" ")
            scheme = scheme.lower()
            if scheme == "digest":
                verdict = self._check_digest(request, header, username, password)
                if verdict is Verdict.OK:
                    return None
                stale = verdict is Verdict.STALE
                if verdict is Verdict.REPLAY:
                    log.warning("connection request: replayed Digest nonce count refused")
            elif scheme == "basic" and basic and _check_basic(rest, username, password):
                return None
        challenge = (f'Digest realm="{self._realm}", qop="auth", nonce="{self._nonces.issue()}", '
                     f'opaque="{self._opaque}", algorithm=MD5')
        headers = [("WWW-Authenticate", challenge + (", stale=true" if stale else ""))]
        if basic:
            headers.append(("WWW-Authenticate", f'Basic realm="{self._realm}"'))
        return headers

    def _check_digest(self, request, header, username, password):
        """The nonce verdict for a correct Digest answer, None for anything else."""
        _, p = digest.parse_params(header)
        required = ("username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce")
        if any(name not in p for name in required):
            return None
        algorithm = p.get("algorithm", "MD5")
        if p["qop"] != "auth" or not _NC.match(p["nc"]) or not digest.supported(algorithm) \
                or p["uri"] != request.target or not _same(p["realm"], self._realm) \
                or not _same(p.get("opaque", self._opaque), self._opaque):
            return None
        expected = digest.response(
            username=username, password=password, realm=self._realm, method=request.method,
            uri=p["uri"], nonce=p["nonce"], nc=p["nc"], cnonce=p["cnonce"], qop="auth",
            algorithm=algorithm)
        # Both comparisons always run, so timing does not tell a wrong user from a wrong password.
        if not _same(p["username"], username) & _same(p["response"].lower(), expected):
            return None
        return self._nonces.use(p["nonce"], int(p["nc"], 16))

    @staticmethod
    def _fire(route):
        try:
            route.on_request()
        except Exception:
            log.exception("connection request callback failed")
