"""Backends: where a parameter's value really lives, chosen per parameter in the JSON.

Backends are made once per :class:`icwmpy.model.schema.Definitions` (when it is bound)
from the spec alone, and shared by every CPE whose data model uses those definitions.
What belongs to one CPE (its UCI tree, store, command runner, D-Bus client, table
handlers) is in its :class:`Context`, given to every call:

- a parameter backend has ``get(ctx, keys, name) -> str | None`` and, if writable,
  ``set(ctx, keys, name, value)``, which raises ``ValueError`` (or a ``CwmpFault``) for a
  value of the right type the device refuses (SetParameterValues answers 9007 for it) and
  ``OSError`` when the device fails (9002); either rolls the transaction back;
- a table backend has ``instances(ctx, path, keys)``, ``add(ctx, path, keys, number)``
  (the new key) and ``delete(ctx, path, keys, key)``.

``keys`` are the backend keys of the enclosing table instances (UCI section names,
interface names, ...), ``name`` the concrete parameter name and ``path`` the concrete
table path. Backends know nothing of CWMP.
"""

from icwmpy.backends import command, dbus, file, profile, python, store, uci


class First:
    """``"first": [spec, spec, ...]``: the first non-empty reading of several backends.

    How identity overrides work: ``[{"uci": "cwmp.cpe.manufacturer"}, {"file":
    "/sys/class/dmi/id/sys_vendor"}, {"const": "icwmpy"}]`` honours the UCI option when
    set and falls back to what the host says. Writes go to the first backend.
    """

    def __init__(self, spec, table):
        self.chain = [PARAM_KINDS[_kind(s)](s, table) for s in spec["first"]]

    def get(self, ctx, keys, name):
        for backend in self.chain:
            value = backend.get(ctx, keys, name)
            if value not in (None, ""):
                return value
        return ""

    def set(self, ctx, keys, name, value):
        self.chain[0].set(ctx, keys, name, value)


class Count:
    """Backend of an automatic ``<Table>NumberOfEntries`` parameter: the number of
    instances the CPE's data model lists (its listing, cached for the operation)."""

    def __init__(self, table):
        self.table = table

    def get(self, ctx, keys, name):
        path = name[: -len("NumberOfEntries")] + "."
        return str(len(ctx.listing(self.table, path, keys)))


def _kind(spec):
    kinds = [k for k in spec if k in PARAM_KINDS]
    if len(kinds) != 1:
        raise ValueError(f"expected exactly one backend of {sorted(PARAM_KINDS)}, got {kinds}")
    return kinds[0]


PARAM_KINDS = {
    "const": python.Const,
    "uci": uci.UciParam,
    "file": file.FileParam,
    "command": command.CommandParam,
    "store": store.StoreParam,
    "python": python.PythonParam,
    "dbus": dbus.DBusParam,
    "first": First,
    "profile": profile.ProfileParam,
}
TABLE_KINDS = {
    "store": store.StoreTable,
    "uci": uci.UciTable,
    "python": python.PythonTable,
    "profile": profile.ProfileTable,
}


ONE_CPE = ("cpe-1", 1)


class Context:
    """One CPE's side of the backends: its UCI tree, persistent store, command runner,
    D-Bus client and table handlers. The daemon and the CLI replace ``dbus``
    (``model.ctx.dbus``) with one on their bus (and, in the daemon, its loop); backends
    look it up at each call.

    ``listing(table def, path, keys) -> [(number, key)]`` is how the CPE's DataModel
    lists a table's instances (numbers persisted, cached per operation); the automatic
    NumberOfEntries parameters count with it.

    ``cpe``: (cpe_id, n) of this CPE in a fleet, what ``{cpe_id}`` and ``{n}`` in a device
    profile's values become (:mod:`icwmpy.backends.profile`).

    ``refs``: :class:`icwmpy.model.engine.References`, between an instance's key and its
    path: ``refs.path("Device.WiFi.Radio.", "radio0")`` -> ``"Device.WiFi.Radio.1"``,
    ``refs.key("Device.WiFi.Radio.1")`` -> ``"radio0"`` (for LowerLayers and the like).
    """

    def __init__(self, uci_tree, state, run=command.run, dbus_client=None, listing=None,
                 cpe=ONE_CPE, refs=None):
        self.uci = uci_tree
        self.store = state
        self.run = run
        self.dbus = dbus_client or dbus.DBusClient()
        self.listing = listing
        self.cpe = cpe
        self.refs = refs
        self.origin = "acs"   # who writes through this context ("cli" for icwmpd -c)
        self._handlers = {}

    def handler(self, table):
        """This CPE's handler object of a :class:`python.PythonTable`, made on first use:
        handlers keep what they read about this device between calls."""
        found = self._handlers.get(table)
        if found is None:
            found = self._handlers[table] = table.make(self)
        return found


def build_param(pdef):
    """The backend for a parameter def, from the one backend key in its spec; the
    enclosing table def's backend must be built already."""
    kinds = [k for k in pdef.spec if k in PARAM_KINDS]
    table = pdef.obj.table_def()
    if not kinds:
        if table is not None and isinstance(table.table, python.PythonTable):
            return python.HandlerParam(table.table, pdef.relname)
        if table is not None and isinstance(table.table, store.StoreTable):
            return store.StoreParam(pdef.spec, table)
        raise ValueError(f"{pdef.path}: no backend (one of {sorted(PARAM_KINDS)})")
    return PARAM_KINDS[_kind(pdef.spec)](pdef.spec, table)


def build_table(odef):
    spec = odef.table_spec or {"store": True}
    kinds = [k for k in spec if k in TABLE_KINDS]
    if len(kinds) != 1:
        raise ValueError(f"{odef.path}: _table needs exactly one of {sorted(TABLE_KINDS)}")
    return TABLE_KINDS[kinds[0]](spec)
