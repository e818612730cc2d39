"""icwmpy.transport against the test ACS and small purpose-made servers, all on 127.0.0.1."""

import asyncio
import contextlib
import gzip
import socket
import time

import pycurl
import pytest

from acs import (Acs, HttpServer, Padded, Response, envelope, get_parameter_values, inform,
                 parse_envelope, run)
from certs import make_pki
from icwmpy import digest
from icwmpy.transport import AcsClient, BodyTooLarge, CurlLoop, TransportError
from icwmpy.transport.acsclient import MAX_AUTH_RETRIES

GPV_RESPONSE = envelope("GetParameterValuesResponse",
                        '<ParameterList soap-enc:arrayType="cwmp:ParameterValueStruct[0]"/>')


async def cwmp_session(client):
    """Play the CPE side of a session by hand: Inform, empty POST, answer each request."""
    response = await client.post(inform())
    assert response.status == 200, response
    assert parse_envelope(response.body).method == "InformResponse"
    response = await client.post(b"")
    while response.status == 200:
        assert parse_envelope(response.body).method == "GetParameterValues"
        response = await client.post(GPV_RESPONSE)
    return response


async def started(server):
    await server.start()
    return server


@contextlib.asynccontextmanager
async def connected(server, **options):
    """An AcsClient to ``server`` on its own CurlLoop; closes client, loop and server on exit."""
    curl_loop = CurlLoop()
    client = AcsClient(curl_loop, server.url, **options)
    try:
        yield client
    finally:
        client.close()
        curl_loop.close()
        await server.stop()


def auth_params(request):
    return digest.parse_params(request.headers["authorization"])[1]


# ---------------------------------------------------------------- sessions and authentication


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_digest_session_on_one_connection_with_cookie(algorithm):
    async def scenario():
        acs = await started(Acs("digest", "cpe", "s3cr\"t", digest_algorithm=algorithm))
        acs.queue(get_parameter_values("Device.DeviceInfo."),
                  get_parameter_values("Device.ManagementServer."))
        async with connected(acs, username="cpe", password='s3cr"t') as client:
            final = await cwmp_session(client)
        assert final.status == 204 and final.body == b""
        session = acs.sessions[0]
        assert session.ended and session.methods == ["Inform"] + 2 * ["GetParameterValuesResponse"]
        assert len(acs.connections) == 1
        first, retry, *rest = acs.requests
        # the challenge was answered with the full body, never with an empty-body probe
        assert "authorization" not in first.headers and retry.body == first.body
        assert all(r.body or "authorization" in r.headers for r in acs.requests)
        # the nonce is reused preemptively with an increasing nc: one 401 in the whole session
        assert [status for status, _, _ in acs.rejected] == [401]
        assert [int(auth_params(r)["nc"], 16) for r in [retry, *rest]] == [1, 2, 3, 4]
        assert all(f"icwmpy_acs_session={session.cookie}" in r.headers["cookie"] for r in rest)
        assert first.headers["content-type"] == 'text/xml; charset="utf-8"'
        assert first.headers["soapaction"] == "" and "expect" not in first.headers
        empty = rest[0]
        assert empty.body == b"" and empty.headers["content-length"] == "0"
        assert "content-type" not in empty.headers
    run(scenario())


def test_basic_is_preemptive_after_the_first_challenge():
    async def scenario():
        acs = await started(Acs("basic", "cpe", "pw"))
        acs.queue(get_parameter_values("Device."))
        async with connected(acs, username="cpe", password="pw") as client:
            assert (await cwmp_session(client)).status == 204
        assert [status for status, _, _ in acs.rejected] == [401]
        assert len(acs.requests) == 4 and len(acs.connections) == 1
    run(scenario())


@pytest.mark.parametrize("auth", ["basic", "digest"])
def test_wrong_password_surfaces_401(auth):
    async def scenario():
        acs = await started(Acs(auth, "cpe", "right"))
        async with connected(acs, username="cpe", password="wrong") as client:
            response = await client.post(inform())
        assert response.status == 401
        # Basic: the request and one answer. Digest: a server issues a fresh nonce with
        # every challenge, so each is worth one answer, but only up to MAX_AUTH_RETRIES.
        assert len(acs.requests) == {"basic": 2, "digest": 1 + MAX_AUTH_RETRIES}[auth]
        assert not acs.sessions
    run(scenario())


