"""One CPE: its events, schedules and sessions with the ACS.

The Agent decides *when* a session runs and feeds it: triggers (boot, periodic,
scheduled, connection request, value change, D-Bus) add an event to the persisted
queue and wake the loop; a trigger that arrives during a session is coalesced into
the next one. A failed session is retried after the TR-069 back-off. It composes the
parts that each keep their own state: :class:`~icwmpy.inform.InformBuilder` (what the
Inform says), :class:`~icwmpy.timers.SessionTimers`, :func:`~icwmpy.driver.run_session`
(the I/O of a session), :class:`~icwmpy.actions.DeviceActions` (reboot, reset) and
:class:`icwmpy.rpc.RpcHandler` (the ACS's requests). Data model calls run in the
executor it is given, one thread shared by every CPE of the process, so the event loop
never blocks on a backend.
"""

import asyncio
import ctypes
import logging
import os
import time
from dataclasses import dataclass

from icwmpy import schedule
from icwmpy.actions import DeviceActions, run_shell
from icwmpy.config.settings import ConfigError, load_settings
from icwmpy.cwmp import soap
from icwmpy.cwmp.events import is_valid
from icwmpy.cwmp.session import CpeRequest
from icwmpy.diagnostics.runner import Diagnostics
from icwmpy.driver import run_session
from icwmpy.eventqueue import EventQueue
from icwmpy.faults import CwmpFault
from icwmpy.inform import InformBuilder, json_list, open_session
from icwmpy.lwn import LightweightNotifier
from icwmpy.notify import ValueWatcher
from icwmpy.rpc import RpcHandler
from icwmpy.rpc.methods import Features
from icwmpy.rpc.options import Options
from icwmpy.timers import SessionTimers
from icwmpy.transport import AcsClient, CurlLoop

log = logging.getLogger("icwmpy")

GET_RPC_METHODS = "GetRPCMethods"
# custom_notify_json's notify_type values (TR-069 notification 0..6), as icwmp writes them
NOTIFY_TYPES = {str(n) for n in range(7)}
# A session with a message larger than this gives freed heap back to the OS at its end.
TRIM_AFTER = 256 * 1024
_MALLOC_TRIM = getattr(ctypes.CDLL(None), "malloc_trim", None)  # glibc only (not musl)


def give_back_memory():
    """Return the free heap glibc keeps to the OS (malloc_trim). The parse tree and strings
    of a big message are freed, but in arenas glibc does not shrink by itself: without this
    the idle daemon stays megabytes larger after each one."""
    if _MALLOC_TRIM:
        _MALLOC_TRIM(0)


class CpeLog(logging.LoggerAdapter):
    """The log of one CPE of a fleet: each line starts with its id."""

    def process(self, msg, kwargs):
        return f"{self.extra['cpe']}: {msg}", kwargs


@dataclass(frozen=True)
class FleetMember:
    """What makes an Agent one simulated CPE of a fleet (:mod:`icwmpy.fleet`): ``cpe_id``
    names it in the log; ``device_id`` is its Inform's DeviceId; ``phase`` (0..1) places
    its periodic informs within the interval from the fleet's start ``epoch`` (one time
    for all: each CPE's own start time would stretch the spread by the fleet's start-up)
    when no PeriodicInformTime anchors them, so that thousands of CPEs do not inform at
    the same second; ``sessions`` (a semaphore)
    bounds the sessions of the fleet running at once. Its Reboot and FactoryReset end the
    Agent with EXIT_FOR_REBOOT, never a command on the host."""
    cpe_id: str
    device_id: dict
    phase: float
    epoch: float
    sessions: asyncio.Semaphore


