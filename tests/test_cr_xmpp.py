"""XMPP connection requests (TR-069 Annex K) against a real XMPP server.

The decisions (allowed JIDs, credentials, back-off) and the Device.XMPP tables are checked
alone; then prosody, started here on 127.0.0.1 with TLS offered by a throw-away CA, carries
connection requests from an ACS-side slixmpp client to the real icwmpd process, whose
sessions land at the test ACS.
"""

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

import acs as A
from certs import make_pki
from cpe import Cpe, free_port
from icwmpy.config.uci import Uci
from icwmpy.cr.xmpp import NS, jid_allowed, refusal, retry_wait
from icwmpy.model import DataModel
from icwmpy.store import Store

DATAMODEL = os.path.join(os.path.dirname(__file__), "..", "datamodel")
DOMAIN = "localhost"  # the name the test CA's server certificate carries
CPE_JID = f"cpe@{DOMAIN}/icwmp"
ACS_JID = f"acs@{DOMAIN}/tr069"
TIMEOUT = 15


# ---------------------------------------------------------------- decisions

def test_allowed_jids_follow_tr181():
    # the example of ManagementServer.ConnReqAllowedJabberIDs in TR-181
    allowed = ["ACS1@tr069.example.com", " ACS2@tr069.example.com/resource1"]
    for sender in ("ACS1@tr069.example.com/resource1", "ACS1@tr069.example.com/resource2",
                   "ACS2@tr069.example.com/resource1", "acs1@TR069.example.com/x"):
        assert jid_allowed(sender, allowed), sender
    for sender in ("ACS2@tr069.example.com/resource2", "ACS@tr069.example.com/resource"):
        assert not jid_allowed(sender, allowed), sender
    assert jid_allowed("anyone@anywhere/r", [])


def test_refusal_conditions():
    ok = ("cr", "pw")
    assert refusal("acs@x/r", "cr", "pw", ["acs@x"], ok) is None
    assert refusal("evil@x/r", "cr", "pw", ["acs@x"], ok) == "service-unavailable"
    assert refusal("acs@x/r", "cr", "nope", ["acs@x"], ok) == "not-authorized"
    assert refusal("acs@x/r", "", "", [], ("", "")) == "not-authorized"  # fail closed


def test_retry_wait_grows_and_is_capped():
    for _ in range(50):
        assert 0 <= retry_wait(1, 60, 2000, 30720) <= 60
        assert 0 <= retry_wait(3, 60, 2000, 30720) <= 240
        assert 0 <= retry_wait(20, 60, 2000, 30720) <= 30720


def test_connection_and_server_tables_live_in_the_xmpp_package(tmp_path):
    model = DataModel.from_dir(DATAMODEL, Uci(str(tmp_path / "config")),
                               Store(str(tmp_path / "state")))
    for _ in range(2):
        model.add_object("Device.XMPP.Connection.")
    model.add_object("Device.XMPP.Connection.1.Server.")
    model.add_object("Device.XMPP.Connection.2.Server.")
    model.set_values([("Device.XMPP.Connection.1.Server.1.ServerAddress", "one", None),
                      ("Device.XMPP.Connection.2.Server.1.ServerAddress", "two", None),
                      ("Device.XMPP.Connection.1.Password", "secret", None)])
    values = {n: v for n, v, _ in model.get_values("Device.XMPP.")}
    assert values["Device.XMPP.Connection.1.ServerNumberOfEntries"] == "1"
    assert values["Device.XMPP.Connection.2.Server.1.ServerAddress"] == "two"
    assert values["Device.XMPP.Connection.1.Password"] == ""  # secret
    assert values["Device.XMPP.Connection.1.Status"] == "Disabled"
    assert values["Device.XMPP.Connection.1.Server.1.Port"] == "5222"
    assert Uci(str(tmp_path / "config")).get("xmpp", "xmpp_connection_1", "password") == "secret"
    model.delete_object("Device.XMPP.Connection.1.")
    uci = Uci(str(tmp_path / "config"))
    assert [n for n, _ in uci.sections("xmpp", "xmpp_server")] == ["xmpp_server_2"]


# ---------------------------------------------------------------- a real XMPP server

