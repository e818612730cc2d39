"""Session speed, GetParameterValues of 10,000 parameters, and idle daemon memory.

1. A full session on loopback against the test ACS (in its own process): Inform,
   GetParameterValues of 100 parameters, SetParameterValues of 10, empty POST, 204.
   Median wall time and CPU of the agent per session, beside a baseline in the same run
   that POSTs the very same bytes with plain pycurl and no agent logic. Target <= 2x.
2. GetParameterValues of 10,000 parameters: request parse + data model + response build
   + serialize, beside building the same response XML by bare string concatenation.
   Target <= 100 ms.
3. RSS of an idle icwmpd after its bootstrap session, beside a bare Python interpreter.
   Target <= 35 MB.

Run: .venv/bin/python bench/bench_session.py
"""

import asyncio
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from xml.sax.saxutils import escape

import pycurl

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import acs as A  # noqa: E402
from cpe import Cpe  # noqa: E402

ROUNDS, WARMUP = 30, 3
GPV_NAMES = [f"Device.Bench.Item.{n}." for n in range(1, 11)]            # 10 x 10 = 100 values
SPV_VALUES = [(f"Device.Bench.Item.{n}.P0", f"v{n}") for n in range(1, 11)]


def bench_definitions(instances, per_instance=10):
    spec = {"_table": {"store": True, "access": "readWrite", "count": False}}
    for i in range(per_instance):
        spec[f"P{i}"] = {"type": "string", "access": "readWrite", "default": f"value-{i}"}
    return {"Device.Bench.Item.{i}.": spec}, instances


def datamodel_dir(root, instances):
    """The real definitions plus a store-backed bench table with ``instances`` rows."""
    target = Path(root) / "datamodel"
    shutil.copytree(REPO / "datamodel", target)
    defs, _ = bench_definitions(instances)
    (target / "zz-bench.json").write_text(json.dumps(defs))
    return target


def seed_instances(statedir, instances):
    from icwmpy.store import Store
    Store(str(statedir))["tables"].set("Device.Bench.Item.", [str(n) for n in range(1, instances + 1)])
    Store(str(statedir))["instances"].set("Device.Bench.Item.", {
        "next": instances + 1, "map": {str(n): n for n in range(1, instances + 1)}})


# ------------------------------------------------------------------ the ACS process
def acs_process(conn, sessions):
    async def main():
        acs = A.Acs()
        await acs.start()

        async def script():
            """The ACS's queue is global: give each session its own two requests."""
            for n in range(1, sessions + 1):
                acs.queue(A.get_parameter_values(*GPV_NAMES), A.set_parameter_values(SPV_VALUES, "k"))
                await acs.wait_session(n, timeout=600)

        scripting = asyncio.create_task(script())
        conn.send(acs.url)
        while True:
            command = await asyncio.get_running_loop().run_in_executor(None, conn.recv)
            if command == "last":
                last = acs.sessions[-1]
                conn.send([m.raw for m in last.messages])
            elif command == "count":
                conn.send(len([s for s in acs.sessions if s.ended]))
            else:
                break
        scripting.cancel()
        await acs.stop()
    asyncio.run(main())


def start_acs(sessions):
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.Process(target=acs_process, args=(child, sessions), daemon=True)
    proc.start()
    return proc, parent, parent.recv()


# ------------------------------------------------------------------ 1. sessions
async def agent_sessions(root, url):
    """Run WARMUP + ROUNDS sessions through an in-process Agent; [(wall, cpu)] each."""
    from icwmpy.agent import Agent
    from icwmpy.config.settings import load_settings
    from icwmpy.config.uci import Uci
    from icwmpy.model import DataModel
    from icwmpy.store import Store
    from icwmpy.transfer import TransferConfig, TransferQueue
    from icwmpy.transport import CurlLoop

    cpe = Cpe(root, url, {("cpe", "periodic_notify_enable"): "0", ("cpe", "log_severity"): "WARNING"})
    seed_instances(cpe.statedir, 10)
    uci, store = Uci(str(cpe.confdir)), Store(str(cpe.statedir))
    model = DataModel.from_dir(str(datamodel_dir(root, 10)), uci, store)
    curl = CurlLoop()
    transfers = TransferQueue(store, curl, TransferConfig(str(cpe.statedir / "downloads")), lambda: None)
    agent = Agent(confdir=str(cpe.confdir), settings=load_settings(str(cpe.confdir), uci=uci),
                  model=model, uci=uci, store=store, transfers=transfers,
                  executor=ThreadPoolExecutor(1))
    ended = asyncio.Event()
    agent.listeners.append(lambda event, detail: event == "ended" and ended.set())
    runner = asyncio.create_task(agent.run())
    await asyncio.wait_for(ended.wait(), 20)   # the bootstrap session
    results = []
    for _ in range(WARMUP + ROUNDS):
        ended.clear()
        wall, cpu = time.perf_counter(), time.process_time()
        agent.trigger("6 CONNECTION REQUEST")
        await asyncio.wait_for(ended.wait(), 20)
        results.append((time.perf_counter() - wall, time.process_time() - cpu))
    agent.stop()
    await runner
    curl.close()
    return results[WARMUP:]


