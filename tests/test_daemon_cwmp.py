"""The CWMP options of cwmp.cpe/acs as the real icwmpd shows them on the wire to the test ACS:
session timeout, amendment, instance mode, request compression."""

import asyncio

import pytest

import acs as A
from cpe import Cpe

TIMEOUT = 20


async def sandbox(tmp_path, options, **acs_kw):
    acs = A.Acs(**acs_kw)
    await acs.start()
    return acs, Cpe(tmp_path, acs.url, options)


async def logged(cpe, text, timeout=5):
    """Wait until the daemon's log has ``text`` (it logs after the ACS saw its last POST)."""
    async with asyncio.timeout(timeout):
        while text not in cpe.log_text():
            await asyncio.sleep(0.05)


async def finish(acs, cpe):
    code = await cpe.stop()
    await acs.stop()
    return code


@pytest.mark.parametrize("amd, announced", [("5", True), ("3", False)])
def test_session_timeout_is_announced_and_is_not_the_http_timeout(tmp_path, amd, announced):
    async def main():
        acs, cpe = await sandbox(tmp_path, {("cpe", "amd_version"): amd,
                                            ("cpe", "session_timeout"): "1"})
        acs.stall_next(2)  # the InformResponse comes later than the session timeout
        await cpe.start()
        s = await acs.wait_session(1, timeout=TIMEOUT)
        header = b'<cwmp:SessionTimeout SOAP-ENV:mustUnderstand="0">1</cwmp:SessionTimeout>'
        assert (header in s.messages[0].raw) == announced
        await logged(cpe, "session end: success")
        assert await finish(acs, cpe) == 0
    A.run(main(), timeout=60)


def test_instance_alias_mode_and_late_rpcs(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path, {("cpe", "instance_mode"): "InstanceAlias",
                                            ("cpe", "amd_version"): "4"})
        table = "Device.ManagementServer.InformParameter."
        acs.queue(A.add_object(table + "[extra]."),
                  A.set_parameter_values([(table + "[extra].Enable", "1"),
                                          (table + "[extra].ParameterName", table + "1.Enable")]),
                  A.get_parameter_names(table, True), A.get_rpc_methods(),
                  A.schedule_inform(1, "again"))
        await cpe.start()
        s = await acs.wait_session(1, timeout=TIMEOUT)
        assert s.messages[1].parsed["InstanceNumber"] == "1"
        assert s.messages[2].method == "SetParameterValuesResponse"
        assert [p["Name"] for p in s.messages[3].parsed["ParameterList"]] == [table + "[extra]."]
        assert "ChangeDUState" in s.messages[4].parsed["MethodList"]
        s = await acs.wait_session(2, timeout=TIMEOUT)
        assert s.parameters[table + "[extra].Enable"] == "1"  # the Inform names it so too
        assert await cpe.stop() == 0
        cpe.configure({("cpe", "amd_version"): "2"})
        cpe.reboot()
        acs.queue(A.get_rpc_methods(), A.add_object("Device.ManagementServer.InformParameter.[x]."))
        await cpe.start()
        s = await acs.wait_session(3, timeout=TIMEOUT)
        methods = s.messages[1].parsed["MethodList"]
        assert "GetAllQueuedTransfers" in methods and "ChangeDUState" not in methods
        assert s.messages[2].method == "Fault"  # no alias addressing before Amendment 4
        assert await finish(acs, cpe) == 0
    A.run(main(), timeout=60)


def test_compressed_requests_fall_back_once_for_an_acs_that_refuses_them(tmp_path):
    async def main():
        acs, cpe = await sandbox(tmp_path, {("acs", "compression"): "GZIP"},
                                 decode_requests=False)
        acs.queue(A.schedule_inform(1, "again"))
        await cpe.start()
        await acs.wait_session(2, timeout=TIMEOUT)
        assert [status for status, _, _ in acs.rejected] == [415]
        refused, resent, *later = acs.requests
        assert refused.headers["content-encoding"] == "gzip"
        assert all("content-encoding" not in r.headers for r in [resent, *later])
        assert await finish(acs, cpe) == 0
    A.run(main(), timeout=60)


def test_with_dhcp_discovery_retries_follow_the_dhcp_retry_policy(tmp_path):
    """Option 43 gave the ACS URL and its retry policy (1 s): the retry comes within
    seconds, not after the configured 60 s minimum."""
    async def main():
        acs = A.Acs()
        await acs.start()
        cpe = Cpe(tmp_path, "http://127.0.0.1:9/unused", {
            ("acs", "dhcp_discovery"): "1", ("acs", "dhcp_url"): acs.url,
            ("acs", "retry_min_wait_interval"): "60", ("acs", "dhcp_retry_min_wait_interval"): "1",
            ("acs", "dhcp_retry_interval_multiplier"): "1000"})
        acs.fail_next_posts(1)
        await cpe.start()
        s = await acs.wait_session(1, timeout=TIMEOUT)
        assert ("0 BOOTSTRAP", "") in s.events
        assert [status for status, _, _ in acs.rejected] == [500]
        assert await finish(acs, cpe) == 0
    A.run(main(), timeout=60)
