"""The I/O half of a session: drives the sans-IO :class:`~icwmpy.cwmp.session.Session`
over one ACS connection.

Each step the machine returns ends with one action (post a body, answer an ACS request,
done, failed) and may be preceded by facts to make durable at once (``Informed``: the
Inform's events are delivered; ``Delivered``: a CPE request was acknowledged). The
driver posts, hands requests to the RPC handler and tells the caller those facts the
moment they happen, so a crash right after loses nothing and repeats nothing.
"""

import logging
from dataclasses import dataclass

from icwmpy.cwmp.session import Delivered, Done, Failed, Handle, Informed, Send
from icwmpy.faults import CwmpFault
from icwmpy.logs import redact
from icwmpy.transport import BodyTooLarge, TransportError


# An answer this large (bytes) is parsed off the event loop's thread; a small one costs
# less to parse than the hop.
OFF_LOOP = 64 * 1024


@dataclass(frozen=True)
class Outcome:
    """How a session ended: ``ok``, the ``reason`` of a failure, and whether the
    InformResponse arrived (``informed``: the Inform's events went through)."""
    ok: bool
    reason: str = ""
    informed: bool = False


async def run_session(session, client, *, handle, informed, delivered, offload, log):
    """Run ``session`` over ``client`` (an :class:`~icwmpy.transport.AcsClient`).
    ``await handle(envelope) -> bytes`` answers an ACS request; ``informed(event)`` is
    called when the InformResponse arrives, ``delivered(token)`` when the ACS acknowledged
    the CPE request carrying ``token``; ``await offload(fn, *args)`` runs ``fn`` off the
    event loop's thread (the model executor): a big message is parsed there, so a
    connection request or a bus call arriving meanwhile is still answered at once."""
    debug = log.isEnabledFor(logging.DEBUG)
    was_informed = False
    events = session.start()
    try:
        while True:
            for event in events[:-1]:
                if isinstance(event, Informed):
                    was_informed = True
                    informed(event)
                elif isinstance(event, Delivered):
                    delivered(event.token)
            step = events[-1]
            if isinstance(step, Send):
                if debug:
                    log.debug("SOAP to the ACS:\n%s", redact(step.body) or "(empty)")
                try:
                    response = await client.post(step.body)
                except BodyTooLarge as e:  # not read past the cap: refused, the session goes on
                    log.warning("ACS message refused: %s", e.message)
                    events = session.refuse(CwmpFault(9004, f"Resources exceeded: {e.message}"))
                    continue
                if debug:
                    log.debug("SOAP from the ACS (HTTP %d):\n%s", response.status,
                              redact(response.body) or "(empty)")
                if len(response.body) > OFF_LOOP:
                    events = await offload(session.receive, response.status, response.body)
                else:
                    events = session.receive(response.status, response.body)
            elif isinstance(step, Handle):
                log.info("ACS request %s", step.envelope.method)
                events = session.respond(await handle(step.envelope))
            elif isinstance(step, Done):
                return Outcome(True, informed=was_informed)
            else:
                assert isinstance(step, Failed)
                return Outcome(False, step.reason, was_informed)
    except TransportError as e:
        return Outcome(False, str(e), was_informed)
