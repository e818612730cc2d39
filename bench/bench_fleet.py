"""Fleet mode: memory per idle CPE, Inform sessions per second, spread of periodic informs.

The fleet (``python -m icwmpy --fleet N``, the built-in TR-181 router profile) and the
test ACS run in separate processes, each on its own core of a 2-core machine, so that the
CPU read from /proc/<pid>/stat is the fleet's own. The ACS answers every Inform with no
request: a session is Inform, InformResponse, empty POST, 204.

1. Memory per idle CPE: VmRSS and Pss (smaps_rollup) of the fleet process once all N
   bootstrapped and went idle, minus the same of a fleet of 1 (same run), over N - 1;
   beside it the idle RSS of the plain single-CPE icwmpd with the same config.
   Target <= 100 KB per idle CPE (the Go cpe-sim: ~105 KB).
2. Inform sessions per second: the bootstrap of all N (ACS side: first Inform to last
   204), and the fleet's CPU seconds per session in that window; one core does 1 / that.
   Beside it a bare pycurl replay of the same bytes (client CPU per session) and the
   ACS's CPU per session, which says when the ACS is the bottleneck. Target >= 500/s.
3. Periodic informs (interval 60 s): ACS-side arrivals of "2 PERIODIC" over the second
   interval after the bootstrap, in 1-second buckets: the busiest bucket against the mean.

State and config live on /dev/shm (tmpfs) when it is one, else in the temp directory.
Run: .venv/bin/python bench/bench_fleet.py [--quick]   (--quick: N = 100, 1,000 only)
"""

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pycurl

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import acs as A  # noqa: E402
from cpe import Cpe  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
# the shipped defaults where the sandbox's differ in ways that change the load
OPTIONS = {("cpe", "log_severity"): "WARNING", ("cpe", "periodic_notify_interval"): "10"}
SETTLE, IDLE = 3, 10          # seconds after the bootstrap before and while measuring idle
INTERVAL = 60                 # periodic_inform_interval of part 3
REPLAYS = 1000                # sessions of the pycurl baseline


# ------------------------------------------------------------------ the ACS process
class BenchAcs(A.Acs):
    """The test ACS plus what a fleet benchmark needs: the time of every Inform (with its
    event codes) and of every session end, and a session found by its cookie in O(1)
    (the test ACS scans its session list: quadratic over 10,000 sessions)."""

    def __init__(self):
        super().__init__()
        self.arrivals = []    # (time, serial number, event codes) of each Inform
        self.ends = []        # time of each final 204
        self._by_cookie = {}

    def _start_session(self, request, message):
        response = super()._start_session(request, message)
        session = self.sessions[-1]
        self._by_cookie[session.cookie] = session
        self.arrivals.append((time.time(), session.serial, [code for code, _ in session.events]))
        return response

    def _session_of(self, request):
        cookie = request.headers.get("cookie", "").partition(f"{A.COOKIE_NAME}=")[2]
        return self._by_cookie.get(cookie.split(";")[0].strip())

    def _next_request(self, session):
        response = super()._next_request(session)
        if response.status == 204:
            self.ends.append(time.time())
        return response

    def answer(self, command):
        if command == "stats":
            return (len(self.arrivals), len(self.ends), self.arrivals[0][0] if self.arrivals
                    else None, self.ends[-1] if self.ends else None, len(self.rejected))
        if command == "arrivals":
            return self.arrivals
        if command == "inform":
            return self.sessions[0].messages[0].raw
        raise ValueError(command)


def acs_main(conn):
    async def main():
        acs = BenchAcs()
        await acs.start()
        conn.send(acs.url)
        loop = asyncio.get_running_loop()
        while (command := await loop.run_in_executor(None, conn.recv)) != "stop":
            conn.send(acs.answer(command))
        await acs.stop()
    asyncio.run(main())


