"""``command`` backend: a value printed by a program, optionally set by another.

``{"command": ["uname", "-r"]}`` reads; ``"set": ["hostname", "{value}"]`` writes
(each ``{value}`` in an argument is replaced, never passed through a shell). Output is
stripped; a failing or hanging command (``"timeout"``, default 5 s) reads as the default
and makes a set fail, so the transaction rolls back.
"""

import subprocess


def run(argv, timeout=5):
    """Run a command without a shell; stdout on success, an exception otherwise."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=True,
                          stdin=subprocess.DEVNULL)
    return done.stdout


class CommandParam:
    def __init__(self, spec, ctx, table):
        self.argv = list(spec["command"])
        self.set_argv = spec.get("set")
        self.timeout = spec.get("timeout", 5)
        self.default = spec.get("default", "")
        self.run = ctx.run

    def get(self, keys, name):
        try:
            return self.run(self.argv, self.timeout).strip()
        except (OSError, subprocess.SubprocessError):
            return self.default

    def set(self, keys, name, value):
        if not self.set_argv:
            raise OSError(f"{name}: no set command")
        self.run([a.replace("{value}", value) for a in self.set_argv], self.timeout)
