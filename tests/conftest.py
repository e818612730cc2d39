"""Where the test data is expected, a skipped test fails, unless a system facility is missing.

A test that skips where it should run is a test that cannot fail. So wherever the third-party
test data is expected (found, or named by ``ICWMPY_TEST_DATA``: see ``testdata.py``), or
``ICWMPY_STRICT_SKIPS=1`` insists, every skip becomes a failure unless its reason starts with
one of :data:`FACILITIES`: a tool or kernel facility this machine lacks, which no checkout can
provide.
"""

import os

import pytest

import testdata

FACILITIES = (
    "dbus-daemon is not installed",
    "needs root, setpriv and dbus-send",
    "no IPv6 loopback",
    "turnserver (Debian package coturn) is not installed",
    "prosody is not installed",
    "no 'ip' tool",
    "the uci tool is not installed",
    "network namespaces need root",
    "cannot make network namespaces",
)
STRICT = os.environ.get("ICWMPY_STRICT_SKIPS") == "1" or testdata.expected()


def _fail_unexpected_skip(report):
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2].removeprefix("Skipped: ")
        if not reason.startswith(FACILITIES):
            report.outcome = "failed"
            report.longrepr = (f"unexpected skip (test data at {testdata.ROOT}, or "
                               f"ICWMPY_STRICT_SKIPS=1): {reason}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    _fail_unexpected_skip(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    report = yield
    _fail_unexpected_skip(report)
    return report
