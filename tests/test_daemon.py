"""The real icwmpd process against the scriptable test ACS on 127.0.0.1.

Each test starts the daemon in its own sandbox (config, state and run dirs under
tmp_path), drives sessions from the ACS side, and looks only at what crosses the wire,
the files and the exit status. Reboots are simulated as the sandbox does: the daemon
exits with status 75, the run directory is wiped, the daemon is started again with -b.
"""

import asyncio
import datetime
import signal
import subprocess

import pytest

import acs as A
from cpe import Cpe, free_port
from icwmpy.config.uci import Uci

TIMEOUT = 20


def run(coro):
    return A.run(coro, timeout=60)


def as_dict(parsed_list):
    return {p["Name"]: p.get("Value", "") for p in parsed_list}


async def sandbox(tmp_path, options=None, **acs_kw):
    acs = A.Acs(**acs_kw)
    await acs.start()
    cpe = Cpe(tmp_path, acs.url, options)
    return acs, cpe


async def finish(acs, cpe):
    code = await cpe.stop()
    await acs.stop()
    return code


def test_bootstrap_session_with_digest_cookie_and_rpcs(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path, {("acs", "userid"): "acs", ("acs", "passwd"): "pw"},
                                 auth="digest", username="acs", password="pw")
        acs.queue(A.get_parameter_values("Device.DeviceInfo.SerialNumber",
                                         "Device.ManagementServer."),
                  A.set_parameter_values([("Device.ManagementServer.PeriodicInformInterval",
                                           "3600")], "key-1"),
                  A.get_parameter_names("Device.", True),
                  A.get_parameter_values("Device.Nope"))
        await cpe.start()
        s = await acs.wait_session(1, timeout=TIMEOUT)
        assert ("0 BOOTSTRAP", "") in s.events and ("1 BOOT", "") in s.events
        forced = s.parameters
        for name in ("Device.RootDataModelVersion", "Device.DeviceInfo.SoftwareVersion",
                     "Device.ManagementServer.ConnectionRequestURL",
                     "Device.ManagementServer.ParameterKey"):
            assert name in forced
        assert forced["Device.ManagementServer.ConnectionRequestURL"].startswith("http://")
        assert s.methods == ["Inform", "GetParameterValuesResponse", "SetParameterValuesResponse",
                             "GetParameterNamesResponse", "Fault"]
        gpv = as_dict(s.messages[1].parsed["ParameterList"])
        assert gpv["Device.ManagementServer.URL"] == acs.url
        assert gpv["Device.ManagementServer.Password"] == ""
        assert s.messages[2].parsed == {"Status": "0"}
        names = [p["Name"] for p in s.messages[3].parsed["ParameterList"]]
        assert "Device.DeviceInfo." in names and "Device.ManagementServer." in names
        assert "9005" in s.messages[4].raw.decode()
        assert len(s.connections) == 1 and s.empty_posts == 1
        # one challenge, answered by resending the whole Inform on the same connection
        assert [(status, why) for status, why, _ in acs.rejected] == [(401, "digest challenge")]
        assert b"<cwmp:Inform>" in acs.rejected[0][2].body
        assert await finish(acs, cpe) == 0
        assert cpe.value("Device.ManagementServer.PeriodicInformInterval") == "3600"
        assert cpe.value("Device.ManagementServer.ParameterKey") == "key-1"
        assert "pw" not in cpe.log_text().replace("pwd", "")
    run(main())


def test_connection_request_starts_a_session_and_coalesces(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path)
        await cpe.start()
        await acs.wait_session(1, timeout=TIMEOUT)
        url = cpe.value("Device.ManagementServer.ConnectionRequestURL")
        assert await curl_status(url, "--digest", "-u", "cr:cr-secret") == "200"
        s = await acs.wait_session(2, timeout=TIMEOUT)
        assert s.events == [("6 CONNECTION REQUEST", "")]
        assert await curl_status(url, "--digest", "-u", "cr:wrong") == "401"
        await asyncio.sleep(1)
        assert len(acs.sessions) == 2
        assert await finish(acs, cpe) == 0
    run(main())


def test_failed_session_is_retried_with_the_same_events(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path)
        acs.fail_next_posts(1, status=500)
        await cpe.start()
        s = await acs.wait_session(1, timeout=TIMEOUT)
        assert ("0 BOOTSTRAP", "") in s.events
        assert s.inform["RetryCount"] == "1"
        assert len(acs.sessions) == 1 and len(acs.rejected) == 1
        assert await finish(acs, cpe) == 0
    run(main())


def test_reboot_killed_before_rebooting_delivers_m_reboot_once(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path)
        acs.queue(A.reboot("rk-1"))
        await cpe.start()
        s = await acs.wait_session(1, timeout=TIMEOUT)
        assert s.methods[-1] == "RebootResponse"
        cpe.kill()  # between the RebootResponse and the reboot, whatever the daemon was doing
        await cpe.wait()
        cpe.reboot()
        await cpe.start()
        s = await acs.wait_session(2, timeout=TIMEOUT)
        assert sorted(s.events) == [("1 BOOT", ""), ("M Reboot", "rk-1")]
        await cpe.stop()
        cpe.reboot()
        await cpe.start()
        s = await acs.wait_session(3, timeout=TIMEOUT)
        assert s.events == [("1 BOOT", "")]
        assert await finish(acs, cpe) == 0
    run(main())


def test_reboot_runs_the_configured_action_after_the_session(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path)
        acs.queue(A.reboot("rk-2"))
        await cpe.start()
        await acs.wait_session(1, timeout=TIMEOUT)
        assert await cpe.wait() == 75  # 'exit' action: restart me as after a boot
        cpe.reboot()
        await cpe.start()
        s = await acs.wait_session(2, timeout=TIMEOUT)
        assert sorted(s.events) == [("1 BOOT", ""), ("M Reboot", "rk-2")]
        assert await finish(acs, cpe) == 0
    run(main())