def baseline_sessions(url, bodies):
    """POST the recorded bytes with plain pycurl: one handle, cookies, no agent logic."""
    results = []
    for _ in range(WARMUP + ROUNDS):
        wall, cpu = time.perf_counter(), time.process_time()
        easy = pycurl.Curl()
        easy.setopt(pycurl.URL, url)
        easy.setopt(pycurl.COOKIEFILE, "")
        easy.setopt(pycurl.HTTPHEADER, ['Content-Type: text/xml; charset="utf-8"', "Expect:"])
        easy.setopt(pycurl.WRITEFUNCTION, lambda chunk: None)
        for body in bodies:
            easy.setopt(pycurl.POSTFIELDS, body)
            easy.perform()
        easy.close()
        results.append((time.perf_counter() - wall, time.process_time() - cpu))
    return results[WARMUP:]


def session_benchmark(root):
    proc, conn, url = start_acs(1 + WARMUP + ROUNDS + WARMUP + ROUNDS)
    try:
        agent = asyncio.run(agent_sessions(root, url))
        conn.send("last")
        raws = conn.recv()   # Inform, GPV response, SPV response of the last session
        bodies = [raws[0], b"", raws[1], raws[2]]
        base = baseline_sessions(url, bodies)
        conn.send("count")
        assert conn.recv() == 1 + 2 * (WARMUP + ROUNDS)
    finally:
        conn.send("stop")
        proc.join(5)
    return agent, base


# ------------------------------------------------------------------ 2. GPV of 10,000
def gpv_benchmark(root):
    from icwmpy.config.uci import Uci
    from icwmpy.cwmp import soap
    from icwmpy.model import DataModel
    from icwmpy.model.schema import Definitions
    from icwmpy.rpc import RpcHandler
    from icwmpy.store import Store

    statedir = Path(root) / "gpv-state"
    seed_instances(statedir, 1000)
    defs = Definitions()
    defs.load(bench_definitions(1000)[0])
    (Path(root) / "gpv-conf").mkdir()
    model = DataModel(defs, Uci(str(Path(root) / "gpv-conf")), Store(str(statedir)))

    class Services:
        async def run_model(self, fn, *args):
            return fn(*args)

    handler = RpcHandler(model, Services())
    request = A.get_parameter_values("Device.Bench.", cwmp_id="b1")

    loop = asyncio.new_event_loop()

    def ours():
        return loop.run_until_complete(handler.handle(soap.parse(request)))

    values = model.get_values("Device.Bench.")
    assert len(values) == 10000 and b"Device.Bench.Item.1000.P9" in ours()

    def bare():
        parts = [f"<ParameterValueStruct><Name>{escape(n)}</Name>"
                 f'<Value xsi:type="xsd:{t}">{escape(v)}</Value></ParameterValueStruct>'
                 for n, v, t in values]
        return ("<GetParameterValuesResponse><ParameterList>" + "".join(parts)
                + "</ParameterList></GetParameterValuesResponse>").encode()

    def best(fn, rounds=7):
        times = []
        for _ in range(rounds):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times), statistics.median(times)

    try:
        return best(ours), best(bare)
    finally:
        loop.close()


# ------------------------------------------------------------------ 3. idle RSS
def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def rss_benchmark(root):
    async def main():
        acs = A.Acs()
        await acs.start()
        cpe = Cpe(Path(root) / "rss", acs.url, {("cpe", "log_severity"): "WARNING"})
        await cpe.start()
        await acs.wait_session(1, timeout=30)
        await asyncio.sleep(2)
        daemon = rss_kib(cpe.proc.pid)
        bare = await asyncio.create_subprocess_exec(sys.executable, "-c", "import time; time.sleep(3)")
        await asyncio.sleep(1)
        interpreter = rss_kib(bare.pid)
        await bare.wait()
        await cpe.stop()
        await acs.stop()
        return daemon, interpreter
    return asyncio.run(main())


def main():
    with tempfile.TemporaryDirectory() as root:
        agent, base = session_benchmark(os.path.join(root, "session"))
        (gpv_best, gpv_med), (bare_best, _) = gpv_benchmark(root)
        daemon_kib, bare_kib = rss_benchmark(root)

    def med(rows, i):
        return statistics.median(r[i] for r in rows) * 1000

    print(f"{'benchmark':44} {'icwmpy':>12} {'baseline':>12} {'ratio':>7}  target")
    wall, bwall = med(agent, 0), med(base, 0)
    cpu, bcpu = med(agent, 1), med(base, 1)
    print(f"{'session wall time, median (ms)':44} {wall:12.2f} {bwall:12.2f} {wall/bwall:6.1f}x  <= 2x "
          f"{'OK' if wall <= 2 * bwall else 'MISS'}")
    print(f"{'session CPU, median (ms)':44} {cpu:12.2f} {bcpu:12.2f} {cpu/bcpu:6.1f}x")
    print(f"{'GPV 10,000 params parse+build, best (ms)':44} {gpv_best*1000:12.1f} {bare_best*1000:12.1f} "
          f"{gpv_best/bare_best:6.1f}x  <= 100 ms {'OK' if gpv_best <= 0.1 else 'MISS'} "
          f"(median {gpv_med*1000:.1f})")
    print(f"{'idle daemon RSS after bootstrap (MiB)':44} {daemon_kib/1024:12.1f} {bare_kib/1024:12.1f} "
          f"{daemon_kib/bare_kib:6.1f}x  <= 35 MiB {'OK' if daemon_kib <= 35 * 1024 else 'MISS'}")


if __name__ == "__main__":
    main()
