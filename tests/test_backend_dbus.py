"""The ``dbus`` backend over a real bus: a private dbus-daemon, a small Wi-Fi-like service
exported by the test with dbus-next, and data models (in-process, as the daemon drives
them from a worker thread, and ``icwmpd -c``) whose parameters live on that service.
"""

import asyncio
import json
import subprocess
import sys
import threading
import time

import pytest
from dbus_next import DBusError, RequestNameReply
from dbus_next.constants import PropertyAccess
from dbus_next.service import ServiceInterface, dbus_property, method

from dbus_fixture import DBusDaemon, available
from icwmpy.backends.dbus import DBusClient, from_text, to_text
from icwmpy.bus.service import connect
from icwmpy.config.uci import Uci
from icwmpy.faults import CwmpFault
from icwmpy.model import DataModel
from icwmpy.model.schema import DefinitionError, Definitions
from icwmpy.store import Store

pytestmark = pytest.mark.skipif(not available(), reason="dbus-daemon is not installed")

SERVICE = "org.example.wifi"
PATH = "/org/example/wifi/radio0"
IFACE = "org.example.wifi.Radio"
SLOW = 0.3
RADIO = "Device.X_Test.Radio."
BROKEN = "Device.X_Test.Broken."


class Radio(ServiceInterface):
    """Properties of several D-Bus types, get/set methods, one that fails, one that hangs."""

    def __init__(self):
        super().__init__(IFACE)
        self.reset()

    def reset(self):
        self.channel, self.enabled, self.ssid, self.power = 6, True, "home", -3
        self.rates, self.mode, self.level = ["a", "b"], "ax", 7
        self.channels = []      # every channel set, in order

    @dbus_property()
    def Channel(self) -> "u":
        return self.channel

    @Channel.setter
    def Channel(self, value: "u"):
        if not 1 <= value <= 165:
            raise DBusError("org.example.wifi.Error.Invalid", f"no channel {value}")
        self.channel = value
        self.channels.append(value)

    @dbus_property()
    def Enabled(self) -> "b":
        return self.enabled

    @Enabled.setter
    def Enabled(self, value: "b"):
        self.enabled = value

    @dbus_property()
    def SSID(self) -> "s":
        return self.ssid

    @SSID.setter
    def SSID(self, value: "s"):
        self.ssid = value

    @dbus_property()
    def TxPower(self) -> "n":
        return self.power

    @TxPower.setter
    def TxPower(self, value: "n"):
        self.power = value

    @dbus_property()
    def Rates(self) -> "as":
        return self.rates

    @Rates.setter
    def Rates(self, value: "as"):
        self.rates = value

    @dbus_property(access=PropertyAccess.READ)
    def Load(self) -> "d":
        return 0.25

    @dbus_property(access=PropertyAccess.READ)
    def Bytes(self) -> "t":
        return 2**40

    @method()
    def GetMode(self) -> "s":
        return self.mode

    @method()
    def SetMode(self, mode: "s"):
        if mode == "bad":
            raise DBusError("org.example.wifi.Error.Invalid", "no such mode")
        self.mode = mode

    @method()
    def GetLevel(self) -> "u":
        return self.level

    @method()
    def SetLevel(self, level: "u"):
        self.level = level

    @method()
    def Broken(self) -> "s":
        raise DBusError("org.example.wifi.Error.Failed", "broken on purpose")

    @method()
    async def Slow(self) -> "s":
        await asyncio.sleep(SLOW * 4)
        return "late"


