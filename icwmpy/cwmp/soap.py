"""CWMP SOAP 1.1 envelopes to and from bytes, without I/O.

``parse`` reads any message either side sends (requests, responses, faults) into an
:class:`Envelope`; ``build`` and ``build_fault`` write them. Both are driven by the RPC table
in :mod:`icwmpy.cwmp.rpcs`, so there is no per-RPC code here.

Fault codes chosen for input that is not a usable CWMP message (TR-069 names none):

* larger than ``max_size`` bytes, elements nested deeper than ``MAX_DEPTH`` or more than
  ``MAX_ELEMENTS`` of them -> 9004 Resources exceeded (refused before a tree is built: a
  small message of deep nesting or a flood of elements costs tens of MB as a tree);
* not well-formed XML, a DTD (entity bombs, external entities: SOAP forbids DTDs anyway),
  not a SOAP 1.1 Envelope, no Body element, an unreadable header or argument value, a
  missing mandatory argument, a string over the schema's maxLength -> 9003 Invalid arguments.

Faults raised once the envelope is understood are :class:`MessageFault`, which carries the
partly decoded envelope so that the fault answer can echo the peer's cwmp:ID and namespace.
"""

from dataclasses import dataclass, field
from xml.etree.ElementTree import ParseError
from xml.parsers import expat

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from icwmpy.cwmp.rpcs import FAULT, RPCS
from icwmpy.cwmp.xsdtypes import Bool, String, UInt, children, element, escape_attr, local
from icwmpy.faults import CwmpFault

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSD = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

# The cwmp-1-3/-1-4 URNs appear in no BBF schema (CWMP 1.3 and 1.4 kept cwmp-1-2), but some
# peers use them; all five are read, and the caller answers in the one its peer used.
CWMP_NAMESPACES = tuple(f"urn:dslforum-org:cwmp-1-{minor}" for minor in range(5))
DEFAULT_NS = CWMP_NAMESPACES[2]
DEFAULT_MAX_SIZE = 4 * 1024 * 1024
# CWMP messages nest 8 deep at most; 100000 elements is e.g. a 33000-parameter SPV.
MAX_DEPTH = 64
MAX_ELEMENTS = 100_000

_MUST_UNDERSTAND = f"{{{SOAP_ENV}}}mustUnderstand"

# cwmp header elements: Envelope attribute, kind, mustUnderstand value written.
# NoMoreRequests (CWMP 1.0/1.1, deprecated) is read but never written.
_HEADERS = {
    "ID": ("id", String(strip=False), "1"),  # echoed byte for byte
    "HoldRequests": ("hold_requests", Bool(), "1"),
    "SessionTimeout": ("session_timeout", UInt(), "0"),
    "SupportedCWMPVersions": ("supported_versions", String(), "0"),
    "UseCWMPVersion": ("use_version", String(), "1"),
    "NoMoreRequests": ("no_more_requests", Bool(), None),
}


@dataclass
class Envelope:
    """One decoded CWMP message.

    ``method`` is the Body child's local name (``"Fault"`` for a SOAP Fault, whose CWMP
    fault is in ``fault``), or its ``{ns}name`` outside the CWMP namespaces; ``args`` its
    decoded arguments, ``{}`` for a method the table does not know (the receiver answers
    9000). ``must_understand`` lists the ``{ns}name``
    of header elements marked mustUnderstand="1" that this codec does not know.
    """

    ns: str = DEFAULT_NS
    method: str | None = None
    args: dict = field(default_factory=dict)
    id: str | None = None
    hold_requests: bool | None = None
    session_timeout: int | None = None
    supported_versions: str | None = None
    use_version: str | None = None
    no_more_requests: bool | None = None
    fault: CwmpFault | None = None
    must_understand: list = field(default_factory=list)


class MessageFault(CwmpFault):
    """A CwmpFault found in a message whose envelope was understood: ``envelope`` holds the
    header fields, namespace and method decoded so far (``args`` left empty)."""

    def __init__(self, fault, envelope):
        super().__init__(fault.code, fault.message, fault.details)
        self.envelope = envelope


def _cwmp_ns(tag):
    """The CWMP namespace of a ``{ns}name`` tag, or None."""
    ns = tag[1:].partition("}")[0] if tag.startswith("{") else ""
    return ns if ns in CWMP_NAMESPACES else None


def _method(tag):
    """The method a Body child calls: its local name in a CWMP namespace or none (and
    "Fault" for a SOAP Fault); any other namespace keeps the whole ``{ns}name``, which no
    table knows, so that an element of an unknown CWMP version is an unknown method."""
    if tag == f"{{{SOAP_ENV}}}Fault" or _cwmp_ns(tag) or "}" not in tag:
        return local(tag)
    return tag


class _Stop(Exception):
    """Ends the counting pass early (a DTD: the real parse refuses it)."""


def _check_shape(data):
    """Count elements and depth with a streaming expat pass that keeps nothing, so that a
    message too deep or too large for a tree is refused before one is built. Input that is
    not well-formed, or has a DTD, is left to the real parse to refuse (as 9003)."""
    depth = count = 0

    def start(name, attrs):
        nonlocal depth, count
        depth += 1
        count += 1
        if depth > MAX_DEPTH or count > MAX_ELEMENTS:
            raise CwmpFault(9004, f"Resources exceeded: XML nested deeper than {MAX_DEPTH} "
                                  f"or more than {MAX_ELEMENTS} elements")

    def end(name):
        nonlocal depth
        depth -= 1

    def doctype(*args):
        raise _Stop

    parser = expat.ParserCreate()
    parser.StartElementHandler, parser.EndElementHandler = start, end
    parser.StartDoctypeDeclHandler = doctype
    try:
        parser.Parse(data, True)
    except (_Stop, expat.ExpatError, ValueError, LookupError):
        pass


