"""Where the daemon listens for connection requests, on real interfaces.

Two network namespaces made here: the CPE's, whose veth0 is the WAN (10.99.0.1/24,
fd99::1/64), and the ACS side's, whose veth1 is the other end (10.99.0.2, fd99::2). The
daemon runs in the first (its ACS URL leads nowhere: only the listeners matter), curl in
the second. Both namespaces go away after each test.
"""

import asyncio
import os
import shutil
import subprocess
import time

import pytest

import acs as A
from cpe import Cpe
from icwmpy.cr.udp import signature

TIMEOUT = 20


def ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def namespaces():
    """(the CPE's namespace, the ACS side's), linked by veth0 -- veth1."""
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("curl"):
        pytest.skip("network namespaces need root, ip (iproute2) and curl")
    cpe_ns, acs_ns = f"icwmpy-cpe-{os.getpid()}", f"icwmpy-acs-{os.getpid()}"
    made = []
    try:
        for ns in (cpe_ns, acs_ns):
            ip("netns", "add", ns)
            made.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        ip("link", "add", "veth0", "netns", cpe_ns, "type", "veth", "peer", "name", "veth1",
           "netns", acs_ns)
        for ns, dev, host in ((cpe_ns, "veth0", 1), (acs_ns, "veth1", 2)):
            ip("-n", ns, "addr", "add", f"10.99.0.{host}/24", "dev", dev)
            ip("-n", ns, "addr", "add", f"fd99::{host}/64", "dev", dev, "nodad")
            ip("-n", ns, "link", "set", dev, "up")
    except subprocess.CalledProcessError as e:
        for ns in made:
            ip("netns", "del", ns)
        pytest.skip(f"cannot make network namespaces: {e.stderr.decode().strip()}")
    yield cpe_ns, acs_ns
    for ns in made:
        ip("netns", "del", ns)


class NamespacedCpe(Cpe):
    """The daemon (and its CLI) run inside network namespace ``ns``."""

    def __init__(self, root, ns, options):
        super().__init__(root, "http://127.0.0.1:9/", options)
        self.ns = ns

    def argv(self, *extra):
        return ["ip", "netns", "exec", self.ns, *super().argv(*extra)]


async def started(cpe):
    async with asyncio.timeout(TIMEOUT):
        while "icwmpd started" not in cpe.log_text():
            assert cpe.proc.returncode is None, cpe.log_text()
            await asyncio.sleep(0.05)


async def status(ns, url, *args):
    """The HTTP status of curl run in namespace ``ns`` ("000": no connection)."""
    proc = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", ns, "curl", "-sS", "-g", "--noproxy", "*", "--max-time", "3",
        "-o", "/dev/null", "-w", "%{http_code}", *args, url,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out, _ = await asyncio.wait_for(proc.communicate(), 10)
    return out.decode()


def daemon_test(tmp_path, ns, options, check):
    async def main():
        cpe = NamespacedCpe(tmp_path, ns, options)
        await cpe.start()
        try:
            await started(cpe)
            await check(cpe)
        finally:
            assert await cpe.stop() == 0
    A.run(main(), timeout=60)


async def served_at(cpe, acs_ns, host):
    """The CR URL the CPE publishes names ``host`` and answers Digest from the other host."""
    url = cpe.value("Device.ManagementServer.ConnectionRequestURL")
    port = url.rsplit(":", 1)[1].rstrip("/")
    assert url == f"http://{host}:{port}/"
    assert await status(acs_ns, url, "--digest", "-u", "cr:cr-secret") == "200"
    return port


def test_the_listener_binds_only_the_configured_interface(tmp_path, namespaces):
    cpe_ns, acs_ns = namespaces

    async def check(cpe):
        port = await served_at(cpe, acs_ns, "10.99.0.1")
        assert await status(acs_ns, f"http://[fd99::1]:{port}/") == "401"  # both versions
        assert await status(cpe_ns, f"http://127.0.0.1:{port}/") == "000"  # not on lo
        assert "(interface veth0)" in cpe.log_text()

    daemon_test(tmp_path, cpe_ns, {("cpe", "interface"): "veth0"}, check)


def test_ip_version_6_listens_and_advertises_ipv6_also_for_udp(tmp_path, namespaces):
    cpe_ns, acs_ns = namespaces

    async def check(cpe):
        port = await served_at(cpe, acs_ns, "[fd99::1]")
        assert await status(acs_ns, f"http://10.99.0.1:{port}/") == "000"
        udp = cpe.value("Device.ManagementServer.UDPConnectionRequestAddress")
        assert udp == f"[fd99::1]:{port}"
        ts = str(int(time.time()))
        query = f"ts={ts}&id=42&un=cr&cn=XTGRWIPC6D3&sig=" + signature(
            "cr-secret", ts, "42", "cr", "XTGRWIPC6D3")
        datagram = f"GET http://[fd99::1]:{port}?{query} HTTP/1.1\r\nHost: [fd99::1]\r\n\r\n"
        subprocess.run(["ip", "netns", "exec", acs_ns, "python3", "-c",
                        "import socket, sys; socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)"
                        ".sendto(sys.argv[1].encode(), (sys.argv[2], int(sys.argv[3])))",
                        datagram, "fd99::1", port], check=True, timeout=10)
        async with asyncio.timeout(TIMEOUT):
            while "UDP connection request from ('fd99::2'" not in cpe.log_text():
                await asyncio.sleep(0.05)

    daemon_test(tmp_path, cpe_ns, {("cpe", "interface"): "veth0", ("acs", "ip_version"): "6"},
                check)


def test_force_ipv4_wins_over_ip_version_6(tmp_path, namespaces):
    cpe_ns, acs_ns = namespaces

    async def check(cpe):
        port = await served_at(cpe, acs_ns, "10.99.0.1")
        assert await status(acs_ns, f"http://[fd99::1]:{port}/") == "000"

    daemon_test(tmp_path, cpe_ns, {("cpe", "interface"): "veth0", ("acs", "ip_version"): "6",
                                   ("cpe", "force_ipv4"): "1"}, check)
