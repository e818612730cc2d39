"""The events a CPE has not delivered yet, persisted so a crash or reboot loses none.

The rules (which events are single, which are retried, which survive a reboot) are the
standard's, in :mod:`icwmpy.cwmp.events`; this queue applies them and keeps the events
in the ``events`` store namespace.
"""

from icwmpy.cwmp import events

# Events that only live in memory: a restart loses nothing of them that matters (the ACS
# repeats a connection request, the heartbeat timer is armed again at start), and each of
# their sessions, frequent ones, is spared a disk write (a router's flash counts them).
MEMORY_ONLY = {"6 CONNECTION REQUEST", "14 HEARTBEAT"}


def _durable(event):
    """Worth a disk write: every event but the MEMORY_ONLY ones."""
    return event[0] not in MEMORY_ONLY


class EventQueue:
    """Pending Inform events as ``(code, command_key)`` pairs; the durable ones are
    persisted on every change."""

    def __init__(self, store):
        self.ns = store["events"]
        self._events = [tuple(e) for e in self.ns.get("pending", [])]

    @property
    def pending(self):
        return list(self._events)

    def _save(self, queued):
        self._events = list(queued)
        self.ns.set("pending", [list(e) for e in queued if _durable(e)])

    def add(self, code, command_key=""):
        """Queue an event; a single event already queued is not added twice."""
        if not events.is_valid(code):
            raise ValueError(f"unknown event code {code!r}")
        queued = self.pending
        if events.is_multiple(code):
            if (code, command_key) in queued:
                return
        elif any(c == code for c, _ in queued):
            return
        queued.append((code, command_key))
        if code == "0 BOOTSTRAP":
            queued = [e for e in queued if e[0] in events.KEPT_ON_BOOTSTRAP]
        self._save(queued)

    def has(self, code):
        return any(c == code for c, _ in self.pending)

    def delivered(self, sent):
        """The ACS acknowledged an Inform carrying ``sent``: drop exactly those."""
        sent = set(sent)
        self._save([e for e in self.pending if e not in sent])

    def failed(self, sent):
        """A session carrying ``sent`` failed: drop the ones the standard does not retry."""
        drop = {e for e in sent if not events.retried(e[0])}
        if drop:
            self._save([e for e in self.pending if e not in drop])

    def rebooted(self):
        """At start-up after a reboot: keep only what survives one."""
        self._save([e for e in self.pending if events.survives_reboot(e[0])])
