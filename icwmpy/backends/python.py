"""Python backends: constants, functions, and table handler classes.

``{"python": "icwmpy.backends.system:uptime"}`` calls ``uptime(ctx, **args)`` to read
(``"args"`` from the spec, if any) and ``"setter": "module:function"`` with
``(ctx, value, **args)`` to write, ``ctx`` being the CPE's :class:`Context`. A table
handled by a class (``"_table": {"python": "icwmpy.backends.system:Processes"}``) serves
the instances and every parameter beneath them: ``instances(keys)``, ``get(keys,
relname)``, and optionally ``set``, ``add``, ``delete``. Each CPE has its own handler,
made on first use as ``Class(ctx, **args)`` (``ctx.handler``), so a handler may keep
what it read about its device (a snapshot per listing).
"""

import importlib
import inspect


def load(ref):
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


class Const:
    def __init__(self, spec, table):
        self.value = spec["const"]

    def get(self, ctx, keys, name):
        return self.value


class PythonParam:
    def __init__(self, spec, table):
        self.getter = load(spec["python"])
        self.setter = load(spec["setter"]) if "setter" in spec else None
        self.args = spec.get("args", {})

    def get(self, ctx, keys, name):
        return self.getter(ctx, **self.args)

    def set(self, ctx, keys, name, value):
        if self.setter is None:
            raise OSError(f"{name}: no setter")
        self.setter(ctx, value, **self.args)


class PythonTable:
    """Adapts a handler class; the engine calls it with concrete table path and parent
    keys, and each call goes to the handler of the CPE whose context it is given."""

    def __init__(self, spec):
        self.cls = load(spec["python"])
        self.args = spec.get("args", {})
        inspect.signature(self.cls).bind(None, **self.args)  # wrong args: found at binding

    def make(self, ctx):
        """A new handler for one CPE (see :meth:`Context.handler`)."""
        return self.cls(ctx, **self.args)

    def instances(self, ctx, path, keys):
        return ctx.handler(self).instances(keys)

    def get(self, ctx, keys, relname):
        return ctx.handler(self).get(keys, relname)

    def set(self, ctx, keys, relname, value):
        ctx.handler(self).set(keys, relname, value)

    def add(self, ctx, path, keys, number):
        return ctx.handler(self).add(keys)

    def delete(self, ctx, path, keys, key):
        ctx.handler(self).delete(keys, key)


class HandlerParam:
    """A parameter served by its table's handler class."""

    def __init__(self, table, relname):
        self.table = table
        self.relname = relname

    def get(self, ctx, keys, name):
        return self.table.get(ctx, keys, self.relname)

    def set(self, ctx, keys, name, value):
        self.table.set(ctx, keys, self.relname, value)
