"""Offline validation of CWMP messages against the BBF schemas (lxml, tests only).

The schemas in the test data's ``cwmp-xsd/`` (see ``testdata.py``) import each other and the SOAP schemas by http URL; a
resolver maps those URLs to the local files. Whole envelopes are not validated (the SOAP 1.1
envelope schema rejects the common ``encodingStyle`` attribute); the Body child and the
Header children are, each against the schema of the message's namespace.

The cwmp-1-3 and cwmp-1-4 schemas kept the cwmp-1-2 target namespace, so a message written
in the ``urn:dslforum-org:cwmp-1-3``/``-1-4`` URNs is checked, with its namespace renamed,
against cwmp-1-4.xsd; so is a method newer than the message's namespace (ChangeDUState in a
cwmp-1-0 message), since no schema of that namespace describes it.
"""

import functools
import re
from datetime import UTC

import testdata

XSD_DIR = testdata.ROOT / "cwmp-xsd"
CWMP = "urn:dslforum-org:cwmp-1-"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_URLS = {
    "http://schemas.xmlsoap.org/soap/envelope/": "soap-envelope.xsd",
    "http://schemas.xmlsoap.org/soap/encoding/": "soap-encoding.xsd",
}
# Schema file for each namespace minor version that has one of its own.
_FILES = {0: "cwmp-1-0.xsd", 1: "cwmp-1-1.xsd", 2: "cwmp-1-4.xsd"}


def available():
    """Whether the BBF schemas are there: validation needs them."""
    return testdata.found("cwmp-xsd")


def _etree():
    from lxml import etree
    return etree


@functools.cache
def _resolver_parser():
    etree = _etree()

    class Resolver(etree.Resolver):
        def resolve(self, url, pubid, context):
            name = _URLS.get(url) or url.rpartition("/")[2]
            path = XSD_DIR / name
            return self.resolve_filename(str(path), context) if path.is_file() else None

    parser = etree.XMLParser()
    parser.resolvers.add(Resolver())
    return parser


@functools.cache
def schema(minor):
    """The XMLSchema for namespace ``cwmp-1-<minor>`` (0, 1 or 2)."""
    etree = _etree()
    doc = etree.parse(str(XSD_DIR / _FILES[minor]), _resolver_parser())
    return etree.XMLSchema(doc)


@functools.cache
def elements(minor):
    """Global element names the schema for ``minor`` declares (RPCs and headers)."""
    names = set()
    files = [_FILES[minor]] + (["cwmp-1-2.xsd", "cwmp-1-3.xsd"] if minor == 2 else [])
    for name in files:
        names.update(re.findall(r'^  <xs:element name="(\w+)"',
                                (XSD_DIR / name).read_text(), re.M))
    return frozenset(names)


def validate(message):
    """Raise AssertionError (with the schema's complaints) unless every Header child and the
    Body child of ``message`` (bytes) are valid. Returns the schema minor version used."""
    etree = _etree()
    minor = int(re.search(rb"urn:dslforum-org:cwmp-1-(\d)", message).group(1))
    root = etree.fromstring(message)
    body = root.find(f"{{{SOAP_ENV}}}Body")[0]
    method = etree.QName(body).localname
    if minor > 2 or (method != "Fault" and method not in elements(minor)):
        minor = 2
        message = re.sub(rb"urn:dslforum-org:cwmp-1-\d", f"{CWMP}2".encode(), message)
        root = etree.fromstring(message)
    header = root.find(f"{{{SOAP_ENV}}}Header")
    targets = list(header if header is not None else []) + [root.find(f"{{{SOAP_ENV}}}Body")[0]]
    targets += root.findall(f".//{{{CWMP}{minor}}}Fault")
    xsd = schema(minor)
    for elem in targets:
        if not xsd.validate(elem):
            errors = "\n".join(f"  line {e.line}: {e.message}" for e in xsd.error_log)
            raise AssertionError(f"{etree.QName(elem).localname} invalid against "
                                 f"{_FILES[minor]}:\n{errors}\n{message.decode()}")
    return minor