def test_killed_between_inform_and_response_keeps_the_events(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path)
        acs.drop_connection_next(1)
        await cpe.start()
        s = await acs.wait_session(1, timeout=TIMEOUT)
        # the first Inform got no answer; its retry carries the same events
        assert ("0 BOOTSTRAP", "") in s.events and ("1 BOOT", "") in s.events
        cpe.kill()
        await cpe.wait()
        cpe.configure({("cpe", "port"): str(free_port())})
        await cpe.start(boot=False)   # a crash, not a boot: no BOOT, no BOOTSTRAP again
        s = await acs.wait_session(2, timeout=TIMEOUT)
        # ...but the listener came back on another port: the ACS hears of the new URL
        assert s.events == [("4 VALUE CHANGE", "")]
        url = cpe.value("Device.ManagementServer.ConnectionRequestURL")
        assert s.parameters["Device.ManagementServer.ConnectionRequestURL"] == url
        assert await finish(acs, cpe) == 0
    run(main())


def test_schedule_inform_and_periodic_inform(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path)
        acs.queue(A.schedule_inform(1, "si-1"))
        await cpe.start()
        await acs.wait_session(1, timeout=TIMEOUT)
        s = await acs.wait_session(2, timeout=TIMEOUT)
        assert sorted(s.events) == [("3 SCHEDULED", ""), ("M ScheduleInform", "si-1")]
        acs.queue(A.set_parameter_values([
            ("Device.ManagementServer.PeriodicInformInterval", "1"),
            ("Device.ManagementServer.PeriodicInformEnable", "1")], "p"))
        cpe_cr = cpe.value("Device.ManagementServer.ConnectionRequestURL")
        await (await asyncio.create_subprocess_exec(
            "curl", "-s", "--digest", "-u", "cr:cr-secret", cpe_cr)).wait()
        await acs.wait_session(3, timeout=TIMEOUT)
        s = await acs.wait_session(4, timeout=TIMEOUT)
        assert ("2 PERIODIC", "") in s.events
        assert await finish(acs, cpe) == 0
    run(main())


def test_active_value_change_triggers_a_session_but_acs_sets_do_not(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path)
        acs.queue(A.set_parameter_attributes([("Device.ManagementServer.PeriodicInformInterval",
                                               2, None)]),
                  A.set_parameter_values([("Device.ManagementServer.PeriodicInformInterval",
                                           "7200")]))
        await cpe.start()
        await acs.wait_session(1, timeout=TIMEOUT)
        await asyncio.sleep(2.5)  # a poll happened: the ACS's own change is not notified
        assert len(acs.sessions) == 1
        cpe.configure({("acs", "periodic_inform_interval"): "1234"})  # changed on the device
        s = await acs.wait_session(2, timeout=TIMEOUT)
        assert s.events == [("4 VALUE CHANGE", "")]
        assert s.parameters["Device.ManagementServer.PeriodicInformInterval"] == "1234"
        assert await finish(acs, cpe) == 0
    run(main())


def test_sigterm_during_a_session_finishes_it_and_exits_0(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path)
        acs.queue(A.get_parameter_values("Device."))
        await cpe.start()
        await acs.wait_message("Inform", timeout=TIMEOUT)
        code = await cpe.stop(signal.SIGTERM)
        assert code == 0
        await acs.stop()
    run(main())


def test_config_error_names_file_option_and_value(tmp_path):
    cpe = Cpe(tmp_path, "http://127.0.0.1:9/", {("acs", "periodic_inform_interval"): "abc"})
    done = subprocess.run(cpe.argv(), capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert f"{cpe.confdir}/cwmp: cwmp.acs.periodic_inform_interval = 'abc'" in done.stderr


def test_second_instance_refuses_to_start(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path)
        await cpe.start()
        await acs.wait_session(1, timeout=TIMEOUT)
        done = subprocess.run(cpe.argv(), capture_output=True, text=True, timeout=30)
        assert done.returncode == 1 and "already running" in done.stderr
        assert await finish(acs, cpe) == 0
    run(main())


@pytest.mark.parametrize("compression", ["GZIP"])
def test_https_acs_with_verification(tmp_path, compression):
    import certs
    (tmp_path / "pki").mkdir()
    pki = certs.make_pki(tmp_path / "pki")

    async def main():
        acs, cpe = await sandbox(tmp_path, {("acs", "ssl_capath"): str(pki.ca_file),
                                            ("acs", "compression"): compression},
                                 tls=(str(pki.server_cert), str(pki.server_key)))
        await cpe.start()
        s = await acs.wait_session(1, timeout=TIMEOUT)
        assert acs.url.startswith("https://") and ("0 BOOTSTRAP", "") in s.events
        assert await finish(acs, cpe) == 0
    run(main())


def test_download_survives_kill_and_completes_exactly_once(tmp_path):
    payload = bytes(range(256)) * 2000
    fetched = []

    async def files_handler(request):
        fetched.append(request.target)
        if len(fetched) == 1:
            await asyncio.sleep(2)  # the first attempt is killed while it waits here
        return A.Response(200, payload)

    async def main():
        files = A.HttpServer(files_handler)
        await files.start()
        acs, cpe = await sandbox(tmp_path)
        acs.queue(A.download(files.url + "/fw.bin", "3 Vendor Configuration File", "dl-1",
                             file_size=len(payload)))
        await cpe.start()
        s = await acs.wait_session(1, timeout=TIMEOUT)
        assert s.methods[-1] == "DownloadResponse"
        assert s.messages[-1].parsed["Status"] == "1"
        while not fetched:
            await asyncio.sleep(0.05)
        cpe.kill()  # mid-transfer
        await cpe.wait()
        await cpe.start(boot=False)
        s = await acs.wait_session(2, timeout=TIMEOUT)
        assert sorted(s.events) == [("7 TRANSFER COMPLETE", ""), ("M Download", "dl-1")]
        tc = [m for m in s.messages if m.method == "TransferComplete"]
        assert len(tc) == 1 and tc[0].parsed["CommandKey"] == "dl-1"
        assert tc[0].parsed["FaultStruct"]["FaultCode"] == "0"
        assert len(fetched) == 2
        await cpe.stop()
        cpe.reboot()
        await cpe.start()
        s = await acs.wait_session(3, timeout=TIMEOUT)
        assert s.events == [("1 BOOT", "")] and "TransferComplete" not in s.methods
        assert await finish(acs, cpe) == 0
        await files.stop()
    run(main())


def test_killed_while_waiting_for_the_inform_response_loses_nothing(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path)
        acs.stall_next(3)
        await cpe.start()
        await asyncio.sleep(1)   # the Inform is out, its answer held back
        cpe.kill()
        await cpe.wait()
        await cpe.start(boot=False)
        s = await acs.wait_session(1, timeout=TIMEOUT)
        assert sorted(s.events) == [("0 BOOTSTRAP", ""), ("1 BOOT", "")]
        assert await finish(acs, cpe) == 0
    run(main())


def test_delay_reboot_and_schedule_reboot(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path)
        acs.queue(A.set_parameter_values([("Device.ManagementServer.DelayReboot", "1")]))
        await cpe.start()
        await acs.wait_session(1, timeout=TIMEOUT)
        assert await cpe.wait(timeout=10) == 75     # rebooted 1 s after the session
        assert cpe.value("Device.ManagementServer.DelayReboot") == "-1"
        cpe.reboot()
        when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=2)
        acs.queue(A.set_parameter_values([("Device.ManagementServer.ScheduleReboot",
                                           when.strftime("%Y-%m-%dT%H:%M:%SZ"))]))
        await cpe.start()
        s = await acs.wait_session(2, timeout=TIMEOUT)
        assert s.events == [("1 BOOT", "")]
        assert await cpe.wait(timeout=10) == 75
        cpe.reboot()
        await cpe.start()
        await acs.wait_session(3, timeout=TIMEOUT)
        assert cpe.value("Device.ManagementServer.ScheduleReboot") == "0001-01-01T00:00:00Z"
        assert await finish(acs, cpe) == 0
    run(main())


