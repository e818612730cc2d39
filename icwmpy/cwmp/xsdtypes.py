"""Value kinds of the CWMP schema: each one decodes an XML element and encodes a Python value.

The RPC table (:mod:`icwmpy.cwmp.rpcs`) is built from these kinds, and :mod:`icwmpy.cwmp.soap`
only walks it, so there is one generic decoder and one generic encoder for every RPC.

Decoding is tolerant where real ACSs and CPEs differ from the schema without ambiguity
(namespace prefixes, qualified child elements, whitespace around values, missing or wrong
``soap-enc:arrayType``, odd ``xsi:type`` prefixes, one level of needless wrapping), and strict
where the schema constrains a value (string lengths, integer syntax and range, enumerated
integers, booleans): a violation raises ``CwmpFault(9003)`` naming the offending argument.
Encoding writes exactly what the BBF schema expects, element order included.
"""

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone, UTC

from icwmpy.faults import CwmpFault

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"

# The "Unknown Time" of TR-069 (A.2.2.2), used when a CPE cannot tell when something happened.
UNKNOWN_TIME = datetime(1, 1, 1, tzinfo=UTC)


def local(tag):
    """Local part of an ElementTree ``{ns}name`` tag: children are matched by name only,
    because ACSs qualify them with whatever prefix (or none) they like."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def children(elem):
    """Element children only (comments and processing instructions have no string tag)."""
    return [c for c in elem if isinstance(c.tag, str)]


def xsi_type(elem):
    """Local name of ``xsi:type`` (``ns1:unsignedInt`` -> ``unsignedInt``), or None."""
    value = elem.get(XSI_TYPE)
    return value.strip().rpartition(":")[2] or None if value else None


# -- XML text output ------------------------------------------------------------------------

# Characters XML 1.0 cannot carry at all, not even as character references.
_ILLEGAL_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# Anything escape() must change; most values have none, and are returned as they are.
_NEEDS_ESCAPE = re.compile("[&<>\r]|" + _ILLEGAL_XML.pattern)


def escape(text):
    """Character data for XML 1.0: markup escaped, CR kept as a reference (a parser would
    normalise a raw one away), characters illegal in XML replaced by U+FFFD."""
    if not _NEEDS_ESCAPE.search(text):
        return text
    text = _ILLEGAL_XML.sub("\ufffd", text)
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#13;"))


def escape_attr(text):
    """Attribute value for XML 1.0 (double-quoted)."""
    return escape(text).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")


def element(tag, text="", attrs=""):
    """One element with escaped text; ``attrs`` is preformatted (starts with a space)."""
    return f"<{tag}{attrs}>{escape(text)}</{tag}>"


# -- xsd:dateTime ---------------------------------------------------------------------------

_DATETIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?",
                       re.ASCII)


def parse_datetime(text):
    """An xsd:dateTime as a datetime: aware when the text has a zone, naive when it has none
    (TR-069 leaves such a time in the CPE's local zone). Raises ValueError when malformed."""
    m = _DATETIME.fullmatch(text.strip())
    if not m:
        raise ValueError(f"not an xsd:dateTime: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    tz = None
    if zone == "Z":
        tz = UTC
    elif zone:
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        tz = timezone(-offset if zone[0] == "-" else offset)
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                    micro, tzinfo=tz)


def format_datetime(value):
    """xsd:dateTime text: UTC as ``Z``, other zones as ``+hh:mm``, a naive datetime taken as
    UTC, None as the Unknown Time ``0001-01-01T00:00:00Z``; a str is passed through."""
    if value is None:
        value = UNKNOWN_TIME
    if isinstance(value, str):
        return value
    text = value.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0")  # %Y does not pad year 1
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    offset = value.utcoffset()
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


# -- kinds ----------------------------------------------------------------------------------

def invalid(path, why):
    """The fault for an argument the schema does not allow: 9003 Invalid arguments."""
    return CwmpFault(9003, f"Invalid arguments: {path}: {why}")


class Kind:
    """Base of all kinds. ``absent`` is what a missing optional argument decodes to."""

    absent = None
    none_allowed = False  # whether None is a value to write (DateTime: the Unknown Time)

    def decode_all(self, elems, path):
        """Decode the element(s) named like one argument: the first one, unless the kind
        is a list that may be spread over several elements."""
        return self.decode(elems[0], path)

    def decode(self, elem, path):
        raise NotImplementedError

    def encode(self, tag, value):
        """The XML text of one argument named ``tag`` holding ``value``."""
        raise NotImplementedError

    def looks_like(self, elem):
        """Whether ``elem`` already is one value of this kind (used to undo wrapping)."""
        return False


class Scalar(Kind):
    """A simple-typed element: ``parse`` text into a value, ``format`` a value into text."""

    def decode(self, elem, path):
        try:
            return self.parse(elem.text or "")
        except ValueError as e:
            raise invalid(path, e) from None

    def encode(self, tag, value):
        return element(tag, self.format(value))

    def parse(self, text):
        raise NotImplementedError

    def format(self, value):
        return str(value)


class String(Scalar):
    """xsd:string with the schema's maxLength; surrounding whitespace (pretty printers) is
    dropped, so a pretty-printed ``<CommandKey>\\n  k\\n</CommandKey>`` reads ``k``, unless
    ``strip`` is false (values that must be echoed exactly)."""

    def __init__(self, max_len=None, strip=True):
        self.max_len, self.strip = max_len, strip

    def parse(self, text):
        if self.strip:
            text = text.strip()
        if self.max_len is not None and len(text) > self.max_len:
            raise ValueError(f"longer than {self.max_len} characters")
        return text


class Integer(Scalar):
    """xsd:int / xsd:unsignedInt, with the schema's enumeration when it has one."""

    _SYNTAX = re.compile(r"[+-]?[0-9]+")

    def __init__(self, low, high, choices=None):
        self.low, self.high, self.choices = low, high, choices

    def parse(self, text):
        text = text.strip()
        if not self._SYNTAX.fullmatch(text):
            raise ValueError(f"not an integer: {text[:40]!r}")
        value = int(text)
        if not self.low <= value <= self.high:
            raise ValueError(f"{value} out of range")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{value} not one of {sorted(self.choices)}")
        return value

    def format(self, value):
        return str(int(value))


def UInt(choices=None):
    """xsd:unsignedInt (0 .. 2^32-1)."""
    return Integer(0, 2**32 - 1, choices)


def Int(choices=None):
    """xsd:int (-2^31 .. 2^31-1)."""
    return Integer(-2**31, 2**31 - 1, choices)


class Bool(Scalar):
    """xsd:boolean; ``True``/``FALSE`` spellings are tolerated, anything else is invalid.
    Written as ``1``/``0`` like icwmp, which every ACS reads."""

    _VALUES = {"1": True, "true": True, "0": False, "false": False}

    def parse(self, text):
        try:
            return self._VALUES[text.strip().lower()]
        except KeyError:
            raise ValueError(f"not a boolean: {text[:40]!r}") from None

    def format(self, value):
        if isinstance(value, str):
            value = self.parse(value)
        return "1" if value else "0"


class DateTime(Scalar):
    """xsd:dateTime as a datetime. Only CPE-to-ACS messages and responses carry times, and
    real CPEs send malformed ones (``2019-03-05T11:54::14``), so such text is kept as the
    raw str rather than refused: the reader decides what an unreadable time means."""

    none_allowed = True

    def parse(self, text):
        try:
            return parse_datetime(text)
        except ValueError:
            return text.strip()

    def format(self, value):
        return format_datetime(value)


class Base64(Scalar):
    """soap-enc:base64 as bytes (whitespace inside the text is allowed, as in MIME)."""

    def parse(self, text):
        try:
            return base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("not base64") from None

    def format(self, value):
        return base64.b64encode(bytes(value)).decode("ascii")


class Field:
    """One named argument of an RPC or member of a struct."""

    def __init__(self, name, kind, optional=False):
        self.name, self.kind, self.optional = name, kind, optional


class Struct(Kind):
    """A sequence of fields, decoded to a dict keyed by field name, or to a tuple in field
    order when ``as_tuple`` (the list-of-tuples shapes the data model speaks)."""

    def __init__(self, type_name, fields, as_tuple=False):
        self.type_name, self.fields, self.as_tuple = type_name, tuple(fields), as_tuple
        self.names = frozenset(f.name for f in self.fields)

    def looks_like(self, elem):
        return any(local(c.tag) in self.names for c in children(elem))

    def decode(self, elem, path, unwrapped=False):
        kids = children(elem)
        if self.fields and len(kids) == 1 and not unwrapped and not self.looks_like(elem):
            # <Fault><FaultStruct><FaultCode>..: one needless level of wrapping, seen in the wild
            return self.decode(kids[0], path, unwrapped=True)
        by_name = {}
        for kid in kids:
            by_name.setdefault(local(kid.tag), []).append(kid)
        values = {}
        for f in self.fields:
            elems = by_name.get(f.name)
            if elems:
                values[f.name] = f.kind.decode_all(elems, f"{path}/{f.name}")
            elif f.optional:
                values[f.name] = f.kind.absent
            else:
                raise invalid(f"{path}/{f.name}", "missing")
        return tuple(values.values()) if self.as_tuple else values

    def encode(self, tag, value, attrs=""):
        return f"<{tag}{attrs}>{self.encode_fields(value, tag)}</{tag}>"

    def encode_fields(self, value, where):
        """The fields' XML in schema order; ``value`` is a mapping, or a sequence when
        ``as_tuple``. Unknown keys and missing mandatory fields are programming errors."""
        if self.as_tuple:
            if isinstance(value, Mapping) or len(value) != len(self.fields):
                raise ValueError(f"{where}: expected a {len(self.fields)}-tuple, got {value!r}")
            value = dict(zip((f.name for f in self.fields), value, strict=True))
        elif not isinstance(value, Mapping):
            raise ValueError(f"{where}: expected a mapping, got {value!r}")
        unknown = set(value) - self.names
        if unknown:
            raise ValueError(f"{where}: unknown argument(s) {sorted(unknown)}")
        parts = []
        for f in self.fields:
            v = value.get(f.name)
            if v is None and f.optional:
                continue
            if v is None and not (f.name in value and f.kind.none_allowed):
                raise ValueError(f"{where}: missing argument {f.name!r}")
            parts.append(f.kind.encode(f.name, v))
        return "".join(parts)


class ParameterValue(Kind):
    """ParameterValueStruct as ``(name, value_text, xsd_type_or_None)``.

    The value is ``xsd:anySimpleType``: its text is kept verbatim (whitespace is data) and its
    ``xsi:type`` is reported by local name (``unsignedInt``), whatever prefix the peer used.
    On output a type given as ``xsd:int`` or ``int`` is accepted and None means ``string``.
    The TR-106 type ``base64`` is written as the XML Schema type ``base64Binary``, and read
    back as ``base64``, so the data model only ever sees TR-106 names.
    """

    _NAME = String(256)
    _TO_XSD = {"base64": "base64Binary"}
    _FROM_XSD = {v: k for k, v in _TO_XSD.items()}

    def looks_like(self, elem):
        return any(local(c.tag) == "Name" for c in children(elem))

    def decode(self, elem, path):
        name = value = None
        for kid in children(elem):
            if local(kid.tag) == "Name" and name is None:
                name = self._NAME.decode(kid, f"{path}/Name")
            elif local(kid.tag) == "Value" and value is None:
                value = kid
        if name is None or value is None:
            raise invalid(path, "Name and Value required")
        xsd = xsi_type(value)
        return name, value.text or "", self._FROM_XSD.get(xsd, xsd)

    def encode(self, tag, value):
        if isinstance(value, (str, Mapping)) or len(value) != 3:
            raise ValueError(f"{tag}: expected a (name, value, type) tuple, got {value!r}")
        name, text, xsd = value
        xsd = (xsd or "string").rpartition(":")[2]
        xsd = escape_attr(self._TO_XSD.get(xsd, xsd))
        value = element("Value", str(text), f' xsi:type="xsd:{xsd}"')
        return f"<{tag}>{element('Name', name)}{value}</{tag}>"


class Array(Kind):
    """A soap-enc Array: a list of ``item`` values, written with ``soap-enc:arrayType``.

    On input the arrayType attribute and the item element names are ignored (ACSs get both
    wrong); an array element that is itself one item, or an array split over several
    elements (catawampus' TransferList), is read as the items it evidently holds.
    """

    absent = []

    def __init__(self, item, item_name, array_type, max_items=None):
        self.item, self.item_name, self.array_type = item, item_name, array_type
        self.max_items = max_items

    def decode_all(self, elems, path):
        items = []
        for elem in elems:
            kids = [elem] if self.item.looks_like(elem) else children(elem)
            items.extend(self.item.decode(kid, f"{path}[{len(items) + i}]")
                         for i, kid in enumerate(kids))
        if self.max_items is not None and len(items) > self.max_items:
            raise invalid(path, f"more than {self.max_items} items")
        return items

    def decode(self, elem, path):
        return self.decode_all([elem], path)

    def encode(self, tag, value):
        value = list(value)
        items = "".join(self.item.encode(self.item_name, v) for v in value)
        return f'<{tag} SOAP-ENC:arrayType="{self.array_type}[{len(value)}]">{items}</{tag}>'


class Repeated(Kind):
    """An element that simply repeats (``maxOccurs="unbounded"``, not a soap-enc Array), such
    as ChangeDUState's Operations. A wrapper holding the items as children is also read."""

    absent = []

    def __init__(self, item):
        self.item = item

    def decode_all(self, elems, path):
        kids = []
        for elem in elems:
            kids.extend([elem] if self.item.looks_like(elem) or not children(elem)
                        else children(elem))
        return [self.item.decode(kid, f"{path}[{i}]") for i, kid in enumerate(kids)]

    def encode(self, tag, value):
        return "".join(self.item.encode(tag, v) for v in value)


class Choice(Kind):
    """An abstract struct whose concrete type travels in ``xsi:type`` (ChangeDUState's
    OperationStruct). Decoded to the concrete struct's dict plus ``{key: tag}``, where the
    tag names the alternative (``Install``); the concrete type is also recognised by the
    element's own name (``<InstallOpStruct>``), a common non-schema form."""

    def __init__(self, key, options):
        self.key = key
        self.by_tag = dict(options)
        self.by_type = {s.type_name: (tag, s) for tag, s in self.by_tag.items()}

    def _alternative(self, elem):
        return self.by_type.get(xsi_type(elem) or "") or self.by_type.get(local(elem.tag))

    def looks_like(self, elem):
        return self._alternative(elem) is not None

    def decode(self, elem, path):
        found = self._alternative(elem)
        if found is None:
            raise invalid(path, f"unknown type {elem.get(XSI_TYPE) or local(elem.tag)!r}")
        tag, struct = found
        return {self.key: tag, **struct.decode(elem, path, unwrapped=True)}

    def encode(self, tag, value):
        rest = dict(value)
        alternative = rest.pop(self.key, None)
        if alternative not in self.by_tag:
            raise ValueError(f"{tag}: {self.key} must be one of {sorted(self.by_tag)}")
        struct = self.by_tag[alternative]
        return struct.encode(tag, rest, f' xsi:type="cwmp:{struct.type_name}"')
