"""The session state machine, fed with byte strings as an ACS would answer."""

import acs as A
from acspeer import INFORM, TRANSFER_COMPLETE
from icwmpy.cwmp import soap
from icwmpy.cwmp.session import (
    MAX_RESENDS, CpeRequest, Delivered, Done, Failed, Handle, Informed, Send, Session, State,
)
from icwmpy.faults import CwmpFault


def inform_response(cwmp_id="icwmpy-1", ns=soap.DEFAULT_NS, **header):
    return soap.build("InformResponse", {"MaxEnvelopes": 1}, id=cwmp_id, ns=ns, **header)


def method_of(step):
    return soap.parse(step.body).method if step.body else None


def inform_of(session):
    (send,) = session.start()
    return send.body


def test_whole_session_with_cpe_requests_and_acs_requests():
    s = Session(INFORM, [CpeRequest("GetRPCMethods", {}, "grm")])
    (first,) = s.start()
    assert soap.parse(first.body).method == "Inform"
    assert soap.parse(first.body).supported_versions is None
    informed, step = s.receive(200, inform_response())
    assert informed == Informed(soap.DEFAULT_NS, 1) and method_of(step) == "GetRPCMethods"
    grm = soap.build("GetRPCMethodsResponse", {"MethodList": ["Inform"]}, id="icwmpy-2")
    assert s.receive(200, grm) == (Delivered("grm"), Send(b""))
    (step,) = s.receive(200, A.get_parameter_values("Device.", cwmp_id="acs-7"))
    assert isinstance(step, Handle) and step.envelope.id == "acs-7"
    assert s.respond(b"<answer/>") == (Send(b"<answer/>"),)
    assert s.receive(204, b"") == (Done(),)
    assert s.handled == 1 and s.state is State.DONE


def test_hold_requests_postpones_cpe_requests_until_the_acs_is_done():
    s = Session(INFORM, [CpeRequest("TransferComplete", TRANSFER_COMPLETE, "t1")])
    s.start()
    assert s.receive(200, inform_response(hold_requests=True)) == (
        Informed(soap.DEFAULT_NS, 1), Send(b""))                      # nothing delivered
    (step,) = s.receive(200, A.get_rpc_methods(hold_requests=True))
    assert isinstance(step, Handle)
    s.respond(b"<answer/>")
    (step,) = s.receive(204, b"")       # the ACS has nothing more: now the held request
    assert method_of(step) == "TransferComplete"
    step = s.receive(200, soap.build("TransferCompleteResponse", {}, id="icwmpy-2"))
    assert step == (Delivered("t1"), Send(b""))
    assert s.receive(204, b"") == (Done(),)


def test_8005_from_the_acs_means_send_again():
    s = Session(INFORM)
    first = s.start()
    retry = soap.build_fault(CwmpFault(8005, "Retry request"), id="icwmpy-1")
    assert s.receive(200, retry) == first                             # not informed yet
    assert s.receive(200, inform_response()) == (Informed(soap.DEFAULT_NS, 1), Send(b""))


def test_informed_carries_the_acs_max_envelopes():
    s = Session(INFORM)
    s.start()
    answer = soap.build("InformResponse", {"MaxEnvelopes": 2}, id="icwmpy-1")
    assert s.receive(200, answer) == (Informed(soap.DEFAULT_NS, 2), Send(b""))


def test_8005_more_than_max_resends_times_fails():
    s = Session(INFORM)
    first = s.start()
    retry = soap.build_fault(CwmpFault(8005, "Retry request"), id="icwmpy-1")
    for _ in range(MAX_RESENDS):
        assert s.receive(200, retry) == first
    (step,) = s.receive(200, retry)
    assert isinstance(step, Failed) and "8005" in step.reason and s.state is State.FAILED


def test_other_acs_fault_to_inform_fails_and_events_stay():
    s = Session(INFORM)
    s.start()
    (step,) = s.receive(200, A.envelope_fault(8002, "Internal", "icwmpy-1"))
    assert isinstance(step, Failed)                                   # no Informed


