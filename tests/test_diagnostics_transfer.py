"""Download and UploadDiagnostics (TR-143) against real HTTP and FTP servers on loopback:
sizes, byte counts, the TR-143 times in order, several connections, time-based tests with
incremental results, and the Error_ states of servers that refuse or fail."""

import asyncio
import contextlib
import datetime
import socket

import pytest

from acs import HttpServer, Response
from ftpserver import ftp_server
from test_diagnostics import IP, UNKNOWN, Cpe, Marks, lo, needs_root, on_loop, rows, to_port

DOWN, UP = IP + "DownloadDiagnostics.", IP + "UploadDiagnostics."
SIZE = 1_000_000
TIMES = ("TCPOpenRequestTime", "TCPOpenResponseTime", "ROMTime", "BOMTime", "EOMTime")


class Files:
    """GET /file: SIZE bytes; /endless: more than any test reads; anything else 404.
    PUT: the body's length is recorded, 201 (under /denied/: 403)."""

    def __init__(self):
        self.uploads = []

    async def __call__(self, request):
        if request.method == "PUT":
            if request.target.startswith("/denied/"):
                return Response(403)
            self.uploads.append(len(request.body))
            return Response(201)
        if request.target == "/file":
            return Response(200, b"x" * SIZE)
        if request.target == "/endless":
            return Response(200, padding=1 << 40)
        return Response(404)


@contextlib.asynccontextmanager
async def http_server(host="127.0.0.1", files=None):
    """A file server (:class:`Files`) on ``host`` for the block's time."""
    server = HttpServer(files or Files(), host=host)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def cpe(tmp_path):
    return Cpe(tmp_path)


@pytest.fixture(scope="module")
def ftp(tmp_path_factory):
    """An FTP server over SIZE bytes in ``file`` and a read-only directory: (url with the
    user and password, root directory)."""
    root = tmp_path_factory.mktemp("ftp")
    (root / "file").write_bytes(b"y" * SIZE)
    (root / "readonly").mkdir()
    with ftp_server(root, readonly=root / "readonly") as port:
        yield f"ftp://u:p@127.0.0.1:{port}", root


def moment(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.UTC).timestamp()


def check_times(values, within=60):
    """The TR-143 times are microsecond UTC, in order, and recent."""
    times = [moment(values[name]) for name in TIMES]
    assert times == sorted(times), dict(zip(TIMES, (values[n] for n in TIMES), strict=True))
    assert 0 <= times[-1] - times[0] < within
    return times


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
@on_loop
async def test_http_download(cpe, host):
    async with http_server(host) as server:
        v = await cpe.run(DOWN, DownloadURL=server.url + "file", Interface=await lo(cpe),
                          DSCP=8, EthernetPriority=2)
    assert v["DiagnosticsState"] == "Complete" and v["IPAddressUsed"] == host
    assert SIZE < int(v["TestBytesReceived"]) < SIZE + 1000    # the body and its headers
    assert v["TestBytesReceivedUnderFullLoading"] == str(SIZE)   # one connection: all of it
    check_times(v)
    assert int(v["TotalBytesReceived"]) > SIZE   # lo's counters, IP headers included
    assert int(v["TotalBytesSent"]) > SIZE       # ... and on lo what is received was sent
    assert v["PerConnectionResultNumberOfEntries"] == "0"
    assert v["IncrementalResultNumberOfEntries"] == "0"


@needs_root
@on_loop
async def test_download_marks_its_packets_with_the_dscp(cpe):
    async with http_server() as server:
        marks = Marks(socket.IPPROTO_TCP, to_port(server.port))
        v = await cpe.run(DOWN, DownloadURL=server.url + "file", DSCP=34)
    assert v["DiagnosticsState"] == "Complete" and marks.seen() == {34}


