"""The test ACS itself: its parsing, session script and GenieACS-like strictness.

Other tests trust tests/acs.py to tell a correct CPE from a broken one, so it is checked
here, with the transport as the CPE's wire (plus raw libcurl where the point is libcurl's
own behaviour).
"""

import pycurl
import pytest

import acs as A
import testdata
from icwmpy.transport import AcsClient, CurlLoop


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


# An Inform and a Fault as a real CPE writes them (facts from catawampus' Google Fiber logs):
# the soap-enc prefix, an unprefixed arrayType, empty self-closed CommandKeys, a vendor
# "M TRANSFERCOMPLETE" event, fractional seconds, an IPv6 URL, a Fault inside soap:Fault.
CPE_INFORM = b"""<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:cwmp="urn:dslforum-org:cwmp-1-2"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:soap-enc="http://schemas.xmlsoap.org/soap/encoding/"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <soap:Header>
    <cwmp:ID soap:mustUnderstand="1">cpe.1700000000.123456</cwmp:ID>
  </soap:Header>
  <soap:Body>
    <cwmp:Inform>
      <DeviceId>
        <Manufacturer>Example</Manufacturer>
        <OUI>0C2A86</OUI>
        <ProductClass>Box</ProductClass>
        <SerialNumber>SN42</SerialNumber>
      </DeviceId>
      <Event soap-enc:arrayType="EventStruct[2]">
        <EventStruct>
          <EventCode>0 BOOTSTRAP</EventCode>
          <CommandKey />
        </EventStruct>
        <EventStruct>
          <EventCode>M TRANSFERCOMPLETE</EventCode>
          <CommandKey />
        </EventStruct>
      </Event>
      <MaxEnvelopes>1</MaxEnvelopes>
      <CurrentTime>2024-05-17T08:30:00.123456Z</CurrentTime>
      <RetryCount>0</RetryCount>
      <ParameterList soap-enc:arrayType="cwmp:ParameterValueStruct[2]">
        <ParameterValueStruct>
          <Name>InternetGatewayDevice.ManagementServer.ConnectionRequestURL</Name>
          <Value xsi:type="xsd:string">http://[2001:db8::1]:7547/cr/0123abcd</Value>
        </ParameterValueStruct>
        <ParameterValueStruct>
          <Name>InternetGatewayDevice.DeviceInfo.SoftwareVersion</Name>
          <Value xsi:type="xsd:string">fw-1.2-pre3-g0123abc</Value>
        </ParameterValueStruct>
      </ParameterList>
    </cwmp:Inform>
  </soap:Body>
</soap:Envelope>
"""
CPE_FAULT = b"""<soap:Envelope xmlns:cwmp="urn:dslforum-org:cwmp-1-2"
    xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Header><cwmp:ID soap:mustUnderstand="1">acs.1700000000.7</cwmp:ID></soap:Header>
  <soap:Body>
    <soap:Fault>
      <faultcode>Client</faultcode>
      <faultstring>CWMP fault</faultstring>
      <detail>
        <cwmp:Fault><FaultCode>9005</FaultCode><FaultString>No such parameter: X</FaultString></cwmp:Fault>
      </detail>
    </soap:Fault>
  </soap:Body>
</soap:Envelope>
"""


def test_parse_real_inform_and_fault_forms():
    envelope = A.parse_envelope(CPE_INFORM)
    assert envelope.method == "Inform" and envelope.ns == "urn:dslforum-org:cwmp-1-2"
    assert envelope.id == "cpe.1700000000.123456"
    events = [e["EventCode"] for e in envelope.body["Event"]]
    assert events == ["0 BOOTSTRAP", "M TRANSFERCOMPLETE"]
    assert envelope.body["ParameterList"][1]["Value"] == "fw-1.2-pre3-g0123abc"
    fault = A.parse_envelope(CPE_FAULT)
    assert fault.method == "Fault"
    assert fault.body["detail"]["Fault"]["FaultCode"] == "9005"


@testdata.each_capture
def test_every_capture_parses(path):
    assert A.parse_envelope(path.read_bytes()).method


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
