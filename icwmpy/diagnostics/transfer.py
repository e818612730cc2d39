"""What DownloadDiagnostics and UploadDiagnostics share: TR-143 HTTP/FTP transfers timed by
libcurl (pycurl handles on the asyncio loop through :class:`CurlLoop`).

Each connection is one handle; libcurl's timings, added to the time the handle started,
give the TR-143 times: TCPOpenRequestTime (after the name lookup: the SYN),
TCPOpenResponseTime (CONNECT_TIME), ROMTime (PRETRANSFER_TIME: the GET/RETR or PUT/STOR
goes out), BOMTime (download: STARTTRANSFER_TIME, the first byte; upload: the first data
handed to libcurl, or ROMTime when it goes out with the PUT), EOMTime (TOTAL_TIME). For FTP the TCP times are the control
connection's. Interface binds with CURLOPT_INTERFACE; DSCP (IP_TOS / IPV6_TCLASS) and
EthernetPriority (SO_PRIORITY) are set on each socket by SOCKOPTFUNCTION. TotalBytes* are
the Interface's kernel counters from the start of the test to its end (0 without an
Interface, as TR-181 says; the *UnderFullLoading ones are the same counters, not a window).
With TimeBasedTestDuration the test stops after that many seconds, and each
TimeBasedTestMeasurementInterval from BOMTime + offset is one IncrementalResult.
"""

import asyncio
import errno
import socket
import time

import pycurl

from icwmpy.diagnostics.common import Outcome, prepare, utc_micro
from icwmpy.transport import CurlLoop
from icwmpy.transport.curlloop import TransportError

IP_RESOLVE = {socket.AF_INET: pycurl.IPRESOLVE_V4, socket.AF_INET6: pycurl.IPRESOLVE_V6,
              socket.AF_UNSPEC: pycurl.IPRESOLVE_WHATEVER}
STALL_SECONDS = 30     # below 1 byte/s for this long: Error_Timeout
CONNECT_SECONDS = 30
UNBOUNDED = 1 << 62
CHUNK = 512 * 1024
# libcurl CURLE_* -> DiagnosticsState, per direction ("down", "up"); default Error_Other
ERRORS = {
    pycurl.E_COULDNT_RESOLVE_HOST: "Error_CannotResolveHostName",
    pycurl.E_COULDNT_CONNECT: "Error_InitConnectionFailed",
    pycurl.E_OPERATION_TIMEDOUT: "Error_Timeout",
    pycurl.E_LOGIN_DENIED: "Error_LoginFailed",
    pycurl.E_FTP_WEIRD_PASS_REPLY: "Error_PasswordRequestFailed",
    pycurl.E_FTP_WEIRD_PASV_REPLY: "Error_NoPASV",
    pycurl.E_FTP_CANT_GET_HOST: "Error_NoPASV",
    pycurl.E_FTP_COULDNT_SET_BINARY: "Error_NoTransferMode",
    pycurl.E_GOT_NOTHING: "Error_NoResponse",
    pycurl.E_RECV_ERROR: "Error_NoResponse",
}
DIRECTED = {
    "down": {pycurl.E_HTTP_RETURNED_ERROR: "Error_TransferFailed",
             pycurl.E_FTP_COULDNT_RETR_FILE: "Error_TransferFailed",
             pycurl.E_REMOTE_FILE_NOT_FOUND: "Error_TransferFailed",
             pycurl.E_REMOTE_ACCESS_DENIED: "Error_TransferFailed",
             pycurl.E_PARTIAL_FILE: "Error_IncorrectSize"},
    "up": {pycurl.E_HTTP_RETURNED_ERROR: "Error_NoTransferComplete",
           pycurl.E_REMOTE_ACCESS_DENIED: "Error_NoCWD",
           pycurl.E_UPLOAD_FAILED: "Error_NoSTOR",
           pycurl.E_PARTIAL_FILE: "Error_NoTransferComplete"},
}
NO_ROUTE = {errno.ENETUNREACH, errno.EHOSTUNREACH}


def counters(device):
    """(rx, tx) bytes of ``device`` (the kernel's counters); (0, 0) without one."""
    if not device:
        return 0, 0
    out = []
    for name in ("rx_bytes", "tx_bytes"):
        try:
            with open(f"/sys/class/net/{device}/statistics/{name}") as f:
                out.append(int(f.read()))
        except (OSError, ValueError):
            out.append(0)
    return tuple(out)


