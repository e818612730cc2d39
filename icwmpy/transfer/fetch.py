"""File transfers on the wire: one pycurl handle per transfer, streamed to or from a file.

Why it looks the way it does:

* **Never in memory.** A firmware image can be larger than the router's free RAM, so a
  download is written chunk by chunk to a file the caller names, and an upload is read
  from a file in chunks; the process's memory does not grow with the file.
* **libcurl does the HTTP.** File servers are ordinary web/FTP servers (not GenieACS with
  its connection-bound nonces), so libcurl's own Basic/Digest negotiation, redirect
  following (bounded, limited to http/https/ftp, credentials not sent to another host) and
  TLS verification are the right tools.
* **Every failure is a TR-069 fault code** (:class:`~icwmpy.faults.CwmpFault`), decided
  here once from the libcurl error or HTTP status, so the queue only records it:

  ========================================  ==========  ==========
  what happened                             download    upload
  ========================================  ==========  ==========
  HTTP 401/407, FTP login refused           9012        9012
  TLS peer certificate not trusted          9012        9012
  DNS, connection refused, TLS handshake,   9015        9015
  timeout before any answer
  HTTP 4xx, FTP file missing or denied,     9016        9011
  redirect loop / too many redirects
  stall (low-speed limit) once the server   9017        9011
  was reached, connection cut mid-body,
  body shorter than announced
  more bytes than the ACS's FileSize        9018        --
  more bytes than the room we have          9010        --
  HTTP 5xx, anything else                   9010        9011
  ========================================  ==========  ==========
"""

import dataclasses
import os
import time
from urllib.parse import urlsplit

import pycurl

from ..faults import CwmpFault
from ..transport.curlloop import TransportError

BUFFER_SIZE = 256 * 1024          # fewer, larger reads: fewer trips through the event loop
PROGRESS_INTERVAL = 1.0           # seconds between two progress reports
_PROTOCOLS = pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS | pycurl.PROTO_FTP   # rpc.checks.SCHEMES

_CONNECT_ERRORS = {pycurl.E_COULDNT_RESOLVE_HOST, pycurl.E_COULDNT_RESOLVE_PROXY,
                   pycurl.E_COULDNT_CONNECT, pycurl.E_SSL_CONNECT_ERROR}
_AUTH_ERRORS = {pycurl.E_LOGIN_DENIED, pycurl.E_PEER_FAILED_VERIFICATION,
                pycurl.E_SSL_ISSUER_ERROR}
_ACCESS_ERRORS = {pycurl.E_REMOTE_ACCESS_DENIED, pycurl.E_REMOTE_FILE_NOT_FOUND,
                  pycurl.E_FTP_COULDNT_RETR_FILE, pycurl.E_TOO_MANY_REDIRECTS,
                  pycurl.E_UPLOAD_FAILED}
_CUT_ERRORS = {pycurl.E_PARTIAL_FILE, pycurl.E_RECV_ERROR, pycurl.E_SEND_ERROR,
               pycurl.E_GOT_NOTHING, pycurl.E_OPERATION_TIMEDOUT}


@dataclasses.dataclass(frozen=True)
class WireOptions:
    """How transfers behave on the network.

    ``ca_path`` is a CA file or hashed directory (None: the system's store); ``insecure``
    turns certificate checks off. A transfer slower than ``low_speed_limit`` bytes/s for
    ``low_speed_time`` seconds is abandoned (a stalled server must not hold the queue
    forever); ``max_time`` (0 = none) bounds a whole transfer.
    """
    connect_timeout: float = 30
    low_speed_limit: int = 1
    low_speed_time: int = 60
    max_time: float = 0
    max_redirects: int = 5
    ca_path: str | None = None
    insecure: bool = False
    user_agent: str = "icwmpy"


def scheme_of(url):
    """The URL's scheme in lower case ('' when it has none)."""
    return urlsplit(url).scheme.lower()


class _Progress:
    """Turns libcurl's frequent XFERINFO calls into at most one report per second."""

    def __init__(self, report, uploading):
        self._report = report
        self._uploading = uploading
        self._started = self._last = time.monotonic()

    def __call__(self, dltotal, dlnow, ultotal, ulnow):
        now = time.monotonic()
        if now - self._last >= PROGRESS_INTERVAL:
            self._last = now
            total, done = (ultotal, ulnow) if self._uploading else (dltotal, dlnow)
            self._report(done, total, done / max(now - self._started, 1e-6))
        return 0


def _handle(url, wire, username, password):
    easy = pycurl.Curl()
    easy.setopt(pycurl.URL, url)
    easy.setopt(pycurl.USERAGENT, wire.user_agent)
    easy.setopt(pycurl.BUFFERSIZE, BUFFER_SIZE)
    easy.setopt(pycurl.PROTOCOLS, _PROTOCOLS)       # the *_STR forms are not in pycurl yet
    easy.setopt(pycurl.REDIR_PROTOCOLS, _PROTOCOLS)
    easy.setopt(pycurl.FOLLOWLOCATION, True)
    easy.setopt(pycurl.MAXREDIRS, wire.max_redirects)
    easy.setopt(pycurl.FAILONERROR, True)
    easy.setopt(pycurl.CONNECTTIMEOUT_MS, int(wire.connect_timeout * 1000))
    easy.setopt(pycurl.LOW_SPEED_LIMIT, wire.low_speed_limit)
    easy.setopt(pycurl.LOW_SPEED_TIME, wire.low_speed_time)
    if wire.max_time:
        easy.setopt(pycurl.TIMEOUT_MS, int(wire.max_time * 1000))
    if wire.insecure:
        easy.setopt(pycurl.SSL_VERIFYPEER, False)
        easy.setopt(pycurl.SSL_VERIFYHOST, 0)
    elif wire.ca_path:
        easy.setopt(pycurl.CAPATH if os.path.isdir(wire.ca_path) else pycurl.CAINFO,
                    wire.ca_path)
    if username or password:
        easy.setopt(pycurl.USERNAME, username.encode())
        easy.setopt(pycurl.PASSWORD, password.encode())
        easy.setopt(pycurl.HTTPAUTH, pycurl.HTTPAUTH_BASIC | pycurl.HTTPAUTH_DIGEST)
    return easy


