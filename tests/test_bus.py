"""The D-Bus API, end to end: the real daemon on a private dbus-daemon, informing the test ACS.

Each test starts ``python -m icwmpy --bus <address>`` against ``tests/acs.py`` and talks to
it with dbus-next (a second connection watches the signals) and with ``dbus-send``.
"""

import asyncio
import contextlib
import json
import os
import pwd
import re
import shutil
import sys
import time

import pytest
from dbus_next import DBusError, Message
from dbus_next.aio import MessageBus

import acs as A
from dbus_fixture import DBusDaemon, available

NAME = "org.icwmpy.tr069"
PATH = "/org/icwmpy/tr069"
POLICY = os.path.join(os.path.dirname(__file__), "..", "etc", "dbus-1", "system.d",
                      "org.icwmpy.tr069.conf")
INVALID_ARGS = "org.icwmpy.tr069.Error.InvalidArgs"
START_TIMEOUT = 10

pytestmark = pytest.mark.skipif(not available(), reason="dbus-daemon is not installed")

STATUS_SHAPE = {
    "cwmp": {"status": str, "start_time": str, "acs_url": str},
    "last_session": {"status": str, "start_time": str, "end_time": str},
    "next_session": {"status": str, "start_time": str, "end_time": str},
    "statistics": {"success_sessions": int, "failure_sessions": int, "total_sessions": int},
    "transfer": {"status": str, "command_key": str, "bytes": int, "total": int, "rate": int},
}
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


def check_shape(value, shape, where="status"):
    """``value`` has exactly the keys of ``shape``, each of the type it names."""
    if isinstance(shape, dict):
        assert isinstance(value, dict), f"{where} is {value!r}, not an object"
        assert set(value) == set(shape), f"{where}: keys {sorted(value)} != {sorted(shape)}"
        for key, inner in shape.items():
            check_shape(value[key], inner, f"{where}.{key}")
    else:
        assert isinstance(value, shape) and not isinstance(value, bool), \
            f"{where} = {value!r} is not {shape.__name__}"


