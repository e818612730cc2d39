"""A scriptable test ACS: the server side of CWMP sessions, on 127.0.0.1, for tests and sandboxes.

It behaves like the ACSes that make CPE agents fail in the field, GenieACS first: a session
cookie required on every POST after the Inform, a Digest nonce bound to the TCP connection,
an empty-body probe without credentials answered 400. Tests queue ACS requests, run the
agent, then inspect what the CPE sent:

    acs = Acs(auth="digest", username="cpe", password="secret")
    await acs.start()
    acs.queue(get_parameter_values("Device.DeviceInfo."))
    ...                                     # the agent informs acs.url
    session = await acs.wait_session(1)
    assert session.events == [("1 BOOT", "")]
    method, parsed, raw = session.messages[1]   # the GetParameterValuesResponse
    await acs.stop()

Also runnable by hand: ``python tests/acs.py --help``. The module is self-contained (it parses
and writes the few SOAP shapes it needs with defusedxml/ElementTree) so that it tests the
project's SOAP codec instead of sharing its bugs.
"""

import argparse
import asyncio
import base64
import gzip
import http
import os
import ssl
import sys
import zlib
import xml.etree.ElementTree as ET
from typing import NamedTuple
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET

try:
    from icwmpy import digest
except ImportError:  # run as a script from a checkout without the package installed
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from icwmpy import digest

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
CWMP_NS = "urn:dslforum-org:cwmp-1-0"
COOKIE_NAME = "icwmpy_acs_session"
REALM = "icwmpy-test-acs"
MAX_REQUEST_BODY = 16 * 1024 * 1024
# Request Content-Encodings the ACS decodes (HTTP's "deflate" is the zlib format).
DECODERS = {"gzip": gzip.decompress, "deflate": zlib.decompress}


# ---------------------------------------------------------------- HTTP/1.1 server


class Connection:
    """One accepted TCP connection; ``nonce`` and ``session`` are the ACS's bookkeeping."""

    def __init__(self, number, peer):
        self.number = number
        self.peer = peer
        self.requests = 0
        self.nonce = None
        self.session = None


class Request(NamedTuple):
    method: str
    target: str
    headers: dict          # lower-case names, last value
    body: bytes
    connection: Connection


class Response(NamedTuple):
    status: int = 200
    body: bytes = b""
    headers: tuple = ()    # (name, value) pairs
    close: bool = False
    padding: int = 0       # bytes of whitespace streamed after ``body`` (a huge answer)


class HttpServer:
    """A small asyncio HTTP/1.1 server with keep-alive, TLS and ``Expect: 100-continue``.

    ``handler(request)`` is a coroutine returning a ``Response``, or None to drop the
    connection without answering. ``connections`` and ``requests`` record everything.
    ``tls`` is ``(certfile, keyfile)`` or ``(certfile, keyfile, client_ca)``; with a client
    CA the server requires a client certificate signed by it.
    """

    def __init__(self, handler, *, tls=None, host="127.0.0.1", port=0):
        self._handler = handler
        self._tls = tls
        self.host = host
        self.port = port
        self.connections = []
        self.requests = []
        self._server = None
        self._tasks = set()

    @property
    def url(self):
        scheme = "https" if self._tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}/"

    async def start(self):
        context = None
        if self._tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self._tls[0], self._tls[1])
            if len(self._tls) > 2:
                context.load_verify_locations(self._tls[2])
                context.verify_mode = ssl.CERT_REQUIRED
        self._server = await asyncio.start_server(self._serve, self.host, self.port, ssl=context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self):
        if self._server is None:
            return
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.wait_for(self._server.wait_closed(), 5)
        self._server = None

    async def _serve(self, reader, writer):
        task = asyncio.current_task()
        self._tasks.add(task)
        connection = Connection(len(self.connections) + 1, writer.get_extra_info("peername"))
        self.connections.append(connection)
        try:
            while True:
                request = await _read_request(reader, writer, connection)
                if request is None:
                    return
                connection.requests += 1
                self.requests.append(request)
                response = await self._handler(request)
                if response is None:
                    writer.transport.abort()
                    return
                writer.write(_render(response))
                await writer.drain()
                await _pad(writer, response.padding)
                if response.close or request.headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ssl.SSLError, ValueError):  # gone, or not HTTP we can parse: hang up
            return
        except asyncio.CancelledError:  # stop(): end quietly (asyncio logs a cancelled handler)
            return
        finally:
            self._tasks.discard(task)
            writer.close()