class Agent:
    """A CPE. ``settings`` its validated configuration (re-read on reload), ``model`` its
    DataModel, ``uci`` the Uci, ``store`` its Store, ``transfers`` its TransferQueue,
    ``executor`` the one-thread executor every data model call goes through; ``boot`` =
    started by a (re)boot (``-b``); ``member``: a :class:`FleetMember` in fleet mode."""

    def __init__(self, *, confdir, settings, model, uci, store, transfers, executor,
                 boot=False, get_rpc_methods=False, member=None):
        self.confdir = confdir
        self.model = model
        self.uci = uci
        self.store = store
        self.transfers = transfers
        self.settings = settings
        self.executor = executor
        self.member = member
        self.log = CpeLog(log, {"cpe": member.cpe_id}) if member else log
        self.events = EventQueue(store)
        self.watcher = ValueWatcher(store)
        self.lwn = LightweightNotifier(self)
        self.state = store["agent"]
        self.options = Options(store)  # its device_id: the Inform's DeviceId, once known
        self.rpc = RpcHandler(model, self)
        self.inform = InformBuilder(model, self.log, member.device_id if member else None)
        self.diagnostics = Diagnostics(store, model, self.run_model, self.trigger,
                                       lambda detail: self._tell("diagnostics", detail), self.log)
        self.boot = boot
        self.want_get_rpc_methods = get_rpc_methods
        self.retry = 0
        self.in_session = False
        self.exit_code = None
        self.stats = {"sessions": 0, "success": 0, "failure": 0}
        self.last_session = None
        self.acs_ip = None   # the ACS address the last answered session reached
        self.listeners = []  # callables (event, detail): "started", "ended", "next_session",
        #                      "diagnostics" (a finished test: {test, state, origin, results})
        self.timers = None   # SessionTimers, made on the loop by run()
        self.actions = None  # DeviceActions, made with the timers
        self._plain_requests = set()  # ACS URLs that refused compressed requests (415)
        self._wake = asyncio.Event()
        self._deferred = False
        self._stopping = False
        self._last_active = 0.0
        self._next_settings = None   # given to a reload deferred by a session
        self._refreshing = None      # the task reading state files again (see reload)
        self._loop = None
        model.change_listeners.append(self._model_changed)

    # ---------------------------------------------------------------- services
    async def run_model(self, fn, *args):
        """Run a data model call in the model executor (usable before run() too)."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def trigger(self, code=None, command_key=""):
        """Ask for a session, carrying ``code`` (persisted first). Never dropped: during a
        session it is coalesced into the next one."""
        if code is not None:
            if not is_valid(code):
                raise ValueError(f"unknown event code {code!r}")
            self.events.add(code, command_key)
        if self.in_session:
            self._deferred = True
        else:
            if self.timers:
                self.timers.cancel("retry")
            self._wake.set()

    def ask_get_rpc_methods(self):
        """The next session sends GetRPCMethods (-g, D-Bus), once."""
        self.state.set("get_rpc_methods", True)

    def reboot(self, command_key):
        self.actions.reboot(command_key)

    def factory_reset(self):
        self.actions.factory_reset()

    def schedule_inform(self, delay_seconds, command_key):
        due = time.time() + delay_seconds
        self.state.set("scheduled", self.state.get("scheduled", []) + [[due, command_key]])
        self._arm_scheduled()

    @property
    def next_session(self):
        """Wall-clock time of the next timer that starts a session (None: none armed)."""
        return self.timers.next_session if self.timers else None

    async def check_values(self):
        """Look for value changes now (periodic poll, or on request from D-Bus)."""
        current = await self.run_model(self.model.notification_values)
        passive, active, lightweight = self.watcher.check(current)
        if lightweight:
            await self.lwn.notify(lightweight)
        if passive or active:
            self.log.info("value change: %s", ", ".join(passive + active))
            self.events.add("4 VALUE CHANGE")
        if active:
            throttle = await self.run_model(self._active_throttle)
            wait = self._last_active + throttle - time.time()
            if wait > 0:
                self.timers.at("throttle", time.time() + wait, self._active_due)
            else:
                self._active_due()
        return passive + active

    def _active_due(self):
        """An active notification starts a session (DefaultActiveNotificationThrottle apart)."""
        self._last_active = time.time()
        self.trigger()

    def stop(self, exit_code=None):
        if exit_code is not None:
            self.exit_code = exit_code
        self._stopping = True
        self._wake.set()

    def reload(self, settings=None):
        """Re-read the configuration (SIGHUP, D-Bus), or take ``settings`` read once for a
        fleet; deferred while a session runs. The state files another process wrote
        (``icwmpd -c``) are read again at once."""
        if self._loop is not None:
            self._refreshing = self._loop.create_task(self._outside_changes())
        if self.in_session:
            self._next_settings = settings
            self.state.set("reload_pending", True)
            return
        self._reload_settings(settings)

    async def _outside_changes(self):
        """Take in state another process wrote: in the model executor, so never inside a
        transaction; a diagnostic the CLI requested starts (outside a session)."""
        if await self.run_model(self.store.refresh) and not self.in_session:
            self.diagnostics.after_session()

    # ---------------------------------------------------------------- main loop
    async def run(self):
        """Serve until stopped; the exit code (EXIT_FOR_REBOOT: start me again as booted)."""
        self._loop = asyncio.get_running_loop()
        self.timers = SessionTimers(self._loop, lambda when: self._tell("next_session", when))
        self.actions = DeviceActions(
            store=self.store, uci=self.uci, settings=lambda: self.settings, timers=self.timers,
            busy=lambda: self.in_session, finish=self.stop, reloaded=self._reload_settings,
            run_model=self.run_model, log=self.log, simulated=self.member is not None)
        self._startup()
        await self.run_model(self._load_json_options)
        await self.diagnostics.start()
        workers = [asyncio.create_task(self.transfers.run())]
        if self.settings.cpe.periodic_notify_enable:
            workers.append(asyncio.create_task(self._poll_values()))
        try:
            if self.settings.cpe.periodic_notify_enable and self.model.watching():
                try:  # what changed while we were down joins the first Inform
                    await self.check_values()
                except Exception:
                    self.log.exception("value change check failed")
            if self.events.pending or self.transfers.pending_events():
                self._wake.set()
            while not self._stopping:
                await self._wake.wait()
                self._wake.clear()
                if self._stopping:
                    break
                await self._next_session()
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await self.diagnostics.close()
            self.timers.cancel_all()
        return self.exit_code or 0

    async def _next_session(self):
        carried = [code for code, _ in self.events.pending]
        if self.member is None:
            ok = await self._session()
        else:
            async with self.member.sessions:
                ok = await self._session()
        await self._after_session()
        if ok is False:
            self._after_failure(carried)
        elif ok:
            self.retry = 0
        if self._deferred and not self._stopping:
            self._deferred = False
            self.timers.cancel("retry")
            self._wake.set()

    def _after_failure(self, carried):
        """Arm the retry (TR-069 3.2.1.1) and say so, or, when the failed session carried
        only events the standard does not retry (6 CONNECTION REQUEST), say that nothing
        is retried and which session comes next."""
        self.retry += 1
        if not self.events.pending:
            self.log.info("session failed; nothing to retry (not retried: %s); next session: %s",
                          ", ".join(sorted(set(carried))) or "no event", self.timers.next_text())
            return
        acs = self.settings.acs
        if acs.dhcp_discovery and acs.dhcp_url:   # the retry policy came with the ACS URL
            minimum, multiplier = acs.dhcp_retry_min_wait_interval, acs.dhcp_retry_interval_multiplier
        else:
            minimum, multiplier = acs.retry_min_wait_interval, acs.retry_interval_multiplier
        delay = schedule.retry_wait(self.retry, minimum, multiplier)
        self.log.info("session failed, retry %d in %.0f s", self.retry, delay)
        self.timers.at("retry", time.time() + delay, self._wake.set)

    def _startup(self):
        action = self.actions.pending
        if action and self.actions.exits:
            self.boot = True  # in the sandbox, the restart after an exit is the reboot
        if self.boot:
            self.events.rebooted()
            for code, key in self.actions.booted():
                self.events.add(code, key)
            self.events.add("1 BOOT")
        elif action:
            self.log.warning("a %s was requested but the device did not go down: doing it now",
                             action)
            self._loop.call_soon(lambda: asyncio.ensure_future(self.actions.run(action)))
        if self.want_get_rpc_methods:
            self.ask_get_rpc_methods()
        self._check_acs_url()
        self._arm_periodic()
        self._arm_heartbeat()
        self._arm_scheduled()
        self.actions.arm()

    def _check_acs_url(self):
        """A new ACS URL means a new relationship: 0 BOOTSTRAP, and what was queued for the
        old ACS (scheduled informs, transfers) is dropped. True if that happened."""
        url = self.acs_url
        if url and url != self.state.get("acs_url"):
            self.log.info("ACS URL is now %s: 0 BOOTSTRAP", url)
            self.events.add("0 BOOTSTRAP")
            self.transfers.discard()
            self.state.set("scheduled", [])
            self.timers.cancel("scheduled")
            self.state.set("acs_url", url)
            self.state.delete("ns")
            return True
        return False

    # ---------------------------------------------------------------- sessions
    async def _session(self):
        """One session; True on success, False on failure, None when there is no ACS."""
        url = self.acs_url
        if not url:
            self.log.warning("no ACS URL configured (cwmp.acs.url): no session")
            return None
        for code, key in self.transfers.pending_events():
            self.events.add(code, key)  # results waiting for delivery, also after a crash
        sent = self.events.pending
        if not sent:
            return None
        changed = self.watcher.pending
        session = await self._new_session(sent, changed)
        # A libcurl multi of the session's own: its connection closes with the session, so
        # the next session never inherits it (ACSs tie session state and Digest nonces to
        # the TCP connection).
        curl = CurlLoop()
        client = self._client(curl, url)
        self.in_session = True
        started = time.time()
        self.stats["sessions"] += 1
        self._tell("started", [code for code, _ in sent])
        self.log.info("session start: %s",
                      ", ".join(f"{c}{' ' + k if k else ''}" for c, k in sent))

        def informed(event):
            self.events.delivered(sent)
            self.watcher.delivered(changed)
            self.state.set("ns", event.ns)

        try:
            outcome = await run_session(session, client, handle=self.rpc.handle,
                                        informed=informed, delivered=self._request_delivered,
                                        offload=self.run_model, log=self.log)
        finally:
            if client.compression_refused:
                self._plain_requests.add(url)
            self.acs_ip = client.primary_ip or self.acs_ip
            client.close()
            curl.close()
            self.in_session = False
        if session.largest > TRIM_AFTER:
            give_back_memory()
        if not outcome.informed:
            self.events.failed(sent)
        status = "success" if outcome.ok else "failure"
        self.stats[status] += 1
        self.last_session = {"start": started, "end": time.time(), "status": status}
        if outcome.ok:
            self.log.info("session end: success (%d ACS requests)", session.handled)
        else:
            self.log.warning("session end: failure: %s", outcome.reason)
        self._tell("ended", status)
        return outcome.ok

    @property
    def acs_url(self):
        """The configured ACS URL, or the one DHCP gave when discovery is on (as icwmp)."""
        acs = self.settings.acs
        return acs.dhcp_url if acs.dhcp_discovery and acs.dhcp_url else acs.url

    async def _new_session(self, sent, changed):
        inform = await self.run_model(self._inform_args, sent, changed)
        requests = list(self.transfers.pending_requests())
        # asked for once (-g, D-Bus), or in every session with acs.get_rpc_methods (icwmp)
        if self.state.get("get_rpc_methods") or self.settings.acs.get_rpc_methods:
            requests.insert(0, CpeRequest(GET_RPC_METHODS, {}, GET_RPC_METHODS))
        cpe = self.settings.cpe
        self.rpc.features = Features(cpe.amd_version, cpe.instance_mode == "InstanceAlias",
                                     cpe.auto_create_instances, cpe.max_response_parameters)
        addressing = self.rpc.features.addressing
        if addressing.instance_alias:  # the Inform names instances as the responses do
            inform["ParameterList"] = await self.run_model(
                self.model.shown, inform["ParameterList"], addressing)
        return open_session(self.settings, inform, requests, self.state.get("ns"))

    def _inform_args(self, events, changed):
        """Inform arguments (runs in the model executor)."""
        args = self.inform.build(self.settings, events, changed, self.retry)
        self.options.device_id = self.inform.device_id  # vouchers must name this device
        return args

    def _client(self, curl, url):
        acs, cpe = self.settings.acs, self.settings.cpe
        return AcsClient(curl, url, username=acs.userid, password=acs.passwd,
                         ca_path=acs.ssl_capath or None, insecure=acs.insecure_enable,
                         client_cert=acs.client_cert or None, client_key=acs.client_key or None,
                         compression=acs.compression,
                         compress_requests=url not in self._plain_requests,
                         disable_100_continue=acs.http_disable_100continue,
                         interface=cpe.interface or None,
                         ip_version=4 if cpe.force_ipv4 else 6 if acs.ipv6_enable else None,
                         max_body=soap.DEFAULT_MAX_SIZE)   # what the parser takes, never read past

    def _request_delivered(self, token):
        if token == GET_RPC_METHODS:
            self.state.delete("get_rpc_methods")
        else:
            self.transfers.delivered(token)

    def _load_json_options(self):
        """At start (model worker): the forced inform and custom notification files."""
        self.inform.forced_names(self.settings.cpe.forced_inform_json)
        self._apply_custom_notify()

    def _apply_custom_notify(self):
        """``cwmp.cpe.custom_notify_json`` (icwmp: {"custom_notification": [{"parameter":
        ..., "notify_type": "0".."6"}]}): notification attributes set at start, once per
        version of the file (as icwmp, once after a firmware upgrade brings it); what the
        ACS sets afterwards wins. A bad entry is warned about and skipped."""
        path = self.settings.cpe.custom_notify_json
        try:
            version = [path, os.stat(path).st_mtime_ns] if path else None
        except OSError as e:
            self.log.warning("%s: %s", path, e)
            return
        if version is None or version == self.state.get("custom_notify"):
            return
        for entry in json_list(path, "custom_notification", self.log):
            name, value = (entry.get("parameter"), str(entry.get("notify_type"))) \
                if isinstance(entry, dict) else (None, None)
            if not isinstance(name, str) or "*" in name or value not in NOTIFY_TYPES:
                self.log.warning("%s: custom_notification %r ignored: needs a parameter (no "
                                 "wildcard) and a notify_type 0..6", path, entry)
                continue
            try:
                self.model.set_attributes([(name, int(value), None)])
            except CwmpFault as fault:
                self.log.warning("%s: custom_notification %s ignored: fault %d %s", path, name,
                                 fault.code, fault.message)
        self.state.set("custom_notify", version)

    async def _after_session(self):
        for pkg, command in self.model.take_reloads():
            if pkg != "cwmp" and command:
                await run_shell(command, self.log)
        if self.state.get("reload_pending"):
            self.state.delete("reload_pending")
            self._reload_settings(self._next_settings)
            self._next_settings = None
        await self.actions.after_session()
        self.diagnostics.after_session()   # TR-069: requested tests start after the session

    # ---------------------------------------------------------------- timers
    def _arm_periodic(self):
        acs = self.settings.acs
        self.timers.cancel("periodic")
        if not acs.periodic_inform_enable:
            return
        interval, anchor = acs.periodic_inform_interval, acs.periodic_inform_time
        if not anchor and self.member:   # a fleet: spread over the interval
            anchor = self.state.get("phase_anchor") or self.member.epoch + self.member.phase * interval
            self.state.set("phase_anchor", anchor)
        when = schedule.next_periodic(time.time(), interval, anchor=anchor,
                                      last=self.state.get("last_periodic"))
        self.timers.at("periodic", when, self._periodic_due)

    def _periodic_due(self):
        self.state.set("last_periodic", time.time())
        self._arm_periodic()
        self.trigger("2 PERIODIC")

    def _arm_heartbeat(self):
        acs = self.settings.acs
        self.timers.cancel("heartbeat")
        if acs.heartbeat_enable:
            when = schedule.next_periodic(time.time(), acs.heartbeat_interval,
                                          anchor=acs.heartbeat_time)
            self.timers.at("heartbeat", when, self._heartbeat_due)

    def _heartbeat_due(self):
        self._arm_heartbeat()
        self.trigger("14 HEARTBEAT")

    def _arm_scheduled(self):
        pending = self.state.get("scheduled", [])
        if pending:
            self.timers.at("scheduled", min(due for due, _ in pending), self._scheduled_due)

    def _scheduled_due(self):
        now = time.time()
        due = [(d, k) for d, k in self.state.get("scheduled", []) if d <= now + 0.01]
        self.state.set("scheduled", [[d, k] for d, k in self.state.get("scheduled", [])
                                     if d > now + 0.01])
        for _, key in due:
            self.events.add("M ScheduleInform", key)
        if due:
            self.trigger("3 SCHEDULED")
        self._arm_scheduled()

    async def _poll_values(self):
        """Check every ``periodic_notify_interval`` seconds (run() checked at start-up)
        while a parameter has notification on; a fleet's CPEs each at their phase of the
        interval, so that their polls do not queue on the model thread together."""
        if self.member:
            await asyncio.sleep(self.member.phase * self.settings.cpe.periodic_notify_interval)
        while True:
            await asyncio.sleep(max(1, self.settings.cpe.periodic_notify_interval))
            if self.settings.cpe.periodic_notify_enable and self.model.watching():
                try:
                    await self.check_values()
                except Exception:
                    self.log.exception("value change check failed")

    def _active_throttle(self):
        """Seconds between sessions started by active notifications (model worker)."""
        try:
            return int(self.model.read(
                self.model.root + "ManagementServer.DefaultActiveNotificationThrottle"))
        except Exception:
            return self.settings.cpe.active_notif_throttle

    # ---------------------------------------------------------------- changes
    def _model_changed(self, changes):
        """The ACS changed values: no notification for them; our own config follows."""
        self.watcher.acknowledge({n: v for n, v in changes.items() if v is not None})
        if self._loop is not None and "cwmp" in self.model.committed:
            self._loop.call_soon_threadsafe(self._reload_settings)

    def _reload_settings(self, settings=None):
        if settings is None:
            try:
                settings = load_settings(self.confdir, warn=self.log.warning, uci=self.uci)
            except ConfigError as e:
                self.log.error("%s (keeping the previous configuration)", e)
                return
        self.settings = settings
        self.inform.reset()  # identity overrides and the forced list may have changed
        if not self.settings.cpe.enable:
            self.log.info("cwmp.cpe.enable is off: stopping")
            self.stop()
            return
        if self._check_acs_url():
            self.trigger()
        self._arm_periodic()
        self._arm_heartbeat()
        self.actions.arm()

    def _tell(self, event, detail):
        for listener in self.listeners:
            listener(event, detail)
