"""One CPE: its events, schedules and sessions with the ACS.

The Agent decides *when* a session runs and feeds it: triggers (boot, periodic,
scheduled, connection request, value change, D-Bus) add an event to the persisted
queue and wake the loop; a trigger that arrives during a session is coalesced into
the next one. A failed session is retried after the TR-069 back-off. Everything the
ACS asks for is answered by :class:`icwmpy.rpc.RpcHandler` against the data model,
whose calls run in one worker thread so the event loop never blocks.
"""

import asyncio
import ctypes
import datetime
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor

from icwmpy import schedule
from icwmpy.config.settings import ConfigError, load_settings
from icwmpy.cwmp import soap
from icwmpy.cwmp.events import EventQueue, is_valid
from icwmpy.cwmp.session import CpeRequest, Done, Handle, Send, Session
from icwmpy.faults import CwmpFault
from icwmpy.logs import redact
from icwmpy.lwn import LightweightNotifier
from icwmpy.notify import ValueWatcher
from icwmpy.rpc import RpcHandler
from icwmpy.rpc.methods import Features
from icwmpy.rpc.options import Options
from icwmpy.transport import AcsClient, BodyTooLarge, CurlLoop, TransportError

log = logging.getLogger("icwmpy")

# cwmp.cpe.amd_version (TR-069 Amendment) -> CWMP version. The first Inform to an ACS goes
# in that version's namespace (1.3 and 1.4 kept cwmp-1-2); from 1.3 on, the Inform carries
# SessionTimeout (cwmp.cpe.session_timeout), from 1.4 on it also offers
# SupportedCWMPVersions. Later sessions speak the namespace the ACS answered in.
CWMP_VERSIONS = {1: "1.0", 2: "1.1", 3: "1.2", 4: "1.3", 5: "1.4", 6: "1.4"}
NAMESPACES = {"1.0": "urn:dslforum-org:cwmp-1-0", "1.1": "urn:dslforum-org:cwmp-1-1"}
DEVICE_ID = {"Manufacturer": "Device.DeviceInfo.Manufacturer",
             "OUI": "Device.DeviceInfo.ManufacturerOUI",
             "ProductClass": "Device.DeviceInfo.ProductClass",
             "SerialNumber": "Device.DeviceInfo.SerialNumber"}
GET_RPC_METHODS = "GetRPCMethods"
# Exit status when a Reboot/FactoryReset is configured as 'exit': "restart me as after a
# boot" for the sandbox supervisor and the tests (EX_TEMPFAIL).
EXIT_FOR_REBOOT = 75
# the timers that start a session, as the log names them
TIMER_NAMES = {"periodic": "the periodic inform", "retry": "a retry",
               "scheduled": "a ScheduleInform", "heartbeat": "the heartbeat"}
SESSION_TIMERS = tuple(TIMER_NAMES)
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


