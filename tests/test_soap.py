"""SOAP codec: real-world message forms, round trips of every RPC, hostile input, argument checks."""

import random
from datetime import datetime, timedelta, timezone, UTC

import pytest

from icwmpy.cwmp import soap
from icwmpy.cwmp.rpcs import RPCS
from icwmpy.cwmp.xsdtypes import UNKNOWN_TIME, format_datetime, parse_datetime
from icwmpy.faults import CwmpFault
import testdata
from forms import QUIRKS
from xsd import SAMPLES


def message(body, header='<cwmp:ID soap:mustUnderstand="1">42</cwmp:ID>',
            ns="urn:dslforum-org:cwmp-1-2"):
    """A hand-written envelope, for input that soap.build would never produce."""
    return (f'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
            f'xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" '
            f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:cwmp="{ns}">'
            f"<soap:Header>{header}</soap:Header><soap:Body>{body}</soap:Body>"
            f"</soap:Envelope>").encode()


def fault_of(data, **kw):
    with pytest.raises(CwmpFault) as info:
        soap.parse(data, **kw)
    return info.value


# -- real messages ------------------------------------------------------------------------

@testdata.each_capture
def test_every_capture_parses(path):
    env = soap.parse(path.read_bytes())
    assert env.method and env.ns.startswith("urn:dslforum-org:cwmp-1-") and env.id


def quirk(name):
    return soap.parse(QUIRKS[name])


def test_array_and_struct_quirks():
    assert quirk("clark_array_type").args["ParameterNames"] == ["A.b", "A.c", "A.d"]
    env = quirk("prefixed_structs")
    assert env.hold_requests is True and env.id == "q-1"
    assert env.args == {"ParameterKey": "InitConfig", "ParameterList": [
        ("A.Enable", "true", "boolean"), ("A.Interval", "60", "unsignedInt")]}
    transfers = quirk("transfer_per_element").args["TransferList"]
    assert [(t["CommandKey"], t["IsDownload"]) for t in transfers] == [("k1", True), ("k2", False)]
    env = quirk("du_operations")
    assert [op["Operation"] for op in env.args["Operations"]] == ["Install", "Update", "Uninstall"]
    assert env.args["Operations"][2] == {"Operation": "Uninstall", "UUID": "u-2",
                                         "Version": None, "ExecutionEnvRef": "env2"}
    assert quirk("du_results").args["Results"][0]["Fault"] == {"FaultCode": 0, "FaultString": ""}
    assert quirk("base64_array").args == {"VoucherList": [b"Voucher1"]}
    assert quirk("negative_retries").args["TimeWindowList"][0]["MaxRetries"] == -1


def test_inform_quirks():
    env = quirk("malformed_current_time")      # kept as text, for the ACS to judge
    assert env.args["CurrentTime"] == "2019-03-05T11:54::14"
    assert env.args["DeviceId"]["OUI"] == "00a859" and env.args["RetryCount"] == 942
    env = quirk("zoned_current_time")
    assert env.args["CurrentTime"] == datetime(2016, 1, 30, 12, 20, 27, tzinfo=UTC)
    assert env.ns == "urn:dslforum-org:cwmp-1-0" and len(env.args["ParameterList"]) == 2
    env = quirk("naive_current_time")
    assert env.args["CurrentTime"] == datetime(2015, 1, 19, 23, 8, 24)  # no zone: naive
    assert env.args["DeviceId"]["Manufacturer"] == "Example"


def test_unknown_method_fault_and_unicode():
    env = quirk("unknown_method")
    assert (env.method, env.args, env.fault) == ("NoSuchMethod", {}, None)
    env = quirk("soap_fault")
    assert env.method == "Fault" and env.fault.code == 9005
    assert env.fault.message == "No such parameter: Info" and env.fault.details == []
    assert quirk("unicode_values").args["ParameterList"] == [("S", "\u00b4\nX", "string"),
                                                             ("I", "0", "integer")]


# -- round trips ----------------------------------------------------------------------------

def test_samples_cover_every_rpc():
    assert set(SAMPLES) == set(RPCS)


