"""The diagnostics runner the Agent composes: starts, cancels and finishes the tests.

The data model backends (:mod:`icwmpy.diagnostics.params`) only record what the ACS
sets. After each session the Agent calls :meth:`Diagnostics.after_session`, which starts
every test left Requested (TR-181: the test runs after the session, not inside it). A test
is an asyncio task; it never blocks the loop. Every read and write of a record goes
through the model executor, so it never interleaves with a SetParameterValues.

A finished test's outcome is persisted first, then ``8 DIAGNOSTICS COMPLETE`` is queued
(for a test the ACS asked for) and the record marked reported: after a crash between the
two, :meth:`start` queues it again, and the event queue keeps one such event, so nothing
is reported twice. A test cut by a crash (kill -9, power loss) is run again from the
start when the daemon comes back; one cut twice ends in Error_Internal, so a test that
brings the daemon down cannot loop. A test started over D-Bus reports by a signal
(``tell``) instead of an Inform.
"""

import asyncio
import importlib

from icwmpy.diagnostics.common import BadInterface, Outcome, read_request
from icwmpy.diagnostics.echoserver import EchoService
from icwmpy.diagnostics.params import NAMESPACE, REQUESTED, record
from icwmpy.faults import CwmpFault

EVENT = "8 DIAGNOSTICS COMPLETE"
MAX_ATTEMPTS = 2
# test (its object's name, the record's key) -> (object path, module with run(request)),
# imported when the test first runs: a CPE that never looks a name up never loads
# dnspython (0.1-0.2 s and megabytes at every start)
TESTS = {
    "IPPing": ("Device.IP.Diagnostics.IPPing.", "ping"),
    "TraceRoute": ("Device.IP.Diagnostics.TraceRoute.", "traceroute"),
    "DownloadDiagnostics": ("Device.IP.Diagnostics.DownloadDiagnostics.", "download"),
    "UploadDiagnostics": ("Device.IP.Diagnostics.UploadDiagnostics.", "upload"),
    "UDPEchoDiagnostics": ("Device.IP.Diagnostics.UDPEchoDiagnostics.", "udpecho"),
    "ServerSelectionDiagnostics": ("Device.IP.Diagnostics.ServerSelectionDiagnostics.",
                                   "serverselection"),
    "NSLookupDiagnostics": ("Device.DNS.Diagnostics.NSLookupDiagnostics.", "nslookup"),
}
ROOTS = ("Device.IP.Diagnostics.", "Device.DNS.Diagnostics.")


def flat(outcome):
    """The results and the table rows as one {name: value} ("RouteHops.1.Host": ...)."""
    out = dict(outcome.results)
    for table, rows in outcome.tables.items():
        for number, row in enumerate(rows, 1):
            out.update({f"{table}.{number}.{name}": str(v) for name, v in row.items()})
    return out


