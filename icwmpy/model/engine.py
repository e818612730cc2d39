"""The data model engine: TR-069 operations on the definition tree and its backends.

Everything here is synchronous and CWMP-agnostic: the daemon runs these calls in one
worker thread, the ``-c`` CLI calls them directly, and the RPC layer turns their
results and :class:`CwmpFault` exceptions into SOAP. Writes are transactions: every
value is checked before anything is applied, UCI changes are staged and committed once,
and a backend failure rolls back what was applied.
"""

import contextlib
import logging
import re
import threading
from dataclasses import dataclass

from icwmpy import backends
from icwmpy.faults import CwmpFault
from icwmpy.model.schema import Definitions, ParamDef

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"^[1-9][0-9]*$")
_ALIAS = re.compile(r"^[A-Za-z][^.\[\]{}]*$")
_NUMBERS = re.compile(r"\.[0-9]+(?=\.)")


def _bad_name(path):
    return CwmpFault(9005, f"Invalid parameter name: {path}")


@dataclass(frozen=True)
class Addressing:
    """How an ACS names instances (TR-069 Amendment 4, alias-based addressing), given to an
    operation by the RPC layer. With it, a response names each instance the request named
    the way the request did (number or ``[alias]``) and the others as InstanceMode says.
    Without it (internal users, the CLI) paths may use ``[alias]`` and names use numbers.

    ``aliases``: ``[alias]`` accepted in paths (AliasBasedAddressing); ``instance_alias``:
    InstanceMode is InstanceAlias; ``auto_create``: AutoCreateInstances, a SetParameterValues
    naming ``Table.[new].Param`` creates the instance ``new``.
    """

    aliases: bool = True
    instance_alias: bool = False
    auto_create: bool = False


def _instance_forms(path):
    """For each instance segment of a request path: True for ``[alias]``, False for a
    number, None for ``*`` (which leaves the form to InstanceMode)."""
    return [None if seg == "*" else seg.startswith("[")
            for seg in path.split(".") if seg == "*" or seg.startswith("[") or _NUMBER.match(seg)]


class _Bounded(list):
    """The items of one answer, refusing to grow past ``limit`` (None: no limit): a
    request whose answer would be too big fails with 9004 as soon as it reaches the cap,
    before any value is read or any of it is encoded."""

    def __init__(self, limit):
        super().__init__()
        self.limit = limit

    def append(self, item):
        if self.limit is not None and len(self) >= self.limit:
            raise CwmpFault(9004, "Resources exceeded: too many parameters for one response")
        super().append(item)

    def extend(self, items):
        for item in items:
            self.append(item)


class References:
    """Path-valued parameters (LowerLayers, SSIDReference, Interface, ...) between tables:
    a backend knows the other table's *key* (a UCI section, a device name) and needs the
    instance's path, or the reverse for a write. Numbers are the CPE's own, so this goes
    through its DataModel (within the operation that asks)."""

    __slots__ = ("_model",)

    def __init__(self, model):
        self._model = model

    def path(self, table, key):
        """``"Device.WiFi.Radio."`` + key -> ``"Device.WiFi.Radio.2"``; "" when no instance
        has that key. A table below another names its instance by number
        (``"Device.Bridging.Bridge.1.Port."``); "" too when that instance does not exist."""
        obj = self._model.defs.by_path.get(_NUMBERS.sub(".{i}", table) + "{i}.")
        if obj is None or not obj.multi:
            raise ValueError(f"{table} is not a table")
        try:
            keys = self._model._resolve(table)[0][0][2]
        except CwmpFault:
            return ""
        for number, found in self._model._instances(obj, table, keys):
            if found == key:
                return f"{table}{number}"
        return ""

    def key(self, path):
        """``"Device.WiFi.Radio.2"`` (a trailing '.' allowed) -> its key; None when the path
        names no instance of such a table."""
        table, _, number = path.rstrip(".").rpartition(".")
        obj = self._model.defs.by_path.get(table + ".{i}.")
        if obj is None or not obj.multi or not number.isdigit():
            return None
        return dict(self._model._instances(obj, table + ".", ())).get(int(number))