@pytest.mark.parametrize("ns", soap.CWMP_NAMESPACES)
@pytest.mark.parametrize("method", sorted(RPCS))
def test_round_trip(method, ns):
    data = soap.build(method, SAMPLES[method], id="id-7", ns=ns)
    env = soap.parse(data)
    assert (env.method, env.ns, env.id, env.fault) == (method, ns, "id-7", None)
    assert soap.build(method, env.args, id="id-7", ns=ns) == data


def test_round_trip_shapes():
    for method in ("SetParameterValues", "GetParameterNamesResponse", "SetParameterAttributes",
                   "GetParameterAttributesResponse", "ChangeDUState", "SetVouchers",
                   "RequestDownload", "Download", "ScheduleDownload"):
        assert soap.parse(soap.build(method, SAMPLES[method])).args == SAMPLES[method], method
    args = soap.parse(soap.build("DownloadResponse", SAMPLES["DownloadResponse"])).args
    assert args == {"Status": 1, "StartTime": SAMPLES["DownloadResponse"]["StartTime"],
                    "CompleteTime": UNKNOWN_TIME}
    values = {"ParameterList": [("A.b", "x", "xsd:int"), ("A.c", "", None)]}
    args = soap.parse(soap.build("GetParameterValuesResponse", values)).args
    assert args == {"ParameterList": [("A.b", "x", "int"), ("A.c", "", "string")]}


def test_headers_round_trip():
    data = soap.build("InformResponse", {"MaxEnvelopes": 1}, id="a b", hold_requests=False,
                      use_version="1.4", ns="urn:dslforum-org:cwmp-1-4")
    env = soap.parse(data)
    assert (env.id, env.hold_requests, env.use_version, env.ns) == (
        "a b", False, "1.4", "urn:dslforum-org:cwmp-1-4")
    env = soap.parse(soap.build("Inform", SAMPLES["Inform"], session_timeout=60,
                                supported_versions="1.0,1.1,1.2,1.3,1.4"))
    assert (env.session_timeout, env.supported_versions, env.id) == (
        60, "1.0,1.1,1.2,1.3,1.4", None)
    assert b"Header" not in soap.build("GetRPCMethods")


def test_must_understand_headers():
    header = ('<cwmp:ID soap:mustUnderstand="1">1</cwmp:ID>'
              '<x:Auth xmlns:x="urn:x" soap:mustUnderstand="1">t</x:Auth>'
              '<x:Hint xmlns:x="urn:x">t</x:Hint><cwmp:NewThing soap:mustUnderstand="true"/>'
              '<cwmp:NoMoreRequests>1</cwmp:NoMoreRequests>')
    env = soap.parse(message("<cwmp:GetRPCMethods/>", header))
    assert env.must_understand == ["{urn:x}Auth", "{urn:dslforum-org:cwmp-1-2}NewThing"]
    assert env.no_more_requests is True


def test_faults_round_trip():
    fault = CwmpFault(9003, details=[("Device.A", 9007, "bad <value> & more"),
                                     ("Device.B", 9008, "")])
    data = soap.build_fault(fault, id="f1", ns="urn:dslforum-org:cwmp-1-0")
    assert b"<faultcode>Client</faultcode>" in data and b"<faultstring>CWMP fault<" in data
    env = soap.parse(data)
    assert (env.method, env.id, env.ns) == ("Fault", "f1", "urn:dslforum-org:cwmp-1-0")
    assert (env.fault.code, env.fault.message, env.fault.details) == (
        9003, "Invalid arguments", fault.details)
    assert b"<faultcode>Server</faultcode>" in soap.build_fault(CwmpFault(9002))
    env = soap.parse(soap.build_fault(CwmpFault(8005, "Retry request")))
    assert (env.fault.code, env.fault.message) == (8005, "Retry request")


def test_bare_soap_fault_is_internal_error():
    env = soap.parse(message("<soap:Fault><faultcode>soap:Server</faultcode>"
                             "<faultstring> boom </faultstring></soap:Fault>"))
    assert (env.fault.code, env.fault.message) == (9002, "boom")


# -- tolerance ----------------------------------------------------------------------------