def test_http_errors_and_empty_answers_before_inform_fail():
    for status, body, reason in (
            (500, b"", "HTTP status 500"), (401, b"", "HTTP status 401"),
            (400, inform_response(), "HTTP status 400"),     # whatever the body says
            (200, b"", "empty answer (HTTP 200) before the InformResponse"),
            (204, inform_response(), "empty answer (HTTP 204) before the InformResponse")):
        s = Session(INFORM)
        s.start()
        assert s.receive(status, body) == (Failed(reason),) and s.state is State.FAILED


def test_answers_in_the_acs_namespace_and_faults_unreadable_requests():
    s = Session(INFORM)
    s.start()
    assert s.receive(200, inform_response(ns="urn:dslforum-org:cwmp-1-0"))[0] == Informed(
        "urn:dslforum-org:cwmp-1-0", 1)
    assert s.ns == "urn:dslforum-org:cwmp-1-0"
    (step,) = s.receive(200, b"<not-xml")
    fault = soap.parse(step.body)
    assert fault.method == "Fault" and fault.fault.code == 9003
    assert fault.ns == "urn:dslforum-org:cwmp-1-0"
    assert s.receive(200, b"") == (Done(),)


def test_a_refused_acs_request_gets_the_fault_and_a_refused_answer_fails():
    """refuse(): what the runner does with a body the transport stopped reading at its cap."""
    s = Session(INFORM)
    s.start()
    (step,) = s.refuse(CwmpFault(9004))
    assert isinstance(step, Failed)                                   # no Informed
    s = Session(INFORM)
    s.start()
    s.receive(200, inform_response())
    (step,) = s.refuse(CwmpFault(9004))
    fault = soap.parse(step.body)
    assert fault.method == "Fault" and fault.fault.code == 9004 and fault.id is None
    assert s.handled == 1
    (step,) = s.receive(200, A.get_rpc_methods())
    assert isinstance(step, Handle)


def test_unknown_must_understand_header_gets_9000():
    s = Session(INFORM)
    s.start()
    s.receive(200, inform_response())
    body = A.get_rpc_methods(cwmp_id="x").replace(
        b"</soap:Header>",
        b'<cwmp:Odd xmlns:cwmp="urn:dslforum-org:cwmp-1-2" '
        b'soap:mustUnderstand="1">1</cwmp:Odd></soap:Header>')
    (step,) = s.receive(200, body)
    answer = soap.parse(step.body)
    assert answer.fault.code == 9000 and answer.id == "x" and s.state is State.ACS_TURN
    assert answer.ns == A.CWMP_NS != s.ns           # in the namespace of the request


def test_request_instead_of_inform_response_fails():
    s = Session(INFORM)
    s.start()
    (step,) = s.receive(200, A.get_rpc_methods())
    assert isinstance(step, Failed)


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
    assert s.receive(200, ACS_INFORM_RESPONSE) == (Informed(soap.DEFAULT_NS, 1), Send(b""))
    (step,) = s.receive(204, b"")                  # the request was held until the ACS is done
    assert method_of(step) == "GetRPCMethods"


def test_the_inform_announces_the_session_timeout_where_the_namespace_has_it():
    raw = inform_of(Session(INFORM, session_timeout=45))
    assert soap.parse(raw).session_timeout == 45
    assert b'<cwmp:SessionTimeout SOAP-ENV:mustUnderstand="0">45</cwmp:SessionTimeout>' in raw
    assert soap.parse(inform_of(Session(INFORM))).session_timeout is None
    for old in soap.CWMP_NAMESPACES[:2]:  # CWMP 1.0/1.1 schemas have no such header
        assert b"SessionTimeout" not in inform_of(Session(INFORM, ns=old, session_timeout=45))
    s = Session(INFORM, [CpeRequest("GetRPCMethods", {}, "grm")], session_timeout=45)
    s.start()
    assert b"SessionTimeout" not in s.receive(200, inform_response())[-1].body  # Inform only


def test_the_inform_offers_supported_versions_when_given():
    raw = inform_of(Session(INFORM, supported_versions="1.0,1.1,1.2,1.3,1.4"))
    assert soap.parse(raw).supported_versions == "1.0,1.1,1.2,1.3,1.4"
