"""icwmpy.transfer against real file servers on 127.0.0.1: HTTP(S) (tests/acs.py HttpServer
and raw asyncio servers that misbehave on purpose) and FTP (pyftpdlib in a thread).

Crash recovery is tested by abandoning a queue at a chosen moment (its worker cancelled,
nothing else done) and building a new one over a new Store of the same directory: what the
new queue sees is only what the first one had persisted.
"""

import asyncio
import base64
import contextlib
import hashlib
import os
import socket
import sys
import time

import pytest

from acs import HttpServer, Response, run
from certs import make_pki
from ftpserver import ftp_server
from icwmpy import digest
from icwmpy.faults import CwmpFault
from icwmpy.store import Store
from icwmpy.transfer import ApplyHook, TransferConfig, TransferQueue, UploadSource, WireOptions
from icwmpy.transfer.apply import SANDBOX
from icwmpy.transport import CurlLoop

REALM = "files"
FIRMWARE = "1 Firmware Upgrade Image"
CONFIG = "3 Vendor Configuration File"


def blob(size, seed=0):
    """``size`` bytes that differ from one offset to the next (a truncation shows)."""
    block = hashlib.sha256(str(seed).encode()).digest() * 2048
    return (block * (size // len(block) + 1))[:size]


# ---------------------------------------------------------------- servers


class Files:
    """Handler of a file server: GET of ``files`` (under any directory), Basic under
    /basic/, Digest under /digest/, /loop redirects to itself, /error is a 500, PUT and
    POST are recorded in ``uploads``."""

    def __init__(self, **files):
        self.files = files
        self.uploads = []
        self.gets = 0
        self.hold_first = False     # the first GET hangs before answering

    async def __call__(self, request):
        path = request.target.split("?")[0]
        if path.startswith("/basic/") and not self._basic_ok(request):
            return Response(401, headers=(("WWW-Authenticate", f'Basic realm="{REALM}"'),))
        if path.startswith("/digest/") and not self._digest_ok(request):
            nonce = os.urandom(8).hex()
            return Response(401, headers=(("WWW-Authenticate",
                                           f'Digest realm="{REALM}", qop="auth", nonce="{nonce}"'),))
        if request.method in ("PUT", "POST"):
            if path.startswith("/missing/"):
                return Response(404)
            self.uploads.append((request.method, path, request.body))
            return Response(201)
        if path == "/loop":
            return Response(302, headers=(("Location", "/loop"),))
        if path == "/error":
            return Response(500)
        self.gets += 1
        if self.hold_first and self.gets == 1:
            await asyncio.sleep(60)
        name = path.rsplit("/", 1)[-1]
        if name in self.files:
            return Response(200, self.files[name])
        return Response(404)

    @staticmethod
    def _basic_ok(request):
        expected = "Basic " + base64.b64encode(b"u:p").decode()
        return request.headers.get("authorization") == expected

    @staticmethod
    def _digest_ok(request):
        scheme, params = digest.parse_params(request.headers.get("authorization", ""))
        if scheme != "digest" or params.get("uri") != request.target:
            return False
        expected = digest.response(username="u", password="p", realm=REALM,
                                   method=request.method, uri=params["uri"],
                                   nonce=params.get("nonce", ""), nc=params.get("nc"),
                                   cnonce=params.get("cnonce"), qop=params.get("qop"))
        return params.get("username") == "u" and params.get("response") == expected


@contextlib.asynccontextmanager
async def http_files(files, tls=None):
    server = HttpServer(files, tls=tls)
    await server.start()
    try:
        yield server.url.rstrip("/")
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def broken_server(sent, announced, then):
    """Announces ``announced`` bytes, sends ``sent``, then ``"stall"``s or ``"cut"``s;
    ``"silent"`` reads the request and never answers."""
    done = asyncio.Event()

    async def serve(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        if then != "silent":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % announced
                         + blob(sent))
            await writer.drain()
        if then in ("stall", "silent"):
            await done.wait()
        writer.transport.abort()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        done.set()
        server.close()


def refused_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/file"


@pytest.fixture(scope="module")
def ftp(tmp_path_factory):
    """An FTP server (user u, password p) over a directory; yields (url, directory)."""
    root = tmp_path_factory.mktemp("ftp")
    (root / "image.bin").write_bytes(blob(300_000, 7))
    with ftp_server(root) as port:
        yield f"ftp://127.0.0.1:{port}", root


# ---------------------------------------------------------------- the queue under test


class Cpe:
    """A queue over ``tmp_path/state`` and what its callbacks saw."""

    def __init__(self, tmp_path, **config):
        wire = config.pop("wire", {})
        self.dir = str(tmp_path / "state")
        self.store = Store(self.dir)
        self.curl = CurlLoop()
        self.ready = 0
        defaults = dict(download_dir=os.path.join(self.dir, "downloads"), retry_delay=0.2,
                        wire=WireOptions(**{"connect_timeout": 5, "low_speed_limit": 1000,
                                            "low_speed_time": 1, **wire}))
        self.queue = TransferQueue(self.store, self.curl, TransferConfig(**{**defaults, **config}),
                                   self._on_ready)
        self.worker = None

    def _on_ready(self):
        self.ready += 1

    def start(self):
        self.worker = asyncio.create_task(self.queue.run())

    async def abandon(self):
        """Stop as a crash would: the worker stops where it is, nothing is tidied up."""
        self.worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.worker
        self.curl.close()

    async def results(self, count=1, timeout=10):
        """Run the worker until ``count`` TransferCompletes wait; {CommandKey: args}."""
        if self.worker is None:
            self.start()
        await until(lambda: len(self.queue.pending_requests()) >= count, timeout)
        return {r.args["CommandKey"]: r.args for r in self.queue.pending_requests()}

    def record(self, key):
        return next(r for k, r in self.queue._records() if r["command_key"] == key)


async def until(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def download_args(url, key="k", file_type=FIRMWARE, size=0, delay=0, username="", password=""):
    return {"CommandKey": key, "FileType": file_type, "URL": url, "Username": username,
            "Password": password, "FileSize": size, "TargetFileName": "", "DelaySeconds": delay,
            "SuccessURL": "", "FailureURL": ""}


def upload_args(url, key="up", file_type="1 Vendor Configuration File"):
    return {"CommandKey": key, "FileType": file_type, "URL": url, "Username": "u",
            "Password": "p", "DelaySeconds": 0}


def schedule_args(url, windows, key="s", size=0):
    return {"CommandKey": key, "FileType": FIRMWARE, "URL": url, "Username": "", "Password": "",
            "FileSize": size, "TargetFileName": "",
            "TimeWindowList": [{"WindowStart": start, "WindowEnd": end, "WindowMode": mode,
                                "UserMessage": "", "MaxRetries": retries}
                               for start, end, mode, retries in windows]}


def code(result):
    return result["FaultStruct"]["FaultCode"]


def applied(cpe):
    """Contents of the sandbox's applied files, by CommandKey."""
    return {a["command_key"]: open(a["path"], "rb").read() for a in cpe.queue.ns.get("applied")}


# ---------------------------------------------------------------- downloads


def test_downloads_of_several_sizes_complete_and_are_applied(tmp_path):
    sizes = {"small": 3_000, "medium": 1_000_000, "large": 20_000_000}
    files = Files(**{name: blob(size, name) for name, size in sizes.items()})

    async def scenario():
        cpe = Cpe(tmp_path)
        async with http_files(files) as url:
            for name, size in sizes.items():
                assert cpe.queue.download(download_args(f"{url}/fw/{name}", name, size=size)) \
                    == (1, None, None)
            assert cpe.queue.queued() == [{"CommandKey": n, "State": 1} for n in sizes]
            results = await cpe.results(3)
        await cpe.abandon()
        return cpe, results

    cpe, results = run(scenario(), 30)
    assert {key: code(r) for key, r in results.items()} == dict.fromkeys(sizes, 0)
    assert all(r["StartTime"] <= r["CompleteTime"] for r in results.values())
    assert applied(cpe) == files.files
    assert cpe.queue.all_queued()[2] == {"CommandKey": "large", "State": 3, "IsDownload": True,
                                         "FileType": FIRMWARE, "FileSize": 20_000_000,
                                         "TargetFileName": ""}
    assert cpe.queue.pending_events() == [("7 TRANSFER COMPLETE", ""), ("M Download", "small"),
                                          ("M Download", "medium"), ("M Download", "large")]
    assert cpe.ready >= 1
    for request in cpe.queue.pending_requests():
        cpe.queue.delivered(request.token)
    assert cpe.queue.pending_requests() == [] and cpe.queue.pending_events() == []
    assert cpe.queue.queued() == []
    assert not [n for n in os.listdir(cpe.queue.config.download_dir) if n != "applied"]


def test_download_of_200_mb_streams_to_disk(tmp_path):
    """A firmware-sized file, served from disk by a separate process, lands intact; the
    queue's process does not grow by the file's size (it streams)."""
    served = tmp_path / "www"
    served.mkdir()
    image = served / "image.bin"
    size = 200 * 1024 * 1024
    with open(image, "wb") as f:
        for i in range(200):
            f.write(bytes([i]) * 1024 * 1024)

    def rss_kib():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))

    async def scenario():
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "0",
            "--directory", str(served), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL)
        line = (await server.stdout.readline()).decode()
        port = int(line.split(" port ")[1].split()[0])
        # A busy CI disk can pause a 200 MB write for over a second: the 1 s stall limit
        # the other tests use would abandon a healthy transfer.
        cpe = Cpe(tmp_path, wire={"low_speed_time": 30})
        before = rss_kib()
        cpe.queue.download(download_args(f"http://127.0.0.1:{port}/image.bin", "big", size=size))
        results = await cpe.results(1, timeout=60)
        growth = rss_kib() - before
        await cpe.abandon()
        server.kill()
        await server.wait()
        return cpe, results, growth

    cpe, results, growth = run(scenario(), 90)
    assert code(results["big"]) == 0
    [record] = cpe.queue.ns.get("applied")
    assert os.path.getsize(record["path"]) == size
    with open(record["path"], "rb") as got, open(image, "rb") as want:
        while chunk := want.read(1 << 22):
            assert got.read(1 << 22) == chunk
    assert growth < 20 * 1024   # KiB: streamed, never held in memory
    os.unlink(record["path"])   # 400 MB less left behind in the temp dir
    os.unlink(image)


