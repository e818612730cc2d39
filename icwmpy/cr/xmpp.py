"""XMPP connection requests (TR-069 Annex K): how an ACS reaches a CPE that no HTTP request can.

A CPE behind NAT cannot be sent an HTTP connection request, but it can keep a client
connection open to an XMPP server. The ACS then sends, through that server, an IQ
``get`` carrying ``<connectionRequest xmlns="urn:broadband-forum-org:cwmp:xmppConnReq-1-0">``
with the ConnectionRequestUsername and ConnectionRequestPassword. The CPE answers with an
empty ``result`` IQ and opens a session with ``6 CONNECTION REQUEST``, or with an error IQ:
``service-unavailable`` for a sender that ConnReqAllowedJabberIDs does not allow,
``not-authorized`` for wrong credentials, ``bad-request`` for a malformed request.

Two parts (the ``Device.XMPP.Connection.{i}.`` tables are :mod:`icwmpy.backends.xmpp`):

* pure decisions (:func:`jid_allowed`, :func:`refusal`, :func:`retry_wait`), tested alone;
* :class:`XmppConnReq`, the per-Agent service: it follows
  ``ManagementServer.ConnReqXMPPConnection`` and keeps that connection up (reconnecting
  with the TR-181 back-off) only while it names an enabled connection. Everything it needs
  is read through the data model, so SetParameterValues takes effect at once.

slixmpp is optional: it is imported only when a connection is to be opened, and when it is
missing the connection's Status says Error and the log names the package.
"""

import asyncio
import contextlib
import functools
import hmac
import importlib
import logging
import random
import re
import ssl
import time
from dataclasses import dataclass

from icwmpy.backends.xmpp import XMPP_CLIENT_PORT, Connections
from icwmpy.faults import CwmpFault
from icwmpy.model.types import format_datetime

log = logging.getLogger("icwmpy.cr")

NS = "urn:broadband-forum-org:cwmp:xmppConnReq-1-0"
CONNECTION_PARAM = "Device.ManagementServer.ConnReqXMPPConnection"
JABBER_ID_PARAM = "Device.ManagementServer.ConnReqJabberID"
ALLOWED_PARAM = "Device.ManagementServer.ConnReqAllowedJabberIDs"
CR_USERNAME = "Device.ManagementServer.ConnectionRequestUsername"
CR_PASSWORD = "Device.ManagementServer.ConnectionRequestPassword"
CONNECTIONS = "Device.XMPP.Connection."
_REFERENCE = re.compile(r"Device\.XMPP\.Connection\.[1-9][0-9]*\Z")
# TR-181 leaves a KeepAliveInterval of -1 to the vendor: RFC 6120 4.6.4 suggests 5 minutes.
VENDOR_KEEPALIVE = 300
# Bounds one attempt from TCP connect to a bound resource (a silent server must not hang us).
NEGOTIATION_TIMEOUT = 30.0
UP = "Enabled"


# ------------------------------------------------------------------ decisions

