"""Fleet mode: many simulated CPEs in one real icwmpd process against the test ACS."""

import asyncio
import signal

import acs as A
import testdata
from cpe import Cpe
from test_daemon import curl_status

TIMEOUT = 60


async def fleet(tmp_path, count, *extra, options=None, **acs_kw):
    acs = A.Acs(**acs_kw)
    await acs.start()
    cpe = Cpe(tmp_path, acs.url, {("cpe", "log_severity"): "INFO", **(options or {})})
    await cpe.start("--fleet", str(count), *extra)
    return acs, cpe


def by_serial(sessions):
    found = {}
    for session in sessions:
        found.setdefault(session.serial, []).append(session)
    return found


async def sessions_of(acs, serial, n, timeout=TIMEOUT):
    """Wait until CPE ``serial`` has had ``n`` finished sessions; return them."""
    async with asyncio.timeout(timeout):
        while len([s for s in acs.sessions if s.serial == serial and s.ended]) < n:
            await asyncio.sleep(0.05)
    return [s for s in acs.sessions if s.serial == serial]


def cr_url(session):
    """The ConnectionRequestURL the CPE informed, whatever its root."""
    return next(value for name, value in session.parameters.items()
                if name.endswith(".ManagementServer.ConnectionRequestURL"))


async def cr(session, *args):
    return await curl_status(cr_url(session), "--digest", "-u", "cr:cr-secret", *args)


def test_200_cpes_bootstrap_with_distinct_serials_and_urls(tmp_path):
    async def main():
        acs, cpe = await fleet(tmp_path, 200)
        await acs.wait_session(200, timeout=TIMEOUT)
        async with asyncio.timeout(TIMEOUT):
            while not all(s.ended for s in acs.sessions) or len(acs.sessions) < 200:
                await asyncio.sleep(0.05)
        serials = by_serial(acs.sessions)
        assert sorted(serials) == sorted(f"cpe-{n}" for n in range(1, 201))
        for serial, (session, *more) in serials.items():
            assert not more, f"{serial} informed twice"
            assert ("0 BOOTSTRAP", "") in session.events and ("1 BOOT", "") in session.events
            assert cr_url(session).endswith(f"/{serial}")
        assert (tmp_path / "state" / "cpe-200" / "events.json").exists()
        assert await cpe.stop() == 0
        await acs.stop()
    A.run(main(), timeout=120)


def test_a_connection_request_reaches_its_cpe_only_and_a_wrong_path_is_404(tmp_path):
    async def main():
        acs, cpe = await fleet(tmp_path, 10)
        for n in range(1, 11):
            await sessions_of(acs, f"cpe-{n}", 1)
        first = (await sessions_of(acs, "cpe-7", 1))[0]
        assert await cr(first) == "200"
        again = await sessions_of(acs, "cpe-7", 2)
        assert again[1].events == [("6 CONNECTION REQUEST", "")]
        assert await curl_status(cr_url(first).replace("cpe-7", "cpe-77"), "--digest", "-u",
                                 "cr:cr-secret") == "404"
        await asyncio.sleep(0.5)
        assert len(acs.sessions) == 11, "only cpe-7 informed again"
        assert await cpe.stop() == 0
        await acs.stop()
    A.run(main(), timeout=120)


def test_reboot_of_one_cpe_restarts_that_cpe_only(tmp_path):
    async def main():
        acs, cpe = await fleet(tmp_path, 5)
        firsts = {n: (await sessions_of(acs, f"cpe-{n}", 1))[0] for n in range(1, 6)}
        acs.queue_for("cpe-3", A.reboot("reboot-3"))
        assert await cr(firsts[3]) == "200"
        after = await sessions_of(acs, "cpe-3", 3)
        assert after[1].methods[:2] == ["Inform", "RebootResponse"]
        assert ("1 BOOT", "") in after[2].events and ("M Reboot", "reboot-3") in after[2].events
        assert cpe.proc.returncode is None, "the process keeps running"
        assert await cr(firsts[4]) == "200"   # the others still serve
        assert (await sessions_of(acs, "cpe-4", 2))[1].events == [("6 CONNECTION REQUEST", "")]
        for n in (1, 2, 5):
            assert len([s for s in acs.sessions if s.serial == f"cpe-{n}"]) == 1
        assert "cpe-3: reboot: running exit" in cpe.log_text()
        assert await cpe.stop() == 0
        await acs.stop()
    A.run(main(), timeout=120)


@testdata.needs("captures")
def test_a_tr098_profile_informs_with_internet_gateway_device_parameters(tmp_path):
    profile = testdata.path("captures", "genieacs-sim",
                            "data_model_202BC1-BM632w-8KA8WA1151100043.csv")

    async def main():
        acs, cpe = await fleet(tmp_path, 2, "--profile", str(profile))
        session = (await sessions_of(acs, "cpe-2", 1))[0]
        device = session.inform["DeviceId"]
        assert (device["OUI"], device["ProductClass"]) == ("202BC1", "BM632w")
        names = session.parameters
        assert all(name.startswith("InternetGatewayDevice.") for name in names)
        url = names["InternetGatewayDevice.ManagementServer.ConnectionRequestURL"]
        assert url.endswith("/cpe-2")
        acs.queue_for("cpe-2", A.get_parameter_values("InternetGatewayDevice.DeviceInfo."))
        assert await cr(session) == "200"
        answer = (await sessions_of(acs, "cpe-2", 2))[1].messages[1].parsed
        values = {p["Name"]: p["Value"] for p in answer["ParameterList"]}
        assert values["InternetGatewayDevice.DeviceInfo.SerialNumber"] == "cpe-2"
        assert await cpe.stop() == 0
        await acs.stop()
    A.run(main(), timeout=120)


def test_kill_9_and_restart_each_cpe_keeps_its_events_and_instance_numbers(tmp_path):
    table = "Device.NAT.PortMapping."

    async def main():
        acs, cpe = await fleet(tmp_path, 3)
        firsts = {n: (await sessions_of(acs, f"cpe-{n}", 1))[0] for n in (1, 2, 3)}
        acs.queue_for("cpe-1", A.add_object(table), A.add_object(table))
        acs.queue_for("cpe-2", A.add_object(table), A.schedule_inform(30, "later-2"))
        for n in (1, 2):
            assert await cr(firsts[n]) == "200"
            await sessions_of(acs, f"cpe-{n}", 2)
        cpe.kill()
        await cpe.wait()
        assert cpe.proc.returncode == -signal.SIGKILL
        acs.queue_for("cpe-1", A.add_object(table))
        acs.queue_for("cpe-2", A.add_object(table))
        await cpe.start("--fleet", "3", boot=False)
        for n in (1, 2):
            async with asyncio.timeout(TIMEOUT):
                while await cr(firsts[n]) != "200":   # until the listener is back
                    await asyncio.sleep(0.1)
        again = {n: await sessions_of(acs, f"cpe-{n}", 3) for n in (1, 2)}
        numbers = {n: [m.parsed.get("InstanceNumber") for s in again[n] for m in s.messages
                       if m.method == "AddObjectResponse"] for n in (1, 2)}
        assert numbers == {1: ["2", "3", "4"], 2: ["2", "3"]}   # the profile has .1
        # cpe-2's ScheduleInform survived the kill in its own state; cpe-1 has none
        assert ("M ScheduleInform", "later-2") not in again[1][2].events
        assert (tmp_path / "state" / "cpe-2" / "agent.json").read_text().count("later-2") == 1
        assert await cpe.stop() == 0
        await acs.stop()
    A.run(main(), timeout=120)
