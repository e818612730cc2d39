"""Whole sessions in memory: the CPE's session machine against the sans-IO ACS (acspeer)."""

import random

import pytest

import acs as A
from acspeer import INFORM, TRANSFER_COMPLETE, AcsPeer, cpe_answer, run_pair
from icwmpy.cwmp import soap
from icwmpy.cwmp.session import (
    MAX_RESENDS, CpeRequest, Delivered, Done, Failed, Handle, Informed, LocalProtocolError, Send,
    Session, State,
)
from icwmpy.faults import CwmpFault

NS = soap.DEFAULT_NS
GRM = CpeRequest("GetRPCMethods", {}, "grm")
TC = CpeRequest("TransferComplete", TRANSFER_COMPLETE, "t1")
MUST_UNDERSTAND = A.get_rpc_methods(cwmp_id="x").replace(
    b"</soap:Header>", b'<cwmp:Odd soap:mustUnderstand="1">1</cwmp:Odd></soap:Header>')


def shape(trace):
    """The trace in words: what was posted or handed out; notifications as they are."""
    def word(event):
        if isinstance(event, Send):
            return f"post {soap.parse(event.body).method}" if event.body else "post"
        if isinstance(event, Handle):
            return f"handle {event.envelope.method}"
        if isinstance(event, (Done, Failed)):
            return type(event).__name__.lower()
        return event
    return [word(event) for event in trace]


def fault_code(answer):
    """The cwmp FaultCode of a Fault the ACS got (an acs.Envelope)."""
    return int(answer.body["detail"]["Fault"]["FaultCode"])


def test_plain_session_answers_each_acs_request_and_ends_on_the_empty_answer():
    peer = AcsPeer([A.get_parameter_values("Device.", cwmp_id="g1"), A.reboot(cwmp_id="r1")])
    session = Session(INFORM)
    trace = run_pair(session, peer)
    assert shape(trace) == ["post Inform", Informed(NS, 1), "post",
                            "handle GetParameterValues", "post GetParameterValuesResponse",
                            "handle Reboot", "post RebootResponse", "done"]
    assert peer.methods == ["Inform", None, "GetParameterValuesResponse", "RebootResponse"]
    assert peer.events == [("1 BOOT", "")]
    assert [a.id for a in peer.answers] == ["g1", "r1"]
    assert session.state is State.DONE and session.handled == 2
    answered = [e.body for e in trace[1:] if isinstance(e, Send)]   # all but the Inform
    assert session.largest == max(len(b) for b in answered + [b for _, b in peer.replies])


def test_cpe_requests_go_one_by_one_each_delivered_with_its_response():
    peer = AcsPeer()
    trace = run_pair(Session(INFORM, [GRM, TC]), peer)
    assert shape(trace) == ["post Inform", Informed(NS, 1), "post GetRPCMethods",
                            Delivered("grm"), "post TransferComplete", Delivered("t1"), "post",
                            "done"]
    assert peer.methods == ["Inform", "GetRPCMethods", "TransferComplete", None]


def test_hold_requests_sends_cpe_requests_after_each_empty_answer_of_the_acs():
    tc2 = CpeRequest("TransferComplete", TRANSFER_COMPLETE, "t2")
    peer = AcsPeer([A.get_rpc_methods(cwmp_id="q")], hold_requests=True)
    trace = run_pair(Session(INFORM, [TC, tc2]), peer)
    # the ACS holds again in each response: each request waits for an empty answer
    assert shape(trace) == ["post Inform", Informed(NS, 1), "post", "handle GetRPCMethods",
                            "post GetRPCMethodsResponse", "post TransferComplete",
                            Delivered("t1"), "post", "post TransferComplete", Delivered("t2"),
                            "post", "done"]
    assert peer.methods == ["Inform", None, "GetRPCMethodsResponse", "TransferComplete", None,
                            "TransferComplete", None]


