"""Device profiles: a real device's parameter dump, served as the data model of simulated CPEs.

A profile is a CSV dump of one device's parameter tree, in either format GenieACS
produces: genieacs-sim's (``Parameter,Object,Writable,Value,Value type``) or the GenieACS
UI export (the same columns and their timestamps, notification and access list). Columns
are found by name. Rows name objects (``Object`` true) or parameters; ``DeviceID.*`` rows
give the Inform's DeviceId, other GenieACS bookkeeping (``Events.*``, ``Tags.*``, ...) is
skipped.

The dump becomes :class:`Definitions` with one definition per template path: an object
whose children are instance numbers is a table (``X.{i}.``), and so is a writable empty
object (the ACS may AddObject to it, so it can only be a table). What the dump shows of
each instance (its values, the instances of each concrete table) is every CPE's starting
point. One :class:`Profile` serves a whole fleet: it is loaded once and holds one dict of
default values; each CPE keeps only what it changed, in its own store (the ``profile``
backends, :mod:`icwmpy.backends.profile`).
"""

import csv
import re
import sys

from icwmpy.faults import CwmpFault
from icwmpy.model.schema import NAME, Definitions, DefinitionError
from icwmpy.model.types import TYPES, TypeSpec

ROOTS = ("Device", "InternetGatewayDevice")
REQUIRED = ("Parameter", "Object", "Writable", "Value", "Value type")
COLUMNS = frozenset(REQUIRED) | {
    "Object timestamp", "Writable timestamp", "Value timestamp", "Notification",
    "Notification timestamp", "Access list", "Access list timestamp"}
# GenieACS's own bookkeeping beside the device's tree.
META = frozenset({"DeviceID", "Events", "Tags", "VirtualParameters", "Downloads", "Reboot",
                  "FactoryReset"})
DEVICE_ID = {"Manufacturer": "Manufacturer", "OUI": "ManufacturerOUI",
             "ProductClass": "ProductClass", "SerialNumber": "SerialNumber"}
FORCED = {
    "InternetGatewayDevice": ("DeviceSummary", "DeviceInfo.HardwareVersion",
                              "DeviceInfo.SoftwareVersion", "DeviceInfo.SpecVersion",
                              "DeviceInfo.ProvisioningCode", "ManagementServer.ParameterKey",
                              "ManagementServer.ConnectionRequestURL"),
    "Device": ("RootDataModelVersion", "DeviceInfo.HardwareVersion", "DeviceInfo.SoftwareVersion",
               "DeviceInfo.ProvisioningCode", "ManagementServer.ParameterKey",
               "ManagementServer.ConnectionRequestURL"),
}
# TR-098 tables whose NumberOfEntries parameter is not named after them.
COUNTS = {"LANEthernetInterfaceConfig": "LANEthernetInterfaceNumberOfEntries",
          "LANUSBInterfaceConfig": "LANUSBInterfaceNumberOfEntries",
          "WLANConfiguration": "LANWLANConfigurationNumberOfEntries",
          "WANConnectionDevice": "WANConnectionNumberOfEntries",
          "DHCPConditionalServingPool": "DHCPConditionalPoolNumberOfEntries",
          "Forwarding": "ForwardNumberOfEntries"}
_NUMBER = re.compile(r"^[1-9][0-9]*$")
_BOOL = {"true": True, "false": False}
SAMPLE_CPE = ("cpe-1", 1)


class ProfileError(Exception):
    """A profile that cannot be served; the message is ``file:line: reason``."""


def expand(value, cpe_id, number):
    """``value`` for one CPE: ``{cpe_id}`` and ``{n}`` replaced, any other brace kept."""
    if "{" not in value:
        return value
    return value.replace("{cpe_id}", cpe_id).replace("{n}", str(number))


def template(path):
    """Concrete path -> template path: every instance number becomes ``{i}``."""
    return ".".join("{i}" if _NUMBER.match(seg) else seg for seg in path.split("."))


