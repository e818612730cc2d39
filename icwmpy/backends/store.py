"""``store`` backend: values kept by icwmpy itself in the state directory.

For parameters the device has no other home for (ParameterKey, InformParameter
fields on a non-UCI system, benchmark trees). Values live in the ``values`` namespace
of the CPE's store keyed by the concrete parameter name, so they survive restarts and
instances of store tables keep their own values.
"""


class StoreParam:
    def __init__(self, spec, table):
        self.default = spec.get("default", "")

    def get(self, ctx, keys, name):
        return ctx.store["values"].get(name, self.default)

    def set(self, ctx, keys, name, value):
        ctx.store["values"].set(name, value)


class AliasParam:
    """Backend of an ``Alias`` parameter the definitions leave to the engine.

    Aliases are kept in the ``aliases`` namespace; an instance that never got one reads
    as ``cpe-<n>``, the form TR-181 reserves for aliases chosen by the agent.
    """

    def get(self, ctx, keys, name):
        return ctx.store["aliases"].get(name) or "cpe-" + name.rsplit(".", 2)[-2]

    def set(self, ctx, keys, name, value):
        ctx.store["aliases"].set(name, value)


class StoreTable:
    """Instances persisted as lists of keys per concrete table path."""

    def __init__(self, spec):
        """Nothing to configure: where the keys live is the CPE's store."""

    def instances(self, ctx, path, keys):
        return ctx.store["tables"].get(path, [])

    def add(self, ctx, path, keys, number):
        tables = ctx.store["tables"]
        key = str(number)
        tables.set(path, tables.get(path, []) + [key])
        return key

    def delete(self, ctx, path, keys, key):
        tables = ctx.store["tables"]
        tables.set(path, [k for k in tables.get(path, []) if k != key])