async def _read_request(reader, writer, connection):
    """Read one request; None at a clean end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("iso-8859-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    else:
        length = int(headers.get("content-length", "0"))
        if length > MAX_REQUEST_BODY:
            raise ConnectionError("request body too large")
        body = await reader.readexactly(length)
    return Request(method, target, headers, body, connection)


async def _read_chunked(reader):
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await _skip_trailers(reader)
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
        if sum(map(len, parts)) > MAX_REQUEST_BODY:
            raise ConnectionError("request body too large")


async def _skip_trailers(reader):
    while (await reader.readuntil(b"\r\n")) != b"\r\n":
        pass


def _render(response):
    reason = http.HTTPStatus(response.status).phrase
    lines = [f"HTTP/1.1 {response.status} {reason}"]
    lines += [f"{name}: {value}" for name, value in response.headers]
    if response.status != 204:
        lines.append(f"Content-Length: {len(response.body) + response.padding}")
    if response.close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("iso-8859-1") + response.body


async def _pad(writer, size, chunk=b" " * 65536):
    """Stream ``size`` bytes of whitespace, never holding more than a chunk of it."""
    while size > 0:
        writer.write(chunk[:size])
        size -= len(chunk)
        await writer.drain()


# ---------------------------------------------------------------- SOAP: parsing CPE messages


class Envelope(NamedTuple):
    """What the ACS needs from a SOAP envelope; ``body`` is ``simple()`` of the method element."""

    ns: str                 # the cwmp namespace the sender used
    id: str
    hold_requests: bool
    method: str             # "Inform", "GetParameterValuesResponse", "Fault", ...
    body: object


def parse_envelope(raw):
    """Parse a SOAP envelope (bytes) with defusedxml; ValueError if it is not one."""
    try:
        root = SafeET.fromstring(raw)
    except ET.ParseError as error:
        raise ValueError(f"not XML: {error}") from None
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise ValueError(f"not a SOAP envelope: {root.tag}")
    ns, cwmp_id, hold = "", "", False
    header = root.find(f"{{{SOAP_ENV}}}Header")
    for element in header if header is not None else ():
        uri, name = _split(element.tag)
        ns = ns or uri
        if name == "ID":
            cwmp_id = (element.text or "").strip()
        elif name == "HoldRequests":
            hold = (element.text or "").strip().lower() in ("1", "true")
    body = root.find(f"{{{SOAP_ENV}}}Body")
    if body is None or len(body) == 0:
        raise ValueError("SOAP envelope without a body element")
    uri, method = _split(body[0].tag)
    if uri != SOAP_ENV:
        ns = ns or uri
    return Envelope(ns, cwmp_id, hold, method, simple(body[0]))


def simple(element):
    """A plain view of an element: text for a leaf, a list for a SOAP array (``arrayType``
    attribute, or several children all of one name), else a dict by local name (a list
    where a name repeats)."""
    children = list(element)
    if not children:
        return element.text or ""
    names = [_split(child.tag)[1] for child in children]
    is_array = any(_split(attr)[1] == "arrayType" for attr in element.attrib)
    if is_array or (len(children) > 1 and len(set(names)) == 1):
        return [simple(child) for child in children]
    grouped = {}
    for name, child in zip(names, children, strict=True):
        grouped.setdefault(name, []).append(simple(child))
    return {name: values[0] if len(values) == 1 else values for name, values in grouped.items()}


def _split(tag):
    if tag.startswith("{"):
        uri, _, name = tag[1:].partition("}")
        return uri, name
    return "", tag


# ---------------------------------------------------------------- SOAP: ACS messages


def envelope(method, inner_xml="", *, cwmp_id=None, ns=CWMP_NS, hold_requests=None):
    """A SOAP envelope around ``<cwmp:method>inner_xml</cwmp:method>`` (inner_xml is trusted)."""
    cwmp_id = cwmp_id or f"acs-{os.urandom(4).hex()}"
    hold = ""
    if hold_requests is not None:
        hold = (f'<cwmp:HoldRequests soap:mustUnderstand="1">{int(bool(hold_requests))}'
                f"</cwmp:HoldRequests>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:soap-enc="{SOAP_ENC}" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:cwmp="{ns}">'
        f'<soap:Header><cwmp:ID soap:mustUnderstand="1">{escape(cwmp_id)}</cwmp:ID>{hold}'
        f"</soap:Header><soap:Body><cwmp:{method}>{inner_xml}</cwmp:{method}></soap:Body>"
        "</soap:Envelope>"
    ).encode()


def inform(events=(("1 BOOT", ""),), parameters=(), *, oui="001122", serial="TEST0001",
           retry_count=0, **kw):
    """A CPE Inform, for tests that play the CPE by hand (``events``: (code, key) pairs)."""
    device = "".join(_leaf(n, v) for n, v in (("Manufacturer", "icwmpy"), ("OUI", oui),
                                              ("ProductClass", "test"), ("SerialNumber", serial)))
    event_items = [f"<EventStruct>{_leaf('EventCode', c)}{_leaf('CommandKey', k)}</EventStruct>"
                   for c, k in events]
    param_items = [f"<ParameterValueStruct>{_leaf('Name', n)}"
                   f'<Value xsi:type="xsd:string">{escape(str(v))}</Value></ParameterValueStruct>'
                   for n, v in parameters]
    return envelope("Inform", f"<DeviceId>{device}</DeviceId>"
                    + _array("Event", "cwmp:EventStruct", event_items)
                    + _leaf("MaxEnvelopes", 1) + _leaf("CurrentTime", "2024-01-01T00:00:00Z")
                    + _leaf("RetryCount", retry_count)
                    + _array("ParameterList", "cwmp:ParameterValueStruct", param_items), **kw)


def _leaf(name, value):
    return f"<{name}>{escape(str(value))}</{name}>"


def _array(name, item_type, items):
    return f'<{name} soap-enc:arrayType="{item_type}[{len(items)}]">{"".join(items)}</{name}>'


def _bool(value):
    return "1" if value else "0"


def get_rpc_methods(**kw):
    return envelope("GetRPCMethods", **kw)


def get_parameter_values(*names, **kw):
    items = [_leaf("string", n) for n in names]
    return envelope("GetParameterValues", _array("ParameterNames", "xsd:string", items), **kw)


def get_parameter_names(path, next_level=False, **kw):
    return envelope("GetParameterNames",
                    _leaf("ParameterPath", path) + _leaf("NextLevel", _bool(next_level)), **kw)


def set_parameter_values(values, key="", **kw):
    """``values``: (name, value) or (name, value, xsd_type) tuples; the type defaults to string."""
    items = []
    for name, value, *xsd in values:
        xsd_type = xsd[0] if xsd else "xsd:string"
        items.append(f"<ParameterValueStruct>{_leaf('Name', name)}"
                     f'<Value xsi:type="{xsd_type}">{escape(str(value))}</Value>'
                     "</ParameterValueStruct>")
    return envelope("SetParameterValues",
                    _array("ParameterList", "cwmp:ParameterValueStruct", items)
                    + _leaf("ParameterKey", key), **kw)


def get_parameter_attributes(*names, **kw):
    items = [_leaf("string", n) for n in names]
    return envelope("GetParameterAttributes",
                    _array("ParameterNames", "xsd:string", items), **kw)


def set_parameter_attributes(attributes, **kw):
    """``attributes``: (name, notification or None, access_list or None) tuples."""
    items = []
    for name, notification, access in attributes:
        items.append(
            "<SetParameterAttributesStruct>" + _leaf("Name", name)
            + _leaf("NotificationChange", _bool(notification is not None))
            + _leaf("Notification", notification or 0)
            + _leaf("AccessListChange", _bool(access is not None))
            + _array("AccessList", "xsd:string", [_leaf("string", a) for a in access or ()])
            + "</SetParameterAttributesStruct>")
    return envelope("SetParameterAttributes",
                    _array("ParameterList", "cwmp:SetParameterAttributesStruct", items), **kw)


def add_object(path, key="", **kw):
    return envelope("AddObject", _leaf("ObjectName", path) + _leaf("ParameterKey", key), **kw)


def delete_object(path, key="", **kw):
    return envelope("DeleteObject", _leaf("ObjectName", path) + _leaf("ParameterKey", key), **kw)


def reboot(key="", **kw):
    return envelope("Reboot", _leaf("CommandKey", key), **kw)


def factory_reset(**kw):
    return envelope("FactoryReset", **kw)


def schedule_inform(delay, key="", **kw):
    return envelope("ScheduleInform", _leaf("DelaySeconds", delay) + _leaf("CommandKey", key),
                    **kw)


def download(url, file_type="1 Firmware Upgrade Image", key="", *, username="", password="",
             file_size=0, target="", delay=0, success_url="", failure_url="", **kw):
    fields = [("CommandKey", key), ("FileType", file_type), ("URL", url),
              ("Username", username), ("Password", password), ("FileSize", file_size),
              ("TargetFileName", target), ("DelaySeconds", delay),
              ("SuccessURL", success_url), ("FailureURL", failure_url)]
    return envelope("Download", "".join(_leaf(n, v) for n, v in fields), **kw)


def upload(url, file_type="1 Vendor Configuration File", key="", *, username="", password="",
           delay=0, **kw):
    fields = [("CommandKey", key), ("FileType", file_type), ("URL", url),
              ("Username", username), ("Password", password), ("DelaySeconds", delay)]
    return envelope("Upload", "".join(_leaf(n, v) for n, v in fields), **kw)


def get_all_queued_transfers(**kw):
    return envelope("GetAllQueuedTransfers", **kw)


def cancel_transfer(key, **kw):
    return envelope("CancelTransfer", _leaf("CommandKey", key), **kw)


ACS_METHODS = ("Inform", "GetRPCMethods", "TransferComplete", "AutonomousTransferComplete",
               "DUStateChangeComplete", "AutonomousDUStateChangeComplete", "RequestDownload",
               "Kicked")


class Padded(NamedTuple):
    """A queued ACS request (bytes or callable) sent as a ``size``-byte body: ``request``
    followed by whitespace (still well-formed XML), streamed so that a 100 MB answer costs
    the ACS no memory."""
    request: object
    size: int


def _answer_cpe_request(request):
    """The ACS's answer to a CPE request (an ``Envelope``) other than Inform."""
    method, ns = request.method, request.ns
    if method == "GetRPCMethods":
        inner = _array("MethodList", "xsd:string", [_leaf("string", m) for m in ACS_METHODS])
    elif method == "Kicked":
        inner = _leaf("NextURL", request.body.get("Next", "") if isinstance(request.body, dict)
                      else "")
    elif method in ACS_METHODS:
        inner = ""
    else:
        return envelope_fault(8000, f"Method not supported: {method}", request.id, ns)
    return envelope(f"{method}Response", inner, cwmp_id=request.id, ns=ns)