class Prosody:
    """prosody in the foreground with its own config, data and pid file under ``root``;
    it offers STARTTLS with the test CA's certificate when ``tls``."""

    def __init__(self, root, pki, tls=True):
        self.root = root
        self.port = free_port()
        self.config = root / "prosody.cfg.lua"
        self.proc = None
        self.config.write_text(f"""
pidfile = "{root}/prosody.pid"
data_path = "{root}/data"
certificates = "{root}"
run_as_root = true
log = {{ debug = "{root}/prosody.log" }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {self.port} }}
c2s_require_encryption = false
authentication = "internal_hashed"
modules_enabled = {{ "roster"; "saslauth"; "tls"; "ping"; "posix" }}
modules_disabled = {{ "s2s" }}
VirtualHost "{DOMAIN}"
""" + (f'  ssl = {{ certificate = "{pki.server_cert}"; key = "{pki.server_key}" }}\n' if tls else
       '  modules_disabled = { "tls" }\n'))
        (root / "data").mkdir()
        for user, password in (("cpe", "cpe-secret"), ("acs", "acs-secret")):
            subprocess.run(["prosodyctl", "--config", str(self.config), "register", user, DOMAIN,
                            password], check=True, capture_output=True, timeout=20)

    def start(self):
        self.proc = subprocess.Popen(["prosody", "--config", str(self.config), "-F"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            assert self.proc.poll() is None, (self.root / "prosody.log").read_text()
            time.sleep(0.05)
        raise TimeoutError("prosody did not listen")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def running_prosody(tmp_path, pki, tls):
    if not shutil.which("prosody"):
        pytest.skip("prosody is not installed (Debian package 'prosody')")
    pytest.importorskip("slixmpp")
    (tmp_path / "prosody").mkdir()
    server = Prosody(tmp_path / "prosody", pki, tls)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def prosody(tmp_path, pki):
    yield from running_prosody(tmp_path, pki, tls=True)


@pytest.fixture
def plain_prosody(tmp_path, pki):
    yield from running_prosody(tmp_path, pki, tls=False)


def xmpp_cpe(root, acs, server_port, pki, allowed="acs@localhost/tr069", **connection):
    """A sandboxed CPE whose XMPP connection 1 (ServerTable: the test server) serves
    connection requests; ``connection``: more options of its UCI section."""
    cpe = Cpe(root, acs.url, {("xmpp", "connection"): "Device.XMPP.Connection.1",
                              ("xmpp", "allowed_jid"): allowed,
                              ("acs", "ssl_capath"): pki.ca_dir or ""})
    uci = Uci(str(cpe.confdir))
    uci.set_section("xmpp", "xmpp_connection_1", "xmpp_connection")
    for option, value in {"enable": "1", "username": "cpe", "password": "cpe-secret",
                          "domain": DOMAIN, "resource": "icwmp",
                          "server_connect_algorithm": "ServerTable",
                          "server_retry_initial_interval": "1", **connection}.items():
        uci.set("xmpp", "xmpp_connection_1", option, value)
    uci.set_section("xmpp", "xmpp_server_1", "xmpp_server")
    for option, value in {"connection": "xmpp_connection_1", "enable": "1",
                          "server_address": "127.0.0.1", "port": str(server_port)}.items():
        uci.set("xmpp", "xmpp_server_1", option, value)
    uci.commit("xmpp")
    return cpe


async def acs_client(jid, server, pki):
    """An ACS-side XMPP client with a bound session."""
    import slixmpp
    client = slixmpp.ClientXMPP(jid, "acs-secret")
    client.enable_direct_tls = False
    client.ca_certs = pki.ca_file
    up = asyncio.get_running_loop().create_future()
    client.add_event_handler("session_start", lambda _: up.done() or up.set_result(True))
    client.connect("127.0.0.1", server.port)
    await asyncio.wait_for(up, TIMEOUT)
    return client


async def connection_request(client, to, username="cr", password="cr-secret"):
    """Send the Annex K IQ; None for a result, the error condition for an error."""
    from slixmpp.exceptions import IqError
    iq = client.make_iq_get(ito=to)
    request = ET.Element(f"{{{NS}}}connectionRequest")
    ET.SubElement(request, f"{{{NS}}}username").text = username
    ET.SubElement(request, f"{{{NS}}}password").text = password
    iq.append(request)
    try:
        await iq.send(timeout=TIMEOUT)
    except IqError as e:
        return e.iq["error"]["condition"]
    return None


async def wait_value(cpe, name, wanted, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while (value := await asyncio.to_thread(cpe.value, name)) != wanted:
        assert time.monotonic() < deadline, f"{name} is {value!r}, not {wanted!r}"
        await asyncio.sleep(0.2)


async def wait_cr_sessions(acs, n, timeout=TIMEOUT):
    """Wait until ``n`` finished sessions carried 6 CONNECTION REQUEST (possibly coalesced
    with the VALUE CHANGE that announces ConnReqJabberID)."""
    deadline = time.monotonic() + timeout
    while len(cr_sessions(acs)) < n:
        assert time.monotonic() < deadline, f"sessions: {[s.events for s in acs.sessions]}"
        await asyncio.sleep(0.1)


def cr_sessions(acs):
    return [s for s in acs.sessions if s.ended and ("6 CONNECTION REQUEST", "") in s.events]


def test_connection_requests_over_xmpp(tmp_path, prosody, pki):
    async def main():
        acs = A.Acs()
        await acs.start()
        cpe = xmpp_cpe(tmp_path / "cpe", acs, prosody.port, pki)
        await cpe.start()
        clients = []
        try:
            await acs.wait_session(1, timeout=TIMEOUT)
            await wait_value(cpe, "Device.ManagementServer.ConnReqJabberID", CPE_JID)
            assert cpe.value("Device.XMPP.Connection.1.Status") == "Enabled"
            assert cpe.value("Device.XMPP.Connection.1.JabberID") == CPE_JID
            assert cpe.value("Device.XMPP.Connection.1.TLSEstablished") == "1"
            acs_xmpp = await acs_client(ACS_JID, prosody, pki)
            rogue = await acs_client(f"acs@{DOMAIN}/rogue", prosody, pki)
            clients += [acs_xmpp, rogue]
            assert await connection_request(rogue, CPE_JID) == "service-unavailable"
            assert await connection_request(acs_xmpp, CPE_JID, password="wrong") == "not-authorized"
            await asyncio.sleep(1.5)
            assert cr_sessions(acs) == []
            assert await connection_request(acs_xmpp, CPE_JID) is None
            await wait_cr_sessions(acs, 1)

            # the server goes away and comes back: the CPE reconnects on its own
            prosody.stop()
            prosody.start()
            await wait_value(cpe, "Device.XMPP.Connection.1.Status", "Enabled")
            acs_xmpp = await acs_client(ACS_JID, prosody, pki)
            clients.append(acs_xmpp)
            # ... and follows the ACS: in that session it disables the connection
            acs.queue(A.set_parameter_values([("Device.XMPP.Connection.1.Enable", "false")], "k"))
            assert await connection_request(acs_xmpp, CPE_JID) is None
            await wait_cr_sessions(acs, 2)
            await wait_value(cpe, "Device.XMPP.Connection.1.Status", "Disabled")
            assert cpe.value("Device.ManagementServer.ConnReqJabberID") == ""
            assert await connection_request(acs_xmpp, CPE_JID) == "service-unavailable"
        finally:
            for client in clients:
                client.disconnect(wait=0)
            assert await cpe.stop() == 0
            await acs.stop()
        assert "cr-secret" not in cpe.log_text() and "cpe-secret" not in cpe.log_text()
    A.run(main(), timeout=60)


def test_without_slixmpp_the_daemon_runs_on_and_says_why(tmp_path, pki, monkeypatch):
    shadow = tmp_path / "shadow" / "slixmpp"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    monkeypatch.setenv("PYTHONPATH", str(shadow.parent))

    async def main():
        acs = A.Acs()
        await acs.start()
        cpe = xmpp_cpe(tmp_path / "cpe", acs, free_port(), pki)
        await cpe.start()
        try:
            await acs.wait_session(1, timeout=TIMEOUT)
            await wait_value(cpe, "Device.XMPP.Connection.1.Status", "Error")
        finally:
            assert await cpe.stop() == 0
            await acs.stop()
        assert "'slixmpp'" in cpe.log_text()
    A.run(main(), timeout=40)


def test_use_tls_decides_whether_to_authenticate_in_clear(tmp_path, plain_prosody, pki):
    async def main():
        acs = A.Acs()
        await acs.start()
        cpe = xmpp_cpe(tmp_path / "cpe", acs, plain_prosody.port, pki, use_tls="1")
        await cpe.start()
        try:
            await wait_value(cpe, "Device.XMPP.Connection.1.Status", "Error_Misconfigured")
            assert cpe.value("Device.ManagementServer.ConnReqJabberID") == ""
            # without UseTLS, SCRAM may authenticate over the unencrypted stream
            acs.queue(A.set_parameter_values([("Device.XMPP.Connection.1.UseTLS", "0")], "k"))
            curl = await asyncio.create_subprocess_exec(
                "curl", "-s", "-o", "/dev/null", "--digest", "-u", "cr:cr-secret",
                cpe.value("Device.ManagementServer.ConnectionRequestURL"))
            assert await curl.wait() == 0
            await wait_value(cpe, "Device.ManagementServer.ConnReqJabberID", CPE_JID)
            assert cpe.value("Device.XMPP.Connection.1.TLSEstablished") == "0"
        finally:
            assert await cpe.stop() == 0
            await acs.stop()
    A.run(main(), timeout=40)
