"""The data model side of the diagnostics: ``python`` backends over one store record per test.

Every test object (``Device.IP.Diagnostics.IPPing.``, ...) keeps one record in the CPE's
``diagnostics`` store namespace, keyed by the object's name::

    {"params": {...written test parameters...}, "state": "Requested", "run": 7,
     "started": false, "origin": "acs", "results": {...}, "tables": {"RouteHops": [...]},
     "report": false, "attempts": 0}

The backends only record what the ACS asks (TR-181's DiagnosticsState rules); the runner
(:class:`icwmpy.diagnostics.runner.Diagnostics`) starts, cancels and finishes tests from
the records after the session. ``run`` counts requests and cancellations, so a finishing
test whose run is no longer the record's was cancelled and its results are dropped.
"""

import os
import socket


from icwmpy.faults import CwmpFault

NAMESPACE = "diagnostics"
REQUESTED, NONE = "Requested", "None"


def record(store, test):
    """A copy of ``test``'s record (empty parts filled in)."""
    found = store[NAMESPACE].get(test) or {}
    return {"params": {}, "state": NONE, "run": 0, "started": False, "origin": "acs",
            "results": {}, "tables": {}, "report": False, "attempts": 0,
            **{k: (dict(v) if isinstance(v, dict) else v) for k, v in found.items()}}


def reset(rec, state=NONE):
    """No result any more: cancelled, changed, or requested again (a new run)."""
    rec.update(state=state, run=rec["run"] + 1, started=False, results={}, tables={},
               report=False, attempts=0)


def value(ctx, test, name, default=""):
    """A test parameter as written (else its default), DiagnosticsState, or a result."""
    rec = ctx.store[NAMESPACE].get(test) or {}
    if name == "DiagnosticsState":
        return rec.get("state", NONE)
    for part in ("params", "results"):
        if name in rec.get(part, {}):
            return rec[part][name]
    return default


def set_value(ctx, value, test, name, default=""):
    """TR-181's DiagnosticsState rules: Requested starts a new run (restarting a running
    one); Canceled, or writing any other parameter of a running or finished test, makes it
    None. A parameter written after Requested in the same session is taken by the run. An
    Interface must name an IP interface that exists (9007). (``default`` is the getter's:
    a python backend gives both the same args.)"""
    if name == "Interface" and value and ctx.refs.key(value) is None:
        raise CwmpFault(9007, f"Invalid parameter value: {value} is no IP interface")
    store = ctx.store[NAMESPACE]
    rec = record(ctx.store, test)
    if name == "DiagnosticsState":
        if value == REQUESTED:
            reset(rec, REQUESTED)
            rec["origin"] = ctx.origin
        elif value == "Canceled":
            reset(rec)
        else:   # a rolled-back SetParameterValues restores what was read
            rec["state"] = value
    else:
        rec["params"][name] = value
        if rec["state"] != NONE and not (rec["state"] == REQUESTED and not rec["started"]):
            reset(rec)
    store.set(test, rec)


class Results:
    """A result table of a test (``RouteHops``, ``Result``, ``PerConnectionResult``, ...):
    the rows its last run left, numbered 1..n."""

    def __init__(self, ctx, test, table):
        self.ctx, self.test, self.table = ctx, test, table

    def _rows(self):
        rec = self.ctx.store[NAMESPACE].get(self.test) or {}
        return rec.get("tables", {}).get(self.table, [])

    def instances(self, keys):
        return [str(n) for n in range(1, len(self._rows()) + 1)]

    def get(self, keys, relname):
        rows = self._rows()
        index = int(keys[-1]) - 1
        return str(rows[index].get(relname, "")) if index < len(rows) else ""


def _icmp_socket(family):
    """Whether an ICMP socket of ``family`` opens: raw as root, else the unprivileged
    datagram kind Linux allows within net.ipv4.ping_group_range."""
    import icmplib   # only when the flag is read
    cls = icmplib.ICMPv4Socket if family == 4 else icmplib.ICMPv6Socket
    try:
        cls(privileged=os.geteuid() == 0).close()
        return True
    except icmplib.ICMPLibError:
        return False


def _ip_socket(family):
    try:
        socket.socket(socket.AF_INET if family == 4 else socket.AF_INET6,
                      socket.SOCK_DGRAM).close()
        return True
    except OSError:
        return False


def supported(ctx, test, family):
    """``IPv<family><test>Supported``: whether this host can run it now (ICMP tests need
    an ICMP socket; traceroute needs a raw one, i.e. root)."""
    if test == "Ping":
        return "1" if _icmp_socket(family) else "0"
    if test == "TraceRoute":
        return "1" if os.geteuid() == 0 and _icmp_socket(family) else "0"
    if test == "ServerSelectionDiagnostics":
        return "1" if _ip_socket(family) or _icmp_socket(family) else "0"
    return "1" if _ip_socket(family) else "0"


def count(ctx, test, table):
    """``<table>NumberOfEntries`` (defined here: TR-181 gives them canDeny notification)."""
    rec = ctx.store[NAMESPACE].get(test) or {}
    return str(len(rec.get("tables", {}).get(table, [])))