def test_tolerated_forms():
    body = """<GetParameterValues xmlns="urn:dslforum-org:cwmp-1-4">
      <ParameterNames xmlns="" soapenc:arrayType="xsd:string[7]">
        <string>
          Device.DeviceInfo.
        </string><x:string xmlns:x="urn:other">Device.Time.</x:string>
      </ParameterNames></GetParameterValues>"""
    env = soap.parse(message(body, header=""))
    assert env.ns == "urn:dslforum-org:cwmp-1-4" and env.id is None
    assert env.args == {"ParameterNames": ["Device.DeviceInfo.", "Device.Time."]}
    env = soap.parse(message("<cwmp:GetParameterNames><ParameterPath/>"
                             "<NextLevel> false </NextLevel></cwmp:GetParameterNames>"))
    assert env.args == {"ParameterPath": "", "NextLevel": False}
    # no namespace at all on the method; values with odd xsi:type prefixes keep spaces
    env = soap.parse(message("<SetParameterValues><ParameterList><ParameterValueStruct>"
                             "<Name>A.b</Name><Value xsi:type='q:string'> x </Value>"
                             "</ParameterValueStruct></ParameterList><ParameterKey/>"
                             "</SetParameterValues>", header=""))
    assert env.args == {"ParameterList": [("A.b", " x ", "string")], "ParameterKey": ""}
    assert env.ns == soap.DEFAULT_NS
    env = soap.parse(message("<cwmp:Reboot><CommandKey>é✓</CommandKey></cwmp:Reboot>")
                     .replace(b"<soap:Envelope", b'<soap:Envelope soap:encodingStyle='
                              b'"http://schemas.xmlsoap.org/soap/encoding/"'))
    assert env.args == {"CommandKey": "é✓"}


def test_foreign_namespace_method_is_unknown():
    env = soap.parse(message('<v:Reboot xmlns:v="urn:v"><CommandKey>x</CommandKey></v:Reboot>'))
    assert (env.method, env.args, env.ns) == ("{urn:v}Reboot", {}, "urn:dslforum-org:cwmp-1-2")


@pytest.mark.parametrize("data", [b"", b"  \r\n\t", "  "])
def test_empty_body_is_none(data):
    assert soap.parse(data) is None