class AcsProcess:
    """A BenchAcs in a process of its own, asked over a pipe."""

    def __enter__(self):
        self._conn, child = multiprocessing.Pipe()
        self.proc = multiprocessing.Process(target=acs_main, args=(child,), daemon=True)
        self.proc.start()
        self.url = self._conn.recv()
        return self

    def ask(self, command):
        self._conn.send(command)
        return self._conn.recv()

    def __exit__(self, *exc):
        self._conn.send("stop")
        self.proc.join(10)


# ------------------------------------------------------------------ /proc
def cpu_seconds(pid):
    """utime + stime of a process (after the command name, which may hold spaces)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def memory_kib(pid):
    """(VmRSS, Pss) in KiB."""
    def field(path, name):
        with open(path) as f:
            return next(int(line.split()[1]) for line in f if line.startswith(name))
    return field(f"/proc/{pid}/status", "VmRSS:"), field(f"/proc/{pid}/smaps_rollup", "Pss:")


def available_mib():
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:")) // 1024


# ------------------------------------------------------------------ one fleet
class Run:
    """One icwmpd (``count`` = None: a plain CPE, else a fleet) against its own ACS, from
    its start until every CPE's bootstrap session ended; then measured, then stopped."""

    def __init__(self, root, acs, count, options=None):
        self.acs, self.count = acs, count
        self.cpe = Cpe(root, acs.url, {**OPTIONS, **(options or {})})
        fleet = ["--fleet", str(count)] if count else []
        with open(self.cpe.log, "ab") as log:
            self.started = time.time()
            self.proc = subprocess.Popen(self.cpe.argv("-b", *fleet), stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         cwd=str(REPO))
        self.pid = self.proc.pid

    def bootstrap(self, timeout):
        """Poll until all sessions ended: the ACS's times, the CPU of both sides."""
        wanted, deadline, first = self.count or 1, time.time() + timeout, None
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"icwmpd exited {self.proc.returncode}:\n{self.log_tail()}")
            cpu, acs_cpu = cpu_seconds(self.pid), cpu_seconds(self.acs.proc.pid)
            informs, ends, first_at, last_at, rejected = self.acs.ask("stats")
            if informs and first is None:
                first = cpu, acs_cpu
            if ends >= wanted:
                break
            if time.time() > deadline:
                raise TimeoutError(f"{ends} of {wanted} sessions ended:\n{self.log_tail()}")
            time.sleep(0.02)
        self.first_inform, self.last_end, self.rejected = first_at, last_at, rejected
        self.startup_cpu, self.session_cpu = first[0], cpu - first[0]
        self.acs_session_cpu = acs_cpu - first[1]
        self.informs = informs
        return self

    def idle(self):
        """Settle, then the CPU share while idle and the memory after it."""
        time.sleep(SETTLE)
        cpu = cpu_seconds(self.pid)
        time.sleep(IDLE)
        self.idle_cpu = (cpu_seconds(self.pid) - cpu) / IDLE
        self.rss, self.pss = memory_kib(self.pid)
        return self

    def stop(self):
        """SIGTERM, sent again while the fleet is still running 30 s later (a 20,000 fleet
        stops in ~6 s): a busy fleet can lose one. asyncio learns of a signal from a byte
        in its self-pipe, which the model thread's wake-ups can fill; CPython then logs
        "Exception ignored when trying to write to the signal wakeup fd"."""
        code, sent = None, 0
        while code is None and sent < 4:
            self.proc.send_signal(signal.SIGTERM)
            sent += 1
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self.proc.wait(30)
        if code is None:
            self.proc.kill()
            code = self.proc.wait()
        lost = self.cpe.log_text().count("signal wakeup fd")
        if sent > 1 or lost:
            print(f"  note: icwmpd --fleet {self.count} stopped after {sent} SIGTERMs; "
                  f"{lost} signals dropped at a full self-pipe", file=sys.stderr)
        errors = [line for line in self.cpe.log_text().splitlines()
                  if "[ERROR]" in line or line.startswith("Traceback")]
        if code != 0 or errors:
            print(f"  note: icwmpd exit {code}, {len(errors)} errors, e.g. {errors[:2]}",
                  file=sys.stderr)

    def log_tail(self):
        return "\n".join(self.cpe.log_text().splitlines()[-20:])

    @property
    def sessions_per_s(self):
        return self.count / (self.last_end - self.first_inform)


