"""What a CPE's Inform says, and the session it opens (TR-069 3.7.1.1, A.3.3.1).

:class:`InformBuilder` reads the data model (call it in the model worker): DeviceId,
forced parameters, the changed values, the ``cwmp.cpe.forced_inform_json`` list and the
configured InformParameters for these events. :func:`open_session` turns the arguments
into a :class:`icwmpy.cwmp.session.Session` speaking the right CWMP version. Neither
does I/O beyond the model.
"""

import datetime
import json
import logging

from icwmpy.cwmp import soap
from icwmpy.cwmp.session import Session

log = logging.getLogger("icwmpy")

# cwmp.cpe.amd_version (TR-069 Amendment) -> CWMP version. The first Inform to an ACS goes
# in that version's namespace (1.3 and 1.4 kept cwmp-1-2); from 1.3 on, the Inform carries
# SessionTimeout (cwmp.cpe.session_timeout), from 1.4 on it also offers
# SupportedCWMPVersions. Later sessions speak the namespace the ACS answered in.
CWMP_VERSIONS = {1: "1.0", 2: "1.1", 3: "1.2", 4: "1.3", 5: "1.4", 6: "1.4"}
NAMESPACES = {"1.0": "urn:dslforum-org:cwmp-1-0", "1.1": "urn:dslforum-org:cwmp-1-1"}
DEVICE_ID = {"Manufacturer": "DeviceInfo.Manufacturer", "OUI": "DeviceInfo.ManufacturerOUI",
             "ProductClass": "DeviceInfo.ProductClass", "SerialNumber": "DeviceInfo.SerialNumber"}


class InformBuilder:
    """The Inform of one CPE's data model ``model`` (its root: ``Device.`` or
    ``InternetGatewayDevice.``). Identity (unless ``device_id`` gives it, as for a
    simulated CPE) and the forced-inform list are read once and kept until :meth:`reset`
    (a configuration reload may change them)."""

    def __init__(self, model, log=log, device_id=None):
        self.model = model
        self.log = log
        self.given_id = device_id
        self.device_id = device_id
        self._forced_names = None

    def reset(self):
        self.device_id = self.given_id
        self._forced_names = None

    def identity(self):
        """The DeviceId fields (empty when the data model lacks one, never a crash)."""
        if self.device_id is None:
            self.device_id = {}
            for field, name in DEVICE_ID.items():
                try:
                    self.device_id[field] = self.model.read(self.model.root + name)
                except Exception:  # a data model without the parameter
                    self.device_id[field] = ""
        return self.device_id

    def build(self, settings, events, changed, retry):
        """The Inform's arguments for ``events`` [(code, key)] and the ``changed`` names."""
        params = {}

        def add(path):
            try:
                for name, value, type_ in self.model.get_values(path):
                    params.setdefault(name, (name, value, type_))
            except Exception as e:
                self.log.warning("inform parameter %s: %s", path, e)

        for name, value, type_ in self.model.forced_inform():
            params[name] = (name, value, type_)
        if [code for code, _ in events] != ["14 HEARTBEAT"]:
            for path in self.forced_names(settings.cpe.forced_inform_json):
                add(path)
            for name in changed:
                add(name)
            codes = {code for code, _ in events}
            for entry in settings.inform_parameters:
                wanted = entry.get("events_list") or []
                if entry.get("enable") and entry.get("parameter_name") and (
                        not wanted or codes & set(wanted)):
                    add(entry["parameter_name"])
        return {"DeviceId": dict(self.identity()), "Event": list(events), "MaxEnvelopes": 1,
                "CurrentTime": datetime.datetime.now(datetime.UTC),
                "RetryCount": retry, "ParameterList": list(params.values())}

    def forced_names(self, path):
        """Parameters of ``cwmp.cpe.forced_inform_json`` (icwmp: {"forced_inform": [...]}).
        As icwmp, parameters only: an object path, a wildcard or a name the data model
        cannot read is warned about once per load and left out of every Inform."""
        if self._forced_names is None:
            self._forced_names = []
            for name in json_list(path, "forced_inform", self.log):
                if not isinstance(name, str) or not name or name.endswith(".") or "*" in name:
                    self.log.warning("%s: forced_inform %r ignored: parameters only, not "
                                     "objects", path, name)
                    continue
                try:
                    self.model.get_values(name)
                except Exception as e:  # any reason it cannot be read: left out, said once
                    self.log.warning("%s: forced_inform %s ignored: %s", path, name, e)
                    continue
                self._forced_names.append(name)
        return self._forced_names


def open_session(settings, inform, requests, ns=None):
    """The Session for ``inform`` and the CPE ``requests``, in the namespace the ACS
    answered last time (``ns``), else the one of the configured Amendment."""
    cpe = settings.cpe
    version = CWMP_VERSIONS[cpe.amd_version]
    known = [v for v in sorted(set(CWMP_VERSIONS.values())) if v <= version]
    return Session(inform, requests, ns=ns or NAMESPACES.get(version, soap.DEFAULT_NS),
                   supported_versions=",".join(known) if version >= "1.4" else None,
                   session_timeout=cpe.session_timeout if version >= "1.3" else None)


def json_list(path, key, log=log):
    """The list under ``key`` in the JSON file ``path`` ('' = none), or [] with a warning."""
    if not path:
        return []
    try:
        with open(path, encoding="utf-8") as f:
            items = json.load(f)[key]
        if not isinstance(items, list):
            raise ValueError(f"{key!r} is not a list")
        return items
    except (OSError, ValueError, KeyError, TypeError) as e:
        log.warning("%s: %s", path, e if not isinstance(e, KeyError) else f"no {key!r} list")
        return []
