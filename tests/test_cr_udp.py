"""UDP connection requests and STUN (TR-069 Annex G / TR-111 Part 2).

The STUN codec against the RFC 5769 test vectors; the connection request validator with
byte strings; the STUN client against a scripted STUN server on 127.0.0.1 (NAT, binding
change, a server that wants MESSAGE-INTEGRITY); then the real daemon: a signed UDP
connection request opens a session, a forged or replayed one does not, and with STUN on
against a real coturn server the daemon publishes the binding it learnt.
"""

import asyncio
import hashlib
import hmac
import ipaddress
import shutil
import socket
import struct
import subprocess
import time
import types

import pytest

import acs as A
from cpe import Cpe, free_port
from icwmpy.cr import stun
from icwmpy.cr.udp import UdpCrServer, UdpCrValidator
from icwmpy.store import Store

TIMEOUT = 15
PASSWORD_5769 = b"VOkJxbRl1RmTxUk/WvJxBt"

# RFC 5769 section 2.1: a Binding Request with SOFTWARE, PRIORITY, ICE-CONTROLLED,
# USERNAME "evtj:h6vY" (padded with spaces), MESSAGE-INTEGRITY and FINGERPRINT.
RFC5769_REQUEST = bytes.fromhex(
    "000100582112a442b7e7a701bc34d686fa87dfae"
    "802200105354554e207465737420636c69656e74"
    "002400046e0001ff80290008932ff9b151263b36"
    "000600096576746a3a68367659202020"
    "000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2"
    "80280004e57a3bcf")
# 2.2: a Binding success response, XOR-MAPPED-ADDRESS 192.0.2.1:32853.
RFC5769_IPV4_RESPONSE = bytes.fromhex(
    "0101003c2112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000080001a147e112a643"
    "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7"
    "80280004c07d4c96")
# 2.3: the same with XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853.
RFC5769_IPV6_RESPONSE = bytes.fromhex(
    "010100482112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9"
    "00080014a382954e4be67bf11784c97c8292c275bfe3ed41"
    "80280004c8fb0b4c")


def run(coro, timeout=25):
    return A.run(coro, timeout=timeout)


# ---------------------------------------------------------------- STUN codec


def test_rfc5769_request():
    m = stun.parse(RFC5769_REQUEST)
    assert m.type == stun.BINDING_REQUEST
    assert m.transaction_id == bytes.fromhex("b7e7a701bc34d686fa87dfae")
    assert m.get(stun.USERNAME) == b"evtj:h6vY"
    assert m.get(0x8022) == b"STUN test client"
    assert m.integrity_ok(PASSWORD_5769) and not m.integrity_ok(b"wrong")
    assert m.fingerprint_ok()
    tampered = bytearray(RFC5769_REQUEST)
    tampered[40] ^= 1
    m = stun.parse(bytes(tampered))
    assert not m.integrity_ok(PASSWORD_5769) and not m.fingerprint_ok()


@pytest.mark.parametrize("vector, address", [
    (RFC5769_IPV4_RESPONSE, ("192.0.2.1", 32853)),
    (RFC5769_IPV6_RESPONSE, ("2001:db8:1234:5678:11:2233:4455:6677", 32853))])
def test_rfc5769_responses(vector, address):
    m = stun.parse(vector)
    assert m.type == stun.BINDING_SUCCESS
    assert m.mapped_address() == address
    assert m.integrity_ok(PASSWORD_5769) and m.fingerprint_ok()


