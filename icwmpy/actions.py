"""What takes a CPE down: Reboot, FactoryReset, ScheduleReboot and DelayReboot.

An action is persisted when it is asked for (``action`` in the CPE's ``agent`` state, and
``M Reboot`` waiting in ``after_boot``) and carried out when the session that asked for it
ends, so a crash in between still reboots, and the next boot still says ``M Reboot``.
Carrying it out runs the configured command (``cwmp.cpe.reboot_command``,
``factory_reset_command``); ``exit`` instead ends this CPE with :data:`EXIT_FOR_REBOOT`
so that its supervisor starts it again as after a boot: the sandbox's loop for a single
daemon, the fleet for one of its CPEs.
"""

import asyncio
import time

# Exit status of a CPE whose Reboot/FactoryReset is configured as 'exit': "restart me as
# after a boot" (EX_TEMPFAIL).
EXIT_FOR_REBOOT = 75
# What a factory reset keeps of the state: the agent's own (it holds the pending action;
# the rest of it is forgotten key by key) and the registry of the software modules, which
# must go on describing what is installed.
KEPT = ("agent", "software")


async def run_shell(command, log):
    """Run a configured shell command (service reloads, reboot), logging a failure."""
    proc = await asyncio.create_subprocess_shell(command, stdin=asyncio.subprocess.DEVNULL)
    code = await proc.wait()
    if code:
        log.warning("%r exited with status %d", command, code)


class DeviceActions:
    """``store`` the CPE's Store, ``uci`` its config, ``settings()`` its current Settings,
    ``timers`` its SessionTimers; ``busy()`` true while a session runs; ``finish(code)``
    ends the CPE (the 'exit' command); ``reloaded()`` re-reads the settings after this
    object changed them in UCI; ``run_model(fn)`` runs ``fn`` in the model executor (UCI
    writes once sessions may run, so none lands inside an ACS transaction's staging);
    ``simulated``: a CPE of a fleet, whose actions always 'exit' (a command would act on
    the host)."""

    def __init__(self, *, store, uci, settings, timers, busy, finish, reloaded, run_model, log,
                 simulated=False):
        self.store = store
        self.state = store["agent"]
        self.uci = uci
        self.settings = settings
        self.timers = timers
        self.busy = busy
        self.finish = finish
        self.reloaded = reloaded
        self.run_model = run_model
        self.log = log
        self.simulated = simulated

    @property
    def exits(self):
        """Actions end the CPE for its supervisor to start again (no command)."""
        return self.simulated or self.settings().cpe.reboot_command == "exit"

    @property
    def pending(self):
        return self.state.get("action")

    def reboot(self, command_key):
        """Reboot RPC: M Reboot is said after the boot, the reboot comes with the session end."""
        after = self.state.get("after_boot", [])
        self.state.set("after_boot", after + [["M Reboot", command_key]])
        self.state.set("action", "reboot")

    def factory_reset(self):
        self.state.set("action", "factory_reset")

    def booted(self):
        """At start after a boot, before any session: the events the boot owes
        ([(code, key)]); the action is done."""
        owed = [tuple(entry) for entry in self.state.get("after_boot", [])]
        self.state.delete("after_boot")
        self.state.delete("action")
        if self.forget_reboot_requests():
            self.reloaded()
        return owed

    def arm(self):
        """ManagementServer.ScheduleReboot: a reboot at that time (a past time: none)."""
        when = self.settings().cpe.schedule_reboot
        if when and when > time.time():
            self.timers.at("schedule_reboot", when, self._due)
        else:
            self.timers.cancel("schedule_reboot")

    async def after_session(self):
        """Start the DelayReboot countdown, and carry out a pending action."""
        delay = self.settings().cpe.delay_reboot
        if delay >= 0 and not self.timers.armed("delay_reboot"):
            self.log.info("DelayReboot: rebooting in %d s", delay)
            self.timers.at("delay_reboot", time.time() + delay, self._due)
        if self.pending:
            await self.run(self.pending)

    def _due(self):
        """ScheduleReboot / DelayReboot time: reboot now, or when the session ends."""
        self.state.set("action", "reboot")
        if not self.busy():
            asyncio.ensure_future(self.run("reboot"))

    def forget_reboot_requests(self):
        """ScheduleReboot and DelayReboot are done with once the device reboots; True when
        the configuration changed."""
        cpe = self.settings().cpe
        if cpe.delay_reboot != -1 or cpe.schedule_reboot:
            self.uci.set("cwmp", "cpe", "delay_reboot", "-1")
            self.uci.set("cwmp", "cpe", "schedule_reboot", "")
            self.uci.commit("cwmp")
            return True
        return False

    async def run(self, action):
        cpe = self.settings().cpe
        command = cpe.reboot_command if action == "reboot" else cpe.factory_reset_command
        self.log.info("%s: running %s", action, "exit" if self.simulated else command)
        if await self.run_model(self.forget_reboot_requests):
            self.reloaded()
        if action == "factory_reset":
            self._wipe()
        if self.simulated or command == "exit":
            self.finish(EXIT_FOR_REBOOT)
            return
        await run_shell(command, self.log)

    def _wipe(self):
        with self.store.batch():
            for name in self.store.names():
                if name not in KEPT:
                    self.store[name].replace({})
            for key in self.state.keys():
                if key not in ("action", "after_boot"):
                    self.state.delete(key)
