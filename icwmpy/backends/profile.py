"""``profile`` backends: a device profile's parameters and tables, per simulated CPE.

Made by :func:`icwmpy.model.profile.load_profile` (each spec carries its ``Profile``),
shared by every CPE of the profile. A CPE's own state is in its store, as with the
``store`` backend: a parameter reads the CPE's written value (``values``, by concrete
name) if there is one, else the profile's default for that name with the CPE's
``{cpe_id}``/``{n}`` filled in (:attr:`Context.cpe`), else the zero of its type (an
instance the ACS added). A table lists the CPE's own keys (``tables``, by concrete path)
once the CPE added or deleted an instance of it, else the profile's.
"""

from icwmpy.model.types import UNKNOWN_TIME

# What a parameter of an instance the ACS added reads before it is written.
ZERO = {"string": "", "boolean": "0", "dateTime": UNKNOWN_TIME, "base64": "", "hexBinary": "",
        "decimal": "0", "int": "0", "unsignedInt": "0", "long": "0", "unsignedLong": "0"}


class ProfileParam:
    """A dumped parameter; ``"count": "<Table>"``: the dumped NumberOfEntries of that
    sibling table, which reads as dumped until the CPE changes the table, then counts the
    CPE's instances."""

    __slots__ = ("profile", "zero", "count")

    def __init__(self, spec, table):
        self.profile = spec["profile"]
        self.zero = ZERO[spec.get("type", "string")]
        self.count = spec.get("count")

    def get(self, ctx, keys, name):
        value = ctx.store["values"].get(name)
        if value is not None:
            return value
        if self.count:
            own = ctx.store["tables"].get(f"{name[: name.rfind('.') + 1]}{self.count}.")
            if own is not None:
                return str(len(own))
        value = self.profile.default(name, *ctx.cpe)
        return self.zero if value is None else value

    def set(self, ctx, keys, name, value):
        ctx.store["values"].set(name, value)


class ProfileTable:
    """A dumped table: instance keys are the instance numbers (``"numbering": "key"``)."""

    __slots__ = ("profile",)

    def __init__(self, spec):
        self.profile = spec["profile"]

    def instances(self, ctx, path, keys):
        own = ctx.store["tables"].get(path)
        return own if own is not None else self.profile.instances.get(path, ())

    def add(self, ctx, path, keys, number):
        """The new key: ``number`` unless an instance the dump had (even one since deleted)
        or the CPE has holds it or a higher one; numbers are not reused."""
        current = list(self.instances(ctx, path, keys))
        taken = [int(k) for k in (*current, *self.profile.instances.get(path, ()))]
        key = str(max([number, *(n + 1 for n in taken)]))
        ctx.store["tables"].set(path, [*current, key])
        return key

    def delete(self, ctx, path, keys, key):
        ctx.store["tables"].set(path, [k for k in self.instances(ctx, path, keys) if k != key])
