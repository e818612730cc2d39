"""The session state machine, fed with byte strings as an ACS would answer."""

import datetime

import acs as A
from icwmpy.cwmp import soap
from icwmpy.cwmp.session import CpeRequest, Done, Failed, Handle, Send, Session
from icwmpy.faults import CwmpFault

INFORM = {"DeviceId": {"Manufacturer": "icwmpy", "OUI": "001122", "ProductClass": "Box",
                       "SerialNumber": "S1"},
          "Event": [("1 BOOT", "")], "MaxEnvelopes": 1,
          "CurrentTime": datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
          "RetryCount": 0, "ParameterList": [("Device.RootDataModelVersion", "2.19", "string")]}


def inform_response(cwmp_id="icwmpy-1", ns=soap.DEFAULT_NS, **header):
    return soap.build("InformResponse", {"MaxEnvelopes": 1}, id=cwmp_id, ns=ns, **header)


def method_of(step):
    return soap.parse(step.body).method if step.body else None


def test_whole_session_with_cpe_requests_and_acs_requests():
    s = Session(INFORM, [CpeRequest("GetRPCMethods", {}, "grm")])
    first = s.start()
    assert soap.parse(first.body).method == "Inform"
    assert soap.parse(first.body).supported_versions is None
    step = s.receive(200, inform_response())
    assert s.informed and method_of(step) == "GetRPCMethods"
    step = s.receive(200, soap.build("GetRPCMethodsResponse", {"MethodList": ["Inform"]}, id="icwmpy-2"))
    assert s.delivered == ["grm"] and step == Send(b"")
    step = s.receive(200, A.get_parameter_values("Device.", cwmp_id="acs-7"))
    assert isinstance(step, Handle) and step.envelope.id == "acs-7"
    step = s.respond(b"<answer/>")
    assert step == Send(b"<answer/>")
    assert s.receive(204, b"") == Done()
    assert s.handled == 1


TRANSFER_COMPLETE = {"CommandKey": "k", "FaultStruct": {"FaultCode": 0, "FaultString": ""},
                     "StartTime": None, "CompleteTime": None}


def test_hold_requests_postpones_cpe_requests_until_the_acs_is_done():
    s = Session(INFORM, [CpeRequest("TransferComplete", TRANSFER_COMPLETE, "t1")])
    s.start()
    step = s.receive(200, inform_response(hold_requests=True))
    assert step == Send(b"") and s.delivered == []
    assert isinstance(s.receive(200, A.get_rpc_methods(hold_requests=True)), Handle)
    s.respond(b"<answer/>")
    step = s.receive(204, b"")          # the ACS has nothing more: now the held request
    assert method_of(step) == "TransferComplete"
    step = s.receive(200, soap.build("TransferCompleteResponse", {}, id="icwmpy-2"))
    assert step == Send(b"") and s.delivered == ["t1"]
    assert s.receive(204, b"") == Done()


def test_8005_from_the_acs_means_send_again():
    s = Session(INFORM)
    first = s.start()
    retry = soap.build_fault(CwmpFault(8005, "Retry request"), id="icwmpy-1")
    again = s.receive(200, retry)
    assert again == first and not s.informed
    assert s.receive(200, inform_response()) == Send(b"")


def test_other_acs_fault_to_inform_fails_and_events_stay():
    s = Session(INFORM)
    s.start()
    step = s.receive(200, A.envelope_fault(8002, "Internal", "icwmpy-1"))
    assert isinstance(step, Failed) and not s.informed


def test_http_errors_and_empty_answers_before_inform_fail():
    for status, body in ((500, b""), (401, b""), (200, b""), (204, b"")):
        s = Session(INFORM)
        s.start()
        assert isinstance(s.receive(status, body), Failed)


def test_answers_in_the_acs_namespace_and_faults_unreadable_requests():
    s = Session(INFORM)
    s.start()
    s.receive(200, inform_response(ns="urn:dslforum-org:cwmp-1-0"))
    assert s.ns == "urn:dslforum-org:cwmp-1-0"
    step = s.receive(200, b"<not-xml")
    fault = soap.parse(step.body)
    assert fault.method == "Fault" and fault.fault.code == 9003
    assert s.receive(200, b"") == Done()


def test_a_refused_acs_request_gets_the_fault_and_a_refused_answer_fails():
    """refuse(): what the runner does with a body the transport stopped reading at its cap."""
    s = Session(INFORM)
    s.start()
    assert isinstance(s.refuse(CwmpFault(9004)), Failed) and not s.informed
    s = Session(INFORM)
    s.start()
    s.receive(200, inform_response())
    fault = soap.parse(s.refuse(CwmpFault(9004)).body)
    assert fault.method == "Fault" and fault.fault.code == 9004 and fault.id is None
    assert isinstance(s.receive(200, A.get_rpc_methods()), Handle)


def test_unknown_must_understand_header_gets_9000():
    s = Session(INFORM)
    s.start()
    s.receive(200, inform_response())
    body = A.get_rpc_methods(cwmp_id="x").replace(
        b"</soap:Header>",
        b'<cwmp:Odd xmlns:cwmp="urn:dslforum-org:cwmp-1-2" '
        b'soap:mustUnderstand="1">1</cwmp:Odd></soap:Header>')
    step = s.receive(200, body)
    answer = soap.parse(step.body)
    assert answer.fault.code == 9000 and answer.id == "x"


def test_request_instead_of_inform_response_fails():
    s = Session(INFORM)
    s.start()
    assert isinstance(s.receive(200, A.get_rpc_methods()), Failed)


# An InformResponse as a production ACS writes it (Google's, in the catawampus logs): an XML
# declaration, the soapenv prefix, indentation, a dotted ID and HoldRequests with mustUnderstand.
ACS_INFORM_RESPONSE = b"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:cwmp="urn:dslforum-org:cwmp-1-2" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <soapenv:Header>
    <cwmp:ID soapenv:mustUnderstand="1">acs.1700000000123.4567</cwmp:ID>
    <cwmp:HoldRequests soapenv:mustUnderstand="1">1</cwmp:HoldRequests>
  </soapenv:Header>
  <soapenv:Body>
    <cwmp:InformResponse>
      <MaxEnvelopes>1</MaxEnvelopes>
    </cwmp:InformResponse>
  </soapenv:Body>
</soapenv:Envelope>
"""


def test_real_acs_inform_response_form():
    s = Session(INFORM, [CpeRequest("GetRPCMethods", {}, "grm")])
    s.start()
    assert s.receive(200, ACS_INFORM_RESPONSE) == Send(b"") and s.informed   # request held
    assert s.hold_requests and s.delivered == []


def test_the_inform_announces_the_session_timeout_where_the_namespace_has_it():
    raw = Session(INFORM, session_timeout=45).start().body
    assert soap.parse(raw).session_timeout == 45
    assert b'<cwmp:SessionTimeout SOAP-ENV:mustUnderstand="0">45</cwmp:SessionTimeout>' in raw
    assert soap.parse(Session(INFORM).start().body).session_timeout is None
    for old in soap.CWMP_NAMESPACES[:2]:  # CWMP 1.0/1.1 schemas have no such header
        assert b"SessionTimeout" not in Session(INFORM, ns=old, session_timeout=45).start().body
    s = Session(INFORM, [CpeRequest("GetRPCMethods", {}, "grm")], session_timeout=45)
    s.start()
    assert b"SessionTimeout" not in s.receive(200, inform_response()).body  # Inform only
