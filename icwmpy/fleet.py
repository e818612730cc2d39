"""Fleet mode: many simulated CPEs in one process, for load-testing an ACS.

Each CPE is an ordinary :class:`~icwmpy.agent.Agent` (the same session, RPC, event and
transfer code as a real CPE) over a :class:`~icwmpy.model.profile.Profile`: the parameter
tree of a real device, loaded once and shared; what a CPE changes lives in its own store
under ``<statedir>/<cpe-id>/``. What the CPEs share is what a process has once: the
profile, one model thread, one transfer multi, one connection request listener (routed
by path, ``<cpe.path>/<cpe-id>``) and a bound on the sessions running at once. A Reboot
or FactoryReset ends that CPE's Agent only; the fleet starts it again as after a boot.

Several processes or hosts split one ID space with ``--fleet-first``: process k of m
runs ``--fleet N --fleet-first k*N+1`` (docs/fleet.md).
"""

import asyncio
import gc
import logging
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from icwmpy.actions import EXIT_FOR_REBOOT
from icwmpy.agent import Agent, FleetMember
from icwmpy.cli import default_datamodel_dir
from icwmpy.config.settings import ConfigError, load_settings
from icwmpy.config.uci import Uci
from icwmpy.cr.http import CrServer, Route
from icwmpy.cr.address import CR_PORT_TRIES, connection_request_url, listener_ip_version
from icwmpy.model import DataModel
from icwmpy.model.profile import ProfileError, expand, load_profile
from icwmpy.signals import on_signal
from icwmpy.store import Store
from icwmpy.transfer import TransferConfig, TransferQueue
from icwmpy.transport import CurlLoop

log = logging.getLogger("icwmpy")

# the profile served when none is named: our own TR-181 home router
BUILTIN_PROFILE = "profiles/tr181-router.csv"


@dataclass(frozen=True)
class FleetOptions:
    """``count`` CPEs cpe-<first> ... cpe-<first+count-1>, from ``profile``."""
    count: int
    first: int
    profile: str
    serial_number: str
    max_sessions: int

    @property
    def ids(self):
        return [(f"cpe-{n}", n) for n in range(self.first, self.first + self.count)]


def fleet_options(args, settings):
    """The fleet the flags and ``cwmp.fleet`` ask for (the flags win); None: a real CPE."""
    fleet = settings.fleet
    count = args.fleet if args.fleet is not None else fleet.count
    if not count:
        return None
    return FleetOptions(
        count=count, first=args.fleet_first or fleet.first,
        profile=args.profile or fleet.profile or os.path.join(default_datamodel_dir(),
                                                                 BUILTIN_PROFILE),
        serial_number=fleet.serial_number, max_sessions=fleet.max_sessions)


async def serve(args, settings, reload_asked=()):
    """Run the fleet the flags and ``cwmp.fleet`` ask for: SIGHUP reloads every CPE,
    SIGTERM/SIGINT stop them. A bad profile is a ConfigError naming file, line, reason."""
    try:
        fleet = Fleet.load(args, settings, fleet_options(args, settings))
    except ProfileError as e:
        raise ConfigError(str(e)) from None
    loop = asyncio.get_running_loop()
    on_signal(loop, signal.SIGTERM, fleet.stop)
    on_signal(loop, signal.SIGINT, fleet.stop)
    on_signal(loop, signal.SIGHUP, fleet.reload)
    if reload_asked:
        loop.call_soon(fleet.reload)
    return await fleet.run()


def cr_base(settings):
    path = settings.cpe.path if settings.cpe.path.startswith("/") else "/" + settings.cpe.path
    return path.rstrip("/")