# -- hostile and malformed input --------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&lol3;
</soap:Body></soap:Envelope>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<cwmp:Reboot xmlns:cwmp="urn:dslforum-org:cwmp-1-2"><CommandKey>&xxe;</CommandKey></cwmp:Reboot>
</soap:Body></soap:Envelope>"""
EXTERNAL_DTD = b"""<!DOCTYPE e SYSTEM "http://127.0.0.1:1/evil.dtd"><e/>"""


@pytest.mark.parametrize("data", [
    b"not xml", b"<soap:Envelope", b"<a></b>", BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD,
    b"<Envelope><Body><Reboot/></Body></Envelope>",
    b'<?xml version="1.0" encoding="no-such-codec"?><a/>',
    b"\xff\xfe\x00garbage", b"<a>\x00</a>",
    message("").replace(b"<soap:Body></soap:Body>", b""),
    message(""),
], ids=range(12))
def test_malformed_is_9003(data):
    fault = fault_of(data)
    assert fault.code == 9003 and fault.faultcode == "Client"


def test_oversized_is_9004():
    data = message("<cwmp:GetRPCMethods/>")
    assert soap.parse(data, max_size=len(data)).method == "GetRPCMethods"
    assert fault_of(data, max_size=len(data) - 1).code == 9004


def test_deep_nesting_and_element_floods_are_9004_before_a_tree_is_built():
    def nested(depth):  # Envelope, Body and the method are 3 levels
        inner = "<a>" * (depth - 3) + "</a>" * (depth - 3)
        return message(f"<cwmp:GetRPCMethods>{inner}</cwmp:GetRPCMethods>")
    assert soap.parse(nested(soap.MAX_DEPTH)).method == "GetRPCMethods"
    for depth in (soap.MAX_DEPTH + 1, 50000):
        assert fault_of(nested(depth)).code == 9004
    flood = "<a/>" * (soap.MAX_ELEMENTS - 5)  # Envelope, Header, ID, Body, method
    assert soap.parse(message(f"<cwmp:GetRPCMethods>{flood}</cwmp:GetRPCMethods>"))
    assert fault_of(message(f"<cwmp:GetRPCMethods>{flood}<a/></cwmp:GetRPCMethods>")).code == 9004
    fault_of(message("<cwmp:Download>" + "<CommandKey>" * 20000 + "</CommandKey>" * 20000
                     + "</cwmp:Download>"))


@pytest.mark.parametrize("corpus", ["quirks", pytest.param("captures",
                                                         marks=testdata.needs("captures"))])
def test_mutated_messages_never_crash(corpus):
    rng = random.Random(1234)
    seeds = (list(QUIRKS.values()) if corpus == "quirks"
             else [p.read_bytes() for p in testdata.captures()])
    tokens = [b"<", b">", b"/", b"&", b"&amp;", b'"', b"\x00", b"\xc3", b"-1", b"99999999999",
              b"xsi:type=\"x:y\"", b"</Value>", b"<Name>", b":", b" "]
    for _ in range(1500):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.4:
                del data[at:at + rng.randint(1, 30)]
            elif choice < 0.8:
                data[at:at] = rng.choice(tokens)
            else:
                data[at] = rng.randrange(256)
        try:
            result = soap.parse(bytes(data))
        except CwmpFault as fault:
            assert 9000 <= fault.code <= 9004
        else:
            assert result is None or isinstance(result, soap.Envelope)


def test_message_fault_carries_envelope():
    fault = fault_of(message(f"<cwmp:Reboot><CommandKey>{'k' * 33}</CommandKey></cwmp:Reboot>"))
    assert isinstance(fault, soap.MessageFault)
    assert (fault.envelope.id, fault.envelope.method, fault.envelope.ns) == (
        "42", "Reboot", "urn:dslforum-org:cwmp-1-2")
    assert "CommandKey" in fault.message
    fault = fault_of(message("<cwmp:Reboot/>", "<cwmp:HoldRequests>maybe</cwmp:HoldRequests>"))
    assert fault.code == 9003 and fault.envelope.method is None


# -- argument checks ------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    "<cwmp:Reboot><CommandKey>" + "k" * 33 + "</CommandKey></cwmp:Reboot>",
    "<cwmp:Reboot/>",
    "<cwmp:SetParameterValues><ParameterList/></cwmp:SetParameterValues>",
    "<cwmp:SetParameterValues><ParameterList><ParameterValueStruct><Name>A</Name>"
    "</ParameterValueStruct></ParameterList><ParameterKey/></cwmp:SetParameterValues>",
    "<cwmp:SetParameterValues><ParameterList/><ParameterKey>" + "p" * 33
    + "</ParameterKey></cwmp:SetParameterValues>",
    "<cwmp:GetParameterNames><ParameterPath>A.</ParameterPath><NextLevel>yes</NextLevel>"
    "</cwmp:GetParameterNames>",
    "<cwmp:GetParameterNames><ParameterPath>" + "a" * 257 + "</ParameterPath>"
    "<NextLevel>1</NextLevel></cwmp:GetParameterNames>",
    "<cwmp:ScheduleInform><DelaySeconds>-1</DelaySeconds><CommandKey/></cwmp:ScheduleInform>",
    "<cwmp:ScheduleInform><DelaySeconds>4294967296</DelaySeconds><CommandKey/>"
    "</cwmp:ScheduleInform>",
    "<cwmp:ScheduleInform><DelaySeconds>1.5</DelaySeconds><CommandKey/></cwmp:ScheduleInform>",
    "<cwmp:ScheduleInform><DelaySeconds>\u0663</DelaySeconds><CommandKey/></cwmp:ScheduleInform>",
    "<cwmp:ScheduleInform><DelaySeconds>" + "9" * 5000 + "</DelaySeconds><CommandKey/>"
    "</cwmp:ScheduleInform>",
    "<cwmp:SetParameterAttributes><ParameterList><SetParameterAttributesStruct><Name>A</Name>"
    "<NotificationChange>1</NotificationChange><Notification>7</Notification>"
    "<AccessListChange>0</AccessListChange><AccessList/></SetParameterAttributesStruct>"
    "</ParameterList></cwmp:SetParameterAttributes>",
    "<cwmp:SetVouchers><VoucherList><base64>not base64!</base64></VoucherList></cwmp:SetVouchers>",
    "<cwmp:ChangeDUState><Operations xsi:type='cwmp:RebootOpStruct'/></cwmp:ChangeDUState>",
    "<cwmp:ChangeDUState><Operations xsi:type='cwmp:InstallOpStruct'/></cwmp:ChangeDUState>",
    "<cwmp:Download><CommandKey/><FileType>1 Firmware Upgrade Image</FileType><URL>"
    + "u" * 257 + "</URL><Username/><Password/><FileSize>0</FileSize><TargetFileName/>"
    "<DelaySeconds>0</DelaySeconds><SuccessURL/><FailureURL/></cwmp:Download>",
    "<cwmp:ScheduleDownload><CommandKey/><FileType>1 Firmware Upgrade Image</FileType>"
    "<URL>http://x/</URL><Username/><Password/><FileSize>0</FileSize><TargetFileName/>"
    "<TimeWindowList>" + "<TimeWindowStruct><WindowStart>0</WindowStart><WindowEnd>1</WindowEnd>"
    "<WindowMode>1 At Any Time</WindowMode><UserMessage/><MaxRetries>0</MaxRetries>"
    "</TimeWindowStruct>" * 3 + "</TimeWindowList></cwmp:ScheduleDownload>",
], ids=["long-commandkey", "missing-commandkey", "missing-parameterkey", "missing-value",
        "long-parameterkey", "bad-boolean", "long-path", "negative-uint", "uint-overflow",
        "float-uint", "arabic-digit", "huge-int", "notification-7", "bad-base64", "unknown-du-op",
        "install-without-url", "long-url", "three-time-windows"])
def test_invalid_arguments_are_9003(body):
    fault = fault_of(message(body))
    assert fault.code == 9003, fault


def test_limits_are_inclusive():
    env = soap.parse(message(f"<cwmp:Reboot><CommandKey> {'k' * 32} </CommandKey></cwmp:Reboot>"))
    assert env.args == {"CommandKey": "k" * 32}


# -- output details -------------------------------------------------------------------------

def test_text_is_escaped_and_always_valid_xml():
    nasty = "a\x00b\x1fc\ud800d\ufffe <&>\"' ]]> \r\n\t end"
    data = soap.build("GetParameterValuesResponse", {"ParameterList": [("A.b", nasty, None)]},
                      id='"<id>"')
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    env = soap.parse(data)
    assert env.id == '"<id>"'
    assert env.args["ParameterList"][0][1] == "a\ufffdb\ufffdc\ufffdd\ufffd <&>\"' ]]> \r\n\t end"


def test_build_rejects_what_the_table_does_not_allow():
    with pytest.raises(ValueError, match="unknown CWMP method"):
        soap.build("Frobnicate", {})
    with pytest.raises(ValueError, match="missing argument 'CommandKey'"):
        soap.build("Reboot", {})
    with pytest.raises(ValueError, match="unknown argument"):
        soap.build("Reboot", {"CommandKey": "", "Delay": 1})
    with pytest.raises(ValueError, match="tuple"):
        soap.build("GetParameterValuesResponse", {"ParameterList": [{"Name": "x"}]})
    with pytest.raises(ValueError, match="Operation"):
        soap.build("ChangeDUState", {"Operations": [{"URL": "x"}]})


def test_datetimes():
    assert format_datetime(None) == "0001-01-01T00:00:00Z"
    assert format_datetime(UNKNOWN_TIME) == "0001-01-01T00:00:00Z"
    cet = timezone(timedelta(hours=-3, minutes=-30))
    assert format_datetime(datetime(2024, 1, 2, 3, 4, 5, 120000, cet)) == \
        "2024-01-02T03:04:05.12-03:30"
    assert format_datetime(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05Z"
    assert parse_datetime("2024-01-02T03:04:05.1234567-03:30") == \
        datetime(2024, 1, 2, 3, 4, 5, 123456, cet)
    assert parse_datetime("0001-01-01T00:00:00Z") == UNKNOWN_TIME
    for bad in ("2024-01-02", "2024-13-01T00:00:00Z", "2024-01-01 00:00:00", "x"):
        with pytest.raises(ValueError):
            parse_datetime(bad)


def test_rpc_table_metadata():
    assert RPCS["ChangeDUState"].since == 2 and RPCS["GetAllQueuedTransfersResponse"].since == 1
    assert RPCS["Inform"].receivers == {"acs"} and RPCS["InformResponse"].receivers == {"cpe"}
    assert RPCS["GetRPCMethods"].receivers == {"acs", "cpe"}
    assert all(name.endswith("Response") or name + "Response" in RPCS for name in RPCS)
