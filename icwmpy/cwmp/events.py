"""Inform event codes and the standard's rules for keeping them (TR-069 3.7.1.5).

Single events ("2 PERIODIC") appear at most once in an Inform; multiple events
("M Download") once per CommandKey. On a failed session every event is kept except
those the standard says not to retry; after a reboot, the events that do not survive a
reboot are dropped. The queue that applies these rules and persists the events is
:class:`icwmpy.eventqueue.EventQueue`; this module stays pure.
"""

import re

# code -> (retried after a failed session, kept across a reboot)
RULES = {
    "0 BOOTSTRAP": (True, True),
    "1 BOOT": (True, False),
    "2 PERIODIC": (True, True),
    "3 SCHEDULED": (True, True),
    "4 VALUE CHANGE": (True, False),
    "5 KICKED": (True, True),
    "6 CONNECTION REQUEST": (False, False),
    "7 TRANSFER COMPLETE": (True, True),
    "8 DIAGNOSTICS COMPLETE": (True, True),
    "9 REQUEST DOWNLOAD": (True, True),
    "10 AUTONOMOUS TRANSFER COMPLETE": (True, True),
    "11 DU STATE CHANGE COMPLETE": (True, True),
    "12 AUTONOMOUS DU STATE CHANGE COMPLETE": (True, True),
    "13 WAKEUP": (True, False),
    # retried with the back-off, as icwmp does; a reboot re-arms the heartbeat anyway
    "14 HEARTBEAT": (True, False),
    "M Reboot": (True, True),
    "M ScheduleInform": (True, True),
    "M Download": (True, True),
    "M ScheduleDownload": (True, True),
    "M Upload": (True, True),
    "M ChangeDUState": (True, True),
}
# Vendor events: "X <OUI> <name>" single, "M X_<OUI>_<name>" multiple.
_VENDOR = re.compile(r"^(X [0-9A-F]{6} \S.*|M X_[0-9A-F]{6}_\S+)$")
# What a BOOTSTRAP caused by a new ACS keeps: everything else was meant for the old ACS.
KEPT_ON_BOOTSTRAP = {"0 BOOTSTRAP", "1 BOOT", "M Reboot"}
# icwmp's ubus inform names these by their number alone ("6 connection request", "8").
BY_NUMBER = {code.split()[0]: code for code in RULES
             if code.split()[0] in {"1", "2", "3", "4", "6", "8", "9", "13", "14"}}
_BY_UPPER = {code.upper(): code for code in RULES}


def is_valid(code):
    return code in RULES or bool(_VENDOR.match(code))


def from_text(text):
    """The event code an operator's text means, as icwmp's ``ubus call tr069 inform``
    reads it: any case, and for the codes icwmp's inform knows, the number alone (what
    follows it is not checked, as in icwmp). None when it names no event."""
    text = " ".join(text.split())
    if is_valid(text):
        return text
    return _BY_UPPER.get(text.upper()) or BY_NUMBER.get(text.partition(" ")[0])


def is_multiple(code):
    return code.startswith("M ")


def retried(code):
    """Kept for the next session when a session carrying it failed."""
    return RULES.get(code, (True, True))[0]


def survives_reboot(code):
    return RULES.get(code, (True, True))[1]