def test_https_with_basic_and_digest_and_an_untrusted_server(tmp_path):
    pki = make_pki(tmp_path)
    files = Files(image=blob(50_000))

    async def scenario():
        cpe = Cpe(tmp_path, wire={"ca_path": pki.ca_file})
        async with http_files(files, tls=(pki.server_cert, pki.server_key)) as url:
            cpe.queue.download(download_args(f"{url}/basic/image", "basic", username="u",
                                             password="p"))
            cpe.queue.download(download_args(f"{url}/digest/image", "digest", username="u",
                                             password="p"))
            cpe.queue.download(download_args(f"{url}/digest/image", "wrong", username="u",
                                             password="x"))
            results = await cpe.results(3)
        await cpe.abandon()
        other = Cpe(tmp_path / "other", wire={"ca_path": pki.other_ca_file})
        async with http_files(files, tls=(pki.server_cert, pki.server_key)) as url:
            other.queue.download(download_args(f"{url}/image", "untrusted"))
            results.update(await other.results())
        await other.abandon()
        return results

    results = run(scenario())
    assert {key: code(r) for key, r in results.items()} == {
        "basic": 0, "digest": 0, "wrong": 9012, "untrusted": 9012}
    assert results["wrong"]["CompleteTime"] is None and results["wrong"]["StartTime"]


