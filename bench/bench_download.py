"""Download throughput and memory of the transfer queue, beside ``curl -o`` in the same run.

A local HTTP server (``python -m http.server`` in its own process, so that neither its CPU
nor its memory is counted as ours) serves a sparse file; the file is then downloaded
``--rounds`` times by ``curl -o`` and by a TransferQueue (Download RPC, worker, pycurl on
the asyncio loop, streaming into the download directory, sandbox apply), alternately.

Memory: the kernel's peak-RSS mark (VmHWM) is reset before each of our downloads
(``/proc/self/clear_refs``), so "peak RSS growth" is the highest resident size reached
during the download minus the resident size before it.

Targets: at least 0.8x curl's throughput, at most 5 MB of RSS growth.

    .venv/bin/python bench/bench_download.py [--size-mb 200] [--rounds 3]
"""

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from icwmpy.store import Store  # noqa: E402
from icwmpy.transfer import TransferConfig, TransferQueue  # noqa: E402
from icwmpy.transport import CurlLoop  # noqa: E402


def status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(directory):
    """``python -m http.server`` of ``directory`` on 127.0.0.1, in its own process so that
    its CPU and memory are not counted as ours: (process, base URL) once it answers."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                               "--directory", directory, str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 10
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return server, url
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.05)


def curl_round(url, target):
    started = time.perf_counter()
    subprocess.run(["curl", "-sS", "--fail", "-o", target, url], check=True, timeout=300)
    elapsed = time.perf_counter() - started
    os.unlink(target)
    return elapsed


async def queue_round(url, workdir, size):
    """One Download through a fresh TransferQueue; (seconds, peak RSS growth in kB)."""
    state = tempfile.mkdtemp(dir=workdir)
    done = asyncio.Event()
    curl_loop = CurlLoop()
    config = TransferConfig(download_dir=os.path.join(state, "downloads"))
    queue = TransferQueue(Store(state), curl_loop, config, done.set)
    worker = asyncio.create_task(queue.run())
    before = status_kb("VmRSS")
    reset_peak()
    started = time.perf_counter()
    queue.download({"CommandKey": "bench", "FileType": "1 Firmware Upgrade Image", "URL": url,
                    "Username": "", "Password": "", "FileSize": size, "TargetFileName": "",
                    "DelaySeconds": 0, "SuccessURL": "", "FailureURL": ""})
    await asyncio.wait_for(done.wait(), 300)
    elapsed = time.perf_counter() - started
    growth = status_kb("VmHWM") - before
    worker.cancel()
    await asyncio.gather(worker, return_exceptions=True)
    curl_loop.close()
    [result] = queue.pending_requests()
    fault = result.args["FaultStruct"]
    if fault["FaultCode"]:
        raise SystemExit(f"download failed: {fault}")
    shutil.rmtree(state)
    return elapsed, growth


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("curl"):
        raise SystemExit("curl is needed for the baseline")
    size = args.size_mb * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="bench-download-") as workdir:
        served = os.path.join(workdir, "served")
        os.mkdir(served)
        with open(os.path.join(served, "image.bin"), "wb") as f:
            f.truncate(size)          # sparse: created instantly, read as zeros
        server, base = start_server(served)
        try:
            url = base + "image.bin"
            curl_times, queue_times, growths = [], [], []
            for _ in range(args.rounds):
                curl_times.append(curl_round(url, os.path.join(workdir, "curl.out")))
                elapsed, growth = asyncio.run(queue_round(url, workdir, size))
                queue_times.append(elapsed)
                growths.append(growth)
        finally:
            server.terminate()
            server.wait(10)
    mb = size / 1e6
    curl_rate = mb / statistics.median(curl_times)
    queue_rate = mb / statistics.median(queue_times)
    print(f"file: {args.size_mb} MiB over http://127.0.0.1, {args.rounds} rounds, medians")
    print(f"curl -o        : {curl_rate:8.1f} MB/s  ({statistics.median(curl_times):.2f} s)")
    print(f"TransferQueue  : {queue_rate:8.1f} MB/s  ({statistics.median(queue_times):.2f} s)"
          f"  = {queue_rate / curl_rate:.2f}x curl (target >= 0.8x)")
    print(f"peak RSS growth: {max(growths) / 1024:.1f} MB max over rounds "
          f"({', '.join(f'{g / 1024:.1f}' for g in growths)}) (target <= 5 MB)")


if __name__ == "__main__":
    main()
