"""Every CWMP RPC and response, declared once: argument names, kinds and schema limits.

Transcribed from the BBF schema cwmp-1-2.xsd (TR-069 Annex A); ``soap.parse`` decodes and
checks, and ``soap.build`` encodes, any of them by walking this table. Python shapes:

* strings -> str, unsignedInt/int -> int, boolean -> bool, base64 -> bytes,
  dateTime -> datetime (see ``xsdtypes.DateTime`` for malformed times);
* structs -> dict keyed by element name (an absent optional member -> None), except the ones
  the data model speaks as tuples: ParameterValueStruct ``(name, value, xsd_type)``,
  ParameterInfoStruct ``(name, writable)``, ParameterAttributeStruct
  ``(name, notification, access_list)``, EventStruct ``(event_code, command_key)``,
  ArgStruct ``(name, value)``, SetParameterValuesFault ``(name, fault_code, fault_string)``;
* arrays and repeated elements -> list; ChangeDUState operations -> dicts with
  ``Operation`` set to ``Install``, ``Update`` or ``Uninstall``.

Semantic checks (paths exist, types match, UUID syntax, file types, event codes) belong to
the caller; the table only enforces what the schema says about each value.
"""

from icwmpy.cwmp.xsdtypes import (
    Array, Base64, Bool, Choice, DateTime, Field, Int, ParameterValue, Repeated, String,
    Struct, UInt,
)

# -- reusable kinds -------------------------------------------------------------------------

COMMAND_KEY = String(32)
PARAMETER_KEY = String(32)
NAME = String(256)          # parameter or object path
STRING_256 = String(256)    # URLs, credentials and file names in Download/Upload
FILE_TYPE = String(64)
STATUS = Int(choices=(0, 1))
NOTIFICATION = Int(choices=range(7))  # 3..6 are lightweight notification (CWMP 1.4)
TRANSFER_STATE = Int(choices=(1, 2, 3))

STRING_LIST = Array(NAME, "string", "xsd:string")
ACCESS_LIST = Array(String(64), "string", "xsd:string")
PARAMETER_VALUE_LIST = Array(ParameterValue(), "ParameterValueStruct", "cwmp:ParameterValueStruct")


OPTIONAL = "optional"


def struct(type_name, *fields, as_tuple=False):
    """A struct kind from ``(name, kind)`` / ``(name, kind, "optional")`` tuples."""
    return Struct(type_name, (Field(name, kind, bool(rest)) for name, kind, *rest in fields),
                  as_tuple=as_tuple)


def array_of(item, max_items=None):
    """A soap-enc Array of a struct, its items named after the struct type."""
    return Array(item, item.type_name, f"cwmp:{item.type_name}", max_items)


DEVICE_ID = struct("DeviceIdStruct", ("Manufacturer", String(64)), ("OUI", String(6)),
                   ("ProductClass", String(64)), ("SerialNumber", String(64)))
EVENT = struct("EventStruct", ("EventCode", String(64)), ("CommandKey", COMMAND_KEY),
               as_tuple=True)
PARAMETER_INFO = struct("ParameterInfoStruct", ("Name", NAME), ("Writable", Bool()),
                        as_tuple=True)
SET_ATTRIBUTES = struct("SetParameterAttributesStruct", ("Name", NAME),
                        ("NotificationChange", Bool()), ("Notification", NOTIFICATION),
                        ("AccessListChange", Bool()), ("AccessList", ACCESS_LIST))
PARAMETER_ATTRIBUTES = struct("ParameterAttributeStruct", ("Name", NAME),
                              ("Notification", NOTIFICATION), ("AccessList", ACCESS_LIST),
                              as_tuple=True)
TIME_WINDOW = struct("TimeWindowStruct", ("WindowStart", UInt()), ("WindowEnd", UInt()),
                     ("WindowMode", String(64)), ("UserMessage", String(256)),
                     ("MaxRetries", Int()))
QUEUED_TRANSFER = struct("QueuedTransferStruct", ("CommandKey", COMMAND_KEY),
                         ("State", TRANSFER_STATE))
ALL_QUEUED_TRANSFER = struct("AllQueuedTransferStruct", ("CommandKey", COMMAND_KEY),
                             ("State", TRANSFER_STATE), ("IsDownload", Bool()),
                             ("FileType", FILE_TYPE), ("FileSize", UInt()),
                             ("TargetFileName", STRING_256))
TRANSFER_FAULT = struct("TransferCompleteFaultStruct", ("FaultCode", UInt()),
                        ("FaultString", String(256)))