def unwrap(value):
    """dbus-next Variants to plain Python values."""
    if hasattr(value, "signature"):
        return unwrap(value.value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


# ---------------------------------------------------------------- the daemon under test

class GatedAcs(A.Acs):
    """The test ACS, able to hold every request until ``gate`` opens (a session in progress)."""

    def __init__(self):
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()

    async def _handle(self, request):
        await self.gate.wait()
        return await super()._handle(request)


def write_config(confdir, acs_url, dbus_address="", **acs_options):
    """A cwmp package: periodic informs and polls off, so every session is the test's."""
    acs = {"url": acs_url, "periodic_inform_enable": "0", **acs_options}
    cpe = {"port": "0", "advertise_host": "127.0.0.1", "periodic_notify_enable": "0",
           "log_to_file": "0", "log_to_syslog": "0", "log_to_console": "1",
           "dbus_address": dbus_address, "transfer_hooks": "sandbox"}
    lines = []
    for section, options in (("acs", acs), ("cpe", cpe)):
        lines.append(f"config {section} '{section}'")
        lines += [f"\toption {k} '{v}'" for k, v in options.items()]
    os.makedirs(confdir, exist_ok=True)
    with open(os.path.join(confdir, "cwmp"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


class Icwmpd:
    """A running ``icwmpd`` process and a client connection to its bus."""

    def __init__(self, tmp_path, bus_address, acs, bus_flag):
        self.dir = tmp_path
        self.confdir = str(tmp_path / "config")
        self.bus_address = bus_address
        self.bus_flag = bus_flag
        self.acs = acs
        self.process = None
        self.bus = None
        self.tr069 = None
        self.logfile = tmp_path / "icwmpd.log"

    def args(self, *more):
        return [sys.executable, "-m", "icwmpy", "--confdir", self.confdir,
                "--statedir", str(self.dir / "state"), "--rundir", str(self.dir / "run"), *more]

    def log(self):
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    async def start(self, wait_bus=True):
        with open(self.logfile, "wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.args(*(("--bus", self.bus_address) if self.bus_flag else ())),
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log)
        if wait_bus:
            self.bus = await MessageBus(bus_address=self.bus_address).connect()
            await self.wait_name(True)
            node = await self.bus.introspect(NAME, PATH)
            self.tr069 = self.bus.get_proxy_object(NAME, PATH, node).get_interface(NAME)
        return self

    async def wait_name(self, present):
        async with asyncio.timeout(START_TIMEOUT):
            while await self.has_owner() != present:
                assert not present or self.process.returncode is None, \
                    f"icwmpd exited {self.process.returncode}:\n{self.log()}"
                await asyncio.sleep(0.05)

    async def has_owner(self):
        reply = await self.bus.call(Message(
            destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
            interface="org.freedesktop.DBus", member="NameHasOwner", signature="s", body=[NAME]))
        return reply.body[0]

    async def status(self):
        return unwrap(await self.tr069.call_status())

    async def stop(self):
        if self.bus:
            self.bus.disconnect()
        if self.process and self.process.returncode is None:
            self.process.terminate()
            try:
                async with asyncio.timeout(5):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


@contextlib.asynccontextmanager
async def icwmpd(tmp_path, bus_address, *, wait_bus=True, bus_flag=True):
    """The ACS and the daemon, up and past the 0 BOOTSTRAP session; both stopped after.
    The daemon learns the bus from ``--bus`` or, without ``bus_flag``, from the config."""
    acs = GatedAcs()
    await acs.start()
    daemon = Icwmpd(tmp_path, bus_address, acs, bus_flag)
    write_config(daemon.confdir, acs.url, "" if bus_flag else bus_address)
    try:
        await daemon.start(wait_bus)
        await acs.wait_session(1, timeout=START_TIMEOUT)
        if wait_bus:  # the ACS has answered 204; wait until the CPE has closed its side too
            async with asyncio.timeout(START_TIMEOUT):
                while (await daemon.status())["last_session"]["status"] == "running":
                    await asyncio.sleep(0.05)
        yield daemon
    except BaseException:
        print(daemon.log())
        raise
    finally:
        await daemon.stop()
        await acs.stop()


class Signals:
    """A second connection recording the service's signals: ``async with Signals(address)``."""

    def __init__(self, address):
        self.address = address
        self.seen = []
        self.changed = asyncio.Event()
        self.bus = None

    async def __aenter__(self):
        self.bus = await MessageBus(bus_address=self.address).connect()
        node = await self.bus.introspect(NAME, PATH)
        proxy = self.bus.get_proxy_object(NAME, PATH, node)
        tr069 = proxy.get_interface(NAME)
        tr069.on_session_started(lambda events: self._add("started", events))
        tr069.on_session_ended(lambda status: self._add("ended", status))
        tr069.on_transfer_progress(lambda key, done, total: self._add("progress", (key, done, total)))
        proxy.get_interface("org.freedesktop.DBus.Properties").on_properties_changed(
            lambda _, changed, __: self._add("properties", unwrap(changed)))
        # AddMatch went out before this call: once it is answered, the matches are in place.
        await tr069.call_status()
        return self

    def _add(self, kind, detail):
        self.seen.append((kind, detail))
        self.changed.set()

    async def wait(self, count, kind=None):
        """Every signal seen, once ``count`` of them (of ``kind``, or of any kind) have come."""
        async with asyncio.timeout(5):
            while len([k for k, _ in self.seen if kind in (None, k)]) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.seen

    async def __aexit__(self, *exc):
        self.bus.disconnect()


async def run_tool(*argv, user=None):
    """Run a CLI tool (optionally as ``user`` through setpriv); (status, stdout, stderr)."""
    if user:
        entry = pwd.getpwnam(user)
        argv = ("setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}",
                "--clear-groups", *argv)
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(10):
        out, err = await proc.communicate()
    return proc.returncode, out.decode(), err.decode()


def dbus_send(address, member, *args, interface=NAME, user=None):
    return run_tool("dbus-send", f"--bus={address}", "--print-reply=literal", f"--dest={NAME}",
                    PATH, f"{interface}.{member}", *args, user=user)


@pytest.fixture
def bus():
    with DBusDaemon() as daemon:
        yield daemon


# ---------------------------------------------------------------- tests

def test_introspection_lists_the_api_on_the_bus_named_in_the_config(bus, tmp_path):
    async def scenario():
        async with icwmpd(tmp_path, bus.address, bus_flag=False) as d:
            node = await d.bus.introspect(NAME, PATH)
            interface = next(i for i in node.interfaces if i.name == NAME)
            methods = {m.name: (m.in_signature, m.out_signature) for m in interface.methods}
            assert methods == {"Status": ("", "a{sv}"), "StatusJson": ("", "s"),
                               "Inform": ("sb", "a{sv}"), "Command": ("s", "a{sv}"),
                               "Notify": ("", "a{sv}"), "Download": ("sss", "a{sv}"),
                               "ChangeDUState": ("sa{ss}", "a{sv}"),
                               "RequestDownload": ("sa{ss}", "a{sv}"),
                               "StartDiagnostics": ("sa{ss}", "a{sv}")}
            signals = {s.name: "".join(a.signature for a in s.args) for s in interface.signals}
            assert signals == {"SessionStarted": "as", "SessionEnded": "s",
                               "TransferProgress": "stt", "DiagnosticsComplete": "sssa{ss}"}
            [prop] = interface.properties
            assert (prop.name, prop.signature, prop.access.value) == ("NextSession", "x", "read")
    A.run(scenario())


def test_status_mirrors_icwmp_and_json_says_the_same(bus, tmp_path):
    async def scenario():
        async with icwmpd(tmp_path, bus.address) as d:
            status = await d.status()
            check_shape(status, STATUS_SHAPE)
            assert status["cwmp"]["status"] == "up" and status["cwmp"]["acs_url"] == d.acs.url
            assert status["last_session"]["status"] == "success"
            for when in (status["cwmp"]["start_time"], status["last_session"]["start_time"],
                         status["last_session"]["end_time"]):
                assert TIME.match(when), when
            assert status["next_session"] == {"status": "waiting", "start_time": "N/A",
                                              "end_time": "N/A"}
            assert status["statistics"] == {"success_sessions": 1, "failure_sessions": 0,
                                            "total_sessions": 1}
            assert json.loads(await d.tr069.call_status_json()) == status
            assert await d.tr069.get_next_session() == 0
            code, out, err = await dbus_send(bus.address, "StatusJson")
            assert code == 0, err
            assert json.loads(out) == status
    A.run(scenario())


def test_inform_starts_a_session_and_signals_frame_it(bus, tmp_path):
    async def scenario():
        async with icwmpd(tmp_path, bus.address) as d, Signals(bus.address) as signals:
            answer = unwrap(await d.tr069.call_inform("8 DIAGNOSTICS COMPLETE", False))
            assert answer == {"status": 1, "info": "Session started"}
            session = await d.acs.wait_session(2)
            assert ("8 DIAGNOSTICS COMPLETE", "") in session.events
            assert await signals.wait(2) == [("started", ["8 DIAGNOSTICS COMPLETE"]),
                                             ("ended", "success")]
            # no event: a connection request, as icwmp
            await d.tr069.call_inform("", False)
            await signals.wait(2, "ended")   # the CPE's own end, not the ACS's 204 before it
            assert d.acs.sessions[2].events == [("6 CONNECTION REQUEST", "")]
            # GetRPCMethods alone rides on 2 PERIODIC and the CPE sends GetRPCMethods
            answer = unwrap(await d.tr069.call_inform("", True))
            assert answer == {"status": 1, "info": "Session started"}
            await signals.wait(3, "ended")
            session = d.acs.sessions[3]
            assert session.events == [("2 PERIODIC", "")]
            assert "GetRPCMethods" in session.methods
            assert (await d.status())["statistics"]["total_sessions"] == 4
    A.run(scenario())


def test_inform_rejects_unknown_codes_and_wrong_arguments(bus, tmp_path):
    async def scenario():
        async with icwmpd(tmp_path, bus.address) as d:
            for bad in ("99 NONSENSE", "7 SOMETHING", "BOOT"):
                with pytest.raises(DBusError) as e:
                    await d.tr069.call_inform(bad, False)
                assert e.value.type == INVALID_ARGS and bad in e.value.text
            code, _, err = await dbus_send(bus.address, "Inform", "string:7 SOMETHING",
                                           "boolean:false")
            assert code != 0 and INVALID_ARGS in err
            code, _, err = await dbus_send(bus.address, "Inform", "int32:6")
            assert code != 0 and "org.freedesktop.DBus.Error.UnknownMethod" in err
            await asyncio.sleep(0.3)
            assert len(d.acs.sessions) == 1, "a rejected Inform must not start a session"
    A.run(scenario())


def test_inform_and_reload_during_a_session_wait_for_its_end(bus, tmp_path):
    async def scenario():
        async with icwmpd(tmp_path, bus.address) as d, Signals(bus.address) as signals:
            d.acs.gate.clear()   # the next session hangs on its Inform
            await d.tr069.call_inform("6 CONNECTION REQUEST", False)
            await signals.wait(1)
            answer = unwrap(await d.tr069.call_inform("8 DIAGNOSTICS COMPLETE", False))
            assert answer == {"status": 1, "info": "Session already running, event will "
                              "be sent at the end of the session"}
            assert (await d.status())["last_session"]["status"] == "running"
            write_config(d.confdir, d.acs.url, periodic_inform_enable="1",
                         periodic_inform_interval="3600")
            answer = unwrap(await d.tr069.call_command("reload"))
            assert answer == {"status": 1,
                              "info": "Session running, reload at the end of the session"}
            assert await d.tr069.get_next_session() == 0, "reloaded before the session end"
            d.acs.gate.set()
            assert (await d.acs.wait_session(2)).events == [("6 CONNECTION REQUEST", "")]
            assert (await d.acs.wait_session(3)).events == [("8 DIAGNOSTICS COMPLETE", "")]
            await signals.wait(2, "ended")   # the CPE has closed its side too
            await asyncio.sleep(0.5)
            assert len(d.acs.sessions) == 3, "exactly one more session for the event"
            assert await d.tr069.get_next_session() > time.time() + 3000
            assert (await d.status())["next_session"]["start_time"] != "N/A"
            sessions = [kind for kind, _ in signals.seen if kind != "properties"]
            assert sessions == ["started", "ended", "started", "ended"]
    A.run(scenario())


def test_command_reload_list_and_unknown(bus, tmp_path):
    async def scenario():
        async with icwmpd(tmp_path, bus.address) as d, Signals(bus.address) as signals:
            listing = unwrap(await d.tr069.call_command(""))
            assert [c["command"] for c in listing["SupportedCommands"]] == ["reload", "exit"]
            assert all(c["description"] for c in listing["SupportedCommands"])
            with pytest.raises(DBusError) as e:
                await d.tr069.call_command("reboot")
            assert e.value.type == INVALID_ARGS and "'reboot' is not supported" in e.value.text
            write_config(d.confdir, d.acs.url, periodic_inform_enable="1",
                         periodic_inform_interval="3600")
            answer = unwrap(await d.tr069.call_command("reload"))
            assert answer == {"status": 1, "info": "icwmpd config reloaded"}
            next_session = await d.tr069.get_next_session()
            assert next_session > 0
            assert await signals.wait(1) == [("properties", {"NextSession": next_session})]
            write_config(d.confdir, d.acs.url, periodic_inform_interval="0")   # out of range
            answer = unwrap(await d.tr069.call_command("reload"))
            assert answer == {"status": -1, "info": "icwmpd config reload failed"}
            assert await d.tr069.get_next_session() > 0, "the previous settings stay"
    A.run(scenario())


def test_notify_reports_value_changes_and_informs(bus, tmp_path):
    async def scenario():
        async with icwmpd(tmp_path, bus.address) as d:
            answer = unwrap(await d.tr069.call_notify())
            assert answer == {"status": 1, "info": "No value change", "changed": []}
            code, _, err = await run_tool(*d.args("-c", "set", "Device.DeviceInfo.ProvisioningCode",
                                                  "BUS-TEST"))
            assert code == 0, err
            answer = unwrap(await d.tr069.call_notify())
            assert answer["changed"] == ["Device.DeviceInfo.ProvisioningCode"]
            session = await d.acs.wait_session(2)   # ProvisioningCode is active notification
            assert ("4 VALUE CHANGE", "") in session.events
            assert session.parameters["Device.DeviceInfo.ProvisioningCode"] == "BUS-TEST"
    A.run(scenario())


def test_command_exit_stops_the_daemon_with_status_0(bus, tmp_path):
    async def scenario():
        async with icwmpd(tmp_path, bus.address) as d:
            answer = unwrap(await d.tr069.call_command("exit"))
            assert answer == {"status": 1, "info": "icwmpd daemon stopped"}
            async with asyncio.timeout(10):
                assert await d.process.wait() == 0
            await d.wait_name(False)
    A.run(scenario())


def test_without_a_reachable_bus_the_daemon_still_informs(tmp_path):
    async def scenario():
        missing = f"unix:path={tmp_path}/no-bus-here"
        async with icwmpd(tmp_path, missing, wait_bus=False) as d:
            assert d.process.returncode is None
            assert "running without the D-Bus API" in d.log()
    A.run(scenario())


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv") or
                    not shutil.which("dbus-send"),
                    reason="needs root, setpriv and dbus-send to call as an unprivileged user")
def test_policy_lets_anybody_read_and_only_root_act(tmp_path):
    async def scenario():
        with DBusDaemon(policy=POLICY) as system_bus:
            async with icwmpd(tmp_path, system_bus.address) as d:   # root may own the name
                code, out, err = await dbus_send(system_bus.address, "StatusJson", user="nobody")
                assert code == 0, err
                assert json.loads(out)["cwmp"]["status"] == "up"
                code, out, err = await dbus_send(
                    system_bus.address, "Get", f"string:{NAME}", "string:NextSession",
                    interface="org.freedesktop.DBus.Properties", user="nobody")
                assert code == 0, err
                for member, args in (("Inform", ("string:", "boolean:false")),
                                     ("Command", ("string:exit",)), ("Notify", ())):
                    code, _, err = await dbus_send(system_bus.address, member, *args,
                                                   user="nobody")
                    assert code != 0 and "AccessDenied" in err, (member, err)
                answer = unwrap(await d.tr069.call_inform("", False))   # root may
                assert answer["info"] == "Session started"
                await d.acs.wait_session(2)
                assert d.process.returncode is None
    A.run(scenario(), timeout=25)


def test_transfer_progress_is_signalled_and_in_the_status(bus, tmp_path):
    size = 300_000

    async def slow_file(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        for _ in range(3):
            writer.write(b"x" * (size // 3))
            await writer.drain()
            await asyncio.sleep(1.2)
        writer.close()

    async def scenario():
        server = await asyncio.start_server(slow_file, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/config"
        async with icwmpd(tmp_path, bus.address) as d, Signals(bus.address) as signals:
            d.acs.queue(A.download(url, "3 Vendor Configuration File", "dl-7", file_size=size))
            await d.tr069.call_inform("6 CONNECTION REQUEST", False)
            s, message = await d.acs.wait_message("TransferComplete", timeout=15)
            assert message.parsed["FaultStruct"]["FaultCode"] == "0"
            progress = [detail for kind, detail in signals.seen if kind == "progress"]
            assert progress and all(key == "dl-7" and 0 < done <= size and total == size
                                    for key, done, total in progress)
            transfer = (await d.status())["transfer"]
            assert transfer["command_key"] == "dl-7" and transfer["total"] == size
            assert transfer["status"] in ("in progress", "done") and transfer["rate"] > 0
        server.close()
    A.run(scenario(), timeout=40)



def test_inform_reads_event_codes_as_icwmp_does(bus, tmp_path):
    """Any case, and icwmp's inform codes by their number alone (its prefix matching)."""
    async def scenario():
        async with icwmpd(tmp_path, bus.address) as d, Signals(bus.address) as signals:
            for n, (text, code) in enumerate([("6 connection request", "6 CONNECTION REQUEST"),
                                              ("8 diagnostics complete", "8 DIAGNOSTICS COMPLETE"),
                                              ("8", "8 DIAGNOSTICS COMPLETE")], start=1):
                answer = unwrap(await d.tr069.call_inform(text, False))
                assert answer == {"status": 1, "info": "Session started"}
                await signals.wait(n, "ended")
                assert d.acs.sessions[n].events == [(code, "")]
            code, out, err = await dbus_send(bus.address, "Inform", "string:6 anything",
                                             "boolean:false")
            assert code == 0, err
            await signals.wait(4, "ended")
            assert d.acs.sessions[4].events == [("6 CONNECTION REQUEST", "")]
    A.run(scenario())
