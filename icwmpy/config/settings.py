"""The ``cwmp`` UCI package, validated against ``cwmp.spec`` into typed :class:`Settings`.

An operator who mistypes a value should learn, in one line, which file, option and value
are wrong and what is allowed, before the daemon starts doing anything with it; a
misspelt option name is only warned about, so a config written for a newer or older
icwmp still loads. An option left out takes its default (uci reads ``option x ''`` as left out).

Sections are found as icwmp finds them: ``cwmp.acs`` is the section named ``acs`` (old
configs: ``config cwmp 'acs'``) or else the first section of type ``acs`` (``config acs``).
Every ``config inform_parameter`` section is one entry of ``Settings.inform_parameters``,
every ``config apply_hook`` section one of ``Settings.apply_hooks``.
"""

import logging
import os
import re
from collections.abc import Mapping

from configobj import ConfigObj, flatten_errors, get_extra_values
from configobj.validate import ValidateError, Validator

from icwmpy.config.uci import Uci, UciError
from icwmpy.faults import CwmpFault

PACKAGE = "cwmp"
SECTIONS = ("acs", "cpe", "lwn", "stun", "xmpp", "transfer_complete", "du_state_change",
            "fleet")
INFORM_PARAMETER = "inform_parameter"
# Section types of which the package may hold any number: type -> Settings attribute.
REPEATED = {INFORM_PARAMETER: "inform_parameters", "apply_hook": "apply_hooks"}


class ConfigError(Exception):
    """A configuration that cannot be used; the message is one line for the operator."""


class _Invalid(ValidateError):
    """A value rejected by a check; the message says what is allowed."""


# ---------------------------------------------------------------------------- checks
# Each takes the raw UCI value (str, or list for a `list` option) and returns it typed.

_TRUE = {"1", "true", "on", "yes", "enable", "enabled"}
_FALSE = {"0", "false", "off", "no", "disable", "disabled"}


def _scalar(value):
    if isinstance(value, list):
        raise _Invalid("expected a single value (option), not a list")
    return value.strip()


def check_string(value):
    if isinstance(value, list):
        raise _Invalid("expected a single value (option), not a list")
    return value


def check_boolean(value):
    word = _scalar(value).lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise _Invalid("expected a boolean: 1/0, true/false, on/off, yes/no or enable/disable")


def check_integer(value, min=None, max=None):
    low = None if min is None else int(min)
    high = None if max is None else int(max)
    if low is not None and high is not None:
        wanted = f"an integer from {low} to {high}"
    elif low is not None:
        wanted = f"an integer >= {low}"
    elif high is not None:
        wanted = f"an integer <= {high}"
    else:
        wanted = "an integer"
    text = _scalar(value)
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise _Invalid("expected " + wanted)
    number = int(text)
    if (low is not None and number < low) or (high is not None and number > high):
        raise _Invalid("expected " + wanted)
    return number


def _choose(word, choices):
    for choice in choices:
        if word.lower() == choice.lower():
            return choice
    raise _Invalid("expected one of " + ", ".join(choices))


def check_option(value, *choices):
    """One of ``choices``, in any case (icwmp compares some of them case-blind)."""
    return _choose(_scalar(value), choices)


def check_csv_list(value, *choices):
    items = value if isinstance(value, list) else value.split(",")
    items = [item.strip() for item in items if item.strip()]
    return [_choose(item, choices) for item in items] if choices else items


def check_list(value):
    """A UCI ``list`` (or a single option) as a list of str, items kept whole."""
    items = value if isinstance(value, list) else [value]
    return [item for item in items if item.strip()]


# dateTime and URL values are read with the data model's own checks, so that whatever
# an ACS may set loads at the next start (tests/test_config_agreement.py). They are
# imported when first used: `python -m icwmpy.config` (the config export an Upload runs)
# imports this package and has no use for the data model.

def check_datetime(value):
    """Seconds since the epoch; 0 for unset and for the CWMP Unknown Time (year 0001)."""
    from icwmpy.model.types import datetime_seconds

    text = _scalar(value)
    if text in ("", "0"):
        return 0
    try:
        return datetime_seconds(text) or 0
    except CwmpFault:
        raise _Invalid("expected a dateTime such as 2024-01-31T12:00:00Z, or 0") from None


def check_url(value):
    from icwmpy.model.types import check_url as model_check_url

    text = _scalar(value)
    try:
        return model_check_url(text, ("http", "https"))
    except CwmpFault:
        raise _Invalid("expected an http:// or https:// URL") from None