def test_upload_of_configuration_and_log(tmp_path):
    received = {}

    async def files_handler(request):
        received[request.target] = (request.method, request.body)
        return A.Response(201)

    async def main():
        files = A.HttpServer(files_handler)
        await files.start()
        log_file = tmp_path / "icwmpd.log"
        acs, cpe = await sandbox(tmp_path, {("cpe", "log_to_file"): "1",
                                            ("cpe", "log_file_name"): str(log_file)})
        base = files.url.rstrip("/")
        acs.queue(A.upload(base + "/config", "1 Vendor Configuration File", "up-1"),
                  A.upload(base + "/log", "2 Vendor Log File", "up-2"))
        await cpe.start()
        await acs.wait_session(1, timeout=TIMEOUT)
        done = {}
        for _ in range(2):   # in one session or two, as the uploads finish
            s, m = await acs.wait_message("TransferComplete", timeout=TIMEOUT)
            assert ("M Upload", m.parsed["CommandKey"]) in s.events
            assert ("7 TRANSFER COMPLETE", "") in s.events
            done[m.parsed["CommandKey"]] = m.parsed["FaultStruct"]["FaultCode"]
        assert done == {"up-1": "0", "up-2": "0"}
        method, body = received["/config"]
        assert method == "PUT" and body.startswith(b"package cwmp\n")
        assert f"option url '{acs.url}'".encode() in body
        assert b"[INFO] session start" in received["/log"][1]
        assert await finish(acs, cpe) == 0
        await files.stop()
    run(main())


def test_sighup_reloads_and_cpe_enable_off_stops(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path)
        await cpe.start()
        await acs.wait_session(1, timeout=TIMEOUT)
        cpe.configure({("acs", "periodic_inform_enable"): "1",
                       ("acs", "periodic_inform_interval"): "1"})
        cpe.proc.send_signal(signal.SIGHUP)
        s = await acs.wait_session(2, timeout=TIMEOUT)
        assert s.events == [("2 PERIODIC", "")]
        cpe.configure({("cpe", "enable"): "0"})
        cpe.proc.send_signal(signal.SIGHUP)
        assert await cpe.wait() == 0
        await acs.stop()
    run(main())


@pytest.mark.parametrize("amd,ns,versions", [
    ("1", "urn:dslforum-org:cwmp-1-0", None),
    ("5", "urn:dslforum-org:cwmp-1-2", "1.0,1.1,1.2,1.3,1.4")])
def test_first_inform_speaks_the_configured_cwmp_version(tmp_path, amd, ns, versions):
    async def main():
        acs, cpe = await sandbox(tmp_path, {("cpe", "amd_version"): amd})
        await cpe.start()
        s = await acs.wait_session(1, timeout=TIMEOUT)
        raw = s.messages[0].raw.decode()
        assert s.ns == ns
        assert ("SupportedCWMPVersions" in raw) == (versions is not None)
        if versions:
            assert versions in raw
        assert await finish(acs, cpe) == 0
    run(main())


def test_every_session_has_its_own_connection_and_one_digest_challenge(tmp_path):
    """As GenieACS: nonce per connection, fresh at every challenge, cookie required."""
    async def main():
        acs, cpe = await sandbox(tmp_path, {("acs", "userid"): "acs", ("acs", "passwd"): "pw"},
                                 auth="digest", username="acs", password="pw")
        await cpe.start()
        await acs.wait_session(1, timeout=TIMEOUT)
        url = cpe.value("Device.ManagementServer.ConnectionRequestURL")
        for n in (2, 3):
            await (await asyncio.create_subprocess_exec(
                "curl", "-s", "--digest", "-u", "cr:cr-secret", url)).wait()
            s = await acs.wait_session(n, timeout=TIMEOUT)
            assert s.events == [("6 CONNECTION REQUEST", "")]
        sessions = acs.sessions
        assert len({frozenset(s.connections) for s in sessions}) == 3
        assert all(len(s.connections) == 1 for s in sessions)
        assert [status for status, _, _ in acs.rejected] == [401, 401, 401]
        assert await finish(acs, cpe) == 0
    run(main())


