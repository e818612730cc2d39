"""The one place that finds the third-party test data: BBF schemas, BBF data model XML, captures.

Those files (``cwmp-xsd/``, ``datamodels/``, ``captures/``) are not the project's to ship, so
they stay outside the repo: in the folder ``$ICWMPY_TEST_DATA`` names, else in ``../shared``
beside the repo. A test that needs a folder of them skips, with :data:`REASON`, where it is
missing; ``conftest.py`` turns that skip into a failure where the data is expected.
"""

import os
from pathlib import Path

import pytest

ENV = "ICWMPY_TEST_DATA"
REPO = Path(__file__).resolve().parents[1]
ROOT = Path(os.environ.get(ENV) or REPO.parent / "shared")
REASON = f"needs third-party test data: set {ENV} to a folder with {{}}/ (see README)"


def found(folder=""):
    """Whether ``folder`` of the test data (or, without one, the data itself) is there."""
    return (ROOT / folder).is_dir()


def expected():
    """Whether this run should have the data: ``$ICWMPY_TEST_DATA`` is set, or it is found."""
    return bool(os.environ.get(ENV)) or found()


def needs(folder):
    """Mark for a test (or ``pytestmark`` for a module) that reads ``folder`` of the data."""
    return pytest.mark.skipif(not found(folder), reason=REASON.format(folder))


def path(folder, *parts):
    """A path inside ``folder`` of the data; skips the calling test where it is missing."""
    if not found(folder):
        pytest.skip(REASON.format(folder))
    return ROOT.joinpath(folder, *parts)


def captures():
    """Every SOAP capture, sorted ([] without the data)."""
    return sorted((ROOT / "captures").glob("**/*.xml"))


def each_capture(test):
    """Decorator: run ``test(path)`` once per capture; it skips, with the reason, without them."""
    parametrize = pytest.mark.parametrize("path", captures(), ids=lambda p: p.name)
    return needs("captures")(parametrize(test))
