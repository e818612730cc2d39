"""One CWMP session from the CPE's side, as an explicit state machine over HTTP exchanges.

Sans-IO, modelled on h11: the machine takes bytes in and gives bytes out and never touches a
socket, a clock or the data model. The runner (the Agent) owns all I/O, persistence and RPC
handling, so every protocol rule here is tested with byte strings and against an in-memory
ACS, without a network. As in h11, the state is one :class:`State`; one table
(``_TRANSITIONS``) decides every change of it; a call the current state does not allow raises
:class:`LocalProtocolError` and changes nothing; and an exception inside an allowed call leaves
the machine FAILED (h11's ERROR), so no sequence of calls reaches a state the table does not
name.

Every call returns a tuple: notifications first (:class:`Informed`, :class:`Delivered`: what
the ACS has acknowledged, for the runner to persist at once), then exactly one action, last:
:class:`Send` (POST this), :class:`Handle` (answer this ACS request with :meth:`Session.respond`),
:class:`Done` or :class:`Failed`. The session runs (TR-069 3.7):

1. the Inform, until an InformResponse arrives (a SOAP fault 8005 means: send it again);
2. the CPE's own requests (TransferComplete, GetRPCMethods, ...) one by one, unless the
   ACS said HoldRequests;
3. an empty POST; then each ACS request is handed to the runner, whose answer is posted,
   until the ACS answers with an empty body (or 204);
4. CPE requests the ACS held back (HoldRequests) go then, followed by another empty POST:
   the session ends when neither side has anything left to send.
"""

import enum
import itertools
from dataclasses import dataclass, field

from icwmpy.cwmp import soap
from icwmpy.faults import CwmpFault

RETRY_REQUEST = 8005
MAX_RESENDS = 3
# cwmp:SessionTimeout (CWMP 1.3) is declared by cwmp-1-3.xsd in namespace cwmp-1-2; the
# cwmp-1-0 and cwmp-1-1 schemas have no such header.
SESSION_TIMEOUT_NAMESPACES = soap.CWMP_NAMESPACES[2:]


class LocalProtocolError(RuntimeError):
    """The runner called a method the session's state does not allow (h11's name)."""


class State(enum.Enum):
    IDLE = "made, start() not called yet"
    INFORMING = "the Inform is posted, awaiting the InformResponse"
    CPE_REQUEST = "a CPE request is posted, awaiting its response"
    ACS_TURN = "an empty POST or an answer is posted, awaiting the ACS's next request"
    HANDLING = "an ACS request was handed out, awaiting respond()"
    DONE = "ended normally"
    FAILED = "ended in failure"


class _Step(enum.Enum):
    """What the machine does next; with the state it decides the next state."""
    INFORM = "post the Inform"
    REQUEST = "post a CPE request"
    EMPTY_POST = "post the empty body: the CPE has nothing (more) to ask"
    HANDLE = "hand an ACS request to the runner"
    ANSWER = "post the answer to an ACS request"
    END = "end: neither side has anything left"
    FAIL = "end in failure"


_LIVE = (State.IDLE, State.INFORMING, State.CPE_REQUEST, State.ACS_TURN, State.HANDLING)
_TRANSITIONS = {
    (State.IDLE, _Step.INFORM): State.INFORMING,
    (State.INFORMING, _Step.INFORM): State.INFORMING,        # 8005: the same Inform again
    (State.INFORMING, _Step.REQUEST): State.CPE_REQUEST,
    (State.INFORMING, _Step.EMPTY_POST): State.ACS_TURN,
    (State.CPE_REQUEST, _Step.REQUEST): State.CPE_REQUEST,   # the next one, or 8005 again
    (State.CPE_REQUEST, _Step.EMPTY_POST): State.ACS_TURN,
    (State.CPE_REQUEST, _Step.HANDLE): State.HANDLING,       # the ACS skipped the response
    (State.CPE_REQUEST, _Step.ANSWER): State.ACS_TURN,       # ... with a request faulted at once
    (State.ACS_TURN, _Step.HANDLE): State.HANDLING,
    (State.ACS_TURN, _Step.ANSWER): State.ACS_TURN,          # a request faulted at once
    (State.ACS_TURN, _Step.REQUEST): State.CPE_REQUEST,      # held requests, after the ACS is done
    (State.ACS_TURN, _Step.END): State.DONE,
    (State.HANDLING, _Step.ANSWER): State.ACS_TURN,
    **{(state, _Step.FAIL): State.FAILED for state in _LIVE},
}
_AWAITING = frozenset({State.INFORMING, State.CPE_REQUEST, State.ACS_TURN})  # a POST is out
_CALLS = {"start": {State.IDLE}, "receive": _AWAITING, "refuse": _AWAITING,
          "respond": {State.HANDLING}}


