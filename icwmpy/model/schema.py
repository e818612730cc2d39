"""Data model definitions: ``datamodel/*.json`` turned into a tree of object and parameter defs.

A definition file maps object paths (``Device.IP.Interface.{i}.``) to their parameters::

    "Device.DeviceInfo.": {
        "Manufacturer": {"type": "string", "max": 64, "uci": "cwmp.cpe.manufacturer"},
        "UpTime": {"type": "unsignedInt", "file": "/proc/uptime", "field": 0, "format": "int"}
    }

Keys starting with ``_`` describe the object itself (``_table`` for multi-instance
objects, see :mod:`icwmpy.backends`); the others are parameters with their type facets
(:mod:`icwmpy.model.types`), ``access`` ("readWrite"), ``forced`` (forced inform),
``activeNotify`` ("canDeny", "forceEnabled", "forceDefaultEnabled"), ``secret``
(read back as an empty string) and exactly one backend key. A top-level ``"_reload"``
maps UCI packages to the command that reloads the service owning them.

Loaded definitions are bound to their backends once (:meth:`Definitions.bind`) and are
then fixed: every CPE's data model over them shares the tree and the backends, and keeps
its own state in its :class:`icwmpy.backends.Context`.
"""

import contextlib
import json
import os
import re
import threading

from icwmpy import backends
from icwmpy.model.types import TypeSpec

NOTIFY_POLICIES = {"normal", "canDeny", "forceEnabled", "forceDefaultEnabled"}
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class DefinitionError(Exception):
    """A datamodel file is wrong; the message names the file and the path."""


@contextlib.contextmanager
def _naming(path):
    try:
        yield
    except (ValueError, TypeError, KeyError, ImportError, AttributeError) as e:
        raise DefinitionError(f"{path}: {e}") from None


class ParamDef:
    __slots__ = ("name", "path", "type", "writable", "forced", "notify_policy", "secret", "backend",
                 "spec", "obj")

    def __init__(self, name, spec, obj):
        self.name = name
        self.obj = obj
        self.path = obj.child_path() + name
        self.spec = spec
        self.type = TypeSpec(spec)
        self.writable = spec.get("access", "readOnly") == "readWrite"
        self.forced = bool(spec.get("forced"))
        self.notify_policy = spec.get("activeNotify", "normal")
        if self.notify_policy not in NOTIFY_POLICIES:
            raise ValueError(f"activeNotify must be one of {sorted(NOTIFY_POLICIES)}")
        self.secret = bool(spec.get("secret"))
        self.backend = None

    @property
    def default_notification(self):
        return 2 if self.notify_policy in ("forceEnabled", "forceDefaultEnabled") else 0

    @property
    def relname(self):
        """Name relative to the nearest enclosing table instance (what table handlers see)."""
        table = self.obj.table_def()
        return self.path[len(table.path) + len("{i}."):] if table else self.path


class ObjectDef:
    """An object; ``multi`` objects are tables whose children live under each instance."""

    __slots__ = ("name", "path", "parent", "multi", "params", "objects", "children", "table",
                 "table_spec", "writable", "count_param")

    def __init__(self, name, path, parent):
        self.name = name
        self.path = path          # template path, e.g. "Device.IP.Interface." (no {i})
        self.parent = parent
        self.multi = False
        self.params = []
        self.objects = []
        self.children = {}
        self.table = None         # table backend (multi objects), once bound
        self.table_spec = None
        self.writable = False     # AddObject/DeleteObject allowed (multi objects)
        self.count_param = None

    def child_path(self):
        """Template prefix of the children: the instance level for tables."""
        return self.path + "{i}." if self.multi else self.path

    def table_def(self):
        """Nearest multi-instance object at or above this one."""
        node = self
        while node is not None and not node.multi:
            node = node.parent
        return node

    def add_child(self, node):
        self.children[node.name] = node
        (self.objects if isinstance(node, ObjectDef) else self.params).append(node)


def _split_template(path):
    """'Device.IP.Interface.{i}.IPv4Address.{i}.' -> [('Device', F), ('IP', F), ('Interface', T), ...]."""
    parts = path.rstrip(".").split(".")
    out = []
    for part in parts:
        if part == "{i}":
            if not out or out[-1][1]:
                raise ValueError("misplaced {i}")
            out[-1] = (out[-1][0], True)
        elif NAME.match(part):
            out.append((part, False))
        else:
            raise ValueError(f"invalid name {part!r}")
    return out


