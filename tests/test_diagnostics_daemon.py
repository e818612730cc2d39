"""Diagnostics through the real daemon and real sessions with the test ACS (127.0.0.1):
an SPV requests the test, it runs after the session, an Inform with 8 DIAGNOSTICS
COMPLETE follows and a GetParameterValues reads the results; killed (-9) mid-test, the
daemon runs it again on its return and reports it once."""

import asyncio
import socket

import acs as A
from cpe import Cpe

TIMEOUT = 20
PING = "Device.IP.Diagnostics.IPPing."
ECHO = "Device.IP.Diagnostics.UDPEchoDiagnostics."
DONE = ("8 DIAGNOSTICS COMPLETE", "")


def values(session):
    """{name: value} of the session's GetParameterValuesResponse."""
    answer = next(m for m in session.messages if m.method == "GetParameterValuesResponse")
    return {p["Name"]: p.get("Value", "") for p in answer.parsed["ParameterList"]}


async def sandbox(tmp_path):
    acs = A.Acs()
    await acs.start()
    return acs, Cpe(tmp_path, acs.url)


def test_spv_requested_runs_after_the_session_and_informs_diagnostics_complete(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path)
        acs.queue(A.set_parameter_values([(PING + "Host", "127.0.0.1"),
                                          (PING + "NumberOfRepetitions", "3", "xsd:unsignedInt"),
                                          (PING + "DiagnosticsState", "Requested")], "diag"))
        await cpe.start()
        first = await acs.wait_session(1, timeout=TIMEOUT)
        assert DONE not in first.events
        assert first.messages[1].method == "SetParameterValuesResponse"
        acs.queue(A.get_parameter_values(PING))
        second = await acs.wait_session(2, timeout=TIMEOUT)
        assert second.events == [DONE]
        found = values(second)
        assert found[PING + "DiagnosticsState"] == "Complete"
        assert (found[PING + "SuccessCount"], found[PING + "FailureCount"]) == ("3", "0")
        assert int(found[PING + "AverageResponseTimeDetailed"]) > 0
        log = cpe.log_text()
        assert log.index("session end: success") < log.index("diagnostics IPPing started")
        await asyncio.sleep(1)
        assert len(acs.sessions) == 2   # reported once
        assert await cpe.stop() == 0
        await acs.stop()
    A.run(main(), timeout=60)


def test_killed_during_a_test_runs_it_again_and_reports_once(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
            silent.bind(("127.0.0.1", 0))   # takes the packets, never answers
            acs.queue(A.set_parameter_values([
                (ECHO + "Host", "127.0.0.1"),
                (ECHO + "Port", str(silent.getsockname()[1]), "xsd:unsignedInt"),
                (ECHO + "NumberOfRepetitions", "3", "xsd:unsignedInt"),
                (ECHO + "Timeout", "1000", "xsd:unsignedInt"),
                (ECHO + "InterTransmissionTime", "1", "xsd:unsignedInt"),
                (ECHO + "DiagnosticsState", "Requested")]))
            await cpe.start()
            await acs.wait_session(1, timeout=TIMEOUT)
            while "diagnostics UDPEchoDiagnostics started" not in cpe.log_text():
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            cpe.kill()
            await cpe.wait()
            acs.queue(A.get_parameter_values(ECHO))
            await cpe.start(boot=False)
            second = await acs.wait_session(2, timeout=TIMEOUT)
        assert second.events == [DONE]
        found = values(second)
        assert found[ECHO + "DiagnosticsState"] == "Complete"
        assert (found[ECHO + "SuccessCount"], found[ECHO + "FailureCount"]) == ("0", "3")
        assert "diagnostics UDPEchoDiagnostics was cut by a restart" in cpe.log_text()
        assert await cpe.stop() == 0
        cpe.reboot()
        await cpe.start()
        third = await acs.wait_session(3, timeout=TIMEOUT)
        assert third.events == [("1 BOOT", "")]   # not reported again
        assert await cpe.stop() == 0
        await acs.stop()
    A.run(main(), timeout=60)


def test_icwmpd_c_beside_the_running_daemon_starts_a_test_reported_to_no_acs(tmp_path):
    """The CLI writes the state file and tells the daemon (SIGHUP), which reads it again
    and runs the test; a CLI test reports on the bus, never with an Inform."""
    async def main():
        acs, cpe = await sandbox(tmp_path)
        await cpe.start()
        await acs.wait_session(1, timeout=TIMEOUT)
        for name, value in (("Host", "127.0.0.1"), ("NumberOfRepetitions", "2"),
                            ("DiagnosticsState", "Requested")):
            done = cpe.cli("set", PING + name, value)
            assert done.returncode == 0, done.stderr
        async with asyncio.timeout(TIMEOUT):
            while cpe.value(PING + "DiagnosticsState") != "Complete":
                await asyncio.sleep(0.1)
        assert cpe.value(PING + "SuccessCount") == "2"
        assert cpe.value(PING + "Host") == "127.0.0.1"   # the daemon's writes kept the CLI's
        await asyncio.sleep(0.5)
        assert len(acs.sessions) == 1 and DONE not in acs.sessions[0].events
        assert await cpe.stop() == 0
        await acs.stop()
    A.run(main(), timeout=60)
