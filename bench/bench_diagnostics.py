"""TR-143 diagnostics: DownloadDiagnostics throughput beside ``curl -o /dev/null`` of the same
file in the same run, and how many short tests complete per second.

A local HTTP server (``python -m http.server`` in its own process) serves a sparse file; it
is fetched ``--rounds`` times by curl and by DownloadDiagnostics (SetParameterValues on the
shipped data model, the runner after the "session", pycurl on the asyncio loop, the results
persisted), alternately. Our time is the whole test, from the SPV to the persisted result;
TR-143's own figure (TestBytesReceived over EOMTime - BOMTime) is shown beside it.

Tests per second: ``--count`` IPPing tests of 127.0.0.1 with one repetition, and as many
UDPEchoDiagnostics against icwmpy's own UDPEchoConfig responder, one after the other,
each a full request -> run -> persisted result -> 8 DIAGNOSTICS COMPLETE queued.

Target: at least 0.8x curl's throughput.

    .venv/bin/python bench/bench_diagnostics.py [--size-mb 200] [--rounds 3] [--count 200]
"""

import argparse
import asyncio
import datetime
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from icwmpy.config.uci import Uci  # noqa: E402
from icwmpy.diagnostics import Diagnostics  # noqa: E402
from icwmpy.model import DataModel  # noqa: E402
from icwmpy.store import Store  # noqa: E402

from bench_download import start_server  # noqa: E402  (its http.server of a directory)

DATAMODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "datamodel")
IP = "Device.IP.Diagnostics."


def curl_round(url):
    started = time.perf_counter()
    subprocess.run(["curl", "-sS", "--fail", "-o", "/dev/null", url], check=True, timeout=300)
    return time.perf_counter() - started


def moment(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.UTC).timestamp()


class Cpe:
    """A data model and its diagnostics runner, as the Agent composes them."""

    def __init__(self, directory):
        os.makedirs(os.path.join(directory, "config"), exist_ok=True)
        store = Store(os.path.join(directory, "state"))
        self.model = DataModel.from_dir(DATAMODEL, Uci(os.path.join(directory, "config")), store)
        self.executor = ThreadPoolExecutor(1)
        self.events = []
        self.done = asyncio.Queue()
        self.diagnostics = Diagnostics(store, self.model, self.run_model, self.events.append,
                                       self.done.put_nowait, logging.getLogger("bench"))

    async def run_model(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def test(self, path, **values):
        items = [(path + k, str(v), None) for k, v in values.items()]
        await self.run_model(self.model.set_values, items + [(path + "DiagnosticsState",
                                                              "Requested", None)])
        self.diagnostics.after_session()
        detail = await self.done.get()
        assert detail["state"] == "Complete", detail
        return detail["results"]


async def download_round(cpe, url):
    started = time.perf_counter()
    results = await cpe.test(IP + "DownloadDiagnostics.", DownloadURL=url)
    elapsed = time.perf_counter() - started
    return elapsed, int(results["TestBytesReceived"]) / (
        moment(results["EOMTime"]) - moment(results["BOMTime"]))


async def rate(cpe, count, path, **values):
    started = time.perf_counter()
    for _ in range(count):
        await cpe.test(path, **values)
    return count / (time.perf_counter() - started)


async def main(args):
    size = args.size_mb * 1024 * 1024
    with tempfile.TemporaryDirectory() as tmp:
        served = os.path.join(tmp, "www")
        os.makedirs(served)
        with open(os.path.join(served, "file.bin"), "wb") as f:
            f.truncate(size)
        server, url = start_server(served)
        cpe = Cpe(os.path.join(tmp, "cpe"))
        await cpe.diagnostics.start()
        try:
            ours, tr143, theirs = [], [], []
            for _ in range(args.rounds):
                theirs.append(curl_round(url + "file.bin"))
                elapsed, own = await download_round(cpe, url + "file.bin")
                ours.append(elapsed)
                tr143.append(own)
            await cpe.run_model(cpe.model.set_values, [(IP + "UDPEchoConfig.Enable", "1", None),
                                                       (IP + "UDPEchoConfig.UDPPort", "0", None)])
            await asyncio.sleep(0.2)
            pings = await rate(cpe, args.count, IP + "IPPing.", Host="127.0.0.1",
                               NumberOfRepetitions=1)
            echoes = await rate(cpe, args.count, IP + "UDPEchoDiagnostics.", Host="127.0.0.1",
                                Port=cpe.diagnostics.echo.port, NumberOfRepetitions=1)
        finally:
            await cpe.diagnostics.close()
            cpe.executor.shutdown()
            server.kill()
            server.wait()
    mb = size / 1e6
    best_ours, best_curl = min(ours), min(theirs)
    print(f"DownloadDiagnostics of {args.size_mb} MiB over loopback HTTP, best of {args.rounds}:")
    print(f"  icwmpy (SPV to persisted result) {mb / best_ours:8.0f} MB/s "
          f"(median {mb / statistics.median(ours):.0f})")
    print(f"  TR-143's own figure (EOM - BOM)   {max(tr143) / 1e6:8.0f} MB/s")
    print(f"  curl -o /dev/null                 {mb / best_curl:8.0f} MB/s "
          f"(median {mb / statistics.median(theirs):.0f})")
    print(f"  ratio icwmpy / curl               {best_curl / best_ours:8.2f}  (target >= 0.8; "
          f"of the medians {statistics.median(theirs) / statistics.median(ours):.2f})")
    print(f"Tests completed per second, {args.count} each, one after the other:")
    print(f"  IPPing of 127.0.0.1, 1 repetition              {pings:8.0f}/s")
    print(f"  UDPEchoDiagnostics to UDPEchoConfig, 1 packet  {echoes:8.0f}/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=200)
    asyncio.run(main(parser.parse_args()))