def test_stale_nonce_is_answered_again():
    async def scenario():
        acs = await started(Acs("digest", "cpe", "pw"))
        acs.queue(get_parameter_values("Device."))
        async with connected(acs, username="cpe", password="pw") as client:
            assert (await client.post(inform())).status == 200
            acs.expire_nonces()
            response = await client.post(b"")
            assert response.status == 200
            assert (await client.post(GPV_RESPONSE)).status == 204
        stale = [r for r in acs.requests if r.body == b""]
        assert len(stale) == 2 and auth_params(stale[0])["nonce"] != auth_params(stale[1])["nonce"]
        assert int(auth_params(stale[1])["nc"], 16) == 1
    run(scenario())


def test_new_connection_gets_a_new_nonce():
    """GenieACS binds the nonce to the connection: after a reconnect, answer the new challenge."""
    async def scenario():
        acs = await started(Acs("digest", "cpe", "pw"))
        acs.queue(get_parameter_values("Device."))
        async with connected(acs, username="cpe", password="pw") as client:
            assert (await client.post(inform())).status == 200
            acs.connections[0].nonce = None  # and the server forgets; next request: new nonce
            acs.fail_next_posts(1, status=503)
            # a 503 with "Connection: close" would do the same; here the next POST sees the 503
            assert (await client.post(b"")).status == 503
            assert (await client.post(b"")).status == 200
        assert [status for status, _, _ in acs.rejected] == [401, 503, 401]
    run(scenario())


# ---------------------------------------------------------------- redirects


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_moves_the_rest_of_the_session(status):
    async def scenario():
        acs = await started(Acs("digest", "cpe", "pw"))
        acs.queue(get_parameter_values("Device."))
        acs.redirect_to("/moved/acs", status=status)
        async with connected(acs, username="cpe", password="pw") as client:
            assert (await cwmp_session(client)).status == 204
        assert client.url.endswith("/moved/acs")
        first, *rest = acs.requests
        assert first.target == "/acs" and all(r.target == "/moved/acs" for r in rest)
        assert all(r.method == "POST" for r in acs.requests)
        assert rest[0].body == first.body  # the body went along
        assert acs.sessions[0].ended
    run(scenario())


def test_redirect_loop_fails_cleanly():
    async def scenario():
        acs = await started(Acs())
        acs.redirect_to("/loop", status=302, count=100)
        async with connected(acs, max_redirects=3) as client:
            with pytest.raises(TransportError) as error:
                await client.post(inform())
        assert error.value.code == pycurl.E_TOO_MANY_REDIRECTS
        assert len(acs.requests) == 4
    run(scenario())


def test_redirect_to_another_origin_forgets_the_credentials_challenge():
    async def scenario():
        acs = await started(Acs("basic", "cpe", "pw"))
        other = await started(Acs())
        try:
            async with connected(acs, username="cpe", password="pw") as client:
                assert (await client.post(inform())).status == 200
                acs.redirect_to(other.url)
                assert (await client.post(inform())).status == 200
        finally:
            await other.stop()
        assert client.url == other.url
        assert "authorization" not in other.requests[0].headers
    run(scenario())


# ---------------------------------------------------------------- TLS


def tls_post(pki, **options):
    async def scenario():
        acs = await started(Acs(tls=(pki.server_cert, pki.server_key)))
        async with connected(acs, **options) as client:
            return await client.post(inform())
    return run(scenario())


def test_https_verification(tmp_path):
    pki = make_pki(tmp_path)
    assert tls_post(pki, ca_path=pki.ca_file).status == 200
    if pki.ca_dir:
        assert tls_post(pki, ca_path=pki.ca_dir).status == 200
    with pytest.raises(TransportError) as error:
        tls_post(pki, ca_path=pki.other_ca_file)
    assert error.value.code == pycurl.E_PEER_FAILED_VERIFICATION
    assert tls_post(pki, ca_path=pki.other_ca_file, insecure=True).status == 200