class DataModel:
    """One CPE's data model. ``uci`` is a :class:`icwmpy.config.uci.Uci`, ``store`` a
    :class:`icwmpy.store.Store`; ``definitions`` a loaded :class:`Definitions`, bound here
    if it is not yet and shareable by any number of data models: this CPE's state is in
    its store, its UCI tree and ``ctx``, which every backend call is given."""

    def __init__(self, definitions, uci, store, run=backends.command.run, cpe=None):
        self.defs = definitions.bind()
        self.root = definitions.root.path   # "Device." or "InternetGatewayDevice."
        self.uci = uci
        self.store = store
        self.ctx = backends.Context(uci, store, run, listing=self._instances,
                                    cpe=cpe or backends.ONE_CPE, refs=References(self))
        self.numbering = store["instances"]
        self.attributes = store["attributes"]
        self.aliases = store["aliases"]
        self.values = store["values"]
        self.pending_reloads = set()
        self._committed = set()
        self.change_listeners = []
        self._lock = threading.RLock()
        self._depth = 0          # operations nested in the one in progress
        self._cache = {}
        self._by_number = {}
        self._addressing = None

    @classmethod
    def from_dir(cls, directory, uci, store, **kw):
        return cls(Definitions().load_dir(directory), uci, store, **kw)

    # ------------------------------------------------------------ operations
    @contextlib.contextmanager
    def operation(self, addressing=None):
        """Several calls as one operation (the names of one GetParameterValues): they
        share one listing of each table instead of listing it again per call."""
        with self._operation(addressing):
            yield

    @contextlib.contextmanager
    def _operation(self, addressing=None):
        """Serialise calls and give each a fresh cache of instance lists and its
        :class:`Addressing`; a call inside another keeps the outer one's."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._cache, self._by_number, self._addressing = {}, {}, addressing
            self._depth = 1
            try:
                yield
            finally:
                self._depth = 0
                self._cache, self._by_number, self._addressing = {}, {}, None

    def get_values(self, path, addressing=None, limit=None):
        """[(name, value, type)] for a parameter, partial path or wildcard path; 9004 for
        more than ``limit`` parameters."""
        with self._operation(addressing):
            return [(self._shown(name, path), self._read(p, keys, name), p.type.name)
                    for name, p, keys in self._params(path, limit)]

    def check(self, path, addressing=None):
        """9005 unless ``path`` names a parameter or object; nothing is read or collected."""
        with self._operation(addressing):
            self._resolve(path)

    def get_names(self, path, next_level, addressing=None, limit=None):
        """[(name, writable)] as GetParameterNames: objects end with '.'; 9004 for more
        than ``limit`` names."""
        with self._operation(addressing):
            path = path or ""
            if path == "":
                if next_level:
                    return [(self.root, False)]
                path = self.root
            if not path.endswith("."):
                if next_level:
                    raise CwmpFault(9003, "NextLevel true requires a partial path")
                return [(self._shown(name, path), p.writable)
                        for name, p, _ in self._resolve(path)[1]]
            out = _Bounded(limit)
            for obj, cpath, keys, at_table in self._resolve(path)[0]:
                if not next_level:
                    out.append((cpath, obj.writable if obj.multi else False))
                self._list_names(obj, cpath, keys, at_table, next_level, out)
            return [(self._shown(name, path), writable) for name, writable in out]

    def set_values(self, items, parameter_key=None, addressing=None):
        """Apply [(name, value, declared_type)] all-or-nothing; returns the SPV status.
        Instances created for AutoCreateInstances are deleted again if the set fails."""
        with self._operation(addressing):
            created = []
            try:
                self._auto_create([name for name, _, _ in items], created)
                return self._set_values(items, parameter_key)
            except CwmpFault:
                for obj, ipath, keys in reversed(created):
                    self._delete_instance(obj, ipath, keys, None)
                raise

    def _set_values(self, items, parameter_key):
        """SetParameterValues itself: every item checked, then one transaction."""
        plan, faults, seen = [], [], set()
        for name, value, declared in items:
            try:
                canonical, p, keys = self._one_param(name)
                if canonical in seen:
                    raise CwmpFault(9003, f"{name} appears more than once")
                seen.add(canonical)
                if not p.writable:
                    raise CwmpFault(9008, f"Attempt to set a non-writable parameter: {name}")
                value = p.type.check(value, declared)
                if isinstance(p.backend, backends.store.AliasParam):
                    self._check_alias(p, canonical, keys, value, plan)
                plan.append((canonical, p, keys, value))
            except CwmpFault as f:
                faults.append((name, f.code, f.message))
        if faults:
            raise CwmpFault(9003, details=faults)
        self._transaction(plan, parameter_key)
        return self._status()

    def add_object(self, path, parameter_key=None, addressing=None):
        """AddObject: (instance number, status). A path ending ``Table.[alias].`` creates
        the instance with that Alias (TR-069 A.3.2.6): 9007 for an alias that is malformed
        or already in use."""
        with self._operation(addressing):
            alias = None
            m = re.match(r"^(.*\.)\[([^\]]*)\]\.$", path or "")
            if m:
                if not self._aliases_allowed:
                    raise _bad_name(path)
                path, alias = m.group(1), m.group(2)
            obj, cpath, keys = self._table_path(path)
            if not obj.writable:  # as bbfdm: a table the ACS may not grow is no valid name
                raise CwmpFault(9005, f"Invalid parameter name: objects cannot be added to {path}")
            number, _ = self._add_instance(obj, cpath, keys, alias, parameter_key)
            return number, self._status()

    def delete_object(self, path, parameter_key=None, addressing=None):
        """DeleteObject of one instance (path ends with '<n>.' or '[alias].')."""
        with self._operation(addressing):
            if not path or not path.endswith("."):
                raise _bad_name(path)
            objs = self._resolve(path)[0]
            if len(objs) != 1 or objs[0][3] or not objs[0][0].multi or "*" in path:
                raise _bad_name(path)
            obj, ipath, keys, _ = objs[0]
            if not obj.writable:
                raise CwmpFault(9005, f"Invalid parameter name: {path} cannot be deleted")
            self._delete_instance(obj, ipath, keys, parameter_key)
            return self._status()

    def get_attributes(self, path, addressing=None, limit=None):
        """[(name, notification, access_list)] for every parameter the path names; 9004
        for more than ``limit``."""
        with self._operation(addressing):
            return [(self._shown(name, path), *self._attribute(name, p))
                    for name, p, _ in self._params(path, limit)]

    def set_attributes(self, items, addressing=None):
        """SetParameterAttributes: [(path, notification or None, access_list or None)].

        Checked fully before anything is stored. A partial path stores the attribute on
        the object, inherited by everything under it (now and later), and drops the
        settings of its descendants, as if each had been set one by one. Attributes are
        kept under instance numbers, however the path named the instances.
        """
        with self._operation(addressing):
            plan = []
            for path, notification, access in items:
                targets = self._params(path) if not path.endswith(".") or path == "" else None
                if notification is not None and not 0 <= int(notification) <= 6:
                    raise CwmpFault(9003, f"Notification {notification} out of 0..6")
                if access is not None and any(a != "Subscriber" for a in access):
                    raise CwmpFault(9007, "AccessList entries must be 'Subscriber'")
                if targets is None:
                    objs = self._resolve(path)[0]  # the partial path must exist
                    if "[" in path and len(objs) == 1:
                        path = objs[0][1]
                else:
                    for name, p, _ in targets:
                        self._check_notification(name, p, notification)
                    if "[" in path and len(targets) == 1:
                        path = targets[0][0]
                plan.append((path or self.root, notification, access))
            with self.store.batch():
                for path, notification, access in plan:
                    current = list(self.attributes.get(path) or self._inherited(path))
                    if notification is not None:
                        current[0] = int(notification)
                    if access is not None:
                        current[1] = list(access)
                    if path.endswith("."):
                        for k in self.attributes.keys():
                            if k.startswith(path) and k != path:
                                self.attributes.delete(k)
                    self.attributes.set(path, current)

    def shown(self, values, addressing):
        """[(name, value, type)] of ``values`` with each name as ``addressing``'s
        InstanceMode names instances (an Inform's ParameterList); a name that no longer
        resolves is kept as it is."""
        with self._operation(addressing):
            out = []
            for name, value, type_ in values:
                with contextlib.suppress(CwmpFault):
                    self._resolve(name)  # learns the instances on the way
                    name = self._shown(name, "")
                out.append((name, value, type_))
            return out

    def forced_inform(self):
        """[(name, value, type)] of the parameters every Inform carries."""
        with self._operation():
            out = []
            for p in self.defs.walk_params():
                if p.forced:
                    for name, q, keys in self._params(p.path.replace("{i}", "*")):
                        out.append((name, self._read(q, keys, name), q.type.name))
            return out

    def notification_values(self):
        """[(name, value, type, notification)] of every parameter with notification > 0.

        What value-change detection compares between polls.
        """
        with self._operation():
            paths = [k for k, (n, _) in self.attributes.items() if n > 0]
            paths += self.defs.notified
            out, seen = [], set()
            for path in paths:
                try:
                    found = self._params(path)
                except CwmpFault:
                    continue  # an instance that has gone away
                for name, p, keys in found:
                    if name in seen:
                        continue
                    seen.add(name)
                    notification = self._attribute(name, p)[0]
                    if notification:
                        out.append((name, self._read(p, keys, name), p.type.name, notification))
            return out

    def watching(self):
        """Whether any parameter has notification on (by its definition or an attribute):
        without one, there is no value change to look for."""
        return bool(self.defs.notified) or any(n > 0 for _, (n, _) in self.attributes.items())

    def take_reloads(self):
        """The UCI packages committed since the last call, with their reload commands."""
        pending, self.pending_reloads = self.pending_reloads, set()
        return [(pkg, self.defs.reload.get(pkg)) for pkg in sorted(pending)]

    # ------------------------------------------------------- writing internals
    def _add_instance(self, obj, cpath, keys, alias, parameter_key):
        """Create one instance of the table ``cpath`` (with ``alias`` unless None); its
        (number, backend key)."""
        if alias is not None:
            self._check_new_alias(obj, cpath, keys, alias)
        self._instances(obj, cpath, keys)  # number what exists before adding
        entry = self._numbering(cpath)
        number = entry["next"]
        with self._writing(parameter_key):
            key = str(obj.table.add(self.ctx, cpath, keys, number))
            if (obj.table_spec or {}).get("numbering") == "key":
                number = int(key)  # the backend numbers its instances
            entry["map"][key] = number
            entry["next"] = number + 1
            self.numbering.set(cpath, entry)
            if alias is not None:
                name = f"{cpath}{number}.Alias"
                obj.children["Alias"].backend.set(self.ctx, keys + (key,), name, alias)
        self._cache.pop(cpath, None)  # the next lookup sees the new instance
        self._notify({f"{cpath}{number}.": None})
        return number, key

    def _check_new_alias(self, obj, cpath, keys, alias):
        if not isinstance(obj.children.get("Alias"), ParamDef):
            raise CwmpFault(9005, f"Invalid parameter name: {cpath} has no Alias")
        if not _ALIAS.match(alias) or len(alias) > 64:
            raise CwmpFault(9007, f"Invalid alias {alias!r}")
        if any(a == alias for a, _ in self._aliases(obj, cpath, keys)):
            raise CwmpFault(9007, f"Alias {alias!r} is already in use")

    def _delete_instance(self, obj, ipath, keys, parameter_key):
        """Delete the instance ``ipath`` (a numbered path) and everything kept about it."""
        table_path = ipath[: ipath.rstrip(".").rfind(".") + 1]
        with self._writing(parameter_key):
            obj.table.delete(self.ctx, table_path, keys[:-1], keys[-1])
            entry = self._numbering(table_path)
            entry["map"].pop(keys[-1], None)
            self.numbering.set(table_path, entry)
            for ns in (self.values, self.aliases, self.attributes, self.numbering):
                for k in ns.keys():
                    if k.startswith(ipath):
                        ns.delete(k)
        self._cache.pop(table_path, None)
        self._notify({ipath: None})

    def _auto_create(self, names, created):
        """With AutoCreateInstances, create each ``Table.[alias].`` instance the names
        address that does not exist yet, outermost first, adding (obj, path, keys) of each
        to ``created``. One that cannot be created is left for the set to report."""
        if not (self._addressing and self._addressing.auto_create):
            return
        for name in names:
            segments = (name or "").split(".")
            for index, seg in enumerate(segments[:-1]):
                table = ".".join(segments[:index]) + "."
                if not (seg.startswith("[") and seg.endswith("]")) or self._exists(table + seg):
                    continue
                try:
                    obj, cpath, keys = self._table_path(table)
                    if not obj.writable:
                        break
                    number, key = self._add_instance(obj, cpath, keys, seg[1:-1], None)
                except CwmpFault:
                    break
                created.append((obj, f"{cpath}{number}.", keys + (key,)))

    @contextlib.contextmanager
    def _writing(self, parameter_key):
        """One transaction: store writes batched, UCI committed once, all undone on error."""
        self._committed = set()
        try:
            with self.store.batch():
                yield
                if parameter_key is not None:
                    self._set_parameter_key(parameter_key)
                for pkg in sorted(self.uci.changed()):
                    self.uci.commit(pkg)
                    self._committed.add(pkg)
                    self.pending_reloads.add(pkg)
        except CwmpFault:
            self._revert_uci()
            raise
        except Exception as e:  # a backend failed: nothing of this transaction stays
            self._revert_uci()
            log.error("transaction failed: %s", e)
            raise CwmpFault(9002, f"Internal error: {e}") from e

    @property
    def committed(self):
        """The UCI packages the last transaction committed."""
        return set(self._committed)

    def _status(self):
        """The RPC Status of the last transaction: 1 when a service must still reload
        (after the session) for the change to take effect, else 0."""
        return 1 if any(self.defs.reload.get(pkg) for pkg in self._committed) else 0

    def _revert_uci(self):
        for pkg in self.uci.changed():
            self.uci.revert(pkg)

    def _transaction(self, plan, parameter_key, notify=True):
        applied = []
        try:
            with self._writing(parameter_key):
                for name, p, keys, value in plan:
                    old = p.backend.get(self.ctx, keys, name)
                    try:
                        p.backend.set(self.ctx, keys, name, value)
                    except CwmpFault as f:   # a value the device refuses (9007 and the like)
                        raise CwmpFault(9003, details=[(name, f.code, f.message)]) from f
                    except ValueError as e:   # the backends' way of saying the same
                        raise CwmpFault(9003, details=[(name, 9007, f"Invalid value: {e}")]) from e
                    except Exception as e:
                        raise CwmpFault(9002, details=[(name, 9002, f"Internal error: {e}")]) from e
                    applied.append((name, p, keys, old))
        except CwmpFault:
            for name, p, keys, old in reversed(applied):
                with contextlib.suppress(Exception):
                    if old is not None:
                        p.backend.set(self.ctx, keys, name, old)
            self._revert_uci()   # what restoring staged again in UCI is no change
            raise
        if notify:
            self._notify({name: value for name, _, _, value in plan})

    def _set_parameter_key(self, key):
        name = self.root + "ManagementServer.ParameterKey"
        p = self.defs.by_path.get(self.root + "ManagementServer.", None)
        p = p and p.children.get("ParameterKey")
        if isinstance(p, ParamDef):
            p.backend.set(self.ctx, (), name, key)
        else:
            self.values.set(name, key)

    def _notify(self, changes):
        """Tell listeners what a successful transaction changed: {name: new value}, with
        None for added or deleted objects. Called in the thread that made the change."""
        for listener in self.change_listeners:
            listener(changes)

    def _check_alias(self, p, name, keys, value, plan):
        if not _ALIAS.match(value) or len(value) > 64:
            raise CwmpFault(9007, f"Invalid alias {value!r}")
        table_path = ".".join(name.split(".")[:-2]) + "."
        for other, _ in self._aliases(p.obj, table_path, keys[:-1]):
            if other == value and self._read(p, keys, name) != value:
                raise CwmpFault(9007, f"Alias {value!r} is already in use")
        if any(q is p and v == value for _, q, _, v in plan):
            raise CwmpFault(9007, f"Alias {value!r} is set twice")

    def _check_notification(self, name, p, notification):
        if notification is None:
            return
        notification = int(notification)
        if p.notify_policy == "forceEnabled" and notification != 2:
            raise CwmpFault(9009, f"Notification of {name} is forced to active")
        if p.notify_policy == "forceDefaultEnabled" and notification != 2:
            raise CwmpFault(9009, f"Notification of {name} cannot be changed")
        if p.notify_policy == "canDeny" and notification in (2, 5, 6):
            raise CwmpFault(9009, f"Active notification is refused for {name}")

    # ------------------------------------------------------ reading internals
    def _read(self, p, keys, name):
        if p.secret:
            return ""
        try:
            return p.type.present(p.backend.get(self.ctx, keys, name))
        except CwmpFault:
            raise
        except Exception as e:  # a broken backend must not break a whole GetParameterValues
            log.warning("reading %s failed: %s", name, e)
            return ""

    def read(self, name):
        """One parameter's value as a string (secret ones included), for internal users."""
        with self._operation():
            name, p, keys = self._one_param(name)
            return p.type.present(p.backend.get(self.ctx, keys, name))

    def write(self, name, value):
        """Set a value the agent itself owns (ConnectionRequestURL, NATDetected, ...):
        read-only for the ACS, so no writability check and no ParameterKey. Listeners
        (who hear what the ACS changed) are not told: value change detection will see it."""
        with self._operation():
            name, p, keys = self._one_param(name)
            self._transaction([(name, p, keys, p.type.check(value))], None, notify=False)

    def _attribute(self, name, p):
        if p.notify_policy in ("forceEnabled", "forceDefaultEnabled"):
            entry = self.attributes.get(name)
            return 2, list(entry[1]) if entry else []
        entry = self.attributes.get(name) or self._inherited(name)
        return entry[0], list(entry[1])

    def _inherited(self, name):
        """Attributes of the nearest enclosing object that has some, else the defaults."""
        pos = len(name.rstrip("."))
        while pos > 0:
            pos = name.rfind(".", 0, pos)
            if pos < 0:
                break
            entry = self.attributes.get(name[: pos + 1])
            if entry:
                return entry
        return [0, []]

    def _list_names(self, obj, cpath, keys, at_table, next_level, out):
        if at_table:
            for num, key in self._instances(obj, cpath, keys):
                ipath = f"{cpath}{num}."
                out.append((ipath, obj.writable))
                if not next_level:
                    self._list_names(obj, ipath, keys + (key,), False, False, out)
            return
        for child in obj.children.values():
            if isinstance(child, ParamDef):
                out.append((cpath + child.name, child.writable))
            else:
                path = cpath + child.name + "."
                out.append((path, child.writable if child.multi else False))
                if not next_level:
                    self._list_names(child, path, keys, child.multi, False, out)

    def _params(self, path, limit=None):
        """(name, def, keys) of every parameter a path names, in tree order; 9004 beyond
        ``limit`` of them."""
        if path == "":
            path = self.root
        objs, params = self._resolve(path)
        out = _Bounded(limit)
        out.extend(params)
        for obj, cpath, keys, at_table in objs:
            self._collect(obj, cpath, keys, at_table, out)
        return out

    def _collect(self, obj, cpath, keys, at_table, out):
        if at_table:
            for num, key in self._instances(obj, cpath, keys):
                self._collect(obj, f"{cpath}{num}.", keys + (key,), False, out)
            return
        for p in obj.params:
            out.append((cpath + p.name, p, keys))
        for child in obj.objects:
            self._collect(child, cpath + child.name + ".", keys, child.multi, out)

    def _exists(self, path):
        try:
            self._resolve(path + ".")
            return True
        except CwmpFault:
            return False

    def _one_param(self, name):
        """(name with instance numbers, def, keys) of the one parameter ``name`` names."""
        if not name or name.endswith(".") or "*" in name:
            raise _bad_name(name)
        params = self._resolve(name)[1]
        if len(params) != 1:
            raise _bad_name(name)
        return params[0]

    def _table_path(self, path):
        """The table object an AddObject names (path ends with the table name and '.')."""
        if not path or not path.endswith(".") or "*" in path:
            raise _bad_name(path)
        objs = self._resolve(path)[0]
        if len(objs) != 1 or not objs[0][3]:
            raise _bad_name(path)
        obj, cpath, keys, _ = objs[0]
        return obj, cpath, keys

    def _resolve(self, path):
        """Resolve a path into ([(obj, concrete path, keys, at_table)], [(name, param, keys)]).

        ``at_table`` marks a path that names a table itself (``Device.IP.Interface.``)
        rather than one of its instances. Raises 9005 for anything that does not exist.
        """
        if not isinstance(path, str) or not path.startswith(self.root):
            raise _bad_name(path)
        partial = path.endswith(".")
        segments = path[:-1].split(".") if partial else path.split(".")
        states = [(self.defs.root, self.root, (), False)]
        params = []
        last = len(segments) - 1
        for index in range(1, len(segments)):
            seg = segments[index]
            if not seg:
                raise _bad_name(path)
            nxt = []
            for obj, cpath, keys, at_table in states:
                if at_table:
                    for num, key in self._select(obj, cpath, keys, seg, path):
                        nxt.append((obj, f"{cpath}{num}.", keys + (key,), False))
                    continue
                child = obj.children.get(seg)
                if child is None:
                    raise _bad_name(path)
                if isinstance(child, ParamDef):
                    if index != last or partial:
                        raise _bad_name(path)
                    params.append((cpath + seg, child, keys))
                else:
                    if index == last and not partial:
                        raise _bad_name(path)
                    nxt.append((child, cpath + seg + ".", keys, child.multi))
            states = nxt
        return (states if partial else []), params

    def _select(self, obj, cpath, keys, seg, path):
        instances = self._instances(obj, cpath, keys)
        if seg == "*":
            return instances
        if _NUMBER.match(seg):
            number = int(seg)
            key = self._by_number[cpath].get(number)
            found = [] if key is None else [(number, key)]
        elif seg.startswith("[") and seg.endswith("]") and self._aliases_allowed:
            alias = seg[1:-1]
            found = [(n, k) for (a, (n, k)) in zip(
                (a for a, _ in self._aliases(obj, cpath, keys)), instances, strict=True) if a == alias]
        else:
            found = []
        if not found:
            raise _bad_name(path)
        return found

    def _aliases(self, obj, cpath, keys):
        """[(alias, (number, key))] of a table's instances."""
        return [(self._alias(obj, cpath, keys, num, key), (num, key))
                for num, key in self._instances(obj, cpath, keys)]

    def _alias(self, obj, cpath, keys, number, key):
        """An instance's Alias; ``cpe-<n>`` where it has none (TR-181's form for aliases the
        agent assigns), so that every instance can be addressed and reported by alias."""
        p = obj.children.get("Alias")
        value = p.backend.get(self.ctx, keys + (key,), f"{cpath}{number}.Alias") \
            if isinstance(p, ParamDef) else ""
        return value or f"cpe-{number}"

    @property
    def _aliases_allowed(self):
        return self._addressing is None or self._addressing.aliases

    def _shown(self, name, request):
        """``name`` (instances by number) as a response to ``request`` names it, see
        :class:`Addressing`; unchanged without one."""
        mode = self._addressing
        forms = _instance_forms(request) if mode else []
        if not mode or not (mode.instance_alias or True in forms):
            return name
        obj, cpath, keys, at_table = self.defs.root, self.root, (), False
        shown, position = [self.defs.root.name], 0
        for seg in name.split(".")[1:]:
            if not at_table:
                shown.append(seg)
                child = obj.children.get(seg)
                if child is not None and not isinstance(child, ParamDef):
                    obj, cpath, at_table = child, f"{cpath}{seg}.", child.multi
                continue
            number = int(seg)
            key = self._by_number[cpath][number]
            form = forms[position] if position < len(forms) else None
            by_alias = mode.instance_alias if form is None else form
            shown.append(f"[{self._alias(obj, cpath, keys, number, key)}]" if by_alias else seg)
            cpath, keys, at_table, position = f"{cpath}{seg}.", keys + (key,), False, position + 1
        return ".".join(shown)

    def _numbering(self, cpath):
        entry = self.numbering.get(cpath)
        return {"next": entry["next"], "map": dict(entry["map"])} if entry else {"next": 1, "map": {}}

    def _instances(self, obj, cpath, keys):
        """[(number, key)] of a table's instances, numbers persisted and never reused."""
        cached = self._cache.get(cpath)
        if cached is not None:
            return cached
        found = [str(k) for k in obj.table.instances(self.ctx, cpath, keys)]
        numbering = (obj.table_spec or {}).get("numbering")
        if numbering == "sequential":
            result = [(i, k) for i, k in enumerate(found, 1)]
        elif numbering == "key":     # the backend numbers its instances: keys are numbers
            result = sorted((int(k), k) for k in found)
        else:
            entry = self._numbering(cpath)
            mapping = entry["map"]
            changed = False
            for k in found:
                if k not in mapping:
                    mapping[k] = entry["next"]
                    entry["next"] += 1
                    changed = True
            present = set(found)
            for k in [k for k in mapping if k not in present]:
                del mapping[k]
                changed = True
            if changed:
                self.numbering.set(cpath, entry)
            result = sorted((mapping[k], k) for k in found)
        self._cache[cpath] = result
        self._by_number[cpath] = dict(result)
        return result
