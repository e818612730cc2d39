"""The whole router tree, one-shot: ``icwmpd -c get Device.`` on the OpenWrt router fixtures.

Prints the wall time (best and median of several runs) and peak RSS of the CLI reading
every parameter of the router (UCI wireless, network, dhcp, firewall, system, ... and the
kernel), beside the same CLI on the host definitions without router packages and a bare
``python3 -c pass`` measured in the same run.

    .venv/bin/python bench/bench_router.py [--runs N]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from openwrt import router_confdir  # noqa: E402  (the tests' fixtures)


def measure(argv, runs, env):
    """(best s, median s, peak RSS MiB, lines printed) of ``argv`` run ``runs`` times."""
    times, peaks, lines = [], [], 0
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, cwd=REPO, env=env)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - start)
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(f"{argv} failed")
        peaks.append(usage.ru_maxrss / 1024)
        lines = out.count(b"\n")
    return min(times), statistics.median(times), max(peaks), lines


def cli(confdir, statedir):
    return [sys.executable, "-m", "icwmpy", "--confdir", str(confdir), "--statedir",
            str(statedir), "--rundir", str(statedir / "run"), "-c", "get", "Device."]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    runs = ap.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        router = router_confdir(tmp / "router")
        host = tmp / "host" / "config"
        host.mkdir(parents=True)
        (host / "cwmp").write_text((REPO / "etc" / "config" / "cwmp").read_text())
        # bytecode cached as on an installed system (the first run writes it)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
        rows = [("bare interpreter (python3 -c pass)",
                 measure([sys.executable, "-c", "pass"], runs, env)),
                ("get Device., host definitions", measure(cli(host, tmp / "host"), runs, env)),
                ("get Device., OpenWrt router fixtures",
                 measure(cli(router, tmp / "router"), runs, env))]
    print(f"{'':40} {'best':>9} {'median':>9} {'peak RSS':>10} {'values':>7}")
    for name, (best, median, peak, lines) in rows:
        print(f"{name:40} {best * 1000:7.0f} ms {median * 1000:7.0f} ms {peak:6.1f} MiB {lines:7}")


if __name__ == "__main__":
    main()
