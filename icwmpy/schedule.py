"""When the next session should happen: periodic informs and retries (TR-069 3.2.1.1, 3.7.1.5).

Pure functions of the current time and the settings, so the rules are tested without
waiting.
"""

import math
import random


def next_periodic(now, interval, anchor=0, last=None):
    """The next periodic inform after ``now``.

    With a PeriodicInformTime ``anchor`` (epoch seconds, 0 = unset) informs fall on
    ``anchor + k * interval`` for whole ``k``, whether the anchor is past or future;
    without one they follow ``interval`` after the last one (or after ``now``).
    """
    interval = max(1, int(interval))
    if anchor:
        periods = math.floor((now - anchor) / interval) + 1
        return anchor + periods * interval
    base = last if last is not None and last + interval > now else now
    return base + interval


def retry_wait(attempt, minimum=5, multiplier=2000, rand=random.uniform):
    """Seconds to wait before retry ``attempt`` (1 = first retry) after failed sessions.

    Drawn from ``[m * k**(n-1), m * k**n]`` with m = CWMPRetryMinimumWaitInterval,
    k = CWMPRetryIntervalMultiplier / 1000 and n capped at 10, as TR-069 Table 3 says.
    """
    n = min(max(1, attempt), 10)
    k = multiplier / 1000.0
    return rand(minimum * k ** (n - 1), minimum * k ** n)