class Progress:
    """Test bytes of all connections, and those moved under full loading: from the moment
    the last connection began (its first byte) to the moment the first one ended."""

    def __init__(self, connections):
        self.connections = connections
        self.total = 0
        self.full_start = None   # total when the last connection began
        self.full_end = None     # total when the first connection ended

    def add(self, count, first):
        if first and self.full_end is None and all(c.first for c in self.connections):
            self.full_start = self.total
        self.total += count

    def ended(self):
        if self.full_end is None:
            self.full_end = self.total

    @property
    def under_full_loading(self):
        if self.full_start is None or self.full_end is None:
            return 0
        return max(0, self.full_end - self.full_start)


class Connection:
    """One handle of the test and what it measured."""

    def __init__(self, request, direction, progress, deadline):
        self.direction, self.progress, self.deadline = direction, progress, deadline
        self.request = request
        self.moved = 0
        self.first = None       # first test byte moved
        self.started = None
        self.stopped = False    # ended by the time-based duration
        # a time-based upload sends until the deadline, in a body of unknown length
        self.left = (request.int("TestFileLength") if not deadline else UNBOUNDED) \
            if direction == "up" else 0
        easy = self.easy = pycurl.Curl()
        easy.setopt(pycurl.URL, request["DownloadURL" if direction == "down" else "UploadURL"])
        easy.setopt(pycurl.IPRESOLVE, IP_RESOLVE[request.family])
        easy.setopt(pycurl.CONNECTTIMEOUT, CONNECT_SECONDS)
        easy.setopt(pycurl.LOW_SPEED_LIMIT, 1)
        easy.setopt(pycurl.LOW_SPEED_TIME, STALL_SECONDS)
        easy.setopt(pycurl.FAILONERROR, True)
        easy.setopt(pycurl.SOCKOPTFUNCTION, self._sockopt)
        # bigger chunks: fewer calls into Python per megabyte (libcurl's default is 16 KiB)
        easy.setopt(pycurl.BUFFERSIZE, CHUNK)
        if request.device:
            easy.setopt(pycurl.INTERFACE, "if!" + request.device)
        if direction == "down":
            easy.setopt(pycurl.WRITEFUNCTION, self._write)
        else:
            easy.setopt(pycurl.UPLOAD, True)
            easy.setopt(pycurl.HTTPHEADER, ["Expect:"])   # no second's wait for a 100 first
            easy.setopt(pycurl.UPLOAD_BUFFERSIZE, CHUNK)
            easy.setopt(pycurl.READFUNCTION, self._read)
            easy.setopt(pycurl.INFILESIZE_LARGE, -1 if deadline else self.left)

    def _sockopt(self, fd, purpose):
        dscp, priority = self.request.int("DSCP"), self.request.int("EthernetPriority")
        with socket.socket(fileno=socket.dup(fd)) as sock:
            try:
                prepare(sock, sock.family, dscp=dscp)
                if priority:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PRIORITY, priority)
            except OSError:
                return 1    # CURL_SOCKOPT_ERROR: the test fails rather than run unmarked
        return 0

    def _moved(self, count):
        first = self.first is None
        if first:
            self.first = time.time()
        self.moved += count
        self.progress.add(count, first)

    def _write(self, data):
        self._moved(len(data))

    def _read(self, size):
        chunk = min(size, self.left)
        self.left -= chunk
        if chunk:
            self._moved(chunk)
        return b"\0" * chunk

    def _xfer(self, *_):
        if self.deadline and time.time() >= self.deadline:
            self.stopped = True
            return 1
        return 0

    async def perform(self, curl):
        self.started = time.time()
        try:
            await curl.perform(self.easy, progress=self._xfer)
        except TransportError as e:
            if not (self.stopped and e.code == pycurl.E_ABORTED_BY_CALLBACK):
                raise
        self.progress.ended()

    def error(self, e):
        """The DiagnosticsState of a failed transfer."""
        if e.code == pycurl.E_COULDNT_CONNECT and self.easy.getinfo(pycurl.OS_ERRNO) in NO_ROUTE:
            return "Error_NoRouteToHost"
        return DIRECTED[self.direction].get(e.code) or ERRORS.get(e.code, "Error_Other")

    def times(self):
        """The TR-143 times (seconds since the epoch) and byte counts of this connection."""
        info = self.easy.getinfo
        start, total = self.started, info(pycurl.TOTAL_TIME)
        headers = info(pycurl.HEADER_SIZE)
        rom = start + info(pycurl.PRETRANSFER_TIME)
        # upload: the first data handed to libcurl, which may go out with the PUT itself
        begin = (start + info(pycurl.STARTTRANSFER_TIME) if self.direction == "down"
                 else max(rom, self.first or rom))
        return {"TCPOpenRequestTime": start + info(pycurl.NAMELOOKUP_TIME),
                "TCPOpenResponseTime": start + info(pycurl.CONNECT_TIME),
                "ROMTime": rom, "BOMTime": begin,
                "EOMTime": start + total, "test": self.moved + headers,
                "sent": info(pycurl.REQUEST_SIZE) + (self.moved if self.direction == "up" else 0),
                "received": headers + (self.moved if self.direction == "down" else 0)}