def _xml(data):
    _check_shape(data)
    try:
        return SafeET.fromstring(data, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError, LookupError) as e:
        raise CwmpFault(9003, f"Invalid arguments: unreadable XML: {e}") from None


def _first_children(elem):
    """The first child element of each local name (SOAP parts are found by name, in any
    order, whatever their prefix)."""
    found = {}
    for kid in children(elem):
        found.setdefault(local(kid.tag), kid)
    return found


def parse(data, max_size=DEFAULT_MAX_SIZE):
    """Decode one SOAP message (bytes, or str); None for an empty body (the empty POST that
    ends a CPE's requests, or the ACS's empty answer that ends the session).

    Raises CwmpFault (a MessageFault once headers are read) as the module doc describes;
    never any other exception.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > max_size:
        raise CwmpFault(9004, f"Resources exceeded: message of {len(data)} bytes, "
                              f"more than {max_size}")
    if not data.strip():
        return None
    root = _xml(data)
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise CwmpFault(9003, f"Invalid arguments: not a SOAP envelope: {root.tag[:80]}")
    parts = _first_children(root)
    body = parts.get("Body")
    if body is None or not children(body):
        raise CwmpFault(9003, "Invalid arguments: SOAP Body missing or empty")
    env = Envelope()
    try:
        _read_header(parts.get("Header"), env)
        call = children(body)[0]
        env.method = _method(call.tag)
        env.ns = _cwmp_ns(call.tag) or env.ns
        if env.method == "Fault":
            env.fault = _read_fault(call, env)
        elif env.method in RPCS:
            env.args = RPCS[env.method].decode(call, env.method, unwrapped=True)
    except CwmpFault as fault:
        raise MessageFault(fault, env) from None
    return env


def _read_header(header, env):
    if header is None:
        return
    namespaces = []
    for item in children(header):
        ns = _cwmp_ns(item.tag)
        known = _HEADERS.get(local(item.tag)) if ns else None
        if known:
            attr, kind, _ = known
            setattr(env, attr, kind.decode(item, f"Header/{local(item.tag)}"))
            namespaces.append(ns)
        elif item.get(_MUST_UNDERSTAND, "").strip() in ("1", "true"):
            env.must_understand.append(item.tag)
    if namespaces:
        env.ns = namespaces[0]


def _read_fault(elem, env):
    """The CwmpFault of a SOAP Fault body. Without a cwmp:Fault detail (a bare SOAP fault)
    it is 9002 Internal error, with the faultstring as message."""
    parts = _first_children(elem)
    detail = parts.get("detail")
    cwmp = next((c for c in children(detail) if local(c.tag) == "Fault"), None) \
        if detail is not None else None
    if cwmp is None:
        faultstring = parts.get("faultstring")
        return CwmpFault(9002, (faultstring.text or "").strip() if faultstring is not None
                         else None)
    env.ns = _cwmp_ns(cwmp.tag) or env.ns
    decoded = FAULT.decode(cwmp, "Fault", unwrapped=True)
    details = [(name, code, message or "")
               for name, code, message in decoded["SetParameterValuesFault"]]
    return CwmpFault(decoded["FaultCode"], decoded["FaultString"] or None, details)


# -- output ---------------------------------------------------------------------------------

def _envelope(ns, header, body):
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}" xmlns:SOAP-ENC="{SOAP_ENC}" '
        f'xmlns:xsd="{XSD}" xmlns:xsi="{XSI}" xmlns:cwmp="{escape_attr(ns)}">'
        f'{f"<SOAP-ENV:Header>{header}</SOAP-ENV:Header>" if header else ""}'
        f"<SOAP-ENV:Body>{body}</SOAP-ENV:Body></SOAP-ENV:Envelope>"
    ).encode()


def _header(values):
    """cwmp header elements for the non-None ``values`` (keyed by Envelope attribute)."""
    parts = []
    for name, (attr, kind, must) in _HEADERS.items():
        value = values.get(attr)
        if value is not None and must is not None:
            parts.append(element(f"cwmp:{name}", kind.format(value),
                                 f' SOAP-ENV:mustUnderstand="{must}"'))
    return "".join(parts)


def build(method, args=None, *, id=None, ns=DEFAULT_NS, hold_requests=None,
          session_timeout=None, supported_versions=None, use_version=None):
    """A complete SOAP message calling (or answering) ``method`` with ``args`` shaped as the
    RPC table describes. Header elements are written for the keywords that are not None.
    Raises ValueError for an unknown method or arguments that do not fit the table."""
    rpc = RPCS.get(method)
    if rpc is None:
        raise ValueError(f"unknown CWMP method {method!r}")
    header = _header(dict(id=id, hold_requests=hold_requests, session_timeout=session_timeout,
                          supported_versions=supported_versions, use_version=use_version))
    return _envelope(ns, header, rpc.encode(f"cwmp:{method}", args or {}))


def build_fault(fault, *, id=None, ns=DEFAULT_NS):
    """A SOAP Fault carrying ``fault`` (TR-069 A.5): faultcode Client/Server, faultstring
    "CWMP fault", and a cwmp:Fault detail with one SetParameterValuesFault per
    ``fault.details`` entry ``(parameter_name, code, message)``."""
    detail = FAULT.encode("cwmp:Fault", {
        "FaultCode": fault.code, "FaultString": fault.message,
        "SetParameterValuesFault": [(n, c, m) for n, c, m in fault.details],
    })
    body = (f"<SOAP-ENV:Fault>{element('faultcode', fault.faultcode)}"
            f"{element('faultstring', 'CWMP fault')}<detail>{detail}</detail></SOAP-ENV:Fault>")
    return _envelope(ns, _header({"id": id}), body)