def _same(a, b):
    """Constant-time string equality."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def jid_allowed(sender, allowed):
    """ConnReqAllowedJabberIDs as TR-181 defines it: an empty list allows everyone, a bare
    JID entry matches any resource, a full JID entry matches exactly. Local and domain
    parts are compared without case, as XMPP servers normalise them."""
    if not allowed:
        return True
    bare, _, resource = sender.partition("/")
    for entry in allowed:
        entry_bare, slash, entry_resource = entry.strip().partition("/")
        if entry_bare.lower() == bare.lower() and (not slash or entry_resource == resource):
            return True
    return False


def refusal(sender, username, password, allowed, expected):
    """The XMPP error condition refusing a connection request, or None to accept it.

    ``expected`` is (ConnectionRequestUsername, ConnectionRequestPassword); an empty
    configured username never matches (fail closed, as the HTTP listener does).
    """
    if not jid_allowed(sender, allowed):
        return "service-unavailable"
    want_user, want_password = expected
    # Both comparisons always run: timing does not tell a wrong user from a wrong password.
    if not want_user or not (_same(username, want_user) & _same(password, want_password)):
        return "not-authorized"
    return None


def retry_wait(failures, initial, multiplier, maximum):
    """Seconds before the next attempt after ``failures`` (>= 1) consecutive failures: a
    random value up to ServerRetryInitialInterval * (multiplier/1000)^(failures-1), capped
    at ServerRetryMaxInterval (TR-181 Device.XMPP.Connection.{i}.)."""
    bound = min(initial * (multiplier / 1000) ** (failures - 1), maximum)
    return random.uniform(0, bound)


# ------------------------------------------------------------------ configuration

@dataclass(frozen=True)
class Link:
    """The connection ConnReqXMPPConnection names, as read at one moment; two equal Links
    need no reconnection."""

    path: str
    username: str
    password: str
    domain: str
    resource: str
    use_tls: bool
    keepalive: int
    algorithm: str
    servers: tuple  # ((address, port), ...) in order of preference, for ServerTable
    attempts: int
    initial: int
    multiplier: int
    maximum: int

    @property
    def jid(self):
        return f"{self.username}@{self.domain}" + (f"/{self.resource}" if self.resource else "")

    def server(self, failures):
        """(host, port) to try after ``failures`` failed attempts; (None, None) lets the
        client look up the domain's SRV records."""
        if self.algorithm == "ServerTable":
            index = failures // max(1, self.attempts) % len(self.servers)
            return self.servers[index]
        if self.algorithm == "DNS":
            return self.domain, XMPP_CLIENT_PORT
        return None, None


def _servers(model, path):
    rows = {}
    for name, value, _ in model.get_values(path + ".Server."):
        instance, _, field = name.rpartition(".")
        rows.setdefault(instance, {})[field] = value
    usable = [r for r in rows.values() if r["Enable"] == "1" and r["ServerAddress"]]
    # RFC 2782: lowest priority first; among equals, the heavier first.
    usable.sort(key=lambda r: (int(r["Priority"]), -int(r["Weight"])))
    return tuple((r["ServerAddress"], int(r["Port"])) for r in usable)


def read_link(model):
    """The enabled connection ConnReqXMPPConnection names, or None (runs in the model worker)."""
    try:
        path = model.read(CONNECTION_PARAM).rstrip(".")
    except CwmpFault:
        return None  # a data model without XMPP connection requests
    if not path:
        return None
    try:
        if not _REFERENCE.match(path) or model.read(path + ".Enable") != "1":
            return None
        field = {name: model.read(f"{path}.{name}") for name in Connections.FIELDS}
        algorithm = field["ServerConnectAlgorithm"]
        return Link(path, field["Username"], field["Password"], field["Domain"],
                    field["Resource"], field["UseTLS"] == "1", int(field["KeepAliveInterval"]),
                    algorithm, _servers(model, path) if algorithm == "ServerTable" else (),
                    int(field["ServerConnectAttempts"]), int(field["ServerRetryInitialInterval"]),
                    int(field["ServerRetryIntervalMultiplier"]),
                    int(field["ServerRetryMaxInterval"]))
    except (CwmpFault, ValueError):
        log.warning("%s is %r, which is not an XMPP connection", CONNECTION_PARAM, path)
        return None


def _request_policy(model):
    """(allowed JIDs, (username, password)) for judging a request, read live."""
    allowed = [jid for jid in model.read(ALLOWED_PARAM).split(",") if jid.strip()]
    return allowed, (model.read(CR_USERNAME), model.read(CR_PASSWORD))


def _write_changed(model, values):
    """Write the agent-owned values that differ (a rewrite of an equal value would still
    cost a store write, and ConnReqJabberID must not change when it does not differ)."""
    for name, value in values.items():
        if model.read(name) != value:
            model.write(name, value)


def _report(model, path, status, **extra):
    """Set a connection's Status (and LastChangeDate when it changes), plus ``extra``
    read-only fields (JabberID, TLSEstablished)."""
    values = {f"{path}.{field}": value for field, value in extra.items()}
    if model.read(path + ".Status") != status:
        values[path + ".Status"] = status
        values[path + ".LastChangeDate"] = format_datetime(time.time())
    _write_changed(model, values)