def test_hold_requests_keeps_cpe_requests_until_the_acs_is_done(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path, hold_requests=True)
        acs.queue(A.get_parameter_values("Device.DeviceInfo.SoftwareVersion", hold_requests=True))
        await cpe.start("-g")
        s, _ = await acs.wait_message("GetRPCMethods", timeout=TIMEOUT)
        assert s.methods == ["Inform", "GetParameterValuesResponse", "GetRPCMethods"]
        for _ in range(50):   # then the CPE's second empty POST ends the session
            if s.empty_posts == 2:
                break
            await asyncio.sleep(0.05)
        assert s.empty_posts == 2 and len(acs.sessions) == 1
        assert await finish(acs, cpe) == 0
    run(main())


def test_heartbeat_informs_carry_only_the_forced_parameters(tmp_path):
    async def main():
        when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=3)
        acs, cpe = await sandbox(tmp_path, {
            ("acs", "heartbeat_enable"): "1", ("acs", "heartbeat_interval"): "30",
            ("acs", "heartbeat_time"): when.strftime("%Y-%m-%dT%H:%M:%SZ")})
        acs.queue(A.set_parameter_attributes([("Device.ManagementServer.URL", 1, None)]))
        await cpe.start()
        first = await acs.wait_session(1, timeout=TIMEOUT)
        s = await acs.wait_session(2, timeout=TIMEOUT)
        assert s.events == [("14 HEARTBEAT", "")]
        forced = {"Device.RootDataModelVersion", "Device.DeviceInfo.HardwareVersion",
                  "Device.DeviceInfo.SoftwareVersion", "Device.DeviceInfo.ProvisioningCode",
                  "Device.ManagementServer.ParameterKey",
                  "Device.ManagementServer.ConnectionRequestURL",
                  "Device.ManagementServer.AliasBasedAddressing"}
        assert set(s.parameters) == forced and forced <= set(first.parameters)
        assert await finish(acs, cpe) == 0
    run(main())


def test_factory_reset_forgets_the_state_and_bootstraps_again(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path)
        acs.queue(A.set_parameter_attributes([("Device.ManagementServer.URL", 2, None)]),
                  A.add_object("Device.DeviceInfo.Location."), A.factory_reset())
        await cpe.start()
        s = await acs.wait_session(1, timeout=TIMEOUT)
        assert s.methods[-1] == "FactoryResetResponse"
        assert s.messages[2].parsed["InstanceNumber"] == "1"
        assert await cpe.wait() == 75
        cpe.reboot()
        await cpe.start()
        s = await acs.wait_session(2, timeout=TIMEOUT)
        assert sorted(s.events) == [("0 BOOTSTRAP", ""), ("1 BOOT", "")]
        assert cpe.cli("get_notif", "Device.ManagementServer.URL").stdout.endswith("=> off\n")
        assert cpe.value("Device.DeviceInfo.LocationNumberOfEntries") == "0"   # every namespace
        assert await finish(acs, cpe) == 0
    run(main())


def add_apply_hook(cpe, file_type, *apply):
    """A `config apply_hook` section: how the CPE applies ``file_type``."""
    uci = Uci(str(cpe.confdir))
    name = uci.add("cwmp", "apply_hook")
    uci.set("cwmp", name, "file_type", file_type)
    uci.set("cwmp", name, "apply", list(apply))
    uci.commit("cwmp")


async def config_download_started(tmp_path, payload, key, *apply):
    """A file server, the ACS and a CPE that applies vendor configuration files with
    ``apply``; the ACS's first session asks for a Download of ``payload``."""
    async def files_handler(request):
        return A.Response(200, payload)

    files = A.HttpServer(files_handler)
    await files.start()
    acs, cpe = await sandbox(tmp_path / "cpe")
    add_apply_hook(cpe, "3 Vendor Configuration File", *apply)
    acs.queue(A.download(files.url.rstrip("/") + "/c", "3 Vendor Configuration File", key,
                         file_size=len(payload)))
    await cpe.start()
    await acs.wait_session(1, timeout=TIMEOUT)
    return files, acs, cpe


async def restart_and_get_the_transfer_complete(acs, cpe):
    """kill -9, start again (not a boot), and the one TransferComplete the ACS then gets."""
    cpe.kill()
    await cpe.wait()
    await cpe.start(boot=False)
    _, message = await acs.wait_message("TransferComplete", timeout=TIMEOUT)
    return message.parsed["CommandKey"], message.parsed["FaultStruct"]["FaultCode"]


def transfer_completes(acs):
    return sum(m.method == "TransferComplete" for s in acs.sessions for m in s.messages)


def test_kill_during_the_apply_reports_it_once_and_not_as_a_success(tmp_path):
    applied = tmp_path / "applied.cfg"

    async def main():
        files, acs, cpe = await config_download_started(
            tmp_path, b"config-bytes" * 1000, "cfg-1", "sleep 3", f"cp {{file}} {applied}")
        transfers = cpe.statedir / "transfers.json"
        for _ in range(100):   # the download is done, the slow apply is running
            if transfers.exists() and '"phase":"applying"' in transfers.read_text():
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the apply never started")
        assert await restart_and_get_the_transfer_complete(acs, cpe) == ("cfg-1", "9010")
        assert not applied.exists()
        await asyncio.sleep(1.5)
        assert transfer_completes(acs) == 1
        assert await finish(acs, cpe) == 0
        await files.stop()
    run(main())


def test_kill_between_the_apply_and_the_transfer_complete_delivers_it_once(tmp_path):
    applied = tmp_path / "applied.cfg"

    async def main():
        files, acs, cpe = await config_download_started(
            tmp_path, b"x" * 5000, "cfg-2", f"cp {{file}} {applied}")
        acs.stall_next(5)   # the TransferComplete session's Inform waits for its answer
        for _ in range(100):
            if applied.exists():
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the file was never applied")
        await asyncio.sleep(0.5)   # applied, TransferComplete not yet delivered
        assert await restart_and_get_the_transfer_complete(acs, cpe) == ("cfg-2", "0")
        assert applied.read_bytes() == b"x" * 5000
        await asyncio.sleep(6)   # the stalled answer to the killed daemon's Inform has gone by
        assert transfer_completes(acs) == 1
        assert await finish(acs, cpe) == 0
        await files.stop()
    run(main())