def test_https_client_certificate(tmp_path):
    pki = make_pki(tmp_path)

    async def scenario(**options):
        server = await started(HttpServer(answer_ok, tls=(pki.server_cert, pki.server_key,
                                                          pki.ca_file)))
        async with connected(server, ca_path=pki.ca_file, **options) as client:
            return await client.post(b"")

    assert run(scenario(client_cert=pki.client_cert, client_key=pki.client_key)).status == 200
    with pytest.raises(TransportError):
        run(scenario())


async def answer_ok(request):
    return Response(200, b"ok")


# ---------------------------------------------------------------- bodies


def post_to(handler, body=b"<x/>", **options):
    """POST once to an HttpServer running ``handler``; return (response, server requests)."""
    async def scenario():
        server = await started(HttpServer(handler))
        async with connected(server, **options) as client:
            return await client.post(body), server.requests
    return run(scenario())


async def gzip_if_accepted(request):
    body = b"<answer>" + b"A" * 50_000 + b"</answer>"
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(200, gzip.compress(body), (("Content-Encoding", "gzip"),))
    return Response(200, body)


def test_gzip_response_is_decoded():
    response, requests = post_to(gzip_if_accepted, compression="GZIP")
    assert requests[0].headers["accept-encoding"] == "gzip"
    assert response.body.startswith(b"<answer>AAA") and len(response.body) == 50_017
    response, requests = post_to(gzip_if_accepted, compression="Disabled")
    assert "accept-encoding" not in requests[0].headers and len(response.body) == 50_017


@pytest.mark.parametrize("compression, magic", [("GZIP", b"\x1f\x8b"), ("Deflate", b"\x78")])
def test_requests_are_compressed(compression, magic):
    async def scenario():
        acs = await started(Acs("digest", "cpe", "pw"))
        acs.queue(get_parameter_values("Device."))
        async with connected(acs, username="cpe", password="pw",
                             compression=compression) as client:
            assert (await cwmp_session(client)).status == 204
            assert not client.compression_refused
        assert acs.sessions[0].methods == ["Inform", "GetParameterValuesResponse"]
        assert acs.sessions[0].messages[0].raw.startswith(b"<?xml")  # decoded by the ACS
        for request in acs.requests:
            if request.body:
                assert request.headers["content-encoding"] == compression.lower()
                assert request.body.startswith(magic)
            else:
                assert "content-encoding" not in request.headers
    run(scenario())


def test_an_acs_refusing_compressed_requests_gets_them_plain():
    async def scenario():
        acs = await started(Acs("digest", "cpe", "pw", decode_requests=False))
        acs.queue(get_parameter_values("Device."))
        async with connected(acs, username="cpe", password="pw", compression="GZIP") as client:
            assert (await cwmp_session(client)).status == 204
            assert client.compression_refused  # the agent remembers it for this ACS
        assert acs.sessions[0].methods == ["Inform", "GetParameterValuesResponse"]
        assert [status for status, _, _ in acs.rejected] == [401, 415]
        refused, resent = acs.requests[1:3]
        assert refused.headers["content-encoding"] == "gzip"
        assert "content-encoding" not in resent.headers and resent.body.startswith(b"<?xml")
        assert all("content-encoding" not in r.headers for r in acs.requests[2:])
        plain = await started(Acs(decode_requests=False))
        async with connected(plain, compression="GZIP", compress_requests=False) as client:
            assert (await client.post(inform())).status == 200
        assert plain.rejected == [] and "content-encoding" not in plain.requests[0].headers
        assert plain.requests[0].headers["accept-encoding"] == "gzip"  # answers still may be
    run(scenario())


def test_body_cap():
    for compression in ("Disabled", "GZIP"):  # Content-Length check, then the decoded size
        with pytest.raises(TransportError) as error:
            post_to(gzip_if_accepted, compression=compression, max_body=10_000)
        assert error.value.code == pycurl.E_FILESIZE_EXCEEDED
    assert len(post_to(gzip_if_accepted, max_body=50_017)[0].body) == 50_017


