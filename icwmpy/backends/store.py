"""``store`` backend: values kept by icwmpy itself in the state directory.

For parameters the device has no other home for (ParameterKey, InformParameter
fields on a non-UCI system, benchmark trees). Values live in the ``values`` namespace
keyed by the concrete parameter name, so they survive restarts and instances of store
tables keep their own values.
"""


class StoreParam:
    def __init__(self, spec, ctx, table):
        self.values = ctx.store["values"]
        self.default = spec.get("default", "")

    def get(self, keys, name):
        return self.values.get(name, self.default)

    def set(self, keys, name, value):
        self.values.set(name, value)


class StoreTable:
    """Instances persisted as lists of keys per concrete table path."""

    def __init__(self, spec, ctx):
        self.tables = ctx.store["tables"]

    def instances(self, path, keys):
        return self.tables.get(path, [])

    def add(self, path, keys, number):
        key = str(number)
        self.tables.set(path, self.tables.get(path, []) + [key])
        return key

    def delete(self, path, keys, key):
        self.tables.set(path, [k for k in self.tables.get(path, []) if k != key])