def measure(root, count, options=None):
    """A fleet (or plain CPE) bootstrapped, idle, measured and stopped."""
    with AcsProcess() as acs:
        run = Run(Path(root) / f"fleet-{count or 'plain'}", acs, count, options)
        try:
            run.bootstrap(timeout=60 + (count or 1) / 20).idle()
            run.inform_bytes = acs.ask("inform")
        finally:
            run.stop()
    return run


# ------------------------------------------------------------------ baselines
def replay(inform, rounds=REPLAYS):
    """``rounds`` sessions of the same Inform bytes, POSTed with bare pycurl (a new handle,
    so a new connection, per session as the agent does): the client's CPU per session
    and the ACS's."""
    with AcsProcess() as acs:
        acs_cpu, cpu, wall = cpu_seconds(acs.proc.pid), time.process_time(), time.time()
        for _ in range(rounds):
            easy = pycurl.Curl()
            easy.setopt(pycurl.URL, acs.url)
            easy.setopt(pycurl.COOKIEFILE, "")
            easy.setopt(pycurl.HTTPHEADER, ['Content-Type: text/xml; charset="utf-8"', "Expect:"])
            easy.setopt(pycurl.WRITEFUNCTION, lambda chunk: None)
            for body in (inform, b""):
                easy.setopt(pycurl.POSTFIELDS, body)
                easy.perform()
            easy.close()
        wall, cpu = time.time() - wall, time.process_time() - cpu
        acs_cpu = cpu_seconds(acs.proc.pid) - acs_cpu
        assert acs.ask("stats")[1] == rounds
    return rounds / wall, cpu / rounds, acs_cpu / rounds


def periodic_spread(root, count):
    """Bootstrap ``count`` CPEs informing every INTERVAL s, let one interval pass (the
    periodic informs that fell due during the bootstrap queue behind it and come in a burst
    after it), then take the ACS-side arrival times of "2 PERIODIC" over the next whole
    interval in 1-second buckets, and the CPU of both sides over it."""
    options = {("acs", "periodic_inform_enable"): "1",
               ("acs", "periodic_inform_interval"): str(INTERVAL)}
    with AcsProcess() as acs:
        run = Run(Path(root) / f"periodic-{count}", acs, count, options)
        try:
            run.bootstrap(timeout=60 + count / 20)
            start = run.last_end + INTERVAL
            time.sleep(start - time.time())
            cpu, acs_cpu = cpu_seconds(run.pid), cpu_seconds(acs.proc.pid)
            time.sleep(INTERVAL + 2)
            cpu, acs_cpu = cpu_seconds(run.pid) - cpu, cpu_seconds(acs.proc.pid) - acs_cpu
            arrivals = [t for t, _, codes in acs.ask("arrivals") if "2 PERIODIC" in codes]
        finally:
            run.stop()
    buckets = [0] * INTERVAL
    for t in arrivals:
        if start <= t < start + INTERVAL:
            buckets[int(t - start)] += 1
    return buckets, cpu, acs_cpu


# ------------------------------------------------------------------ report
def state_root():
    """A tmpfs for the CPEs' state when there is one (/dev/shm, /tmp), else the temp dir."""
    with open("/proc/mounts") as f:
        tmpfs = {fields[1] for fields in map(str.split, f) if fields[2] == "tmpfs"}
    return next((d for d in ("/dev/shm", "/tmp") if d in tmpfs and os.access(d, os.W_OK)),
                None)