def test_binding_request_roundtrip_and_demultiplexing():
    tid = bytes(range(12))
    plain = stun.binding_request(tid)
    assert stun.is_stun(plain) and not stun.is_stun(b"GET http://x?ts=1 HTTP/1.1\r\n\r\n")
    m = stun.parse(plain)
    assert m.attributes == [(stun.CONNECTION_REQUEST_BINDING, b"dslforum.org/TR-111 ")]
    assert plain[20:24] == b"\xc0\x01\x00\x14" and len(plain) == 44  # 20 bytes, no padding
    signed = stun.parse(stun.binding_request(tid, change=True, username="cpe", password="pw"))
    assert [t for t, _ in signed.attributes] == [
        stun.CONNECTION_REQUEST_BINDING, stun.BINDING_CHANGE, stun.USERNAME,
        stun.MESSAGE_INTEGRITY]
    assert signed.get(stun.BINDING_CHANGE) == b"" and signed.get(stun.USERNAME) == b"cpe"
    assert signed.integrity_ok(b"pw") and not signed.integrity_ok(b"other")
    # classic RFC 3489 answer: plain MAPPED-ADDRESS
    classic = stun.encode(stun.BINDING_SUCCESS, tid,
                          [(stun.MAPPED_ADDRESS, b"\0\x01" + struct.pack("!H", 7547)
                            + bytes([198, 51, 100, 9]))])
    assert stun.parse(classic).mapped_address() == ("198.51.100.9", 7547)
    for broken in (plain[:19], plain[:-1], b"\x80" + plain[1:], plain[:4] + b"xxxx" + plain[8:]):
        with pytest.raises(stun.StunError):
            stun.parse(broken)


@pytest.mark.parametrize("minimum, maximum, period", [
    (0, -1, 30), (20, -1, 20), (0, 10, 10), (50, 100, 50), (50, 20, 50), (5, 0, 5)])
def test_keepalive_period(minimum, maximum, period):
    assert stun.keepalive_period(minimum, maximum) == period


# ---------------------------------------------------------------- the validator


def udp_request(ts, request_id, username, password, cnonce="XTGRWIPC6D3IPXS3", sig=None,
                host="10.1.1.1:7547"):
    """An Annex G message, signed independently of the code under test."""
    if sig is None:
        sig = hmac.new(password.encode(), f"{ts}{request_id}{username}{cnonce}".encode(),
                       hashlib.sha1).hexdigest().upper()
    return (f"GET http://{host}?ts={ts}&id={request_id}&un={username}&cn={cnonce}&sig={sig}"
            f" HTTP/1.1\r\nHost: {host}\r\n\r\n").encode()


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def validator(username="cr", password="cr-secret", **kw):
    return UdpCrValidator(lambda: (username, password), **kw)


def test_validator_accepts_a_signed_request_once():
    v = validator()
    good = udp_request(1120673700, 1234, "cr", "cr-secret")
    assert v.check(good) == (True, "accepted")
    ok, reason = v.check(good)  # the ACS's retransmission, or a replay
    assert not ok and "id" in reason
    assert v.check(udp_request(1120673700, 1235, "cr", "cr-secret"))[0]  # same second, new id
    ok, reason = v.check(udp_request(1120673699, 1236, "cr", "cr-secret"))
    assert not ok and "older" in reason
    sig = hmac.new(b"cr-secret", b"1120673701" b"1237" b"cr" b"nonce", hashlib.sha1).hexdigest()
    assert v.check(udp_request(1120673701, 1237, "cr", "", cnonce="nonce", sig=sig.lower()))[0]


@pytest.mark.parametrize("datagram, why", [
    (udp_request(5, 1, "cr", "forged"), "signature"),
    (udp_request(5, 1, "cr", "cr-secret", sig="0" * 40), "signature"),
    (udp_request(5, 1, "intruder", "cr-secret"), "username"),
    (udp_request(5, 1, "cr", "cr-secret").replace(b"&cn=", b"&xx="), "missing cn"),
    (udp_request(5, 1, "cr", "cr-secret").replace(b"ts=5", b"ts=5x"), "ts"),
    (udp_request(5, 1, "cr", "cr-secret").replace(b"GET", b"PUT"), "GET"),
    (b"hello", "request line"),
    (b"GET http://x/?" + b"a" * 3000 + b" HTTP/1.1", "too large")])
def test_validator_refuses(datagram, why):
    ok, reason = validator().check(datagram)
    assert not ok and why in reason