def test_a_body_over_the_cap_is_refused_at_once_and_the_client_goes_on():
    """10 MB and 100 MB answers: BodyTooLarge without reading them; each next POST goes on
    a new connection, with the session cookie and a Digest answer valid there."""
    async def scenario():
        acs = await started(Acs("digest", "cpe", "pw"))
        mb = 1024 * 1024
        acs.queue(Padded(get_parameter_values("Device."), 10 * mb),
                  Padded(get_parameter_values("Device."), 100 * mb),
                  get_parameter_values("Device."))
        async with connected(acs, username="cpe", password="pw") as client:
            assert (await client.post(inform())).status == 200
            started_at = time.monotonic()
            for body in (b"", GPV_RESPONSE):
                with pytest.raises(BodyTooLarge) as error:
                    await client.post(body)
                assert error.value.code == pycurl.E_FILESIZE_EXCEEDED
            assert time.monotonic() - started_at < 2
            assert parse_envelope((await client.post(GPV_RESPONSE)).body).method == \
                "GetParameterValues"
            assert (await client.post(GPV_RESPONSE)).status == 204
        session = acs.sessions[0]
        assert session.ended and session.methods == ["Inform"] + 3 * ["GetParameterValuesResponse"]
        assert len(acs.connections) == 3
        after_inform = [r for r in acs.requests if r.body != acs.requests[0].body]
        assert all(f"icwmpy_acs_session={session.cookie}" in r.headers.get("cookie", "")
                   for r in after_inform)
    run(scenario())


def test_expect_100_continue_only_when_not_disabled():
    big = b"<x>" + b"y" * 2_000_000 + b"</x>"  # libcurl only expects 100 for large bodies
    response, requests = post_to(answer_ok, big, disable_100_continue=False)
    assert response.status == 200 and requests[0].body == big
    assert requests[0].headers["expect"] == "100-continue"
    response, requests = post_to(answer_ok, big)
    assert response.status == 200 and "expect" not in requests[0].headers


# ---------------------------------------------------------------- failures and timing


def test_connect_refused_fails_fast():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario():
        curl_loop = CurlLoop()
        client = AcsClient(curl_loop, f"http://127.0.0.1:{port}/acs", timeout=5)
        try:
            await client.post(inform())
        finally:
            client.close()
            curl_loop.close()

    started_at = time.monotonic()
    with pytest.raises(TransportError) as error:
        run(scenario())
    assert error.value.code == pycurl.E_COULDNT_CONNECT
    assert time.monotonic() - started_at < 2


async def stall(request):
    await asyncio.sleep(60)  # cancelled when the server stops


def test_stalled_server_times_out():
    started_at = time.monotonic()
    with pytest.raises(TransportError) as error:
        post_to(stall, timeout=0.5)
    assert error.value.code == pycurl.E_OPERATION_TIMEDOUT
    assert time.monotonic() - started_at < 3


def test_dropped_connection_is_a_transport_error():
    async def scenario():
        acs = await started(Acs())
        acs.drop_connection_next()
        async with connected(acs) as client:
            with pytest.raises(TransportError) as error:
                await client.post(inform())
            assert error.value.code == pycurl.E_GOT_NOTHING
            assert (await client.post(inform())).status == 200  # the client is still usable
            # a kept-alive connection that dies unanswered is retried once, on a new one
            acs.drop_connection_next()
            assert (await client.post(b"")).status == 204
            assert len(acs.connections) == 3 and len(acs.requests) == 4
    run(scenario())


def test_invalid_options_are_refused():
    curl_loop = CurlLoop()
    with pytest.raises(ValueError):
        AcsClient(curl_loop, "http://127.0.0.1/", compression="brotli")
    with pytest.raises(ValueError):
        AcsClient(curl_loop, "http://127.0.0.1/", ip_version=5)
    with pytest.raises(TransportError):
        AcsClient(curl_loop, "ftp://127.0.0.1/")
    curl_loop.close()


# ---------------------------------------------------------------- CurlLoop


