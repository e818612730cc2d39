"""Options bought with vouchers: SetVouchers and GetOptions (TR-069 A.4.1.3, A.4.1.4, Annex C).

A voucher is a signed XML document (XML-DSig, Annex C) holding one or more ``Option``
elements: the option (``OptionIdent``, ``OptionDesc``), the device it is for (``DeviceId``),
the voucher serial number (``VSerialNum``), when it starts (``StartDate``), for how long
(``Duration`` + ``DurationUnits``: Seconds, Hours, Days, Months or Years), how it acts
(``Mode``: Enable with expiration, Enable without expiration, Disable) and whether it may
move to another device (``Transferable``). Elements are found by local name, whatever
namespace or nesting the issuer used.

**Signatures are not verified**: there is no issuer key to check them against. Every
well-formed voucher is accepted whatever its signature; nothing is refused on that ground.

Options persist in the store namespace ``options``, one entry per option name; the last
voucher received for an option replaces the earlier one. Fault codes:

* a voucher that is not XML, holds no Option, or has a missing or malformed element:
  9003 Invalid arguments (TR-069 has no voucher-specific code); so has an empty VoucherList,
  which the schema does not allow;
* a voucher whose DeviceId names another device: 9001 Request denied;
* GetOptions for an option that was never vouchered: 9003 Invalid arguments (9005 is
  reserved to parameter names by A.5.1).

SetVouchers is all-or-nothing: every voucher is checked before any is stored.
"""

import calendar
from datetime import datetime, timedelta, UTC
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from icwmpy.cwmp.xsdtypes import children, local, parse_datetime
from icwmpy.faults import CwmpFault

# Voucher Mode text -> OptionStruct Mode (0 Disabled, 1 with expiration, 2 without).
MODES = {"disable": 0, "enable with expiration": 1, "enable without expiration": 2}
DURATION_UNITS = {"seconds": timedelta(seconds=1), "hours": timedelta(hours=1),
                  "days": timedelta(days=1), "months": 1, "years": 12}
DEVICE_FIELDS = ("Manufacturer", "OUI", "ProductClass", "SerialNumber")


def _invalid(why):
    return CwmpFault(9003, f"Invalid arguments: voucher {why}")


def _add_months(when, months):
    """``when`` plus calendar months, the day clamped to the target month's length."""
    year, month = divmod(when.month - 1 + months, 12)
    year += when.year
    day = min(when.day, calendar.monthrange(year, month + 1)[1])
    return when.replace(year=year, month=month + 1, day=day)