def test_empty_username_refuses_everything():
    ok, reason = validator(username="", password="").check(udp_request(5, 1, "", ""))
    assert not ok and "ConnectionRequestUsername" in reason


def test_credentials_are_read_live_and_last_request_survives_restart(tmp_path):
    creds = {"user": "cr", "password": "old"}
    memory = Store(str(tmp_path))["udp_cr"]
    v = UdpCrValidator(lambda: (creds["user"], creds["password"]), memory=memory)
    assert v.check(udp_request(100, "a", "cr", "old"))[0]
    creds["password"] = "new"
    assert not v.check(udp_request(101, "b", "cr", "old"))[0]
    again = UdpCrValidator(lambda: ("cr", "new"), memory=Store(str(tmp_path))["udp_cr"])
    assert not again.check(udp_request(100, "a", "cr", "new"))[0]  # replay after restart
    assert not again.check(udp_request(99, "z", "cr", "new"))[0]
    assert again.check(udp_request(101, "b", "cr", "new"))[0]


def test_throttle():
    clock = Clock()
    v = validator(clock=clock, throttle=lambda: 10)
    assert v.check(udp_request(1, 1, "cr", "cr-secret"))[0]
    clock.now += 5
    assert v.check(udp_request(2, 2, "cr", "cr-secret")) == (False, "throttled")
    assert not v.check(udp_request(2, 2, "cr", "cr-secret"))[0]  # consumed, not replayable
    clock.now += 6
    assert v.check(udp_request(3, 3, "cr", "cr-secret"))[0]


# ---------------------------------------------------------------- STUN client


def xor_mapped(ip, port, tid):
    """XOR-MAPPED-ADDRESS value, computed here (RFC 5389 15.2), not by the codec."""
    cookie = struct.pack("!I", 0x2112A442)
    xport = port ^ 0x2112
    raw = ipaddress.ip_address(ip).packed
    xaddr = bytes(a ^ b for a, b in zip(raw, cookie + tid, strict=False))
    return struct.pack("!BBH", 0, 1, xport) + xaddr


class FakeStunServer(asyncio.DatagramProtocol):
    """Answers Binding Requests with ``self.mapped``; ``password`` set = wants integrity."""

    def __init__(self):
        self.requests = []
        self.mapped = None  # None: the real source address
        self.password = None
        self.silent = False

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        m = stun.parse(data)
        self.requests.append(m)
        if self.silent:
            return
        if self.password and not m.integrity_ok(self.password.encode()):
            error = b"\0\0\x04\x01Unauthorized"
            self.transport.sendto(stun.encode(stun.BINDING_ERROR, m.transaction_id,
                                              [(stun.ERROR_CODE, error)]), addr)
            return
        ip, port = self.mapped or addr
        key = self.password.encode() if self.password else None
        self.transport.sendto(stun.encode(
            stun.BINDING_SUCCESS, m.transaction_id,
            [(stun.XOR_MAPPED_ADDRESS, xor_mapped(ip, port, m.transaction_id))],
            integrity_key=key), addr)


async def client_setup(config):
    loop = asyncio.get_running_loop()
    _, server = await loop.create_datagram_endpoint(FakeStunServer, local_addr=("127.0.0.1", 0))
    config.server_port = server.transport.get_extra_info("sockname")[1]
    socket_ = UdpCrServer(validator(), lambda: None)
    await socket_.start("127.0.0.1", 0)
    published = asyncio.Queue()

    async def publish(address, nat):
        await published.put((address, nat))

    client = stun.StunClient(socket_.sendto, lambda: config, lambda: "127.0.0.1", publish,
                             local_port=socket_.port, local_address=f"127.0.0.1:{socket_.port}",
                             rto=0.05, attempts=3, last_wait=2)
    socket_.stun_handler = client.datagram_received
    return server, socket_, client, published


