"""DHCP options 43 and 125 for CWMP (TR-069 3.1 and Annex F), as udhcpc gives them to its hook.

udhcpc exports an option it was asked for (``-O 43 -O 125``) but has no name for as
``opt<code>``, its bytes in hex (option 43 may also come as ``vendorspecific``). The hook
``etc/udhcpc.user.d/icwmp`` runs ``python3 -m icwmpy.dhcp_options`` on ``bound`` and
``renew`` of the WAN interface, which

- decodes option 43, the vendor-specific information: encapsulated sub-options 1 (ACS
  URL), 2 (ProvisioningCode), 3 (CWMPRetryMinimumWaitInterval), 4
  (CWMPRetryIntervalMultiplier), or the bare ACS URL as old servers send it, into the
  ``cwmp`` options ``acs.dhcp_url``, ``cpe.dhcp_provisioning_code``,
  ``acs.dhcp_retry_min_wait_interval`` and ``acs.dhcp_retry_interval_multiplier``,
  committed once and told to the running icwmpd (SIGHUP: it reloads its configuration);
- decodes option 125, the vendor-identifying information, for the Broadband Forum's
  enterprise number 3561: sub-options 4, 5, 6 (the gateway's ManufacturerOUI,
  SerialNumber, ProductClass) into ``<statedir>/gatewayinfo.json``, what
  ``Device.GatewayInfo.`` reads.

A lease is the truth about what its server says: a well-formed option 43 without a
sub-option clears the value it would give. A malformed option (truncated sub-options, a
URL that is not http(s), a retry value out of range) is ignored with a message, never
written: a hook must not break the configuration the daemon reads.
"""

import argparse
import json
import os
import sys

from icwmpy import cli
from icwmpy.backends.host import GATEWAY_FILE
from icwmpy.config.uci import Uci
from icwmpy.store import write_atomic

BBF_ENTERPRISE = 3561
# option 43 sub-option -> (cwmp section, option, check of the text)
OPTION43 = {
    1: ("acs", "dhcp_url", lambda v: v.startswith(("http://", "https://")) and " " not in v),
    2: ("cpe", "dhcp_provisioning_code", lambda v: len(v) <= 64),
    3: ("acs", "dhcp_retry_min_wait_interval", lambda v: v.isdigit() and 1 <= int(v) <= 65535),
    4: ("acs", "dhcp_retry_interval_multiplier",
        lambda v: v.isdigit() and 1000 <= int(v) <= 65535),
}
OPTION125 = {4: "ManufacturerOUI", 5: "SerialNumber", 6: "ProductClass"}


class BadOption(ValueError):
    """An option's bytes do not hold what the standard says they hold."""


def hex_bytes(text):
    """udhcpc's hex (``0a1b``; ``0a:1b`` and spaces too) -> bytes."""
    digits = "".join(c for c in text if c not in ": \t\n")
    try:
        return bytes.fromhex(digits)
    except ValueError:
        raise BadOption(f"not hex: {text[:40]!r}") from None


def sub_options(data):
    """{code: bytes} of code-length-value sub-options filling ``data`` exactly."""
    found, pos = {}, 0
    while pos < len(data):
        if data[pos] in (0, 255):  # pad, end
            pos += 1
            continue
        if pos + 2 > len(data) or pos + 2 + data[pos + 1] > len(data):
            raise BadOption(f"sub-option {data[pos]} is cut short")
        found.setdefault(data[pos], data[pos + 2:pos + 2 + data[pos + 1]])
        pos += 2 + data[pos + 1]
    return found


def _text(value):
    try:
        text = value.decode("ascii").rstrip("\0")
    except UnicodeDecodeError:
        raise BadOption("a value is not ASCII text") from None
    if not text.isprintable():
        raise BadOption(f"a value holds control characters: {text!r}")
    return text


def decode_43(data):
    """{(section, option): value} from option 43; '' for a sub-option the lease lacks."""
    if data[:1] and 1 <= data[0] <= 4 and len(data) >= 3:
        subs = sub_options(data)
    elif data.startswith((b"http://", b"https://")):
        subs = {1: data}      # the ACS URL on its own, not encapsulated
    else:
        raise BadOption("neither CWMP sub-options nor an ACS URL")
    out = {}
    for code, (section, option, valid) in OPTION43.items():
        text = _text(subs[code]) if code in subs else ""
        if text and not valid(text):
            raise BadOption(f"sub-option {code} is not a valid value: {text!r}")
        out[(section, option)] = text
    return out


def decode_125(data):
    """{GatewayInfo parameter: value} from the Broadband Forum's part of option 125."""
    pos = 0
    while pos + 5 <= len(data):
        enterprise = int.from_bytes(data[pos:pos + 4], "big")
        length = data[pos + 4]
        chunk = data[pos + 5:pos + 5 + length]
        if len(chunk) < length:
            raise BadOption(f"enterprise {enterprise} data is cut short")
        if enterprise == BBF_ENTERPRISE:
            subs = sub_options(chunk)
            return {name: _text(subs[code]) for code, name in OPTION125.items() if code in subs}
        pos += 5 + length
    if pos != len(data):
        raise BadOption("trailing bytes after the vendor data")
    return {}


def apply_43(uci, values):
    """Stage the decoded values; True if the package changed."""
    changed = False
    for (section, option), value in values.items():
        if (uci.get("cwmp", section, option) or "") != value:
            uci.set("cwmp", section, option, value)
            changed = True
    return changed


def write_gateway(statedir, values):
    path = os.path.join(statedir, GATEWAY_FILE)
    data = json.dumps(values, sort_keys=True).encode()
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return
    except OSError:
        pass
    write_atomic(path, data, mode=0o644)


def _option(env, *names):
    return next((env[n] for n in names if env.get(n)), None)


def handle(env, confdir, statedir, rundir, warn):
    """Apply what a lease's environment says; returns the cwmp values it committed."""
    uci = Uci(confdir)
    wan = uci.get("cwmp", "cpe", "default_wan_interface") or "wan"
    if env.get("INTERFACE") and env["INTERFACE"] != wan:
        return {}
    committed = {}
    opt43 = _option(env, "opt43", "vendorspecific")
    if opt43:
        try:
            values = decode_43(hex_bytes(opt43))
        except BadOption as e:
            warn(f"DHCP option 43 ignored: {e}")
        else:
            if apply_43(uci, values):
                uci.commit("cwmp")
                committed = values
                cli.reload_daemon(rundir)
    opt125 = _option(env, "opt125")
    if opt125:
        try:
            write_gateway(statedir, decode_125(hex_bytes(opt125)))
        except BadOption as e:
            warn(f"DHCP option 125 ignored: {e}")
    return committed


def main(argv=None):
    ap = argparse.ArgumentParser(prog="icwmpy.dhcp_options", description=__doc__.split("\n")[0])
    ap.add_argument("--confdir", default="/etc/config")
    ap.add_argument("--statedir", default="/etc/icwmpd")
    ap.add_argument("--rundir", default="/var/run/icwmpd")
    args = ap.parse_args(argv)
    handle(os.environ, args.confdir, args.statedir, args.rundir,
           lambda message: print(f"icwmpd dhcp: {message}", file=sys.stderr))
    return 0


if __name__ == "__main__":
    sys.exit(main())