def test_8005_to_the_inform_sends_the_same_inform_again():
    peer = AcsPeer(faults={"Inform": [8005]})
    trace = run_pair(Session(INFORM), peer)
    assert shape(trace) == ["post Inform", "post Inform", Informed(NS, 1), "post", "done"]
    assert trace[0] == trace[1]
    assert peer.methods == ["Inform", "Inform", None]


def test_8005_more_than_max_resends_times_fails_undelivered():
    peer = AcsPeer(faults={"Inform": [8005] * (MAX_RESENDS + 1)})
    session = Session(INFORM, [GRM])
    trace = run_pair(session, peer)
    assert shape(trace) == ["post Inform"] * (MAX_RESENDS + 1) + ["failed"]
    assert session.state is State.FAILED and peer.methods == ["Inform"] * (MAX_RESENDS + 1)


def test_8005_to_a_cpe_request_sends_it_again():
    peer = AcsPeer(faults={"TransferComplete": [8005, 8005]})
    trace = run_pair(Session(INFORM, [TC]), peer)
    assert shape(trace) == ["post Inform", Informed(NS, 1)] + ["post TransferComplete"] * 3 + [
        Delivered("t1"), "post", "done"]
    assert trace[2] == trace[3] == trace[4]


def test_each_message_has_its_own_max_resends():
    peer = AcsPeer(faults={"Inform": [8005] * MAX_RESENDS, "TransferComplete": [8005] * 3})
    trace = run_pair(Session(INFORM, [TC]), peer)
    assert shape(trace) == ["post Inform"] * (MAX_RESENDS + 1) + [Informed(NS, 1)] + [
        "post TransferComplete"] * (MAX_RESENDS + 1) + [Delivered("t1"), "post", "done"]


def test_another_fault_to_a_cpe_request_delivers_it_for_good_and_goes_on():
    peer = AcsPeer(faults={"GetRPCMethods": [8000]})
    trace = run_pair(Session(INFORM, [GRM, TC]), peer)
    assert shape(trace) == ["post Inform", Informed(NS, 1), "post GetRPCMethods",
                            Delivered("grm"), "post TransferComplete", Delivered("t1"), "post",
                            "done"]


def test_a_fault_to_the_inform_fails_with_the_events_undelivered():
    trace = run_pair(Session(INFORM, [GRM]), AcsPeer(faults={"Inform": [8002]}))
    assert shape(trace) == ["post Inform", "failed"]
    assert "8002" in trace[-1].reason


def test_an_acs_that_skips_a_response_and_asks_has_it_delivered():
    peer = AcsPeer([A.get_parameter_values("Device.", cwmp_id="g1")], skip={"TransferComplete"})
    trace = run_pair(Session(INFORM, [TC, GRM]), peer)
    assert shape(trace) == ["post Inform", Informed(NS, 1), "post TransferComplete",
                            Delivered("t1"), "handle GetParameterValues",
                            "post GetParameterValuesResponse", "post GetRPCMethods",
                            Delivered("grm"), "post", "done"]
    assert peer.methods == ["Inform", "TransferComplete", "GetParameterValuesResponse",
                            "GetRPCMethods", None]


def test_an_empty_answer_to_a_cpe_request_fails_it_undelivered():
    trace = run_pair(Session(INFORM, [TC]), AcsPeer(skip={"TransferComplete"}))
    assert shape(trace) == ["post Inform", Informed(NS, 1), "post TransferComplete", "failed"]
    assert trace[-1] == Failed("empty answer to a CPE request")


def test_a_request_over_the_cap_is_refused_with_9004_and_the_session_goes_on():
    big = A.get_parameter_values("Device.", cwmp_id="big") + b" " * 5000
    peer = AcsPeer([A.get_rpc_methods(cwmp_id="q1"), big, A.get_rpc_methods(cwmp_id="q3")])
    session = Session(INFORM)
    trace = run_pair(session, peer, max_body=4000)
    assert shape(trace) == ["post Inform", Informed(NS, 1), "post", "handle GetRPCMethods",
                            "post GetRPCMethodsResponse", "post Fault", "handle GetRPCMethods",
                            "post GetRPCMethodsResponse", "done"]
    assert [(a.method, a.id) for a in peer.answers] == [
        ("GetRPCMethodsResponse", "q1"), ("Fault", ""), ("GetRPCMethodsResponse", "q3")]
    assert fault_code(peer.answers[1]) == 9004 and session.handled == 3