def test_download_failures_get_their_fault_codes(tmp_path):
    files = Files(image=blob(10_000))
    check_fails = {CONFIG: ApplyHook(check=(("false",),))}

    async def scenario():
        cpe = Cpe(tmp_path, hooks=check_fails, max_queue=16)
        async with http_files(files) as url, \
                broken_server(100, 100_000, "stall") as stall, \
                broken_server(20_000, 100_000, "cut") as cut, \
                broken_server(0, 0, "silent") as silent:
            cases = {"unauthorized": f"{url}/basic/image", "missing": f"{url}/nothing",
                     "error": f"{url}/error", "loop": f"{url}/loop", "refused": refused_url(),
                     "stall": f"{stall}/image", "cut": f"{cut}/image",
                     "silent": f"{silent}/image"}
            for key, target in cases.items():
                cpe.queue.download(download_args(target, key, file_type=CONFIG))
            cpe.queue.download(download_args(f"{url}/image", "size", file_type=CONFIG,
                                             size=9_999))
            cpe.queue.download(download_args(f"{url}/image", "check", file_type=CONFIG))
            results = await cpe.results(10, timeout=20)
        await cpe.abandon()
        return results

    results = run(scenario(), 30)
    assert {key: code(r) for key, r in results.items()} == {
        "unauthorized": 9012, "missing": 9016, "error": 9010, "loop": 9016, "refused": 9015,
        "stall": 9017, "cut": 9017, "silent": 9017, "size": 9018, "check": 9018}
    assert "HTTP 404" in results["missing"]["FaultStruct"]["FaultString"]