class Fleet:
    """The CPEs of one process. ``run()`` serves them until :meth:`stop`."""

    def __init__(self, args, settings, options, profile):
        self.args = args
        self.settings = settings
        self.options = options
        self.profile = profile
        self.agents = {}        # cpe id -> its running Agent
        self._uci = Uci(args.confdir)
        self._stopping = False
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="model")
        self._curl = None
        self._sessions = None
        self._epoch = None

    @classmethod
    def load(cls, args, settings, options):
        """Load the profile (:class:`ProfileError` names file, line and reason)."""
        return cls(args, settings, options, load_profile(options.profile))

    async def run(self):
        """Serve every CPE; 0 when stopped, 1 when the listener cannot start."""
        cpe = self.settings.cpe
        self._curl = CurlLoop()
        self._sessions = asyncio.Semaphore(self.options.max_sessions)
        self._epoch = time.time()   # the periodic phases count from here
        cr = CrServer("::", cpe.port, version=listener_ip_version(self.settings),
                      device=cpe.interface or None, port_tries=CR_PORT_TRIES,
                      header_timeout=cpe.cr_timeout)
        for cpe_id, n in self.options.ids:
            cr.add_route(f"{cr_base(self.settings)}/{cpe_id}", self._route(cpe_id, n))
        try:
            await cr.start()
        except OSError as e:
            log.error("cannot listen for connection requests on port %d: %s", cpe.port, e)
            self._curl.close()
            return 1
        base = connection_request_url(self.settings, cr.port).rstrip("/")
        self._identify(base)
        log.info("fleet of %d CPEs (%s ... %s) from %s: connection requests on %s/<cpe-id>",
                 self.options.count, self.options.ids[0][0], self.options.ids[-1][0],
                 self.options.profile, base)
        tasks = [asyncio.create_task(self._serve(cpe_id, n, index))
                 for index, (cpe_id, n) in enumerate(self.options.ids)]
        await asyncio.sleep(0)   # each CPE builds its objects at its task's first step
        # Millions of long-lived objects: the collector would scan them over and over
        # (a quarter of the CPU of 10,000 CPEs); what is built now lives as long as the fleet.
        gc.freeze()
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await cr.close()
            self._curl.close()
            self._executor.shutdown(wait=True)
            log.info("fleet stopped")
        return 0

    def _identify(self, cr_url):
        """What differs per CPE is a template in the shared profile, expanded per read:
        the serial number, ConnectionRequestURL; the ACS URL is the configured one."""
        root = self.profile.root
        for name, value in (("DeviceInfo.SerialNumber", self.options.serial_number),
                            ("ManagementServer.ConnectionRequestURL", cr_url + "/{cpe_id}"),
                            ("ManagementServer.URL", self.settings.acs.url)):
            self.profile.set_default(root + name, value)
        self.profile.device_id["SerialNumber"] = self.options.serial_number

    def _route(self, cpe_id, n):
        """CPE ``cpe_id``'s connection requests: cwmp.cpe.userid/passwd as templates
        (``{cpe_id}``, ``{n}``), its own throttle and nonces."""
        def credentials():
            cpe = self.settings.cpe
            return expand(cpe.userid, cpe_id, n), expand(cpe.passwd, cpe_id, n)

        return Route(credentials=credentials,
                     on_request=lambda: self._trigger(cpe_id, "6 CONNECTION REQUEST"),
                     allow_basic=lambda: self.settings.cpe.authentication == "Basic",
                     throttle=lambda: self.settings.cpe.cr_throttle)

    def _trigger(self, cpe_id, code=None):
        """A session for that CPE, unless it is between a reboot and its start."""
        agent = self.agents.get(cpe_id)
        if agent is not None:
            agent.trigger(code)

    async def _serve(self, cpe_id, n, index):
        """One CPE, started again as booted each time it reboots."""
        boot = self.args.boot_event
        while not self._stopping:
            agent = self._agent(cpe_id, n, index, boot)
            self.agents[cpe_id] = agent
            code = await agent.run()
            self.agents.pop(cpe_id, None)
            if code != EXIT_FOR_REBOOT:
                return
            boot = True

    def _agent(self, cpe_id, n, index, boot):
        statedir = os.path.join(self.args.statedir, cpe_id)
        store = Store(statedir)
        model = DataModel(self.profile.definitions, self._uci, store, cpe=(cpe_id, n))
        transfers = TransferQueue(store, self._curl,
                                  TransferConfig(os.path.join(statedir, "downloads")),
                                  on_ready=lambda: self._trigger(cpe_id))
        transfers.policies = lambda: self.settings
        member = FleetMember(cpe_id, self.profile.device_id_of(cpe_id, n),
                             index / self.options.count, self._epoch, self._sessions)
        return Agent(confdir=self.args.confdir, settings=self.settings, model=model,
                     uci=self._uci, store=store, transfers=transfers, executor=self._executor,
                     boot=boot, member=member)

    def stop(self):
        self._stopping = True
        for agent in list(self.agents.values()):
            agent.stop()

    def reload(self):
        """Re-read the configuration once for every CPE (SIGHUP)."""
        try:
            settings = load_settings(self.args.confdir, warn=log.warning)
        except ConfigError as e:
            log.error("%s (keeping the previous configuration)", e)
            return
        self.settings = settings
        for agent in list(self.agents.values()):
            agent.reload(settings)