class Definitions:
    """The whole tree plus the service reload map, merged from every JSON file given."""

    def __init__(self, root="Device."):
        """``root``: the data model's root object, ``Device.`` (TR-181) or
        ``InternetGatewayDevice.`` (TR-098, as device profiles may have)."""
        self.root = ObjectDef(root[:-1], root, None)
        self.reload = {}
        self.by_path = {root: self.root}   # template path of objects (with {i}) -> def
        self.bound = False
        self._binding = threading.Lock()
        self.notified = ()   # paths of the parameters notified by default (set by bind)

    def load_dir(self, directory):
        for fname in sorted(os.listdir(directory)):
            if fname.endswith(".json"):
                self.load_file(os.path.join(directory, fname))
        return self

    def load_file(self, fname):
        try:
            with open(fname, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            raise DefinitionError(f"{fname}: {e}") from None
        self.load(data, fname)

    def load(self, data, origin="<definitions>"):
        if self.bound:
            raise DefinitionError(f"{origin}: definitions are bound already: load them all "
                                  "before the first data model")
        for path, body in data.items():
            if path == "_reload":
                self.reload.update(body)
                continue
            try:
                self._load_object(path, body)
            except (ValueError, TypeError, KeyError) as e:
                raise DefinitionError(f"{origin}: {path}: {e}") from None

    def _object(self, path):
        """Find or create the object def for a template path ending in '.' or '{i}.'."""
        node = self.root
        template = node.path
        if not path.startswith(template) or not path.endswith("."):
            raise ValueError(f"object paths start with {template!r} and end with '.'")
        for name, multi in _split_template(path)[1:]:
            child = node.children.get(name)
            if child is None:
                child = ObjectDef(name, node.child_path() + name + ".", node)
                node.add_child(child)
            elif not isinstance(child, ObjectDef):
                raise ValueError(f"{name} is a parameter, not an object")
            if multi and not child.multi:
                child.multi = True
            node = child
            template = node.child_path()
            self.by_path[template] = node
        if path != template:
            raise ValueError(f"inconsistent {{i}} placement (expected {template})")
        return node

    def _load_object(self, path, body):
        node = self._object(path)
        for key, spec in body.items():
            if key == "_table":
                if not node.multi:
                    raise ValueError("_table on an object that is not multi-instance ({i}.)")
                node.table_spec = spec
                node.writable = spec.get("access", "readOnly") == "readWrite"
            elif key.startswith("_"):
                raise ValueError(f"unknown object key {key!r}")
            else:
                if not NAME.match(key):
                    raise ValueError(f"invalid parameter name {key!r}")
                if key in node.children:
                    raise ValueError(f"{key} defined twice")
                node.add_child(ParamDef(key, spec, node))

    def bind(self):
        """Attach a backend to every def, tables first, and add the automatic
        NumberOfEntries and Alias parameters; once, however many data models (and threads)
        ask. A backend spec that cannot be used is a DefinitionError naming the path."""
        with self._binding:
            if self.bound:
                return self
            for obj in list(self.walk_objects()):
                if obj.multi:
                    with _naming(obj.path):
                        obj.table = backends.build_table(obj)
                    self._add_count_param(obj)
            alias = backends.store.AliasParam()
            for obj in self.walk_objects():
                for p in obj.params:
                    if p.backend is not None:
                        continue
                    if p.name == "Alias" and obj.multi and not any(
                            k in p.spec for k in backends.PARAM_KINDS):
                        p.backend = alias
                    else:
                        with _naming(p.path):
                            p.backend = backends.build_param(p)
            # what value-change detection always watches: the same for every CPE
            self.notified = tuple(p.path.replace("{i}", "*") for p in self.walk_params()
                                  if p.default_notification)
            self.bound = True
        return self

    @staticmethod
    def _add_count_param(table):
        if (table.table_spec or {}).get("count") is False:
            return
        parent = table.parent
        name = table.name + "NumberOfEntries"
        if name in parent.children:
            return
        count = ParamDef(name, {"type": "unsignedInt"}, parent)
        count.backend = backends.Count(table)
        parent.add_child(count)
        table.count_param = count

    def walk_objects(self, node=None):
        node = node or self.root
        yield node
        for child in node.objects:
            yield from self.walk_objects(child)

    def walk_params(self):
        for obj in self.walk_objects():
            yield from obj.params