@on_loop
async def test_http_download_without_interface_counts_no_interface_bytes(cpe):
    async with http_server() as server:
        v = await cpe.run(DOWN, DownloadURL=server.url + "file")
    assert v["DiagnosticsState"] == "Complete"
    assert (v["TotalBytesReceived"], v["TotalBytesSent"]) == ("0", "0")   # TR-181: SHOULD be 0


@on_loop
async def test_several_connections_each_with_its_results(cpe):
    async with http_server() as server:
        v = await cpe.run(DOWN, DownloadURL=server.url + "file", NumberOfConnections=3,
                          EnablePerConnectionResults=1)
    assert v["DiagnosticsState"] == "Complete"
    per = rows(v, "PerConnectionResult")
    assert len(per) == 3 and v["PerConnectionResultNumberOfEntries"] == "3"
    for row in per:
        assert int(row["TestBytesReceived"]) > SIZE
        check_times(row)
    assert int(v["TestBytesReceived"]) == sum(int(r["TestBytesReceived"]) for r in per)
    assert v["ROMTime"] == min(r["ROMTime"] for r in per)
    assert v["EOMTime"] == max(r["EOMTime"] for r in per)
    assert 0 <= int(v["TestBytesReceivedUnderFullLoading"]) <= 3 * SIZE
    assert int(v["PeriodOfFullLoading"]) >= 0


@on_loop
async def test_time_based_download_with_incremental_results(cpe):
    async with http_server() as server:
        v = await cpe.run(DOWN, DownloadURL=server.url + "endless", TimeBasedTestDuration=2,
                          TimeBasedTestMeasurementInterval=1)
    assert v["DiagnosticsState"] == "Complete"
    begin, end = moment(v["BOMTime"]), moment(v["EOMTime"])
    assert 1.9 < end - begin < 3.0
    increments = rows(v, "IncrementalResult")
    assert len(increments) == 2
    assert all(int(r["TestBytesReceived"]) > 0 for r in increments)
    assert moment(increments[0]["EndTime"]) == pytest.approx(moment(increments[1]["StartTime"]))
    assert sum(int(r["TestBytesReceived"]) for r in increments) <= int(v["TestBytesReceived"])


@on_loop
async def test_ftp_download(cpe, ftp):
    url, _ = ftp
    v = await cpe.run(DOWN, DownloadURL=url + "/file")
    assert v["DiagnosticsState"] == "Complete"
    assert int(v["TestBytesReceived"]) >= SIZE
    check_times(v)


@on_loop
async def test_http_upload(cpe):
    files = Files()
    async with http_server(files=files) as server:
        v = await cpe.run(UP, UploadURL=server.url + "up", TestFileLength=500_000,
                          Interface=await lo(cpe))
    assert v["DiagnosticsState"] == "Complete"
    assert files.uploads == [500_000]
    assert int(v["TestBytesSent"]) >= 500_000
    assert int(v["TotalBytesSent"]) > 500_000
    check_times(v)