class Diagnostics:
    """``store``/``model``: the CPE's; ``run_model``: its model executor; ``trigger(code)``
    queues an Inform event; ``tell(detail)`` reports a finished test to the bus; ``log``."""

    def __init__(self, store, model, run_model, trigger, tell, log):
        self.store, self.model, self.run_model = store, model, run_model
        self.trigger, self.tell, self.log = trigger, tell, log
        self.echo = EchoService(store, model, run_model, log)
        self._tasks = {}   # test -> (run, task)
        self._loop = None

    # ---------------------------------------------------------------- the Agent's hooks
    async def start(self):
        """At the Agent's start: recover from a crash, serve UDPEchoConfig, and run what
        was requested before it."""
        self._loop = asyncio.get_running_loop()
        self.model.change_listeners.append(self._changed)
        recovered = await self.run_model(self._recover) if self.store[NAMESPACE].keys() else []
        for test in recovered:
            self.log.info("diagnostics %s finished before the restart: reporting it", test)
            self.trigger(EVENT)
            await self.run_model(self._reported, test)
        await self.echo.apply()
        self._launch()

    def after_session(self):
        """Start the tests the session requested."""
        self._reconcile()
        self._launch()

    async def request(self, test, values):
        """Start ``test`` now with the parameters ``values`` ({name: value}), for D-Bus:
        set as an SPV would (CwmpFault for a bad one), reported by ``tell``; its run."""
        if test not in TESTS:
            raise CwmpFault(9005, f"no diagnostics test {test!r} (one of {', '.join(TESTS)})")
        run = await self.run_model(self._request, test, values)
        self._reconcile()
        self._launch()
        return run

    async def close(self):
        """Stop the running tests (the Agent stops): they run again at the next start, and
        being stopped so does not count as being cut by a crash."""
        running = dict(self._tasks)
        for _, task in running.values():
            task.cancel()
        await asyncio.gather(*(task for _, task in running.values()), return_exceptions=True)
        if running:
            await self.run_model(self._stopped, {test: run for test, (run, _) in running.items()})
        if self._changed in self.model.change_listeners:
            self.model.change_listeners.remove(self._changed)
        await self.echo.close()

    # ---------------------------------------------------------------- tasks
    def _launch(self):
        for test in TESTS:
            rec = self.store[NAMESPACE].get(test)
            if not rec or rec.get("state") != REQUESTED:
                continue
            running = self._tasks.get(test)
            if running and running[0] == rec["run"]:
                continue
            if running:
                running[1].cancel()
            task = asyncio.create_task(self._run(test, rec["run"]))
            self._tasks[test] = (rec["run"], task)

    def _reconcile(self):
        """Cancel each running test the ACS changed or cancelled since it started."""
        for test, (run, task) in list(self._tasks.items()):
            if (self.store[NAMESPACE].get(test) or {}).get("run") != run:
                task.cancel()
                del self._tasks[test]
                self.log.info("diagnostics %s cancelled", test)

    async def _run(self, test, run):
        try:
            try:
                request = await self.run_model(self._begin, test, run)
            except BadInterface as e:
                outcome = Outcome("Error_Other")
                self.log.warning("diagnostics %s: interface %s does not exist", test, e)
            else:
                if request is None:
                    return
                self.log.info("diagnostics %s started", test)
                outcome = await self._outcome(test, request)
            origin = await self.run_model(self._finish, test, run, outcome)
            if origin is None:
                return
            self.log.info("diagnostics %s: %s", test, outcome.state)
            if origin == "acs":
                self.trigger(EVENT)
                await self.run_model(self._reported, test)
            self.tell({"test": test, "state": outcome.state, "origin": origin,
                       "results": flat(outcome)})
        finally:
            if self._tasks.get(test, (None,))[0] == run:
                del self._tasks[test]

    async def _outcome(self, test, request):
        try:
            module = importlib.import_module("icwmpy.diagnostics." + TESTS[test][1])
            return await module.run(request)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.log.exception("diagnostics %s failed", test)
            return Outcome("Error_Internal")

    # ---------------------------------------------------------------- records (model worker)
    def _begin(self, test, run):
        rec = record(self.store, test)
        if rec["run"] != run or rec["state"] != REQUESTED:
            return None
        rec["started"] = True
        rec["attempts"] += 1
        self.store[NAMESPACE].set(test, rec)
        return read_request(self.model, TESTS[test][0])

    def _finish(self, test, run, outcome):
        """Persist the outcome; the record's origin, or None when the run was superseded."""
        rec = record(self.store, test)
        if rec["run"] != run or rec["state"] != REQUESTED:
            return None
        rec.update(state=outcome.state, started=False, results=outcome.results,
                   tables=outcome.tables, report=rec["origin"] == "acs")
        self.store[NAMESPACE].set(test, rec)
        return rec["origin"]

    def _stopped(self, runs):
        for test, run in runs.items():
            rec = record(self.store, test)
            if rec["run"] == run and rec["started"]:
                rec.update(started=False, attempts=rec["attempts"] - 1)
                self.store[NAMESPACE].set(test, rec)

    def _reported(self, test):
        rec = record(self.store, test)
        rec["report"] = False
        self.store[NAMESPACE].set(test, rec)

    def _recover(self):
        """At start: a test cut while running runs again (Error_Internal after
        MAX_ATTEMPTS); the tests finished but not yet queued for the Inform."""
        report = []
        for test in TESTS:
            if test not in self.store[NAMESPACE]:
                continue
            rec = record(self.store, test)
            if rec["state"] == REQUESTED and rec["started"]:
                rec["started"] = False
                if rec["attempts"] >= MAX_ATTEMPTS:
                    self.log.warning("diagnostics %s was cut %d times: Error_Internal", test,
                                     rec["attempts"])
                    rec.update(state="Error_Internal", report=rec["origin"] == "acs")
                else:
                    self.log.info("diagnostics %s was cut by a restart: running it again", test)
                self.store[NAMESPACE].set(test, rec)
            if rec["report"]:
                report.append(test)
        return report

    def _request(self, test, values):
        path = TESTS[test][0]
        items = [(path + name, str(value), None) for name, value in values.items()
                 if name != "DiagnosticsState"]
        self.model.set_values(items + [(path + "DiagnosticsState", REQUESTED, None)])
        rec = record(self.store, test)
        rec["origin"] = "bus"
        self.store[NAMESPACE].set(test, rec)
        return rec["run"]

    def _changed(self, changes):
        """Model listener (model worker): a change under the diagnostics objects may cancel
        a running test or reconfigure the UDP echo server."""
        if self._loop and any(name.startswith(ROOTS) for name in changes):
            self._loop.call_soon_threadsafe(self._on_change)

    def _on_change(self):
        self._reconcile()
        self.echo.changed()
