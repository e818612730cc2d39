"""``dbus`` backend: a parameter served by another service's D-Bus API.

So a firmware integrator maps TR-181 onto the daemons that own the device (a Wi-Fi
manager, a network manager) by editing JSON, without writing Python::

    "Channel": {"type": "unsignedInt", "access": "readWrite",
                "dbus": {"service": "org.example.wifi", "path": "/org/example/wifi/radio0",
                         "interface": "org.example.wifi.Radio", "property": "Channel"}}

reads and writes a property through ``org.freedesktop.DBus.Properties``; ``"get":
"GetChannel"`` (no arguments, one value returned) and ``"set": "SetChannel"`` (one
argument) call methods instead (``"get"`` wins over ``"property"`` for reading, ``"set"``
for writing). Optional: ``"bus"`` ("system", "session" or an address; default the
daemon's bus, ``--bus`` / ``cwmp.cpe.dbus_address``), ``"timeout"`` in seconds (default
2), ``"signature"`` of the written value (default: the property's own, learnt from a
Get; for a set method, from the parameter's TR-069 type). Booleans read as 1/0, numbers
as decimal text, arrays of simple types as comma-separated lists.

A failing call (no such service, an error reply, no answer in time, no bus) reads as
the parameter's ``"default"`` (else empty) and makes a set fail, so the transaction
rolls back (9002). dbus-next is imported only when a definition uses this backend: it
is a tenth of a second of every ``icwmpd -c`` run otherwise; asyncio (30 ms) only when a
call is made, for the same reason.
"""

import contextlib
import logging
import sys

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 2
# How much later than its own timeout the model thread gives up on a call scheduled on
# the daemon's loop: only a loop that is blocked (never waiting for us, see DBusClient)
# takes that long.
LOOP_GRACE = 1
PROPERTIES = "org.freedesktop.DBus.Properties"
KEYS = {"service", "path", "interface", "property", "get", "set", "bus", "timeout",
        "signature"}
INT_BOUNDS = {"y": (0, 2**8 - 1), "n": (-2**15, 2**15 - 1), "q": (0, 2**16 - 1),
              "i": (-2**31, 2**31 - 1), "u": (0, 2**32 - 1),
              "x": (-2**63, 2**63 - 1), "t": (0, 2**64 - 1)}
TEXT = frozenset("sog")
SIMPLE = frozenset(INT_BOUNDS) | TEXT | {"b", "d"}
# What a set method is given when the definition names no signature.
SIGNATURE_OF_TYPE = {"boolean": "b", "int": "i", "unsignedInt": "u", "long": "x",
                     "unsignedLong": "t", "decimal": "d"}


class DBusCallError(OSError):
    """A D-Bus call did not give a value: the backend reads its default, a set fails."""


def to_text(signature, value):
    """A D-Bus value as TR-069 text."""
    if signature == "v":
        return to_text(value.signature, value.value)
    if signature == "b":
        return "1" if value else "0"
    if signature in INT_BOUNDS:
        return str(value)
    if signature == "d":
        return str(int(value)) if value.is_integer() else repr(value)
    if signature in TEXT:
        return value
    if signature[:1] == "a" and (signature[1:] in SIMPLE or signature[1:] == "v"):
        return ",".join(to_text(signature[1:], item) for item in value)
    raise ValueError(f"D-Bus type {signature!r} has no TR-069 form")


def from_text(signature, text):
    """TR-069 text as a D-Bus value of ``signature``; ValueError when it does not fit."""
    if signature == "b":
        return text.strip().lower() in ("1", "true")
    if signature in INT_BOUNDS:
        number = int(text)
        low, high = INT_BOUNDS[signature]
        if not low <= number <= high:
            raise ValueError(f"{number} does not fit D-Bus type {signature!r}")
        return number
    if signature == "d":
        return float(text)
    if signature in TEXT:
        return text
    if signature[:1] == "a" and signature[1:] in SIMPLE:
        return [from_text(signature[1:], item.strip()) for item in text.split(",") if item.strip()]
    raise ValueError(f"cannot write D-Bus type {signature!r}")


