"""Python backends: constants, functions, and table handler classes.

``{"python": "icwmpy.backends.system:uptime"}`` calls ``uptime(ctx, **args)`` to read
(``"args"`` from the spec, if any) and ``"setter": "module:function"`` with
``(ctx, value, **args)`` to write. A table handled by a
class (``"_table": {"python": "icwmpy.backends.system:Processes"}``) serves the
instances and every parameter beneath them: ``instances(keys)``, ``get(keys, relname)``,
and optionally ``set``, ``add``, ``delete``.
"""

import importlib


def load(ref):
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


class Const:
    def __init__(self, spec, ctx, table):
        self.value = spec["const"]

    def get(self, keys, name):
        return self.value


class PythonParam:
    def __init__(self, spec, ctx, table):
        self.ctx = ctx
        self.getter = load(spec["python"])
        self.setter = load(spec["setter"]) if "setter" in spec else None
        self.args = spec.get("args", {})

    def get(self, keys, name):
        return self.getter(self.ctx, **self.args)

    def set(self, keys, name, value):
        if self.setter is None:
            raise OSError(f"{name}: no setter")
        self.setter(self.ctx, value, **self.args)


class PythonTable:
    """Adapts a handler class; the engine calls it with concrete table path and parent keys."""

    def __init__(self, spec, ctx):
        self.handler = load(spec["python"])(ctx, **spec.get("args", {}))

    def instances(self, path, keys):
        return self.handler.instances(keys)

    def get(self, keys, relname):
        return self.handler.get(keys, relname)

    def set(self, keys, relname, value):
        self.handler.set(keys, relname, value)

    def add(self, path, keys, number):
        return self.handler.add(keys)

    def delete(self, path, keys, key):
        self.handler.delete(keys, key)


class HandlerParam:
    """A parameter served by its table's handler class."""

    def __init__(self, table, relname):
        self.table = table
        self.relname = relname

    def get(self, keys, name):
        return self.table.get(keys, self.relname)

    def set(self, keys, name, value):
        self.table.set(keys, self.relname, value)