OPTION = struct("OptionStruct", ("OptionName", String(64)), ("VoucherSN", UInt()),
                ("State", UInt(choices=range(4))), ("Mode", Int(choices=range(3))),
                ("StartDate", DateTime()), ("ExpirationDate", DateTime(), OPTIONAL),
                ("IsTransferable", Int(choices=(0, 1))))
ARG = struct("ArgStruct", ("Name", String(64)), ("Value", String(256)), as_tuple=True)

# Software module management (CWMP 1.2). UUID syntax is left to the caller: it has its own
# fault code (9022 Invalid UUID format).
UUID = String()
DU_URL = String(1024)
VERSION = String(32)
OPERATION = Choice("Operation", {
    "Install": struct("InstallOpStruct", ("URL", DU_URL), ("UUID", UUID, OPTIONAL),
                      ("Username", String(256), OPTIONAL), ("Password", String(256), OPTIONAL),
                      ("ExecutionEnvRef", String(256), OPTIONAL)),
    "Update": struct("UpdateOpStruct", ("UUID", UUID, OPTIONAL), ("Version", VERSION, OPTIONAL),
                     ("URL", DU_URL, OPTIONAL), ("Username", String(256), OPTIONAL),
                     ("Password", String(256), OPTIONAL)),
    "Uninstall": struct("UninstallOpStruct", ("UUID", UUID), ("Version", VERSION, OPTIONAL),
                        ("ExecutionEnvRef", String(256), OPTIONAL)),
})
DU_FAULT = struct("DeploymentUnitFaultStruct", ("FaultCode", UInt()),
                  ("FaultString", String(), OPTIONAL))
_OP_RESULT_FIELDS = (
    ("UUID", UUID), ("DeploymentUnitRef", String()), ("Version", VERSION),
    ("CurrentState", String()), ("Resolved", Bool()), ("ExecutionUnitRefList", String()),
    ("StartTime", DateTime()), ("CompleteTime", DateTime()), ("Fault", DU_FAULT),
)
OP_RESULT = struct("OpResultStruct", *_OP_RESULT_FIELDS)
AUTON_OP_RESULT = struct("AutonOpResultStruct", *_OP_RESULT_FIELDS,
                         ("OperationPerformed", String()))

# The cwmp:Fault element inside a SOAP Fault's detail (TR-069 A.5).
FAULT = struct("Fault", ("FaultCode", UInt()), ("FaultString", String(), OPTIONAL),
               ("SetParameterValuesFault", Repeated(struct(
                   "SetParameterValuesFault", ("ParameterName", NAME), ("FaultCode", UInt()),
                   ("FaultString", String(), OPTIONAL), as_tuple=True)), OPTIONAL))


# -- the RPCs -------------------------------------------------------------------------------

class Rpc(Struct):
    """A method element: its argument struct plus the CWMP version that introduced it
    (the minor number of its first namespace, ``cwmp-1-<since>``) and who receives it
    (``"cpe"``, ``"acs"``, or both for GetRPCMethods)."""

    def __init__(self, name, fields, since, receivers):
        super().__init__(name, fields)
        self.since, self.receivers = since, frozenset(receivers)


RPCS = {}


def rpc(name, args, results, *, to, since=0):
    """Declare a request and its ``...Response``; the response goes the other way."""
    back = {"cpe": "acs", "acs": "cpe"}
    for method, fields, receivers in ((name, args, to), (name + "Response", results,
                                                         {back[r] for r in to})):
        RPCS[method] = Rpc(method, struct(method, *fields).fields, since, receivers)


TRANSFER_ARGS = (("CommandKey", COMMAND_KEY), ("FileType", FILE_TYPE), ("URL", STRING_256),
                 ("Username", STRING_256), ("Password", STRING_256))
TRANSFER_RESULT = (("Status", STATUS), ("StartTime", DateTime()), ("CompleteTime", DateTime()))
CPE, ACS = {"cpe"}, {"acs"}

# Methods the ACS calls on the CPE (A.3.2, A.4.1).
rpc("GetRPCMethods", (), [("MethodList", Array(String(64), "string", "xsd:string"))],
    to={"cpe", "acs"})
rpc("SetParameterValues", [("ParameterList", PARAMETER_VALUE_LIST),
                           ("ParameterKey", PARAMETER_KEY)], [("Status", STATUS)], to=CPE)
rpc("GetParameterValues", [("ParameterNames", STRING_LIST)],
    [("ParameterList", PARAMETER_VALUE_LIST)], to=CPE)
