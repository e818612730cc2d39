"""The composition root: builds one Agent from the config and runs it until told to stop.

Single instance per run directory (a lock on ``icwmpd.pid``); SIGHUP reloads the
configuration, SIGTERM/SIGINT let the session in progress finish (bounded) and exit 0.
"""

import asyncio
import fcntl
import functools
import ipaddress
import logging
import os
import shlex
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from icwmpy import logs
from icwmpy.actions import run_shell
from icwmpy.agent import Agent
from icwmpy.backends.dbus import DBusClient
from icwmpy.bus import BusService
from icwmpy.cli import PID_FILE, datamodel_dir
from icwmpy.config.settings import ConfigError, load_settings
from icwmpy.config.uci import Uci, UciError
from icwmpy.cr import firewall
from icwmpy.cr.http import CrServer, Route
from icwmpy.cr.address import (CR_PORT_TRIES, connection_request_url,
                                listener_ip_version)
from icwmpy.cr import udp as udp_cr
from icwmpy.cr.xmpp import XmppConnReq
from icwmpy.model import DataModel
from icwmpy.model.schema import DefinitionError
from icwmpy.signals import on_signal
from icwmpy.store import Store
from icwmpy.transfer import (ApplyHook, TransferConfig, TransferQueue, UploadSource,
                             WireOptions, openwrt_hooks, software)
from icwmpy.transport import CurlLoop

log = logging.getLogger("icwmpy")

CR_URL = "Device.ManagementServer.ConnectionRequestURL"


class AlreadyRunning(Exception):
    pass


