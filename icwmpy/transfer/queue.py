"""The transfer queue: Download, Upload, ScheduleDownload and ChangeDUState requests, run
one at a time, each answered exactly once by a TransferComplete (DUStateChangeComplete),
across crashes and reboots. Work started on the device itself (D-Bus) goes through the same
queue: autonomous downloads and DU changes, answered by AutonomousTransferComplete and
AutonomousDUStateChangeComplete when the ACS's policy asks for them (judged when the work
completes; a result the policy filters out is dropped), and RequestDownload requests.

Every transfer is a record in the ``transfers`` store namespace, and every change of its
phase is written there (atomically) *before* the step it announces is taken:

``queued`` (State 1; a ScheduleDownload waiting for a retry stays State 2)
    -> ``transferring`` (State 2: bytes move, into ``download_dir/transfer-<n>.part``)
    -> ``applying`` (State 2: the success result is already recorded, the apply hook runs)
    -> ``done`` (State 3: the result waits for the ACS) -> deleted by :meth:`delivered`.

Recovery when the queue is built again over the same store (after ``kill -9``, a power cut
or a reboot):

* ``transferring``: the transfer was cut; it starts again from scratch (its partial file is
  worthless: a resumed range could splice two versions of the file). Each such restart is
  counted, and a transfer interrupted ``max_restarts`` times fails with 9010 rather than
  crash-looping the daemon.
* ``applying``: the apply ran (a firmware apply takes the device down by design, which is
  why its result was recorded first), so the recorded result is delivered.
* ``done``: delivered, once: :meth:`delivered` deletes the record when the ACS
  acknowledged the TransferComplete; until then it is offered in every session.

A ChangeDUState record holds its operations, run in order; each one's start is saved
before it acts and its result as soon as it ends. An operation cut by a crash is settled
by :meth:`.software.SoftwareModules.settle`: its result if the DU change had completed,
else it starts again (counted in ``restarts`` as a transfer; past ``max_restarts`` it
fails with 9017). The one DUStateChangeComplete goes once every operation has a result.

Fault decisions where TR-069 leaves a choice (the RPC itself, before anything is queued).
What a request says by itself (URL syntax and scheme 9013, FileType syntax, time window
rules) is judged by :mod:`icwmpy.rpc.checks`, called here too so the queue is safe to use
without the RPC layer; the queue adds what depends on this device:

* a FileType this CPE has no hook/source for (Tone/Ringer files, unknown vendor types):
  9003 Invalid arguments (the standard has no dedicated code for it);
* a URL that is not ASCII (libcurl takes it as bytes; the ACS must percent-encode): 9003;
* a FileSize larger than ``max_file_size`` or the free space of ``download_dir``: 9010
  (refusing now is kinder than failing the TransferComplete later);
* the queue holds ``max_queue`` transfers (undelivered results included: they are listed
  by GetQueuedTransfers, whose answer holds at most 16): 9004;
* ScheduleDownload: windows are used in the order of their start. "4 Confirmation
  Needed" is accepted but, having no user to confirm, such a window is never used (as the standard
  says of an unconfirmed window); "3 When Idle" is treated as "1 At Any Time";
* CancelTransfer of a transfer already started or finished: 9021; of a key no transfer
  carries: 9021 too, since a key we no longer know most likely belonged to a transfer that
  completed and was delivered. GetQueuedTransfers and CancelTransfer see only the ACS's
  own transfers, not ChangeDUState, autonomous work or RequestDownload;
* the autonomous policies: an empty FileTypeFilter, OperationTypeFilter or
  FaultCodeFilter lets every value through; FaultCodeFilter applies to failures only.

Passwords are stored in clear as the ACS gave them, because a restarted transfer must
authenticate again: the state directory must be readable by root only.
"""

import asyncio
import dataclasses
import logging
import os
import shutil
import time
from datetime import datetime, UTC
from urllib.parse import urlsplit

