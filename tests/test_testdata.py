"""The test data policy (testdata.py, conftest.py) in real pytest runs of a sample suite: without
the data the tests that need it skip with the reason; where it is found, or CI insists, a skip
fails unless a system facility is missing."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import testdata

HERE = Path(__file__).parent
SAMPLE = '''
import pytest

import testdata


@testdata.needs("cwmp-xsd")
def test_needs_the_schemas():
    pass


def test_needs_a_tool():
    pytest.skip("dbus-daemon is not installed")


def test_skips_for_no_good_reason():
    pytest.skip("not today")
'''


def run(tmp_path, data=None, **env):
    """The sample suite in a repo of its own (``data``: folders of a ../shared beside it)."""
    tests = tmp_path / "repo" / "tests"
    tests.mkdir(parents=True)
    for name in ("conftest.py", "testdata.py"):
        shutil.copy(HERE / name, tests)
    (tests / "test_sample.py").write_text(SAMPLE)
    (tests / "test_module_skip.py").write_text('import pytest\npytest.importorskip("no_such")\n')
    for folder in data or ():
        (tmp_path / "shared" / folder).mkdir(parents=True)
    clean = {k: v for k, v in os.environ.items() if k not in (testdata.ENV, "ICWMPY_STRICT_SKIPS")}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider",
                             "--continue-on-collection-errors"], cwd=tests, env=clean | env, capture_output=True, text=True, timeout=60)
    return result.stdout.splitlines()


def test_without_the_data_the_tests_needing_it_skip_with_the_reason(tmp_path):
    out = run(tmp_path)
    assert any(line.startswith("SKIPPED") and line.endswith(testdata.REASON.format("cwmp-xsd"))
               for line in out), out
    assert out[-1].startswith("4 skipped"), out


def test_where_the_data_is_found_only_a_missing_facility_may_skip(tmp_path):
    out = run(tmp_path, data=["cwmp-xsd"])
    assert "unexpected skip" in "\n".join(out) and "not today" in "\n".join(out), out
    assert out[-1].startswith("1 failed, 1 passed, 1 skipped, 1 error"), out


def test_ci_can_insist_on_the_data(tmp_path):
    out = run(tmp_path, ICWMPY_STRICT_SKIPS="1")
    assert out[-1].startswith("1 failed, 1 skipped, 2 errors"), out   # a mark skips in setup


def test_the_variable_names_the_data_folder(tmp_path):
    (tmp_path / "elsewhere" / "cwmp-xsd").mkdir(parents=True)
    out = run(tmp_path, ICWMPY_TEST_DATA=str(tmp_path / "elsewhere"))
    assert out[-1].startswith("1 failed, 1 passed, 1 skipped, 1 error"), out
    out = run(tmp_path / "again", ICWMPY_TEST_DATA=str(tmp_path / "missing"))
    assert out[-1].startswith("1 failed, 1 skipped, 2 errors"), out   # set, so expected
