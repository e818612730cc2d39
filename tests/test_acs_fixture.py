"""The test ACS itself: its parsing, session script and GenieACS-like strictness.

Other tests trust tests/acs.py to tell a correct CPE from a broken one, so it is checked
here, with the transport as the CPE's wire (plus raw libcurl where the point is libcurl's
own behaviour).
"""

from pathlib import Path

import pycurl
import pytest

import acs as A
from icwmpy.transport import AcsClient, CurlLoop

CAPTURES = Path("/work/shared/captures")


class Cpe:
    """The CPE's wire for one session: an AcsClient on its own CurlLoop."""

    def __init__(self, url, **options):
        self.curl_loop = CurlLoop()
        self.client = AcsClient(self.curl_loop, url, **options)

    async def post(self, body=b""):
        return await self.client.post(body)

    def close(self):
        self.client.close()
        self.curl_loop.close()


async def with_acs(acs, scenario):
    await acs.start()
    cpe = Cpe(acs.url, username=acs.username, password=acs.password)
    try:
        return await scenario(acs, cpe)
    finally:
        cpe.close()
        await acs.stop()


def test_parse_real_inform_and_fault():
    path = CAPTURES / "catawampus" / "cwmplog_test_01_Inform.xml"
    if not path.exists():
        pytest.skip("shared captures not available")
    envelope = A.parse_envelope(path.read_bytes())
    assert envelope.method == "Inform" and envelope.ns == "urn:dslforum-org:cwmp-1-2"
    assert envelope.id == "catawampus.1370208445.785391"
    events = [e["EventCode"] for e in envelope.body["Event"]]
    assert events == ["0 BOOTSTRAP", "M TRANSFERCOMPLETE"]
    assert envelope.body["ParameterList"][3]["Value"] == "gfibertv-32-pre0-14-g8ed95de-dg"
    fault = A.parse_envelope((CAPTURES / "catawampus" / "cwmplog_test_08_Fault.xml").read_bytes())
    assert fault.method == "Fault"
    assert fault.body["detail"]["Fault"]["FaultCode"] == "9005"


def test_templates_round_trip():
    spv = A.parse_envelope(A.set_parameter_values([("A.B", "x<&>"), ("A.C", 5, "xsd:int")], "k"))
    assert spv.method == "SetParameterValues" and spv.body["ParameterKey"] == "k"
    assert spv.body["ParameterList"][0] == {"Name": "A.B", "Value": "x<&>"}
    gpv = A.parse_envelope(A.get_parameter_values("Device.", cwmp_id="7", hold_requests=True))
    assert (gpv.id, gpv.hold_requests, gpv.body["ParameterNames"]) == ("7", True, ["Device."])
    download = A.parse_envelope(A.download("http://127.0.0.1/fw", key="dl"))
    assert download.body["URL"] == "http://127.0.0.1/fw" and download.body["CommandKey"] == "dl"
    with pytest.raises(ValueError):
        A.parse_envelope(b"<notsoap/>")