from ..cwmp.session import CpeRequest
from ..faults import MESSAGES, CwmpFault
from ..rpc import checks
from . import apply as hooks
from . import fetch
from . import software as sw
from .apply import DEFAULT_UPLOAD_SOURCES, SANDBOX_HOOKS

log = logging.getLogger(__name__)

PREFIX = "transfer-"
MAX_LISTED = 16                  # GetQueuedTransfers / GetAllQueuedTransfers array limit
APPLIED_KEPT = 20                # sandbox applies remembered in the store
CONFIRMATION = "4 Confirmation Needed"
EVENTS = {"Download": "M Download", "Upload": "M Upload",
          "ScheduleDownload": "M ScheduleDownload"}
TRANSFER_COMPLETE = "7 TRANSFER COMPLETE"
REQUEST_DOWNLOAD = "9 REQUEST DOWNLOAD"
AUTONOMOUS_TRANSFER_COMPLETE = "10 AUTONOMOUS TRANSFER COMPLETE"
DU_STATE_CHANGE_COMPLETE = "11 DU STATE CHANGE COMPLETE"
AUTONOMOUS_DU_STATE_CHANGE_COMPLETE = "12 AUTONOMOUS DU STATE CHANGE COMPLETE"
CHANGE_DU_STATE = "ChangeDUState"


@dataclasses.dataclass
class TransferConfig:
    """Settings of a transfer queue.

    ``hooks`` maps a download FileType to its :class:`~icwmpy.transfer.apply.ApplyHook`
    (default: the sandbox, which keeps files in ``download_dir/applied``; use
    ``apply.openwrt_hooks()`` on a router); ``upload_sources`` maps an upload FileType to
    its :class:`~icwmpy.transfer.apply.UploadSource`. ``max_file_size`` (0 = only the free
    space) bounds a download. ``retry_delay`` spaces the attempts of a ScheduleDownload in
    its window; ``max_restarts`` bounds the restarts of a transfer cut by crashes.
    ``software`` is the package backend of ChangeDUState (:mod:`.software`; default: the
    directory backend in ``software/`` beside ``download_dir``).
    """
    download_dir: str
    max_queue: int = 16
    max_file_size: int = 0
    hooks: dict = dataclasses.field(default_factory=lambda: dict(SANDBOX_HOOKS))
    upload_sources: dict = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_UPLOAD_SOURCES))
    upload_method: str = "PUT"
    wire: fetch.WireOptions = dataclasses.field(default_factory=fetch.WireOptions)
    retry_delay: float = 30
    max_restarts: int = 3
    software: object = None

    def __post_init__(self):
        if self.software is None:
            root = os.path.join(os.path.dirname(os.path.abspath(self.download_dir)), "software")
            self.software = sw.DirectoryBackend(root)


def _utc(epoch):
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


