"""One CWMP session from the CPE's side, as a state machine over HTTP exchanges (sans-IO).

The runner posts what :meth:`Session.start` and :meth:`Session.receive` return and feeds
back each HTTP answer; the machine decides what comes next (TR-069 3.7):

1. the Inform, until an InformResponse arrives (a SOAP fault 8005 means: send it again);
2. the CPE's own requests (TransferComplete, GetRPCMethods, ...) one by one, unless the
   ACS said HoldRequests;
3. an empty POST; then each ACS request is handed to the runner (:class:`Handle`),
   whose answer is posted, until the ACS answers with an empty body (or 204);
4. CPE requests the ACS held back (HoldRequests) go then, followed by another empty POST:
   the session ends when neither side has anything left to send.

Nothing here does I/O, so every rule is tested with byte strings.
"""

import itertools
from dataclasses import dataclass, field

from icwmpy.cwmp import soap
from icwmpy.faults import CwmpFault

RETRY_REQUEST = 8005
MAX_RESENDS = 3
# cwmp:SessionTimeout (CWMP 1.3) is declared by cwmp-1-3.xsd in namespace cwmp-1-2; the
# cwmp-1-0 and cwmp-1-1 schemas have no such header.
SESSION_TIMEOUT_NAMESPACES = soap.CWMP_NAMESPACES[2:]


@dataclass
class Send:
    """POST this body next (b'' is the empty POST)."""
    body: bytes


@dataclass
class Handle:
    """An ACS request for the runner; answer with :meth:`Session.respond`."""
    envelope: soap.Envelope


@dataclass
class Done:
    """The session ended normally."""


@dataclass
class Failed:
    """The session failed; ``reason`` is for the log."""
    reason: str


@dataclass
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
        self.inform_args = inform_args
        self.requests = list(requests)
        self.ns = ns
        self.supported_versions = supported_versions
        self.session_timeout = session_timeout
        self.informed = False        # InformResponse received: the events are delivered
        self.delivered = []          # tokens of the CPE requests the ACS acknowledged
        self.hold_requests = False
        self.use_version = None
        self.max_envelopes = 1
        self.handled = 0             # ACS requests answered
        self.largest = 0             # bytes of the largest message either side sent
        self._ids = (f"icwmpy-{n}" for n in itertools.count(1))
        self._state = "new"
        self._outstanding = None     # (method, body) awaiting its response
        self._resends = 0

    def start(self):
        self._state = "inform"
        timeout = self.session_timeout if self.ns in SESSION_TIMEOUT_NAMESPACES else None
        return self._post("Inform", self.inform_args, supported_versions=self.supported_versions,
                          session_timeout=timeout)

    def _post(self, method, args, **header):
        body = soap.build(method, args, id=next(self._ids), ns=self.ns, **header)
        self._outstanding = (method, body)
        self._resends = 0
        return Send(body)

    def receive(self, status, body):
        """Feed the HTTP status and body answering the last POST; returns the next step."""
        self._check_receiving("receive")
        self.largest = max(self.largest, len(body))
        if status == 204 or (status == 200 and not body.strip()):
            return self._empty(status)
        if status != 200:
            return self._fail(f"HTTP status {status}")
        try:
            env = soap.parse(body)
        except CwmpFault as f:
            return self.refuse(f, getattr(f, "envelope", None))
        if env is None:
            return self._empty(status)
        self._header(env)
        if self._state in ("inform", "cpe"):
            return self._response(env)
        return self._acs_request(env)

    def refuse(self, fault, envelope=None):
        """The answer to the last POST cannot be taken in: unreadable, or a body the
        transport stopped reading at its cap (9004). What comes next, as from
        :meth:`receive`: an ACS request gets ``fault`` as its answer (echoing ``envelope``'s
        cwmp:ID when it was read that far) and the session goes on; an answer to a CPE
        message fails the session."""
        self._check_receiving("refuse")
        if self._state == "acs":
            return self._answer_fault(fault, envelope)
        return self._fail(f"unreadable answer: {fault.message}")

    def respond(self, body):
        """The runner's answer (a response or fault envelope) to the last :class:`Handle`."""
        if self._state != "handling":
            raise RuntimeError("respond() without a pending request")
        self._state = "acs"
        self.handled += 1
        self.largest = max(self.largest, len(body))
        return Send(body)

    # ------------------------------------------------------------------ internals
    def _check_receiving(self, call):
        if self._state in ("new", "handling", "done"):
            raise RuntimeError(f"{call}() in state {self._state}")

    def _header(self, env):
        if env.hold_requests is not None:
            self.hold_requests = env.hold_requests
        if env.use_version:
            self.use_version = env.use_version

    def _empty(self, status):
        if self._state == "acs":
            if self.requests:
                # The ACS is done, and an empty answer carries no HoldRequests: the requests
                # it held back go now; the session ends when both sides have nothing left.
                self.hold_requests = False
                return self._next_cpe_step()
            self._state = "done"
            return Done()
        if self._state == "cpe" and self.informed:
            return self._fail("empty answer to a CPE request")
        return self._fail(f"empty answer (HTTP {status}) before the InformResponse")

    def _fail(self, reason):
        self._state = "done"
        return Failed(reason)

    def _response(self, env):
        method, body = self._outstanding
        if env.method == "Fault":
            if env.fault and env.fault.code == RETRY_REQUEST and self._resends < MAX_RESENDS:
                self._resends += 1
                return Send(body)
            if method == "Inform":
                return self._fail(f"ACS fault to the Inform: {env.fault}")
            self._acknowledge()  # the ACS refused it: retrying would get the same answer
            return self._next_cpe_step()
        if env.method != method + "Response":
            if method == "Inform":
                return self._fail(f"expected InformResponse, got {env.method}")
            # An ACS that skips the response and sends a request: take it as handled.
            self._acknowledge()
            return self._acs_request(env)
        if method == "Inform":
            self.informed = True
            self.ns = env.ns
            self.max_envelopes = env.args.get("MaxEnvelopes", 1)
            self._state = "cpe"
            return self._next_cpe_step()
        self._acknowledge()
        return self._next_cpe_step()

    def _acknowledge(self):
        if self._state == "cpe" and self.requests:
            self.delivered.append(self.requests.pop(0).token)

    def _next_cpe_step(self):
        self._state = "cpe"
        if self.requests and not self.hold_requests:
            req = self.requests[0]
            return self._post(req.method, req.args)
        self._state = "acs"
        self._outstanding = None
        return Send(b"")

    def _acs_request(self, env):
        self._state = "acs"
        if env.method in (None, "Fault") or env.method.endswith("Response"):
            return self._fail(f"unexpected {env.method} from the ACS")
        if env.must_understand:
            return self._answer_fault(
                CwmpFault(9000, f"Header {env.must_understand[0]} not understood"), env)
        self._state = "handling"
        return Handle(env)

    def _answer_fault(self, fault, env):
        self._state = "handling"
        return self.respond(soap.build_fault(fault, id=env.id if env else None,
                                             ns=env.ns if env else self.ns))