def test_inform_parameters_follow_their_event_list(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path)
        acs.queue(A.add_object("Device.ManagementServer.InformParameter.", "k1"),
                  A.set_parameter_values([
                      ("Device.ManagementServer.InformParameter.1.Enable", "1"),
                      ("Device.ManagementServer.InformParameter.1.ParameterName",
                       "Device.DeviceInfo.UpTime"),
                      ("Device.ManagementServer.InformParameter.1.EventList",
                       "6 CONNECTION REQUEST")], "k2"),
                  A.schedule_inform(1, "si"))
        await cpe.start()
        await acs.wait_session(1, timeout=TIMEOUT)
        scheduled = await acs.wait_session(2, timeout=TIMEOUT)
        assert ("3 SCHEDULED", "") in scheduled.events
        assert "Device.DeviceInfo.UpTime" not in scheduled.parameters
        url = cpe.value("Device.ManagementServer.ConnectionRequestURL")
        await (await asyncio.create_subprocess_exec(
            "curl", "-s", "--digest", "-u", "cr:cr-secret", url)).wait()
        s = await acs.wait_session(3, timeout=TIMEOUT)
        assert s.events == [("6 CONNECTION REQUEST", "")]
        assert int(s.parameters["Device.DeviceInfo.UpTime"]) > 0
        assert await finish(acs, cpe) == 0
    run(main())


async def logged(cpe, text, timeout=TIMEOUT):
    """Wait until the daemon's log has ``text``; the log so far."""
    async with asyncio.timeout(timeout):
        while text not in cpe.log_text():
            await asyncio.sleep(0.05)
    return cpe.log_text()


def test_a_failed_connection_request_session_logs_that_nothing_is_retried(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path, {("acs", "periodic_inform_enable"): "1",
                                            ("acs", "periodic_inform_interval"): "3600"})
        await cpe.start()
        await acs.wait_session(1, timeout=TIMEOUT)
        acs.fail_next_posts(1, status=500)
        url = cpe.value("Device.ManagementServer.ConnectionRequestURL")
        await (await asyncio.create_subprocess_exec(
            "curl", "-s", "-o", "/dev/null", "--digest", "-u", "cr:cr-secret", url)).wait()
        text = await logged(cpe, "session failed")
        assert ("session failed; nothing to retry (not retried: 6 CONNECTION REQUEST); "
                "next session: the periodic inform in 3") in text
        assert "retry 1 in" not in text
        await asyncio.sleep(2)  # retry_min_wait_interval is 1 s: no retry comes
        assert len(acs.sessions) == 1 and len(acs.rejected) == 1
        assert await finish(acs, cpe) == 0
    run(main())


def test_a_voucher_for_another_device_is_refused_by_the_daemon(tmp_path):
    """The voucher's DeviceId is checked against the identity the daemon informs."""
    from test_rpc import get_options, option, set_vouchers, voucher

    def vouchers_for(name, change=None):
        def build(session):
            device = dict(session.inform["DeviceId"])
            device.update(change or {})
            return set_vouchers(voucher(option(name, mode="Enable without expiration"),
                                        device=device))
        return build

    async def main():
        acs, cpe = await sandbox(tmp_path)
        acs.queue(vouchers_for("Mine"), vouchers_for("Theirs", {"SerialNumber": "SOMEONE-ELSE"}),
                  vouchers_for("Theirs", {"OUI": "FFFFFF"}), get_options())
        await cpe.start()
        s = await acs.wait_session(1, timeout=TIMEOUT)
        assert s.methods == ["Inform", "SetVouchersResponse", "Fault", "Fault",
                             "GetOptionsResponse"]
        assert all("<FaultCode>9001</FaultCode>" in m.raw.decode() for m in s.messages[2:4])
        names = [o["OptionName"] for o in s.messages[4].parsed["OptionList"]]
        assert names == ["Mine"]
        assert await finish(acs, cpe) == 0
    run(main())