class TransferQueue:
    """The transfers of one CPE. ``on_ready()`` is called when a result waits for a
    session; ``progress(command_key, bytes, total, rate)``, if set, follows transfers."""

    def __init__(self, store, curl_loop, config, on_ready):
        self.ns = store["transfers"]
        self._store = store
        self._curl = curl_loop
        self.config = config
        self._on_ready = on_ready
        self.progress = None
        self.policies = None         # () -> Settings with transfer_complete, du_state_change
        self.software = sw.SoftwareModules(store, config.software)
        self._wake = asyncio.Event()
        self._active = None          # (key, task) of the transfer being executed
        os.makedirs(config.download_dir, exist_ok=True)
        self._recover()

    # ------------------------------------------------------------------ records
    def _records(self, *phases):
        items = [(k, v) for k, v in self.ns.items() if k.startswith(PREFIX)]
        items.sort(key=lambda item: int(item[0][len(PREFIX):]))
        return [(k, v) for k, v in items if not phases or v["phase"] in phases]

    def _save(self, key, **changes):
        record = dict(self.ns.get(key), **changes)
        self.ns.set(key, record)
        return record

    def _path(self, key, suffix):
        return os.path.join(self.config.download_dir, f"{key}.{suffix}")

    def _recover(self):
        with self._store.batch():
            for key, record in self._records("transferring", "applying"):
                if record["method"] == CHANGE_DU_STATE:
                    self._recover_du(key, record)
                elif record["phase"] == "applying" and record.get("discarded"):
                    self.ns.delete(key)
                elif record["phase"] == "applying" and record.get("reboot"):
                    log.info("%s: the apply took the device down, as it does: done", key)
                    self._save(key, phase="done", state=3)
                elif record["phase"] == "applying":
                    # cut midway: whether it took effect is unknown, so it is not reported
                    # as a success; the ACS can send the file again
                    log.warning("%s: apply interrupted by a restart", key)
                    self._finish(key, CwmpFault(9010, "apply interrupted by a restart; "
                                                      "its outcome is unknown"), notify=False)
                elif record.get("restarts", 0) >= self.config.max_restarts:
                    self._finish(key, CwmpFault(9010, "transfer interrupted by "
                                                f"{record.get('restarts', 0) + 1} restarts"),
                                 notify=False)   # run() announces what is pending
                else:
                    log.info("%s: interrupted by a restart; starting it again", key)
                    self._save(key, phase="queued", restarts=record.get("restarts", 0) + 1)
            self.software.tidy()
        for name in os.listdir(self.config.download_dir):
            if name.startswith(PREFIX):  # partial files, or an image a reboot applied
                os.unlink(os.path.join(self.config.download_dir, name))

    def _recover_du(self, key, record):
        """A ChangeDUState cut by a restart: settle its running operation (see settle)."""
        operations = list(record["operations"])   # a copy: the store compares old and new
        restarts = record.get("restarts", 0)
        for index, op in enumerate(operations):
            if op["state"] != 2:
                continue
            result = self.software.settle(_marker(key, index))
            if result is None and restarts >= self.config.max_restarts:
                result = sw.failed_result(op["args"], op["start"], CwmpFault(
                    9017, f"operation interrupted by {restarts + 1} restarts"))
            if result is None:
                log.info("%s: %s interrupted by a restart; starting it again", key,
                         op["args"]["Operation"])
                operations[index] = dict(op, state=1)
                restarts += 1
            else:
                operations[index] = dict(op, state=3, result=result)
        self._save(key, phase="queued", operations=operations, restarts=restarts)

    def _insert(self, record):
        """Store a new record (``queued`` unless it says otherwise) and wake the worker."""
        if len(self._records()) >= self.config.max_queue:
            raise CwmpFault(9004, f"{self.config.max_queue} transfers already queued")
        number = self.ns.get("next_id", 1)
        key = f"{PREFIX}{number}"
        record = {"command_key": "", "phase": "queued", "state": 1, "start": None,
                  "complete": None, "fault": None, "due": time.time(), **record}
        with self._store.batch():
            self.ns.set("next_id", number + 1)
            self.ns.set(key, record)
        log.info("%s: %s%s queued (CommandKey %r)", key,
                 "autonomous " if record.get("autonomous") else "", record["method"],
                 record["command_key"])
        if record["phase"] == "done":
            self._ready()
        self._wake.set()
        return key

    def _add(self, method, args, **fields):
        return self._insert({"method": method, "command_key": args.get("CommandKey") or "",
                             "file_type": args["FileType"], "url": args["URL"],
                             "username": args.get("Username") or "",
                             "password": args.get("Password") or "",
                             "file_size": args.get("FileSize") or 0,
                             "target": args.get("TargetFileName") or "", **fields})

    # ------------------------------------------------------------------ RPCs
    @staticmethod
    def _check_url(url):
        """The protocol's URL rules, plus what libcurl can carry (ASCII only)."""
        checks.check_url(url)
        if not url.isascii():
            raise CwmpFault(9003, "URL with characters outside ASCII (not percent-encoded)")

    def _room(self):
        """Bytes a download may take: free space, capped by ``max_file_size``."""
        room = shutil.disk_usage(self.config.download_dir).free
        return min(room, self.config.max_file_size) if self.config.max_file_size else room

    def _check_download(self, args):
        checks.check_download(args)
        if args["FileType"] not in self.config.hooks:
            raise CwmpFault(9003, f"unsupported FileType {args['FileType']!r}")
        self._check_url(args["URL"])
        size = args.get("FileSize") or 0
        room = self._room()
        if size > room:
            raise CwmpFault(9010, f"FileSize {size} exceeds the {room} bytes available")

    def download(self, args):
        """Queue a Download; returns the DownloadResponse (Status 1: completes later)."""
        self._check_download(args)
        self._add("Download", args, due=time.time() + (args.get("DelaySeconds") or 0))
        return 1, None, None

    def upload(self, args):
        """Queue an Upload; returns the UploadResponse (Status 1: completes later)."""
        checks.check_upload(args)
        if args["FileType"] not in self.config.upload_sources:
            raise CwmpFault(9003, f"unsupported FileType {args['FileType']!r}")
        self._check_url(args["URL"])
        self._add("Upload", args, due=time.time() + (args.get("DelaySeconds") or 0))
        return 1, None, None

    def schedule_download(self, args):
        """Queue a ScheduleDownload to run in its time windows (relative to now)."""
        checks.check_schedule_download(args)
        self._check_download(args)
        now = time.time()
        windows = [{"start": now + w["WindowStart"], "end": now + w["WindowEnd"],
                    "mode": w["WindowMode"], "max_retries": w["MaxRetries"]}
                   for w in sorted(args["TimeWindowList"], key=lambda w: w["WindowStart"])]
        self._add("ScheduleDownload", args, windows=windows, window=0, tries=0, retry_at=0)

    def change_du_state(self, args, autonomous=False):
        """Queue a ChangeDUState: its operations run in order, one DUStateChangeComplete
        (AutonomousDUStateChangeComplete when started on the device) tells the results.
        Returns the record's id."""
        checks.check_change_du_state(args)
        for op in args["Operations"]:
            if op.get("URL"):
                self._check_url(op["URL"])
        return self._insert({"method": CHANGE_DU_STATE,
                             "command_key": args.get("CommandKey") or "",
                             "autonomous": autonomous,
                             "operations": [{"args": dict(op), "state": 1, "start": None,
                                             "result": None} for op in args["Operations"]]})

    def autonomous_download(self, url, file_type, target=""):
        """A download the device starts itself: announced by an AutonomousTransferComplete
        if the policy wants it. Returns the transfer's id."""
        args = {"URL": url, "FileType": file_type, "TargetFileName": target}
        self._check_download(args)
        return self._add("Download", args, autonomous=True)

    def request_download(self, file_type, file_type_args):
        """Ask the ACS, in the next session, to send a Download of ``file_type``
        (``file_type_args``: (name, value) pairs, at most 16). Returns the request's id."""
        if not file_type or len(file_type) > 64:
            raise CwmpFault(9003, "FileType must have 1 to 64 characters")
        if len(file_type_args) > 16 or any(len(n) > 64 or len(v) > 256
                                           for n, v in file_type_args):
            raise CwmpFault(9003, "at most 16 arguments, names <= 64, values <= 256 characters")
        return self._insert({"method": "RequestDownload", "file_type": file_type,
                             "args": [list(a) for a in file_type_args], "phase": "done",
                             "state": 3})

    def _transfers(self):
        """The ACS's own transfers: what GetQueuedTransfers lists and CancelTransfer sees."""
        return [(k, r) for k, r in self._records()
                if r["method"] in EVENTS and not r.get("autonomous")]

    def cancel(self, command_key):
        """CancelTransfer: remove every not-yet-started transfer with this CommandKey."""
        matches = [(k, r) for k, r in self._transfers() if r["command_key"] == command_key]
        if not matches:
            raise CwmpFault(9021, f"no transfer with CommandKey {command_key!r}")
        if any(r["state"] != 1 for _, r in matches):
            raise CwmpFault(9021, f"transfer {command_key!r} has already started")
        with self._store.batch():
            for key, _ in matches:
                self.ns.delete(key)
                log.info("%s: cancelled", key)
        self._wake.set()

    def queued(self):
        """GetQueuedTransfers' TransferList."""
        return [{"CommandKey": r["command_key"], "State": r["state"]}
                for _, r in self._transfers()[:MAX_LISTED]]

    def all_queued(self):
        """GetAllQueuedTransfers' TransferList."""
        return [{"CommandKey": r["command_key"], "State": r["state"],
                 "IsDownload": r["method"] != "Upload", "FileType": r["file_type"],
                 "FileSize": r["file_size"], "TargetFileName": r["target"]}
                for _, r in self._transfers()[:MAX_LISTED]]

    def discard(self):
        """A BOOTSTRAP for a new ACS: forget what the old ACS asked for and was not told.

        An apply under way cannot be undone; its result is dropped when it ends.
        """
        active = self._active
        with self._store.batch():
            for key, record in self._records():
                if record["phase"] == "applying":
                    self._save(key, discarded=True)
                else:
                    self.ns.delete(key)
        if active and active[0] not in self.ns:
            active[1].cancel()
        self._wake.set()

    # ------------------------------------------------------------------ results
    def pending_requests(self):
        """The requests to send (TransferComplete, DUStateChangeComplete, their autonomous
        forms, RequestDownload), each with its token for delivered()."""
        return [_request(key, r) for key, r in self._records("done")]

    def pending_events(self):
        """The Inform events the pending requests need: single events first."""
        events = dict.fromkeys(e for key, r in self._records("done") for e in _events(key, r))
        return sorted(events, key=lambda event: event[0].startswith("M "))

    def delivered(self, token):
        """The ACS acknowledged the TransferComplete of ``token``: forget it for good."""
        record = self.ns.get(token)
        if record is not None and record["phase"] == "done":
            self.ns.delete(token)

    def _finish(self, key, fault=None, notify=True):
        """Record the result; CompleteTime only for a success (TR-069: Unknown otherwise)."""
        record = self.ns.get(key)
        if record is None:           # cancelled or discarded meanwhile
            return
        if record.get("discarded"):
            self.ns.delete(key)
            return
        if fault is None:
            record = self._save(key, phase="done", state=3, fault=None, complete=time.time())
            log.info("%s: %s completed", key, record["method"])
        else:
            standard = MESSAGES.get(fault.code, "Fault")
            text = fault.message if fault.message == standard else f"{standard}: {fault.message}"
            record = self._save(key, phase="done", state=3, complete=None,
                                fault=[fault.code, text[:256]])
            log.warning("%s: %s failed: %s %s", key, record["method"], fault.code, text)
        if record.get("autonomous") and not self._announce(key, record):
            log.info("%s: the ACS's policy does not ask for this result", key)
            self.ns.delete(key)
            return
        if notify:
            self._ready()

    def _announce(self, key, record):
        """Whether the policy wants this autonomous result; for a DU change, which
        operations' results (saved as ``report``)."""
        settings = self.policies() if self.policies is not None else None
        if record["method"] != CHANGE_DU_STATE:
            return settings is not None and _transfer_wanted(settings.transfer_complete, record)
        wanted = [] if settings is None else [
            i for i, op in enumerate(record["operations"])
            if _du_wanted(settings.du_state_change, _du_result(record, op))]
        if wanted:
            self._save(key, report=wanted)
        return bool(wanted)

    def _ready(self):
        try:
            self._on_ready()
        except Exception:  # the agent's problem; the result stays pending
            log.exception("on_ready callback failed")

    # ------------------------------------------------------------------ worker
    async def run(self):
        """The worker: runs due transfers one at a time, forever (cancel to stop)."""
        if self._records("done"):
            self._ready()
        while True:
            self._wake.clear()
            now = time.time()
            due = self._next_due(now)
            if due and due[1] <= now:
                await self._execute_task(due[0])
                continue
            timeout = due[1] - now if due else None
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    def _next_due(self, now):
        """(key, time) of the queued transfer to run next; ends ScheduleDownloads whose
        windows are used up."""
        best = None
        for key, record in self._records("queued"):
            if record["method"] == "ScheduleDownload":
                plan = _window_plan(record, now)
                if plan is None:
                    self._finish(key, CwmpFault(9020, record.get("last_error") or
                                                "no attempt possible in the time windows"))
                    continue
                when = plan[1]
            else:
                when = record["due"]
            if best is None or when < best[1]:
                best = (key, when)
        return best

    async def _execute_task(self, key):
        task = asyncio.create_task(self._execute(key))
        self._active = (key, task)
        try:
            await task
        except asyncio.CancelledError:
            if asyncio.current_task().cancelling():
                raise
            log.info("%s: abandoned (discarded)", key)
            for suffix in ("part", "upload"):
                _remove(self._path(key, suffix))
        except Exception as error:   # a bug or a failing store must not stop the worker
            log.exception("%s: failed unexpectedly", key)
            failure = 9011 if self.ns.get(key, {}).get("method") == "Upload" else 9010
            try:
                self._finish(key, CwmpFault(failure, f"internal error: {error}"))
            except Exception:
                log.exception("%s: cannot record the failure", key)
                await asyncio.sleep(1)   # no busy loop while the store fails
        finally:
            self._active = None

    async def _execute(self, key):
        record = self.ns.get(key)
        changes = {"phase": "transferring", "state": 2}
        deadline = None
        if record["method"] == "ScheduleDownload":
            plan = _window_plan(record, time.time())
            if plan is None:         # the window closed just now: _next_due ends it
                return
            index = plan[0]
            tries = record["tries"] + 1 if index == record["window"] else 1
            changes.update(window=index, tries=tries)
            deadline = record["windows"][index]["end"]
        record = self._save(key, start=record["start"] or time.time(), **changes)
        log.info("%s: %s started", key, record["method"])
        try:
            if record["method"] == CHANGE_DU_STATE:
                await self._change_du_state(key, record)
            elif record["method"] == "Upload":
                await self._upload(key, record)
            else:
                await self._download(key, record, deadline)
        except CwmpFault as fault:
            self._failed(key, fault)

    def _failed(self, key, fault):
        record = self.ns.get(key)
        if record is not None and record["method"] == "ScheduleDownload" \
                and record["phase"] == "transferring":
            # another attempt in this window or the next; _next_due ends it with 9020
            self._save(key, phase="queued", retry_at=time.time() + self.config.retry_delay,
                       last_error=f"last attempt: {fault.code} {fault.message}"[:256])
            log.warning("%s: attempt failed: %s", key, fault)
            return
        self._finish(key, fault)

    def _report(self, key):
        """Progress of one transfer (fetch calls it about once a second): logged, and
        passed on by CommandKey (the D-Bus TransferProgress signal)."""
        command_key = (self.ns.get(key) or {}).get("command_key", "")

        def report(done, total, rate):
            log.info("%s (CommandKey %r): %d/%s bytes, %.0f kB/s", key, command_key, done,
                     total or "?", rate / 1000)
            if self.progress is not None:
                try:
                    self.progress(command_key, done, total, rate)
                except Exception:  # an observer must not abort the transfer
                    log.exception("progress callback failed")
        return report

    async def _download(self, key, record, deadline):
        hook = self.config.hooks.get(record["file_type"])
        if hook is None:             # the configuration changed since it was queued
            raise CwmpFault(9010, f"FileType {record['file_type']!r} no longer supported")
        part = self._path(key, "part")
        try:
            received = await self._fetch(key, record, part, deadline)
            await hooks.check(hook, part)
        except CwmpFault:
            _remove(part)
            raise
        # The result goes to the store before the apply: a firmware apply never returns.
        self._save(key, phase="applying", complete=time.time(), reboot=hook.reboots,
                   received=received)
        try:
            kept = await hooks.apply(hook, part, self._path_applied(), record["target"]
                                     or os.path.basename(urlsplit(record["url"]).path))
        except CwmpFault as fault:
            _remove(part)
            self._finish(key, fault)
            return
        if hook.reboots:
            log.info("%s: applied; the device is going down", key)
            return                   # done at the restart; the file stays for the apply
        _remove(part)
        if kept:
            self._remember(record, kept)
        self._finish(key)

    async def _fetch(self, key, record, part, deadline):
        """Download into ``part``, before ``deadline`` (epoch) if there is one."""
        size = record["file_size"]
        room = self._room()
        limit, oversize = (size, 9018) if size and size <= room else (room, 9010)
        loop_deadline = None
        if deadline is not None:
            loop_deadline = asyncio.get_running_loop().time() + deadline - time.time()
        try:
            async with asyncio.timeout_at(loop_deadline):
                received = await fetch.download(
                    self._curl, record["url"], part, self.config.wire,
                    username=record["username"], password=record["password"],
                    max_bytes=limit, oversize_code=oversize, progress=self._report(key))
        except TimeoutError:
            raise CwmpFault(9020, "the time window ended during the download") from None
        if size and received != size:
            raise CwmpFault(9018, f"received {received} bytes, FileSize is {size}")
        log.info("%s: %d bytes received", key, received)
        return received

    async def _change_du_state(self, key, record):
        """Run the operations not yet done, in order, each saved before and after."""
        for index, op in enumerate(record["operations"]):
            if op["state"] == 3:
                continue
            operations = list(self.ns.get(key)["operations"])
            operations[index] = dict(op, state=2, start=op["start"] or time.time())
            self._save(key, operations=operations)
            part = self._path(key, f"du{index}")

            async def download(url, username, password, part=part):
                await self._fetch(key, {"url": url, "username": username,
                                        "password": password, "file_size": 0}, part, None)
                return part
            result = await self.software.perform(op["args"], _marker(key, index), download)
            _remove(part)
            operations = list(self.ns.get(key)["operations"])
            operations[index] = dict(operations[index], state=3, result=result)
            self._save(key, operations=operations)
            self.software.recorded(_marker(key, index))
        self._finish(key)

    def _path_applied(self):
        return os.path.join(self.config.download_dir, "applied")

    def _remember(self, record, path):
        applied = self.ns.get("applied", [])[-(APPLIED_KEPT - 1):]
        applied.append({"file_type": record["file_type"], "path": path,
                        "command_key": record["command_key"], "time": time.time()})
        self.ns.set("applied", applied)

    async def _upload(self, key, record):
        source = self.config.upload_sources.get(record["file_type"])
        if source is None:           # the configuration changed since it was queued
            raise CwmpFault(9011, f"FileType {record['file_type']!r} no longer supported")
        tmp = self._path(key, "upload")
        try:
            path, size = await hooks.produce(source, tmp)
            await fetch.upload(self._curl, record["url"], path, size, self.config.wire,
                               method=self.config.upload_method,
                               username=record["username"], password=record["password"],
                               progress=self._report(key))
        finally:
            _remove(tmp)
        log.info("%s: %d bytes sent", key, size)
        self._finish(key)