def test_ftp_download_and_upload(tmp_path, ftp):
    ftp_url, root = ftp
    log = tmp_path / "icwmpd.log"
    log.write_bytes(blob(70_000, "log"))
    sources = {"2 Vendor Log File": UploadSource(path=str(log))}

    async def scenario():
        cpe = Cpe(tmp_path, upload_sources=sources)
        base = ftp_url.replace("ftp://", "ftp://u:p@")
        cpe.queue.download(download_args(f"{base}/image.bin", "get"))
        cpe.queue.download(download_args(f"{base}/absent.bin", "absent"))
        cpe.queue.download(download_args(f"{ftp_url}/image.bin", "login", username="u",
                                         password="bad"))
        cpe.queue.upload(upload_args(f"{ftp_url}/up.log", "put", "2 Vendor Log File"))
        results = await cpe.results(4)
        await cpe.abandon()
        return cpe, results

    cpe, results = run(scenario())
    assert {key: code(r) for key, r in results.items()} == {
        "get": 0, "absent": 9016, "login": 9012, "put": 0}
    assert applied(cpe) == {"get": (root / "image.bin").read_bytes()}
    assert (root / "up.log").read_bytes() == log.read_bytes()


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_http_upload_of_a_command_output(tmp_path, method):
    export = blob(2_000_000, "config")
    script = tmp_path / "export.py"
    script.write_text(f"import sys, hashlib\nsys.stdout.buffer.write("
                      f"(hashlib.sha256(b'config').digest() * 2048 * 31)[:{len(export)}])\n")
    sources = {"1 Vendor Configuration File": UploadSource(command=(sys.executable, str(script))),
               "2 Vendor Log File": UploadSource(command=("false",))}
    files = Files()

    async def scenario():
        cpe = Cpe(tmp_path, upload_sources=sources, upload_method=method)
        async with http_files(files) as url:
            cpe.queue.upload(upload_args(f"{url}/basic/cfg", "ok"))
            cpe.queue.upload(upload_args(f"{url}/digest/cfg", "digest"))
            cpe.queue.upload(upload_args(f"{url}/missing/cfg", "missing"))
            cpe.queue.upload(upload_args(f"{url}/log", "failing", "2 Vendor Log File"))
            cpe.queue.upload(upload_args(refused_url(), "refused"))
            results = await cpe.results(5)
        await cpe.abandon()
        return cpe, results

    cpe, results = run(scenario())
    assert {key: code(r) for key, r in results.items()} == {
        "ok": 0, "digest": 0, "missing": 9011, "failing": 9011, "refused": 9015}
    assert files.uploads == [(method, "/basic/cfg", export), (method, "/digest/cfg", export)]
    assert cpe.queue.pending_events()[1:] == [("M Upload", k) for k in results]
    assert not any(r["IsDownload"] for r in cpe.queue.all_queued())


