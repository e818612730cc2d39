"""Event queue rules: single vs multiple, what a failure or a reboot keeps, BOOTSTRAP."""

import pytest

from icwmpy.cwmp.events import from_text, is_valid
from icwmpy.eventqueue import EventQueue
from icwmpy.store import Store


def queue(tmp_path):
    return EventQueue(Store(str(tmp_path)))


def test_single_events_once_multiple_events_per_command_key(tmp_path):
    q = queue(tmp_path)
    for code, key in [("2 PERIODIC", ""), ("2 PERIODIC", ""), ("M Download", "a"),
                      ("M Download", "b"), ("M Download", "a")]:
        q.add(code, key)
    assert q.pending == [("2 PERIODIC", ""), ("M Download", "a"), ("M Download", "b")]


def test_failed_session_keeps_all_but_connection_request(tmp_path):
    q = queue(tmp_path)
    sent = [("1 BOOT", ""), ("6 CONNECTION REQUEST", ""), ("14 HEARTBEAT", ""), ("M Reboot", "k")]
    for code, key in sent:
        q.add(code, key)
    q.failed(sent)
    assert q.pending == [("1 BOOT", ""), ("14 HEARTBEAT", ""), ("M Reboot", "k")]


def test_reboot_keeps_only_what_survives_one(tmp_path):
    q = queue(tmp_path)
    for code in ("0 BOOTSTRAP", "1 BOOT", "4 VALUE CHANGE", "7 TRANSFER COMPLETE", "2 PERIODIC"):
        q.add(code)
    q.add("M Reboot", "r")
    after = queue(tmp_path)   # read back from disk, as after the reboot
    after.rebooted()
    assert after.pending == [("0 BOOTSTRAP", ""), ("7 TRANSFER COMPLETE", ""), ("2 PERIODIC", ""),
                             ("M Reboot", "r")]


@pytest.mark.parametrize("code", ["6 CONNECTION REQUEST", "14 HEARTBEAT"])
def test_connection_request_and_heartbeat_are_not_written_to_disk(tmp_path, code):
    q = queue(tmp_path)
    q.add(code)
    q.failed([(code, "")])
    assert queue(tmp_path).pending == []


def test_bootstrap_drops_what_was_meant_for_the_old_acs(tmp_path):
    q = queue(tmp_path)
    for code, key in [("1 BOOT", ""), ("M Download", "d"), ("3 SCHEDULED", ""), ("M Reboot", "r")]:
        q.add(code, key)
    q.add("0 BOOTSTRAP")
    assert q.pending == [("1 BOOT", ""), ("M Reboot", "r"), ("0 BOOTSTRAP", "")]


def test_delivered_drops_exactly_what_was_sent(tmp_path):
    q = queue(tmp_path)
    q.add("2 PERIODIC")
    sent = q.pending
    q.add("M ScheduleInform", "s")   # arrived during the session
    q.delivered(sent)
    assert q.pending == [("M ScheduleInform", "s")]


@pytest.mark.parametrize("code,ok", [("14 HEARTBEAT", True), ("13 WAKEUP", True),
                                     ("X 00D09E MyEvent", True), ("M X_00D09E_Thing", True),
                                     ("15 NOPE", False), ("M Nope", False), ("", False)])
def test_valid_codes(code, ok):
    assert is_valid(code) is ok


def test_a_failed_heartbeat_is_retried_but_not_kept_across_a_reboot(tmp_path):
    q = queue(tmp_path)
    q.add("14 HEARTBEAT")
    q.failed([("14 HEARTBEAT", "")])
    assert q.pending == [("14 HEARTBEAT", "")]
    q.rebooted()
    assert q.pending == []


@pytest.mark.parametrize("text,code", [
    ("6 connection request", "6 CONNECTION REQUEST"), ("8 diagnostics complete",
                                                        "8 DIAGNOSTICS COMPLETE"),
    ("8", "8 DIAGNOSTICS COMPLETE"), ("6 anything", "6 CONNECTION REQUEST"),
    ("14", "14 HEARTBEAT"), ("1 boot", "1 BOOT"), ("m download", "M Download"),
    ("  2   periodic ", "2 PERIODIC"), ("X 00D09E MyEvent", "X 00D09E MyEvent"),
    ("7 SOMETHING", None), ("99 NONSENSE", None), ("BOOT", None), ("", None)])
def test_event_text_as_icwmp_reads_it(text, code):
    """Any case, and icwmp's inform codes by their number alone (prefix matching)."""
    assert from_text(text) == code
