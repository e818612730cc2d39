"""Software modules (TR-069 Annex H, TR-181 ``Device.SoftwareModules.``): the deployment
units (DUs) that ChangeDUState installs, updates and uninstalls, and the package backends
that really do it.

The device has one execution environment (EE), ``Device.SoftwareModules.ExecEnv.1``, run
by a package backend chosen by configuration:

* :class:`OpkgBackend` on OpenWrt: ``opkg install <file>``, ``opkg remove <name>``; the DU
  is described by the ``control`` file inside the ``.ipk``;
* :class:`DirectoryBackend` for the sandbox and tests: a DU is a ``tar.gz`` unpacked into
  ``<root>/<uuid>/``, described by a ``manifest.json`` at the top of the archive
  (``{"name", "version", "vendor", "description", "uuid"}``, only ``name`` required).

Each DU carries exactly one execution unit (EU), the package itself: DU and EU share their
instance number. The registry of DUs is the ``software`` store namespace, read by the
``Device.SoftwareModules.`` table handlers (:mod:`icwmpy.backends.software`); instance
numbers are assigned here, persisted and never reused, so a DeploymentUnitRef sent in a
DUStateChangeComplete names the same instance the ACS then reads.

Crash safety: a DU changing is first recorded with a transient status (``Installing``,
``Updating``, ``Uninstalling``) and the marker of the operation doing it; its final status
is written with the same marker. After a crash, :meth:`SoftwareModules.settle` either
finds the operation completed (its result is rebuilt from the registry) or undoes the
transient status so the operation can start again from scratch.

Fault decisions (the standard leaves these to the CPE):

* Install of a UUID, or of a package name, already installed in the EE: 9026 (one version
  of a DU per EE: a second version is an Update);
* Update or Uninstall of a UUID (and Version, when given) not installed: 9028; an Update
  with neither UUID nor URL, or a URL no DU was installed from: 9028 too;
* an operation on a DU in a transient state: 9029;
* Update to a lower version: 9030 (downgrades are refused: an ACS that wants one
  uninstalls and installs); to a package that declares no version: 9031; to the version
  installed: 9032; versions compare as opkg does, numeric runs as numbers;
* ExecutionEnvRef other than empty or ExecEnv.1: 9023; any operation while the EE is
  disabled (``ExecEnv.1.Enable`` false): 9024;
* a file that is not a package of the EE, or whose package name differs from the DU being
  updated: 9018; no room to unpack: 9027; a backend command refusing: 9018 (install and
  update) or 9001 (uninstall: typically another package depends on it);
* download faults as for Download, except 9010, absent from the DU fault set, sent as 9017.
"""

import asyncio
import dataclasses
import errno
import io
import json
import logging
import os
import re
import shutil
import tarfile
import time
import uuid as uuidlib

from ..faults import CwmpFault
from . import apply

log = logging.getLogger(__name__)

ROOT = "Device.SoftwareModules."
EE_REF = ROOT + "ExecEnv.1"
DU_TABLE = ROOT + "DeploymentUnit."
EU_TABLE = ROOT + "ExecutionUnit."
PREFIX = "du-"
MANIFEST = "manifest.json"
# Name-based (version 5) UUIDs of DUs whose Install gave none (TR-181 Annex C asks for a
# v5 UUID so that ACS and CPE derive the same one from the same package).
UUID_NAMESPACE = uuidlib.uuid5(uuidlib.NAMESPACE_URL, "urn:broadband-forum-org:tr-181")
TRANSIENT = {"Installing", "Updating", "Uninstalling"}
DOWNLOAD_FAULTS = {9010: 9017}      # Download codes the DU fault set does not have


@dataclasses.dataclass(frozen=True)
class Package:
    """What a DU file says about itself."""
    name: str
    version: str = ""
    vendor: str = ""
    description: str = ""
    uuid: str = ""


def compare_versions(a, b):
    """-1, 0 or 1: runs of digits compare as numbers, the rest as text (opkg's order)."""
    def key(version):
        return [(1, int(p), "") if p.isdigit() else (0, 0, p)
                for p in re.findall(r"\d+|[^\d.\-+~_]+", version)]
    ka, kb = key(a), key(b)
    return (ka > kb) - (ka < kb)


def _unusable(why):
    return CwmpFault(9018, why)


# ---------------------------------------------------------------------- backends


