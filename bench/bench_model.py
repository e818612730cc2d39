"""Data model speed and memory: a 10,000-parameter tree on the store backend.

Prints, beside a baseline measured in the same run (a bare loop over the same 10,000
(name, value, type) tuples in a dict), the wall time of a full ``get Device.``
(resolve + read + format every value), of one atomic set of 1,000 parameters, and the
memory the loaded model occupies above the bare interpreter.

Run: .venv/bin/python bench/bench_model.py
"""

import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time

INSTANCES, PER_INSTANCE = 1000, 10
PARAMS = [f"P{i}" for i in range(PER_INSTANCE)]


def definitions():
    spec = {"_table": {"store": True, "access": "readWrite", "count": False}}
    for i, name in enumerate(PARAMS):
        spec[name] = {"type": "unsignedInt" if i % 2 else "string", "access": "readWrite",
                      "default": "0"}
    return {"Device.Bench.Item.{i}.": spec}


def build(statedir):
    from icwmpy.config.uci import Uci
    from icwmpy.model import DataModel
    from icwmpy.model.schema import Definitions
    from icwmpy.store import Store

    os.makedirs(os.path.join(statedir, "config"), exist_ok=True)
    store = Store(statedir)
    defs = Definitions()
    defs.load(definitions())
    model = DataModel(defs, Uci(os.path.join(statedir, "config")), store)
    if not store["tables"].get("Device.Bench.Item."):
        with store.batch():
            store["tables"].set("Device.Bench.Item.", [str(n) for n in range(1, INSTANCES + 1)])
            values = store["values"]
            for n in range(1, INSTANCES + 1):
                for i, name in enumerate(PARAMS):
                    values.set(f"Device.Bench.Item.{n}.{name}", str(n * i))
    return model


def best(fn, rounds=15):
    times = []
    for _ in range(rounds):
        gc.collect()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def memory_child(statedir, what):
    """RSS growth of a fresh interpreter loading either the model or the bare dict."""
    code = f"""
import sys; sys.path.insert(0, {os.path.dirname(os.path.dirname(os.path.abspath(__file__)))!r})
sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
import bench_model as b
import icwmpy.model, icwmpy.config.uci, icwmpy.store
before = b.rss_kib()
if {what!r} == "model":
    m = b.build({statedir!r}); m.get_values("Device.Bench.Item.1.")
else:
    d = {{f"Device.Bench.Item.{{n}}.{{p}}": (str(n * i), "string") for n in range(1, b.INSTANCES + 1)
         for i, p in enumerate(b.PARAMS)}}
print(b.rss_kib() - before)
"""
    return int(subprocess.check_output([sys.executable, "-c", code]).strip())


def main():
    with tempfile.TemporaryDirectory() as statedir:
        model = build(statedir)
        bare = {f"Device.Bench.Item.{n}.{p}": (str(n * i), "unsignedInt" if i % 2 else "string")
                for n in range(1, INSTANCES + 1) for i, p in enumerate(PARAMS)}
        assert len(model.get_values("Device.")) == len(bare) == INSTANCES * PER_INSTANCE

        def full_get():
            return [f"{n} => {v}" for n, v, _ in model.get_values("Device.")]

        def bare_get():
            return [f"{n} => {v}" for n, (v, _) in bare.items()]

        counter = iter(range(10**9))

        def atomic_set():
            k = next(counter)
            model.set_values([(f"Device.Bench.Item.{n}.P1", str(k), None)
                              for n in range(1, 1001)], f"key{k % 100}")

        def bare_set():
            k = next(counter)
            for n in range(1, 1001):
                name = f"Device.Bench.Item.{n}.P1"
                bare[name] = (str(k), bare[name][1])

        rows = [("full get Device. (10,000 params)", best(full_get), best(bare_get), 0.050),
                ("atomic set of 1,000 params", best(atomic_set, 9), best(bare_set, 9), 0.050)]
        print(f"{'benchmark':36} {'icwmpy best/median':>22} {'baseline best':>14} {'ratio':>7} {'target':>8}")
        for label, (b, med), (base, _), target in rows:
            print(f"{label:36} {b*1000:9.1f} / {med*1000:6.1f} ms {base*1000:11.2f} ms "
                  f"{b/base:6.1f}x {f'<= {target*1000:.0f} ms':>8} {'OK' if b <= target else 'MISS'}")
        model_kib = memory_child(statedir, "model")
        bare_kib = memory_child(statedir, "bare")
        print(f"{'resident model above interpreter':36} {model_kib/1024:15.1f} MiB {bare_kib/1024:11.2f} MiB "
              f"{model_kib/max(bare_kib,1):6.1f}x {'<= 8 MiB':>8} {'OK' if model_kib <= 8192 else 'MISS'}")


if __name__ == "__main__":
    main()