async def slow_echo(request):
    await asyncio.sleep(0.3)
    return Response(200, request.target.encode() * 1000)


def easy_get(url, sink):
    easy = pycurl.Curl()
    easy.setopt(pycurl.URL, url)
    easy.setopt(pycurl.WRITEFUNCTION, sink)
    return easy


def test_concurrent_transfers_share_one_loop():
    async def scenario():
        server = await started(HttpServer(slow_echo))
        curl_loop = CurlLoop()
        sinks = [[] for _ in range(12)]
        handles = [easy_get(f"{server.url}{i}", sink.append) for i, sink in enumerate(sinks)]
        started_at = time.monotonic()
        try:
            await asyncio.gather(*(curl_loop.perform(easy) for easy in handles))
            elapsed = time.monotonic() - started_at
        finally:
            curl_loop.close()
            await server.stop()
        assert elapsed < 1.5  # in parallel: about one server delay, not twelve
        for i, sink in enumerate(sinks):
            assert b"".join(sink) == f"/{i}".encode() * 1000
        assert curl_loop.active == 0
    run(scenario())


def test_stream_to_file_with_progress(tmp_path):
    async def scenario():
        server = await started(HttpServer(gzip_if_accepted))
        curl_loop = CurlLoop()
        progress = []
        target = tmp_path / "download"
        try:
            with open(target, "wb") as sink:
                easy = pycurl.Curl()
                easy.setopt(pycurl.URL, server.url)
                easy.setopt(pycurl.WRITEDATA, sink)
                await curl_loop.perform(
                    easy, progress=lambda dt, dn, ut, un: progress.append(dn))
            assert easy.getinfo(pycurl.RESPONSE_CODE) == 200
        finally:
            curl_loop.close()
            await server.stop()
        assert target.stat().st_size == 50_017 and max(progress) == 50_017
    run(scenario())


def test_progress_callback_can_abort():
    async def scenario():
        server = await started(HttpServer(gzip_if_accepted))
        curl_loop = CurlLoop()
        try:
            with pytest.raises(TransportError) as error:
                await curl_loop.perform(easy_get(server.url, len), progress=lambda *a: 1)
        finally:
            curl_loop.close()
            await server.stop()
        assert error.value.code == pycurl.E_ABORTED_BY_CALLBACK
    run(scenario())


def test_cancellation_removes_the_transfer_and_the_handle_is_reusable():
    async def scenario():
        server = await started(HttpServer(stall))
        good = await started(HttpServer(answer_ok))
        curl_loop = CurlLoop()
        sink = []
        easy = easy_get(server.url, sink.append)
        try:
            task = asyncio.create_task(curl_loop.perform(easy))
            while not server.requests:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert curl_loop.active == 0
            easy.setopt(pycurl.URL, good.url)
            await curl_loop.perform(easy)
            assert b"".join(sink) == b"ok"
        finally:
            curl_loop.close()
            await server.stop()
            await good.stop()
    run(scenario())


def test_close_fails_pending_transfers():
    async def scenario():
        server = await started(HttpServer(stall))
        curl_loop = CurlLoop()
        try:
            task = asyncio.create_task(curl_loop.perform(easy_get(server.url, len)))
            while not server.requests:
                await asyncio.sleep(0.01)
            curl_loop.close()
            with pytest.raises(TransportError):
                await task
            with pytest.raises(RuntimeError):
                await curl_loop.perform(easy_get(server.url, len))
        finally:
            await server.stop()
    run(scenario())


def test_closing_the_client_aborts_its_post():
    async def scenario():
        server = await started(HttpServer(stall))
        curl_loop = CurlLoop()
        client = AcsClient(curl_loop, server.url)
        try:
            task = asyncio.create_task(client.post(inform()))
            while not server.requests:
                await asyncio.sleep(0.01)
            client.close()
            with pytest.raises(TransportError) as error:
                await task
            assert error.value.code == pycurl.E_ABORTED_BY_CALLBACK and curl_loop.active == 0
            with pytest.raises(RuntimeError):
                await client.post(b"")
        finally:
            curl_loop.close()
            await server.stop()
    run(scenario())