async def curl_status(url, *args):
    """The HTTP status curl ends with ("000": no connection)."""
    proc = await asyncio.create_subprocess_exec(
        "curl", "-sS", "-g", "--noproxy", "*", "--max-time", "5", "-o", "/dev/null",
        "-w", "%{http_code}", *args, url, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out, _ = await proc.communicate()
    return out.decode()


async def logged_again(cpe, text, times, timeout=TIMEOUT):
    """Wait until the daemon's log has ``text`` ``times`` times (one per start)."""
    async with asyncio.timeout(timeout):
        while cpe.log_text().count(text) < times:
            await asyncio.sleep(0.05)


def two_free_ports(family, host):
    """A port free now whose next one is free too (a client's ephemeral port may hold it)."""
    import socket
    for _ in range(100):
        with socket.socket(family) as first, socket.socket(family) as second:
            first.bind((host, 0))
            port = first.getsockname()[1]
            try:
                second.bind((host, port + 1))
            except OSError:
                continue
            return port
    raise RuntimeError("no two consecutive free ports")


@pytest.mark.parametrize("family,host", [("AF_INET", "127.0.0.1"), ("AF_INET6", "::")])
def test_a_taken_connection_request_port_moves_to_the_next_one(tmp_path, family, host):
    """As icwmp: the next port is used, written back to cwmp.cpe.port and published."""
    import socket

    async def main():
        acs, cpe = await sandbox(tmp_path)
        port = two_free_ports(getattr(socket, family), host)
        cpe.configure({("cpe", "port"): str(port)})
        with socket.socket(getattr(socket, family)) as taken:
            taken.bind((host, port))
            taken.listen()
            await cpe.start()
            await acs.wait_session(1, timeout=TIMEOUT)
            url = cpe.value("Device.ManagementServer.ConnectionRequestURL")
            assert url == f"http://127.0.0.1:{port + 1}/"
            assert Uci(str(cpe.confdir)).get("cwmp", "cpe", "port") == str(port + 1)
            assert f"connection request port {port} is taken: listening on {port + 1}" \
                in cpe.log_text()
            assert await curl_status(url, "--digest", "-u", "cr:cr-secret") == "200"
            await acs.wait_session(2, timeout=TIMEOUT)
        assert await finish(acs, cpe) == 0
    run(main())


def test_basic_authentication_of_connection_requests_is_an_option(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path)
        await cpe.start()
        await acs.wait_session(1, timeout=TIMEOUT)
        url = cpe.value("Device.ManagementServer.ConnectionRequestURL")
        assert await curl_status(url, "--basic", "-u", "cr:cr-secret") == "401"
        assert await finish(acs, cpe) == 0
        cpe.configure({("cpe", "authentication"): "Basic"})
        await acs.start()
        await cpe.start(boot=False)
        await logged_again(cpe, "icwmpd started", 2)
        assert await curl_status(url, "--basic", "-u", "cr:cr-secret") == "200"
        s = await acs.wait_session(2, timeout=TIMEOUT)
        assert ("6 CONNECTION REQUEST", "") in s.events
        assert await curl_status(url, "--digest", "-u", "cr:cr-secret") == "200"
        assert "unknown option" not in cpe.log_text()
        assert await finish(acs, cpe) == 0
    run(main())


FIREWALL = """config defaults
\toption input 'REJECT'

config zone
\toption name 'wide'
\tlist network 'wan'
\tlist network 'wan6'
\toption input 'REJECT'
"""


def test_the_connection_request_port_is_opened_in_the_firewall(tmp_path):
    """A rule in the UCI firewall package, in the zone of default_wan_interface, that
    follows the port; none without the firewall package, none when turned off."""
    async def main():
        acs, cpe = await sandbox(tmp_path)
        (cpe.confdir / "firewall").write_text(FIREWALL)
        await cpe.start()
        await acs.wait_session(1, timeout=TIMEOUT)
        port = Uci(str(cpe.confdir)).get("cwmp", "cpe", "port")
        rule = Uci(str(cpe.confdir)).options("firewall", "icwmp_cr")
        assert rule == {"name": "Open_ACS_port", "src": "wide", "proto": "tcp udp",
                        "src_ip": "127.0.0.1", "dest_port": port, "target": "ACCEPT"}
        assert await finish(acs, cpe) == 0
        cpe.configure({("cpe", "port"): str(free_port())})
        await acs.start()
        await cpe.start(boot=False)
        await logged_again(cpe, "firewall: rule icwmp_cr accepts port", 2)
        uci = Uci(str(cpe.confdir))
        assert uci.get("firewall", "icwmp_cr", "dest_port") == uci.get("cwmp", "cpe", "port")
        assert [t for _, t in uci.sections("firewall")] == ["defaults", "zone", "rule"]
        assert await finish(acs, cpe) == 0
    run(main())


@pytest.mark.parametrize("incoming_rule", ["IP_Port", "IP_Only", "Port_Only"])
def test_the_firewall_rule_lets_in_the_address_the_session_reached(tmp_path, incoming_rule):
    """cwmp.cpe.incoming_rule as icwmp's: with an ACS URL naming a host, the rule that
    means only the ACS stays disabled until the first session has reached its address."""
    async def main():
        acs = A.Acs()
        await acs.start()
        cpe = Cpe(tmp_path, acs.url.replace("127.0.0.1", "localhost"),
                  {("cpe", "incoming_rule"): incoming_rule})
        (cpe.confdir / "firewall").write_text(FIREWALL)
        await cpe.start()
        await acs.wait_session(1, timeout=TIMEOUT)
        await logged_again(cpe, "from 127.0.0.1" if incoming_rule != "Port_Only"
                           else "firewall: rule icwmp_cr accepts port", 1)
        port = Uci(str(cpe.confdir)).get("cwmp", "cpe", "port")
        rule = Uci(str(cpe.confdir)).options("firewall", "icwmp_cr")
        assert await finish(acs, cpe) == 0
        expected = {"name": "Open_ACS_port", "src": "wide", "proto": "tcp udp",
                    "src_ip": "127.0.0.1", "dest_port": port, "target": "ACCEPT"}
        if incoming_rule == "IP_Only":
            del expected["dest_port"]
        if incoming_rule == "Port_Only":
            del expected["src_ip"]
        assert rule == expected
        disabled = "firewall: rule icwmp_cr is disabled until the ACS address is known"
        assert (disabled in cpe.log_text()) == (incoming_rule != "Port_Only")
    run(main())


@pytest.mark.parametrize("setting", [None, "0"])
def test_no_firewall_rule_without_the_package_or_when_turned_off(tmp_path, setting):
    async def main():
        acs, cpe = await sandbox(tmp_path, {("cpe", "firewall_rule"): setting} if setting else {})
        if setting:
            (cpe.confdir / "firewall").write_text(FIREWALL)
        await cpe.start()
        await acs.wait_session(1, timeout=TIMEOUT)
        assert await finish(acs, cpe) == 0
        assert (cpe.confdir / "firewall").read_text() == FIREWALL if setting \
            else not (cpe.confdir / "firewall").exists()
    run(main())


def test_a_listener_that_cannot_bind_ends_the_daemon_with_one_line(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path, {("cpe", "interface"): "nosuchdev0"})
        await cpe.start()
        assert await cpe.wait(TIMEOUT) == 1
        await acs.stop()
        text = cpe.log_text()
        assert "cannot listen for connection requests on port" in text
        assert "of interface nosuchdev0" in text and "Traceback" not in text
    run(main())


def test_a_failed_heartbeat_session_is_retried_with_the_back_off(tmp_path):
    async def main():
        when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=3)
        acs, cpe = await sandbox(tmp_path, {
            ("acs", "heartbeat_enable"): "1", ("acs", "heartbeat_interval"): "3600",
            ("acs", "heartbeat_time"): when.strftime("%Y-%m-%dT%H:%M:%SZ")})
        await cpe.start()
        await acs.wait_session(1, timeout=TIMEOUT)
        acs.fail_next_posts(1, status=500)   # the heartbeat's Inform
        s = await acs.wait_session(2, timeout=TIMEOUT)   # not an hour later
        assert s.events == [("14 HEARTBEAT", "")] and s.inform["RetryCount"] == "1"
        assert len(acs.rejected) == 1
        assert "session failed, retry 1 in" in cpe.log_text()
        assert await finish(acs, cpe) == 0
    run(main())


