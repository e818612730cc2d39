"""``uci`` backend: an option of any UCI package, as icwmp maps TR-181 onto OpenWrt config.

``"uci": "cwmp.acs.url"`` names package, section (name or ``@type[N]``) and option.
Inside a UCI table (``"_table": {"uci": "cwmp", "type": "inform_parameter"}``) a bare
option name refers to the instance's own section. Writes are staged in the CPE's
:class:`icwmpy.config.uci.Uci` (``ctx.uci``) and committed once per transaction by the
engine.
"""

import re


class UciParam:
    def __init__(self, spec, table):
        self.default = spec.get("default")
        where = spec["uci"]
        if "." in where:
            self.package, section_option = where.split(".", 1)
            self.section, _, self.option = section_option.rpartition(".")
            if not self.section:
                raise ValueError(f"uci {where!r}: expected package.section.option")
        else:
            if table is None or not isinstance(table.table, UciTable):
                raise ValueError(f"uci {where!r}: a bare option needs an enclosing UCI table")
            self.package, self.section, self.option = table.table.package, None, where

    def get(self, ctx, keys, name):
        value = ctx.uci.get(self.package, self.section or keys[-1], self.option, self.default)
        if isinstance(value, list):
            return ",".join(value)
        return value

    def set(self, ctx, keys, name, value):
        ctx.uci.set(self.package, self.section or keys[-1], self.option, value)


class UciTable:
    """Each section of one type in a package is an instance; its name is the key.

    Instance numbers are persisted against section names, so every instance needs a
    name that outlives the process: an anonymous section (whose generated name changes
    with its content) is given a real name, ``<type>_<n>``, the first time it is listed,
    and sections created by AddObject are named from the start. That is one write to
    the file per section, ever, and keeps ``@type[N]`` references working.
    """

    def __init__(self, spec):
        self.package = spec["uci"]
        self.type = spec["type"]

    def instances(self, ctx, path, keys):
        tree = ctx.uci
        names = [name for name, _ in tree.sections(self.package, self.type)]
        anonymous = [n for n in names if tree.anonymous(self.package, n)]
        if anonymous and self.package not in tree.changed():
            taken = {n for n, _ in tree.sections(self.package)}
            for old in anonymous:
                new = self._free_name(taken)
                taken.add(new)
                tree.rename(self.package, old, new)
                names[names.index(old)] = new
            tree.commit(self.package)
        return names

    def _free_name(self, taken):
        """``<type>_<n>``, the type's other characters than letters, digits and '_' as
        '_' (a section name allows no more: ``bridge-vlan`` -> ``bridge_vlan_1``)."""
        base = re.sub(r"[^A-Za-z0-9_]", "_", self.type)
        n = 1
        while f"{base}_{n}" in taken:
            n += 1
        return f"{base}_{n}"

    def add(self, ctx, path, keys, number):
        return ctx.uci.add(self.package, self.type,
                           self._free_name({n for n, _ in ctx.uci.sections(self.package)}))

    def delete(self, ctx, path, keys, key):
        ctx.uci.delete(self.package, key)