CHECKS = {
    "string": check_string,
    "boolean": check_boolean,
    "integer": check_integer,
    "option": check_option,
    "csv_list": check_csv_list,
    "list": check_list,
    "datetime": check_datetime,
    "url": check_url,
}


# ---------------------------------------------------------------------------- result

class Section(Mapping):
    """The validated options of one section, read as ``section.port`` or ``section["port"]``."""

    def __init__(self, label, values):
        self._label = label
        self._values = dict(values)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"{self._label} has no option {name!r}") from None

    def __getitem__(self, name):
        return self._values[name]

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def __repr__(self):
        return f"Section({self._label!r}, {self._values!r})"


class Settings:
    """The whole validated ``cwmp`` package.

    ``acs``, ``cpe``, ``lwn``, ``transfer_complete``, ``du_state_change`` are
    :class:`Section` objects; ``inform_parameters`` and ``apply_hooks`` are lists of dicts
    (``section``: the UCI section name, and the section's options); ``path`` is the file.
    """

    def __init__(self, path, sections, repeated):
        self.path = path
        for name in SECTIONS:
            setattr(self, name, sections[name])
        for attribute, entries in repeated.items():
            setattr(self, attribute, entries)

    def __repr__(self):
        return f"Settings({self.path!r})"


# ---------------------------------------------------------------------------- loading

def _spec_lines():
    # a plain path, not importlib.resources: that import alone costs the daemon ~1.5 MB
    with open(os.path.join(os.path.dirname(__file__), "cwmp.spec"), encoding="utf-8") as f:
        return f.read().splitlines()


def _warner(warn):
    if warn is None:
        return logging.getLogger(__name__).warning
    return getattr(warn, "warning", warn)


def _gather(uci, path, warn):
    """Pick the sections icwmp reads: (their set options for configobj, display labels)."""
    data, labels, used = {}, {}, set()
    for name in SECTIONS:
        found = name if uci.section_type(PACKAGE, name) is not None else None
        if found is None:
            typed = uci.sections(PACKAGE, name)
            found = typed[0][0] if typed else None
        if found is not None:
            used.add(found)
            data[name] = uci.options(PACKAGE, found)
        labels[(name,)] = f"{PACKAGE}.{name}"
    for kind in REPEATED:
        data[kind] = {}
        for index, (name, _) in enumerate(uci.sections(PACKAGE, kind)):
            if name in used:
                continue
            used.add(name)
            data[kind][name] = uci.options(PACKAGE, name)
            labels[(kind, name)] = f"{PACKAGE}.@{kind}[{index}]"
    for name, type in uci.sections(PACKAGE):
        if name not in used:
            warn(f"{path}: {PACKAGE}.{name}: section of type '{type}' is not used (ignored)")
    return data, labels


def _at(tree, sections):
    for name in sections:
        tree = tree.get(name, {})
    return tree


def load_settings(confdir, warn=None, uci=None):
    """Read and validate ``<confdir>/cwmp``; raise :class:`ConfigError` on a bad value.

    ``warn`` is a logger or a callable taking a message (default: this module's logger);
    ``uci`` an existing :class:`Uci` for ``confdir`` to share its cache.
    """
    warn = _warner(warn)
    uci = uci or Uci(confdir)
    path = uci.path(PACKAGE)
    if not os.path.isfile(path):
        warn(f"{path}: no such file, using the defaults")
    try:
        data, labels = _gather(uci, path, warn)
    except UciError as e:
        raise ConfigError(str(e)) from None

    config = ConfigObj(data, configspec=_spec_lines(), interpolation=False)
    results = config.validate(Validator(CHECKS), preserve_errors=True)
    for sections, key, error in flatten_errors(config, results):
        label = labels.get(tuple(sections), ".".join([PACKAGE, *sections]))
        value = _at(data, sections).get(key)
        message = str(error) if isinstance(error, Exception) else "missing"
        raise ConfigError(f"{path}: {label}.{key} = {value!r}: {message}")
    for sections, key in get_extra_values(config):
        label = labels.get(tuple(sections), ".".join([PACKAGE, *sections]))
        warn(f"{path}: {label}.{key}: unknown option (ignored)")
        del _at(config, sections)[key]

    known = {name: Section(labels[(name,)], config[name]) for name in SECTIONS}
    repeated = {attribute: [dict(config[kind][name], section=name) for name in config[kind]]
                for kind, attribute in REPEATED.items()}
    return Settings(path, known, repeated)