def test_an_inform_response_over_the_cap_fails():
    trace = run_pair(Session(INFORM), AcsPeer(), max_body=100)
    assert shape(trace) == ["post Inform", "failed"]
    assert trace[-1].reason.startswith("unreadable answer: Resources exceeded")


def test_requests_not_understood_are_faulted_without_the_runner():
    peer = AcsPeer([MUST_UNDERSTAND, b"<not-xml", A.get_rpc_methods(cwmp_id="q")])
    session = Session(INFORM)
    trace = run_pair(session, peer)
    assert shape(trace) == ["post Inform", Informed(NS, 1), "post", "post Fault", "post Fault",
                            "handle GetRPCMethods", "post GetRPCMethodsResponse", "done"]
    assert [(a.id, fault_code(a)) for a in peer.answers[:2]] == [("x", 9000), ("", 9003)]
    assert peer.answers[0].ns == A.CWMP_NS != session.ns       # the namespace of the request
    assert session.handled == 3


def test_a_skipped_response_with_a_request_not_understood_is_faulted():
    peer = AcsPeer([MUST_UNDERSTAND], skip={"TransferComplete"})
    trace = run_pair(Session(INFORM, [TC]), peer)
    assert shape(trace) == ["post Inform", Informed(NS, 1), "post TransferComplete",
                            Delivered("t1"), "post Fault", "done"]
    assert fault_code(peer.answers[0]) == 9000


def test_the_session_speaks_the_namespace_the_acs_answered_in():
    old = soap.CWMP_NAMESPACES[0]
    peer = AcsPeer()
    session = Session(INFORM, [GRM], ns=old)
    assert shape(run_pair(session, peer)) == [
        "post Inform", Informed(old, 1), "post GetRPCMethods", Delivered("grm"), "post", "done"]
    assert session.ns == old and [m.ns for m in peer.messages[:2]] == [old, old]


def exchange(session, peer, action):
    """One turn of the runner: post ``action``'s body, or answer its ACS request."""
    if isinstance(action, Handle):
        return session.respond(cpe_answer(action.envelope))
    return session.receive(*peer.receive(action.body))


def test_the_state_after_each_step():
    peer = AcsPeer([A.get_rpc_methods(cwmp_id="q")])
    session = Session(INFORM, [TC])
    assert session.state is State.IDLE
    steps = [session.start()]
    states = [session.state]
    while session.state not in (State.DONE, State.FAILED):
        steps.append(exchange(session, peer, steps[-1][-1]))
        states.append(session.state)
    assert [shape(s) for s in steps] == [
        ["post Inform"], [Informed(NS, 1), "post TransferComplete"], [Delivered("t1"), "post"],
        ["handle GetRPCMethods"], ["post GetRPCMethodsResponse"], ["done"]]
    assert states == [State.INFORMING, State.CPE_REQUEST, State.ACS_TURN, State.HANDLING,
                      State.ACS_TURN, State.DONE]


INFORM_RESPONSE = soap.build("InformResponse", {"MaxEnvelopes": 1}, id="icwmpy-1")


def session_in(state):
    """A session driven, with byte strings, into ``state``."""
    session = Session(INFORM, [GRM] if state is State.CPE_REQUEST else [])
    feed = {State.IDLE: [], State.INFORMING: [], State.FAILED: [(500, b"")],
            State.CPE_REQUEST: [(200, INFORM_RESPONSE)], State.ACS_TURN: [(200, INFORM_RESPONSE)],
            State.HANDLING: [(200, INFORM_RESPONSE), (200, A.get_rpc_methods())],
            State.DONE: [(200, INFORM_RESPONSE), (204, b"")]}[state]
    if state is not State.IDLE:
        session.start()
    for status, body in feed:
        session.receive(status, body)
    assert session.state is state
    return session