def test_a_cli_change_of_a_cwmp_option_reaches_the_running_daemon(tmp_path):
    """As with icwmp, `icwmpd -c set` applies at once: here within 2 s, seen on D-Bus."""
    import time

    from dbus_next.aio import MessageBus

    from dbus_fixture import DBusDaemon, available
    if not available():
        pytest.skip("dbus-daemon is not installed")

    async def next_session(bus):
        node = await bus.introspect("org.icwmpy.tr069", "/org/icwmpy/tr069")
        proxy = bus.get_proxy_object("org.icwmpy.tr069", "/org/icwmpy/tr069", node)
        return await proxy.get_interface("org.icwmpy.tr069").get_next_session()

    async def main():
        acs, cpe = await sandbox(tmp_path, {("acs", "periodic_inform_enable"): "1",
                                            ("acs", "periodic_inform_interval"): "3600"})
        with DBusDaemon() as dbus:
            await cpe.start("--bus", dbus.address)
            await acs.wait_session(1, timeout=TIMEOUT)
            bus = await MessageBus(bus_address=dbus.address).connect()
            assert await next_session(bus) > time.time() + 3000
            cli = await asyncio.create_subprocess_exec(
                *cpe.argv("-c", "set", "Device.ManagementServer.PeriodicInformInterval", "30"))
            assert await cli.wait() == 0
            async with asyncio.timeout(2):
                while await next_session(bus) > time.time() + 31:
                    await asyncio.sleep(0.05)
            bus.disconnect()
            assert await finish(acs, cpe) == 0
    run(main())


@pytest.mark.parametrize("option,expected", [("1", [True, True]), ("0", [False, False])])
def test_acs_get_rpc_methods_sends_get_rpc_methods_in_every_session(tmp_path, option, expected):
    async def main():
        acs, cpe = await sandbox(tmp_path, {("acs", "get_rpc_methods"): option})
        await cpe.start()
        await acs.wait_session(1, timeout=TIMEOUT)
        url = cpe.value("Device.ManagementServer.ConnectionRequestURL")
        await (await asyncio.create_subprocess_exec(
            "curl", "-s", "-o", "/dev/null", "--digest", "-u", "cr:cr-secret", url)).wait()
        await acs.wait_session(2, timeout=TIMEOUT)
        assert await finish(acs, cpe) == 0
        assert ["GetRPCMethods" in s.methods for s in acs.sessions[:2]] == expected
    run(main())


def test_forced_inform_json_takes_parameters_and_custom_notify_json_sets_attributes(tmp_path):
    """As icwmp: forced_inform_json names parameters only (an object path or an unknown name
    is warned about once, at load, and left out); custom_notify_json's notification
    attributes are set at start, once per version of the file."""
    import json

    forced = tmp_path / "forced.json"
    forced.write_text(json.dumps({"forced_inform": [
        "Device.DeviceInfo.UpTime", "Device.DeviceInfo.", "Device.Nope.X"]}))
    custom = tmp_path / "notify.json"
    custom.write_text(json.dumps({"custom_notification": [
        {"parameter": "Device.DeviceInfo.ModelName", "notify_type": "1"},
        {"parameter": "Device.Nope.Y", "notify_type": "2"},
        {"parameter": "Device.DeviceInfo.Description", "notify_type": "9"}]}))

    async def main():
        acs, cpe = await sandbox(tmp_path, {("cpe", "forced_inform_json"): str(forced),
                                            ("cpe", "custom_notify_json"): str(custom)})
        await cpe.start()
        first = await acs.wait_session(1, timeout=TIMEOUT)
        url = cpe.value("Device.ManagementServer.ConnectionRequestURL")
        await (await asyncio.create_subprocess_exec(
            "curl", "-s", "-o", "/dev/null", "--digest", "-u", "cr:cr-secret", url)).wait()
        second = await acs.wait_session(2, timeout=TIMEOUT)
        for s in (first, second):
            assert "Device.DeviceInfo.UpTime" in s.parameters
            assert "Device.DeviceInfo.MemoryStatus.Total" not in s.parameters
        assert await finish(acs, cpe) == 0
        text = cpe.log_text()
        for bad in ("'Device.DeviceInfo.' ignored", "Device.Nope.X ignored",
                    "custom_notification Device.Nope.Y ignored", "'notify_type': '9'"):
            assert text.count(bad) == 1, bad
        assert cpe.cli("get_notif", "Device.DeviceInfo.ModelName").stdout.endswith("passive\n")
        cpe.cli("set_notif", "Device.DeviceInfo.ModelName", "0")   # as an ACS would
        await cpe.start()
        await asyncio.sleep(1)
        assert await cpe.stop() == 0
        assert cpe.cli("get_notif", "Device.DeviceInfo.ModelName").stdout.endswith("off\n")
    run(main())


def test_a_sighup_while_starting_is_a_reload_not_an_end(tmp_path):
    """The CLI signals the pid lock's holder as soon as it holds it: that early SIGHUP
    must not end the daemon (its default action), and the change it announces applies."""
    from icwmpy.cli import daemon_pid

    async def main():
        acs, cpe = await sandbox(tmp_path)
        await cpe.start()
        async with asyncio.timeout(TIMEOUT):
            while daemon_pid(str(cpe.rundir)) is None:
                await asyncio.sleep(0.005)
        cpe.configure({("acs", "periodic_inform_enable"): "1",
                       ("acs", "periodic_inform_interval"): "1"})
        cpe.proc.send_signal(signal.SIGHUP)
        await acs.wait_session(1, timeout=TIMEOUT)
        s = await acs.wait_session(2, timeout=TIMEOUT)
        assert ("2 PERIODIC", "") in s.events
        assert await finish(acs, cpe) == 0
    run(main())


