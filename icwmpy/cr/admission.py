"""Which authenticated connection requests start a session: one rule for HTTP and UDP.

Two limits, both from TR-069 3.2.2 ("the CPE SHOULD restrict the number of Connection
Requests it accepts during a given period of time"): the operator's minimum spacing
(``cwmp.cpe.cr_throttle``, read live) and a sliding window (icwmp's 50 in 5 s).
"""

import collections


class RateLimit:
    """At most ``limit`` accepted requests in any ``period`` seconds. An ACS stays well
    below icwmp's bound of 50 in 5 s, a flood does not."""

    def __init__(self, limit=50, period=5.0):
        self.limit, self.period = limit, period
        self._accepted = collections.deque()

    def allow(self, now):
        """True (and counted) when one more request fits in the window ending ``now``."""
        while self._accepted and now - self._accepted[0] >= self.period:
            self._accepted.popleft()
        if len(self._accepted) >= self.limit:
            return False
        self._accepted.append(now)
        return True


def no_throttle():
    """The default spacing: none."""
    return 0


class Admission:
    """``throttle()``: minimum seconds between accepted requests (0 = none), read on every
    request so a change takes effect at once; ``rate``: the sliding window."""

    def __init__(self, throttle=no_throttle, rate=None):
        self._throttle = throttle
        self.rate = rate or RateLimit()
        self._last = None

    def refusal(self, now):
        """None when a request at monotonic ``now`` is admitted (and counted), else why not."""
        window = self._throttle()
        if window > 0 and self._last is not None and now - self._last < window:
            return "throttled"
        if not self.rate.allow(now):
            return f"more than {self.rate.limit} in {self.rate.period:g} s"
        self._last = now
        return None
