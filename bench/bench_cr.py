"""Connection requests: CR-to-Inform latency and the listener's rate for rejected requests.

1. 200 connection requests to a real icwmpd (Digest, as an ACS sends them: GET, 401,
   GET with the answer): time from the first GET sent to the Inform received by the test
   ACS; median and p99.
2. Requests without credentials (each answered 401) for a few seconds from 4 clients:
   requests per second the listener rejects.
Baseline, same client code in the same run: a bare asyncio server that answers every GET
with 200 (round-trip time, requests per second).

Run: .venv/bin/python bench/bench_cr.py
"""

import asyncio
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import acs as A  # noqa: E402
from cpe import Cpe  # noqa: E402
from icwmpy.digest import parse_params  # noqa: E402

REQUESTS, FLOOD_SECONDS, CLIENTS = 200, 3.0, 4
BARE_SERVER = """
import asyncio, sys
async def answer(reader, writer):
    await reader.readuntil(b"\\r\\n\\r\\n")
    writer.write(b"HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n")
    await writer.drain()
    writer.close()
async def main():
    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(3600)
asyncio.run(main())
"""


async def get(port, path="/", headers=""):
    """One GET on a new connection; (status, headers dict)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    fields = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return int(head[0].split()[1]), fields


def authorization(challenge, user, password, path, nc):
    _, p = parse_params(challenge)
    realm, nonce, opaque = p["realm"], p["nonce"], p.get("opaque", "")

    def h(text):  # computed here, independently of icwmpy.digest
        return hashlib.md5(text.encode()).hexdigest()

    cnonce = os.urandom(8).hex()
    ha1, ha2 = h(f"{user}:{realm}:{password}"), h(f"GET:{path}")
    response = h(f"{ha1}:{nonce}:{nc:08x}:{cnonce}:auth:{ha2}")
    return (f'Authorization: Digest username="{user}", realm="{realm}", nonce="{nonce}", '
            f'uri="{path}", qop=auth, nc={nc:08x}, cnonce="{cnonce}", response="{response}", '
            f'opaque="{opaque}", algorithm=MD5\r\n')


async def flood(port, path="/"):
    """Requests per second answered by the server, from CLIENTS clients."""
    count = 0
    deadline = time.perf_counter() + FLOOD_SECONDS

    async def client():
        nonlocal count
        while time.perf_counter() < deadline:
            await get(port, path)
            count += 1
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return count / FLOOD_SECONDS


async def daemon_figures(root):
    acs = A.Acs()
    await acs.start()
    cpe = Cpe(root, acs.url, {("cpe", "log_severity"): "WARNING",
                              ("cpe", "periodic_notify_enable"): "0"})
    await cpe.start()
    await acs.wait_session(1, timeout=30)
    port = int(cpe.value("Device.ManagementServer.ConnectionRequestURL").rsplit(":", 1)[1].strip("/"))
    latencies = []
    for n in range(REQUESTS):
        start = time.perf_counter()
        status, fields = await get(port)
        assert status == 401
        status, _ = await get(port, headers=authorization(fields["www-authenticate"], "cr",
                                                          "cr-secret", "/", 1))
        assert status == 200, status
        await acs.wait_message("Inform", timeout=10)
        latencies.append(time.perf_counter() - start)
        await acs.wait_session(n + 2, timeout=10)
    rejected = await flood(port)
    await cpe.stop()
    await acs.stop()
    return latencies, rejected


async def baseline_figures():
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", BARE_SERVER,
                                                stdout=asyncio.subprocess.PIPE)
    port = int(await proc.stdout.readline())
    latencies = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        await get(port)
        latencies.append(time.perf_counter() - start)
    rate = await flood(port)
    proc.kill()
    await proc.wait()
    return latencies, rate


def p99(values):
    return sorted(values)[int(len(values) * 0.99) - 1]


async def main():
    with tempfile.TemporaryDirectory() as root:
        latencies, rejected = await daemon_figures(root)
    base_latencies, base_rate = await baseline_figures()
    ms = 1000
    print(f"{'benchmark':46} {'icwmpy':>10} {'baseline':>10}")
    print(f"{'CR to Inform latency, median (ms)':46} {statistics.median(latencies)*ms:10.2f} "
          f"{statistics.median(base_latencies)*ms:10.2f}   (baseline: GET -> 200)")
    print(f"{'CR to Inform latency, p99 (ms)':46} {p99(latencies)*ms:10.2f} {p99(base_latencies)*ms:10.2f}")
    print(f"{'rejected (401) requests per second':46} {rejected:10.0f} {base_rate:10.0f}   "
          f"(baseline: 200 answers)")


if __name__ == "__main__":
    asyncio.run(main())