# ---------------------------------------------------------------- RPC answers


def test_rpc_checks_answer_with_faults(tmp_path):
    cpe = Cpe(tmp_path, max_queue=2, max_file_size=1000,
              hooks={"1 Firmware Upgrade Image": SANDBOX})   # a device without tones
    url = "http://127.0.0.1:1/f"
    for args, expected in [
        (download_args(url, file_type="4 Tone File"), 9003),
        (download_args(url, file_type="X 001122 Thing"), 9003),
        (download_args("tftp://127.0.0.1/f"), 9013),
        (download_args("file:///etc/passwd"), 9013),
        (download_args("http:///nohost"), 9003),
        (download_args("http://127.0.0.1:port/f"), 9003),
        (download_args("http://127.0.0.1/fichier-\u00e9t\u00e9"), 9003),
        (download_args(url, size=1001), 9010),
    ]:
        with pytest.raises(CwmpFault) as fault:
            cpe.queue.download(args)
        assert fault.value.code == expected, args
    with pytest.raises(CwmpFault) as fault:
        cpe.queue.upload(upload_args(url, file_type="4 Vendor Log File 9"))
    assert fault.value.code == 9003
    with pytest.raises(CwmpFault) as fault:
        cpe.queue.change_du_state({"Operations": [], "CommandKey": ""})
    assert fault.value.code == 9003
    cpe.queue.download(download_args(url, "a", delay=100))
    cpe.queue.upload(upload_args(url, "b"))
    with pytest.raises(CwmpFault) as fault:
        cpe.queue.download(download_args(url, "c"))
    assert fault.value.code == 9004
    assert [t["CommandKey"] for t in cpe.queue.queued()] == ["a", "b"]


def test_cancel_only_what_has_not_started(tmp_path):
    files = Files(image=blob(1000))

    async def scenario():
        cpe = Cpe(tmp_path, wire={"low_speed_time": 30})
        async with http_files(files) as url, broken_server(100, 1000, "stall") as stall:
            cpe.queue.download(download_args(f"{stall}/x", "running"))
            cpe.queue.download(download_args(f"{url}/image", "later", delay=100))
            cpe.queue.download(download_args(f"{url}/image", "later", delay=200))
            cpe.start()
            await until(lambda: cpe.record("running")["state"] == 2)
            faults = {}
            for key in ("running", "unknown"):
                with pytest.raises(CwmpFault) as fault:
                    cpe.queue.cancel(key)
                faults[key] = fault.value.code
            cpe.queue.cancel("later")
            remaining = cpe.queue.queued()
            await cpe.abandon()
        return faults, remaining

    faults, remaining = run(scenario())
    assert faults == {"running": 9021, "unknown": 9021}
    assert remaining == [{"CommandKey": "running", "State": 2}]


def test_discard_forgets_queued_running_and_finished_transfers(tmp_path):
    files = Files(image=blob(1000))

    async def scenario():
        cpe = Cpe(tmp_path, wire={"low_speed_time": 30})
        async with http_files(files) as url, broken_server(100, 1000, "stall") as stall:
            cpe.queue.download(download_args(f"{url}/image", "done"))
            await cpe.results()
            cpe.queue.download(download_args(f"{stall}/x", "running"))
            cpe.queue.download(download_args(f"{url}/image", "queued", delay=100))
            await until(lambda: cpe.record("running")["state"] == 2)
            cpe.queue.discard()
            assert cpe.queue.queued() == [] and cpe.queue.pending_requests() == []
            cpe.queue.download(download_args(f"{url}/image", "new ACS"))
            results = await cpe.results()        # the worker survived the discard
        await cpe.abandon()
        return cpe, results

    cpe, results = run(scenario())
    assert list(results) == ["new ACS"] and code(results["new ACS"]) == 0
    assert not [n for n in os.listdir(cpe.queue.config.download_dir) if n != "applied"]


