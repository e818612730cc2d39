"""Value change detection against persisted last-known values."""

import os

from icwmpy.notify import ValueWatcher
from icwmpy.store import Store


def test_changes_are_classified_persisted_and_quiet_polls_write_nothing(tmp_path):
    store = Store(str(tmp_path))
    watcher = ValueWatcher(store)
    assert watcher.check([("A", "1", "string", 1), ("B", "x", "string", 2),
                          ("C", "y", "string", 3)]) == ([], [], [])   # first sight: recorded only
    path = tmp_path / "notify.json"
    stamp = os.stat(path).st_mtime_ns
    assert watcher.check([("A", "1", "string", 1), ("B", "x", "string", 2)]) == ([], [], [])
    assert os.stat(path).st_mtime_ns == stamp
    assert watcher.check([("A", "2", "string", 1), ("B", "z", "string", 6),
                          ("C", "q", "string", 3)]) == (["A"], ["B"], [("B", "z", "string", 6),
                                                                      ("C", "q", "string", 3)])
    again = ValueWatcher(Store(str(tmp_path)))   # after a restart
    assert again.pending == ["A", "B"]
    again.delivered(["A"])
    assert again.pending == ["B"]


def test_values_the_acs_set_are_not_notified(tmp_path):
    watcher = ValueWatcher(Store(str(tmp_path)))
    watcher.check([("A", "1", "string", 2)])
    watcher.acknowledge({"A": "5", "Unwatched": "9"})
    assert watcher.check([("A", "5", "string", 2)]) == ([], [], [])
    assert watcher.check([("A", "6", "string", 2)]) == ([], ["A"], [])
