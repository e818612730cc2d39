"""Software modules and autonomous transfers, end to end: the real daemon (directory
backend) against the test ACS, DU packages (real tar.gz) served by a real HTTP server on
127.0.0.1, the D-Bus API on a private dbus-daemon.

Policy under test (icwmpy/transfer/software.py): one version of a DU per execution
environment, downgrades refused (9030).
"""

import asyncio
import io
import json
import tarfile

import pytest

import acs as A
from acs import HttpServer, Response
from cpe import Cpe
from dbus_fixture import DBusDaemon, available
from icwmpy.transfer.software import compare_versions

TIMEOUT = 15
UUID_A = "6f1d6a2c-0f4e-5b1a-9c3d-1a2b3c4d5e6f"
UUID_UNKNOWN = "00000000-0000-5000-8000-000000000000"
NS12 = "urn:dslforum-org:cwmp-1-2"
SOFTWARE = "Device.SoftwareModules."


def run(coro):
    return A.run(coro, timeout=60)


def package(name, version="", payload=b"hello"):
    """A directory-backend DU: manifest.json and one file, gzipped tar."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for member, data in (("manifest.json", json.dumps(
                {"name": name, "version": version, "vendor": "test"}).encode()),
                             ("bin/app", payload)):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


class Files:
    """GET /<name> of ``files``; ``hold`` names a file whose first GET never answers."""

    def __init__(self, **files):
        self.files = files
        self.hold = None
        self.held = asyncio.Event()

    async def __call__(self, request):
        name = request.target.rsplit("/", 1)[-1]
        if name == self.hold:
            self.hold = None
            self.held.set()
            await asyncio.sleep(60)
        return Response(200, self.files[name]) if name in self.files else Response(404)


def change_du_state(*operations, key="du"):
    """A ChangeDUState; ``operations``: (Install|Update|Uninstall, {field: value})."""
    items = "".join(f'<Operations xsi:type="cwmp:{kind}OpStruct">'
                    + "".join(f"<{n}>{v}</{n}>" for n, v in fields.items()) + "</Operations>"
                    for kind, fields in operations)
    return A.envelope("ChangeDUState", items + f"<CommandKey>{key}</CommandKey>", ns=NS12)


def listed(value):
    return value if isinstance(value, list) else [value]


def values(message):
    return {p["Name"]: p.get("Value", "") for p in listed(message.parsed["ParameterList"])}


class World:
    """File server, ACS and daemon (directory backend), started and stopped together."""

    def __init__(self, tmp_path, files, options=None):
        self.server = HttpServer(files if isinstance(files, Files) else Files(**files))
        self.acs = A.Acs()
        self.tmp_path = tmp_path
        self.options = {("cpe", "software_backend"): "directory", **(options or {})}
        self.cpe = None

    async def __aenter__(self):
        await self.server.start()
        await self.acs.start()
        self.cpe = Cpe(self.tmp_path, self.acs.url, self.options)
        return self

    async def __aexit__(self, *exc):
        await self.cpe.stop()
        await self.acs.stop()
        await self.server.stop()
        if exc[0] is not None:
            print(self.cpe.log_text())

    def url(self, name):
        return f"{self.server.url.rstrip('/')}/{name}"

    async def results(self, method="DUStateChangeComplete"):
        session, message = await self.acs.wait_message(method, timeout=TIMEOUT)
        return session, [r for r in listed(message.parsed["Results"])]


def fault_code(result):
    return int(result["Fault"]["FaultCode"])


def test_versions_compare_numerically():
    assert compare_versions("1.10", "1.9") == 1
    assert compare_versions("2.0", "2.0") == 0
    assert compare_versions("1.0-r2", "1.0-r10") == -1


def test_install_update_uninstall_and_their_faults(tmp_path):
    files = {"a1.tgz": package("app", "1.0"), "a09.tgz": package("app", "0.9"),
             "a2.tgz": package("app", "2.0", b"v2"), "noversion.tgz": package("app"),
             "same.tgz": package("app", "1.0")}

    async def main():
        async with World(tmp_path, files) as w:
            w.acs.queue(change_du_state(
                ("Install", {"URL": w.url("a1.tgz"), "UUID": UUID_A}),
                ("Install", {"URL": w.url("a1.tgz"), "UUID": UUID_A}),
                ("Install", {"URL": w.url("same.tgz")}),
                ("Uninstall", {"UUID": UUID_UNKNOWN}),
                ("Install", {"URL": w.url("missing.tgz")}), key="k1"))
            await w.cpe.start()
            await w.acs.wait_session(1, timeout=TIMEOUT)
            unpacked = w.cpe.statedir / "software" / UUID_A / "bin" / "app"
            seen = {}

            def updates(session):
                """k2, sent once the GPV was answered: DU 1 is still at version 1.0."""
                seen["v1"] = unpacked.read_bytes()
                return change_du_state(
                    ("Update", {"UUID": UUID_A, "URL": w.url("a09.tgz")}),
                    ("Update", {"UUID": UUID_A, "URL": w.url("noversion.tgz")}),
                    ("Update", {"UUID": UUID_A, "URL": w.url("same.tgz")}),
                    ("Update", {"UUID": UUID_A, "Version": "7.0", "URL": w.url("a2.tgz")}),
                    ("Update", {"UUID": UUID_A, "URL": w.url("a2.tgz")}), key="k2")
            w.acs.queue(A.get_parameter_values(SOFTWARE), updates)
            session, results = await w.results()
            assert ("11 DU STATE CHANGE COMPLETE", "") in session.events
            assert ("M ChangeDUState", "k1") in session.events
            installed, duplicate, same_name, unknown, missing = results
            assert fault_code(installed) == 0
            assert installed["UUID"] == UUID_A and installed["Version"] == "1.0"
            assert installed["CurrentState"] == "Installed" and installed["Resolved"] == "1"
            assert installed["DeploymentUnitRef"] == f"{SOFTWARE}DeploymentUnit.1"
            assert installed["ExecutionUnitRefList"] == f"{SOFTWARE}ExecutionUnit.1"
            assert [fault_code(r) for r in (duplicate, same_name, unknown, missing)] == \
                [9026, 9026, 9028, 9016]
            assert missing["CurrentState"] == "Failed"
            _, gpv = await w.acs.wait_message("GetParameterValuesResponse", timeout=TIMEOUT)
            got = values(gpv)
            du, eu = f"{SOFTWARE}DeploymentUnit.1.", f"{SOFTWARE}ExecutionUnit.1."
            assert got[du + "UUID"] == UUID_A and got[du + "Status"] == "Installed"
            assert got[du + "Version"] == "1.0" and got[du + "Name"] == "app"
            assert got[du + "ExecutionUnitList"] == eu.rstrip(".")
            assert got[du + "ExecutionEnvRef"] == f"{SOFTWARE}ExecEnv.1"
            assert got[eu + "Name"] == "app" and got[eu + "Status"] == "Idle"
            assert got[f"{SOFTWARE}DeploymentUnitNumberOfEntries"] == "1"
            assert got[f"{SOFTWARE}ExecEnv.1.Status"] == "Up"

            session, results = await w.results()
            assert ("M ChangeDUState", "k2") in session.events
            assert seen["v1"] == b"hello"
            assert [fault_code(r) for r in results] == [9030, 9031, 9032, 9028, 0]
            assert results[0]["CurrentState"] == "Installed" and results[0]["Version"] == "1.0"
            assert results[4]["Version"] == "2.0"
            await w.acs.wait_session(len(w.acs.sessions), timeout=TIMEOUT)
            assert unpacked.read_bytes() == b"v2"

            await w.cpe.stop()                # the next request rides on the next boot
            w.cpe.reboot()
            w.acs.queue(change_du_state(("Uninstall", {"UUID": UUID_A}), key="k3"))
            await w.cpe.start()
            _, [removed] = await w.results()
            assert fault_code(removed) == 0 and removed["CurrentState"] == "Uninstalled"
            assert not (w.cpe.statedir / "software" / UUID_A).exists()
            await w.acs.wait_session(len(w.acs.sessions), timeout=TIMEOUT)
            assert w.cpe.value(f"{SOFTWARE}DeploymentUnitNumberOfEntries") == "0"
    run(main())


def test_install_killed_mid_download_completes_exactly_once(tmp_path):
    files = Files(**{"a1.tgz": package("app", "1.0")})
    files.hold = "a1.tgz"

    async def main():
        async with World(tmp_path, files) as w:
            w.acs.queue(change_du_state(("Install", {"URL": w.url("a1.tgz")}), key="kill"))
            await w.cpe.start()
            await asyncio.wait_for(files.held.wait(), TIMEOUT)
            w.cpe.kill()
            await w.cpe.wait()
            await w.cpe.start(boot=False)
            session, [result] = await w.results()
            assert ("M ChangeDUState", "kill") in session.events
            assert fault_code(result) == 0 and result["CurrentState"] == "Installed"
            await w.acs.wait_session(len(w.acs.sessions), timeout=TIMEOUT)
            await w.cpe.stop()
            w.cpe.reboot()
            await w.cpe.start()               # a reboot: nothing left to announce
            await w.acs.wait_session(len(w.acs.sessions) + 1, timeout=TIMEOUT)
            methods = [m for s in w.acs.sessions for m in s.methods]
            assert methods.count("DUStateChangeComplete") == 1
            assert w.cpe.value(f"{SOFTWARE}DeploymentUnit.1.Status") == "Installed"
    run(main())


@pytest.mark.skipif(not available(), reason="dbus-daemon is not installed")
def test_autonomous_work_started_over_dbus(tmp_path):
    from dbus_next.aio import MessageBus

    from test_bus import NAME, PATH
    files = {"fw.bin": b"firmware" * 100, "b1.tgz": package("local", "1.0")}
    policy = "Device.ManagementServer.AutonomousTransferCompletePolicy.Enable"

    async def main():
        with DBusDaemon() as bus_daemon:
            options = {("cpe", "dbus_address"): bus_daemon.address,
                       ("transfer_complete", "enable"): "1",
                       ("du_state_change", "enable"): "1",
                       ("du_state_change", "operation_type"): "Install"}
            async with World(tmp_path, files, options) as w:
                await w.cpe.start()
                await w.acs.wait_session(1, timeout=TIMEOUT)
                bus = await MessageBus(bus_address=bus_daemon.address).connect()
                try:
                    for _ in range(100):
                        try:
                            node = await bus.introspect(NAME, PATH)
                            break
                        except Exception:
                            await asyncio.sleep(0.1)
                    tr069 = bus.get_proxy_object(NAME, PATH, node).get_interface(NAME)
                    await tr069.call_download(w.url("fw.bin"), "1 Firmware Upgrade Image", "")
                    session, message = await w.acs.wait_message("AutonomousTransferComplete",
                                                                timeout=TIMEOUT)
                    assert ("10 AUTONOMOUS TRANSFER COMPLETE", "") in session.events
                    done = message.parsed
                    assert done["TransferURL"] == w.url("fw.bin") and done["IsDownload"] == "1"
                    assert done["FileSize"] == "800" and done["FaultStruct"]["FaultCode"] == "0"

                    await tr069.call_change_du_state("Install", {"URL": w.url("b1.tgz")})
                    session, [result] = await w.results("AutonomousDUStateChangeComplete")
                    assert ("12 AUTONOMOUS DU STATE CHANGE COMPLETE", "") in session.events
                    assert result["OperationPerformed"] == "Install"
                    assert fault_code(result) == 0
                    await w.acs.wait_session(len(w.acs.sessions), timeout=TIMEOUT)

                    w.acs.queue(A.set_parameter_values([(policy, "0", "xsd:boolean")]))
                    await tr069.call_inform("", False)
                    await w.acs.wait_message("SetParameterValuesResponse", timeout=TIMEOUT)
                    await w.acs.wait_session(len(w.acs.sessions), timeout=TIMEOUT)
                    applied = w.cpe.statedir / "downloads" / "applied"
                    await tr069.call_download(w.url("fw.bin"), "1 Firmware Upgrade Image",
                                              "second.bin")
                    for _ in range(100):
                        if any(p.name.endswith("second.bin") for p in applied.iterdir()):
                            break
                        await asyncio.sleep(0.1)
                    else:
                        raise AssertionError("the autonomous download was never applied")
                    await tr069.call_request_download("1 Firmware Upgrade Image",
                                                      {"Version": "2.0"})
                    session, message = await w.acs.wait_message("RequestDownload",
                                                                timeout=TIMEOUT)
                    assert ("9 REQUEST DOWNLOAD", "") in session.events
                    assert message.parsed["FileType"] == "1 Firmware Upgrade Image"
                    assert message.parsed["FileTypeArg"] == [{"Name": "Version", "Value": "2.0"}]
                    await w.acs.wait_session(len(w.acs.sessions), timeout=TIMEOUT)
                    methods = [m for s in w.acs.sessions for m in s.methods]
                    assert methods.count("AutonomousTransferComplete") == 1
                    assert methods.count("RequestDownload") == 1
                finally:
                    bus.disconnect()
    run(main())