def stun_config(**kw):
    base = dict(enable=True, server_address="127.0.0.1", server_port=0, username="",
                password="", min_keepalive=1, max_keepalive=-1)
    return types.SimpleNamespace(**{**base, **kw})


def test_stun_client_nat_binding_change_and_integrity():
    async def main():
        config = stun_config(username="stunuser", password="stunpw")
        server, socket_, client, published = await client_setup(config)
        server.mapped = ("203.0.113.7", 40000)
        task = asyncio.create_task(client.run())
        try:
            assert await asyncio.wait_for(published.get(), 5) == ("203.0.113.7:40000", True)
            first = server.requests[0]
            assert first.get(stun.CONNECTION_REQUEST_BINDING) == b"dslforum.org/TR-111 "
            # STUNUsername set but integrity not asked for yet: none sent (TR-181)
            assert first.get(stun.BINDING_CHANGE) is None and first.get(stun.USERNAME) is None
            server.mapped = ("203.0.113.7", 40001)
            server.password = "stunpw"
            assert await asyncio.wait_for(published.get(), 5) == ("203.0.113.7:40001", True)
            assert any(r.get(stun.BINDING_CHANGE) == b"" and r.integrity_ok(b"stunpw")
                       and r.get(stun.USERNAME) == b"stunuser" for r in server.requests)
            assert server.requests[-1].get(stun.USERNAME) == b"stunuser"
            server.mapped = None  # no NAT: the mapped address is our own
            assert await asyncio.wait_for(published.get(), 5) == (
                f"127.0.0.1:{socket_.port}", False)
            config.enable = False
            client.IDLE_POLL = 0.1
            await asyncio.sleep(1.5)
            before = len(server.requests)
            await asyncio.sleep(1.2)
            assert len(server.requests) == before  # off: no keep-alives
        finally:
            task.cancel()
            socket_.close()
            server.transport.close()
    run(main())


def test_stun_client_retransmits_then_gives_up():
    async def main():
        server, socket_, client, published = await client_setup(stun_config())
        server.silent = True
        started = time.monotonic()
        with pytest.raises(stun.StunTimeout):
            await client._bind(("127.0.0.1", server.transport.get_extra_info("sockname")[1]),
                               stun_config(), change=False)
        assert len(server.requests) == 3
        assert len({r.transaction_id for r in server.requests}) == 1  # same transaction
        assert 0.05 + 0.1 + 0.1 <= time.monotonic() - started < 2
        socket_.close()
        server.transport.close()
    run(main())


def test_socket_demultiplexes_stun_and_connection_requests():
    async def main():
        fired, seen = [], []
        server = UdpCrServer(validator(), lambda: fired.append(1))
        server.stun_handler = lambda data, addr: seen.append(data)
        await server.start("127.0.0.1", 0)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(RFC5769_IPV4_RESPONSE, ("127.0.0.1", server.port))
            s.sendto(udp_request(7, 7, "cr", "forged"), ("127.0.0.1", server.port))
            s.sendto(udp_request(7, 7, "cr", "cr-secret"), ("127.0.0.1", server.port))
        await asyncio.sleep(0.3)
        server.close()
        assert seen == [RFC5769_IPV4_RESPONSE] and fired == [1]
    run(main())


def test_validator_limits_requests_per_period_by_default():
    """As for HTTP: at most 50 accepted in 5 s (each with its own id)."""
    clock = Clock()
    v = validator(clock=clock)
    results = [v.check(udp_request(7, n, "cr", "cr-secret"))[1] for n in range(51)]
    assert results == ["accepted"] * 50 + ["more than 50 in 5 s"]
    clock.now += 5
    assert v.check(udp_request(8, 99, "cr", "cr-secret")) == (True, "accepted")