class LoopThread:
    """An asyncio loop in its own thread, as the daemon's beside its model worker."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout=10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self):
        """Cancel what still runs there (a Slow call), stop and close the loop."""
        async def cancel_the_rest():
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)
        self.run(cancel_the_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def on(**kw):
    return {"dbus": {"service": SERVICE, "path": PATH, "interface": IFACE, **kw}}


def definitions():
    rw = {"access": "readWrite"}
    return {
        RADIO: {
            "Channel": {"type": "unsignedInt", **rw, **on(property="Channel")},
            "Enable": {"type": "boolean", **rw, **on(property="Enabled")},
            "SSID": {"type": "string", "max": 32, **rw, **on(property="SSID")},
            "TxPower": {"type": "int", **rw, **on(property="TxPower")},
            "Rates": {"type": "string", "list": True, **rw, **on(property="Rates")},
            "Load": {"type": "decimal", **on(property="Load")},
            "Bytes": {"type": "unsignedLong", **on(property="Bytes")},
            "Mode": {"type": "string", **rw, **on(get="GetMode", set="SetMode")},
            "Level": {"type": "unsignedInt", **rw, **on(get="GetLevel", set="SetLevel")},
        },
        BROKEN: {
            "Failing": {"type": "string", "default": "n/a", **on(get="Broken")},
            "Slow": {"type": "string", **on(get="Slow", timeout=SLOW)},
            "Absent": {"type": "string", **rw, "dbus": {
                "service": "org.example.absent", "path": "/", "interface": "org.example.Absent",
                "property": "Value"}},
            "NoBus": {"type": "string", **on(property="SSID", bus="unix:path=/nonexistent/bus")},
        },
        "Device.X_Test.": {
            "Hostname": {"type": "string", **rw, "uci": "test.main.hostname"},
            "Note": {"type": "string", **rw, "store": True, "default": "none"},
        },
    }


@pytest.fixture(scope="module")
def bus():
    with DBusDaemon() as daemon:
        yield daemon


@pytest.fixture(scope="module")
def radio(bus):
    thread = LoopThread()
    radio = Radio()

    async def start():
        conn = await connect(bus.address)
        conn.export(PATH, radio)
        assert await conn.request_name(SERVICE) == RequestNameReply.PRIMARY_OWNER
        return conn

    conn = thread.run(start())
    yield radio
    thread.loop.call_soon_threadsafe(conn.disconnect)
    thread.close()


@pytest.fixture
def env(tmp_path, bus, radio):
    radio.reset()
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "test").write_text("config main 'main'\n\toption hostname 'router'\n")
    (tmp_path / "datamodel").mkdir()
    (tmp_path / "datamodel" / "test.json").write_text(json.dumps(definitions()))

    def make(client=None):
        model = DataModel.from_dir(str(tmp_path / "datamodel"), Uci(str(tmp_path / "config")),
                                   Store(str(tmp_path / "state")))
        model.ctx.dbus = client or DBusClient(bus.address)
        return model

    env = type("Env", (), {})()
    env.path, env.make, env.radio, env.address = tmp_path, make, radio, bus.address
    return env


def values(model, path):
    return {n.rpartition(".")[2]: v for n, v, _ in model.get_values(path)}


def test_reads_convert_to_tr069_text(env):
    assert values(env.make(), RADIO) == {
        "Channel": "6", "Enable": "1", "SSID": "home", "TxPower": "-3", "Rates": "a,b",
        "Load": "0.25", "Bytes": str(2**40), "Mode": "ax", "Level": "7"}


def test_sets_round_trip_with_the_dbus_types(env):
    model = env.make()
    model.set_values([(RADIO + "Channel", "11", None), (RADIO + "Enable", "false", None),
                      (RADIO + "SSID", "guest", None), (RADIO + "TxPower", "-5", None),
                      (RADIO + "Rates", "x, y", None), (RADIO + "Mode", "ac", None),
                      (RADIO + "Level", "42", None)], "k")
    r = env.radio
    assert (r.channel, r.enabled, r.ssid, r.power, r.rates, r.mode, r.level) == (
        11, False, "guest", -5, ["x", "y"], "ac", 42)
    assert values(env.make(), RADIO)["Rates"] == "x,y"


@pytest.mark.parametrize("name,value", [(RADIO + "Channel", "200"),    # refused by the service
                                        (BROKEN + "Absent", "x")])     # nobody to ask
def test_a_set_the_bus_refuses_is_9002(env, name, value):
    with pytest.raises(CwmpFault) as e:
        env.make().set_values([(name, value, None)])
    assert e.value.code == 9002


def test_a_value_the_bus_type_cannot_hold_is_9007(env):
    """An int, but no int16: the value is invalid for this device, not an internal error."""
    with pytest.raises(CwmpFault) as e:
        env.make().set_values([(RADIO + "TxPower", "40000", None)])
    assert (e.value.code, [code for _, code, _ in e.value.details]) == (9003, [9007])


def test_a_failing_set_rolls_back_the_whole_transaction(env):
    model = env.make()
    with pytest.raises(CwmpFault) as e:
        model.set_values([("Device.X_Test.Hostname", "gw", None),
                          ("Device.X_Test.Note", "changed", None),
                          (RADIO + "Channel", "11", None),
                          (RADIO + "Mode", "bad", None)], "k")
    assert e.value.code == 9002 and e.value.details[0][0] == RADIO + "Mode"
    assert env.radio.channels == [11, 6] and env.radio.mode == "ax"
    assert "option hostname 'router'" in (env.path / "config" / "test").read_text()
    fresh = values(env.make(), "Device.X_Test.")
    assert (fresh["Hostname"], fresh["Note"]) == ("router", "none")


def test_failures_read_as_the_default_and_are_bounded(env):
    start = time.monotonic()
    assert values(env.make(), BROKEN) == {"Failing": "n/a", "Slow": "", "Absent": "", "NoBus": ""}
    assert time.monotonic() - start < SLOW + 1.5


def test_daemon_mode_one_shared_connection_on_the_loop(env):
    """The model in a worker thread, calls hopping onto another thread's loop."""
    loop = LoopThread()
    try:
        client = DBusClient(env.address, loop.loop)
        model = env.make(client)
        assert values(model, RADIO)["Channel"] == "6"
        model.set_values([(RADIO + "Channel", "36", None), (RADIO + "Mode", "ac", None)])
        assert (env.radio.channel, env.radio.mode) == (36, "ac")
        assert list(client._buses) == [env.address]
        shared = client._buses[env.address]
        assert values(model, RADIO)["Level"] == "7"
        assert client._buses[env.address] is shared

        loop.loop.call_soon_threadsafe(shared.disconnect)   # the connection drops...
        time.sleep(0.1)
        assert values(model, RADIO)["Mode"] == "ac"        # ...and is made again
        assert client._buses[env.address] is not shared

        start = time.monotonic()
        assert values(model, BROKEN)["Slow"] == ""
        assert time.monotonic() - start < SLOW + 1

        async def on_the_loop_thread():      # would wait for itself: refused at once
            return values(model, RADIO + "Channel")
        assert loop.run(on_the_loop_thread(), timeout=1) == {"Channel": ""}
        loop.run(client.aclose())
    finally:
        loop.close()


