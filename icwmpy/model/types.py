"""TR-069 data types (TR-106 / XML Schema) and their facets.

A :class:`TypeSpec` is built once per parameter definition and checks a value string
the ACS or the operator wants to set, returning the canonical form to store. Wrong
declared type gives 9006, a value outside the type or its facets 9007.
"""

import base64
import binascii
import datetime
import re
import urllib.parse

from icwmpy.faults import CwmpFault

INT_BOUNDS = {
    "int": (-2**31, 2**31 - 1),
    "unsignedInt": (0, 2**32 - 1),
    "long": (-2**63, 2**63 - 1),
    "unsignedLong": (0, 2**64 - 1),
}
TYPES = frozenset(INT_BOUNDS) | {"string", "boolean", "dateTime", "base64", "hexBinary", "decimal"}

TRUE_WORDS = frozenset({"1", "true"})
FALSE_WORDS = frozenset({"0", "false"})
# UCI and shell tools write booleans in many ways; readings are normalised to 1/0.
LOOSE_TRUE = TRUE_WORDS | {"on", "yes", "enable", "enabled"}
LOOSE_FALSE = FALSE_WORDS | {"off", "no", "disable", "disabled", ""}

_DATETIME = re.compile(
    r"^(-?\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$")
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
UNKNOWN_TIME = "0001-01-01T00:00:00Z"


def _bad(why):
    return CwmpFault(9007, f"Invalid parameter value: {why}")