def test_one_socket_takes_ipv6_and_ipv4_requests_and_shows_ipv4_peers_plainly():
    async def main():
        fired, seen = [], []
        server = UdpCrServer(validator(), lambda: fired.append(1))
        server.stun_handler = lambda data, addr: seen.append(addr)
        await server.start(port=0)  # every address, both versions
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.sendto(udp_request(7, 1, "cr", "cr-secret"), ("::1", server.port))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            s.settimeout(2)  # the server's sendto is immediate; bounded all the same
            s.sendto(udp_request(7, 2, "cr", "cr-secret"), ("127.0.0.1", server.port))
            s.sendto(RFC5769_IPV4_RESPONSE, ("127.0.0.1", server.port))
            await asyncio.sleep(0.3)
            server.sendto(b"to an IPv4 peer", s.getsockname())
            assert s.recv(100) == b"to an IPv4 peer"
            assert seen == [s.getsockname()]
        server.close()
        assert fired == [1, 1]
    run(main())


# ---------------------------------------------------------------- the daemon


def send_udp(port, datagram):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(datagram, ("127.0.0.1", port))


def test_daemon_udp_connection_request(tmp_path):
    async def main():
        acs = A.Acs()
        await acs.start()
        cpe = Cpe(tmp_path, acs.url)
        await cpe.start()
        try:
            await acs.wait_session(1, timeout=TIMEOUT)
            address = cpe.value("Device.ManagementServer.UDPConnectionRequestAddress")
            host, _, port = address.rpartition(":")
            assert host == "127.0.0.1" and port == cpe.value(
                "Device.ManagementServer.ConnectionRequestURL").rsplit(":", 1)[1].rstrip("/")
            assert cpe.value("Device.ManagementServer.NATDetected") == "0"
            ts = int(time.time())
            good = udp_request(ts, 42, "cr", "cr-secret", host=address)
            for _ in range(3):  # as an ACS sends it: several copies, one session
                send_udp(int(port), good)
            s = await acs.wait_session(2, timeout=TIMEOUT)
            assert s.events == [("6 CONNECTION REQUEST", "")]
            send_udp(int(port), udp_request(ts + 1, 43, "cr", "wrong", host=address))
            send_udp(int(port), good)  # replay
            await asyncio.sleep(2)
            assert len(acs.sessions) == 2
            assert "UDP connection request from" in cpe.log_text()
        finally:
            assert await cpe.stop() == 0
            await acs.stop()
    run(main())


def test_daemon_learns_its_binding_from_coturn(tmp_path):
    turnserver = shutil.which("turnserver")
    if not turnserver:
        pytest.skip("turnserver (Debian package coturn) is not installed")

    async def main():
        stun_port = free_port()
        server = await asyncio.create_subprocess_exec(
            turnserver, "-n", "--listening-ip", "127.0.0.1", "--listening-port", str(stun_port),
            "--no-tls", "--no-dtls", "--stun-only", "--no-cli", "--simple-log",
            "--log-file", "stdout", "--pidfile", str(tmp_path / "turnserver.pid"),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        acs = A.Acs()
        await acs.start()
        cpe = Cpe(tmp_path / "cpe", acs.url, {
            ("cpe", "advertise_host"): "localhost",  # so the learnt binding shows
            ("stun", "enable"): "1", ("stun", "server_address"): "127.0.0.1",
            ("stun", "server_port"): str(stun_port), ("stun", "min_keepalive"): "1"})
        await cpe.start()
        try:
            await acs.wait_session(1, timeout=TIMEOUT)
            port = cpe.value("Device.ManagementServer.ConnectionRequestURL").rsplit(":", 1)[1]
            expected = f"127.0.0.1:{port.rstrip('/')}"
            deadline = time.monotonic() + TIMEOUT
            while cpe.value("Device.ManagementServer.UDPConnectionRequestAddress") != expected:
                assert time.monotonic() < deadline, cpe.log_text()[-2000:]
                await asyncio.sleep(0.3)
            assert cpe.value("Device.ManagementServer.NATDetected") == "0"
            assert "STUN binding is now " + expected in cpe.log_text()
        finally:
            assert await cpe.stop() == 0
            await acs.stop()
            server.terminate()
            await server.wait()
    run(main())
