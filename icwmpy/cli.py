"""``icwmpd``: the daemon's command line and the ``-c`` operator CLI (as icwmp's).

``icwmpd -c get Device.`` prints ``<param> => <value>`` lines; faults go to stderr as
``Fault <code>: <message>`` with exit status 1. The path flags (--confdir, --statedir,
--rundir, --datamodel) are shared by the daemon and the CLI so both run in a sandbox.
"""

import argparse
import fcntl
import os
import signal
import struct
import subprocess
import sys

from icwmpy import __version__
from icwmpy.faults import MESSAGES, CwmpFault

CLI_HELP = """Valid commands:
\thelp                                   => show this help
\tget [path-expr]                        => get parameter values
\tget_names [path-expr] [next-level]     => get parameter names
\tset [path-expr] [value] [key]          => set parameter value
\tadd [object] [key]                     => add object
\tdel [object] [key]                     => delete object
\tget_notif [path-expr]                  => get parameter notifications
\tset_notif [path-expr] [notification]   => set parameter notifications (0-6)
"""

NOTIFICATION_WORDS = {0: "off", 1: "passive", 2: "active"}
# the daemon's single-instance lock in the run directory, holding its pid
PID_FILE = "icwmpd.pid"
# struct flock (l_type, l_whence, l_start, l_len, l_pid) with a 64-bit off_t, as Python uses
_FLOCK = "hhqqi"


def default_datamodel_dir():
    """The definitions next to the source tree, else the installed copy."""
    here = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "datamodel")
    if os.path.isdir(here):
        return here
    return os.path.join(sys.prefix, "share", "icwmpy", "datamodel")


def datamodel_dir(args):
    """The --datamodel directory, else the default one."""
    return args.datamodel or default_datamodel_dir()


def parser():
    ap = argparse.ArgumentParser(prog="icwmpd", description="TR-069 / CWMP agent daemon")
    ap.add_argument("-b", "--boot-event", action="store_true", help="start with a 1 BOOT event")
    ap.add_argument("-g", "--get-rpc-methods", action="store_true",
                    help="send GetRPCMethods to the ACS in the first session")
    ap.add_argument("-c", "--cli", nargs=argparse.REMAINDER, metavar="COMMAND",
                    help="operator CLI: get, get_names, set, add, del, get_notif, set_notif, help")
    ap.add_argument("-v", "--version", action="version", version=f"icwmpd (icwmpy) {__version__}")
    ap.add_argument("--confdir", default="/etc/config", help="UCI config directory (like uci -c)")
    ap.add_argument("--statedir", default="/etc/icwmpd", help="persistent state directory")
    ap.add_argument("--rundir", default="/var/run/icwmpd", help="volatile state directory")
    ap.add_argument("--datamodel", default=None, help="directory of data model definitions")
    ap.add_argument("--bus", default=None, help="D-Bus to use: system, session or an address")
    fleet = ap.add_argument_group("fleet mode (a CPE simulator; also UCI cwmp.fleet)")
    fleet.add_argument("--fleet", type=_count, default=None, metavar="N",
                       help="run N simulated CPEs (cpe-1 ... cpe-N) in this process")
    fleet.add_argument("--fleet-first", type=_count, default=None, metavar="K",
                       help="the first CPE is cpe-K (processes or hosts splitting one ID space)")
    fleet.add_argument("--profile", default=None, metavar="FILE",
                       help="device profile: a GenieACS CSV dump of a real device's parameters")
    return ap


