"""The data model and the start-up check agree on every cwmp option an ACS can set.

A value SetParameterValues (or ``icwmpd -c set``) accepts is written to /etc/config/cwmp;
if ``load_settings`` then refuses it, the next start exits 2 and the device is locked out
of management by one SPV. So: for each writable parameter stored in the ``cwmp`` package,
every sample value the data model accepts must load, and where both sides check a range,
an enumeration, a dateTime or a URL they must say the same.
"""

import json
import pathlib
import shutil
import subprocess
import sys

import pytest
from configobj import ConfigObj
from configobj.validate import ValidateError, Validator

from icwmpy.config.settings import ConfigError, load_settings
from icwmpy.config.uci import Uci
from icwmpy.config.settings import CHECKS
from icwmpy.faults import CwmpFault
from icwmpy.model import DataModel
from icwmpy.model.schema import Definitions
from icwmpy.model.types import INT_BOUNDS
from icwmpy.store import Store

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATAMODEL = ROOT / "datamodel"
DEFAULT_CONFIG = ROOT / "etc" / "config" / "cwmp"
SPEC = ConfigObj((ROOT / "icwmpy" / "config" / "cwmp.spec").read_text().splitlines(),
                 list_values=False, _inspec=True)
# settings checks that say more than "a value" (csv_list only with choices): these must
# match the model exactly
COMPARED = {"integer", "option", "datetime", "url", "csv_list"}

DATETIMES = ["0001-01-01T00:00:00Z", "2024-01-31T12:00:00Z", "2024-01-31T12:00:00",
             "2024-01-31T12:00:00.25+02:00", "2024-02-30T00:00:00Z", "2024-01-31T12:00:60Z",
             "0000-01-01T00:00:00Z", "10000-01-01T00:00:00Z", "2024-01-31 12:00:00", "0"]
URLS = ["http://acs.example", "https://[::1]:7547/cwmp", "HTTP://ACS.EXAMPLE/",
        "http://user:pw@acs/", "notaurl", "ftp://x", "http://", "http:///x", "http://a b/",
        "https://acs/\x7f", "//acs/", "http://acs:99999/", "http://acs:x/", "http://[::1/"]
STRINGS = ["", "x", "a'b", 'a"b', "a\\b", "a b", " lead", "$x", "é", "a\tb", "a\nb", "a\\\nb",
           "1 Firmware Upgrade Image", "X 00256D vendor", "Install,Update", "9001,9003"]


def cwmp_params():
    """Writable parameters whose value is kept in the cwmp package (ManagementServer's,
    DeviceInfo.ProvisioningCode): their backend names a cwmp option, or they are a UCI
    option of a table of cwmp sections."""
    defs = Definitions().load_dir(DATAMODEL)
    for p in defs.walk_params():
        table = p.obj.table_def()
        in_cwmp = '"cwmp.' in json.dumps(p.spec) or (
            "uci" in p.spec and table is not None and table.table_spec.get("uci") == "cwmp")
        if p.writable and in_cwmp:
            yield p


PARAMS = {p.path: p for p in cwmp_params()}


def samples(p, checks=()):
    """Values around every bound either side knows of, the enumerations, and odd forms;
    ``checks`` are the parsed cwmp.spec checks (name, args, kwargs) of its options."""
    bounds = [b for r in p.type.ranges or [] for b in r if b is not None]
    bounds += INT_BOUNDS.get(p.type.name, ())
    bounds += [int(v) for _, _, kwargs in checks for v in kwargs.values() if v is not None]
    numbers = {str(b + d) for b in bounds for d in (-1, 0, 1)} | {"0", "1", "-1", " 7", "07"}
    enum = set(p.type.enum or ()) | {choice for _, args, _ in checks for choice in args}
    words = enum | {e.lower() for e in enum} | {",".join(sorted(enum))}
    length = {"x" * p.type.max, "x" * (p.type.max + 1)} if p.type.max else set()
    return sorted(numbers | words | length | {"true", "no", "UDP", "bogus"} | set(DATETIMES)
                  | set(URLS) | set(STRINGS))


def model_at(confdir, statedir):
    return DataModel.from_dir(str(DATAMODEL), Uci(str(confdir)), Store(str(statedir)))


def snapshot(confdir):
    """Every cwmp option as written: {(section type, option): value}."""
    uci = Uci(str(confdir))
    return {(type, option): value for name, type in uci.sections("cwmp")
            for option, value in uci.options("cwmp", name).items()}


def instance_path(model, path):
    """``path`` with ``{i}`` replaced by a fresh instance of its table."""
    if "{i}" not in path:
        return path
    table, _, rest = path.partition("{i}.")
    number, _ = model.add_object(table)
    return f"{table}{number}.{rest}"


def accepted_by_model(model, name, value):
    try:
        model.set_values([(name, value, None)])
    except CwmpFault:
        return False
    return True


def spec_check(type, option):
    """The cwmp.spec check of ``option`` in sections of ``type``, or None."""
    section = SPEC.get(type)
    if section is None:
        return None
    if "__many__" in section:
        section = section["__many__"]
    return section.get(option)


