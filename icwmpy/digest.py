"""HTTP Digest authentication (RFC 7616) arithmetic, shared by both directions.

The ACS client answers the ACS's challenge itself (so the retry carries the whole SOAP
body on the same connection, as GenieACS requires), and the connection request listener
checks the ACS's answers to its own challenge; both use these pure functions.
"""

import hashlib
import re

_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^,\s]*)\s*(?:,|$)')


def parse_params(header):
    """Parse ``Digest k=v, k="v", ...`` (the scheme word optional) into a dict.

    Keys are lower-cased; quoted values are unescaped. Returns ``(scheme, params)``.
    """
    header = header.strip()
    scheme, _, rest = header.partition(" ")
    if "=" in scheme:  # no scheme word
        scheme, rest = "", header
    params = {}
    pos = 0
    while pos < len(rest):
        m = _PARAM.match(rest, pos)
        if not m or m.end() == pos:
            break
        value = m.group(3) if m.group(3) is not None else m.group(2)
        if m.group(3) is not None:
            value = re.sub(r"\\(.)", r"\1", value)
        params[m.group(1).lower()] = value
        pos = m.end()
    return scheme.lower(), params


def _hash(algorithm, text):
    name = algorithm.upper().removesuffix("-SESS")
    if name not in _HASHES:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}")
    return _HASHES[name](text.encode("utf-8")).hexdigest()


def response(*, username, password, realm, method, uri, nonce, nc=None, cnonce=None,
             qop=None, algorithm="MD5"):
    """The ``response`` value of an Authorization header (RFC 7616 section 3.4.1)."""
    ha1 = _hash(algorithm, f"{username}:{realm}:{password}")
    if algorithm.upper().endswith("-SESS"):
        ha1 = _hash(algorithm, f"{ha1}:{nonce}:{cnonce}")
    ha2 = _hash(algorithm, f"{method}:{uri}")
    if qop:
        return _hash(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _hash(algorithm, f"{ha1}:{nonce}:{ha2}")


def supported(algorithm):
    return algorithm.upper().removesuffix("-SESS") in ("MD5", "SHA-256")
