"""Value change detection (TR-069 3.2.1 / A.3.2.4): what changed since the last look.

The watcher compares the values of every parameter with notification > 0 against the
last values it saw, kept in the ``notify`` store namespace so a restart does not report
(or miss) a change. Changes the ACS made itself are recorded silently, as the standard
says they must not be notified. Changed names wait in the same namespace until an
Inform carrying them is acknowledged.

Notification values (CWMP 1.4): 1 passive, 2 active; 3..6 add lightweight (Annex M)
notification: 3 passive lightweight, 4 passive + passive lightweight, 5 active
lightweight, 6 passive lightweight + active.
"""

PASSIVE = frozenset({1, 4})
ACTIVE = frozenset({2, 6})
LIGHTWEIGHT = frozenset({3, 4, 5, 6})


class ValueWatcher:
    def __init__(self, store):
        self.ns = store["notify"]

    @property
    def pending(self):
        """Names whose change the next Inform must carry."""
        return list(self.ns.get("pending", []))

    def check(self, current):
        """Compare ``[(name, value, type, notification)]`` with the known values.

        Returns ``(passive, active, lightweight)``: the changed names for CWMP passive and
        active notification, and the ``(name, value, type, notification)`` changes for
        lightweight notification. A name seen for the first time is only recorded. The
        CWMP changes join the pending list.
        """
        before = self.ns.get("known", {})
        known = dict(before)
        passive, active, lightweight = [], [], []
        for name, value, type_, notification in current:
            old = known.get(name)
            known[name] = value
            if old is None or old == value:
                continue
            if notification in LIGHTWEIGHT:
                lightweight.append((name, value, type_, notification))
            if notification in ACTIVE:
                active.append(name)
            elif notification in PASSIVE:
                passive.append(name)
        if known != before:  # nothing new: no write (a router's flash counts them)
            pending = self.pending
            pending += [n for n in passive + active if n not in pending]
            self.ns.replace({"known": known, "pending": pending})
        return passive, active, lightweight

    def acknowledge(self, values):
        """Record values the ACS set itself (``{name: value}``) without notifying them."""
        known = dict(self.ns.get("known", {}))
        watched = {n: v for n, v in values.items() if n in known}
        if watched:
            known.update(watched)
            self.ns.set("known", known)

    def delivered(self, names):
        """An Inform carrying ``names`` was acknowledged."""
        left = [n for n in self.pending if n not in set(names)]
        self.ns.set("pending", left)
