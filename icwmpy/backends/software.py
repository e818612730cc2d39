"""``Device.SoftwareModules.`` table handlers: the execution environment and the deployment
and execution units, read from the ``software`` store namespace that
:mod:`icwmpy.transfer.software` keeps (the registry of what ChangeDUState installed).

The registry numbers the units itself and the tables use those numbers as instance
numbers (``"numbering": "key"``), so the references a DUStateChangeComplete carries
(``DeploymentUnit.<n>``, ``ExecutionUnit.<n>``) are the instances the ACS reads here. Each
DU has one EU, the package itself, with the same number.
"""

import os

from icwmpy.model.types import format_datetime

ROOT = "Device.SoftwareModules."
EE_REF = ROOT + "ExecEnv.1"
PREFIX = "du-"
WITH_EU = {"Installed", "Updating", "Uninstalling"}


def _flag(value):
    return "1" if value else "0"


class _Units:
    """A snapshot of the registry per listing: {instance key: DU record}."""

    shown = None                    # DU statuses with an instance in this table

    def __init__(self, ctx):
        self.ns = ctx.store["software"]
        self.snapshot = {}

    def instances(self, keys):
        units = [du for key, du in self.ns.items()
                 if key.startswith(PREFIX) and du["status"] in self.shown]
        self.snapshot = {str(du["number"]): du for du in sorted(units, key=lambda d: d["number"])}
        return list(self.snapshot)

    def get(self, keys, relname):
        du = self.snapshot.get(keys[-1])
        return "" if du is None else self.value(du, relname)


class DeploymentUnits(_Units):
    shown = {"Installing", "Updating", "Uninstalling", "Installed"}

    @staticmethod
    def value(du, relname):
        number = du["number"]
        return {
            "UUID": du["uuid"], "DUID": du["duid"], "Name": du["name"], "Status": du["status"],
            "Resolved": _flag(du["status"] in WITH_EU), "URL": du["url"],
            "Description": du["description"], "Vendor": du["vendor"], "Version": du["version"],
            "ExecutionUnitList": f"{ROOT}ExecutionUnit.{number}" if du["status"] in WITH_EU
            else "",
            "ExecutionEnvRef": EE_REF, "Installed": format_datetime(du["installed"]),
            "LastUpdate": format_datetime(du["last_update"]),
        }.get(relname, "")


class ExecutionUnits(_Units):
    shown = WITH_EU

    @staticmethod
    def value(du, relname):
        return {
            "EUID": du["duid"], "Name": du["name"], "ExecEnvLabel": du["name"][:64],
            "Status": "Idle", "ExecutionFaultCode": "NoFault", "Vendor": du["vendor"],
            "Version": du["version"], "Description": du["description"],
            "ExecutionEnvRef": EE_REF,
        }.get(relname, "")


class ExecEnvs:
    """The one execution environment, described by the package backend in use; its
    Enable is kept in the registry, where ChangeDUState checks it (9024)."""

    def __init__(self, ctx):
        self.ns = ctx.store["software"]
        self.directory = ctx.store.directory

    def instances(self, keys):
        return ["1"]

    def get(self, keys, relname):
        enabled = self.ns.get("ee_enabled", True)
        if relname == "Enable":
            return _flag(enabled)
        if relname == "Status":
            return "Up" if enabled else "Disabled"
        if relname == "CurrentRunLevel":
            return "-1"
        if relname == "AvailableDiskSpace":
            try:
                stat = os.statvfs(self.directory)
            except OSError:
                return "-1"
            return str(min(stat.f_bavail * stat.f_frsize // 1024, 2**31 - 1))
        return str(self.ns.get("ee", {}).get(relname, ""))

    def set(self, keys, relname, value):
        if relname != "Enable":
            raise OSError(f"{relname} is not writable")
        self.ns.set("ee_enabled", str(value).lower() in ("1", "true"))
