"""Periodic inform phase anchoring and the retry back-off of TR-069 3.2.1.1."""

import pytest

from icwmpy.schedule import next_periodic, retry_wait


def test_anchor_in_the_past_and_future():
    assert next_periodic(1000, 300, anchor=100) == 1300         # 100 + 4*300
    assert next_periodic(1300, 300, anchor=100) == 1600         # exactly on a slot: the next
    assert next_periodic(1000, 300, anchor=5000) == 1100        # 5000 - 13*300
    assert next_periodic(1000, 300) == 1300
    assert next_periodic(1000, 300, last=900) == 1200


@pytest.mark.parametrize("attempt,lo,hi", [(1, 5, 10), (2, 10, 20), (3, 20, 40), (10, 2560, 5120),
                                           (25, 2560, 5120)])
def test_retry_ranges(attempt, lo, hi):
    assert retry_wait(attempt, rand=lambda a, b: (a, b)) == (lo, hi)


def test_retry_with_custom_multiplier():
    assert retry_wait(2, minimum=30, multiplier=1500, rand=lambda a, b: (a, b)) == (45.0, 67.5)
    assert all(5 <= retry_wait(1) <= 10 for _ in range(100))