async def increments(request, progress, connections, duration, test_bytes):
    """IncrementalResult rows, measured while the test runs."""
    interval = request.int("TimeBasedTestMeasurementInterval")
    if not (duration and interval):
        return []
    while not any(c.first for c in connections):
        await asyncio.sleep(0.01)
    begin = min(c.first for c in connections) + request.int("TimeBasedTestMeasurementOffset")
    rows = []
    for index in range(duration // interval):
        start, end = begin + index * interval, begin + (index + 1) * interval
        await asyncio.sleep(max(0.0, start - time.time()))
        before, rx, tx = progress.total, *counters(request.device)
        await asyncio.sleep(max(0.0, end - time.time()))
        after, rx2, tx2 = progress.total, *counters(request.device)
        rows.append({test_bytes: str(after - before), "TotalBytesReceived": str(rx2 - rx),
                     "TotalBytesSent": str(tx2 - tx), "StartTime": utc_micro(start),
                     "EndTime": utc_micro(end)})
    return rows


async def measure(request, direction, test_bytes):
    """The Outcome of a download (``direction`` "down") or upload ("up") test;
    ``test_bytes`` names the test-bytes results ("TestBytesReceived" / "TestBytesSent")."""
    count = max(1, request.int("NumberOfConnections"))
    duration = request.int("TimeBasedTestDuration")
    deadline = time.time() + duration if duration else None
    connections = []
    progress = Progress(connections)
    connections += [Connection(request, direction, progress, deadline) for _ in range(count)]
    curl = CurlLoop()
    sampler = asyncio.create_task(increments(request, progress, connections, duration,
                                             test_bytes))
    try:
        rx, tx = counters(request.device)
        outcomes = await asyncio.gather(*(c.perform(curl) for c in connections),
                                        return_exceptions=True)
        rx2, tx2 = counters(request.device)
        for c, result in zip(connections, outcomes, strict=True):
            if isinstance(result, TransportError):
                return Outcome(c.error(result), {"IPAddressUsed": _ip(c)})
            if isinstance(result, BaseException):
                raise result
        rows = await sampler
        return _outcome(request, connections, test_bytes, progress, rows, (rx2 - rx, tx2 - tx))
    finally:
        sampler.cancel()
        curl.close()
        for c in connections:
            c.easy.close()


def _ip(connection):
    return connection.easy.getinfo(pycurl.PRIMARY_IP) or ""


def _outcome(request, connections, test_bytes, progress, rows, totals):
    measured = [c.times() for c in connections]
    per = []
    for m in measured:
        per.append({**{k: utc_micro(m[k]) for k in ("ROMTime", "BOMTime", "EOMTime",
                                                    "TCPOpenRequestTime", "TCPOpenResponseTime")},
                    test_bytes: str(m["test"]), "TotalBytesReceived": str(m["received"]),
                    "TotalBytesSent": str(m["sent"])})
    full_begin = max(m["BOMTime"] for m in measured)
    full_end = min(m["EOMTime"] for m in measured)
    full = max(0.0, full_end - full_begin)
    rx, tx = totals if request.device else (0, 0)
    results = {
        "IPAddressUsed": _ip(connections[0]),
        "ROMTime": utc_micro(min(m["ROMTime"] for m in measured)),
        "BOMTime": utc_micro(min(m["BOMTime"] for m in measured)),
        "EOMTime": utc_micro(max(m["EOMTime"] for m in measured)),
        "TCPOpenRequestTime": utc_micro(max(m["TCPOpenRequestTime"] for m in measured)),
        "TCPOpenResponseTime": utc_micro(max(m["TCPOpenResponseTime"] for m in measured)),
        test_bytes: str(sum(m["test"] for m in measured)),
        "TotalBytesReceived": str(rx), "TotalBytesSent": str(tx),
        test_bytes + "UnderFullLoading": str(progress.under_full_loading),
        "TotalBytesReceivedUnderFullLoading": str(rx), "TotalBytesSentUnderFullLoading": str(tx),
        "PeriodOfFullLoading": str(round(full * 1000000)),
    }
    tables = {"IncrementalResult": rows}
    if request.flag("EnablePerConnectionResults"):
        tables["PerConnectionResult"] = per
    return Outcome("Complete", results, tables)
