"""The HTTP client of one CWMP session: POST SOAP envelopes to the ACS, get its answers.

Why it does by hand what libcurl could do:

* **Authentication.** libcurl's own Digest first sends the request without a body to
  provoke the challenge; GenieACS answers that empty POST with 400 and binds its nonce to
  the TCP connection. So we send the real request, and on 401 compute the Authorization
  ourselves (``icwmpy.digest``) and resend the whole body on the same handle, hence the same
  connection. The nonce is then reused preemptively with an incrementing ``nc``.
* **Redirects.** TR-069 (3.4.5) wants the CPE to keep POSTing, for the rest of the session,
  to the URL it was redirected to (302 and 307 alike), with the body kept; we follow
  301/302/303/307/308 that way, bounded by ``max_redirects``.
* **Compression.** libcurl decodes compressed answers but never compresses a request; we
  compress the envelopes ourselves (Content-Encoding), and an ACS that answers 415
  Unsupported Media Type gets the same message again uncompressed, as every later one.

One ``pycurl.Curl`` lives for the whole session: its cookie engine carries the ACS's session
cookie on every POST (GenieACS refuses a session whose later POSTs lack it) and the multi
handle's connection cache keeps the TCP/TLS connection alive between POSTs.
"""

import base64
import gzip
import os
import urllib.parse
import zlib
from typing import NamedTuple

import pycurl

from .. import __version__, digest
from .curlloop import TransportError

DEFAULT_USER_AGENT = f"icwmpy/{__version__}"
DEFAULT_MAX_BODY = 8 * 1024 * 1024
# Seconds for the connect and for each whole exchange (icwmp's HTTP_TIMEOUT). Not the CWMP
# session timeout: that one the CPE announces to the ACS (cwmp:SessionTimeout).
DEFAULT_TIMEOUT = 30
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_AUTH_RETRIES = 2
UNSUPPORTED_MEDIA_TYPE = 415

_ENCODINGS = {"disabled": None, "gzip": "gzip", "deflate": "deflate"}
# HTTP's "deflate" coding is the zlib format (RFC 9110 8.4.1.2).
_COMPRESS = {"gzip": lambda body: gzip.compress(body, mtime=0), "deflate": zlib.compress}
_IP_RESOLVE = {None: pycurl.IPRESOLVE_WHATEVER, 4: pycurl.IPRESOLVE_V4, 6: pycurl.IPRESOLVE_V6}


class HttpResponse(NamedTuple):
    """``headers``: lower-case names, the last value when a header repeats."""

    status: int
    headers: dict
    body: bytes


class BodyTooLarge(TransportError):
    """The answer's body exceeds ``max_body``: libcurl stopped at the cap (a declared
    Content-Length above it is refused before the body, a longer stream when the write
    callback refuses the chunk that crosses it). The connection is dropped, the client
    stays usable: its next POST opens a new connection, with the session's cookies."""


class _Authenticator:
    """Answers the ACS's ``WWW-Authenticate`` challenge, then keeps answering it preemptively."""

    def __init__(self, username, password):
        self.username = username
        self.password = password
        self.reset()

    def reset(self):
        """Forget the challenge (another server must challenge us afresh)."""
        self.scheme = None
        self.params = {}
        self.nc = 0

    def authorization(self, uri):
        """The Authorization header value for the next POST to ``uri``, or None."""
        if self.scheme == "basic":
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return f"Basic {token}"
        if self.scheme != "digest":
            return None
        p = self.params
        self.nc += 1
        fields = {"username": _quote(self.username), "realm": _quote(p.get("realm", "")),
                  "nonce": _quote(p["nonce"]), "uri": _quote(uri)}
        algorithm = p.get("algorithm", "MD5")
        args = dict(username=self.username, password=self.password, realm=p.get("realm", ""),
                    method="POST", uri=uri, nonce=p["nonce"], algorithm=algorithm)
        if self._qop:
            nc, cnonce = f"{self.nc:08x}", os.urandom(8).hex()
            args.update(qop="auth", nc=nc, cnonce=cnonce)
            fields.update(qop="auth", nc=nc, cnonce=_quote(cnonce))
        fields["response"] = _quote(digest.response(**args))
        if "algorithm" in p:
            fields["algorithm"] = algorithm
        if "opaque" in p:
            fields["opaque"] = _quote(p["opaque"])
        return "Digest " + ", ".join(f"{k}={v}" for k, v in fields.items())

    @property
    def _qop(self):
        return "auth" in [q.strip().lower() for q in self.params.get("qop", "").split(",")]

    def challenge(self, headers):
        """Adopt the best challenge among ``headers``; False when answering it is pointless.

        Pointless: no credentials, nothing we support, or the server rejected an answer to
        this very challenge (same Digest nonce and not ``stale``, or Basic already sent).
        """
        if not self.username and not self.password:
            return False
        best = None
        for header in headers:
            scheme, params = digest.parse_params(header)
            rank = _rank(scheme, params)
            if rank and (best is None or rank > best[0]):
                best = (rank, scheme, params)
        if best is None:
            return False
        _, scheme, params = best
        if scheme == self.scheme:
            if scheme == "basic":
                return False
            if (params.get("nonce") == self.params.get("nonce")
                    and params.get("stale", "").lower() != "true"):
                return False
        if params.get("nonce") != self.params.get("nonce"):
            self.nc = 0
        self.scheme, self.params = scheme, params
        return True