def test_progress_is_reported_about_once_a_second(tmp_path):
    async def serve(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 120000\r\n\r\n")
        for _ in range(12):
            writer.write(blob(10_000))
            await writer.drain()
            await asyncio.sleep(0.11)
        writer.close()

    async def scenario():
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        # libcurl measures speed per whole second: a 1 s low-speed window races it
        cpe = Cpe(tmp_path, wire={"low_speed_time": 30})
        reports = []
        cpe.queue.progress = lambda *report: reports.append(report)
        port = server.sockets[0].getsockname()[1]
        cpe.queue.download(download_args(f"http://127.0.0.1:{port}/slow", "slow"))
        results = await cpe.results()
        await cpe.abandon()
        server.close()
        return results, reports

    results, reports = run(scenario())
    assert code(results["slow"]) == 0
    assert 1 <= len(reports) <= 2
    key, done, total, rate = reports[0]
    assert key == "slow" and 0 < done < total == 120_000 and rate > 0


# ---------------------------------------------------------------- ScheduleDownload


def test_schedule_download_windows(tmp_path):
    files = Files(image=blob(5000))

    async def scenario():
        cpe = Cpe(tmp_path)
        async with http_files(files) as url:
            began = time.time()
            cpe.queue.schedule_download(schedule_args(f"{url}/image", [
                (1, 5, "2 Immediately", 0), (0, 1, "4 Confirmation Needed", -1)], "second"))
            cpe.queue.schedule_download(schedule_args(f"{url}/gone", [
                (0, 1, "1 At Any Time", 2)], "expired"))
            assert cpe.queue.queued() == [{"CommandKey": "second", "State": 1},
                                          {"CommandKey": "expired", "State": 1}]
            results = await cpe.results(2)
            gets = files.gets
        await cpe.abandon()
        return began, results, gets

    began, results, gets = run(scenario())
    assert code(results["second"]) == 0
    assert results["second"]["StartTime"].timestamp() >= began + 1
    assert code(results["expired"]) == 9020
    assert "9016" in results["expired"]["FaultStruct"]["FaultString"]
    assert gets == 1 + 3        # one success, three attempts (MaxRetries 2) at the missing file


def test_schedule_download_window_ends_mid_transfer(tmp_path):
    async def scenario():
        cpe = Cpe(tmp_path, wire={"low_speed_time": 30})
        async with broken_server(100, 1000, "stall") as stall:
            cpe.queue.schedule_download(schedule_args(f"{stall}/x", [(0, 1, "1 At Any Time", -1)]))
            results = await cpe.results()
        await cpe.abandon()
        return results

    results = run(scenario())
    assert code(results["s"]) == 9020


def test_schedule_download_arguments_are_checked(tmp_path):
    cpe = Cpe(tmp_path)
    url = "http://127.0.0.1:1/f"
    for windows in ([], [(5, 5, "1 At Any Time", 0)], [(0, 10, "1 At Any Time", 0),
                                                       (5, 20, "1 At Any Time", 0)],
                    [(0, 10, "9 Never", 0)], [(0, 10, "1 At Any Time", -2)]):
        with pytest.raises(CwmpFault) as fault:
            cpe.queue.schedule_download(schedule_args(url, windows))
        assert fault.value.code == 9003, windows


# ---------------------------------------------------------------- crash recovery


def test_crash_during_transfer_restarts_it(tmp_path):
    files = Files(image=blob(100_000))
    files.hold_first = True

    async def scenario():
        async with http_files(files) as url:
            first = Cpe(tmp_path)
            first.queue.download(download_args(f"{url}/image", "fw", size=100_000))
            first.start()
            await until(lambda: files.gets == 1)
            assert first.record("fw")["phase"] == "transferring"
            started = first.record("fw")["start"]
            await first.abandon()
            second = Cpe(tmp_path)
            assert second.queue.queued() == [{"CommandKey": "fw", "State": 2}]
            results = await second.results()
            await second.abandon()
        return started, second, results

    started, second, results = run(scenario())
    assert list(results) == ["fw"] and code(results["fw"]) == 0
    assert results["fw"]["StartTime"].timestamp() == pytest.approx(started, abs=1e-3)
    assert applied(second) == {"fw": files.files["image"]}


def test_crash_loop_fails_the_transfer(tmp_path):
    async def scenario():
        async with broken_server(10, 1000, "stall") as stall:
            first = Cpe(tmp_path, max_restarts=0, wire={"low_speed_time": 30})
            first.queue.download(download_args(f"{stall}/x", "fw"))
            first.start()
            await until(lambda: first.record("fw")["phase"] == "transferring")
            await first.abandon()
        second = Cpe(tmp_path, max_restarts=0)
        return second.queue.pending_requests()

    requests = run(scenario())
    assert [(r.args["CommandKey"], code(r.args)) for r in requests] == [("fw", 9010)]


def test_crash_after_the_apply_marker_delivers_once(tmp_path):
    image = blob(40_000)
    flashed = tmp_path / "flashed"
    firmware = {FIRMWARE: ApplyHook(check=(("test", "-s", "{file}"),),
                                    apply=(("cp", "{file}", str(flashed)),), reboots=True)}

    async def scenario():
        async with http_files(Files(image=image)) as url:
            first = Cpe(tmp_path, hooks=firmware)
            first.queue.download(download_args(f"{url}/image", "fw"))
            first.start()
            await until(lambda: first.record("fw")["phase"] == "applying")
            assert first.queue.pending_requests() == []   # sent after the reboot
            await until(lambda: flashed.exists() and flashed.stat().st_size == len(image))
            await first.abandon()
        second = Cpe(tmp_path, hooks=firmware)             # the device came back
        return second

    second = run(scenario())
    requests = second.queue.pending_requests()
    assert [(r.args["CommandKey"], code(r.args)) for r in requests] == [("fw", 0)]
    assert requests[0].args["CompleteTime"] is not None
    assert ("M Download", "fw") in second.queue.pending_events()
    assert flashed.read_bytes() == image
    assert os.listdir(second.queue.config.download_dir) == []   # the image is gone
    second.queue.delivered(requests[0].token)
    assert Cpe(tmp_path, hooks=firmware).queue.pending_requests() == []


def test_result_persisted_but_not_delivered_survives_once(tmp_path):
    async def scenario():
        async with http_files(Files()) as url:
            first = Cpe(tmp_path)
            first.queue.download(download_args(f"{url}/absent", "fw"))
            await first.results()
            await first.abandon()

    run(scenario())
    second = Cpe(tmp_path)
    requests = second.queue.pending_requests()
    assert [(r.args["CommandKey"], code(r.args)) for r in requests] == [("fw", 9016)]
    second.queue.delivered(requests[0].token)
    second.queue.delivered(requests[0].token)        # a repeated acknowledgement is harmless
    assert Cpe(tmp_path).queue.pending_requests() == []


def test_every_standard_file_type_is_accepted_and_vendor_types_refused(tmp_path):
    from icwmpy.transfer.apply import FILE_TYPES, openwrt_hooks
    assert set(openwrt_hooks()) == set(FILE_TYPES)
    cpe = Cpe(tmp_path)
    for n, file_type in enumerate(FILE_TYPES):
        assert cpe.queue.download(download_args("http://127.0.0.1:1/f", f"k{n}",
                                                file_type=file_type, delay=3600)) == (1, None, None)
    with pytest.raises(CwmpFault) as fault:
        cpe.queue.download(download_args("http://127.0.0.1:1/f", file_type="X 00D09E Vendor"))
    assert fault.value.code == 9003
