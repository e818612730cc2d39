"""A real icwmpd process in a throw-away sandbox: config, state and run dirs of its own.

Used by the daemon tests and by the sandbox quick start (tests/sandbox.py).
"""

import asyncio
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

from icwmpy.config.uci import Uci

REPO = Path(__file__).resolve().parents[1]


def free_port():
    """A TCP port free on 127.0.0.1 now (the daemon keeps it across its restarts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cpe:
    """``root`` gets config/, state/, run/ and daemon.log; ``options`` are
    ``{(section, option): value}`` applied over the repo's default etc/config/cwmp."""

    def __init__(self, root, acs_url="", options=None, datamodel=None):
        self.root = Path(root)
        self.confdir, self.statedir, self.rundir = (self.root / d for d in ("config", "state", "run"))
        for d in (self.confdir, self.statedir, self.rundir):
            d.mkdir(parents=True, exist_ok=True)
        self.log = self.root / "daemon.log"
        self.datamodel = datamodel
        self.proc = None
        if not (self.confdir / "cwmp").exists():
            shutil.copy(REPO / "etc" / "config" / "cwmp", self.confdir / "cwmp")
        defaults = {("acs", "url"): acs_url, ("acs", "periodic_inform_enable"): "0",
                    ("cpe", "port"): str(free_port()), ("cpe", "userid"): "cr", ("cpe", "passwd"): "cr-secret",
                    ("cpe", "log_to_console"): "1", ("cpe", "log_to_file"): "0",
                    ("cpe", "log_to_syslog"): "0", ("cpe", "log_severity"): "DEBUG",
                    ("cpe", "reboot_command"): "exit", ("cpe", "factory_reset_command"): "exit",
                    ("cpe", "transfer_hooks"): "sandbox", ("cpe", "software_backend"): "directory",
                    ("cpe", "periodic_notify_interval"): "1",
                    # never the host's system bus: tests that want D-Bus set their own
                    ("cpe", "dbus_address"): f"unix:path={self.root / 'no-bus'}",
                    ("acs", "retry_min_wait_interval"): "1"}
        self.configure({**defaults, **(options or {})})

    def configure(self, options):
        uci = Uci(str(self.confdir))
        for (section, option), value in options.items():
            uci.set("cwmp", section, option, value)
        uci.commit("cwmp")

    def argv(self, *extra):
        args = [sys.executable, "-m", "icwmpy", "--confdir", str(self.confdir),
                "--statedir", str(self.statedir), "--rundir", str(self.rundir)]
        if self.datamodel:
            args += ["--datamodel", str(self.datamodel)]
        return args + list(extra)

    async def start(self, *extra, boot=True, console=False):
        """Start the daemon (with -b: a boot, when the run dir says this boot is new);
        its output goes to ``daemon.log``, or to our own stdout/stderr with ``console``."""
        log = None if console else open(self.log, "ab")
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv(*(["-b"] if boot else []), *extra), stdout=log, stderr=log,
            stdin=subprocess.DEVNULL, cwd=str(REPO))
        if log:
            log.close()
        return self.proc

    async def wait(self, timeout=10):
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc and self.proc.returncode is None:
            self.proc.send_signal(sig)
            return await self.wait(timeout)
        return self.proc.returncode if self.proc else None

    def kill(self):
        """SIGKILL, no chance to clean up."""
        if self.proc and self.proc.returncode is None:
            self.proc.kill()

    def reboot(self):
        """What a reboot does to the volatile run directory."""
        shutil.rmtree(self.rundir, ignore_errors=True)
        self.rundir.mkdir()

    def cli(self, *words):
        return subprocess.run(self.argv("-c", *words), capture_output=True, text=True,
                              timeout=30, cwd=str(REPO))

    def value(self, name):
        out = self.cli("get", name)
        for line in out.stdout.splitlines():
            key, _, value = line.partition(" => ")
            if key == name:
                return value
        raise KeyError(f"{name}: {out.stderr.strip()}")

    def log_text(self):
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def __del__(self):
        self.kill()