def _count(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1, got {text!r}")
    return value


def build_model(args):
    """The data model over the configured directories, its dbus backend on ``--bus``,
    else ``cwmp.cpe.dbus_address``, else the system bus (as the daemon's)."""
    from icwmpy.backends.dbus import DBusClient
    from icwmpy.config.uci import Uci
    from icwmpy.model import DataModel
    from icwmpy.store import Store

    uci = Uci(args.confdir)
    model = DataModel.from_dir(datamodel_dir(args), uci, Store(args.statedir))
    model.ctx.dbus = DBusClient(args.bus or uci.get("cwmp", "cpe", "dbus_address") or "system")
    model.ctx.origin = "cli"   # a diagnostic started here reports on the bus, not to the ACS
    return model


def daemon_pid(rundir):
    """The pid of the icwmpd holding the lock in ``rundir``, or None. The kernel names
    the lock's holder (F_GETLK), so a stale pid file never names another process."""
    try:
        fd = os.open(os.path.join(rundir, PID_FILE), os.O_RDONLY)
    except OSError:
        return None
    try:
        query = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        kind, _, _, _, pid = struct.unpack(_FLOCK, fcntl.fcntl(fd, fcntl.F_GETLK, query))
    finally:
        os.close(fd)
    return None if kind == fcntl.F_UNLCK else pid


def reload_daemon(rundir):
    """Tell the running icwmpd that its configuration or state changed (SIGHUP: it reloads
    the configuration once a session in progress ends, and reads the state files again),
    as icwmp applies a CLI change at once."""
    pid = daemon_pid(rundir)
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError as e:
        print(f"icwmpd: cannot tell the running daemon (pid {pid}) to reload: {e}",
              file=sys.stderr)


def run_reloads(model):
    """Run the reload command of each UCI package a CLI change committed."""
    for _, command in model.take_reloads():
        if command:
            subprocess.run(command, shell=True, check=False)


def cli(args, out=sys.stdout):
    words = args.cli or []
    if not words or words[0] == "help":
        if not words:
            print("You must add a command as input:\n", file=out)
        out.write(CLI_HELP)
        return 0
    command, rest = words[0], words[1:]
    handler = COMMANDS.get(command)
    if handler is None:
        print(f"Wrong cwmp cli command: {command}", file=out)
        out.write(CLI_HELP)
        return 2
    try:
        model = build_model(args)
        handler(model, rest, out)
        run_reloads(model)
        if command in WRITES:   # the running daemon takes in the change (its config, state)
            reload_daemon(args.rundir)
        return 0
    except CwmpFault as f:
        # a set's per-parameter faults say more than its umbrella 9003
        for code, name in [(c, n) for n, c, _ in f.details] or [(f.code, None)]:
            where = f" ({name})" if name else ""
            print(f"Fault {code}: {MESSAGES.get(code, f.message)}{where}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `icwmpd -c get Device. | head`
        sys.stderr.close()
        return 0


def _need(rest, n):
    """``n`` arguments, the first (a path) not empty; a value may be '' (to clear it)."""
    if len(rest) < n or not rest[0]:
        raise CwmpFault(9003)


def _get(model, rest, out):
    for name, value, _ in model.get_values(rest[0] if rest else ""):
        print(f"{name} => {value}", file=out)


def _get_names(model, rest, out):
    next_level = len(rest) > 1 and rest[1].lower() in ("1", "true")
    for name, writable in model.get_names(rest[0] if rest else "", next_level):
        print(f"{name} => {'writable' if writable else 'not-writable'}", file=out)


def _set(model, rest, out):
    _need(rest, 2)
    model.set_values([(rest[0], rest[1], None)], rest[2] if len(rest) > 2 else "set_key")
    print("Set value is successfully done", file=out)
    print(f"{rest[0]} => {rest[1]}", file=out)


def _add(model, rest, out):
    _need(rest, 1)
    path = rest[0] if rest[0].endswith(".") else rest[0] + "."
    number, _ = model.add_object(path, rest[1] if len(rest) > 1 else "add_obj")
    print(f"Added {path}{number}.", file=out)


def _del(model, rest, out):
    _need(rest, 1)
    model.delete_object(rest[0], rest[1] if len(rest) > 1 else "del_obj")
    print(f"Deleted {rest[0]}", file=out)


def _get_notif(model, rest, out):
    for name, notification, _ in model.get_attributes(rest[0] if rest else ""):
        print(f"{name} => {NOTIFICATION_WORDS.get(notification, notification)}", file=out)


def _set_notif(model, rest, out):
    _need(rest, 2)
    if not rest[1].isdigit() or not 0 <= int(rest[1]) <= 6:
        raise CwmpFault(9003)
    model.set_attributes([(rest[0], int(rest[1]), None)])
    print(f"{rest[0]} => {rest[1]}", file=out)


# the commands that change the configuration or the state
WRITES = {"set", "add", "del", "set_notif"}
COMMANDS = {"get": _get, "get_names": _get_names, "set": _set, "add": _add, "del": _del,
            "get_notif": _get_notif, "set_notif": _set_notif}


def main(argv=None):
    args = parser().parse_args(argv)
    if args.cli is not None:
        from icwmpy.config.uci import UciError
        from icwmpy.model.schema import DefinitionError
        try:
            return cli(args)
        except (UciError, DefinitionError, OSError) as e:
            print(f"icwmpd: {e}", file=sys.stderr)
            return 2
    from icwmpy import daemon
    return daemon.main(args)