def envelope_fault(code, message, cwmp_id, ns=CWMP_NS):
    """A SOAP Fault carrying a cwmp:Fault (the ACS fault codes are 8000-8005)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:cwmp="{ns}">'
        f'<soap:Header><cwmp:ID soap:mustUnderstand="1">{escape(cwmp_id)}</cwmp:ID>'
        "</soap:Header><soap:Body><soap:Fault><faultcode>Server</faultcode>"
        "<faultstring>CWMP fault</faultstring><detail><cwmp:Fault>"
        f"{_leaf('FaultCode', code)}{_leaf('FaultString', message)}"
        "</cwmp:Fault></detail></soap:Fault></soap:Body></soap:Envelope>"
    ).encode()


# ---------------------------------------------------------------- the ACS


class Message(NamedTuple):
    """A message the CPE sent: ``parsed`` is ``simple()`` of its body element."""

    method: str
    parsed: object
    raw: bytes

    @property
    def id(self):
        return parse_envelope(self.raw).id


class Session:
    """One CWMP session: from the CPE's Inform to the ACS's final empty answer (``ended``)."""

    def __init__(self, number, cookie, first, raw):
        self.number = number
        self.cookie = cookie
        self.ns = first.ns
        self.messages = [Message(first.method, first.body, raw)]
        self.sent = []          # raw ACS requests sent in this session, in order
        self.connections = set()  # numbers of the TCP connections it used
        self.empty_posts = 0
        self.ended = False

    @property
    def inform(self):
        return self.messages[0].parsed

    @property
    def events(self):
        """[(event code, command key)] of the Inform."""
        return [(e.get("EventCode", ""), e.get("CommandKey", ""))
                for e in _as_list(self.inform.get("Event"))]

    @property
    def parameters(self):
        """{name: value} of the Inform's ParameterList."""
        return {p.get("Name"): p.get("Value", "")
                for p in _as_list(self.inform.get("ParameterList"))}

    @property
    def methods(self):
        return [m.method for m in self.messages]

    @property
    def serial(self):
        """The informing CPE's DeviceId SerialNumber (a fleet's CPEs differ by it)."""
        device = self.inform.get("DeviceId")
        return device.get("SerialNumber", "") if isinstance(device, dict) else ""