def fits(count, per_cpe_kib, base_kib):
    """Whether ``count`` CPEs fit in half the available memory (with 50 % headroom)."""
    need_mib = (base_kib + 1.5 * count * per_cpe_kib) / 1024
    return need_mib <= available_mib() / 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 100 and 1,000 only")
    quick = ap.parse_args().quick
    counts = [100, 1000] if quick else [100, 1000, 10000, 20000]
    base = state_root()
    print(f"state on {base or tempfile.gettempdir()} ({'tmpfs' if base else 'disk'}); "
          f"{available_mib()} MiB available; {os.cpu_count()} cores", flush=True)

    with tempfile.TemporaryDirectory(dir=base) as root:
        plain = measure(root, None)
        one = measure(root, 1)
        runs = []
        for count in counts:
            if runs and not fits(count, (runs[-1].rss - one.rss) / runs[-1].count, one.rss):
                print(f"N = {count}: skipped, would not fit in half the free memory")
                continue
            runs.append(measure(root, count))
            print(f"N = {count}: done", flush=True)
        replay_rate, replay_cpu, replay_acs = replay(runs[-1].inform_bytes)
        spread_n = 1000 if quick else 10000
        buckets, spread_cpu, spread_acs = periodic_spread(root, spread_n)

    print(f"\n{'idle memory':34} {'RSS MiB':>8} {'Pss MiB':>8} {'KiB/CPE RSS':>12} "
          f"{'KiB/CPE Pss':>12} {'marginal':>9} {'idle CPU':>9}")
    print(f"{'plain icwmpd (baseline)':34} {plain.rss / 1024:8.1f} {plain.pss / 1024:8.1f} "
          f"{'':>12} {'':>12} {'':>9} {plain.idle_cpu:8.1%}")
    print(f"{'fleet of 1':34} {one.rss / 1024:8.1f} {one.pss / 1024:8.1f} {'':>12} {'':>12} "
          f"{'':>9} {one.idle_cpu:8.1%}")
    previous = one
    for run in runs:
        per_rss, per_pss = ((run.rss - one.rss) / (run.count - 1),
                            (run.pss - one.pss) / (run.count - 1))
        marginal = (run.rss - previous.rss) / (run.count - previous.count)
        previous = run
        verdict = "OK" if per_rss <= 100 else "MISS"
        print(f"{f'fleet of {run.count:,}':34} {run.rss / 1024:8.1f} {run.pss / 1024:8.1f} "
              f"{per_rss:12.1f} {per_pss:12.1f} {marginal:9.1f} {run.idle_cpu:8.1%}"
              f"  <= 100 KiB {verdict}")

    print(f"\n{'bootstrap':34} {'start s':>8} {'boot s':>8} {'sess/s':>8} "
          f"{'CPU ms/sess':>12} {'1-core /s':>10} {'ACS ms/sess':>12}")
    for run in runs:
        per = run.session_cpu / run.count
        print(f"{f'fleet of {run.count:,}':34} {run.first_inform - run.started:8.2f} "
              f"{run.last_end - run.first_inform:8.2f} {run.sessions_per_s:8.0f} "
              f"{per * 1000:12.2f} {1 / per:10.0f} {run.acs_session_cpu / run.count * 1000:12.2f}"
              f"  >= 500/s {'OK' if 1 / per >= 500 else 'MISS'}")
        if run.rejected or run.informs != run.count:
            print(f"  note: {run.informs} informs, {run.rejected} rejected by the ACS")
    print(f"{f'pycurl replay, {REPLAYS:,} (baseline)':34} {'':>8} {'':>8} {replay_rate:8.0f} "
          f"{replay_cpu * 1000:12.2f} {1 / replay_cpu:10.0f} {replay_acs * 1000:12.2f}")

    total, mean = sum(buckets), sum(buckets) / INTERVAL
    print(f"\nperiodic informs of {spread_n:,} CPEs over the second {INTERVAL} s interval after "
          f"the bootstrap: {total:,} (expected {spread_n:,}); per 1-s bucket: mean {mean:.1f}, "
          f"max {max(buckets)}, min {min(buckets)}: max/mean {max(buckets) / mean:.2f}")
    print(f"  buckets: {' '.join(map(str, buckets))}")
    print(f"  CPU over the interval (idle work included): fleet {spread_cpu / INTERVAL:.1%} of a "
          f"core, {spread_cpu / total * 1000:.2f} ms per periodic session; ACS "
          f"{spread_acs / total * 1000:.2f} ms")

if __name__ == "__main__":
    main()
