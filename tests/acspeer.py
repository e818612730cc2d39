"""A sans-IO ACS, paired in memory with the CPE's session machine (h11's ConnectionPair style).

:class:`AcsPeer` is the server side of one CWMP session as bytes in, (status, bytes) out: it
answers the Inform, answers the CPE's requests, asks what its script lists, and ends with an
empty answer (204). :func:`run_pair` drives a :class:`~icwmpy.cwmp.session.Session` against
it to the end, as the Agent drives one over HTTP, so whole sessions run without a socket:

    peer = AcsPeer([A.get_parameter_values("Device.")], hold_requests=True)
    trace = run_pair(Session(INFORM, [transfer_complete]), peer)
    assert peer.methods == ["Inform", None, "GetParameterValuesResponse", "TransferComplete",
                            None]

The peer reads what the CPE sends with tests/acs.py's own parser (not the project's codec,
whose bugs it would share) and is strict: a CPE message out of turn is an AssertionError.
"""

import datetime

import acs as A
from icwmpy.cwmp import soap
from icwmpy.cwmp.session import Delivered, Done, Failed, Handle, Informed, Send
from icwmpy.faults import CwmpFault

# The arguments of a CPE's Inform and of a TransferComplete, for sessions under test.
INFORM = {"DeviceId": {"Manufacturer": "icwmpy", "OUI": "001122", "ProductClass": "Box",
                       "SerialNumber": "S1"},
          "Event": [("1 BOOT", "")], "MaxEnvelopes": 1,
          "CurrentTime": datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
          "RetryCount": 0, "ParameterList": [("Device.RootDataModelVersion", "2.19", "string")]}
TRANSFER_COMPLETE = {"CommandKey": "k", "FaultStruct": {"FaultCode": 0, "FaultString": ""},
                     "StartTime": None, "CompleteTime": None}
# What the ACS answers a CPE request with, beyond an empty response.
RESPONSE_ARGS = {"GetRPCMethods": {"MethodList": list(A.ACS_METHODS)},
                 "Kicked": {"NextURL": ""}}
NOTIFICATIONS = (Informed, Delivered)
ACTIONS = (Send, Handle, Done, Failed)


class AcsPeer:
    """One session's ACS. ``script``: the requests (envelope bytes) it asks after the Inform,
    in order. ``hold_requests``: the HoldRequests header of its InformResponse and responses.
    ``faults``: {CPE method ("Inform" too): [fault codes]}, answered to that method's next
    messages instead of a response, one code each, e.g. ``{"Inform": [8005]}``. ``skip``:
    CPE methods answered with the next scripted request instead of their response.

    Records ``messages``: what the CPE posted, parsed (``acs.Envelope``; None for an empty
    POST), ``answers``: the CPE's answers to the scripted requests, ``events``: the Inform's
    [(code, command key)], ``replies``: the (status, body) it answered each POST with."""

    def __init__(self, script=(), *, hold_requests=None, faults=None, skip=()):
        self.script = list(script)
        self.hold_requests = hold_requests
        self.faults = {method: list(codes) for method, codes in (faults or {}).items()}
        self.skip = set(skip)
        self.messages = []
        self.answers = []
        self.events = None
        self.replies = []
        self._asked = None          # the scripted request awaiting the CPE's answer

    @property
    def methods(self):
        """The CPE's messages by method, None for an empty POST."""
        return [m and m.method for m in self.messages]

    def receive(self, body):
        """The CPE's POST body in; the (HTTP status, body) the ACS answers."""
        reply = self._reply(body)
        self.replies.append(reply)
        return reply

    def _reply(self, body):
        message = A.parse_envelope(body) if body.strip() else None
        self.messages.append(message)
        if self.events is None:
            assert message is not None and message.method == "Inform", \
                f"the session must open with an Inform, not {message}"
            self.events = [(e["EventCode"], e["CommandKey"]) for e in _items(message, "Event")]
        elif message is None:
            assert self._asked is None, "an empty POST instead of the answer to a request"
            return self._next_request()
        elif message.method.endswith("Response") or message.method == "Fault":
            self._take_answer(message)
            return self._next_request()
        assert self._asked is None, f"{message.method} instead of the answer to a request"
        return self._answer(message)

    def _answer(self, request):
        """The answer to a CPE request (or the Inform)."""
        codes = self.faults.get(request.method)
        if codes:
            return 200, soap.build_fault(CwmpFault(codes.pop(0)), id=request.id, ns=request.ns)
        if request.method in self.skip:
            return self._next_request()
        if request.method == "Inform":
            return 200, soap.build("InformResponse", {"MaxEnvelopes": 1}, id=request.id,
                                   ns=request.ns, hold_requests=self.hold_requests)
        return 200, soap.build(f"{request.method}Response", RESPONSE_ARGS.get(request.method),
                               id=request.id, ns=request.ns, hold_requests=self.hold_requests)

    def _take_answer(self, answer):
        assert self._asked is not None, f"{answer.method} to no request"
        # A fault may lack the ID: the CPE could not read the request that far.
        ids = (self._asked, "") if answer.method == "Fault" else (self._asked,)
        assert answer.id in ids, f"{answer.method} to {answer.id!r}, asked {self._asked!r}"
        self.answers.append(answer)
        self._asked = None

    def _next_request(self):
        if not self.script:
            return 204, b""
        request = self.script.pop(0)
        self._asked = _id_of(request)
        return 200, request


