"""init.d/icwmpd against a stub of OpenWrt's procd shell library; the systemd unit's shape."""

import configparser
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "init.d" / "icwmpd"

# What rc.common and procd.sh provide, reduced to recording each call.
STUB = r"""
calls() { echo "$*" >> "$CALLS"; }
config_load() { calls config_load "$@"; }
config_get_bool() { eval "$1=\${ENABLE:-1}"; calls config_get_bool "$@"; }
procd_open_instance() { calls procd_open_instance "$@"; }
procd_set_param() { calls procd_set_param "$@"; }
procd_append_param() { calls procd_append_param "$@"; }
procd_close_instance() { calls procd_close_instance "$@"; }
procd_add_reload_trigger() { calls procd_add_reload_trigger "$@"; }
procd_send_signal() { calls procd_send_signal "$@"; }
"""


def run_script(tmp_path, function, enable="1"):
    calls = tmp_path / "calls"
    calls.write_text("")
    body = SCRIPT.read_text().split("\n", 1)[1]   # without the rc.common shebang
    script = f"{STUB}\n{body}\n{function}\n"
    subprocess.run(["sh", "-eu", "-c", script], check=True, timeout=10,
                   env={"CALLS": str(calls), "ENABLE": enable, "PATH": "/usr/bin:/bin"})
    return calls.read_text().splitlines()


def test_syntax():
    subprocess.run(["sh", "-n", str(SCRIPT)], check=True)


def test_start_service_runs_the_daemon_with_respawn(tmp_path):
    calls = run_script(tmp_path, "start_service")
    assert "config_load cwmp" in calls
    assert "procd_open_instance icwmpd" in calls
    assert "procd_set_param command /usr/bin/icwmpd -b" in calls
    assert any(c.startswith("procd_set_param respawn 3600 5 0") for c in calls)
    assert calls[-1] == "procd_close_instance"


def test_disabled_cpe_starts_nothing(tmp_path):
    calls = run_script(tmp_path, "start_service", enable="0")
    assert not any(c.startswith("procd_open_instance") for c in calls)


def test_reload_on_config_change_and_hup(tmp_path):
    assert run_script(tmp_path, "service_triggers") == ["procd_add_reload_trigger cwmp"]
    assert run_script(tmp_path, "reload_service") == ["procd_send_signal icwmpd * HUP"]


def test_systemd_unit():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(REPO / "etc" / "systemd" / "icwmpd.service")
    assert unit["Service"]["ExecStart"].startswith("/usr/bin/icwmpd -b")
    assert unit["Service"]["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert unit["Service"]["RuntimeDirectoryPreserve"] == "yes"


@pytest.mark.parametrize("path", ["init.d/icwmpd"])
def test_scripts_are_executable(path):
    assert (REPO / path).stat().st_mode & 0o111
