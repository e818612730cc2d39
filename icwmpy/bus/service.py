"""The ``org.icwmpy.tr069`` D-Bus service: icwmp's ubus ``tr069`` object on D-Bus.

Operators and firmware scripts drive icwmp with ``ubus call tr069 status|inform|command``;
this is the same API on D-Bus, with the same reply keys and texts so scripts port by
changing only the transport. Every reply is an ``a{sv}`` mirroring icwmp's JSON object
(``StatusJson`` also gives the status as one JSON string, for shells). Bad arguments are
D-Bus errors (``org.icwmpy.tr069.Error.InvalidArgs``), never a silent fallback.

The bus is optional, as ubus is for icwmp: :meth:`BusService.start` logs a warning and
returns None when the bus cannot be reached, and the daemon carries on without it.
"""

import asyncio
import datetime
import json
import logging
import time

from dbus_next import BusType, DBusError, RequestNameReply, Variant
from dbus_next.aio import MessageBus
from dbus_next.constants import NameFlag, PropertyAccess
from dbus_next.service import ServiceInterface, dbus_property, method, signal

from icwmpy.cwmp import events
from icwmpy.faults import MESSAGES, CwmpFault

log = logging.getLogger("icwmpy")

NAME = "org.icwmpy.tr069"
PATH = "/org/icwmpy/tr069"
INTERFACE = "org.icwmpy.tr069"
INVALID_ARGS = "org.icwmpy.tr069.Error.InvalidArgs"
FAILED = "org.icwmpy.tr069.Error.Failed"
CONNECT_TIMEOUT = 5
NOT_AVAILABLE = "N/A"

# icwmp's inform: no event means a connection request; GetRPCMethods alone rides on 2 PERIODIC.
DEFAULT_EVENT = "6 CONNECTION REQUEST"
GET_RPC_METHODS_EVENT = "2 PERIODIC"
COMMANDS = {"reload": "Reload icwmpd with new configuration",
            "exit": "Stop icwmpd (after the session in progress, if any)"}


def isotime(timestamp):
    """icwmp's time format: local time with the UTC offset, or N/A when unknown."""
    if not timestamp:
        return NOT_AVAILABLE
    return datetime.datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def to_variant(value):
    """A JSON-like value (str, bool, int, dict, list of str or of dicts) as a Variant."""
    if isinstance(value, bool):
        return Variant("b", value)
    if isinstance(value, int):
        return Variant("i", value)
    if isinstance(value, str):
        return Variant("s", value)
    if isinstance(value, dict):
        return Variant("a{sv}", to_variants(value))
    if all(isinstance(item, str) for item in value):
        return Variant("as", list(value))
    return Variant("aa{sv}", [to_variants(item) for item in value])


def to_variants(mapping):
    return {key: to_variant(value) for key, value in mapping.items()}


def invalid_args(fault):
    """A CwmpFault as the D-Bus error: ``9007 Invalid parameter value: <why>``; a fault
    listing parameters (9003 of an SPV) is told by its first one's, named."""
    code, detail, name = fault.code, fault.message or "", None
    if fault.details:
        name, code, detail = fault.details[0]
    text = MESSAGES.get(code, "Fault")
    detail = (detail or "").removeprefix(text).removeprefix(": ")
    if name and name not in detail:
        detail = f"{name}: {detail}" if detail else name
    return DBusError(INVALID_ARGS, f"{code} {text}: {detail}" if detail else f"{code} {text}")


def reply(status, info, **more):
    """icwmp's ``{"status": n, "info": "..."}`` reply, with extra keys."""
    return to_variants({"status": status, "info": info, **more})