class Options:
    """The CPE's options. ``device_id`` (a dict with DEVICE_FIELDS keys) is checked against
    each voucher's DeviceId when given; ``clock`` returns the aware current time."""

    def __init__(self, store, device_id=None, clock=lambda: datetime.now(UTC)):
        self.options = store["options"]
        self.store = store
        self.device_id = device_id
        self.clock = clock

    def set_vouchers(self, vouchers):
        """Store the options of every voucher (bytes, already base64-decoded)."""
        if not vouchers:
            raise _invalid("list is empty")
        found = {}
        for index, voucher in enumerate(vouchers):
            for option in self._parse(voucher, index):
                found[option["OptionName"]] = option
        with self.store.batch():
            for name, option in found.items():
                self.options.set(name, option)

    def get_options(self, name=""):
        """OptionStruct dicts of one option, or of all of them for ``name == ""``."""
        if name and name not in self.options:
            raise CwmpFault(9003, f"Invalid arguments: no option {name!r}")
        items = [(name, self.options.get(name))] if name else sorted(self.options.items())
        return [self._report(entry) for _, entry in items]

    def enabled(self, name):
        """Whether option ``name`` is in force now (for features that depend on one)."""
        entry = self.options.get(name)
        return bool(entry) and self._report(entry)["State"] == 1

    # ------------------------------------------------------------------ internals
    def _report(self, entry):
        start = parse_datetime(entry["StartDate"])
        expires = parse_datetime(entry["ExpirationDate"]) if entry["ExpirationDate"] else None
        now = self.clock()
        # Bit 0 of State is "enabled"; bit 1 ("setup") stays 0: no option here needs a
        # setup step of its own.
        enabled = entry["Mode"] != 0 and start <= now and (expires is None or now < expires)
        return {"OptionName": entry["OptionName"], "VoucherSN": entry["VoucherSN"],
                "State": int(enabled), "Mode": entry["Mode"], "StartDate": start,
                "ExpirationDate": expires, "IsTransferable": entry["IsTransferable"]}

    def _parse(self, voucher, index):
        try:
            root = SafeET.fromstring(voucher, forbid_dtd=True)
        except (ParseError, DefusedXmlException, ValueError, LookupError) as e:
            raise _invalid(f"{index} is not XML: {e}") from None
        options = [e for e in root.iter() if local(e.tag) == "Option"]
        if not options:
            raise _invalid(f"{index} holds no Option")
        return [self._option(e, index) for e in options]

    def _option(self, elem, index):
        fields = {local(kid.tag): kid for kid in children(elem)}

        def text(name, required=True):
            kid = fields.get(name)
            value = (kid.text or "").strip() if kid is not None else ""
            if required and not value:
                raise _invalid(f"{index}: {name} missing")
            return value

        def number(name, text_value):
            if not (text_value.isascii() and text_value.isdigit()) or int(text_value) > 2**32 - 1:
                raise _invalid(f"{index}: {name} {text_value!r} is not an unsignedInt")
            return int(text_value)

        self._check_device(fields.get("DeviceId"), index)
        name = text("OptionIdent")
        if len(name) > 64:
            raise _invalid(f"{index}: OptionIdent longer than 64 characters")
        mode = MODES.get(" ".join(text("Mode").lower().split()))
        if mode is None:
            raise _invalid(f"{index}: Mode {text('Mode')!r} unknown")
        try:
            start = parse_datetime(text("StartDate"))
        except ValueError as e:
            raise _invalid(f"{index}: StartDate: {e}") from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)  # a voucher is not in our local zone
        expires = None
        if mode == 1:
            expires = self._expiry(start, number("Duration", text("Duration")),
                                   text("DurationUnits"), index)
        transferable = {"1": 1, "true": 1, "0": 0, "false": 0}.get(
            text("Transferable", required=False).lower() or "0")
        if transferable is None:
            raise _invalid(f"{index}: Transferable {text('Transferable')!r} is not a boolean")
        return {"OptionName": name, "VoucherSN": number("VSerialNum", text("VSerialNum")),
                "Mode": mode, "StartDate": start.isoformat(),
                "ExpirationDate": expires.isoformat() if expires else None,
                "IsTransferable": transferable}

    @staticmethod
    def _expiry(start, duration, units, index):
        step = DURATION_UNITS.get(units.lower())
        if step is None:
            raise _invalid(f"{index}: DurationUnits {units!r} unknown")
        try:
            return _add_months(start, duration * step) if isinstance(step, int) \
                else start + duration * step
        except (OverflowError, ValueError):
            raise _invalid(f"{index}: Duration {duration} {units} is out of range") from None

    def _check_device(self, elem, index):
        """Refuse a voucher issued for another device: each DeviceId field the voucher and
        this CPE both know must agree (the OUI without regard to case)."""
        if elem is None or not self.device_id:
            return
        theirs = {local(k.tag): (k.text or "").strip() for k in children(elem)}
        for key in DEVICE_FIELDS:
            mine, given = self.device_id.get(key) or "", theirs.get(key) or ""
            if mine and given and (mine.upper() != given.upper() if key == "OUI"
                                   else mine != given):
                raise CwmpFault(9001, f"Request denied: voucher {index} is for {key} {given}")
