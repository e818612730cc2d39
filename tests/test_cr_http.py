"""The HTTP connection request listener against real clients: curl, http.client, raw sockets.

Digest answers built by hand here are computed with hashlib directly, not with
icwmpy.digest, so that the listener is checked against an independent computation.
"""

import asyncio
import hashlib
import http.client
import logging
import re
import socket
import subprocess
import threading
import time

import pytest

from icwmpy.cr.http import CrServer, Route
from icwmpy.cr.admission import RateLimit
from icwmpy.cr.nonces import NonceStore, Verdict


class LoopThread:
    """An event loop in a thread, so blocking clients (curl, sockets) can run in the test."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def sync(self):
        """Return once callbacks the loop had already scheduled (on_request) have run."""
        self.run(asyncio.sleep(0))

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class Cpe:
    """A route whose settings the test can change, counting its triggers."""

    def __init__(self, user="acs", password="s3cret", basic=False, throttle=0):
        self.user, self.password, self.basic, self.throttle = user, password, basic, throttle
        self.triggers = 0
        self.route = Route(credentials=lambda: (self.user, self.password),
                           on_request=self._fire, allow_basic=lambda: self.basic,
                           throttle=lambda: self.throttle)

    def _fire(self):
        self.triggers += 1


@pytest.fixture(scope="module")
def loop():
    lt = LoopThread()
    yield lt
    lt.stop()


@pytest.fixture
def start(loop):
    """start(routes={path: Cpe}, host=..., **CrServer options) -> started server."""
    servers = []

    def start(routes, host="127.0.0.1", **options):
        server = CrServer(host, 0, **options)
        for path, cpe in routes.items():
            server.add_route(path, cpe.route)
        loop.run(server.start())
        servers.append(server)
        return server

    yield start
    for server in servers:
        loop.run(server.close())


def triggers(loop, cpe):
    loop.sync()
    return cpe.triggers


def curl(url, *args):
    """(final status, every response header block as text) for one curl run."""
    done = subprocess.run(
        ["curl", "-sS", "-g", "--noproxy", "*", "--max-time", "5", "-o", "/dev/null",
         "-D", "-", "-w", "%{http_code}", *args, url],
        capture_output=True, text=True, timeout=10)
    headers, _, code = done.stdout.rpartition("\n")
    return int(code), headers


def request(port, path="/cr", headers=None, method="GET", body=None, host="127.0.0.1"):
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response
    finally:
        conn.close()


def challenge_of(response):
    (header,) = [h for h in response.headers.get_all("WWW-Authenticate") if h.startswith("Digest")]
    return dict(re.findall(r'(\w+)="?([^",]*)"?', header))


def answer(challenge, user, password, uri, nc, *, method="GET", algorithm="MD5"):
    """An Authorization header computed independently of icwmpy.digest."""
    h = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}[algorithm]

    def hexdigest(text):
        return h(text.encode()).hexdigest()

    realm, nonce, cnonce = challenge["realm"], challenge["nonce"], "f2a3c4d5"
    ha1 = hexdigest(f"{user}:{realm}:{password}")
    ha2 = hexdigest(f"{method}:{uri}")
    response = hexdigest(f"{ha1}:{nonce}:{nc:08x}:{cnonce}:auth:{ha2}")
    return {"Authorization": (
        f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'algorithm={algorithm}, response="{response}", qop=auth, nc={nc:08x}, '
        f'cnonce="{cnonce}", opaque="{challenge["opaque"]}"')}


def fresh_challenge(port, path="/cr"):
    response = request(port, path)
    assert response.status == 401
    return challenge_of(response)


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_curl_digest_triggers_and_challenge_shape(loop, start):
    cpe = Cpe()
    server = start({"/cr": cpe})
    status, headers = curl(f"http://127.0.0.1:{server.port}/cr", "--digest", "-u", "acs:s3cret")
    assert status == 200
    assert triggers(loop, cpe) == 1
    assert "HTTP/1.1 401" in headers
    digest_line = re.search(r"WWW-Authenticate: (Digest .*)", headers).group(1)
    assert 'realm="icwmpy"' in digest_line and 'qop="auth"' in digest_line
    assert "algorithm=MD5" in digest_line and "opaque=" in digest_line
    assert "stale" not in digest_line
    assert headers.count("Connection: close") == 2  # the 401 and the 200


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback")
def test_dual_stack_serves_ipv4_and_ipv6(loop, start):
    cpe = Cpe()
    server = start({"/cr": cpe}, host="::")
    for host in ("127.0.0.1", "[::1]"):
        assert curl(f"http://{host}:{server.port}/cr", "--digest", "-u", "acs:s3cret")[0] == 200
    assert triggers(loop, cpe) == 2


@pytest.mark.parametrize("userpass", ["acs:wrong", "other:s3cret", "acs:", ":s3cret"])
def test_wrong_credentials_refused_and_never_logged(loop, start, caplog, userpass):
    caplog.set_level(logging.DEBUG)
    cpe = Cpe()
    server = start({"/cr": cpe})
    status, _ = curl(f"http://127.0.0.1:{server.port}/cr", "--digest", "-u", userpass)
    assert status == 401
    assert triggers(loop, cpe) == 0
    assert "s3cret" not in caplog.text and "wrong" not in caplog.text


def test_empty_configured_username_fails_closed(loop, start):
    cpe = Cpe(user="", password="", basic=True)
    server = start({"/cr": cpe})
    url = f"http://127.0.0.1:{server.port}/cr"
    assert curl(url, "--digest", "-u", ":")[0] == 401
    assert curl(url, "--basic", "-u", ":")[0] == 401
    challenge = fresh_challenge(server.port)
    assert request(server.port, headers=answer(challenge, "", "", "/cr", 1)).status == 401
    assert triggers(loop, cpe) == 0


def test_wrong_method_is_405_with_allow(loop, start):
    cpe = Cpe()
    server = start({"/cr": cpe})
    url = f"http://127.0.0.1:{server.port}/cr"
    for args in (["-d", "x=1"], ["-I"], ["-X", "PUT"]):
        status, headers = curl(url, "--digest", "-u", "acs:s3cret", *args)
        assert status == 405
        assert "Allow: GET" in headers
    assert triggers(loop, cpe) == 0


def test_unknown_path_is_404(loop, start):
    cpe = Cpe()
    server = start({"/cr": cpe})
    for path in ("/", "/cr/", "/crx"):
        status, _ = curl(f"http://127.0.0.1:{server.port}{path}", "--digest", "-u", "acs:s3cret")
        assert status == 404
    assert triggers(loop, cpe) == 0


def test_query_string_ignored_for_match_but_part_of_digest_uri(loop, start):
    cpe = Cpe()
    server = start({"/cr": cpe})
    assert curl(f"http://127.0.0.1:{server.port}/cr?x=1", "--digest", "-u", "acs:s3cret")[0] == 200
    challenge = fresh_challenge(server.port, "/cr?x=2")
    # An answer for another target (here without the query) does not match the request.
    assert request(server.port, "/cr?x=2", answer(challenge, "acs", "s3cret", "/cr", 1)).status == 401
    assert triggers(loop, cpe) == 1


def test_replayed_nonce_count_refused_increasing_count_accepted(loop, start):
    cpe = Cpe()
    server = start({"/cr": cpe})
    challenge = fresh_challenge(server.port)
    first = answer(challenge, "acs", "s3cret", "/cr", 1)
    assert request(server.port, headers=first).status == 200
    replay = request(server.port, headers=first)
    assert replay.status == 401
    assert "stale" not in replay.getheader("WWW-Authenticate")
    assert triggers(loop, cpe) == 1
    assert request(server.port, headers=answer(challenge, "acs", "s3cret", "/cr", 2)).status == 200
    for nc in (2, 1):
        assert request(server.port, headers=answer(challenge, "acs", "s3cret", "/cr", nc)).status == 401
    assert request(server.port, headers=answer(challenge, "acs", "s3cret", "/cr", 7)).status == 200
    assert triggers(loop, cpe) == 3


def test_sha256_answer_accepted(loop, start):
    cpe = Cpe()
    server = start({"/cr": cpe})
    headers = answer(fresh_challenge(server.port), "acs", "s3cret", "/cr", 1, algorithm="SHA-256")
    assert request(server.port, headers=headers).status == 200
    assert triggers(loop, cpe) == 1


def test_expired_nonce_gets_stale_challenge(loop, start):
    cpe = Cpe()
    server = start({"/cr": cpe}, nonce_ttl=0.3)
    challenge = fresh_challenge(server.port)
    time.sleep(0.4)
    stale = request(server.port, headers=answer(challenge, "acs", "s3cret", "/cr", 1))
    assert stale.status == 401
    assert challenge_of(stale)["stale"] == "true"
    assert challenge_of(stale)["nonce"] != challenge["nonce"]
    # A wrong password on an expired nonce is not "stale": the client must not just retry.
    wrong = request(server.port, headers=answer(challenge, "acs", "bad", "/cr", 2))
    assert wrong.status == 401 and "stale" not in challenge_of(wrong)
    assert triggers(loop, cpe) == 0
    fresh = challenge_of(stale)
    assert request(server.port, headers=answer(fresh, "acs", "s3cret", "/cr", 1)).status == 200
    assert triggers(loop, cpe) == 1


def test_rotated_credentials_take_effect_at_once(loop, start):
    cpe = Cpe()
    server = start({"/cr": cpe})
    url = f"http://127.0.0.1:{server.port}/cr"
    assert curl(url, "--digest", "-u", "acs:s3cret")[0] == 200
    cpe.user, cpe.password = "acs2", "n3w"
    assert curl(url, "--digest", "-u", "acs:s3cret")[0] == 401
    assert triggers(loop, cpe) == 1
    assert curl(url, "--digest", "-u", "acs2:n3w")[0] == 200
    assert triggers(loop, cpe) == 2


def test_basic_only_when_allowed(loop, start):
    cpe = Cpe()
    server = start({"/cr": cpe})
    url = f"http://127.0.0.1:{server.port}/cr"
    status, headers = curl(url, "--basic", "-u", "acs:s3cret")
    assert status == 401
    assert "WWW-Authenticate: Basic" not in headers
    assert triggers(loop, cpe) == 0
    cpe.basic = True
    status, headers = curl(url, "--basic", "-u", "acs:wrong")
    assert status == 401
    assert 'WWW-Authenticate: Basic realm="icwmpy"' in headers
    assert triggers(loop, cpe) == 0
    assert curl(url, "--basic", "-u", "acs:s3cret")[0] == 200
    assert triggers(loop, cpe) == 1


def test_burst_inside_throttle_window_triggers_once(loop, start):
    cpe = Cpe(throttle=5)
    server = start({"/cr": cpe})
    url = f"http://127.0.0.1:{server.port}/cr"
    results = [curl(url, "--digest", "-u", "acs:s3cret") for _ in range(4)]
    assert [status for status, _ in results] == [200, 503, 503, 503]
    for _, headers in results[1:]:  # TR-069 3.2.2: SHOULD NOT include Retry-After
        assert "Retry-After" not in headers
    assert triggers(loop, cpe) == 1


def test_unauthenticated_requests_do_not_consume_throttle(loop, start):
    cpe = Cpe(throttle=5)
    server = start({"/cr": cpe})
    url = f"http://127.0.0.1:{server.port}/cr"
    for _ in range(3):
        assert curl(url, "--digest", "-u", "acs:guess")[0] == 401
    assert triggers(loop, cpe) == 0
    assert curl(url, "--digest", "-u", "acs:s3cret")[0] == 200
    assert triggers(loop, cpe) == 1


def test_slow_header_client_cut_off_while_good_client_served(loop, start):
    cpe = Cpe()
    server = start({"/cr": cpe}, header_timeout=1.0)
    cut_after = []

    def dribble():
        with socket.create_connection(("127.0.0.1", server.port)) as s:
            began = time.monotonic()
            s.sendall(b"GET /cr HTTP/1.1\r\nX-Slow: ")
            s.settimeout(0.1)
            while time.monotonic() - began < 4:
                try:
                    s.sendall(b"a")  # one byte every 0.1 s: never a complete header
                    s.recv(100)  # returns (b"" or data) only once the server gave up
                    break
                except TimeoutError:
                    continue
                except OSError:
                    break
            cut_after.append(time.monotonic() - began)

    slow = threading.Thread(target=dribble)
    slow.start()
    time.sleep(0.2)
    began = time.monotonic()
    assert curl(f"http://127.0.0.1:{server.port}/cr", "--digest", "-u", "acs:s3cret")[0] == 200
    assert time.monotonic() - began < 0.7
    slow.join(5)
    assert 0.9 <= cut_after[0] <= 2.0
    assert triggers(loop, cpe) == 1


def raw_exchange(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        received = b""
        while chunk := s.recv(4096):
            received += chunk
    return received


def test_oversized_and_malformed_requests_refused(loop, start):
    cpe = Cpe()
    server = start({"/cr": cpe}, max_request=4096)
    big_header = b"GET /cr HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
    assert raw_exchange(server.port, big_header).startswith(b"HTTP/1.1 431 ")
    big_body = b"GET /cr HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + b"b" * 10000
    assert raw_exchange(server.port, big_body).startswith(b"HTTP/1.1 413 ")
    for bad in (b"GARBAGE\r\n\r\n", b"GET /cr HTTP/1.1\r\n folded\r\n\r\n",
                b"GET /cr HTTP/9.9\r\n\r\n", b"GET cr HTTP/1.1\r\n\r\n",
                b"GET /cr HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                b"GET /cr HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"):
        reply = raw_exchange(server.port, bad)
        assert reply.startswith(b"HTTP/1.1 400 ") and b"Connection: close\r\n" in reply
    assert triggers(loop, cpe) == 0


def test_small_body_on_get_is_discarded(loop, start):
    cpe = Cpe()
    server = start({"/cr": cpe})
    headers = answer(fresh_challenge(server.port), "acs", "s3cret", "/cr", 1)
    assert request(server.port, headers=headers, body=b"ignored body").status == 200
    assert triggers(loop, cpe) == 1


def test_connection_limit(loop, start):
    cpe = Cpe()
    server = start({"/cr": cpe}, max_connections=2, header_timeout=3)
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(2)]
    try:
        time.sleep(0.1)
        with pytest.raises(ConnectionError):  # dropped at once: reset or closed before a reply
            request(server.port, headers={})
    finally:
        for s in idle:
            s.close()
    time.sleep(0.1)
    assert curl(f"http://127.0.0.1:{server.port}/cr", "--digest", "-u", "acs:s3cret")[0] == 200
    assert triggers(loop, cpe) == 1


def test_two_routes_trigger_only_their_own(loop, start):
    a, b = Cpe("a", "pa"), Cpe("b", "pb")
    server = start({"/a": a, "/b": b})
    base = f"http://127.0.0.1:{server.port}"
    assert curl(f"{base}/a", "--digest", "-u", "a:pa")[0] == 200
    assert (triggers(loop, a), triggers(loop, b)) == (1, 0)
    assert curl(f"{base}/b", "--digest", "-u", "a:pa")[0] == 401  # a's credentials on b
    assert curl(f"{base}/b", "--digest", "-u", "b:pb")[0] == 200
    assert (triggers(loop, a), triggers(loop, b)) == (1, 1)
    server.remove_route("/a")
    assert curl(f"{base}/a", "--digest", "-u", "a:pa")[0] == 404
    assert (triggers(loop, a), triggers(loop, b)) == (1, 1)


def test_nonce_store_is_bounded():
    store = NonceStore(ttl=60, capacity=4)
    first, *others = [store.issue() for _ in range(10)]
    assert len(store) == 4
    assert store.use(first, 1) is Verdict.STALE  # evicted
    assert store.use(others[-1], 1) is Verdict.OK
    assert store.use(others[-1], 1) is Verdict.REPLAY
    assert store.use("not-ours", 1) is Verdict.STALE


def test_close_cuts_open_connections_quietly(loop, caplog):
    server = CrServer("127.0.0.1", 0, header_timeout=30)
    loop.run(server.start())
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"GET /cr HTT")
        time.sleep(0.05)
        began = time.monotonic()
        loop.run(server.close())
        assert s.recv(100) == b""
        assert time.monotonic() - began < 1
    loop.sync()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_by_default_at_most_50_requests_in_5_seconds_are_accepted(loop, start):
    """icwmp's bound (TR-069 3.2.2: the CPE SHOULD restrict them): a flood of correct
    requests gets 503 from the 51st on, without Retry-After."""
    cpe = Cpe()
    server = start({"/cr": cpe})
    url = f"http://127.0.0.1:{server.port}/cr"
    done = subprocess.run(["curl", "-sS", "--noproxy", "*", "--max-time", "20", "--digest",
                           "-u", "acs:s3cret", "-D", "-", "-w", "%{http_code}\\n", *[url] * 53],
                          capture_output=True, text=True, timeout=30)
    codes = re.findall(r"^(\d{3})$", done.stdout, re.M)
    assert codes == ["200"] * 50 + ["503"] * 3
    assert "Retry-After" not in done.stdout
    assert triggers(loop, cpe) == 50


def test_rate_limit_window_slides():
    rate = RateLimit(2, 1.0)
    assert rate.allow(0.0) and rate.allow(0.5)
    assert not rate.allow(0.9)  # a refusal is not counted
    assert rate.allow(1.0) and not rate.allow(1.2)
    assert rate.allow(1.5)


def test_a_taken_port_moves_the_listener_to_the_next_one(loop):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = CrServer("127.0.0.1", port, port_tries=5)
        loop.run(server.start())
        try:
            assert server.port == port + 1
        finally:
            loop.run(server.close())
        with pytest.raises(OSError):
            loop.run(CrServer("127.0.0.1", port).start())  # one try: the error stays