def cli(env, *words, bus=True):
    where = ["--bus", env.address] if bus else []
    return subprocess.run(
        [sys.executable, "-m", "icwmpy", "--confdir", str(env.path / "config"),
         "--statedir", str(env.path / "state"), "--datamodel", str(env.path / "datamodel"),
         *where, "-c", *words], capture_output=True, text=True, timeout=20)


def test_cli_get_and_set_through_the_bus(env):
    out = cli(env, "get", RADIO + "Channel")
    assert (out.returncode, out.stdout) == (0, f"{RADIO}Channel => 6\n")
    out = cli(env, "set", RADIO + "Channel", "44")
    assert out.returncode == 0 and env.radio.channel == 44
    out = cli(env, "set", RADIO + "Mode", "bad")
    assert out.returncode == 1 and out.stderr.startswith("Fault 9002")
    # without --bus: cwmp.cpe.dbus_address, as the daemon
    (env.path / "config" / "cwmp").write_text(
        f"config cpe 'cpe'\n\toption dbus_address '{env.address}'\n")
    assert cli(env, "get", RADIO + "Level", bus=False).stdout == f"{RADIO}Level => 7\n"


@pytest.mark.parametrize("spec,error", [
    ({"service": "org.example.wifi", "property": "Channel"}, "invalid path"),
    (on(property="Channel")["dbus"] | {"path": "no/slash"}, "invalid path"),
    (on(property="Bad-Name")["dbus"], "invalid property"),
    (on()["dbus"], "needs a \"property\" or a \"get\""),
    (on(property="Channel", propery="x")["dbus"], "unknown key"),
    (on(property="Channel", signature="a{sv}")["dbus"], "invalid signature"),
    (on(property="Channel", timeout=0)["dbus"], "timeout"),
])
def test_definition_errors(tmp_path, spec, error):
    with pytest.raises(DefinitionError, match="Device.X.P: dbus: .*" + error):
        bind(tmp_path, {"type": "string", "dbus": spec})


def test_a_writable_parameter_needs_a_way_to_write(tmp_path):
    with pytest.raises(DefinitionError, match="readWrite"):
        bind(tmp_path, {"access": "readWrite", **on(get="GetMode")})


def bind(tmp_path, spec):
    """Backends are made, and their arguments checked, when a DataModel binds them."""
    defs = Definitions()
    defs.load({"Device.X.": {"P": spec}})
    DataModel(defs, Uci(str(tmp_path)), Store(str(tmp_path / "state")))


@pytest.mark.parametrize("signature,value,text", [
    ("b", True, "1"), ("y", 255, "255"), ("x", -2**63, str(-2**63)), ("d", 2.0, "2"),
    ("d", 0.1, "0.1"), ("o", "/a/b", "/a/b"), ("au", [1, 2], "1,2"), ("as", [], "")])
def test_conversions_both_ways(signature, value, text):
    assert to_text(signature, value) == text
    assert from_text(signature, text) == value