async def _perform(curl_loop, easy, progress, uploading):
    """Run the transfer; map a failure to the CwmpFault the TransferComplete will carry."""
    report = _Progress(progress, uploading) if progress else None
    try:
        await curl_loop.perform(easy, report)
    except TransportError as error:
        raise _fault(error, easy, uploading) from None
    status = easy.getinfo(pycurl.RESPONSE_CODE)
    if scheme_of(easy.getinfo(pycurl.EFFECTIVE_URL)).startswith("http") and not 200 <= status < 300:
        raise _status_fault(status, uploading)


def _status_fault(status, uploading):
    if status in (401, 407):
        return CwmpFault(9012, f"server refused the credentials (HTTP {status})")
    if 400 <= status < 500:
        return CwmpFault(9011 if uploading else 9016, f"HTTP {status}")
    return CwmpFault(9011 if uploading else 9010, f"HTTP {status}")


def _fault(error, easy, uploading):
    code = error.code
    if code == pycurl.E_HTTP_RETURNED_ERROR:
        return _status_fault(easy.getinfo(pycurl.RESPONSE_CODE), uploading)
    message = f"curl error {code}: {error.message}"
    # PRETRANSFER: connected, TLS and FTP login done; a timeout before it never got through
    reached = easy.getinfo(pycurl.PRETRANSFER_TIME) > 0 or easy.getinfo(pycurl.RESPONSE_CODE)
    if code in _CONNECT_ERRORS or (code == pycurl.E_OPERATION_TIMEDOUT and not reached):
        return CwmpFault(9015, message)
    if code in _AUTH_ERRORS:
        return CwmpFault(9012, message)
    if uploading:
        return CwmpFault(9011, message)
    if code in _ACCESS_ERRORS:
        return CwmpFault(9016, message)
    if code in _CUT_ERRORS:
        return CwmpFault(9017, message)
    if code == pycurl.E_FILESIZE_EXCEEDED:
        return CwmpFault(9018, message)
    return CwmpFault(9010, message)


async def download(curl_loop, url, path, wire, *, username="", password="", max_bytes=0,
                   oversize_code=9010, progress=None):
    """Fetch ``url`` into ``path`` (created or truncated); returns the number of bytes.

    ``max_bytes`` (0 = no limit) stops a body that would not fit: an announced length is
    refused before the body, an unannounced one as soon as it passes the limit; either
    fails with ``oversize_code`` (9018 when the limit is the size the ACS announced, the
    file is then not the one it meant; 9010 when it is the room we have).
    ``progress(bytes, total, rate)`` is called about once a second.
    """
    easy = _handle(url, wire, username, password)
    received = 0
    refusal = None            # why our write callback stopped the transfer
    with open(path, "wb") as out:
        def write(chunk):
            nonlocal received, refusal
            received += len(chunk)
            if max_bytes and received > max_bytes:
                refusal = CwmpFault(oversize_code, f"file larger than {max_bytes} bytes")
                return 0      # a short write makes libcurl stop with E_WRITE_ERROR
            try:
                out.write(chunk)
            except OSError as error:  # disk full: a failure of ours, not of the server
                refusal = CwmpFault(9010, f"cannot write the file: {error}")
                return 0
            return None
        easy.setopt(pycurl.WRITEFUNCTION, write)
        if max_bytes:
            easy.setopt(pycurl.MAXFILESIZE_LARGE, max_bytes)
        try:
            await _perform(curl_loop, easy, progress, uploading=False)
        except CwmpFault as fault:
            if refusal is not None:
                raise refusal from None
            if fault.code == 9018:  # E_FILESIZE_EXCEEDED: the announced length is too big
                raise CwmpFault(oversize_code, fault.message) from None
            raise
        finally:
            easy.close()
    return received


async def upload(curl_loop, url, path, size, wire, *, method="PUT", username="", password="",
                 progress=None):
    """Send the first ``size`` bytes of ``path`` to ``url``: HTTP PUT or POST, FTP STOR.

    Only ``size`` bytes are sent even if the file grows meanwhile (a live log file). The
    body can be sent again from the start: libcurl rewinds it when a server answers the
    first attempt with an authentication challenge or a redirect.
    """
    easy = _handle(url, wire, username, password)
    with open(path, "rb") as source:
        remaining = size

        def read(count):
            nonlocal remaining
            chunk = source.read(min(count, remaining))
            remaining -= len(chunk)
            return chunk

        def seek(offset, origin):
            nonlocal remaining
            if origin != 0:
                return pycurl.SEEKFUNC_CANTSEEK
            source.seek(offset)
            remaining = size - offset
            return pycurl.SEEKFUNC_OK
        easy.setopt(pycurl.READFUNCTION, read)
        easy.setopt(pycurl.SEEKFUNCTION, seek)
        if method.upper() == "POST" and scheme_of(url) != "ftp":
            easy.setopt(pycurl.POST, True)
            easy.setopt(pycurl.POSTFIELDSIZE_LARGE, size)
            easy.setopt(pycurl.HTTPHEADER, ["Content-Type: application/octet-stream"])
        else:
            easy.setopt(pycurl.UPLOAD, True)
            easy.setopt(pycurl.INFILESIZE_LARGE, size)
        try:
            await _perform(curl_loop, easy, progress, uploading=True)
        finally:
            easy.close()