def lock_pidfile(rundir):
    """Hold an exclusive lock on ``<rundir>/icwmpd.pid`` for the life of the process."""
    os.makedirs(rundir, exist_ok=True)
    path = os.path.join(rundir, PID_FILE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        other = os.read(fd, 32).decode(errors="replace").strip()
        os.close(fd)
        raise AlreadyRunning(f"already running (pid {other or '?'}, lock {path})") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def keep_port(uci, configured, bound):
    """Write the port the listener got back to cwmp.cpe.port when the configured one was
    taken (as icwmp does), so the URL, the firewall and the next start agree on it."""
    if configured in (0, bound):
        return
    section = "cpe" if uci.section_type("cwmp", "cpe") else "@cpe[0]"  # as settings finds it
    if section != "cpe" and not uci.sections("cwmp", "cpe"):  # no cpe section at all
        section = "cpe"
        uci.set_section("cwmp", section, "cpe")
    uci.set("cwmp", section, "port", str(bound))
    uci.commit("cwmp")
    log.warning("connection request port %d is taken: listening on %d (now cwmp.cpe.port)",
                configured, bound)


def acs_address(agent):
    """The ACS address the firewall rule lets in: where the last session reached the ACS,
    else the ACS URL's host when it is a literal IP; None until known."""
    if agent.acs_ip:
        return agent.acs_ip
    try:
        return str(ipaddress.ip_address(urlsplit(agent.acs_url or "").hostname))
    except ValueError:
        return None


async def open_firewall(uci, model, agent, port, udp):
    """Keep the firewall rule for the connection request port (cwmp.cpe.firewall_rule;
    unset: when the firewall package exists) and reload the firewall when it changed."""
    cpe = agent.settings.cpe
    wanted = cpe.firewall_rule
    if not (os.path.isfile(uci.path("firewall")) if wanted is None else wanted):
        return
    try:   # in the model executor: never inside an ACS transaction's UCI staging
        changed = await agent.run_model(functools.partial(
            firewall.open_port, uci, port, udp=udp, network=cpe.default_wan_interface,
            incoming_rule=cpe.incoming_rule, acs_ip=acs_address(agent)))
    except (UciError, OSError) as e:
        log.error("cannot open the connection request port in the firewall: %s", e)
        return
    if not changed:
        return
    log.info("firewall: rule %s %s", firewall.SECTION,
             firewall.describe(uci.options("firewall", firewall.SECTION)))
    command = model.defs.reload.get("firewall")
    if command:
        await run_shell(command, log)


def follow_acs_address(agent, open_again):
    """After each session, ``open_again()`` (a coroutine function): the rule follows the
    ACS address a session learnt (cwmp.cpe.incoming_rule IP_Port, IP_Only)."""
    tasks = set()

    def session_event(event, _detail):
        if event == "ended":
            task = asyncio.get_running_loop().create_task(open_again())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    agent.listeners.append(session_event)


def first_start_after_boot(rundir):
    """True once per boot: the run directory is volatile (tmpfs), so a marker in it tells a
    respawn by procd or systemd apart from a real boot."""
    marker = os.path.join(rundir, "boot.done")
    if os.path.exists(marker):
        return False
    with open(marker, "w"):
        pass
    return True


def transfer_config(statedir, confdir, settings):
    """Transfers use the ACS connection's TLS options and the configured apply hooks."""
    acs, cpe = settings.acs, settings.cpe
    config = TransferConfig(
        download_dir=os.path.join(statedir, "downloads"),
        wire=WireOptions(ca_path=acs.ssl_capath or None, insecure=acs.insecure_enable))
    if cpe.transfer_hooks == "openwrt":
        config.hooks = openwrt_hooks(cpe.fw_upgrade_keep_settings)
    for entry in settings.apply_hooks:   # `config apply_hook` sections win
        if not entry["file_type"]:
            log.warning("%s: %s.%s: apply_hook without file_type (ignored)", settings.path,
                        "cwmp", entry["section"])
            continue
        config.hooks[entry["file_type"]] = ApplyHook(
            check=tuple(tuple(shlex.split(c)) for c in entry["check"]),
            apply=tuple(tuple(shlex.split(c)) for c in entry["apply"]),
            reboots=entry["reboots"])
    export = UploadSource(command=(sys.executable, "-m", "icwmpy.config", confdir))
    config.upload_sources = {"1 Vendor Configuration File": export,
                             "3 Vendor Configuration File 1": export}
    if cpe.log_file_name:
        log_file = UploadSource(path=cpe.log_file_name)
        config.upload_sources.update({"2 Vendor Log File": log_file, "4 Vendor Log File 1": log_file})
    config.software = software.backend(cpe.software_backend, os.path.join(statedir, "software"))
    return config


async def serve(args, settings, reload_asked=()):
    """Run the CPE; ``settings`` were read (and the config checked) by main;
    ``reload_asked`` non-empty when a SIGHUP came while starting."""
    uci = Uci(args.confdir)
    store = Store(args.statedir)
    model = DataModel.from_dir(datamodel_dir(args), uci, store)
    curl = CurlLoop()
    # the one thread every data model and UCI call runs in
    executor = ThreadPoolExecutor(1, thread_name_prefix="model")
    agent = None
    transfers = TransferQueue(store, curl, transfer_config(args.statedir, args.confdir, settings),
                              on_ready=lambda: agent and agent.trigger())
    agent = Agent(confdir=args.confdir, settings=settings, model=model, uci=uci, store=store,
                  transfers=transfers,
                  executor=executor,
                  boot=args.boot_event and first_start_after_boot(args.rundir),
                  get_rpc_methods=args.get_rpc_methods)
    transfers.policies = lambda: agent.settings
    cpe = agent.settings.cpe
    bus_address = args.bus or cpe.dbus_address or "system"
    # dbus backend calls: from the model worker onto this loop, one shared connection
    model.ctx.dbus = DBusClient(bus_address, asyncio.get_running_loop())
    if not cpe.enable:
        log.info("cwmp.cpe.enable is off: not starting")
        return 0
    version, device = listener_ip_version(agent.settings), cpe.interface or None
    cr = CrServer("::", cpe.port, version=version, device=device, port_tries=CR_PORT_TRIES,
                  header_timeout=cpe.cr_timeout)
    cr.add_route(cpe.path if cpe.path.startswith("/") else "/" + cpe.path, Route(
        credentials=lambda: (uci.get("cwmp", "cpe", "userid", "") or "",
                             uci.get("cwmp", "cpe", "passwd", "") or ""),
        on_request=lambda: agent.trigger("6 CONNECTION REQUEST"),
        allow_basic=lambda: agent.settings.cpe.authentication == "Basic",
        throttle=lambda: agent.settings.cpe.cr_throttle))
    try:
        await cr.start()
    except OSError as e:
        log.error("cannot listen for connection requests on port %d%s: %s", cpe.port,
                  f" of interface {device}" if device else "", e)
        await model.ctx.dbus.aclose()
        curl.close()
        executor.shutdown(wait=False)
        return 1
    keep_port(uci, cpe.port, cr.port)
    url = connection_request_url(agent.settings, cr.port)
    model.write(CR_URL, url)
    log.info("icwmpd started: connection requests on %s", url)
    loop = asyncio.get_running_loop()
    on_signal(loop, signal.SIGTERM, agent.stop)
    on_signal(loop, signal.SIGINT, agent.stop)
    bus = await BusService.start(agent, bus_address)
    if bus:
        transfers.progress = bus.transfer_progress
    # UDP connection requests + STUN (TR-069 Annex G) on the same port number; last before
    # agent.run(), as its STUN task writes through agent.run_model.
    udp = await udp_cr.start(agent, cr.port, urlsplit(url).hostname, version=version,
                             device=device)
    async def reopen_firewall():
        await open_firewall(uci, model, agent, cr.port, udp is not None)
    await reopen_firewall()
    follow_acs_address(agent, reopen_firewall)
    # XMPP connection requests (TR-069 Annex K): connected only while
    # ManagementServer.ConnReqXMPPConnection names an enabled Device.XMPP.Connection
    # (followed live); slixmpp is imported only then.
    xmpp = XmppConnReq(agent)
    await xmpp.start()
    # reloads reach the Agent once it runs (its callbacks run at its first wait)
    on_signal(loop, signal.SIGHUP, agent.reload)
    if reload_asked:
        loop.call_soon(agent.reload)
    try:
        return await agent.run()
    finally:
        await xmpp.stop()
        if udp:
            await udp.close()
        if bus:
            await bus.stop()
        await cr.close()
        await model.ctx.dbus.aclose()
        curl.close()
        executor.shutdown(wait=True)
        log.info("icwmpd stopped")


def remember_sighup():
    """From the first read of the config on, a SIGHUP (``icwmpd -c set`` of a cwmp option
    as soon as the pid lock is held) is remembered for the running loop, never fatal."""
    asked = []
    signal.signal(signal.SIGHUP, lambda *_: asked.append(True))
    return asked


def main(args):
    warnings = []   # logged once the log is set up from these very settings
    reload_asked = remember_sighup()
    try:
        settings = load_settings(args.confdir, warn=warnings.append)
    except (ConfigError, UciError) as e:
        print(f"icwmpd: {e}", file=sys.stderr)
        return 2
    logs.setup(settings.cpe, foreground=sys.stderr.isatty())
    for warning in warnings:
        log.warning("%s", warning)
    try:
        lock = lock_pidfile(args.rundir)
    except (AlreadyRunning, OSError) as e:
        print(f"icwmpd: {e}", file=sys.stderr)
        return 1
    try:
        if args.fleet or settings.fleet.count:   # the simulator's modules only then
            from icwmpy import fleet
            return asyncio.run(fleet.serve(args, settings, reload_asked))
        return asyncio.run(serve(args, settings, reload_asked))
    except (DefinitionError, UciError, ConfigError) as e:
        log.error("%s", e)
        print(f"icwmpd: {e}", file=sys.stderr)
        return 2
    finally:
        os.close(lock)