def test_session_script_and_recording():
    async def scenario(acs, cpe):
        acs.queue(A.get_parameter_values("Device.DeviceInfo."),
                  lambda session: A.reboot(f"key-{session.number}", ns=session.ns))
        answer = A.parse_envelope((await cpe.post(A.inform(
            [("1 BOOT", ""), ("M Reboot", "rk")], [("Device.DeviceInfo.SerialNumber", "S1")],
            cwmp_id="inform-1"))).body)
        assert (answer.method, answer.id, answer.body) == ("InformResponse", "inform-1",
                                                          {"MaxEnvelopes": "1"})
        transfer = A.parse_envelope((await cpe.post(A.envelope(
            "TransferComplete", "<CommandKey>dl</CommandKey>", cwmp_id="tc"))).body)
        assert (transfer.method, transfer.id) == ("TransferCompleteResponse", "tc")
        unknown = A.parse_envelope((await cpe.post(A.envelope("Bogus"))).body)
        assert unknown.body["detail"]["Fault"]["FaultCode"] == "8000"
        gpv = A.parse_envelope((await cpe.post(b"")).body)
        assert gpv.method == "GetParameterValues"
        reboot = A.parse_envelope((await cpe.post(A.envelope(
            "GetParameterValuesResponse", "<ParameterList/>", cwmp_id=gpv.id))).body)
        assert (reboot.method, reboot.body["CommandKey"]) == ("Reboot", "key-1")
        assert (await cpe.post(A.envelope("RebootResponse", cwmp_id=reboot.id))).status == 204

        session = await acs.wait_session(1)
        assert session.events == [("1 BOOT", ""), ("M Reboot", "rk")]
        assert session.parameters == {"Device.DeviceInfo.SerialNumber": "S1"}
        assert session.methods == ["Inform", "TransferComplete", "Bogus",
                                   "GetParameterValuesResponse", "RebootResponse"]
        assert session.messages[3].id == gpv.id and session.empty_posts == 1
        assert len(session.sent) == 2 and session.connections == {1}
        seen, message = await acs.wait_message("TransferComplete")
        assert seen is session and message.parsed == {"CommandKey": "dl"}
        with pytest.raises(TimeoutError):
            await acs.wait_message("TransferComplete", timeout=0.05)
    A.run(with_acs(A.Acs(), scenario))


def test_hold_requests_header():
    async def scenario(acs, cpe):
        answer = A.parse_envelope((await cpe.post(A.inform())).body)
        assert answer.hold_requests is True
    A.run(with_acs(A.Acs(hold_requests=True), scenario))


def test_posts_without_the_session_cookie_are_refused():
    async def scenario(acs, cpe):
        assert (await cpe.post(A.inform())).status == 200
        cookieless = Cpe(acs.url)  # another handle: no cookie jar shared
        try:
            assert (await cookieless.post(b"")).status == 400
        finally:
            cookieless.close()
        assert (await cpe.post(b"")).status == 204
        assert [status for status, _, _ in acs.rejected] == [400]
    A.run(with_acs(A.Acs(), scenario))


def test_without_require_cookie_the_connection_finds_the_session():
    async def scenario(acs, cpe):
        assert (await cpe.post(A.inform())).status == 200
        cpe.client._easy.setopt(pycurl.COOKIELIST, "ALL")  # forget the cookie
        assert (await cpe.post(b"")).status == 204
        assert acs.sessions[0].ended and not acs.rejected
    A.run(with_acs(A.Acs(require_cookie=False), scenario))


def test_libcurl_own_digest_probe_is_refused_like_genieacs():
    """Why AcsClient answers Digest itself: libcurl first POSTs an empty body."""
    async def scenario(acs, cpe):
        easy = pycurl.Curl()
        easy.setopt(pycurl.URL, acs.url)
        easy.setopt(pycurl.HTTPAUTH, pycurl.HTTPAUTH_DIGEST)
        easy.setopt(pycurl.USERPWD, "cpe:pw")
        easy.setopt(pycurl.POSTFIELDS, A.inform())
        easy.setopt(pycurl.WRITEFUNCTION, len)
        await cpe.curl_loop.perform(easy)
        assert easy.getinfo(pycurl.RESPONSE_CODE) == 400
        assert acs.requests[0].body == b"" and not acs.sessions
    A.run(with_acs(A.Acs("digest", "cpe", "pw"), scenario))


@pytest.mark.parametrize("per_connection", [True, False])
def test_nonce_scope_and_replayed_nc(per_connection):
    async def scenario(acs, cpe):
        assert (await cpe.post(A.inform())).status == 200
        acs.drop_connection_next()  # libcurl resends on a new connection, same Authorization
        assert (await cpe.post(b"")).status == 204
        challenges = [status for status, _, _ in acs.rejected]
        assert challenges == ([401, 401] if per_connection else [401])
        replay = acs.requests[1]  # the first authorized request, nc=1, again
        response = await acs._handle(replay)
        assert response.status == 401
        assert "stale=true" in dict(response.headers)["WWW-Authenticate"]
    A.run(with_acs(A.Acs("digest", "cpe", "pw", nonce_per_connection=per_connection),
                   scenario))