def _report_idle(model, active):
    """Status of every connection but ``active``: nobody connects them, so they are
    Disabled, or Dormant when enabled. Also clears what a previous run left behind."""
    try:
        rows = model.get_values(CONNECTIONS + "*.Enable")
    except CwmpFault:
        return
    for name, enable, _ in rows:
        path = name.rpartition(".")[0]
        if path != active:
            _report(model, path, "Dormant" if enable == "1" else "Disabled", TLSEstablished="0")


# ------------------------------------------------------------------ the service

class XmppConnReq:
    """One Agent's XMPP connection request client; ``start()`` once, ``stop()`` at exit."""

    def __init__(self, agent):
        self.agent = agent
        self._loop = None
        self._link = None
        self._runner = None
        self._lock = asyncio.Lock()
        self._pending = set()

    async def start(self):
        self._loop = asyncio.get_running_loop()
        self.agent.model.change_listeners.append(self._model_changed)
        await self._reconcile()

    async def stop(self):
        if self._model_changed in self.agent.model.change_listeners:
            self.agent.model.change_listeners.remove(self._model_changed)
        for task in [*self._pending, self._runner]:
            if task:
                task.cancel()
        await asyncio.gather(*self._pending, *([self._runner] if self._runner else []),
                             return_exceptions=True)

    def _call(self, fn, *args, **kwargs):
        """Run ``fn(model, ...)`` in the Agent's model worker."""
        return self.agent.run_model(functools.partial(fn, self.agent.model, *args, **kwargs))

    def _model_changed(self, changes):
        """Runs in the model worker after a transaction: reconsider on XMPP changes."""
        if any(name.startswith("Device.XMPP.") or name == CONNECTION_PARAM for name in changes):
            self._loop.call_soon_threadsafe(self._schedule_reconcile)

    def _schedule_reconcile(self):
        task = self._loop.create_task(self._reconcile())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _reconcile(self):
        """Make the running client match the configuration (serialised)."""
        async with self._lock:
            link = await self._call(read_link)
            await self._call(_report_idle, link.path if link else None)
            if link == self._link and link is not None and self._runner and not self._runner.done():
                return
            if self._runner:
                self._runner.cancel()
                await asyncio.gather(self._runner, return_exceptions=True)
                self._runner = None
            self._link = link
            if link is None:
                await self._call(_write_changed, {JABBER_ID_PARAM: ""})
                return
            self._runner = self._loop.create_task(self._run(link))

    async def _run(self, link):
        """Keep ``link`` connected until cancelled; a failure is logged, not lost in a task."""
        try:
            await self._keep_up(link)
        except Exception:
            log.exception("XMPP connection %s: stopped", link.path)

    async def _keep_up(self, link):
        try:
            slixmpp = importlib.import_module("slixmpp")
        except ImportError as e:
            log.error("XMPP connection requests need the Python package 'slixmpp' "
                      "(pip install 'icwmpy[xmpp]'): %s", e)
            await self._call(_report, link.path, "Error", TLSEstablished="0")
            return
        if not (link.username and link.domain) or (link.algorithm == "ServerTable"
                                                   and not link.servers):
            log.error("XMPP connection %s: needs Username, Domain and, for ServerTable, an "
                      "enabled Server", link.path)
            await self._call(_report, link.path, "Error_Misconfigured", TLSEstablished="0")
            return
        client = self._client(slixmpp, link)
        failures = 0
        try:
            while True:
                await self._call(_report, link.path, "Connecting", TLSEstablished="0")
                status = await self._session(client, link, *link.server(failures))
                failures = 1 if status == UP else failures + 1
                if status != UP:
                    await self._call(_report, link.path, status, TLSEstablished="0")
                delay = retry_wait(failures, link.initial, link.multiplier, link.maximum)
                log.info("XMPP connection %s: %s, next attempt in %.1f s", link.path,
                         "lost" if status == UP else status, delay)
                await asyncio.sleep(delay)
        finally:
            await _hang_up(client, polite=True)

    def _client(self, slixmpp, link):
        # Without UseTLS, SCRAM (which never reveals the password) may run unencrypted when
        # the server offers no TLS; PLAIN never does. With UseTLS nothing runs unencrypted.
        client = slixmpp.ClientXMPP(link.jid, link.password, plugin_config={
            "feature_mechanisms": {"unencrypted_scram": not link.use_tls}})
        client.enable_direct_tls = False  # TR-069 Annex K and TR-181 speak of STARTTLS only
        client.enable_plaintext = False
        capath = self.agent.settings.acs.ssl_capath
        client.ssl_context = ssl.create_default_context(capath=capath or None)
        client.whitespace_keepalive = link.keepalive != 0
        client.whitespace_keepalive_interval = (VENDOR_KEEPALIVE if link.keepalive < 0
                                                else link.keepalive)
        client.register_handler(slixmpp.xmlstream.handler.CoroutineCallback(
            "cwmp connection request",
            slixmpp.xmlstream.matcher.MatchXPath(f"{{jabber:client}}iq/{{{NS}}}connectionRequest"),
            self._answer))
        return client

    async def _session(self, client, link, host, port):
        """One connection from connect to disconnect; the Status it ended with (UP when it
        was up and then lost)."""
        outcome = self._loop.create_future()

        def settle(status):
            if not outcome.done():
                outcome.set_result(status)

        # "no_auth" (no mechanism acceptable, e.g. UseTLS without TLS) follows
        # "failed_all_auth" synchronously: deferring the latter lets the former win.
        handlers = {"session_start": lambda _: settle(UP),
                    "connection_failed": lambda _: settle("ServerNotPresent"),
                    "failed_all_auth": lambda _: self._loop.call_soon(
                        settle, "Error_AuthenticationFailure"),
                    "no_auth": lambda _: settle("Error_Misconfigured"),
                    "disconnected": lambda _: settle("Error")}
        for event, handler in handlers.items():
            client.add_event_handler(event, handler)
        try:
            gone = client.disconnected
            client.connect(host, port)
            try:
                async with asyncio.timeout(NEGOTIATION_TIMEOUT):
                    status = await outcome
            except TimeoutError:
                status = "ServerNotPresent"
            if status != UP:
                await _hang_up(client)
                return status
            jid = client.boundjid.full
            tls = "starttls" in client.features
            log.info("XMPP connection %s up as %s (%s)", link.path, jid, "TLS" if tls else "no TLS")
            await self._call(_report, link.path, UP, JabberID=jid,
                             TLSEstablished="1" if tls else "0")
            await self._call(_write_changed, {JABBER_ID_PARAM: jid})
            await gone
            return UP
        finally:
            for event, handler in handlers.items():
                client.del_event_handler(event, handler)

    async def _answer(self, iq):
        """Answer one connectionRequest IQ (Annex K) and trigger the session it asks for."""
        if iq["type"] in ("result", "error"):
            return  # answers are never answered (RFC 6120 8.2.3)
        request = iq.xml.find(f"{{{NS}}}connectionRequest")
        username = request.findtext(f"{{{NS}}}username")
        password = request.findtext(f"{{{NS}}}password")
        sender = str(iq["from"])
        if iq["type"] != "get" or username is None or password is None:
            condition, kind = "bad-request", "modify"
        else:
            policy = await self._call(_request_policy)
            condition, kind = refusal(sender, username, password, *policy), "cancel"
        if condition:
            log.warning("XMPP connection request from %s refused: %s", sender, condition)
            reply = iq.reply()  # without the request: credentials are not sent back
            reply["type"] = "error"
            reply["error"]["type"] = kind
            reply["error"]["condition"] = condition
            reply.send()
            return
        log.info("XMPP connection request from %s accepted", sender)
        iq.reply().send()
        self.agent.trigger("6 CONNECTION REQUEST")


async def _hang_up(client, polite=False):
    """End the client's connection (closing the stream first if ``polite``) and any retry
    slixmpp scheduled itself, and wait until it is down: a new connect() must not race
    the old connection's teardown."""
    client.cancel_connection_attempt()
    if client.transport is None:
        return
    gone = client.disconnected
    if polite:
        client.disconnect(wait=1.0)
    else:
        client.abort()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(3):
            await gone