def spv_every_sample(tmp_path, p):
    """SPV each sample, loading the config after each as the next start would.

    Returns the values that made the start fail (with the error) and the cwmp options
    written, as {(section type, option): its cwmp.spec check}.
    """
    confdir = tmp_path / "config"
    confdir.mkdir()
    shutil.copy(DEFAULT_CONFIG, confdir / "cwmp")
    model = model_at(confdir, tmp_path / "state")
    name = instance_path(model, p.path)
    written, locked_out = set(), []
    for value in samples(p):
        before = snapshot(confdir)
        if not accepted_by_model(model, name, value):
            continue
        after = snapshot(confdir)
        written |= {k for k in after if after[k] != before.get(k)}
        try:
            load_settings(str(confdir), warn=lambda _: None)
        except ConfigError as e:
            locked_out.append((value, str(e)))
            shutil.copy(DEFAULT_CONFIG, confdir / "cwmp")
            model = model_at(confdir, tmp_path / "state")
            name = instance_path(model, p.path)
    checks = {}
    for type, option in written:
        check = spec_check(type, option)
        assert check is not None, f"{p.path} writes cwmp {type}.{option}, not in cwmp.spec"
        checks[(type, option)] = check
    return locked_out, checks


def settings_reading(check, value):
    """What the start-up check makes of ``value``, or None if it refuses it."""
    try:
        return Validator(CHECKS).check(check, value)
    except ValidateError:
        return None


def out_of_type(p, value):
    """An integer beyond the parameter's xsd type: UCI integers have no such bound."""
    lo, hi = INT_BOUNDS.get(p.type.name, (None, None))
    try:
        return lo is not None and not lo <= int(value) <= hi
    except ValueError:
        return False


def parse(check):
    fun, args, kwargs, _ = Validator()._parse_with_caching(check)
    return fun, args, {k: v for k, v in kwargs.items() if k != "default"}


@pytest.mark.parametrize("path", sorted(PARAMS))
def test_every_value_the_data_model_accepts_loads_at_start(tmp_path, path):
    locked_out, checks = spv_every_sample(tmp_path, PARAMS[path])
    assert not locked_out, f"{path}: these SPVs stop the next start: {locked_out}"
    assert checks, f"{path}: no sample value was accepted"


@pytest.mark.parametrize("path", sorted(PARAMS))
def test_ranges_enumerations_and_formats_are_the_same_on_both_sides(tmp_path, path):
    """Where cwmp.spec checks more than "a value", the values it reads unchanged (exact
    case; not the empty "unset" or a dateTime's "0") are those the data model accepts."""
    p = PARAMS[path]
    _, checks = spv_every_sample(tmp_path, p)
    parsed = [parse(check) for check in checks.values()]
    for (type, option), check in checks.items():
        fun = parse(check)[0]
        if fun not in COMPARED or (fun == "csv_list" and not parse(check)[1]):
            continue
        differ = []
        for value in samples(p, parsed):
            reading = settings_reading(check, value)
            if isinstance(reading, list):
                reading = ",".join(reading)
            if value == "" or (fun == "datetime" and value == "0") or out_of_type(p, value):
                continue
            settings_ok = reading is not None and (fun not in ("option", "csv_list")
                                                   or reading == value)
            try:
                model_ok = p.type.check(value) is not None
            except CwmpFault:
                model_ok = False
            if model_ok != settings_ok:
                differ.append((value, "model" if model_ok else "settings"))
        assert not differ, f"{path} vs cwmp {type}.{option} = {check}, accepted only by: {differ}"


@pytest.mark.parametrize("url", ["notaurl", "ftp://x"])
def test_a_bad_acs_url_is_refused_with_9007_by_spv_and_the_cli(tmp_path, url):
    """The lock-out of issue 12: such a URL was written, and the next start exited 2."""
    confdir = tmp_path / "config"
    confdir.mkdir()
    shutil.copy(DEFAULT_CONFIG, confdir / "cwmp")
    written = (confdir / "cwmp").read_text()
    model = model_at(confdir, tmp_path / "state")
    with pytest.raises(CwmpFault) as fault:
        model.set_values([("Device.ManagementServer.URL", url, None)])
    assert fault.value.details[0][1] == 9007
    cli = subprocess.run([sys.executable, "-m", "icwmpy", "--confdir", str(confdir),
                          "--statedir", str(tmp_path / "state"), "--datamodel", str(DATAMODEL),
                          "-c", "set", "Device.ManagementServer.URL", url],
                         capture_output=True, text=True, timeout=60)
    assert (cli.returncode, cli.stderr.split(":")[0]) == (1, "Fault 9007")
    assert (confdir / "cwmp").read_text() == written
    model.set_values([("Device.ManagementServer.URL", "https://acs.example:7547/cwmp", None)])
    assert load_settings(str(confdir)).acs.url == "https://acs.example:7547/cwmp"