class TypeSpec:
    """One parameter's type and facets, from a definition dict.

    Facets: ``max`` (string length, or bytes for base64/hexBinary), ``min_len``,
    ``range`` ([min, max] or a list of such pairs, ``null`` for open ends), ``enum``,
    ``pattern`` (list of regular expressions, any may match), ``schemes`` (list of URL
    schemes: a non-empty value must be a URL of one of them, see :func:`check_url`),
    ``list`` (true or ``{"maxItems": n, "maxLength": n}``: a comma-separated list whose
    items obey the facets).
    """

    __slots__ = ("name", "max", "min_len", "ranges", "enum", "patterns", "schemes", "list",
                 "list_max_items", "list_max_len")

    def __init__(self, spec):
        self.name = spec.get("type", "string")
        if self.name not in TYPES:
            raise ValueError(f"unknown type {self.name!r}")
        self.max = spec.get("max")
        self.min_len = spec.get("min_len", 0)
        rng = spec.get("range")
        if rng and not isinstance(rng[0], list):
            rng = [rng]
        self.ranges = [tuple(r) for r in rng] if rng else None
        self.enum = frozenset(spec["enum"]) if "enum" in spec else None
        pats = spec.get("pattern")
        self.patterns = [re.compile(f"^(?:{p})$") for p in pats] if pats else None
        self.schemes = tuple(spec["schemes"]) if "schemes" in spec else None
        lst = spec.get("list")
        self.list = bool(lst)
        lst = lst if isinstance(lst, dict) else {}
        self.list_max_items = lst.get("maxItems")
        self.list_max_len = lst.get("maxLength")

    def check(self, value, declared=None):
        """Canonical form of ``value`` or CwmpFault 9006/9007.

        ``declared`` is the xsi:type the requester gave (prefix ignored). A declared
        ``string`` is accepted for any type because several ACSs send it when they do not
        know the parameter; any other mismatch is 9006.
        """
        if declared:
            local = declared.rpartition(":")[2]
            if local != self.name and local != "string":
                raise CwmpFault(9006, f"Invalid parameter type: expected {self.name}, got {local}")
        if not isinstance(value, str):
            raise CwmpFault(9006, "Invalid parameter type")
        if self.list:
            if self.list_max_len is not None and len(value) > self.list_max_len:
                raise _bad(f"list longer than {self.list_max_len} characters")
            items = [v.strip() for v in value.split(",")] if value.strip() else []
            if self.list_max_items is not None and len(items) > self.list_max_items:
                raise _bad(f"more than {self.list_max_items} items")
            return ",".join(self._check_one(v) for v in items)
        return self._check_one(value)

    def _check_one(self, value):
        kind = self.name
        if kind == "string":
            self._facets_len(len(value))
        elif kind == "boolean":
            low = value.strip().lower()
            if low in TRUE_WORDS:
                value = "1"
            elif low in FALSE_WORDS:
                value = "0"
            else:
                raise _bad("not a boolean")
        elif kind in INT_BOUNDS:
            try:
                number = int(value.strip(), 10)
            except ValueError:
                raise _bad(f"not an {kind}") from None
            lo, hi = INT_BOUNDS[kind]
            if not lo <= number <= hi:
                raise _bad(f"out of {kind} range")
            self._facets_range(number)
            value = str(number)
        elif kind == "decimal":
            value = value.strip()
            if not _DECIMAL.match(value):
                raise _bad("not a decimal")
            self._facets_range(float(value))
        elif kind == "dateTime":
            value = check_datetime(value.strip())
        elif kind == "base64":
            try:
                raw = base64.b64decode(value.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise _bad("not base64") from None
            self._facets_len(len(raw))
        elif kind == "hexBinary":
            value = value.strip()
            try:
                raw = bytes.fromhex(value)
            except ValueError:
                raise _bad("not hexBinary") from None
            if len(value) % 2:
                raise _bad("not hexBinary")
            self._facets_len(len(raw))
        if self.enum is not None and value not in self.enum:
            raise _bad("not one of the enumerated values")
        if self.patterns is not None and not any(p.match(value) for p in self.patterns):
            raise _bad("does not match the pattern")
        if self.schemes is not None:
            check_url(value, self.schemes)
        return value

    def _facets_len(self, length):
        if self.max is not None and length > self.max:
            raise _bad(f"longer than {self.max}")
        if length < self.min_len:
            raise _bad(f"shorter than {self.min_len}")

    def _facets_range(self, number):
        if self.ranges and not any((lo is None or number >= lo) and (hi is None or number <= hi)
                                   for lo, hi in self.ranges):
            raise _bad("out of range")

    def present(self, raw):
        """Backend reading -> value as reported: booleans become 1/0, None becomes ''."""
        if raw is None:
            return ""
        if self.name == "boolean":
            low = raw.strip().lower()
            if low in LOOSE_TRUE:
                return "1"
            if low in LOOSE_FALSE:
                return "0"
        return raw


def check_datetime(value):
    """Validate an xsd:dateTime (TR-069 allows no zone = local/unknown)."""
    datetime_seconds(value)
    return value


def datetime_seconds(value):
    """Seconds since the epoch of an xsd:dateTime (no zone: UTC; a leap second counts as
    :59), None for the Unknown Time (year 0001); else CwmpFault 9007.

    The start-up check of UCI dateTime options uses it too, so that a time an ACS can
    set is always one the daemon starts with.
    """
    m = _DATETIME.match(value)
    if not m:
        raise _bad("not a dateTime")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    zone = m.group(8)
    try:
        when = datetime.datetime(year, month, day, hour, minute, min(second, 59),
                                 tzinfo=datetime.UTC)
    except ValueError:
        raise _bad("not a valid date") from None
    if year == 1:
        return None
    offset = 0 if zone in (None, "Z") else (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return int(when.timestamp()) - (-offset if zone and zone[0] == "-" else offset)


def check_url(value, schemes):
    """``value`` if it is empty or an absolute URL of one of ``schemes`` (lower case) with
    a host and a valid port, without blanks or control characters; else CwmpFault 9007.

    The start-up check of URL options uses it too: a URL an ACS can set never stops the
    daemon.
    """
    if value:
        try:
            parts = urllib.parse.urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            parts = None
        if (parts is None or parts.scheme.lower() not in schemes or not parts.hostname
                or any(c.isspace() or not c.isprintable() for c in value)):
            raise _bad("expected a URL of scheme " + " or ".join(schemes))
    return value


def format_datetime(when=None):
    """xsd:dateTime in UTC for a POSIX time (None = the unknown time)."""
    if when is None:
        return UNKNOWN_TIME
    return datetime.datetime.fromtimestamp(when, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
