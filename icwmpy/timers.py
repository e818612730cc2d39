"""A CPE's named wall-clock timers on the event loop, and which of them starts a session.

The Agent arms one timer per purpose (periodic inform, retry, ScheduleInform, heartbeat,
throttled active notification, DelayReboot, ScheduleReboot); re-arming a name replaces
it. The earliest timer that starts a session is the CPE's ``next_session``: whoever
shows it (D-Bus ``NextSession``, the log) subscribes to its changes instead of polling.
"""

import time

# the timers that start a session, as the log names them
SESSION_TIMERS = {"periodic": "the periodic inform", "retry": "a retry",
                  "scheduled": "a ScheduleInform", "heartbeat": "the heartbeat"}


class SessionTimers:
    """``loop`` the asyncio loop; ``on_next(when)`` is called with the wall-clock time of
    the next session timer (None: none armed) whenever it changes."""

    __slots__ = ("_loop", "_handles", "_on_next", "next_session")

    def __init__(self, loop, on_next=None):
        self._loop = loop
        self._handles = {}
        self._on_next = on_next
        self.next_session = None

    def at(self, name, when, callback):
        """Call ``callback()`` at wall-clock time ``when``, replacing a timer of that name."""
        self.cancel(name)
        self._handles[name] = self._loop.call_later(max(0.0, when - time.time()),
                                                    self._fire, name, callback)
        self._changed()

    def _fire(self, name, callback):
        self._handles.pop(name, None)
        self._changed()
        callback()

    def cancel(self, name):
        handle = self._handles.pop(name, None)
        if handle:
            handle.cancel()
            self._changed()

    def cancel_all(self):
        for name in list(self._handles):
            self.cancel(name)

    def armed(self, name):
        return name in self._handles

    def next_text(self):
        """The timer that starts the next session and when, as the log tells it."""
        armed = [(h.when(), n) for n, h in self._handles.items() if n in SESSION_TIMERS]
        if not armed:
            return "none scheduled (until an event asks for one)"
        when, name = min(armed)
        return f"{SESSION_TIMERS[name]} in {max(0.0, when - self._loop.time()):.0f} s"

    def _changed(self):
        pending = [h.when() for n, h in self._handles.items() if n in SESSION_TIMERS]
        when = (time.time() + min(pending) - self._loop.time()) if pending else None
        if when != self.next_session:
            self.next_session = when
            if self._on_next:
                self._on_next(when)