def writable(signature):
    """Whether :func:`from_text` can make a value of this signature."""
    return signature in SIMPLE or (signature[:1] == "a" and signature[1:] in SIMPLE)


class DBusClient:
    """Makes the backend's calls; one per data model, in its ``Context.dbus``.

    The data model is synchronous. In the daemon (``loop`` given) every call is a
    coroutine handed to the daemon's asyncio loop with ``run_coroutine_threadsafe``
    over ONE connection per bus address, made there on first use and again after it
    drops; the model worker thread waits for it, bounded. That cannot deadlock: the
    coroutine only talks to the bus and never waits on the model thread, and a call
    made on the loop's own thread is refused instead of waiting for itself. The one
    place the loop blocks on the worker, ``Agent.run``'s final executor shutdown, is
    bounded by the call's own timeout. Without a loop (the ``-c`` CLI, tests) each
    call gets a private short-lived loop and connection.
    """

    def __init__(self, address="system", loop=None):
        self.address = address
        self.loop = loop
        self._buses = {}    # address -> connected MessageBus; touched only on self.loop

    def call(self, bus, service, path, interface, member, signature="", body=(),
             timeout=DEFAULT_TIMEOUT):
        """The reply (a dbus-next Message) of one method call; DBusCallError otherwise."""
        address = bus or self.address
        args = (address, service, path, interface, member, signature, list(body))
        running = _running_loop()
        if running is not None and self.loop in (None, running):
            raise DBusCallError(f"{service} {member}: called on the event loop's own thread, "
                                "which would wait for itself")
        import asyncio
        try:
            if self.loop is None:
                return asyncio.run(self._private(args, timeout))
            future = asyncio.run_coroutine_threadsafe(self._shared(args, timeout), self.loop)
            try:
                return future.result(timeout + LOOP_GRACE)
            except TimeoutError:
                future.cancel()
                raise
        except DBusCallError:
            raise
        except TimeoutError:
            raise DBusCallError(f"{service} {member}: no answer within {timeout} s") from None
        except Exception as e:  # whatever the bus library raises: one kind of failure here
            raise DBusCallError(f"{service} {member} on {address}: "
                                f"{str(e) or type(e).__name__}") from e

    async def aclose(self):
        """Close the shared connections (on the loop, at daemon exit)."""
        buses, self._buses = self._buses, {}
        for bus in buses.values():
            await _close(bus)

    async def _shared(self, args, timeout):
        import asyncio
        async with asyncio.timeout(timeout):
            address = args[0]
            bus = self._buses.get(address)
            if bus is None or not bus.connected:
                if bus is not None:
                    await _close(bus)
                bus = self._buses[address] = await _connect(address)
            return _checked(await bus.call(_message(*args[1:])))

    @staticmethod
    async def _private(args, timeout):
        import asyncio
        bus = None
        try:
            async with asyncio.timeout(timeout):
                bus = await _connect(args[0])
                return _checked(await bus.call(_message(*args[1:])))
        finally:
            if bus is not None:
                await _close(bus)


def _running_loop():
    asyncio = sys.modules.get("asyncio")   # never imported: no loop can be running
    try:
        return asyncio and asyncio.get_running_loop()
    except RuntimeError:
        return None


async def _connect(address):
    from icwmpy.bus.service import connect
    return await connect(address)


async def _close(bus, timeout=1):
    """Disconnect and release the socket: dbus-next 0.2.3 shuts it down but leaves closing
    it to the garbage collector, which a daemon reconnecting now and then should not."""
    import asyncio
    if bus.connected:
        bus.disconnect()
    with contextlib.suppress(Exception):   # an error is a disconnection too
        await asyncio.wait_for(bus.wait_for_disconnect(), timeout)
    bus._sock.close()


def _message(service, path, interface, member, signature, body):
    from dbus_next import Message
    return Message(destination=service, path=path, interface=interface, member=member,
                   signature=signature, body=body)