async def slow_sink(received):
    """A server that takes an upload of any length slowly (64 KiB per 10 ms: TCP flow
    control holds the client back), counting what it reads in ``received``."""
    async def serve(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        while chunk := await reader.read(65536):
            received.append(len(chunk))
            await asyncio.sleep(0.01)
        writer.close()
    return await asyncio.start_server(serve, "127.0.0.1", 0)


@on_loop
async def test_time_based_upload_sends_until_the_duration_with_incremental_results(cpe):
    received = []
    server = await slow_sink(received)
    try:
        port = server.sockets[0].getsockname()[1]
        v = await cpe.run(UP, UploadURL=f"http://127.0.0.1:{port}/up", TestFileLength=1000,
                          TimeBasedTestDuration=2, TimeBasedTestMeasurementInterval=1)
    finally:
        server.close()
    assert v["DiagnosticsState"] == "Complete"
    assert 1.9 < moment(v["EOMTime"]) - moment(v["BOMTime"]) < 3.0
    assert int(v["TestBytesSent"]) > 1000   # TestFileLength is for tests not based on time
    increments = rows(v, "IncrementalResult")
    assert len(increments) == 2 and all(int(r["TestBytesSent"]) > 0 for r in increments)
    assert sum(received) > 0


@on_loop
async def test_ftp_upload(cpe, ftp):
    url, root = ftp
    v = await cpe.run(UP, UploadURL=url + "/uploaded", TestFileLength=300_000)
    assert v["DiagnosticsState"] == "Complete"
    assert (root / "uploaded").stat().st_size == 300_000
    check_times(v)


def refused_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def error_url(pattern, server, ftp):
    """The URL of an error test: ``{refused}`` a port nothing listens on, ``{http}`` the
    HTTP file server, ``{unknown}`` a name no resolver knows, ``{ftp}`` / ``{ftp_bad}`` the
    FTP server with the right / a wrong password."""
    return pattern.format(refused=refused_port(), http=server.url, unknown=UNKNOWN,
                          ftp=ftp[0], ftp_bad=ftp[0].replace("u:p@", "u:wrong@"))


@on_loop
async def test_download_protocol_version(cpe):
    async with http_server("::1") as server:
        url = f"http://localhost:{server.port}/file"   # localhost: 127.0.0.1 and ::1
        v6 = await cpe.run(DOWN, DownloadURL=url, ProtocolVersion="IPv6")
        v4 = await cpe.run(DOWN, DownloadURL=url, ProtocolVersion="IPv4")
    assert (v6["DiagnosticsState"], v6["IPAddressUsed"]) == ("Complete", "::1")
    assert v4["DiagnosticsState"] == "Error_InitConnectionFailed"   # nothing on 127.0.0.1


@pytest.mark.parametrize("url, state", [
    ("http://127.0.0.1:{refused}/file", "Error_InitConnectionFailed"),
    ("{http}missing", "Error_TransferFailed"),
    ("http://{unknown}/file", "Error_CannotResolveHostName"),
    ("{ftp_bad}/file", "Error_LoginFailed"),
    ("{ftp}/nothing-here", "Error_TransferFailed"),
])
@on_loop
async def test_download_errors(cpe, ftp, url, state):
    async with http_server() as server:
        v = await cpe.run(DOWN, DownloadURL=error_url(url, server, ftp))
    assert v["DiagnosticsState"] == state


@pytest.mark.parametrize("url, state", [
    ("{http}denied/x", "Error_NoTransferComplete"),
    ("{ftp}/readonly/x", "Error_NoSTOR"),
    ("http://127.0.0.1:{refused}/x", "Error_InitConnectionFailed"),
])
@on_loop
async def test_upload_errors(cpe, ftp, url, state):
    async with http_server() as server:
        v = await cpe.run(UP, UploadURL=error_url(url, server, ftp), TestFileLength=1000)
    assert v["DiagnosticsState"] == state


@pytest.mark.parametrize("name, value", [("DownloadURL", "gopher://127.0.0.1/x"),
                                         ("NumberOfConnections", "0"),
                                         ("NumberOfConnections", "9"),
                                         ("TimeBasedTestDuration", "1000")])
@on_loop
async def test_bad_download_values_are_refused(cpe, name, value):
    assert (await cpe.refused(DOWN, **{name: value})).details[0][1] == 9007


@on_loop
async def test_a_running_download_is_cancelled_by_a_change(cpe):
    async with http_server() as server:
        await cpe.spv(DOWN, DownloadURL=server.url + "endless", TimeBasedTestDuration=30,
                      DiagnosticsState="Requested")
        cpe.diagnostics.after_session()
        await asyncio.sleep(0.5)
        await cpe.spv(DOWN, DSCP=4)
        await asyncio.sleep(0.2)
        assert not cpe.diagnostics._tasks
        assert (await cpe.values(DOWN))["DiagnosticsState"] == "None"
        assert cpe.events == []
