"""Backends: where a parameter's value really lives, chosen per parameter in the JSON.

A parameter backend has ``get(keys, name) -> str | None`` and, if writable,
``set(keys, name, value)``; ``keys`` are the backend keys of the enclosing table
instances (UCI section names, interface names, ...) and ``name`` the concrete
parameter name. A table backend lists, adds and deletes instances of a
multi-instance object. Backends know nothing of CWMP.
"""

from icwmpy.backends import command, dbus, file, python, store, uci


class First:
    """``"first": [spec, spec, ...]``: the first non-empty reading of several backends.

    How identity overrides work: ``[{"uci": "cwmp.cpe.manufacturer"}, {"file":
    "/sys/class/dmi/id/sys_vendor"}, {"const": "icwmpy"}]`` honours the UCI option when
    set and falls back to what the host says. Writes go to the first backend.
    """

    def __init__(self, spec, ctx, table):
        self.chain = [PARAM_KINDS[_kind(s)](s, ctx, table) for s in spec["first"]]

    def get(self, keys, name):
        for backend in self.chain:
            value = backend.get(keys, name)
            if value not in (None, ""):
                return value
        return ""

    def set(self, keys, name, value):
        self.chain[0].set(keys, name, value)


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
}
TABLE_KINDS = {
    "store": store.StoreTable,
    "uci": uci.UciTable,
    "python": python.PythonTable,
}


class Context:
    """What backends may use: the UCI tree, the persistent store, a command runner and
    the D-Bus client. The daemon and the CLI replace ``dbus`` (``model.ctx.dbus``) with
    one on their bus (and, in the daemon, its loop); backends look it up at each call."""

    def __init__(self, uci_tree, state, run=command.run, dbus_client=None):
        self.uci = uci_tree
        self.store = state
        self.run = run
        self.dbus = dbus_client or dbus.DBusClient()


def build_param(pdef, ctx):
    """The backend for a parameter def, from the one backend key in its spec."""
    kinds = [k for k in pdef.spec if k in PARAM_KINDS]
    table = pdef.obj.table_def()
    if not kinds:
        if table is not None and table.table is not None and hasattr(table.table, "get"):
            return python.HandlerParam(table.table, pdef.relname)
        if table is not None and isinstance(table.table, store.StoreTable):
            return store.StoreParam(pdef.spec, ctx, table)
        raise ValueError(f"{pdef.path}: no backend (one of {sorted(PARAM_KINDS)})")
    return PARAM_KINDS[_kind(pdef.spec)](pdef.spec, ctx, table)


def build_table(odef, ctx):
    spec = odef.table_spec or {"store": True}
    kinds = [k for k in spec if k in TABLE_KINDS]
    if len(kinds) != 1:
        raise ValueError(f"{odef.path}: _table needs exactly one of {sorted(TABLE_KINDS)}")
    return TABLE_KINDS[kinds[0]](spec, ctx)