def call(session, name, answer=(204, b"")):
    """The method ``name`` of ``session``, called with plain arguments (``answer``: the
    status and body for receive())."""
    return {"start": session.start, "receive": lambda: session.receive(*answer),
            "refuse": lambda: session.refuse(CwmpFault(9004)),
            "respond": lambda: session.respond(b"<a/>")}[name]()


CALLS = {"start", "receive", "refuse", "respond"}
AWAITING = {"receive", "refuse"}
ALLOWED = {State.IDLE: {"start"}, State.INFORMING: AWAITING, State.CPE_REQUEST: AWAITING,
           State.ACS_TURN: AWAITING, State.HANDLING: {"respond"}, State.DONE: set(),
           State.FAILED: set()}


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.name)
def test_a_call_the_state_does_not_allow_raises_and_changes_nothing(state):
    session = session_in(state)
    for name in CALLS - ALLOWED[state]:
        with pytest.raises(LocalProtocolError, match=rf"{name}\(\) in state {state.name}"):
            call(session, name)
        assert session.state is state
    for name in ALLOWED[state]:      # the misuse broke nothing: each allowed call still runs
        assert isinstance(call(session, name)[-1], (Send, Handle, Done, Failed))
        session = session_in(state)
    assert issubclass(LocalProtocolError, RuntimeError)


def test_an_error_inside_a_call_leaves_the_session_failed():
    session = Session(INFORM, [CpeRequest("TransferComplete", {}, "bad")])  # no arguments
    session.start()
    with pytest.raises(ValueError, match="missing argument"):
        session.receive(200, INFORM_RESPONSE)
    assert session.state is State.FAILED
    with pytest.raises(LocalProtocolError):
        session.receive(204, b"")


# What an ACS (or a broken one) may answer, for the random walk below.
ANSWERS = [(200, INFORM_RESPONSE),
           (200, soap.build("InformResponse", {"MaxEnvelopes": 1}, id="icwmpy-1",
                            hold_requests=True)),
           (200, soap.build_fault(CwmpFault(8005), id="icwmpy-1")),
           (200, soap.build_fault(CwmpFault(8002), id="icwmpy-1")),
           (200, soap.build("GetRPCMethodsResponse", {"MethodList": ["Inform"]})),
           (200, soap.build("TransferCompleteResponse", {})),
           (200, A.get_rpc_methods()), (200, A.get_parameter_values("Device.")),
           (200, MUST_UNDERSTAND), (200, b"<not-xml"), (200, b""), (204, b""), (500, b""),
           (401, b"")]


def test_no_sequence_of_calls_reaches_an_undefined_state():
    """A seeded random walk: every call either raises LocalProtocolError and changes nothing,
    or returns notifications then one action matching the new state; each event is told once."""
    rng = random.Random(14)
    action_states = {Send: {State.INFORMING, State.CPE_REQUEST, State.ACS_TURN},
                     Handle: {State.HANDLING}, Done: {State.DONE}, Failed: {State.FAILED}}
    seen = set()
    for _ in range(300):
        requests = [GRM, TC][:rng.randrange(3)]
        session = Session(INFORM, requests)
        told = []
        for _ in range(30):
            before = session.state
            seen.add(before)
            name, answer = rng.choice(sorted(CALLS)), rng.choice(ANSWERS)
            if name not in ALLOWED[before]:
                with pytest.raises(LocalProtocolError):
                    call(session, name, answer)
                assert session.state is before
                continue
            *notes, action = call(session, name, answer)
            assert all(isinstance(n, (Informed, Delivered)) for n in notes)
            assert session.state in action_states[type(action)]
            seen.add(session.state)
            told += notes
        assert sum(isinstance(n, Informed) for n in told) <= 1
        delivered = [n.token for n in told if isinstance(n, Delivered)]
        assert delivered == [r.token for r in requests][:len(delivered)]
    assert seen == set(State)           # the walk went everywhere