class DirectoryBackend:
    """DUs unpacked into ``root/<uuid>/``. Changes go through ``<uuid>.new`` and
    ``<uuid>.old`` and renames, so a crash leaves the old or the new content, which
    :meth:`tidy` sorts out before the next operation on that DU."""

    exec_env = {"Name": "directory", "Type": "Directory", "Vendor": "icwmpy", "Version": "1.0"}

    def __init__(self, root):
        self.root = root

    def _dir(self, uuid, suffix=""):
        return os.path.join(self.root, uuid + suffix)

    def inspect(self, file):
        try:
            with tarfile.open(file, "r:gz") as archive:
                member = next((m for m in archive.getmembers()
                               if os.path.normpath(m.name) == MANIFEST and m.isfile()), None)
                if member is None:
                    raise _unusable(f"no {MANIFEST} in the archive")
                data = json.loads(archive.extractfile(member).read(64 * 1024))
        except (tarfile.TarError, OSError, EOFError, ValueError) as error:
            raise _unusable(f"not a DU archive: {error}") from None
        if not isinstance(data, dict) or not isinstance(data.get("name"), str) \
                or not data["name"]:
            raise _unusable(f"{MANIFEST} names no DU")
        return Package(**{f.name: str(data.get(f.name) or "")
                          for f in dataclasses.fields(Package)})

    def tidy(self, uuid):
        """Finish or undo a change cut by a crash: keep the last complete content."""
        current, new, old = self._dir(uuid), self._dir(uuid, ".new"), self._dir(uuid, ".old")
        if not os.path.isdir(current) and os.path.isdir(old):
            os.replace(old, current)
        for leftover in (new, old):
            shutil.rmtree(leftover, ignore_errors=True)

    def _unpack(self, file, target):
        os.makedirs(self.root, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        try:
            with tarfile.open(file, "r:gz") as archive:
                archive.extractall(target, filter="data")
        except OSError as error:
            shutil.rmtree(target, ignore_errors=True)
            if error.errno in (errno.ENOSPC, errno.EDQUOT):
                raise CwmpFault(9027, f"no room to unpack: {error}") from None
            raise _unusable(f"cannot unpack: {error}") from None
        except tarfile.TarError as error:
            shutil.rmtree(target, ignore_errors=True)
            raise _unusable(f"cannot unpack: {error}") from None

    def _replace(self, file, uuid):
        self.tidy(uuid)
        self._unpack(file, self._dir(uuid, ".new"))
        if os.path.isdir(self._dir(uuid)):
            os.replace(self._dir(uuid), self._dir(uuid, ".old"))
        os.replace(self._dir(uuid, ".new"), self._dir(uuid))
        shutil.rmtree(self._dir(uuid, ".old"), ignore_errors=True)

    async def install(self, file, package, uuid):
        """Unpack; returns the DUID (the directory name)."""
        await asyncio.to_thread(self._replace, file, uuid)
        return uuid

    async def update(self, file, package, du):
        await asyncio.to_thread(self._replace, file, du["uuid"])

    async def uninstall(self, du):
        def remove():
            self.tidy(du["uuid"])
            shutil.rmtree(self._dir(du["uuid"]), ignore_errors=True)
        await asyncio.to_thread(remove)

    def discard(self, uuid):
        """Remove what an install cut by a crash may have left."""
        self.tidy(uuid)
        shutil.rmtree(self._dir(uuid), ignore_errors=True)


class OpkgBackend:
    """opkg on OpenWrt. A failed or cut ``opkg install`` is repaired by running it again,
    so there is nothing to tidy after a crash."""

    exec_env = {"Name": "opkg", "Type": "Linux opkg", "Vendor": "OpenWrt", "Version": "1.0"}
    COMMAND = "opkg"

    def inspect(self, file):
        """The ``control`` file of an ``.ipk`` (a gzipped tar holding ``control.tar.gz``)."""
        try:
            with tarfile.open(file, "r:gz") as ipk:
                inner = ipk.extractfile(ipk.getmember("./control.tar.gz")).read()
            with tarfile.open(fileobj=io.BytesIO(inner), mode="r:gz") as control:
                text = control.extractfile(control.getmember("./control")).read(64 * 1024)
        except (tarfile.TarError, KeyError, AttributeError, OSError, EOFError) as error:
            raise _unusable(f"not an opkg package: {error}") from None
        fields = dict(re.findall(r"^([A-Za-z-]+):[ \t]*(.*)$",
                                 text.decode("utf-8", "replace"), re.MULTILINE))
        if not fields.get("Package"):
            raise _unusable("the package's control file names no package")
        return Package(name=fields["Package"], version=fields.get("Version", ""),
                       vendor=fields.get("Maintainer", ""),
                       description=fields.get("Description", ""))

    async def install(self, file, package, uuid):
        await apply.run_command((self.COMMAND, "install", "{file}"), file=file)
        return package.name

    async def update(self, file, package, du):
        await apply.run_command((self.COMMAND, "install", "{file}"), file=file)

    async def uninstall(self, du):
        try:
            await apply.run_command((self.COMMAND, "remove", du["name"]))
        except CwmpFault as fault:
            raise CwmpFault(9001, fault.message) from None

    def tidy(self, uuid):
        pass

    def discard(self, uuid):
        pass


def backend(kind, root):
    """The backend named by ``cwmp.cpe.software_backend``."""
    if kind == "opkg":
        return OpkgBackend()
    if kind == "directory":
        return DirectoryBackend(root)
    raise ValueError(f"unknown software backend {kind!r}")


# ---------------------------------------------------------------------- the registry


class SoftwareModules:
    """The DUs of the one EE, and the operations on them. ``fetch(url, username,
    password) -> path`` is the queue's download (faults as for Download)."""

    def __init__(self, store, backend):
        self.ns = store["software"]
        self._store = store
        self.backend = backend
        self.ns.set("ee", dict(backend.exec_env))

    def units(self):
        return [(k, v) for k, v in self.ns.items() if k.startswith(PREFIX)]

    def _find(self, uuid, version=""):
        uuid = uuid.lower()
        return next(((k, du) for k, du in self.units() if du["uuid"] == uuid
                     and (not version or du["version"] == version)), (None, None))

    def _save(self, key, **changes):
        du = dict(self.ns.get(key), **changes)
        self.ns.set(key, du)
        return du

    def _check_ee(self, ref):
        if ref and ref.rstrip(".") != EE_REF:
            raise CwmpFault(9023, f"no execution environment {ref}")
        if not self.ns.get("ee_enabled", True):
            raise CwmpFault(9024, f"{EE_REF} is disabled")

    # ------------------------------------------------------------------ recovery
    def settle(self, marker):
        """After a crash, for the operation ``marker`` that was under way: its result if it
        had completed, else None once what it started is undone (it will run again)."""
        for key, du in self.units():
            if du.get("op") != marker:
                continue
            if du["status"] == "Installed":
                return self._result(du, du.get("op_start"), du.get("op_complete"))
            if du["status"] == "Uninstalled":
                self.ns.delete(key)
                return self._result(du, du.get("op_start"), du.get("op_complete"))
            log.info("%s: %s was cut by a restart; undoing it", du["uuid"], du["status"])
            self.backend.tidy(du["uuid"])
            if du["status"] == "Installing":
                self.backend.discard(du["uuid"])
                self.ns.delete(key)
            else:
                self._save(key, status="Installed", op=None)
        return None

    def recorded(self, marker):
        """The queue has recorded the result of ``marker``: its DU needs the marker no
        more (an Uninstalled one goes)."""
        for key, du in self.units():
            if du.get("op") == marker:
                if du["status"] == "Uninstalled":
                    self.ns.delete(key)
                else:
                    self._save(key, op=None)

    def tidy(self):
        """At start-up, once the queue has settled its running operations, no DU needs its
        marker: the rest were recorded, or discarded with their ChangeDUState."""
        for _, du in self.units():
            marker = du.get("op")
            if marker:
                if du["status"] in TRANSIENT:
                    self.settle(marker)
                else:
                    self.recorded(marker)

    # ------------------------------------------------------------------ operations
    async def perform(self, op, marker, fetch):
        """Run one ChangeDUState operation; its OpResult as a JSON-able dict (times as
        epoch seconds, Fault as ``[code, message]`` or None)."""
        start = time.time()
        try:
            method = {"Install": self._install, "Update": self._update,
                      "Uninstall": self._uninstall}[op["Operation"]]
            du = await method(op, marker, start, fetch)
            return self._result(du, start, du["op_complete"])
        except CwmpFault as fault:
            code = DOWNLOAD_FAULTS.get(fault.code, fault.code)
            log.warning("%s %s failed: %s %s", op["Operation"], op.get("UUID") or op.get("URL"),
                        code, fault.message)
            fault = CwmpFault(code, fault.message)
            _, du = (None, None) if op["Operation"] == "Install" else \
                self._find(op.get("UUID") or "")
            if du is None:
                return failed_result(op, start, fault)
            return dict(self._result(du, start, None), Fault=[code, fault.message[:256]],
                        OperationPerformed=op["Operation"])

    async def _download(self, fetch, url, op):
        return await fetch(url, op.get("Username") or "", op.get("Password") or "")

    async def _install(self, op, marker, start, fetch):
        self._check_ee(op.get("ExecutionEnvRef"))
        if op.get("UUID") and self._find(op["UUID"])[1]:
            raise CwmpFault(9026, f"DU {op['UUID']} is already installed")
        file = await self._download(fetch, op["URL"], op)
        try:
            package = await asyncio.to_thread(self.backend.inspect, file)
            uuid = (op.get("UUID") or package.uuid or str(uuidlib.uuid5(
                UUID_NAMESPACE, f"{package.vendor}:{package.name}"))).lower()
            if self._find(uuid)[1] or any(du["name"] == package.name for _, du in self.units()):
                raise CwmpFault(9026, f"DU {package.name} ({uuid}) is already installed")
            number = self.ns.get("next", 1)
            key = f"{PREFIX}{number}"
            with self._store.batch():
                self.ns.set("next", number + 1)
                self.ns.set(key, {
                    "number": number, "uuid": uuid, "duid": "", "name": package.name,
                    "version": package.version, "vendor": package.vendor,
                    "description": package.description, "url": op["URL"],
                    "status": "Installing", "op": marker, "op_start": start,
                    "installed": None, "last_update": None, "operation": "Install"})
            try:
                duid = await self.backend.install(file, package, uuid)
            except CwmpFault:
                self.backend.discard(uuid)
                self.ns.delete(key)
                raise
        finally:
            _remove(file)
        now = time.time()
        return self._save(key, duid=duid, status="Installed", installed=now, last_update=now,
                          op_complete=now)

    def _target(self, op):
        """The DU an Update or Uninstall names, in a state that allows it."""
        if op.get("UUID"):
            key, du = self._find(op["UUID"], op.get("Version") or "")
        else:
            key, du = next(((k, d) for k, d in self.units()
                            if op.get("URL") and d["url"] == op["URL"]), (None, None))
        if du is None:
            what = op.get("UUID") or op.get("URL") or "(no UUID, no URL)"
            version = f" version {op['Version']}" if op.get("Version") else ""
            raise CwmpFault(9028, f"no DU {what}{version}")
        if du["status"] != "Installed":
            raise CwmpFault(9029, f"DU {du['uuid']} is {du['status']}")
        return key, du

    async def _update(self, op, marker, start, fetch):
        key, du = self._target(op)
        self._check_ee("")
        file = await self._download(fetch, op.get("URL") or du["url"], op)
        try:
            package = await asyncio.to_thread(self.backend.inspect, file)
            if package.name != du["name"]:
                raise _unusable(f"the file is package {package.name}, not {du['name']}")
            if not package.version:
                raise CwmpFault(9031, "the package declares no version")
            order = compare_versions(package.version, du["version"])
            if order == 0:
                raise CwmpFault(9032, f"version {package.version} is already installed")
            if order < 0:
                raise CwmpFault(9030, f"{package.version} is older than {du['version']}")
            self._save(key, status="Updating", op=marker, op_start=start, operation="Update")
            try:
                await self.backend.update(file, package, du)
            except CwmpFault:
                self._save(key, status="Installed")
                raise
        finally:
            _remove(file)
        now = time.time()
        return self._save(key, version=package.version, vendor=package.vendor,
                          description=package.description, url=op.get("URL") or du["url"],
                          status="Installed", last_update=now, op_complete=now)

    async def _uninstall(self, op, marker, start, fetch):
        self._check_ee(op.get("ExecutionEnvRef"))
        key, du = self._target(op)
        self._save(key, status="Uninstalling", op=marker, op_start=start, operation="Uninstall")
        try:
            await self.backend.uninstall(du)
        except CwmpFault:
            self._save(key, status="Installed")
            raise
        # Kept (Uninstalled) until the queue has recorded the result: see settle().
        return self._save(key, status="Uninstalled", op_complete=time.time())

    @staticmethod
    def _result(du, start, complete):
        present = du["status"] != "Uninstalled"
        return {"UUID": du["uuid"], "DeploymentUnitRef": f"{DU_TABLE}{du['number']}",
                "Version": du["version"],
                "CurrentState": "Installed" if present else "Uninstalled",
                "Resolved": present,
                "ExecutionUnitRefList": f"{EU_TABLE}{du['number']}" if present else "",
                "StartTime": start, "CompleteTime": complete, "Fault": None,
                "OperationPerformed": du.get("operation", "")}


def failed_result(op, start, fault):
    """The result of an operation that failed with no DU to show for it."""
    return {"UUID": (op.get("UUID") or "").lower(), "DeploymentUnitRef": "", "Version": "",
            "CurrentState": "Failed", "Resolved": False, "ExecutionUnitRefList": "",
            "StartTime": start, "CompleteTime": None, "Fault": [fault.code, fault.message[:256]],
            "OperationPerformed": op["Operation"]}


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
