"""``command`` backend: a value printed by a program, optionally set by another.

``{"command": ["uname", "-r"]}`` reads; ``"set": ["hostname", "{value}"]`` writes
(each ``{value}`` in an argument is replaced, never passed through a shell). Output is
stripped; a failing or hanging command (``"timeout"``, default 5 s) reads as the default
and makes a set fail, so the transaction rolls back. Commands run through the CPE's
``ctx.run``.
"""

import subprocess


def run(argv, timeout=5):
    """Run a command without a shell; stdout on success, an exception otherwise."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=True,
                          stdin=subprocess.DEVNULL)
    return done.stdout


class CommandParam:
    def __init__(self, spec, table):
        self.argv = list(spec["command"])
        self.set_argv = spec.get("set")
        self.timeout = spec.get("timeout", 5)
        self.default = spec.get("default", "")

    def get(self, ctx, keys, name):
        try:
            return ctx.run(self.argv, self.timeout).strip()
        except (OSError, subprocess.SubprocessError):
            return self.default

    def set(self, ctx, keys, name, value):
        if not self.set_argv:
            raise OSError(f"{name}: no set command")
        ctx.run([a.replace("{value}", value) for a in self.set_argv], self.timeout)
