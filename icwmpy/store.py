"""Atomic persistence for everything that must survive a crash or a reboot.

Each namespace (``events``, ``attributes``, ``instances``, ``values``, ...) is one JSON
file in the state directory. A write replaces the whole file through a temporary file,
``fsync`` and ``rename`` (then ``fsync`` of the directory), so after a ``kill -9`` or a
power cut the file holds either the old or the new content, never a mix.

Writes can be batched: inside ``with store.batch():`` changes are kept in memory and
written once when the outermost batch ends, so an atomic SetParameterValues of a
thousand parameters costs one file write per namespace it touched.

The daemon uses the store from two threads (the event loop and the data model worker):
batches are per thread, and a lock held only while a namespace changes or is written
keeps a write from seeing a half-changed dict. No lock is held across a batch, so the
event loop never waits for a data model transaction.
"""

import contextlib
import json
import os
import tempfile
import threading


def write_atomic(path, data, mode=None):
    """Replace ``path`` with ``data`` (bytes) so that readers see old or new, never half.

    ``mode``: the permission bits of the new file (default 0600, mkstemp's)."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=directory)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
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
        self._seen = None    # the file as last read or written: (inode, mtime, size)
        self._data = self._read()

    def _read(self):
        try:
            with open(self.path, "rb") as f:
                self._seen = _signature(os.fstat(f.fileno()))
                return json.loads(f.read() or b"{}")
        except FileNotFoundError:
            self._seen = None
            return {}

    def refresh(self):
        """Read the file again if another process replaced it (the ``-c`` CLI beside a
        running daemon); True when it had."""
        try:
            now = _signature(os.stat(self.path))
        except FileNotFoundError:
            now = None
        with self._store.lock:
            if now == self._seen:
                return False
            self._data = self._read()
            return True

    def get(self, key, default=None):
        return self._data.get(key, default)

    def __contains__(self, key):
        return key in self._data

    def items(self):
        return list(self._data.items())

    def keys(self):
        return list(self._data.keys())

    def set(self, key, value):
        with self._store.lock:
            if self._data.get(key, self) == value:
                return
            self._data[key] = value
        self._store._changed(self)

    def delete(self, key):
        with self._store.lock:
            if self._data.pop(key, self) is self:
                return
        self._store._changed(self)

    def replace(self, mapping):
        """Make the namespace hold exactly ``mapping``."""
        with self._store.lock:
            self._data = dict(mapping)
        self._store._changed(self)

    def flush(self):
        with self._store.lock:
            data = json.dumps(self._data, separators=(",", ":")).encode()
            write_atomic(self.path, data)
            self._seen = _signature(os.stat(self.path))


def _signature(st):
    return st.st_ino, st.st_mtime_ns, st.st_size


class Store:
    """The state directory: one :class:`Namespace` per name, created on first use."""

    def __init__(self, directory):
        self.directory = directory
        self.lock = threading.RLock()
        self._namespaces = {}
        self._local = threading.local()

    def __getitem__(self, name):
        with self.lock:
            ns = self._namespaces.get(name)
            if ns is None:
                ns = self._namespaces[name] = Namespace(self, name)
            return ns

    def refresh(self):
        """Take in what another process wrote since (see :meth:`Namespace.refresh`): the
        names of the namespaces read again."""
        with self.lock:
            loaded = list(self._namespaces.values())
        return [ns.path for ns in loaded if ns.refresh()]

    def names(self):
        """Every namespace there is: on disk, or made in this run."""
        try:
            found = {f[:-len(".json")] for f in os.listdir(self.directory)
                     if f.endswith(".json") and not f.startswith(".")}
        except FileNotFoundError:
            found = set()
        with self.lock:
            return sorted(found | set(self._namespaces))

    def _batch_state(self):
        local = self._local
        if not hasattr(local, "depth"):
            local.depth, local.dirty = 0, {}
        return local

    @contextlib.contextmanager
    def batch(self):
        """Group this thread's changes; they are written when its outermost batch exits
        (even on error: what was changed in memory is the state the caller decided on)."""
        local = self._batch_state()
        local.depth += 1
        try:
            yield self
        finally:
            local.depth -= 1
            if local.depth == 0:
                self._flush(local)

    def _changed(self, ns):
        local = self._batch_state()
        local.dirty[ns.path] = ns
        if local.depth == 0:
            self._flush(local)

    @staticmethod
    def _flush(local):
        dirty, local.dirty = local.dirty, {}
        for ns in dirty.values():
            ns.flush()