class Profile:
    """One device model, shared by every CPE simulated from it.

    ``definitions``: the tree, each parameter with its type, access, ``forced`` and the
    ``profile`` backend; ``root``: ``"Device."`` or ``"InternetGatewayDevice."``;
    ``device_id``: Manufacturer/OUI/ProductClass/SerialNumber (templates, see
    :meth:`device_id_of`); ``defaults``: concrete parameter name -> value (canonical, or a
    template holding ``{cpe_id}``/``{n}``); ``instances``: concrete table path (``...X.``)
    -> the instance keys (numbers as strings) every CPE starts with.
    """

    __slots__ = ("origin", "root", "device_id", "defaults", "instances", "definitions")

    def __init__(self, origin, root, device_id, defaults, instances):
        self.origin = origin
        self.root = root
        self.device_id = device_id
        self.defaults = defaults
        self.instances = instances
        self.definitions = None

    def device_id_of(self, cpe_id, number):
        """The DeviceId one CPE informs with (templates expanded)."""
        return {k: expand(v, cpe_id, number) for k, v in self.device_id.items()}

    def default(self, name, cpe_id, number):
        """A concrete parameter's starting value for one CPE, None if the dump has none."""
        value = self.defaults.get(name)
        return None if value is None else expand(value, cpe_id, number)

    def set_default(self, name, value):
        """Make every CPE start with ``value`` (a template) for a parameter the dump has,
        instead of the dumped device's own (its serial number, its ACS URL)."""
        if name in self.defaults:
            self.defaults[name] = value


class _Node:
    """A concrete object or parameter while the dump is read."""

    __slots__ = ("line", "object", "explicit", "writable", "type", "value", "children")

    def __init__(self, line, is_object, writable=False, type_=None, value=None):
        self.line = line
        self.object = is_object
        self.explicit = False
        self.writable = writable
        self.type = type_
        self.value = value
        self.children = {} if is_object else None