# -- schema-valid arguments for every method of icwmpy.cwmp.rpcs.RPCS ----------------------

def _samples():
    from datetime import datetime, timedelta, timezone

    t0 = datetime(2024, 5, 17, 8, 30, 0, tzinfo=UTC)
    t1 = datetime(2024, 5, 17, 10, 31, 2, 250000, tzinfo=timezone(timedelta(hours=2)))
    uuid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    pv = [("Device.ManagementServer.PeriodicInformInterval", "600", "unsignedInt"),
          ("Device.DeviceInfo.SoftwareVersion", "1.2 <beta> & \"q\"", "string"),
          ("Device.Time.CurrentLocalTime", "2024-05-17T08:30:00Z", "dateTime"),
          ("Device.X_Vendor.Blob", "AAEC", "base64"),
          ("Device.Empty", "", "string")]
    transfer = {"CommandKey": "ck1", "FileType": "1 Firmware Upgrade Image",
                "URL": "http://acs.example.com/fw.bin", "Username": "u", "Password": "p"}
    result = {"Status": 1, "StartTime": t0, "CompleteTime": None}
    fault = {"FaultCode": 9010, "FaultString": "Download failure"}
    op_result = {"UUID": uuid, "DeploymentUnitRef": "Device.SoftwareModules.DeploymentUnit.1",
                 "Version": "1.0", "CurrentState": "Installed", "Resolved": True,
                 "ExecutionUnitRefList": "Device.SoftwareModules.ExecutionUnit.1",
                 "StartTime": t0, "CompleteTime": t1,
                 "Fault": {"FaultCode": 0, "FaultString": None}}
    option = {"OptionName": "Feature", "VoucherSN": 42, "State": 1, "Mode": 2, "StartDate": t0,
              "ExpirationDate": None, "IsTransferable": 0}
    return {
        "GetRPCMethods": {},
        "GetRPCMethodsResponse": {"MethodList": ["GetRPCMethods", "GetParameterValues"]},
        "SetParameterValues": {"ParameterList": pv, "ParameterKey": "key-1"},
        "SetParameterValuesResponse": {"Status": 0},
        "GetParameterValues": {"ParameterNames": ["Device.DeviceInfo.", "Device.Empty"]},
        "GetParameterValuesResponse": {"ParameterList": pv},
        "GetParameterNames": {"ParameterPath": "Device.", "NextLevel": True},
        "GetParameterNamesResponse": {"ParameterList": [("Device.DeviceInfo.", False),
                                                        ("Device.Empty", True)]},
        "SetParameterAttributes": {"ParameterList": [
            {"Name": "Device.Empty", "NotificationChange": True, "Notification": 2,
             "AccessListChange": True, "AccessList": ["Subscriber"]},
            {"Name": "Device.DeviceInfo.", "NotificationChange": False, "Notification": 0,
             "AccessListChange": False, "AccessList": []}]},
        "SetParameterAttributesResponse": {},
        "GetParameterAttributes": {"ParameterNames": ["Device.Empty"]},
        "GetParameterAttributesResponse": {"ParameterList": [("Device.Empty", 1, ["Subscriber"]),
                                                             ("Device.Other", 0, [])]},
        "AddObject": {"ObjectName": "Device.IP.Interface.", "ParameterKey": ""},
        "AddObjectResponse": {"InstanceNumber": 3, "Status": 0},
        "DeleteObject": {"ObjectName": "Device.IP.Interface.3.", "ParameterKey": "k"},
        "DeleteObjectResponse": {"Status": 0},
        "Download": {**transfer, "FileSize": 0, "TargetFileName": "", "DelaySeconds": 5,
                     "SuccessURL": "", "FailureURL": ""},
        "DownloadResponse": result,
        "Reboot": {"CommandKey": "reboot-1"},
        "RebootResponse": {},
        "GetQueuedTransfers": {},
        "GetQueuedTransfersResponse": {"TransferList": [{"CommandKey": "ck1", "State": 1}]},
        "ScheduleInform": {"DelaySeconds": 60, "CommandKey": "si"},
        "ScheduleInformResponse": {},
        "SetVouchers": {"VoucherList": [b"voucher\x00\xff", b""]},
        "SetVouchersResponse": {},
        "GetOptions": {"OptionName": ""},
        "GetOptionsResponse": {"OptionList": [option, {**option, "ExpirationDate": t1}]},
        "Upload": {**transfer, "FileType": "1 Vendor Configuration File", "DelaySeconds": 0},
        "UploadResponse": result,
        "FactoryReset": {},
        "FactoryResetResponse": {},
        "GetAllQueuedTransfers": {},
        "GetAllQueuedTransfersResponse": {"TransferList": [
            {"CommandKey": "ck1", "State": 2, "IsDownload": True, "FileType": "2 Web Content",
             "FileSize": 1024, "TargetFileName": "index.html"}]},
        "ScheduleDownload": {**transfer, "FileSize": 10, "TargetFileName": "fw.bin",
                             "TimeWindowList": [
                                 {"WindowStart": 0, "WindowEnd": 3600,
                                  "WindowMode": "1 At Any Time", "UserMessage": "",
                                  "MaxRetries": -1},
                                 {"WindowStart": 7200, "WindowEnd": 9000,
                                  "WindowMode": "4 Confirmation Needed",
                                  "UserMessage": "Update?", "MaxRetries": 2}]},
        "ScheduleDownloadResponse": {},
        "CancelTransfer": {"CommandKey": "ck1"},
        "CancelTransferResponse": {},
        "ChangeDUState": {"Operations": [
            {"Operation": "Install", "URL": "http://du.example.com/a.ipk", "UUID": uuid,
             "Username": None, "Password": None,
             "ExecutionEnvRef": "Device.SoftwareModules.ExecEnv.1"},
            {"Operation": "Update", "UUID": None, "Version": None, "URL": None,
             "Username": "u", "Password": "p"},
            {"Operation": "Uninstall", "UUID": uuid, "Version": "1.0", "ExecutionEnvRef": None},
        ], "CommandKey": "du-1"},
        "ChangeDUStateResponse": {},
        "Inform": {"DeviceId": {"Manufacturer": "iopsys", "OUI": "0C2A86",
                                "ProductClass": "EX400", "SerialNumber": "S123"},
                   "Event": [("0 BOOTSTRAP", ""), ("1 BOOT", ""), ("M Reboot", "reboot-1")],
                   "MaxEnvelopes": 1, "CurrentTime": t1, "RetryCount": 0, "ParameterList": pv},
        "InformResponse": {"MaxEnvelopes": 1},
        "TransferComplete": {"CommandKey": "ck1", "FaultStruct": fault, "StartTime": t0,
                             "CompleteTime": t1},
        "TransferCompleteResponse": {},
        "AutonomousTransferComplete": {
            "AnnounceURL": "", "TransferURL": "http://files.example.com/x", "IsDownload": False,
            "FileType": "1 Firmware Upgrade Image", "FileSize": 77, "TargetFileName": "",
            "FaultStruct": {"FaultCode": 0, "FaultString": ""}, "StartTime": None,
            "CompleteTime": t0},
        "AutonomousTransferCompleteResponse": {},
        "Kicked": {"Command": "cmd", "Referer": "portal", "Arg": "a=1", "Next": "http://n/"},
        "KickedResponse": {"NextURL": "http://next.example.com/"},
        "RequestDownload": {"FileType": "2 Web Content",
                            "FileTypeArg": [("Version", "v2.0"), ("Lang", "da")]},
        "RequestDownloadResponse": {},
        "DUStateChangeComplete": {"Results": [op_result, {
            **op_result, "CurrentState": "Failed", "Resolved": False,
            "Fault": {"FaultCode": 9018, "FaultString": "corrupted"}}], "CommandKey": None},
        "DUStateChangeCompleteResponse": {},
        "AutonomousDUStateChangeComplete": {"Results": [
            {**op_result, "OperationPerformed": "Uninstall"}]},
        "AutonomousDUStateChangeCompleteResponse": {},
    }


SAMPLES = _samples()
