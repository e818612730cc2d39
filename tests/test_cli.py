"""``icwmpd -c``: icwmp's command names, output lines, faults and exit statuses."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def cli(tmp_path):
    (tmp_path / "config").mkdir()
    shutil.copy(REPO / "etc" / "config" / "cwmp", tmp_path / "config" / "cwmp")

    def run(*words):
        return subprocess.run([sys.executable, "-m", "icwmpy", "--confdir", str(tmp_path / "config"),
                               "--statedir", str(tmp_path / "state"),
                               "--rundir", str(tmp_path / "run"), "-c", *words],
                              capture_output=True, text=True, timeout=60)
    run.confdir = tmp_path / "config"
    run.rundir = tmp_path / "run"
    return run


def test_get_names_and_values(cli):
    out = cli("get_names", "Device.ManagementServer.", "1")
    assert out.returncode == 0
    assert "Device.ManagementServer.URL => writable" in out.stdout.splitlines()
    assert "Device.ManagementServer.ParameterKey => not-writable" in out.stdout.splitlines()
    assert "Device.ManagementServer.InformParameter. => writable" in out.stdout.splitlines()
    out = cli("get", "Device.ManagementServer.PeriodicInformInterval")
    assert out.stdout == "Device.ManagementServer.PeriodicInformInterval => 86400\n"


def test_set_add_del_with_keys(cli):
    out = cli("set", "Device.ManagementServer.PeriodicInformInterval", "300", "key-a")
    assert out.stdout == ("Set value is successfully done\n"
                          "Device.ManagementServer.PeriodicInformInterval => 300\n")
    assert "option periodic_inform_interval '300'" in (cli.confdir / "cwmp").read_text()
    assert cli("get", "Device.ManagementServer.ParameterKey").stdout.endswith("=> key-a\n")
    assert cli("add", "Device.ManagementServer.InformParameter.").stdout == \
        "Added Device.ManagementServer.InformParameter.1.\n"
    assert cli("add", "Device.ManagementServer.InformParameter").stdout == \
        "Added Device.ManagementServer.InformParameter.2.\n"
    out = cli("del", "Device.ManagementServer.InformParameter.1.")
    assert out.stdout == "Deleted Device.ManagementServer.InformParameter.1.\n"
    names = cli("get_names", "Device.ManagementServer.InformParameter.", "1").stdout
    assert names == "Device.ManagementServer.InformParameter.2. => writable\n"


def test_notifications(cli):
    assert cli("get_notif", "Device.DeviceInfo.SoftwareVersion").stdout == \
        "Device.DeviceInfo.SoftwareVersion => active\n"
    assert cli("set_notif", "Device.ManagementServer.URL", "1").stdout == \
        "Device.ManagementServer.URL => 1\n"
    assert cli("get_notif", "Device.ManagementServer.URL").stdout == \
        "Device.ManagementServer.URL => passive\n"
    out = cli("set_notif", "Device.DeviceInfo.SoftwareVersion", "0")
    assert out.returncode == 1 and out.stderr.startswith("Fault 9009: Notification request rejected")
    assert cli("set_notif", "Device.ManagementServer.URL", "9").stderr == "Fault 9003: Invalid arguments\n"


@pytest.mark.parametrize("words,fault", [
    (("get", "Device.Nope"), "Fault 9005: Invalid parameter name\n"),
    (("set", "Device.ManagementServer.URL"), "Fault 9003: Invalid arguments\n"),
    (("set", "Device.ManagementServer.PeriodicInformInterval", "abc"),
     "Fault 9007: Invalid parameter value (Device.ManagementServer.PeriodicInformInterval)\n"),
    (("add", "Device.DeviceInfo."), "Fault 9005: Invalid parameter name\n"),
    (("del", "Device.ManagementServer.InformParameter.7."), "Fault 9005: Invalid parameter name\n"),
])
def test_faults_on_stderr_with_status_1(cli, words, fault):
    out = cli(*words)
    assert (out.returncode, out.stdout, out.stderr) == (1, "", fault)


def test_set_of_an_empty_value_clears_the_option(cli):
    assert cli("set", "Device.ManagementServer.Username", "someone").returncode == 0
    out = cli("set", "Device.ManagementServer.Username", "")
    assert (out.returncode, out.stderr) == (0, "")
    assert cli("get", "Device.ManagementServer.Username").stdout == "Device.ManagementServer.Username => \n"
    assert "option userid" not in (cli.confdir / "cwmp").read_text()
    assert cli("set", "", "x").stderr == "Fault 9003: Invalid arguments\n"


def test_help_and_unknown_command(cli):
    out = cli("help")
    assert out.returncode == 0 and "get_names [path-expr] [next-level]" in out.stdout
    out = cli("frobnicate")
    assert out.returncode == 2 and out.stdout.startswith("Wrong cwmp cli command: frobnicate")


def test_version_and_help_flags():
    out = subprocess.run([sys.executable, "-m", "icwmpy", "-v"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("icwmpd (icwmpy) ")
    out = subprocess.run([sys.executable, "-m", "icwmpy", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--statedir" in out.stdout and "--confdir" in out.stdout


# A process holding the daemon's pid lock and counting the SIGHUPs it gets.
LOCK_HOLDER = """
import signal, sys, time
from icwmpy.daemon import lock_pidfile
lock_pidfile(sys.argv[1])
signal.signal(signal.SIGHUP, lambda *_: print("SIGHUP", flush=True))
print("locked", flush=True)
time.sleep(60)
"""


def test_a_cwmp_change_tells_the_running_daemon_to_reload(cli):
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(cli.rundir)],
                              stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline() == "locked\n"
        out = cli("set", "Device.ManagementServer.PeriodicInformInterval", "30")
        assert out.returncode == 0, out.stderr
        assert holder.stdout.readline() == "SIGHUP\n"
        out = cli("get", "Device.ManagementServer.PeriodicInformInterval")  # no change: none
        assert out.returncode == 0
        holder.terminate()
        assert holder.communicate(timeout=10)[0] == ""
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_pid_file_names_no_process_to_signal(cli):
    """The pid file's number is not trusted: only the lock's holder is signalled."""
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        cli.rundir.mkdir()
        (cli.rundir / "icwmpd.pid").write_text(f"{bystander.pid}\n")
        out = cli("set", "Device.ManagementServer.PeriodicInformInterval", "30")
        assert out.returncode == 0, out.stderr
        assert bystander.poll() is None, "a SIGHUP would have ended it"
    finally:
        bystander.kill()
        bystander.wait()


def test_a_read_imports_no_event_loop_nor_tls(tmp_path):
    """``-c get`` is a one-shot: asyncio (and the ssl it drags in), configobj and the
    connection request servers are the daemon's, not the operator's wait."""
    (tmp_path / "config").mkdir()
    shutil.copy(REPO / "etc" / "config" / "cwmp", tmp_path / "config" / "cwmp")
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "icwmpy", "--confdir", str(tmp_path / "config"),
         "--statedir", str(tmp_path / "state"), "--rundir", str(tmp_path / "run"),
         "-c", "get", "Device.DeviceInfo.Manufacturer"],
        capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:")}
    assert "icwmpy.model.engine" in imported
    assert not imported & {"asyncio", "ssl", "configobj", "icwmpy.cr.http", "icwmpy.cr.xmpp"}