class _Loader:
    def __init__(self, path):
        self.path = str(path)
        self.line = 0
        self.nodes = {}           # concrete name (objects end with '.') -> _Node
        self.root = None
        self.name = None          # of the row being read
        self.ids = {}
        self.types = {}           # type name -> TypeSpec (facets come from nowhere: one each)

    def fail(self, reason, line=None):
        return ProfileError(f"{self.path}:{line or self.line}: {reason}")

    def load(self):
        try:
            with open(self.path, encoding="utf-8-sig", newline="") as f:
                self._read(csv.reader(f, strict=True))
        except OSError as e:
            raise ProfileError(f"{self.path}:0: {e.strerror or e}") from None
        except (csv.Error, UnicodeDecodeError) as e:
            raise self.fail(f"not a CSV parameter dump ({e})") from None
        if self.root is None:
            raise self.fail("not a parameter dump: no Device. or InternetGatewayDevice. rows")
        return self._profile()

    # ------------------------------------------------------------- reading
    def _read(self, reader):
        header = next(reader, None)
        self.line = 1
        if not header:
            raise self.fail("not a parameter dump: empty file")
        header = [h.strip() for h in header]
        for name in header:
            if name not in COLUMNS:
                raise self.fail(f"unknown column {name!r} (a parameter dump has {REQUIRED})")
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise self.fail(f"not a parameter dump: no column {missing[0]!r}")
        if len(set(header)) != len(header):
            raise self.fail("a column appears twice")
        cols = [header.index(c) for c in REQUIRED]
        while True:
            self.line = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                break
            if not any(field.strip() for field in row):
                continue
            if len(row) != len(header):
                raise self.fail(f"{len(row)} fields where the header has {len(header)}")
            self._row(*(row[i] for i in cols))

    def _flag(self, text, column):
        flag = _BOOL.get(text.strip().lower())
        if flag is None:
            raise self.fail(f"{column} must be true or false, not {text!r}")
        return flag

    def _row(self, name, is_object, writable, value, type_name):
        self.name = name = name.strip()
        is_object = self._flag(is_object, "Object")
        writable = self._flag(writable, "Writable")
        if is_object and name.endswith("."):
            name = name[:-1]
        segments = name.split(".")
        if segments[0] in META:
            if segments[0] == "DeviceID" and len(segments) == 2 and segments[1] in DEVICE_ID:
                self.ids[segments[1]] = sys.intern(value)
            return
        self._check_name(name, segments, is_object)
        if is_object:
            self._add_object(name + ".", writable)
        else:
            spec = self._type(type_name)
            self._add_param(name, writable, spec, self._value(value, spec))

    def _check_name(self, name, segments, is_object):
        if segments[0] not in ROOTS:
            raise self.fail(f"invalid name {name!r}: not under Device. or InternetGatewayDevice.")
        if self.root is None:
            self.root = segments[0]
        elif segments[0] != self.root:
            raise self.fail(f"{name!r} is outside this dump's root {self.root}.")
        for seg in segments[1:]:
            if not (NAME.match(seg) or _NUMBER.match(seg)):
                raise self.fail(f"invalid name {name!r}: bad segment {seg!r}")
        if not is_object and (len(segments) == 1 or _NUMBER.match(segments[-1])):
            raise self.fail(f"invalid name {name!r} for a parameter")

    def _type(self, type_name):
        kind = type_name.strip().rpartition(":")[2] or "string"
        if kind not in TYPES:
            raise self.fail(f"unknown type {type_name!r}")
        spec = self.types.get(kind)
        if spec is None:
            spec = self.types[kind] = TypeSpec({"type": kind})
        return spec

    def _value(self, value, spec):
        """The value to keep: canonical for its type (a template: as written, checked with
        a sample CPE's values)."""
        try:
            canonical = spec.check(expand(value, *SAMPLE_CPE))
        except CwmpFault as e:
            why = e.message.removeprefix("Invalid parameter value: ")
            raise self.fail(f"value {value!r} is not a valid {spec.name} ({why})") from None
        return sys.intern(value if "{" in value else canonical)

    def _object_node(self, path):
        """The node of the object ``path``, created with its ancestors if the dump has no
        row for it yet."""
        node = self.nodes.get(path)
        if node is None:
            param = self.nodes.get(path[:-1])
            if param is not None:
                raise self.fail(f"{self.name!r} is under parameter {path[:-1]!r} "
                                f"(line {param.line})")
            node = self.nodes[sys.intern(path)] = _Node(self.line, True)
            parent = self._parent(path)
            if parent is not None:
                parent.children[path[:-1].rpartition(".")[2]] = node
        return node

    def _parent(self, name):
        cut = name.rstrip(".").rfind(".")
        return None if cut < 0 else self._object_node(name[: cut + 1])

    def _add_object(self, path, writable):
        param = self.nodes.get(path[:-1])
        if param is not None:
            raise self.fail(f"{path[:-1]!r} is a parameter (line {param.line})")
        node = self._object_node(path)
        if node.explicit:
            raise self.fail(f"{path[:-1]!r} appears twice (first at line {node.line})")
        node.line, node.explicit, node.writable = self.line, True, writable

    def _add_param(self, name, writable, spec, value):
        for other in (name, name + "."):
            if other in self.nodes:
                first = self.nodes[other]
                what = "appears twice" if other == name else "is an object"
                raise self.fail(f"{name!r} {what} (first at line {first.line})")
        parent = self._parent(name)
        node = self.nodes[sys.intern(name)] = _Node(self.line, False, writable, spec, value)
        parent.children[name.rpartition(".")[2]] = node

    # ------------------------------------------------------------ building
    def _profile(self):
        root = self.root + "."
        body = {}                 # template object path -> definition body
        seen = {}                 # template parameter path -> its first node
        defaults, instances = {}, {}
        tables = self._tables()
        for path, node in self.nodes.items():
            if not node.object:
                self._param(path, node, body, seen)
                defaults[path] = node.value
            elif template(path) in tables:
                instances[path] = tuple(sorted(node.children, key=int))
                table = body.setdefault(template(path) + "{i}.", {}).setdefault(
                    "_table", {"access": "readOnly", "numbering": "key", "count": False})
                if node.writable:
                    table["access"] = "readWrite"
            elif not _NUMBER.match(path[:-1].rpartition(".")[2]):
                body.setdefault(template(path), {})
        device_id = self._device_id(defaults)
        profile = Profile(self.path, root, device_id, defaults, instances)
        self._mark_forced(body, defaults)
        _mark_counts(body)
        shared = {}               # one spec dict per kind of parameter, not per parameter
        for tbody in body.values():
            for key, spec in tbody.items():
                tbody[key] = shared.setdefault(frozenset(spec.items()), dict(spec, profile=profile))
        profile.definitions = Definitions(root)
        try:
            profile.definitions.load(body, f"{self.path}:{self.line}")
        except DefinitionError as e:
            raise ProfileError(str(e)) from None
        return profile

    def _tables(self):
        """Template paths of the tables: objects with instances somewhere in the dump, and
        writable empty objects (that are not instances themselves)."""
        tables = set()
        for path, node in self.nodes.items():
            if not node.object:
                continue
            numbers = [k for k in node.children if _NUMBER.match(k)]
            if numbers and len(numbers) != len(node.children):
                named = next(k for k in node.children if not _NUMBER.match(k))
                raise self.fail(f"{path[:-1]!r} mixes instances ({numbers[0]}) and named "
                                f"children ({named})", node.children[named].line)
            instance = _NUMBER.match(path[:-1].rpartition(".")[2])
            if numbers or (node.writable and not node.children and not instance):
                tables.add(template(path))
        for path, node in self.nodes.items():
            if node.object and node.children and template(path) in tables and not all(
                    _NUMBER.match(k) for k in node.children):
                raise self.fail(f"{path[:-1]!r} has named children where other instances of "
                                f"{template(path)} have instances", node.line)
        return tables

    def _param(self, name, node, body, seen):
        tpath = template(name)
        first = seen.setdefault(tpath, node)
        if first is not node and (first.type is not node.type or first.writable != node.writable):
            raise self.fail(f"{name!r}: {node.type.name} {_access(node)} where line {first.line} "
                            f"has {first.type.name} {_access(first)}", node.line)
        obj, _, pname = tpath.rpartition(".")
        body.setdefault(obj + ".", {})[pname] = {"type": node.type.name, "access": _access(node)}

    def _device_id(self, defaults):
        device_id = {}
        for key, param in DEVICE_ID.items():
            value = self.ids.get(key, defaults.get(f"{self.root}.DeviceInfo.{param}"))
            if value is None:
                raise self.fail(f"no DeviceID.{key} row nor {self.root}.DeviceInfo.{param}")
            device_id[key] = value
        return device_id

    def _mark_forced(self, body, defaults):
        names = [f"{self.root}.{p}" for p in FORCED[self.root]]
        if self.root == "InternetGatewayDevice":
            names.append(_default_wan_address(defaults))
        for name in names:
            if name in defaults:
                obj, _, pname = template(name).rpartition(".")
                body[obj + "."][pname]["forced"] = True