def _checked(reply):
    from dbus_next import MessageType
    if reply.message_type == MessageType.ERROR:
        text = reply.body[0] if reply.body and isinstance(reply.body[0], str) else ""
        raise DBusCallError(f"{reply.error_name}: {text}" if text else reply.error_name)
    return reply


class DBusParam:
    """One parameter on one D-Bus object (the same for every table instance), called
    through each CPE's ``ctx.dbus``. What it learns describes the remote service, so it is
    shared by the CPEs: a property's signature, and the last error logged."""

    def __init__(self, spec, table):
        where = spec["dbus"]
        if not isinstance(where, dict):
            raise ValueError("dbus: expected an object with service, path, interface, ...")
        unknown = set(where) - KEYS
        if unknown:
            raise ValueError(f"dbus: unknown key(s) {sorted(unknown)}, expected {sorted(KEYS)}")
        if "property" not in where and "get" not in where:
            raise ValueError("dbus: needs a \"property\" or a \"get\" method")
        if spec.get("access") == "readWrite" and "property" not in where and "set" not in where:
            raise ValueError("dbus: a readWrite parameter needs a \"property\" or a \"set\" method")
        _validate(where)
        self.where = where
        self.timeout = where.get("timeout", DEFAULT_TIMEOUT)
        self.signature = where.get("signature")
        self.type = spec.get("type", "string")
        self.default = spec.get("default", "")
        self._failing = None    # the last error logged, so a dead service is logged once

    def get(self, ctx, keys, name):
        try:
            if "get" in self.where:
                reply = self._call(ctx, self.where["get"])
                if not reply.body:
                    raise DBusCallError(f"{self.where['get']} returned nothing")
                value = to_text(reply.signature, reply.body[0])
            else:
                value = to_text("v", self._get_property(ctx))
        except (DBusCallError, ValueError) as e:
            self._log(name, e)
            return self.default
        self._failing = None
        return value

    def set(self, ctx, keys, name, value):
        where = self.where
        if "set" in where:
            signature = self.signature or SIGNATURE_OF_TYPE.get(self.type, "s")
            self._call(ctx, where["set"], signature, [from_text(signature, value)])
        else:
            from dbus_next import Variant
            if self.signature is None:   # a property's type never changes: learnt once
                self.signature = self._get_property(ctx).signature
            variant = Variant(self.signature, from_text(self.signature, value))
            self._call(ctx, "Set", "ssv", [where["interface"], where["property"], variant],
                       interface=PROPERTIES)

    def _get_property(self, ctx):
        where = self.where
        return self._call(ctx, "Get", "ss", [where["interface"], where["property"]],
                          interface=PROPERTIES).body[0]

    def _call(self, ctx, member, signature="", body=(), interface=None):
        where = self.where
        return ctx.dbus.call(where.get("bus"), where["service"], where["path"],
                                  interface or where["interface"], member, signature, body,
                                  self.timeout)

    def _log(self, name, error):
        if str(error) != self._failing:
            self._failing = str(error)
            log.warning("%s: D-Bus read failed: %s", name, error)


def _validate(where):
    """Checked when the definitions are bound: a typo stops the start, rather
    than reading empty ever after."""
    from dbus_next import validators
    checks = [("service", validators.is_bus_name_valid),
              ("path", validators.is_object_path_valid),
              ("interface", validators.is_interface_name_valid),
              ("property", validators.is_member_name_valid),
              ("get", validators.is_member_name_valid),
              ("set", validators.is_member_name_valid),
              ("signature", writable)]
    for key, valid in checks:
        if key in where or key in ("service", "path", "interface"):
            if not isinstance(where.get(key), str) or not valid(where[key]):
                raise ValueError(f"dbus: invalid {key} {where.get(key)!r}")
    timeout = where.get("timeout", DEFAULT_TIMEOUT)
    if not isinstance(timeout, (int, float)) or not 0 < timeout <= 60:
        raise ValueError(f"dbus: timeout {timeout!r} must be a number of seconds in (0, 60]")