class Tr069Interface(ServiceInterface):
    """The methods, signals and property; the state it reports is the Agent's."""

    def __init__(self, agent, started):
        super().__init__(INTERFACE)
        self.agent = agent
        self.started = started        # the daemon's start, near enough: it starts the bus first
        self.session_start = None     # start time of the session in progress
        self._published = self.NextSession   # the NextSession value the bus was last told
        self.transfer = {"status": "none", "command_key": "", "bytes": 0, "total": 0, "rate": 0}

    # ---------------------------------------------------------------- status
    def status(self):
        """The status as icwmp's ``ubus call tr069 status`` object."""
        agent = self.agent
        last = agent.last_session or {}
        if self.session_start is not None:
            last_session = {"status": "running", "start_time": isotime(self.session_start),
                            "end_time": isotime(last.get("end"))}
        else:
            last_session = {"status": last.get("status", NOT_AVAILABLE),
                            "start_time": isotime(last.get("start")),
                            "end_time": isotime(last.get("end"))}
        stats = agent.stats
        return {"cwmp": {"status": "up", "start_time": isotime(self.started),
                         "acs_url": agent.settings.acs.url},
                "last_session": last_session,
                "next_session": {"status": "waiting", "start_time": isotime(self.next_session()),
                                 "end_time": NOT_AVAILABLE},
                "statistics": {"success_sessions": stats["success"],
                               "failure_sessions": stats["failure"],
                               "total_sessions": stats["success"] + stats["failure"]},
                "transfer": dict(self.transfer)}

    @method()
    def Status(self) -> "a{sv}":
        return to_variants(self.status())

    @method()
    def StatusJson(self) -> "s":
        return json.dumps(self.status(), indent=1)

    # ---------------------------------------------------------------- inform
    @method()
    def Inform(self, event: "s", get_rpc_methods: "b") -> "a{sv}":
        """Ask for a session carrying ``event`` (and GetRPCMethods); coalesced when one runs.
        The event is read as icwmp reads it: any case, or its number alone."""
        code = events.from_text(event) if event else (
            GET_RPC_METHODS_EVENT if get_rpc_methods else DEFAULT_EVENT)
        if code is None:
            raise DBusError(INVALID_ARGS, f"unknown event code {event!r}")
        event = code
        agent = self.agent
        running = agent.in_session
        if get_rpc_methods:
            agent.ask_get_rpc_methods()
        agent.trigger(event)
        log.info("D-Bus inform: %s%s", event, " with GetRPCMethods" if get_rpc_methods else "")
        if not agent.settings.acs.url:
            return reply(-1, "No ACS URL configured (cwmp.acs.url): event queued")
        if running:
            return reply(1, "Session already running, event will be sent at the end of the session")
        return reply(1, "Session started")   # with GetRPCMethods too, as icwmp's README

    # ---------------------------------------------------------------- command
    @method()
    def Command(self, command: "s") -> "a{sv}":
        """``reload`` or ``exit``; empty lists the supported commands (icwmp without argument).
        Status 1 when done or to be done at the session's end (icwmp's README), -1 failed."""
        if not command:
            return to_variants({"SupportedCommands": [
                {"command": name, "description": text} for name, text in COMMANDS.items()]})
        if command not in COMMANDS:
            raise DBusError(INVALID_ARGS,
                            f"'{command}' is not supported. Check the supported commands.")
        log.info("D-Bus command: %s", command)
        agent = self.agent
        if command == "exit":
            agent.stop()
            return reply(1, "icwmpd daemon stopped")
        if agent.in_session:
            agent.reload()
            return reply(1, "Session running, reload at the end of the session")
        before = agent.settings
        agent.reload()
        if agent.settings is before:   # the Agent keeps the old settings when the new are bad
            return reply(-1, "icwmpd config reload failed")
        return reply(1, "icwmpd config reloaded")

    # ---------------------------------------------------------------- notify
    @method()
    async def Notify(self) -> "a{sv}":
        """Check for value changes now instead of at the next poll; say which changed."""
        try:
            changed = await self.agent.check_values()
        except Exception as e:  # a backend failing must come back as a D-Bus error
            log.warning("D-Bus notify: %s", e)
            raise DBusError(FAILED, f"value change check failed: {e}") from None
        info = f"{len(changed)} value change(s) notified" if changed else "No value change"
        return reply(1, info, changed=list(changed))   # icwmp's notify: status 1

    # ---------------------------------------------------------------- device-side work
    @method()
    def Download(self, url: "s", file_type: "s", target: "s") -> "a{sv}":
        """Download a file as the ACS's Download would (FileType "1 Firmware Upgrade
        Image", ...); the ACS hears of it by an AutonomousTransferComplete if its
        AutonomousTransferCompletePolicy asks for it."""
        key = self._queue(self.agent.transfers.autonomous_download, url, file_type, target)
        return reply(1, "Download queued", id=key)

    @method()
    def ChangeDUState(self, operation: "s", args: "a{ss}") -> "a{sv}":
        """One software module operation (Install, Update or Uninstall; ``args`` as its
        TR-069 struct: URL, UUID, Version, Username, Password, ExecutionEnvRef); the ACS
        hears of it by an AutonomousDUStateChangeComplete if DUStateChangeComplPolicy asks."""
        if operation not in ("Install", "Update", "Uninstall"):
            raise DBusError(INVALID_ARGS, f"operation {operation!r}: Install, Update or Uninstall")
        key = self._queue(self.agent.transfers.change_du_state,
                          {"Operations": [{**args, "Operation": operation}]}, True)
        return reply(1, f"{operation} queued", id=key)

    @method()
    def RequestDownload(self, file_type: "s", args: "a{ss}") -> "a{sv}":
        """Ask the ACS for a file: a RequestDownload in the next session (9 REQUEST DOWNLOAD)."""
        key = self._queue(self.agent.transfers.request_download, file_type, list(args.items()))
        return reply(1, "RequestDownload queued", id=key)

    # ---------------------------------------------------------------- diagnostics
    @method()
    async def StartDiagnostics(self, test: "s", params: "a{ss}") -> "a{sv}":
        """Start a TR-143 test now (``test``: IPPing, TraceRoute, DownloadDiagnostics, ...,
        NSLookupDiagnostics; ``params``: its TR-181 parameters by name), checked as an SPV
        would; it reports by the DiagnosticsComplete signal, not to the ACS."""
        try:
            run = await self.agent.diagnostics.request(test, params)
        except CwmpFault as fault:
            raise invalid_args(fault) from None
        log.info("D-Bus diagnostics: %s", test)
        return reply(1, f"{test} started", run=run)

    @staticmethod
    def _queue(fn, *args):
        try:
            return fn(*args)
        except CwmpFault as fault:
            raise invalid_args(fault) from None

    # ---------------------------------------------------------------- signals
    @signal()
    def SessionStarted(self, events) -> "as":
        return events

    @signal()
    def SessionEnded(self, status) -> "s":
        return status

    @signal()
    def TransferProgress(self, command_key, done, total) -> "stt":
        return [command_key, done, total]

    @signal()
    def DiagnosticsComplete(self, test, state, origin, results) -> "sssa{ss}":
        return [test, state, origin, results]

    @dbus_property(access=PropertyAccess.READ)
    def NextSession(self) -> "x":
        """Unix time of the next scheduled session (periodic, retry, scheduled), 0 if none."""
        return int(self.next_session() or 0)

    def next_session(self):
        """The Agent's next timer, or None: a time already past is a timer that has fired
        (the Agent does not clear it), not a session to come."""
        when = self.agent.next_session
        return when if when and when > time.time() else None

    def agent_event(self, event, detail):
        """Agent listener: keep the running state and tell the bus; a new next session
        time is a PropertiesChanged of NextSession."""
        if event == "next_session":
            value = self.NextSession
            if value != self._published:
                self._published = value
                self.emit_properties_changed({"NextSession": value})
        elif event == "started":
            self.session_start = time.time()
            self.SessionStarted(list(detail))
        elif event == "ended":
            self.session_start = None
            self.SessionEnded(detail)
        elif event == "diagnostics":
            self.DiagnosticsComplete(detail["test"], detail["state"], detail["origin"],
                                     detail["results"])