def _default_wan_address(defaults):
    """TR-098's forced ExternalIPAddress: that of the DefaultConnectionService, else of the
    one WAN connection the dump has (None where neither is known)."""
    service = defaults.get("InternetGatewayDevice.Layer3Forwarding.DefaultConnectionService")
    if service:
        return service.rstrip(".") + ".ExternalIPAddress"
    found = [name for name in defaults if name.startswith("InternetGatewayDevice.WANDevice.")
             and name.endswith(".ExternalIPAddress")]
    return found[0] if len(found) == 1 else None


def _mark_counts(body):
    """A table's ``<Table>NumberOfEntries`` (TR-098's irregular names too), where the dump
    has one, counts the CPE's instances once the CPE added or deleted some (until then it
    reads as dumped); its spec's ``count`` names the table."""
    for tpath, tbody in body.items():
        if "_table" in tbody:
            parent, _, name = tpath[: -len(".{i}.")].rpartition(".")
            count = body.get(parent + ".", {}).get(COUNTS.get(name, name + "NumberOfEntries"))
            if count is not None and count["access"] == "readOnly":
                count["count"] = name


def _access(node):
    return "readWrite" if node.writable else "readOnly"


def load_profile(path):
    """The :class:`Profile` of a CSV dump; :class:`ProfileError` ``file:line: reason``."""
    return _Loader(path).load()