def _rank(scheme, params):
    """Preference among offered challenges: Digest SHA-256 > Digest MD5 > Basic; 0 = unusable."""
    if scheme == "basic":
        return 1
    if scheme != "digest" or "nonce" not in params:
        return 0
    algorithm = params.get("algorithm", "MD5")
    qops = [q.strip().lower() for q in params.get("qop", "auth").split(",")]
    if not digest.supported(algorithm) or "auth" not in qops:
        return 0
    if algorithm.upper().endswith("-SESS") and "qop" not in params:
        return 0  # -sess needs a cnonce, which we only send with qop
    return 3 if algorithm.upper().startswith("SHA-256") else 2


def _quote(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class AcsClient:
    """POSTs the messages of one CWMP session to the ACS; ``close()`` when the session ends.

    ``ca_path``: CA file or hashed directory to verify the ACS with (default: the system's);
    ``insecure`` turns peer and host name checks off. ``compression`` ("Disabled", "GZIP",
    "Deflate") asks for and decodes compressed answers and, unless ``compress_requests``
    is false, compresses the envelopes sent, until the ACS refuses one with 415
    (``compression_refused``). ``timeout`` (s) bounds the connect and each whole exchange;
    ``max_body`` (bytes) bounds each response body. ``interface`` and ``ip_version``
    (None, 4, 6) pick the source interface and address family. ``primary_ip``: the ACS
    address the last answer came from (None before one), for the firewall rule.
    """

    def __init__(self, curl_loop, url, *, username="", password="", ca_path=None,
                 insecure=False, client_cert=None, client_key=None, compression="Disabled",
                 compress_requests=True, disable_100_continue=True, interface=None,
                 ip_version=None, timeout=DEFAULT_TIMEOUT, user_agent=DEFAULT_USER_AGENT,
                 max_redirects=5, max_body=DEFAULT_MAX_BODY):
        if str(compression).lower() not in _ENCODINGS:
            raise ValueError(f"compression must be Disabled, GZIP or Deflate, not {compression!r}")
        encoding = _ENCODINGS[str(compression).lower()]
        if ip_version not in _IP_RESOLVE:
            raise ValueError(f"ip_version must be None, 4 or 6, not {ip_version!r}")
        self._curl_loop = curl_loop
        self.url = _check_url(url)
        self._auth = _Authenticator(username, password)
        self._max_redirects = max_redirects
        self._max_body = max_body
        self._encoding = encoding
        self._compress = bool(encoding) and compress_requests
        self.compression_refused = False
        self.primary_ip = None
        self._fixed_headers = ["Expect:"] if disable_100_continue else []
        self._busy = False
        self._easy = easy = pycurl.Curl()
        easy.setopt(pycurl.COOKIEFILE, "")  # in-memory cookie engine for the session
        easy.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
        easy.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        easy.setopt(pycurl.FOLLOWLOCATION, False)
        easy.setopt(pycurl.USERAGENT, user_agent)
        easy.setopt(pycurl.CONNECTTIMEOUT_MS, int(timeout * 1000))
        easy.setopt(pycurl.TIMEOUT_MS, int(timeout * 1000))
        easy.setopt(pycurl.TCP_KEEPALIVE, True)
        easy.setopt(pycurl.MAXFILESIZE_LARGE, max_body)
        easy.setopt(pycurl.IPRESOLVE, _IP_RESOLVE[ip_version])
        if interface:
            easy.setopt(pycurl.INTERFACE, interface)
        if encoding:
            easy.setopt(pycurl.ACCEPT_ENCODING, encoding)
        if insecure:
            easy.setopt(pycurl.SSL_VERIFYPEER, False)
            easy.setopt(pycurl.SSL_VERIFYHOST, 0)
        elif ca_path:
            easy.setopt(pycurl.CAPATH if os.path.isdir(ca_path) else pycurl.CAINFO, ca_path)
        if client_cert:
            easy.setopt(pycurl.SSLCERT, client_cert)
        if client_key:
            easy.setopt(pycurl.SSLKEY, client_key)
        easy.setopt(pycurl.HEADERFUNCTION, self._on_header)
        easy.setopt(pycurl.WRITEFUNCTION, self._on_body)
        self._headers = {}
        self._challenges = []
        self._body = []
        self._body_size = 0

    async def post(self, body=b"", soap_action=""):
        """POST ``body`` (a SOAP envelope, or b"" for the empty POST) and return the answer.

        Answers 401 challenges and follows redirects itself; a 401 that persists is
        returned, not raised. Raises ``TransportError`` for network, TLS and timeout
        failures, too many redirects; ``BodyTooLarge`` for a response body above ``max_body``.
        """
        if self._easy is None:
            raise RuntimeError("AcsClient is closed")
        if self._busy:
            raise RuntimeError("a POST is already in progress on this session")
        self._busy = True
        try:
            return await self._exchange(body, soap_action)
        finally:
            self._busy = False

    def close(self):
        """End the session: drop the handle (and with it the session's cookies).

        A POST still in progress fails with TransportError."""
        if self._easy is not None:
            self._curl_loop.abort(self._easy, "ACS session closed")
            self._easy.close()
            self._easy = None

    async def _exchange(self, body, soap_action):
        auth_retries = redirects = 0
        while True:
            compressed = bool(body) and self._compress and not self.compression_refused
            response = await self._send(body, soap_action, compressed)
            if response.status == UNSUPPORTED_MEDIA_TYPE and compressed:
                self.compression_refused = True
                continue
            if (response.status == 401 and auth_retries < MAX_AUTH_RETRIES
                    and self._auth.challenge(self._challenges)):
                auth_retries += 1
                continue
            if response.status in REDIRECT_STATUSES and "location" in response.headers:
                if redirects >= self._max_redirects:
                    raise TransportError(pycurl.E_TOO_MANY_REDIRECTS,
                                         f"more than {self._max_redirects} redirects")
                redirects += 1
                self._redirect(response.headers["location"])
                continue
            return response

    def _redirect(self, location):
        """Move the rest of the session to ``location``; a new origin must challenge anew."""
        new = _check_url(urllib.parse.urljoin(self.url, location))
        if _origin(new) != _origin(self.url):
            self._auth.reset()
        self.url = new

    async def _send(self, body, soap_action, compressed):
        easy = self._easy
        headers = list(self._fixed_headers)
        if body:
            headers += ['Content-Type: text/xml; charset="utf-8"',
                        f"SOAPAction: {soap_action}" if soap_action else "SOAPAction;"]
            if compressed:
                headers.append(f"Content-Encoding: {self._encoding}")
                body = _COMPRESS[self._encoding](body)
        else:
            headers.append("Content-Type:")
        authorization = self._auth.authorization(_request_target(self.url))
        if authorization:
            headers.append(f"Authorization: {authorization}")
        easy.setopt(pycurl.URL, self.url)
        easy.setopt(pycurl.HTTPHEADER, headers)
        easy.setopt(pycurl.POSTFIELDSIZE_LARGE, len(body))
        easy.setopt(pycurl.POSTFIELDS, body)
        self._headers, self._challenges, self._body, self._body_size = {}, [], [], 0
        try:
            await self._curl_loop.perform(easy)
        except TransportError as error:
            if self._body_size > self._max_body or error.code == pycurl.E_FILESIZE_EXCEEDED:
                raise BodyTooLarge(pycurl.E_FILESIZE_EXCEEDED,
                                   f"response body larger than {self._max_body} bytes") from None
            raise
        self.primary_ip = easy.getinfo(pycurl.PRIMARY_IP) or self.primary_ip
        return HttpResponse(easy.getinfo(pycurl.RESPONSE_CODE), self._headers,
                            b"".join(self._body))

    def _on_header(self, line):
        text = line.decode("iso-8859-1").rstrip("\r\n")
        if text.startswith("HTTP/"):  # a new (possibly interim 1xx) response starts
            self._headers, self._challenges = {}, []
            return
        name, sep, value = text.partition(":")
        if not sep:
            return
        name, value = name.strip().lower(), value.strip()
        self._headers[name] = value
        if name == "www-authenticate":
            self._challenges.append(value)

    def _on_body(self, chunk):
        self._body_size += len(chunk)
        if self._body_size > self._max_body:
            self._body = []  # never used now: give the memory back at once
            return 0  # makes libcurl abort with CURLE_WRITE_ERROR
        self._body.append(chunk)
        return None


def _check_url(url):
    if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
        raise TransportError(pycurl.E_UNSUPPORTED_PROTOCOL, f"not an http(s) URL: {url!r}")
    return url


def _origin(url):
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.hostname, parts.port


def _request_target(url):
    """The Digest ``uri``: the path and query that go on the request line."""
    parts = urllib.parse.urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
