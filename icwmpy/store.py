"""Atomic persistence for everything that must survive a crash or a reboot.

Each namespace (``events``, ``attributes``, ``instances``, ``values``, ...) is one JSON
file in the state directory. A write replaces the whole file through a temporary file,
``fsync`` and ``rename`` (then ``fsync`` of the directory), so after a ``kill -9`` or a
power cut the file holds either the old or the new content, never a mix.

Writes can be batched: inside ``with store.batch():`` changes are kept in memory and
written once when the outermost batch ends, so an atomic SetParameterValues of a
thousand parameters costs one file write per namespace it touched.
"""

import contextlib
import json
import os
import tempfile


def write_atomic(path, data):
    """Replace ``path`` with ``data`` (bytes) so that readers see old or new, never half."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class Namespace:
    """A persisted dict of JSON values, read once, written atomically on change."""

    def __init__(self, store, name):
        self._store = store
        self.path = os.path.join(store.directory, name + ".json")
        try:
            with open(self.path, "rb") as f:
                self._data = json.loads(f.read() or b"{}")
        except FileNotFoundError:
            self._data = {}

    def get(self, key, default=None):
        return self._data.get(key, default)

    def __contains__(self, key):
        return key in self._data

    def items(self):
        return list(self._data.items())

    def keys(self):
        return list(self._data.keys())

    def set(self, key, value):
        if self._data.get(key, self) != value:
            self._data[key] = value
            self._store._changed(self)

    def delete(self, key):
        if self._data.pop(key, self) is not self:
            self._store._changed(self)

    def replace(self, mapping):
        """Make the namespace hold exactly ``mapping``."""
        self._data = dict(mapping)
        self._store._changed(self)

    def flush(self):
        write_atomic(self.path, json.dumps(self._data, separators=(",", ":"), sort_keys=True).encode())


class Store:
    """The state directory: one :class:`Namespace` per name, created on first use."""

    def __init__(self, directory):
        self.directory = directory
        self._namespaces = {}
        self._depth = 0
        self._dirty = {}

    def __getitem__(self, name):
        ns = self._namespaces.get(name)
        if ns is None:
            ns = self._namespaces[name] = Namespace(self, name)
        return ns

    @contextlib.contextmanager
    def batch(self):
        """Group changes; they are written when the outermost batch exits (even on error,
        since what was changed in memory is the state the caller decided on)."""
        self._depth += 1
        try:
            yield self
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._flush()

    def _changed(self, ns):
        self._dirty[ns.path] = ns
        if self._depth == 0:
            self._flush()

    def _flush(self):
        dirty, self._dirty = self._dirty, {}
        for ns in dirty.values():
            ns.flush()