def _as_list(value):
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, dict) else []


class Acs:
    """The scriptable ACS; see the module docstring. All state is inspectable attributes.

    ``auth``: None, "basic" or "digest". ``tls``: as for ``HttpServer``. ``require_cookie``:
    POSTs after the Inform without the session cookie get 400. ``nonce_per_connection``:
    a Digest nonce is only valid on the connection it was issued on (else one nonce for
    all). ``reject_empty_probe``: an empty POST without Authorization gets 400 (GenieACS).
    ``hold_requests``: None (no header) or the HoldRequests value of the InformResponse.
    ``decode_requests``: compressed request bodies (Content-Encoding gzip, deflate) are
    decoded; when false, each gets 415 Unsupported Media Type.
    """

    def __init__(self, auth=None, username="", password="", *, tls=None, require_cookie=True,
                 nonce_per_connection=True, reject_empty_probe=True, hold_requests=None,
                 digest_algorithm="MD5", path="/acs", port=0, decode_requests=True):
        if auth not in (None, "basic", "digest"):
            raise ValueError(f"auth must be None, 'basic' or 'digest', not {auth!r}")
        self.auth = auth
        self.username = username
        self.password = password
        self.require_cookie = require_cookie
        self.nonce_per_connection = nonce_per_connection
        self.reject_empty_probe = reject_empty_probe
        self.hold_requests = hold_requests
        self.digest_algorithm = digest_algorithm
        self.decode_requests = decode_requests
        self.path = path
        self.server = HttpServer(self._handle, tls=tls, port=port)
        self.sessions = []
        self.rejected = []      # (status, reason, request) of every error answer
        self._queue = []
        self._queues = {}       # serial number -> the requests for that CPE only
        self._log = []          # (session, message) in arrival order
        self._taken = set()     # indexes of _log already returned by wait_message
        self._waiters = []
        self._drops = 0
        self._stalls = []
        self._failures = []
        self._redirect = None   # [target, status, remaining]
        self._nonces = set()    # valid nonces when not nonce_per_connection
        self._last_nc = {}      # nonce -> highest nc accepted

    # -- lifecycle and inspection

    async def start(self):
        await self.server.start()

    async def stop(self):
        await self.server.stop()

    @property
    def url(self):
        return self.server.url.rstrip("/") + self.path

    @property
    def requests(self):
        """Every HTTP request received (``Request`` tuples), including rejected ones."""
        return self.server.requests

    @property
    def connections(self):
        return self.server.connections

    # -- scripting

    def queue(self, *requests):
        """Queue ACS requests: bytes, callables ``(session) -> bytes`` built when sent, or
        ``Padded`` bytes."""
        self._queue.extend(requests)

    def queue_for(self, serial, *requests):
        """Queue ACS requests for the CPE whose DeviceId SerialNumber is ``serial`` only
        (asked before the shared queue)."""
        self._queues.setdefault(serial, []).extend(requests)

    def fail_next_posts(self, n, status=500):
        self._failures.extend([status] * n)

    def redirect_to(self, target, status=307, count=1):
        """Answer the next ``count`` requests with a redirect to ``target`` (path or URL)."""
        self._redirect = [target, status, count]

    def drop_connection_next(self, n=1):
        """Close the connection on the next ``n`` requests without answering."""
        self._drops += n

    def stall_next(self, seconds, n=1):
        """Hold the answer to the next ``n`` requests for ``seconds`` (a slow ACS, or a
        window in which to kill the CPE while it waits)."""
        self._stalls += [seconds] * n

    def expire_nonces(self):
        """Make every Digest nonce stale (the next use gets ``401 stale=true``)."""
        self._nonces.clear()
        for connection in self.connections:
            connection.nonce = None

    async def wait_session(self, n=1, timeout=5):
        """Wait until the ``n``-th session (1-based) has ended; return it."""
        def ended():
            if len(self.sessions) >= n and self.sessions[n - 1].ended:
                return self.sessions[n - 1]
            return None
        return await self._wait(ended, timeout, f"session {n} to end")

    async def wait_message(self, method=None, timeout=5):
        """Wait for a CPE message (of ``method``, or any) not yet returned by this method.

        Returns ``(session, Message)``."""
        def arrived():
            for index, (session, message) in enumerate(self._log):
                if index not in self._taken and method in (None, message.method):
                    self._taken.add(index)
                    return session, message
            return None
        return await self._wait(arrived, timeout, f"a {method or 'CPE'} message")

    async def _wait(self, predicate, timeout, what):
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                while (result := predicate()) is None:
                    waiter = loop.create_future()
                    self._waiters.append(waiter)
                    await waiter
        except TimeoutError:
            seen = [s.methods for s in self.sessions]
            raise TimeoutError(f"timed out waiting for {what}; sessions so far: {seen}") from None
        return result

    def _changed(self):
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- the server side of the protocol

    async def _handle(self, request):
        if self._stalls:
            await asyncio.sleep(self._stalls.pop(0))
        injected = self._inject(request)
        if injected is not False:
            return injected
        denied = self._authenticate(request)
        if denied:
            return denied
        if request.method != "POST":
            return self._reject(request, 405, "only POST is served")
        request = self._decoded(request)
        if isinstance(request, Response):
            return request
        message = None
        if request.body:
            try:
                message = parse_envelope(request.body)
            except ValueError as error:
                return self._reject(request, 400, str(error))
        if message is not None and message.method == "Inform":
            return self._start_session(request, message)
        session = self._session_of(request)
        if session is None:
            return self._reject(request, 400, "POST outside a session (no session cookie)")
        session.connections.add(request.connection.number)
        if message is None:
            session.empty_posts += 1
            return self._next_request(session)
        self._record(session, Message(message.method, message.body, request.body))
        if message.method.endswith("Response") or message.method == "Fault":
            return self._next_request(session)
        return _xml(_answer_cpe_request(message))

    def _inject(self, request):
        """The scripted failure for this request, None to drop it, False if none is due."""
        if self._drops:
            self._drops -= 1
            return None
        if self._failures:
            return self._reject(request, self._failures.pop(0), "scripted failure")
        if self._redirect and self._redirect[2] > 0:
            self._redirect[2] -= 1
            target, status, _ = self._redirect
            return Response(status, headers=(("Location", target),))
        return False

    def _decoded(self, request):
        """``request`` with its body decoded (see ``decode_requests``), or the 415 answer."""
        encoding = request.headers.get("content-encoding", "identity").lower()
        if encoding == "identity":
            return request
        if not self.decode_requests or encoding not in DECODERS:
            return self._reject(request, 415, f"Content-Encoding {encoding} not accepted")
        try:
            return request._replace(body=DECODERS[encoding](request.body))
        except (OSError, EOFError, zlib.error) as error:
            return self._reject(request, 400, f"undecodable {encoding} body: {error}")

    def _start_session(self, request, message):
        cookie = os.urandom(8).hex()
        session = Session(len(self.sessions) + 1, cookie, message, request.body)
        session.connections.add(request.connection.number)
        request.connection.session = session
        self.sessions.append(session)
        self._log.append((session, session.messages[0]))
        self._changed()
        body = envelope("InformResponse", _leaf("MaxEnvelopes", 1), cwmp_id=message.id,
                        ns=message.ns, hold_requests=self.hold_requests)
        return _xml(body, (("Set-Cookie", f"{COOKIE_NAME}={cookie}; Path=/"),))

    def _session_of(self, request):
        cookies = dict(part.strip().partition("=")[::2]
                       for part in request.headers.get("cookie", "").split(";") if "=" in part)
        for session in self.sessions:
            if session.cookie == cookies.get(COOKIE_NAME):
                return session
        return None if self.require_cookie else request.connection.session

    def _record(self, session, message):
        session.messages.append(message)
        self._log.append((session, message))
        self._changed()

    def _next_request(self, session):
        queue = self._queues.get(session.serial) or self._queue
        if not queue:
            session.ended = True
            self._changed()
            return Response(204)
        item = queue.pop(0)
        size = 0
        if isinstance(item, Padded):
            item, size = item
        body = item(session) if callable(item) else item
        session.sent.append(body)
        return _xml(body)._replace(padding=max(0, size - len(body)))

    def _reject(self, request, status, reason, headers=()):
        self.rejected.append((status, reason, request))
        return Response(status, reason.encode(), headers)

    # -- authentication

    def _authenticate(self, request):
        """None when the request may pass, else the 400/401 answer."""
        header = request.headers.get("authorization", "")
        if self.auth is None:
            return None
        if self.auth == "basic":
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            if header == f"Basic {token}":
                return None
            return self._reject(request, 401, "basic credentials missing or wrong",
                                (("WWW-Authenticate", f'Basic realm="{REALM}"'),))
        if not header and not request.body and self.reject_empty_probe:
            return self._reject(request, 400, "empty body without credentials")
        scheme, params = digest.parse_params(header) if header else ("", {})
        if scheme != "digest" or not self._digest_valid(params, request):
            return self._challenge(request, stale=False)
        nonce, nc = params["nonce"], int(params.get("nc", "0"), 16)
        if not self._nonce_valid(nonce, request.connection) or nc <= self._last_nc.get(nonce, 0):
            return self._challenge(request, stale=True)
        self._last_nc[nonce] = nc
        return None

    def _nonce_valid(self, nonce, connection):
        if self.nonce_per_connection:
            return nonce == connection.nonce
        return nonce in self._nonces

    def _issue_nonce(self, connection):
        """A fresh nonce for every challenge: valid only on this connection (GenieACS),
        else anywhere."""
        if self.nonce_per_connection:
            connection.nonce = os.urandom(12).hex()
            return connection.nonce
        nonce = os.urandom(12).hex()
        self._nonces.add(nonce)
        return nonce

    def _digest_valid(self, params, request):
        try:
            expected = digest.response(
                username=self.username, password=self.password, realm=REALM, method="POST",
                uri=request.target, nonce=params["nonce"], nc=params.get("nc"),
                cnonce=params.get("cnonce"), qop=params.get("qop"),
                algorithm=params.get("algorithm", "MD5"))
        except (KeyError, ValueError):
            return False
        return (params.get("username") == self.username and params.get("realm") == REALM
                and params.get("uri") == request.target and params.get("response") == expected
                and params.get("qop") == "auth")

    def _challenge(self, request, stale):
        nonce = self._issue_nonce(request.connection)
        value = (f'Digest realm="{REALM}", qop="auth", nonce="{nonce}", '
                 f'opaque="{os.urandom(4).hex()}", algorithm={self.digest_algorithm}')
        if stale:
            value += ", stale=true"
        return self._reject(request, 401, "digest challenge", (("WWW-Authenticate", value),))


