"""Protocol-level checks of the transfer and software-module RPCs (TR-069 Annex A).

They judge only what a request says by itself: URL syntax and scheme, FileType syntax, time
window rules, UUID syntax. :class:`icwmpy.rpc.RpcHandler` runs them before handing a request
to the TransferQueue, so the queue only judges what depends on the device (its state, space,
execution environments) and never repeats these rules. Each check returns None or raises
:class:`CwmpFault`:

* 9003 Invalid arguments: empty or malformed URL, malformed FileType or WindowMode, a time
  window that ends before it starts or overlaps another, no time window, no operation, an
  Uninstall without UUID;
* 9013 Unsupported protocol for file transfer: a URL scheme outside :data:`SCHEMES`;
* 9022 Invalid UUID format: a ChangeDUState UUID that is not the RFC 4122 8-4-4-4-12 form.
"""

import re
from itertools import pairwise
from urllib.parse import urlsplit

from icwmpy.faults import CwmpFault

# What the pycurl transfer workers fetch and send; everything else (tftp, file, ...) is 9013.
SCHEMES = frozenset({"http", "https", "ftp"})

# "X <OUI> <name>": a vendor type, the OUI of the organisation that defined it (A.3.2.8).
_VENDOR = r"X [0-9A-Fa-f]{6} \S.*"
# Download and ScheduleDownload (A.3.2.8; "6 Stored Firmware Image" since Amendment 6).
DOWNLOAD_TYPES = re.compile("|".join([
    "1 Firmware Upgrade Image", "2 Web Content", "3 Vendor Configuration File", "4 Tone File",
    "5 Ringer File", "6 Stored Firmware Image", _VENDOR]))
# Upload (A.4.1.5): types 1 and 2 are deprecated forms of 3 and 4 with an instance number
# of Device.DeviceInfo.VendorConfigFile / VendorLogFile.
UPLOAD_TYPES = re.compile("|".join([
    "1 Vendor Configuration File", "2 Vendor Log File", "3 Vendor Configuration File [1-9][0-9]*",
    "4 Vendor Log File [1-9][0-9]*", _VENDOR]))

WINDOW_MODES = frozenset({"1 At Any Time", "2 Immediately", "3 When Idle",
                          "4 Confirmation Needed"})
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def _invalid(why):
    return CwmpFault(9003, f"Invalid arguments: {why}")


def check_url(url, what="URL"):
    """A transfer URL: present, absolute with a host, and of a scheme we can transfer."""
    if not url:
        raise _invalid(f"{what} is empty")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError as e:
        raise _invalid(f"{what} {url!r}: {e}") from None
    if parts.scheme and parts.scheme.lower() not in SCHEMES:
        raise CwmpFault(9013, f"Unsupported protocol for file transfer: {parts.scheme}")
    if not parts.scheme or not parts.hostname:
        raise _invalid(f"{what} {url!r} is not an absolute URL with a host")


def _check_file_type(file_type, allowed):
    if not allowed.fullmatch(file_type):
        raise _invalid(f"FileType {file_type!r} is not one this method accepts")


def check_download(args):
    check_url(args["URL"])
    _check_file_type(args["FileType"], DOWNLOAD_TYPES)


def check_upload(args):
    check_url(args["URL"])
    _check_file_type(args["FileType"], UPLOAD_TYPES)


def check_schedule_download(args):
    """Download's rules plus the time windows (A.4.1.8): one or two windows, each ending
    after it starts, not overlapping, with a standard WindowMode and MaxRetries >= -1.
    UserMessage is only shown in mode "4 Confirmation Needed"; elsewhere it is ignored, not
    refused, since ACSs fill it in regardless."""
    check_download(args)
    windows = args["TimeWindowList"]
    if not windows:
        raise _invalid("TimeWindowList is empty")
    for w in windows:
        if w["WindowEnd"] <= w["WindowStart"]:
            raise _invalid(f"time window {w['WindowStart']}..{w['WindowEnd']} is empty")
        if w["WindowMode"] not in WINDOW_MODES:
            raise _invalid(f"WindowMode {w['WindowMode']!r} is not supported")
        if w["MaxRetries"] < -1:
            raise _invalid(f"MaxRetries {w['MaxRetries']} is below -1")
    spans = sorted((w["WindowStart"], w["WindowEnd"]) for w in windows)
    for (_, end), (start, _) in pairwise(spans):
        if start < end:
            raise _invalid("time windows overlap")


def check_uuid(uuid):
    if not _UUID.fullmatch(uuid):
        raise CwmpFault(9022, f"Invalid UUID format: {uuid!r}")


def check_change_du_state(args):
    """At least one operation (A.4.1.10); UUIDs, when given, in RFC 4122 form; an Install
    names its URL and an Uninstall its UUID; any URL given must be transferable."""
    operations = args["Operations"]
    if not operations:
        raise _invalid("no operation")
    for op in operations:
        if op.get("UUID"):
            check_uuid(op["UUID"])
        elif op["Operation"] == "Uninstall":
            raise _invalid("Uninstall without UUID")
        if op["Operation"] == "Install" or op.get("URL"):
            check_url(op.get("URL"), f"{op['Operation']} URL")