def _items(message, name):
    value = message.body.get(name)
    return value if isinstance(value, list) else [value] if isinstance(value, dict) else []


def _id_of(request):
    """The cwmp:ID of a scripted request, "" for one that is not even an envelope."""
    try:
        return A.parse_envelope(request).id
    except ValueError:
        return ""


# What the CPE answers ACS requests with in run_pair, unless told otherwise.
CPE_RESPONSE_ARGS = {"GetRPCMethods": {"MethodList": ["GetRPCMethods", "GetParameterValues"]},
                     "GetParameterValues": {"ParameterList": []}, "Reboot": {}}


def cpe_answer(envelope):
    """A CPE's answer to an ACS request: its response with CPE_RESPONSE_ARGS, or a 9000
    fault for a method not listed there."""
    if envelope.method not in CPE_RESPONSE_ARGS:
        fault = CwmpFault(9000, f"Method not supported: {envelope.method}")
        return soap.build_fault(fault, id=envelope.id, ns=envelope.ns)
    return soap.build(f"{envelope.method}Response", CPE_RESPONSE_ARGS[envelope.method],
                      id=envelope.id, ns=envelope.ns)


def run_pair(session, peer, answer=cpe_answer, *, max_body=None, max_turns=100):
    """Drive ``session`` against ``peer`` until it ends; the trace: every event it returned,
    in order. ``answer(envelope)`` gives the bytes answering each ACS request; an answer of
    more than ``max_body`` bytes is refused with 9004, as the Agent's transport does. Checks
    that every call returns notifications and then one action, last, and that the session
    ends within ``max_turns`` calls."""
    trace = []
    events = session.start()
    for _ in range(max_turns):
        *notes, action = events
        assert all(isinstance(n, NOTIFICATIONS) for n in notes), events
        assert isinstance(action, ACTIONS), events
        trace.extend(events)
        if isinstance(action, Send):
            status, body = peer.receive(action.body)
            if max_body is not None and len(body) > max_body:
                events = session.refuse(CwmpFault(9004, f"Resources exceeded: over {max_body}"))
            else:
                events = session.receive(status, body)
        elif isinstance(action, Handle):
            events = session.respond(answer(action.envelope))
        else:
            return trace
    raise AssertionError(f"no end after {max_turns} turns: {trace[-6:]}")