def _marker(key, index):
    """Names one operation of a ChangeDUState in the DU it changes (see software.settle)."""
    return f"{key}/{index}"


def _du_result(record, op):
    """An operation's result; one the worker never reached (it failed unexpectedly)
    fails with the record's fault, as 9001 (the DU fault set has no internal error)."""
    if op["result"] is not None:
        return op["result"]
    _, message = record["fault"] or (0, "not performed")
    return sw.failed_result(op["args"], op["start"], CwmpFault(9001, message))


def _fault_struct(fault):
    code, message = fault or (0, "")
    return {"FaultCode": code, "FaultString": message}


def _request(key, r):
    """The CpeRequest announcing a finished record."""
    if r["method"] == "RequestDownload":
        return CpeRequest("RequestDownload", {
            "FileType": r["file_type"], "FileTypeArg": [tuple(a) for a in r["args"]]}, key)
    if r["method"] == CHANGE_DU_STATE:
        results = []
        for index, op in enumerate(r["operations"]):
            if r.get("autonomous") and index not in r.get("report", ()):
                continue
            result = dict(_du_result(r, op))
            result.update(StartTime=_utc(result["StartTime"]),
                          CompleteTime=_utc(result["CompleteTime"]),
                          Fault=_fault_struct(result["Fault"]))
            if not r.get("autonomous"):
                del result["OperationPerformed"]
            results.append(result)
        if r.get("autonomous"):
            return CpeRequest("AutonomousDUStateChangeComplete", {"Results": results}, key)
        return CpeRequest("DUStateChangeComplete", {"Results": results,
                                                    "CommandKey": r["command_key"]}, key)
    times = {"StartTime": _utc(r["start"]), "CompleteTime": _utc(r["complete"])}
    if r.get("autonomous"):
        return CpeRequest("AutonomousTransferComplete", {
            "AnnounceURL": "", "TransferURL": r["url"], "IsDownload": r["method"] != "Upload",
            "FileType": r["file_type"], "FileSize": r.get("received") or r["file_size"],
            "TargetFileName": r["target"], "FaultStruct": _fault_struct(r["fault"]), **times},
            key)
    return CpeRequest("TransferComplete", {
        "CommandKey": r["command_key"], "FaultStruct": _fault_struct(r["fault"]), **times}, key)