class BusService:
    """The service on one bus connection; :meth:`start` it, :meth:`stop` it."""

    def __init__(self, agent, bus, interface):
        self.agent = agent
        self.bus = bus
        self.interface = interface

    @classmethod
    async def start(cls, agent, bus_address="system"):
        """Connect to ``bus_address`` ('system', 'session' or a D-Bus address), own the
        name and export the object. None (with a warning) when that is not possible."""
        try:
            bus = await asyncio.wait_for(connect(bus_address), CONNECT_TIMEOUT)
        except Exception as e:  # any failure to reach the bus: run without it, as icwmp does
            log.warning("D-Bus %s unreachable (%s): running without the D-Bus API",
                        bus_address, str(e) or type(e).__name__)
            return None
        interface = Tr069Interface(agent, time.time())
        bus.export(PATH, interface)
        try:
            answer = await bus.request_name(NAME, NameFlag.DO_NOT_QUEUE)
        except DBusError as e:
            answer = e.text
        if answer != RequestNameReply.PRIMARY_OWNER:
            log.warning("D-Bus %s: cannot own %s (%s): running without the D-Bus API",
                        bus_address, NAME, answer)
            bus.disconnect()
            return None
        agent.listeners.append(interface.agent_event)
        log.info("D-Bus API %s on %s", NAME, bus_address)
        return cls(agent, bus, interface)

    def transfer_progress(self, command_key, done, total, rate):
        """Called by the transfer queue while a file moves: the signal, and the last report
        in ``Status`` (beyond icwmp: "transfer")."""
        self.interface.transfer = {"status": "done" if total and done >= total else "in progress",
                                   "command_key": command_key, "bytes": int(done),
                                   "total": int(total), "rate": int(rate)}
        self.interface.TransferProgress(command_key, done, total)

    async def stop(self):
        """Release the name (which also flushes pending replies, e.g. to ``exit``), then close."""
        self.agent.listeners.remove(self.interface.agent_event)
        try:
            await asyncio.wait_for(self.bus.release_name(NAME), CONNECT_TIMEOUT)
        except Exception as e:  # the bus went away first: nothing left to flush
            log.debug("D-Bus release: %s", e)
        self.bus.disconnect()
        try:
            await asyncio.wait_for(self.bus.wait_for_disconnect(), CONNECT_TIMEOUT)
        except Exception as e:  # an unclean close is still a close
            log.debug("D-Bus disconnect: %s", e)


class _ErrorReply:
    """dbus-next 0.2.3 answers a DBusError raised by a method with the error reply, then
    lets the exception escape and logs it as unexpected (its ``SendReply.__exit__`` drops
    the "handled" result; fixed in the dbus-fast fork). This context reports it handled."""

    def __init__(self, inner):
        self.inner = inner

    def __enter__(self):
        return self

    def __call__(self, message):
        self.inner(message)

    def send_error(self, exc):
        self.inner.send_error(exc)

    def __exit__(self, exc_type, exc_value, tb):
        return self.inner._exit(exc_type, exc_value, tb)


class _MessageBus(MessageBus):
    def _send_reply(self, msg):
        return _ErrorReply(super()._send_reply(msg))


async def connect(bus_address):
    if bus_address == "system":
        bus = _MessageBus(bus_type=BusType.SYSTEM)
    elif bus_address == "session":
        bus = _MessageBus(bus_type=BusType.SESSION)
    else:
        bus = _MessageBus(bus_address=bus_address)
    return await bus.connect()