def _xml(body, headers=()):
    return Response(200, body, (("Content-Type", 'text/xml; charset="utf-8"'), *headers))


def run(coroutine, timeout=15):
    """Run a test coroutine on a fresh loop, bounded (the suite has no pytest-asyncio)."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


# ---------------------------------------------------------------- sandbox entry point


async def _main(args):
    tls = (args.cert, args.key) if args.cert else None
    acs = Acs(args.auth, args.username, args.password, tls=tls, port=args.port)
    await acs.start()
    for name in args.gpv:
        acs.queue(get_parameter_values(name))
    print(f"test ACS listening on {acs.url} for {args.duration} s", flush=True)
    try:
        async with asyncio.timeout(args.duration):
            while True:
                session, message = await acs.wait_message(timeout=args.duration)
                print(f"session {session.number}: {message.method} {message.parsed}", flush=True)
    except TimeoutError:
        pass
    finally:
        await acs.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description="Scriptable test ACS on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: any free)")
    parser.add_argument("--auth", choices=("basic", "digest"))
    parser.add_argument("--username", default="")
    parser.add_argument("--password", default="")
    parser.add_argument("--cert", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--key", help="private key of --cert")
    parser.add_argument("--gpv", action="append", default=[], metavar="NAME",
                        help="queue a GetParameterValues of NAME (repeatable)")
    parser.add_argument("--duration", type=float, default=300, help="stop after this many s")
    asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
