"""CWMP fault codes (TR-069 Amendment 6, A.5.1) shared by the data model, RPCs and SOAP.

The data model raises :class:`CwmpFault` with the code the standard assigns, so that
every layer above (SOAP toward the ACS, the ``-c`` CLI, D-Bus) reports the same thing.
"""

MESSAGES = {
    9000: "Method not supported",
    9001: "Request denied",
    9002: "Internal error",
    9003: "Invalid arguments",
    9004: "Resources exceeded",
    9005: "Invalid parameter name",
    9006: "Invalid parameter type",
    9007: "Invalid parameter value",
    9008: "Attempt to set a non-writable parameter",
    9009: "Notification request rejected",
    9010: "Download failure",
    9011: "Upload failure",
    9012: "File transfer server authentication failure",
    9013: "Unsupported protocol for file transfer",
    9014: "Download failure: unable to join multicast group",
    9015: "Download failure: unable to contact file server",
    9016: "Download failure: unable to access file",
    9017: "Download failure: unable to complete download",
    9018: "Download failure: file corrupted or otherwise unusable",
    9019: "Download failure: file authentication failure",
    9020: "Download failure: unable to complete download within specified time windows",
    9021: "Cancelation of file transfer not permitted in current transfer state",
    9022: "Invalid UUID format",
    9023: "Unknown execution environment",
    9024: "Disabled execution environment",
    9025: "Deployment unit to execution environment mismatch",
    9026: "Duplicate deployment unit",
    9027: "System resources exceeded",
    9028: "Unknown deployment unit",
    9029: "Invalid deployment unit state",
    9030: "Invalid deployment unit update: downgrade not permitted",
    9031: "Invalid deployment unit update: version not specified",
    9032: "Invalid deployment unit update: version already exists",
}


# Codes the standard marks as the requester's fault; every other one is "Server".
CLIENT_CODES = frozenset({8003, 9003, 9005, 9006, 9007, 9008})


class CwmpFault(Exception):
    """A fault with a TR-069 code; ``message`` defaults to the standard's fault string.

    ``details`` carries per-parameter faults of a SetParameterValues
    (a list of ``(parameter_name, code, message)``) for the SetParameterValuesFault list.
    """

    def __init__(self, code, message=None, details=()):
        self.code = int(code)
        self.message = message or MESSAGES.get(self.code, "Fault")
        self.details = list(details)
        super().__init__(f"{self.code}: {self.message}")

    @property
    def faultcode(self):
        """SOAP faultcode as TR-069 Table A.5.1 assigns it to each code."""
        return "Client" if self.code in CLIENT_CODES else "Server"