def _events(key, r):
    """The Inform events a finished record needs."""
    if r["method"] == "RequestDownload":
        return [(REQUEST_DOWNLOAD, "")]
    if r["method"] == CHANGE_DU_STATE:
        if r.get("autonomous"):
            return [(AUTONOMOUS_DU_STATE_CHANGE_COMPLETE, "")]
        return [(DU_STATE_CHANGE_COMPLETE, ""), ("M ChangeDUState", r["command_key"])]
    if r.get("autonomous"):
        return [(AUTONOMOUS_TRANSFER_COMPLETE, "")]
    return [(TRANSFER_COMPLETE, ""), (EVENTS[r["method"]], r["command_key"])]


def _transfer_wanted(policy, record):
    """ManagementServer.AutonomousTransferCompletePolicy (UCI cwmp.transfer_complete)."""
    kind = "Upload" if record["method"] == "Upload" else "Download"
    result = "Failure" if record["fault"] else "Success"
    return (policy.enable and policy.transfer_type in ("Both", kind)
            and policy.result_type in ("Both", result)
            and (not policy.file_type or record["file_type"] in policy.file_type))


def _du_wanted(policy, result):
    """ManagementServer.DUStateChangeComplPolicy (UCI cwmp.du_state_change)."""
    fault = result["Fault"]
    return (policy.enable
            and (not policy.operation_type or result["OperationPerformed"] in policy.operation_type)
            and policy.result_type in ("Both", "Failure" if fault else "Success")
            and (not fault or not policy.fault_code or str(fault[0]) in policy.fault_code))


def _window_plan(record, now):
    """(window index, earliest start) of a ScheduleDownload's next attempt; None when no
    window can take one (all past, retries spent, or awaiting a confirmation never given)."""
    for index in range(record["window"], len(record["windows"])):
        window = record["windows"][index]
        current = index == record["window"]
        tries = record["tries"] if current else 0
        if window["mode"] == CONFIRMATION or window["end"] <= now:
            continue
        if window["max_retries"] >= 0 and tries > window["max_retries"]:
            continue
        start = max(window["start"], record["retry_at"]) if current else window["start"]
        if start < window["end"]:
            return index, start
    return None


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