def test_a_huge_acs_request_gets_9004_at_once_and_the_session_goes_on(tmp_path):
    """10 MB and 100 MB bodies are refused at the cap, not read to the end; the next POST
    goes on a new connection (the aborted one is dead) with the session cookie and Digest."""
    async def main():
        acs, cpe = await sandbox(tmp_path, {("acs", "userid"): "acs", ("acs", "passwd"): "pw"},
                                 auth="digest", username="acs", password="pw")
        mb = 1024 * 1024
        acs.queue(A.Padded(A.get_parameter_values("Device.DeviceInfo.SerialNumber"), 10 * mb),
                  A.Padded(A.get_rpc_methods(), 100 * mb),
                  A.get_parameter_values("Device.DeviceInfo.SerialNumber"))
        await cpe.start()
        await acs.wait_message("Inform", timeout=TIMEOUT)
        s = await acs.wait_session(1, timeout=4)
        assert s.methods == ["Inform", "Fault", "Fault", "GetParameterValuesResponse"]
        for fault in s.messages[1:3]:
            assert b"<FaultCode>9004</FaultCode>" in fault.raw
        assert "Device.DeviceInfo.SerialNumber" in as_dict(s.messages[3].parsed["ParameterList"])
        assert len(s.connections) == 3
        assert await finish(acs, cpe) == 0
        assert "session end: success (3 ACS requests)" in cpe.log_text()
    run(main())


def memory_kib(pid, field):
    """VmRSS (now) or VmHWM (the peak) of a process, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def test_400_times_device_is_answered_once_without_the_memory_of_400(tmp_path):
    """A 10 KB GetParameterValues of 400 x Device. once built a 45 MB answer and grew the
    daemon by 200 MB: the name is walked once now, the answer is that of one Device."""
    async def main():
        acs, cpe = await sandbox(tmp_path)
        await cpe.start()
        await acs.wait_session(1, timeout=TIMEOUT)
        before = memory_kib(cpe.proc.pid, "VmRSS")
        acs.queue(A.get_parameter_values(*["Device."] * 400))
        url = cpe.value("Device.ManagementServer.ConnectionRequestURL")
        assert await curl_status(url, "--digest", "-u", "cr:cr-secret") == "200"
        s = await acs.wait_session(2, timeout=TIMEOUT)
        peak = memory_kib(cpe.proc.pid, "VmHWM")
        assert s.methods == ["Inform", "GetParameterValuesResponse"]
        names = [p["Name"] for p in s.messages[1].parsed["ParameterList"]]
        assert "Device.DeviceInfo.SerialNumber" in names and len(names) == len(set(names))
        assert peak - before < 30 * 1024, f"grew by {(peak - before) // 1024} MiB"
        assert await finish(acs, cpe) == 0
    run(main())


def test_cpe_max_response_parameters_caps_an_answer_with_9004(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path, {("cpe", "max_response_parameters"): "5"})
        acs.queue(A.get_parameter_values("Device."),
                  A.get_parameter_values("Device.DeviceInfo.SerialNumber"))
        await cpe.start()
        s = await acs.wait_session(1, timeout=TIMEOUT)
        assert s.methods == ["Inform", "Fault", "GetParameterValuesResponse"]
        assert b"<FaultCode>9004</FaultCode>" in s.messages[1].raw
        assert await finish(acs, cpe) == 0
    run(main())


def _memory_mb(pid):
    """(VmRSS, VmHWM) of a process in MB: now and at its peak."""
    fields = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
    return tuple(int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM"))


def test_huge_acs_messages_are_refused_in_bounded_memory_and_it_is_given_back(tmp_path):
    """100000-deep nesting, a 3 MB GPV of invalid names and a 40000-parameter SPV (all
    under the 4 MiB body cap): the deep and the large tree are 9004 before a tree is built,
    the peak stays tens of MB below what the trees cost (+75 MB), and the idle daemon gives
    the heap back (malloc_trim)."""
    deep = A.envelope("GetRPCMethods", "<a>" * 100_000 + "</a>" * 100_000)
    gpv = A.get_parameter_values(*(f"Device.Nope.Invalid{n}.Name" for n in range(70_000)))
    items = "".join(f"<ParameterValueStruct><Name>Device.X{n}</Name><Value>1</Value>"
                    "</ParameterValueStruct>" for n in range(40_000))
    spv = A.envelope("SetParameterValues",
                     f'<ParameterList soap-enc:arrayType="cwmp:ParameterValueStruct[40000]">'
                     f"{items}</ParameterList><ParameterKey>k</ParameterKey>")
    assert all(len(m) < 4 * 1024 * 1024 for m in (deep, gpv, spv)) and len(gpv) > 3_000_000

    async def main():
        acs, cpe = await sandbox(tmp_path)
        await cpe.start()
        await acs.wait_session(1, timeout=TIMEOUT)
        await asyncio.sleep(1)
        start, _ = _memory_mb(cpe.proc.pid)
        acs.queue(deep, gpv, spv)
        url = cpe.value("Device.ManagementServer.ConnectionRequestURL")
        await (await asyncio.create_subprocess_exec(
            "curl", "-s", "--digest", "-u", "cr:cr-secret", url)).wait()
        s = await acs.wait_session(2, timeout=TIMEOUT)
        await asyncio.sleep(2)
        idle, peak = _memory_mb(cpe.proc.pid)
        assert peak < start + 40, (start, peak)
        assert idle < start + 8, (start, idle)
        assert s.methods == ["Inform", "Fault", "Fault", "Fault"]
        codes = [m.raw.split(b"<FaultCode>")[1][:4] for m in s.messages[1:]]
        assert codes == [b"9004", b"9005", b"9004"]
        assert await finish(acs, cpe) == 0
    run(main())