rpc("GetParameterNames", [("ParameterPath", NAME), ("NextLevel", Bool())],
    [("ParameterList", array_of(PARAMETER_INFO))], to=CPE)
rpc("SetParameterAttributes", [("ParameterList", array_of(SET_ATTRIBUTES))], (), to=CPE)
rpc("GetParameterAttributes", [("ParameterNames", STRING_LIST)],
    [("ParameterList", array_of(PARAMETER_ATTRIBUTES))], to=CPE)
rpc("AddObject", [("ObjectName", NAME), ("ParameterKey", PARAMETER_KEY)],
    [("InstanceNumber", UInt()), ("Status", STATUS)], to=CPE)
rpc("DeleteObject", [("ObjectName", NAME), ("ParameterKey", PARAMETER_KEY)],
    [("Status", STATUS)], to=CPE)
rpc("Download", [*TRANSFER_ARGS, ("FileSize", UInt()), ("TargetFileName", STRING_256),
                 ("DelaySeconds", UInt()), ("SuccessURL", STRING_256),
                 ("FailureURL", STRING_256)], TRANSFER_RESULT, to=CPE)
rpc("Reboot", [("CommandKey", COMMAND_KEY)], (), to=CPE)
rpc("GetQueuedTransfers", (), [("TransferList", array_of(QUEUED_TRANSFER, 16))], to=CPE)
rpc("ScheduleInform", [("DelaySeconds", UInt()), ("CommandKey", COMMAND_KEY)], (), to=CPE)
rpc("SetVouchers", [("VoucherList", Array(Base64(), "base64", "SOAP-ENC:base64"))], (), to=CPE)
rpc("GetOptions", [("OptionName", String(64))], [("OptionList", array_of(OPTION))], to=CPE)
rpc("Upload", [*TRANSFER_ARGS, ("DelaySeconds", UInt())], TRANSFER_RESULT, to=CPE)
rpc("FactoryReset", (), (), to=CPE)
rpc("GetAllQueuedTransfers", (), [("TransferList", array_of(ALL_QUEUED_TRANSFER, 16))],
    to=CPE, since=1)
rpc("ScheduleDownload", [*TRANSFER_ARGS, ("FileSize", UInt()), ("TargetFileName", STRING_256),
                         ("TimeWindowList", array_of(TIME_WINDOW, 2))], (), to=CPE, since=2)
rpc("CancelTransfer", [("CommandKey", COMMAND_KEY)], (), to=CPE, since=2)
rpc("ChangeDUState", [("Operations", Repeated(OPERATION)),
                      ("CommandKey", COMMAND_KEY, OPTIONAL)], (), to=CPE, since=2)

# Methods the CPE calls on the ACS (A.3.3, A.4.2).
rpc("Inform", [("DeviceId", DEVICE_ID), ("Event", array_of(EVENT, 64)),
               ("MaxEnvelopes", UInt()), ("CurrentTime", DateTime()), ("RetryCount", UInt()),
               ("ParameterList", PARAMETER_VALUE_LIST)], [("MaxEnvelopes", UInt())], to=ACS)
rpc("TransferComplete", [("CommandKey", COMMAND_KEY), ("FaultStruct", TRANSFER_FAULT),
                         ("StartTime", DateTime()), ("CompleteTime", DateTime())], (), to=ACS)
rpc("AutonomousTransferComplete", [
    ("AnnounceURL", String(1024)), ("TransferURL", String(1024)), ("IsDownload", Bool()),
    ("FileType", FILE_TYPE), ("FileSize", UInt()), ("TargetFileName", STRING_256),
    ("FaultStruct", TRANSFER_FAULT), ("StartTime", DateTime()), ("CompleteTime", DateTime()),
], (), to=ACS, since=1)
rpc("Kicked", [("Command", String(32)), ("Referer", String(64)), ("Arg", String(256)),
               ("Next", String(1024))], [("NextURL", String(1024))], to=ACS)
rpc("RequestDownload", [("FileType", FILE_TYPE), ("FileTypeArg", array_of(ARG, 16))], (),
    to=ACS)
rpc("DUStateChangeComplete", [("Results", Repeated(OP_RESULT)),
                              ("CommandKey", COMMAND_KEY, OPTIONAL)], (), to=ACS, since=2)
rpc("AutonomousDUStateChangeComplete", [("Results", Repeated(AUTON_OP_RESULT))], (), to=ACS,
    since=2)