class Agent:
    """A CPE. ``settings`` its validated configuration (re-read on reload), ``model`` its
    DataModel, ``uci`` the shared Uci, ``store`` its Store, ``transfers`` its
    TransferQueue; ``boot`` = started by a (re)boot (``-b``)."""

    def __init__(self, *, confdir, settings, model, uci, store, transfers, boot=False,
                 get_rpc_methods=False):
        self.confdir = confdir
        self.model = model
        self.uci = uci
        self.store = store
        self.transfers = transfers
        self.settings = settings
        self.events = EventQueue(store)
        self.watcher = ValueWatcher(store)
        self.lwn = LightweightNotifier(self)
        self.state = store["agent"]
        self.options = Options(store)  # its device_id: the Inform's DeviceId, once known
        self.rpc = RpcHandler(model, self)
        self.boot = boot
        self.want_get_rpc_methods = get_rpc_methods
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="model")
        self.retry = 0
        self.in_session = False
        self.exit_code = None
        self.stats = {"sessions": 0, "success": 0, "failure": 0}
        self.last_session = None
        self.acs_ip = None   # the ACS address the last answered session reached
        self.next_session = None
        self.session_listeners = []   # callables (event, detail) for "started"/"ended"
        self._plain_requests = set()  # ACS URLs that refused compressed requests (415)
        self._wake = asyncio.Event()
        self._deferred = False
        self._stopping = False
        self._timers = {}
        self._last_active = 0.0
        self._device_id = None
        self._forced_names = None   # from cwmp.cpe.forced_inform_json, checked once per load
        self._loop = None
        model.change_listeners.append(self._model_changed)

    # ---------------------------------------------------------------- services
    async def run_model(self, fn, *args):
        """Run a data model call in the worker thread (usable before run() too)."""
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
            self._cancel("retry")
            self._wake.set()

    def reboot(self, command_key):
        """Reboot RPC: persist M Reboot for after the boot, act when the session ends."""
        after = self.state.get("after_boot", [])
        self.state.set("after_boot", after + [["M Reboot", command_key]])
        self.state.set("action", "reboot")

    def factory_reset(self):
        self.state.set("action", "factory_reset")

    def schedule_inform(self, delay_seconds, command_key):
        due = time.time() + delay_seconds
        self.state.set("scheduled", self.state.get("scheduled", []) + [[due, command_key]])
        self._arm_scheduled()

    async def check_values(self):
        """Look for value changes now (periodic poll, or on request from D-Bus)."""
        current = await self.run_model(self.model.notification_values)
        passive, active, lightweight = self.watcher.check(current)
        if lightweight:
            await self.lwn.notify(lightweight)
        if passive or active:
            log.info("value change: %s", ", ".join(passive + active))
            self.events.add("4 VALUE CHANGE")
        if active:
            throttle = await self.run_model(self._active_throttle)
            wait = self._last_active + throttle - time.time()
            if wait > 0:
                self._at("throttle", time.time() + wait, self._active_due)
            else:
                self._active_due()
        return passive + active

    def _active_due(self):
        """An active notification starts a session (DefaultActiveNotificationThrottle apart)."""
        self._last_active = time.time()
        self.trigger()

    def stop(self):
        self._stopping = True
        self._wake.set()

    def reload(self):
        """Re-read the configuration (SIGHUP, D-Bus); deferred while a session runs."""
        if self.in_session:
            self.state.set("reload_pending", True)
            return
        self._reload_settings()

    # ---------------------------------------------------------------- main loop
    async def run(self):
        self._loop = asyncio.get_running_loop()
        self._startup()
        await self.run_model(self._load_json_options)
        workers = [asyncio.create_task(self.transfers.run()),
                   asyncio.create_task(self._poll_values())]
        try:
            if self.settings.cpe.periodic_notify_enable:
                try:  # what changed while we were down joins the first Inform
                    await self.check_values()
                except Exception:
                    log.exception("value change check failed")
            if self.events.pending or self.transfers.pending_events():
                self._wake.set()
            while not self._stopping:
                await self._wake.wait()
                self._wake.clear()
                if self._stopping:
                    break
                carried = [code for code, _ in self.events.pending]
                ok = await self._session()
                await self._after_session()
                if ok is False:
                    self._after_failure(carried)
                elif ok:
                    self.retry = 0
                if self._deferred and not self._stopping:
                    self._deferred = False
                    self._cancel("retry")
                    self._wake.set()
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            for name in list(self._timers):
                self._cancel(name)
            self.executor.shutdown(wait=True)
        return self.exit_code or 0

    def _after_failure(self, carried):
        """Arm the retry (TR-069 3.2.1.1) and say so, or, when the failed session carried
        only events the standard does not retry (6 CONNECTION REQUEST), say that nothing
        is retried and which session comes next."""
        self.retry += 1
        if not self.events.pending:
            log.info("session failed; nothing to retry (not retried: %s); next session: %s",
                     ", ".join(sorted(set(carried))) or "no event", self._next_session_text())
            return
        delay = schedule.retry_wait(self.retry, self.settings.acs.retry_min_wait_interval,
                                    self.settings.acs.retry_interval_multiplier)
        log.info("session failed, retry %d in %.0f s", self.retry, delay)
        self._at("retry", time.time() + delay, self._wake.set)

    def _startup(self):
        action = self.state.get("action")
        if action and self.settings.cpe.reboot_command == "exit":
            self.boot = True  # in the sandbox, the restart after an exit is the reboot
        if self.boot:
            self.events.rebooted()
            for code, key in self.state.get("after_boot", []):
                self.events.add(code, key)
            self.state.delete("after_boot")
            self.state.delete("action")
            self.events.add("1 BOOT")
            self._forget_reboot_requests()
        elif action:
            log.warning("a %s was requested but the device did not go down: doing it now", action)
            self._loop.call_soon(lambda: asyncio.ensure_future(self._do_action(action)))
        if self.want_get_rpc_methods:
            self.state.set("get_rpc_methods", True)
        self._check_acs_url()
        self._arm_periodic()
        self._arm_heartbeat()
        self._arm_scheduled()
        self._arm_schedule_reboot()

    def _check_acs_url(self):
        """A new ACS URL means a new relationship: 0 BOOTSTRAP, and what was queued for the
        old ACS (scheduled informs, transfers) is dropped. True if that happened."""
        url = self.acs_url
        if url and url != self.state.get("acs_url"):
            log.info("ACS URL is now %s: 0 BOOTSTRAP", url)
            self.events.add("0 BOOTSTRAP")
            self.transfers.discard()
            self.state.set("scheduled", [])
            self._cancel("scheduled")
            self.state.set("acs_url", url)
            self.state.delete("ns")
            return True
        return False

    # ---------------------------------------------------------------- sessions
    async def _session(self):
        """One session; True on success, False on failure, None when there is no ACS."""
        url = self.acs_url
        if not url:
            log.warning("no ACS URL configured (cwmp.acs.url): no session")
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
        log.info("session start: %s", ", ".join(f"{c}{' ' + k if k else ''}" for c, k in sent))
        try:
            ok, reason = await self._exchange(session, client, sent, changed)
        except TransportError as e:
            ok, reason = False, str(e)
        finally:
            if client.compression_refused:
                self._plain_requests.add(url)
            self.acs_ip = client.primary_ip or self.acs_ip
            client.close()
            curl.close()
            self.in_session = False
        if session.largest > TRIM_AFTER:
            give_back_memory()
        if not session.informed:
            self.events.failed(sent)
        self.stats["success" if ok else "failure"] += 1
        self.last_session = {"start": started, "end": time.time(),
                             "status": "success" if ok else "failure"}
        if ok:
            log.info("session end: success (%d ACS requests)", session.handled)
        else:
            log.warning("session end: failure: %s", reason)
        self._tell("ended", "success" if ok else "failure")
        return ok

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
        version = CWMP_VERSIONS[cpe.amd_version]
        known = [v for v in sorted(set(CWMP_VERSIONS.values())) if v <= version]
        return Session(inform, requests,
                       ns=self.state.get("ns", NAMESPACES.get(version, soap.DEFAULT_NS)),
                       supported_versions=",".join(known) if version >= "1.4" else None,
                       session_timeout=cpe.session_timeout if version >= "1.3" else None)

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

    async def _exchange(self, session, client, sent, changed):
        """Drive the session machine over HTTP; (ok, reason). What the ACS acknowledges is
        delivered as soon as it is: the events with the InformResponse, each CPE request
        with its response."""
        debug = log.isEnabledFor(logging.DEBUG)
        acked = 0
        step = session.start()
        while True:
            if isinstance(step, Send):
                if debug:
                    log.debug("SOAP to the ACS:\n%s", redact(step.body) or "(empty)")
                try:
                    response = await client.post(step.body)
                except BodyTooLarge as e:  # not read past the cap: refused, the session goes on
                    log.warning("ACS message refused: %s", e.message)
                    step = session.refuse(CwmpFault(9004, f"Resources exceeded: {e.message}"))
                    continue
                if debug:
                    log.debug("SOAP from the ACS (HTTP %d):\n%s", response.status,
                              redact(response.body) or "(empty)")
                was_informed = session.informed
                step = session.receive(response.status, response.body)
                if session.informed and not was_informed:
                    self.events.delivered(sent)
                    self.watcher.delivered(changed)
                    self.state.set("ns", session.ns)
                for token in session.delivered[acked:]:
                    self._request_delivered(token)
                acked = len(session.delivered)
            elif isinstance(step, Handle):
                log.info("ACS request %s", step.envelope.method)
                step = session.respond(await self.rpc.handle(step.envelope))
            elif isinstance(step, Done):
                return True, ""
            else:
                return False, step.reason

    def _request_delivered(self, token):
        if token == GET_RPC_METHODS:
            self.state.delete("get_rpc_methods")
        else:
            self.transfers.delivered(token)

    def _inform_args(self, events, changed):
        """Inform arguments (runs in the model worker)."""
        model = self.model
        if self._device_id is None:  # identity does not change while we run
            self._device_id = {}
            for field, name in DEVICE_ID.items():
                try:
                    self._device_id[field] = model.read(name)
                except Exception:  # a data model without the parameter: empty, not a crash
                    self._device_id[field] = ""
            self.options.device_id = self._device_id  # vouchers must name this device
        params = {}

        def add(path):
            try:
                for name, value, type_ in model.get_values(path):
                    params.setdefault(name, (name, value, type_))
            except Exception as e:
                log.warning("inform parameter %s: %s", path, e)

        for name, value, type_ in model.forced_inform():
            params[name] = (name, value, type_)
        heartbeat_only = [code for code, _ in events] == ["14 HEARTBEAT"]
        if not heartbeat_only:
            if self._forced_names is None:   # the configuration was reloaded
                self._load_forced_inform()
            for path in self._forced_names:
                add(path)
            for name in changed:
                add(name)
            codes = {code for code, _ in events}
            for entry in self.settings.inform_parameters:
                wanted = entry.get("events_list") or []
                if entry.get("enable") and entry.get("parameter_name") and (
                        not wanted or codes & set(wanted)):
                    add(entry["parameter_name"])
        return {"DeviceId": dict(self._device_id), "Event": list(events), "MaxEnvelopes": 1,
                "CurrentTime": datetime.datetime.now(datetime.UTC),
                "RetryCount": self.retry, "ParameterList": list(params.values())}

    def _load_json_options(self):
        """At start (model worker): the forced inform and custom notification files."""
        self._load_forced_inform()
        self._apply_custom_notify()

    def _load_forced_inform(self):
        """Parameters of ``cwmp.cpe.forced_inform_json`` (icwmp: {"forced_inform": [...]}).
        As icwmp, parameters only: an object path, a wildcard or a name the data model
        cannot read is warned about here, once per load, and left out of every Inform."""
        path = self.settings.cpe.forced_inform_json
        self._forced_names = []
        for name in _json_list(path, "forced_inform"):
            if not isinstance(name, str) or not name or name.endswith(".") or "*" in name:
                log.warning("%s: forced_inform %r ignored: parameters only, not objects", path,
                            name)
                continue
            try:
                self.model.get_values(name)
            except Exception as e:  # any reason it cannot be read: left out, said once
                log.warning("%s: forced_inform %s ignored: %s", path, name, e)
                continue
            self._forced_names.append(name)

    def _apply_custom_notify(self):
        """``cwmp.cpe.custom_notify_json`` (icwmp: {"custom_notification": [{"parameter":
        ..., "notify_type": "0".."6"}]}): notification attributes set at start, once per
        version of the file (as icwmp, once after a firmware upgrade brings it); what the
        ACS sets afterwards wins. A bad entry is warned about and skipped."""
        path = self.settings.cpe.custom_notify_json
        try:
            version = [path, os.stat(path).st_mtime_ns] if path else None
        except OSError as e:
            log.warning("%s: %s", path, e)
            return
        if version is None or version == self.state.get("custom_notify"):
            return
        for entry in _json_list(path, "custom_notification"):
            name, value = (entry.get("parameter"), str(entry.get("notify_type"))) \
                if isinstance(entry, dict) else (None, None)
            if not isinstance(name, str) or "*" in name or value not in NOTIFY_TYPES:
                log.warning("%s: custom_notification %r ignored: needs a parameter (no "
                            "wildcard) and a notify_type 0..6", path, entry)
                continue
            try:
                self.model.set_attributes([(name, int(value), None)])
            except CwmpFault as fault:
                log.warning("%s: custom_notification %s ignored: fault %d %s", path, name,
                            fault.code, fault.message)
        self.state.set("custom_notify", version)

    async def _after_session(self):
        for pkg, command in self.model.take_reloads():
            if pkg != "cwmp" and command:
                await self._shell(command)
        if self.state.get("reload_pending"):
            self.state.delete("reload_pending")
            self._reload_settings()
        delay = self.settings.cpe.delay_reboot
        if delay >= 0 and "delay_reboot" not in self._timers:
            log.info("DelayReboot: rebooting in %d s", delay)
            self._at("delay_reboot", time.time() + delay, self._reboot_due)
        action = self.state.get("action")
        if action:
            await self._do_action(action)

    def _arm_schedule_reboot(self):
        """ManagementServer.ScheduleReboot: a reboot at that time (a past time: none)."""
        when = self.settings.cpe.schedule_reboot
        if when and when > time.time():
            self._at("schedule_reboot", when, self._reboot_due)
        else:
            self._cancel("schedule_reboot")

    def _reboot_due(self):
        """ScheduleReboot / DelayReboot time: reboot now, or when the session ends."""
        self.state.set("action", "reboot")
        if not self.in_session:
            asyncio.ensure_future(self._do_action("reboot"))

    def _forget_reboot_requests(self):
        """ScheduleReboot and DelayReboot are done with once the device reboots."""
        cpe = self.settings.cpe
        if cpe.delay_reboot != -1 or cpe.schedule_reboot:
            self.uci.set("cwmp", "cpe", "delay_reboot", "-1")
            self.uci.set("cwmp", "cpe", "schedule_reboot", "")
            self.uci.commit("cwmp")
            self._reload_settings()

    async def _do_action(self, action):
        command = (self.settings.cpe.reboot_command if action == "reboot"
                   else self.settings.cpe.factory_reset_command)
        log.info("%s: running %s", action, command)
        self._forget_reboot_requests()
        if action == "factory_reset":
            self._wipe_state()
        if command == "exit":
            self.exit_code = EXIT_FOR_REBOOT
            self.stop()
            return
        await self._shell(command)

    def _wipe_state(self):
        """What a factory reset forgets: everything but the pending action itself."""
        with self.store.batch():
            for name in ("events", "notify", "attributes", "aliases", "values", "instances",
                         "tables", "options", "transfers"):
                self.store[name].replace({})
            for key in self.state.keys():
                if key not in ("action", "after_boot"):
                    self.state.delete(key)

    async def _shell(self, command):
        proc = await asyncio.create_subprocess_shell(command, stdin=asyncio.subprocess.DEVNULL)
        code = await proc.wait()
        if code:
            log.warning("%r exited with status %d", command, code)

    # ---------------------------------------------------------------- timers
    def _at(self, name, when, callback):
        """Call ``callback`` at wall-clock time ``when`` (replacing a timer of that name)."""
        self._cancel(name)
        delay = max(0.0, when - time.time())

        def fire():
            self._timers.pop(name, None)
            self._update_next_session()
            callback()

        self._timers[name] = self._loop.call_later(delay, fire)
        self._update_next_session()

    def _cancel(self, name):
        handle = self._timers.pop(name, None)
        if handle:
            handle.cancel()
            self._update_next_session()

    def _next_session_text(self):
        """The timer that starts the next session and when, as the log tells it."""
        armed = [(h.when(), n) for n, h in self._timers.items() if n in SESSION_TIMERS]
        if not armed:
            return "none scheduled (until an event asks for one)"
        when, name = min(armed)
        return f"{TIMER_NAMES[name]} in {max(0.0, when - self._loop.time()):.0f} s"

    def _update_next_session(self):
        """Wall-clock time of the next timer that starts a session (None: none armed)."""
        pending = [h.when() for n, h in self._timers.items() if n in SESSION_TIMERS]
        self.next_session = (time.time() + min(pending) - self._loop.time()) if pending else None

    def _arm_periodic(self):
        acs = self.settings.acs
        self._cancel("periodic")
        if not acs.periodic_inform_enable:
            return
        when = schedule.next_periodic(time.time(), acs.periodic_inform_interval,
                                      anchor=acs.periodic_inform_time,
                                      last=self.state.get("last_periodic"))
        self._at("periodic", when, self._periodic_due)

    def _periodic_due(self):
        self.state.set("last_periodic", time.time())
        self._arm_periodic()
        self.trigger("2 PERIODIC")

    def _arm_heartbeat(self):
        acs = self.settings.acs
        self._cancel("heartbeat")
        if acs.heartbeat_enable:
            when = schedule.next_periodic(time.time(), acs.heartbeat_interval,
                                          anchor=acs.heartbeat_time)
            self._at("heartbeat", when, self._heartbeat_due)

    def _heartbeat_due(self):
        self._arm_heartbeat()
        self.trigger("14 HEARTBEAT")

    def _arm_scheduled(self):
        pending = self.state.get("scheduled", [])
        if pending:
            self._at("scheduled", min(due for due, _ in pending), self._scheduled_due)

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
        """Check every ``periodic_notify_interval`` seconds (run() checked at start-up)."""
        while True:
            await asyncio.sleep(max(1, self.settings.cpe.periodic_notify_interval))
            if self.settings.cpe.periodic_notify_enable:
                try:
                    await self.check_values()
                except Exception:
                    log.exception("value change check failed")

    def _active_throttle(self):
        """Seconds between sessions started by active notifications (model worker)."""
        try:
            return int(self.model.read("Device.ManagementServer.DefaultActiveNotificationThrottle"))
        except Exception:
            return self.settings.cpe.active_notif_throttle

    # ---------------------------------------------------------------- changes
    def _model_changed(self, changes):
        """The ACS changed values: no notification for them; our own config follows."""
        self.watcher.acknowledge({n: v for n, v in changes.items() if v is not None})
        if self._loop is not None and "cwmp" in self.model.committed:
            self._loop.call_soon_threadsafe(self._reload_settings)

    def _reload_settings(self):
        try:
            self.settings = load_settings(self.confdir, warn=log.warning, uci=self.uci)
        except ConfigError as e:
            log.error("%s (keeping the previous configuration)", e)
            return
        self._device_id = None  # identity overrides may have changed
        self._forced_names = None
        if not self.settings.cpe.enable:
            log.info("cwmp.cpe.enable is off: stopping")
            self.stop()
            return
        if self._check_acs_url():
            self.trigger()
        self._arm_periodic()
        self._arm_heartbeat()
        self._arm_schedule_reboot()

    def _tell(self, event, detail):
        for listener in self.session_listeners:
            listener(event, detail)


def _json_list(path, key):
    """The list under ``key`` in the JSON file ``path`` ('' = none), or [] with a warning."""
    if not path:
        return []
    try:
        with open(path, encoding="utf-8") as f:
            items = json.load(f)[key]
        if not isinstance(items, list):
            raise ValueError(f"{key!r} is not a list")
        return items
    except (OSError, ValueError, KeyError, TypeError) as e:
        log.warning("%s: %s", path, e if not isinstance(e, KeyError) else f"no {key!r} list")
        return []