@dataclass(frozen=True)
class Send:
    """POST this body next (b'' is the empty POST)."""
    body: bytes


@dataclass(frozen=True)
class Handle:
    """An ACS request for the runner; answer with :meth:`Session.respond`."""
    envelope: soap.Envelope


@dataclass(frozen=True)
class Done:
    """The session ended normally."""


@dataclass(frozen=True)
class Failed:
    """The session failed; ``reason`` is for the log."""
    reason: str


@dataclass(frozen=True)
class Informed:
    """The InformResponse arrived: the Inform's events are delivered. ``ns`` is the namespace
    the ACS answered in (the one to speak first next time)."""
    ns: str
    max_envelopes: int


@dataclass(frozen=True)
class Delivered:
    """The ACS acknowledged, or refused for good, the CPE request with this ``token``."""
    token: object


@dataclass(frozen=True)
class CpeRequest:
    """A request the CPE sends after the Inform; ``token`` tells the runner which one was
    acknowledged (e.g. the transfer whose TransferComplete it was)."""
    method: str
    args: dict = field(default_factory=dict)
    token: object = None


class Session:
    """State machine of one session. ``inform_args`` are the Inform's arguments;
    ``requests`` the CPE requests to deliver; ``ns`` the namespace to speak first (the
    one the ACS used last time). ``supported_versions`` and ``session_timeout`` (seconds)
    go in the Inform's header when not None (CWMP 1.4 and 1.3 headers); the session
    timeout only in a namespace whose schema declares it."""

    def __init__(self, inform_args, requests=(), *, ns=soap.DEFAULT_NS, supported_versions=None,
                 session_timeout=None):
        self._inform_args = inform_args
        self._requests = list(requests)
        self._ns = ns
        self._supported_versions = supported_versions
        self._session_timeout = session_timeout
        self._hold = False
        self._handled = 0
        self._largest = 0
        self._ids = (f"icwmpy-{n}" for n in itertools.count(1))
        self._state = State.IDLE
        self._posted = None          # (step, method, Send) of the message awaiting its response
        self._resends = 0
        self._notes = []             # notifications of the call in progress

    @property
    def state(self):
        return self._state

    @property
    def ns(self):
        """The namespace spoken: the one given, then the one the ACS answered the Inform in."""
        return self._ns

    @property
    def handled(self):
        """ACS requests answered."""
        return self._handled

    @property
    def largest(self):
        """Bytes of the largest message received or answered."""
        return self._largest

    def start(self):
        """Begin: the Inform to post."""
        return self._call("start", self._inform)

    def receive(self, status, body):
        """Feed the HTTP status and body answering the last POST."""
        return self._call("receive", self._receive, status, body)

    def refuse(self, fault, envelope=None):
        """The answer to the last POST cannot be taken in: unreadable, or a body the
        transport stopped reading at its cap (9004). An ACS request gets ``fault`` as its
        answer (echoing ``envelope``'s cwmp:ID when it was read that far) and the session
        goes on; an answer to a CPE message fails the session."""
        return self._call("refuse", self._refuse, fault, envelope)

    def respond(self, body):
        """The runner's answer (a response or fault envelope) to the last :class:`Handle`."""
        return self._call("respond", self._answer, body)

    # ------------------------------------------------------------------ internals
    def _call(self, name, work, *args):
        if self._state not in _CALLS[name]:
            raise LocalProtocolError(f"{name}() in state {self._state.name}")
        self._notes = []
        try:
            action = work(*args)
        except Exception:
            self._go(_Step.FAIL, None)   # half done: nothing more can be trusted
            raise
        return (*self._notes, action)

    def _go(self, step, action):
        """Take ``step`` (the table says where to), giving ``action`` to the runner."""
        try:
            self._state = _TRANSITIONS[self._state, step]
        except KeyError:
            raise LocalProtocolError(f"no {step.name} in state {self._state.name}") from None
        return action

    def _fail(self, reason):
        return self._go(_Step.FAIL, Failed(reason))

    def _inform(self):
        timeout = self._session_timeout if self._ns in SESSION_TIMEOUT_NAMESPACES else None
        return self._post(_Step.INFORM, "Inform", self._inform_args,
                          supported_versions=self._supported_versions, session_timeout=timeout)

    def _post(self, step, method, args, **header):
        send = Send(soap.build(method, args, id=next(self._ids), ns=self._ns, **header))
        self._posted = (step, method, send)
        self._resends = 0
        return self._go(step, send)

    def _receive(self, status, body):
        self._largest = max(self._largest, len(body))
        if status not in (200, 204):
            return self._fail(f"HTTP status {status}")
        try:
            env = soap.parse(body) if status == 200 else None
        except CwmpFault as f:
            return self._refuse(f, getattr(f, "envelope", None))
        if env is None:
            return self._empty(status)
        if env.hold_requests is not None:
            self._hold = env.hold_requests
        if self._state is State.ACS_TURN:
            return self._acs_request(env)
        return self._response(env)

    def _refuse(self, fault, envelope):
        if self._state is State.ACS_TURN:
            return self._answer_fault(fault, envelope)
        return self._fail(f"unreadable answer: {fault.message}")

    def _empty(self, status):
        if self._state is State.ACS_TURN:
            if not self._requests:
                return self._go(_Step.END, Done())
            # The ACS is done, and an empty answer carries no HoldRequests: the requests it
            # held back go now; the session ends when both sides have nothing left.
            self._hold = False
            return self._next_cpe_step()
        if self._state is State.CPE_REQUEST:
            return self._fail("empty answer to a CPE request")
        return self._fail(f"empty answer (HTTP {status}) before the InformResponse")

    def _response(self, env):
        step, method, send = self._posted
        if env.method == "Fault":
            if env.fault.code == RETRY_REQUEST and self._resends < MAX_RESENDS:
                self._resends += 1
                return self._go(step, send)
            if step is _Step.INFORM:
                return self._fail(f"ACS fault to the Inform: {env.fault}")
            self._acknowledge()  # the ACS refused it: retrying would get the same answer
            return self._next_cpe_step()
        if env.method != method + "Response":
            if step is _Step.INFORM:
                return self._fail(f"expected InformResponse, got {env.method}")
            # An ACS that skips the response and sends a request: take it as handled.
            self._acknowledge()
            return self._acs_request(env)
        if step is _Step.INFORM:
            self._ns = env.ns
            self._notes.append(Informed(env.ns, env.args.get("MaxEnvelopes", 1)))
        else:
            self._acknowledge()
        return self._next_cpe_step()

    def _acknowledge(self):
        self._notes.append(Delivered(self._requests.pop(0).token))

    def _next_cpe_step(self):
        if self._requests and not self._hold:
            request = self._requests[0]
            return self._post(_Step.REQUEST, request.method, request.args)
        return self._go(_Step.EMPTY_POST, Send(b""))

    def _acs_request(self, env):
        if env.method == "Fault" or env.method.endswith("Response"):
            return self._fail(f"unexpected {env.method} from the ACS")
        if env.must_understand:
            return self._answer_fault(
                CwmpFault(9000, f"Header {env.must_understand[0]} not understood"), env)
        return self._go(_Step.HANDLE, Handle(env))

    def _answer_fault(self, fault, env):
        return self._answer(soap.build_fault(fault, id=env.id if env else None,
                                             ns=env.ns if env else self._ns))

    def _answer(self, body):
        self._handled += 1
        self._largest = max(self._largest, len(body))
        return self._go(_Step.ANSWER, Send(body))
