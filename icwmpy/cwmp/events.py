"""Inform event codes and the standard's rules for keeping them (TR-069 3.7.1.5).

An :class:`EventQueue` holds the events not yet delivered, in the ``events`` store
namespace, so a crash or reboot loses none. Single events ("2 PERIODIC") appear at most
once; multiple events ("M Download") once per CommandKey. On a failed session every
event is kept except those the standard says not to retry; at start-up after a
reboot, the events that do not survive a reboot are dropped.
"""

import re

# code -> (retried after a failed session, kept across a reboot)
RULES = {
    "0 BOOTSTRAP": (True, True),
    "1 BOOT": (True, False),
    "2 PERIODIC": (True, True),
    "3 SCHEDULED": (True, True),
    "4 VALUE CHANGE": (True, False),
    "5 KICKED": (True, True),
    "6 CONNECTION REQUEST": (False, False),
    "7 TRANSFER COMPLETE": (True, True),
    "8 DIAGNOSTICS COMPLETE": (True, True),
    "9 REQUEST DOWNLOAD": (True, True),
    "10 AUTONOMOUS TRANSFER COMPLETE": (True, True),
    "11 DU STATE CHANGE COMPLETE": (True, True),
    "12 AUTONOMOUS DU STATE CHANGE COMPLETE": (True, True),
    "13 WAKEUP": (True, False),
    # retried with the back-off, as icwmp does; a reboot re-arms the heartbeat anyway
    "14 HEARTBEAT": (True, False),
    "M Reboot": (True, True),
    "M ScheduleInform": (True, True),
    "M Download": (True, True),
    "M ScheduleDownload": (True, True),
    "M Upload": (True, True),
    "M ChangeDUState": (True, True),
}
# Vendor events: "X <OUI> <name>" single, "M X_<OUI>_<name>" multiple.
_VENDOR = re.compile(r"^(X [0-9A-F]{6} \S.*|M X_[0-9A-F]{6}_\S+)$")
# What a BOOTSTRAP caused by a new ACS keeps: everything else was meant for the old ACS.
KEPT_ON_BOOTSTRAP = {"0 BOOTSTRAP", "1 BOOT", "M Reboot"}
# icwmp's ubus inform names these by their number alone ("6 connection request", "8").
BY_NUMBER = {code.split()[0]: code for code in RULES
             if code.split()[0] in {"1", "2", "3", "4", "6", "8", "9", "13", "14"}}
_BY_UPPER = {code.upper(): code for code in RULES}


def is_valid(code):
    return code in RULES or bool(_VENDOR.match(code))


def from_text(text):
    """The event code an operator's text means, as icwmp's ``ubus call tr069 inform``
    reads it: any case, and for the codes icwmp's inform knows, the number alone (what
    follows it is not checked, as in icwmp). None when it names no event."""
    text = " ".join(text.split())
    if is_valid(text):
        return text
    return _BY_UPPER.get(text.upper()) or BY_NUMBER.get(text.partition(" ")[0])


def is_multiple(code):
    return code.startswith("M ")


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

    def _save(self, events):
        self._events = list(events)
        self.ns.set("pending", [list(e) for e in events if _durable(e)])

    def add(self, code, command_key=""):
        """Queue an event; a single event already queued is not added twice."""
        if not is_valid(code):
            raise ValueError(f"unknown event code {code!r}")
        events = self.pending
        if is_multiple(code):
            if (code, command_key) in events:
                return
        elif any(c == code for c, _ in events):
            return
        events.append((code, command_key))
        if code == "0 BOOTSTRAP":
            events = [e for e in events if e[0] in KEPT_ON_BOOTSTRAP]
        self._save(events)

    def has(self, code):
        return any(c == code for c, _ in self.pending)

    def delivered(self, sent):
        """The ACS acknowledged an Inform carrying ``sent``: drop exactly those."""
        sent = set(sent)
        self._save([e for e in self.pending if e not in sent])

    def failed(self, sent):
        """A session carrying ``sent`` failed: drop the ones the standard does not retry."""
        drop = {e for e in sent if not RULES.get(e[0], (True, True))[0]}
        if drop:
            self._save([e for e in self.pending if e not in drop])

    def rebooted(self):
        """At start-up after a reboot: keep only what survives one."""
        self._save([e for e in self.pending if RULES.get(e[0], (True, True))[1]])
