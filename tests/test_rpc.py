"""CPE-side RPC methods: real SOAP bytes in, through a real DataModel over temp files, a real
Store and Options, and an in-memory transfer queue; every answer is checked against the BBF
schema (where the test data has it) and decoded again by the codec."""

import asyncio
import base64
import logging
from datetime import datetime, UTC
from xml.etree import ElementTree

import pytest

import acs
import xsd
from forms import QUIRKS
from icwmpy.config.uci import Uci
from icwmpy.cwmp import soap
from icwmpy.cwmp.rpcs import RPCS
from icwmpy.cwmp.xsdtypes import UNKNOWN_TIME
from icwmpy.faults import CwmpFault
from icwmpy.model import DataModel
from icwmpy.model.schema import Definitions
from icwmpy.rpc import Options, RpcHandler
from icwmpy.rpc.methods import Features
from icwmpy.store import Store

SAMPLE_ARGS = {
    "GetAllQueuedTransfers": {},
    "CancelTransfer": {"CommandKey": "k"},
    "ScheduleDownload": {"CommandKey": "k", "FileType": "1 Firmware Upgrade Image",
                         "URL": "http://files/fw.bin", "Username": "", "Password": "",
                         "FileSize": 0, "TargetFileName": "", "TimeWindowList": [
                             {"WindowStart": 0, "WindowEnd": 60, "WindowMode": "1 At Any Time",
                              "UserMessage": "", "MaxRetries": 0}]},
    "ChangeDUState": {"Operations": [{"Operation": "Install", "URL": "http://files/a.ipk",
                                      "UUID": "", "Username": "", "Password": "",
                                      "ExecutionEnvRef": ""}], "CommandKey": "k"},
}
UUID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
NOW = datetime(2024, 5, 15, 12, 0, tzinfo=UTC)
NS12 = "urn:dslforum-org:cwmp-1-2"
DEVICE = {"Manufacturer": "icwmpy", "OUI": "0C2A86", "ProductClass": "test",
          "SerialNumber": "S1"}

DEFINITIONS = {
    "_reload": {"cwmp": "true"},
    "Device.DeviceInfo.": {
        "Manufacturer": {"type": "string", "max": 64, "const": "icwmpy"},
        "UpTime": {"type": "unsignedInt", "store": True, "default": "42",
                   "activeNotify": "canDeny"},
        "ProvisioningCode": {"type": "string", "max": 64, "access": "readWrite", "store": True},
    },
    "Device.ManagementServer.": {
        "PeriodicInformInterval": {"type": "unsignedInt", "range": [1, None],
                                   "access": "readWrite", "default": "1800",
                                   "uci": "cwmp.acs.periodic_inform_interval"},
        "ParameterKey": {"type": "string", "max": 32, "store": True},
    },
    "Device.Bench.Item.{i}.": {
        "_table": {"store": True, "access": "readWrite"},
        "Alias": {"type": "string", "max": 64, "access": "readWrite"},
        "Value": {"type": "int", "access": "readWrite", "default": "0"},
    },
    "Device.Bench.Item.{i}.Sub.{i}.": {
        "_table": {"store": True, "access": "readWrite"},
        "Alias": {"type": "string", "max": 64, "access": "readWrite"},
        "Name": {"type": "string", "access": "readWrite"},
    },
    "Device.Bench.Fixed.{i}.": {
        "_table": {"store": True, "access": "readWrite"},
        "Name": {"type": "string", "access": "readWrite"},
    },
}


class Queue:
    """In-memory stand-in for the TransferQueue: keeps what it is given, in order."""

    def __init__(self):
        self.transfers = []
        self.du_changes = []

    def _add(self, kind, args):
        self.transfers.append({"kind": kind, "State": 1, **args})

    def download(self, args):
        self._add("download", args)
        return 1, None, None

    def upload(self, args):
        self._add("upload", args)
        return 1, None, None

    def schedule_download(self, args):
        self._add("download", args)

    def change_du_state(self, args):
        self.du_changes.append(args)

    def cancel(self, command_key):
        mine = [t for t in self.transfers if t["CommandKey"] == command_key]
        if not mine or any(t["State"] != 1 for t in mine):
            raise CwmpFault(9021)
        self.transfers = [t for t in self.transfers if t not in mine]

    def queued(self):
        return [{"CommandKey": t["CommandKey"], "State": t["State"]} for t in self.transfers]

    def all_queued(self):
        return [{"CommandKey": t["CommandKey"], "State": t["State"],
                 "IsDownload": t["kind"] == "download", "FileType": t["FileType"],
                 "FileSize": t.get("FileSize", 0), "TargetFileName": t.get("TargetFileName", "")}
                for t in self.transfers]


class Services:
    """The Agent's side, recording the calls the handler makes."""

    def __init__(self, store):
        self.transfers = Queue()
        self.options = Options(store, DEVICE, clock=lambda: NOW)
        self.calls = []

    async def run_model(self, fn, *args):
        return fn(*args)

    def reboot(self, command_key):
        self.calls.append(("reboot", command_key))

    def factory_reset(self):
        self.calls.append(("factory_reset",))

    def schedule_inform(self, delay, command_key):
        self.calls.append(("schedule_inform", delay, command_key))


class Cpe:
    def __init__(self, tmp_path):
        conf = tmp_path / "config"
        conf.mkdir()
        (conf / "cwmp").write_text("config acs 'acs'\n\toption url 'http://acs/'\n")
        self.conf = conf
        self.store = Store(str(tmp_path / "state"))
        defs = Definitions()
        defs.load(DEFINITIONS)
        self.model = DataModel(defs, Uci(str(conf)), self.store)
        self.services = Services(self.store)
        self.queue = self.services.transfers
        self.handler = RpcHandler(self.model, self.services)

    def ask(self, request, validate=True):
        """The decoded answer to ``request`` (bytes, or an Envelope); the raw answer must be
        schema-valid and echo the request's ID and namespace."""
        env = soap.parse(request) if isinstance(request, bytes) else request
        raw = asyncio.run(self.handler.handle(env))
        if validate and xsd.available():   # the schemas are third-party test data
            xsd.validate(raw)
        answer = soap.parse(raw)
        assert (answer.id, answer.ns) == (env.id, env.ns)
        if answer.method != "Fault":
            assert answer.method == env.method + "Response"
        return answer

    def fault(self, request, validate=True):
        answer = self.ask(request, validate)
        assert answer.method == "Fault", answer
        return answer.fault

    def args(self, request):
        answer = self.ask(request)
        assert answer.method != "Fault", answer.fault
        return answer.args


@pytest.fixture
def cpe(tmp_path):
    return Cpe(tmp_path)


# -- dispatch -------------------------------------------------------------------------------

def test_get_rpc_methods_lists_exactly_the_table(cpe):
    methods = cpe.args(acs.get_rpc_methods())["MethodList"]
    assert methods == list(RpcHandler.METHODS)
    assert all("cpe" in RPCS[m].receivers for m in methods)
    assert set(methods) == {m for m, r in RPCS.items()
                            if "cpe" in r.receivers and not m.endswith("Response")}
    assert cpe.args(QUIRKS["get_rpc_methods"])


@pytest.mark.parametrize("amd, absent", [
    (1, {"GetAllQueuedTransfers", "ScheduleDownload", "CancelTransfer", "ChangeDUState"}),
    (2, {"ScheduleDownload", "CancelTransfer", "ChangeDUState"}),
    (3, set()), (6, set())])
def test_amd_version_bounds_the_methods_offered(cpe, amd, absent):
    cpe.handler.features = Features(amd_version=amd)
    methods = cpe.args(acs.get_rpc_methods())["MethodList"]
    assert set(RpcHandler.METHODS) - set(methods) == absent
    assert {"SetVouchers", "GetOptions", "GetQueuedTransfers"} <= set(methods)  # Amendment 1
    for method in absent:
        request = soap.build(method, SAMPLE_ARGS[method], id="late", ns=acs.CWMP_NS)
        assert cpe.fault(request).code == 9000
    assert cpe.queue.transfers == cpe.queue.du_changes == []


def test_unknown_method_is_9000(cpe):
    answer = cpe.ask(QUIRKS["unknown_method"])
    assert (answer.fault.code, answer.id) == (9000, "q-1")
    assert answer.ns == NS12


def test_a_method_the_cpe_does_not_serve_is_9000(cpe):
    assert cpe.fault(acs.inform()).code == 9000


def test_a_bug_is_9002_and_logged(cpe, caplog):
    async def broken(fn, *args):
        raise RuntimeError("worker thread died")
    cpe.services.run_model = broken
    with caplog.at_level(logging.ERROR):
        assert cpe.fault(acs.get_parameter_values("Device.")).code == 9002
    assert "worker thread died" in caplog.text


# -- parameters -----------------------------------------------------------------------------

def test_get_parameter_values(cpe):
    values = cpe.args(acs.get_parameter_values(
        "Device.DeviceInfo.", "Device.ManagementServer.PeriodicInformInterval"))["ParameterList"]
    assert values == [("Device.DeviceInfo.Manufacturer", "icwmpy", "string"),
                      ("Device.DeviceInfo.UpTime", "42", "unsignedInt"),
                      ("Device.DeviceInfo.ProvisioningCode", "", "string"),
                      ("Device.ManagementServer.PeriodicInformInterval", "1800", "unsignedInt")]
    everything = {n for n, _, _ in cpe.args(acs.get_parameter_values(""))["ParameterList"]}
    assert {"Device.ManagementServer.ParameterKey", "Device.Bench.ItemNumberOfEntries"} \
        <= everything
    assert cpe.args(acs.get_parameter_values())["ParameterList"] == []


def test_get_parameter_values_bad_name_is_9005(cpe):
    assert cpe.fault(acs.get_parameter_values("Device.DeviceInfo.Nope")).code == 9005


def test_get_parameter_names(cpe):
    names = cpe.args(acs.get_parameter_names("Device.ManagementServer.", True))["ParameterList"]
    assert names == [("Device.ManagementServer.PeriodicInformInterval", True),
                     ("Device.ManagementServer.ParameterKey", False)]
    assert cpe.fault(acs.get_parameter_names("Device.DeviceInfo.UpTime", True)).code == 9003
    assert cpe.fault(acs.get_parameter_names("Device.Nope.", False)).code == 9005


def test_set_parameter_values(cpe):
    args = cpe.args(acs.set_parameter_values(
        [("Device.ManagementServer.PeriodicInformInterval", 60, "xsd:unsignedInt")], "k1"))
    assert args == {"Status": 1}  # a UCI change: applied after a reload
    assert "periodic_inform_interval '60'" in (cpe.conf / "cwmp").read_text()
    cpe.model.take_reloads()  # the agent's part, after the session
    args = cpe.args(acs.set_parameter_values([("Device.DeviceInfo.ProvisioningCode", "x")], "k2"))
    assert args == {"Status": 0}
    assert cpe.model.read("Device.ManagementServer.ParameterKey") == "k2"


def test_set_parameter_values_faults_carry_each_parameter(cpe):
    fault = cpe.fault(acs.set_parameter_values(
        [("Device.DeviceInfo.ProvisioningCode", "kept?"),
         ("Device.DeviceInfo.UpTime", 5, "xsd:unsignedInt"),
         ("Device.ManagementServer.PeriodicInformInterval", 0, "xsd:unsignedInt"),
         ("Device.ManagementServer.PeriodicInformInterval.", 1)], "k"))
    assert fault.code == 9003
    assert [(n, c) for n, c, _ in fault.details] == [
        ("Device.DeviceInfo.UpTime", 9008),
        ("Device.ManagementServer.PeriodicInformInterval", 9007),
        ("Device.ManagementServer.PeriodicInformInterval.", 9005)]
    assert cpe.model.read("Device.DeviceInfo.ProvisioningCode") == ""  # all or nothing


def test_catawampus_bad_set_parameter_values(cpe):
    fault = cpe.fault(QUIRKS["bad_set_parameter_values"])
    assert fault.code == 9003
    assert [(n, c) for n, c, _ in fault.details] == [
        ("Bad.Type", 9005), ("Bad.Value", 9005), ("Sub.NoSuchParameter", 9005),
        ("ReadOnly", 9005)]


def test_parameter_attributes(cpe):
    assert cpe.args(acs.set_parameter_attributes(
        [("Device.DeviceInfo.ProvisioningCode", 2, ["Subscriber"]),
         ("Device.DeviceInfo.UpTime", 1, None)])) == {}
    attrs = cpe.args(acs.get_parameter_attributes("Device.DeviceInfo."))["ParameterList"]
    assert attrs == [("Device.DeviceInfo.Manufacturer", 0, []),
                     ("Device.DeviceInfo.UpTime", 1, []),
                     ("Device.DeviceInfo.ProvisioningCode", 2, ["Subscriber"])]
    # a change flag that is false leaves that attribute alone, whatever the other field says
    cpe.args(soap.build("SetParameterAttributes", {"ParameterList": [
        {"Name": "Device.DeviceInfo.ProvisioningCode", "NotificationChange": False,
         "Notification": 0, "AccessListChange": True, "AccessList": []},
        {"Name": "Device.DeviceInfo.UpTime", "NotificationChange": True, "Notification": 0,
         "AccessListChange": False, "AccessList": ["Subscriber"]}]}, id="spa"))
    attrs = cpe.args(acs.get_parameter_attributes("Device.DeviceInfo.ProvisioningCode",
                                                  "Device.DeviceInfo.UpTime"))
    assert attrs["ParameterList"] == [("Device.DeviceInfo.ProvisioningCode", 2, []),
                                      ("Device.DeviceInfo.UpTime", 0, [])]


def test_set_parameter_attributes_is_all_or_nothing(cpe):
    fault = cpe.fault(acs.set_parameter_attributes(
        [("Device.DeviceInfo.ProvisioningCode", 1, None),
         ("Device.DeviceInfo.UpTime", 2, None)]))  # canDeny: active notification refused
    assert fault.code == 9009
    attrs = cpe.args(acs.get_parameter_attributes("Device.DeviceInfo.ProvisioningCode"))
    assert attrs["ParameterList"] == [("Device.DeviceInfo.ProvisioningCode", 0, [])]
    fault = cpe.fault(QUIRKS["set_parameter_attributes"])
    assert fault.code == 9005
    assert cpe.fault(acs.get_parameter_attributes("Device.Nope")).code == 9005


def test_add_and_delete_object(cpe):
    assert cpe.args(acs.add_object("Device.Bench.Item.", "a1")) == {"InstanceNumber": 1,
                                                                     "Status": 0}
    assert cpe.args(acs.add_object("Device.Bench.Item.")) == {"InstanceNumber": 2, "Status": 0}
    assert cpe.model.read("Device.ManagementServer.ParameterKey") == ""
    assert cpe.args(acs.delete_object("Device.Bench.Item.1.", "d1")) == {"Status": 0}
    names = cpe.args(acs.get_parameter_names("Device.Bench.Item.", True))["ParameterList"]
    assert names == [("Device.Bench.Item.2.", True)]
    assert cpe.fault(acs.add_object("Device.DeviceInfo.")).code == 9005
    assert cpe.fault(acs.delete_object("Device.Bench.Item.1.")).code == 9005


# -- alias-based addressing (TR-069 Amendment 4) ----------------------------------------------

def names_of(answer):
    return [entry[0] for entry in answer["ParameterList"]]


def test_instance_alias_mode_reports_aliases_except_where_the_request_used_numbers(cpe):
    cpe.handler.features = Features(instance_alias=True)
    assert cpe.args(acs.add_object("Device.Bench.Item.[wan].")) == {"InstanceNumber": 1,
                                                                     "Status": 0}
    assert cpe.args(acs.add_object("Device.Bench.Item."))["InstanceNumber"] == 2
    cpe.args(acs.add_object("Device.Bench.Item.1.Sub.[x]."))
    assert names_of(cpe.args(acs.get_parameter_values("Device.Bench.Item.*.Value"))) == [
        "Device.Bench.Item.[wan].Value", "Device.Bench.Item.[cpe-2].Value"]
    assert names_of(cpe.args(acs.get_parameter_values("Device.Bench.Item.1.Sub."))) == [
        "Device.Bench.Item.1.Sub.[x].Alias", "Device.Bench.Item.1.Sub.[x].Name"]
    assert names_of(cpe.args(acs.get_parameter_names("Device.Bench.Item.", True))) == [
        "Device.Bench.Item.[wan].", "Device.Bench.Item.[cpe-2]."]
    attrs = cpe.args(acs.get_parameter_attributes("Device.Bench.Item.[wan].Value"))
    assert names_of(attrs) == ["Device.Bench.Item.[wan].Value"]


def test_instance_number_mode_keeps_the_aliases_the_request_used(cpe):
    cpe.args(acs.add_object("Device.Bench.Item.[wan]."))
    cpe.args(acs.add_object("Device.Bench.Item.[wan].Sub."))
    assert names_of(cpe.args(acs.get_parameter_values("Device.Bench.Item.[wan].Sub."))) == [
        "Device.Bench.Item.[wan].Sub.1.Alias", "Device.Bench.Item.[wan].Sub.1.Name"]
    assert names_of(cpe.args(acs.get_parameter_values("Device.Bench.Item.1.Value"))) == [
        "Device.Bench.Item.1.Value"]
    # attributes set through an alias belong to the instance, whatever names it later
    cpe.args(acs.set_parameter_attributes([("Device.Bench.Item.[wan].Value", 1, None)]))
    attrs = cpe.args(acs.get_parameter_attributes("Device.Bench.Item.1.Value"))
    assert attrs["ParameterList"] == [("Device.Bench.Item.1.Value", 1, [])]


def test_add_object_with_an_alias(cpe):
    cpe.args(acs.add_object("Device.Bench.Item.[wan]."))
    assert cpe.model.read("Device.Bench.Item.1.Alias") == "wan"
    assert cpe.fault(acs.add_object("Device.Bench.Item.[wan].")).code == 9007  # in use
    assert cpe.fault(acs.add_object("Device.Bench.Item.[9wan].")).code == 9007  # not a name
    assert cpe.fault(acs.add_object("Device.Bench.Item.[].")).code == 9007
    assert cpe.fault(acs.add_object("Device.Bench.Item.[" + "a" * 65 + "].")).code == 9007
    assert cpe.fault(acs.add_object("Device.Bench.Fixed.[f].")).code == 9005  # no Alias
    assert cpe.args(acs.get_parameter_values("Device.Bench.ItemNumberOfEntries"))[
        "ParameterList"] == [("Device.Bench.ItemNumberOfEntries", "1", "unsignedInt")]


def test_before_amendment_4_aliases_are_no_names(cpe):
    cpe.args(acs.add_object("Device.Bench.Item.[wan]."))
    cpe.handler.features = Features(amd_version=3, instance_alias=True, auto_create=True)
    assert cpe.fault(acs.get_parameter_values("Device.Bench.Item.[wan].Value")).code == 9005
    assert cpe.fault(acs.add_object("Device.Bench.Item.[lan].")).code == 9005
    fault = cpe.fault(acs.set_parameter_values([("Device.Bench.Item.[lan].Value", 1)]))
    assert fault.details[0][:2] == ("Device.Bench.Item.[lan].Value", 9005)
    assert names_of(cpe.args(acs.get_parameter_values("Device.Bench.Item.*.Value"))) == [
        "Device.Bench.Item.1.Value"]


def test_auto_create_instances(cpe):
    spv = acs.set_parameter_values([("Device.Bench.Item.[lan].Value", 7, "xsd:int"),
                                    ("Device.Bench.Item.[lan].Sub.[s1].Name", "n")], "k")
    fault = cpe.fault(spv)  # AutoCreateInstances false: no such instance
    assert {code for _, code, _ in fault.details} == {9005}
    cpe.handler.features = Features(auto_create=True)
    assert cpe.args(spv) == {"Status": 0}
    assert cpe.model.read("Device.Bench.Item.1.Alias") == "lan"
    assert cpe.model.read("Device.Bench.Item.1.Value") == "7"
    assert cpe.model.read("Device.Bench.Item.1.Sub.1.Alias") == "s1"
    assert cpe.model.read("Device.Bench.Item.1.Sub.1.Name") == "n"
    assert cpe.model.read("Device.ManagementServer.ParameterKey") == "k"
    # an existing alias is set, not created again
    cpe.args(acs.set_parameter_values([("Device.Bench.Item.[lan].Value", 8, "xsd:int")]))
    assert names_of(cpe.args(acs.get_parameter_names("Device.Bench.Item.", True))) == [
        "Device.Bench.Item.1."]


def test_auto_created_instances_go_again_when_the_set_fails(cpe):
    cpe.handler.features = Features(auto_create=True)
    fault = cpe.fault(acs.set_parameter_values(
        [("Device.Bench.Item.[lan].Value", "many", "xsd:string"),
         ("Device.Bench.Item.[9bad].Value", 1)]))
    assert [code for _, code, _ in fault.details] == [9007, 9005]
    assert cpe.args(acs.get_parameter_names("Device.Bench.Item.", True))["ParameterList"] == []
    assert cpe.args(acs.add_object("Device.Bench.Item."))["InstanceNumber"] == 2


# -- agent actions --------------------------------------------------------------------------

def test_reboot_factory_reset_schedule_inform(cpe):
    assert cpe.args(QUIRKS["reboot"]) == {}
    assert cpe.args(acs.factory_reset()) == {}
    assert cpe.args(acs.schedule_inform(30, "si")) == {}
    assert cpe.services.calls == [("reboot", "reboot-key"), ("factory_reset",),
                                  ("schedule_inform", 30, "si")]


def test_schedule_inform_needs_a_delay(cpe):
    assert cpe.fault(acs.schedule_inform(0, "si")).code == 9003
    assert cpe.services.calls == []


# -- transfers ------------------------------------------------------------------------------

def test_download(cpe):
    args = cpe.args(acs.download("http://files/fw.bin", key="d1", file_size=10))
    assert args == {"Status": 1, "StartTime": UNKNOWN_TIME, "CompleteTime": UNKNOWN_TIME}
    assert cpe.args(QUIRKS["download"])["Status"] == 1
    assert cpe.args(acs.download("ftp://files/x", "X 00D09E Voice Profile", "d3"))
    assert [t["CommandKey"] for t in cpe.queue.transfers][0] == "d1"
    assert len(cpe.queue.transfers) == 3


@pytest.mark.parametrize("url, file_type, code", [
    ("tftp://files/fw.bin", "1 Firmware Upgrade Image", 9013),
    ("file:///etc/passwd", "1 Firmware Upgrade Image", 9013),
    ("", "1 Firmware Upgrade Image", 9003),
    ("files/fw.bin", "1 Firmware Upgrade Image", 9003),
    ("http://files:99999/fw.bin", "1 Firmware Upgrade Image", 9003),
    ("http://files/fw.bin", "7 Something New", 9003),
    ("http://files/fw.bin", "1 Vendor Log File", 9003),
    ("http://files/fw.bin", "X 00D09 short OUI", 9003),
    ("http://files/fw.bin", "X 00D09E", 9003),
])
def test_download_bad_arguments(cpe, url, file_type, code):
    assert cpe.fault(acs.download(url, file_type, "k")).code == code
    assert cpe.queue.transfers == []


def test_upload(cpe):
    for file_type in ("1 Vendor Configuration File", "3 Vendor Configuration File 2",
                      "4 Vendor Log File 1", "X 0C2A86 Crash Dump"):
        assert cpe.args(acs.upload("https://up/", file_type, "u"))["Status"] == 1
    assert cpe.fault(acs.upload("https://up/", "1 Firmware Upgrade Image")).code == 9003
    assert cpe.fault(acs.upload("https://up/", "3 Vendor Configuration File 0")).code == 9003
    assert cpe.fault(acs.upload("tftp://up/", "2 Vendor Log File")).code == 9013
    assert len(cpe.queue.transfers) == 4


def schedule_download(*windows, url="http://files/fw.bin", ns=acs.CWMP_NS):
    """A ScheduleDownload; ``windows``: (start, end, mode, message, max_retries)."""
    fields = "".join(f"<{n}>{v}</{n}>" for n, v in (
        ("CommandKey", "sd"), ("FileType", "1 Firmware Upgrade Image"), ("URL", url),
        ("Username", ""), ("Password", ""), ("FileSize", 0), ("TargetFileName", "")))
    items = "".join(
        "<TimeWindowStruct>" + "".join(f"<{n}>{v}</{n}>" for n, v in zip(
            ("WindowStart", "WindowEnd", "WindowMode", "UserMessage", "MaxRetries"), w, strict=True))
        + "</TimeWindowStruct>" for w in windows)
    array = (f'<TimeWindowList soap-enc:arrayType="cwmp:TimeWindowStruct[{len(windows)}]">'
             f"{items}</TimeWindowList>")
    return acs.envelope("ScheduleDownload", fields + array, ns=ns)


def test_schedule_download(cpe):
    assert cpe.args(QUIRKS["negative_retries"]) == {}  # UserMessage kept
    assert cpe.args(schedule_download((3600, 7200, "4 Confirmation Needed", "Now?", 2),
                                      (0, 3600, "1 At Any Time", "", -1),
                                      ns=NS12)) == {}
    assert [t["TimeWindowList"][0]["UserMessage"] for t in cpe.queue.transfers] == [
        "Update tonight?", "Now?"]


@pytest.mark.parametrize("windows, code", [
    ([(10, 10, "1 At Any Time", "", -1)], 9003),
    ([(20, 10, "1 At Any Time", "", -1)], 9003),
    ([(0, 100, "1 At Any Time", "", -1), (50, 200, "2 Immediately", "", -1)], 9003),
    ([(100, 200, "3 When Idle", "", -1), (0, 150, "1 At Any Time", "", -1)], 9003),
    ([(0, 100, "5 Whenever", "", -1)], 9003),
    ([(0, 100, "X 0C2A86 Night", "", -1)], 9003),
    ([(0, 100, "1 At Any Time", "", -2)], 9003),
])
def test_schedule_download_bad_windows(cpe, windows, code):
    assert cpe.fault(schedule_download(*windows)).code == code
    assert cpe.queue.transfers == []


def test_schedule_download_needs_a_window_and_a_good_url(cpe):
    assert cpe.fault(schedule_download()).code == 9003
    assert cpe.fault(schedule_download((0, 9, "1 At Any Time", "", 1), url="tftp://x/")).code \
        == 9013


def test_queued_transfers_and_cancel(cpe):
    assert cpe.args(acs.envelope("GetQueuedTransfers")) == {"TransferList": []}
    cpe.args(acs.download("http://files/a", key="a", file_size=5, target="a.bin"))
    cpe.args(acs.upload("http://files/", key="b"))
    assert cpe.args(acs.envelope("GetQueuedTransfers"))["TransferList"] == [
        {"CommandKey": "a", "State": 1}, {"CommandKey": "b", "State": 1}]
    assert cpe.args(acs.get_all_queued_transfers())["TransferList"] == [
        {"CommandKey": "a", "State": 1, "IsDownload": True,
         "FileType": "1 Firmware Upgrade Image", "FileSize": 5, "TargetFileName": "a.bin"},
        {"CommandKey": "b", "State": 1, "IsDownload": False,
         "FileType": "1 Vendor Configuration File", "FileSize": 0, "TargetFileName": ""}]
    assert cpe.args(acs.cancel_transfer("a", ns=NS12)) == {}
    assert cpe.fault(acs.cancel_transfer("a", ns=NS12)).code == 9021  # the queue's own fault
    cpe.queue.transfers[0]["State"] = 2
    assert cpe.fault(acs.cancel_transfer("b", ns=NS12)).code == 9021


def test_queued_transfer_lists_stay_within_the_schema(cpe):
    for n in range(20):
        cpe.args(acs.download("http://files/a", key=f"k{n}"))
    assert len(cpe.args(acs.envelope("GetQueuedTransfers"))["TransferList"]) == 16
    assert len(cpe.args(acs.get_all_queued_transfers())["TransferList"]) == 16


def change_du_state(*operations, key="du"):
    """A ChangeDUState; ``operations``: (alternative, {field: value})."""
    items = "".join(
        f'<Operations xsi:type="cwmp:{kind}OpStruct">'
        + "".join(f"<{n}>{v}</{n}>" for n, v in fields.items()) + "</Operations>"
        for kind, fields in operations)
    return acs.envelope("ChangeDUState", items + f"<CommandKey>{key}</CommandKey>",
                        ns=NS12)


def test_change_du_state(cpe):
    assert cpe.args(change_du_state(
        ("Install", {"URL": "https://du/a.ipk", "UUID": UUID, "ExecutionEnvRef": ""}),
        ("Update", {"UUID": "", "URL": ""}),
        ("Uninstall", {"UUID": UUID.upper(), "Version": "1.0"}))) == {}
    [change] = cpe.queue.du_changes
    assert change["CommandKey"] == "du"
    assert [op["Operation"] for op in change["Operations"]] == ["Install", "Update", "Uninstall"]


@pytest.mark.parametrize("operation, code", [
    (("Install", {"URL": "https://du/a.ipk", "UUID": "some-uuid"}), 9022),
    (("Uninstall", {"UUID": UUID + "0"}), 9022),
    (("Uninstall", {"UUID": ""}), 9003),
    (("Install", {"URL": ""}), 9003),
    (("Install", {"URL": "tftp://du/a.ipk"}), 9013),
    (("Update", {"UUID": UUID, "URL": "du/a.ipk"}), 9003),
])
def test_change_du_state_bad_operations(cpe, operation, code):
    assert cpe.fault(change_du_state(("Install", {"URL": "http://du/ok.ipk"}), operation)).code \
        == code
    assert cpe.queue.du_changes == []


def test_change_du_state_sample_and_no_operation(cpe):
    # A CWMP 1.2 method sent in the cwmp-1-0 namespace: answered in that namespace, with
    # a code (9022) that the cwmp-1-0 schema predates, hence no schema check here.
    sample = QUIRKS["du_operations"]
    assert cpe.fault(sample, validate=False).code == 9022
    empty = soap.Envelope(ns=NS12, method="ChangeDUState", id="e",
                          args={"Operations": [], "CommandKey": "k"})
    assert cpe.fault(empty).code == 9003


# -- options --------------------------------------------------------------------------------

def voucher(*options, device=DEVICE):
    """A voucher shaped as TR-069 Annex C describes (the signature is not checked)."""
    objects = []
    for i, option in enumerate(options):
        ident = "".join(f"<{k}>{v}</{k}>" for k, v in (device or {}).items())
        fields = "".join(f"<{k}>{v}</{k}>" for k, v in option.items())
        objects.append(f'<Object Id="option{i}"><Option><VSerialNum>{100 + i}</VSerialNum>'
                       f"<DeviceId>{ident}</DeviceId>{fields}</Option></Object>")
    return ('<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo/>'
            f'<SignatureValue>AAAA</SignatureValue>{"".join(objects)}</Signature>').encode()


def option(name, mode="Enable with expiration", start="2024-05-01T00:00:00Z", duration=1,
           units="Months", transferable=0):
    return {"OptionIdent": name, "OptionDesc": f"{name} feature", "StartDate": start,
            "Duration": duration, "DurationUnits": units, "Mode": mode,
            "Transferable": transferable}


def set_vouchers(*vouchers):
    items = "".join(f"<base64>{base64.b64encode(v).decode()}</base64>" for v in vouchers)
    return acs.envelope("SetVouchers", f'<VoucherList soap-enc:arrayType="soap-enc:base64'
                                       f'[{len(vouchers)}]">{items}</VoucherList>')


def get_options(name=""):
    return acs.envelope("GetOptions", f"<OptionName>{name}</OptionName>")


def utc(*fields):
    return datetime(*fields, tzinfo=UTC)


def test_vouchers_enable_options(cpe):
    assert cpe.args(set_vouchers(
        voucher(option("VoIP"), option("IPTV", "Enable Without Expiration", transferable=1)),
        voucher(option("Old", duration=30, units="Days", start="2024-04-01T00:00:00"),
                option("Later", units="Years", start="2025-01-31T00:00:00Z"),
                option("Off", "Disable")))) == {}
    options = {o["OptionName"]: o for o in cpe.args(get_options())["OptionList"]}
    assert list(options) == ["IPTV", "Later", "Off", "Old", "VoIP"]
    assert options["VoIP"] == {"OptionName": "VoIP", "VoucherSN": 100, "State": 1, "Mode": 1,
                               "StartDate": utc(2024, 5, 1), "ExpirationDate": utc(2024, 6, 1),
                               "IsTransferable": 0}
    assert (options["IPTV"]["State"], options["IPTV"]["Mode"]) == (1, 2)
    assert options["IPTV"]["ExpirationDate"] is None and options["IPTV"]["IsTransferable"] == 1
    assert (options["Old"]["State"], options["Old"]["ExpirationDate"]) == (0, utc(2024, 5, 1))
    assert (options["Later"]["State"], options["Later"]["ExpirationDate"]) == \
        (0, utc(2026, 1, 31))
    assert (options["Off"]["State"], options["Off"]["Mode"]) == (0, 0)
    assert cpe.args(get_options("IPTV"))["OptionList"] == [options["IPTV"]]
    # kept in the store: a fresh Options over the same state directory sees them
    again = Options(Store(cpe.store.directory), clock=lambda: NOW)
    assert again.enabled("VoIP") and not again.enabled("Old") and not again.enabled("Nope")


def test_a_later_voucher_replaces_an_option(cpe):
    cpe.args(set_vouchers(voucher(option("VoIP"))))
    cpe.args(set_vouchers(voucher(option("VoIP", "Disable"))))
    [voip] = cpe.args(get_options("VoIP"))["OptionList"]
    assert (voip["State"], voip["Mode"]) == (0, 0)


def test_month_arithmetic_clamps_the_day(cpe):
    cpe.args(set_vouchers(voucher(option("A", start="2024-01-31T10:00:00Z"))))
    assert cpe.args(get_options("A"))["OptionList"][0]["ExpirationDate"] == \
        utc(2024, 2, 29, 10)


@pytest.mark.parametrize("bad", [
    b"FooMooBar",
    b"<Signature/>",
    b'<!DOCTYPE x [<!ENTITY a "b">]><Option/>',
    voucher({k: v for k, v in option("A").items() if k != "OptionIdent"}),
    voucher(option("A", mode="Enable sometimes")),
    voucher(option("A", units="Weeks")),
    voucher(option("A", duration="-1")),
    voucher(option("A", start="yesterday")),
    voucher(option("A", transferable="maybe")),
    voucher(option("A" * 65)),
    voucher(option("A", duration=10**6, units="Years")),
])
def test_bad_vouchers_are_9003_and_change_nothing(cpe, bad):
    fault = cpe.fault(set_vouchers(voucher(option("Good")), bad))
    assert fault.code == 9003
    assert cpe.fault(get_options("Good")).code == 9003


def test_voucher_for_another_device_is_denied(cpe):
    other = dict(DEVICE, SerialNumber="S2")
    assert cpe.fault(set_vouchers(voucher(option("A"), device=other))).code == 9001
    assert cpe.args(set_vouchers(voucher(option("A"), device=dict(DEVICE, OUI="0c2a86")))) == {}
    assert cpe.args(set_vouchers(voucher(option("B"), device=None))) == {}


def test_voucher_samples_and_empty_list(cpe):
    assert cpe.fault(QUIRKS["base64_array"]).code == 9003  # "Voucher1"
    assert cpe.fault(set_vouchers()).code == 9003
    assert cpe.args(get_options()) == {"OptionList": []}
    assert cpe.fault(get_options("Unknown")).code == 9003


# -- missing and unreadable arguments -------------------------------------------------------

def answer(handler, request):
    """The CPE's answer to ``request`` bytes as a session gives it: the codec's fault for an
    unreadable message (echoing what it understood of the envelope), else the handler's."""
    try:
        env = soap.parse(request)
    except CwmpFault as fault:
        env = getattr(fault, "envelope", soap.Envelope())
        return soap.build_fault(fault, id=env.id, ns=env.ns)
    return asyncio.run(handler.handle(env))


def without(request, name):
    """``request`` (bytes) with the method's argument elements ``name`` taken out."""
    root = ElementTree.fromstring(request)
    call = root.find(f"{{{soap.SOAP_ENV}}}Body")[0]
    for kid in [kid for kid in call if kid.tag == name]:
        call.remove(kid)
    return ElementTree.tostring(root)


MANDATORY = [(method, f.name) for method in RpcHandler.METHODS
             for f in RPCS[method].fields if not f.optional]


@pytest.mark.parametrize("method, name", MANDATORY, ids=[f"{m}-{n}" for m, n in MANDATORY])
def test_a_missing_argument_is_9003(cpe, method, name):
    request = without(soap.build(method, xsd.SAMPLES[method], id="m", ns=NS12), name)
    fault = soap.parse(answer(cpe.handler, request)).fault
    assert fault.code == 9003 and name in fault.message


@pytest.mark.parametrize("method", ["GetParameterValues", "SetParameterValues", "Reboot"])
def test_a_method_in_an_unknown_namespace_is_9000_in_a_known_one(cpe, caplog, method):
    """TR-069 knows cwmp-1-0 .. cwmp-1-2 (and 1-3, 1-4 in the wild): an element of another
    namespace is no method of the CPE's, answered like any unknown method, in ours."""
    request = soap.build(method, xsd.SAMPLES[method], ns="urn:dslforum-org:cwmp-9-9")
    with caplog.at_level(logging.DEBUG):
        answer = cpe.ask(request)
    assert (answer.fault.code, answer.ns) == (9000, NS12)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


# -- bounded answers ------------------------------------------------------------------------

@pytest.mark.parametrize("request_of", [acs.get_parameter_values, acs.get_parameter_attributes])
def test_a_name_asked_many_times_is_answered_once(cpe, request_of):
    """400 x Device. (a 10 KB request) is the answer of one Device., not 400 copies."""
    one = cpe.args(request_of("Device."))["ParameterList"]
    assert len(one) > 5
    assert cpe.args(request_of(*["Device."] * 400))["ParameterList"] == one


@pytest.mark.parametrize("request_of", [acs.get_parameter_values, acs.get_parameter_attributes])
def test_a_name_inside_a_partial_path_asked_before_is_only_checked(cpe, request_of):
    one = cpe.args(request_of("Device.DeviceInfo."))["ParameterList"]
    assert cpe.args(request_of("Device.DeviceInfo.", "Device.DeviceInfo.UpTime",
                               "Device.DeviceInfo.UpTime"))["ParameterList"] == one
    assert cpe.fault(request_of("Device.", "Device.DeviceInfo.Nope")).code == 9005
    cpe.handler.features = Features(max_parameters=len(one))
    assert cpe.args(request_of("Device.DeviceInfo.", *["Device.DeviceInfo.UpTime"] * 5)
                    )["ParameterList"] == one


@pytest.mark.parametrize("request_of", [acs.get_parameter_values, acs.get_parameter_attributes])
def test_a_name_asked_before_its_partial_path_is_answered_once_in_its_place(cpe, request_of):
    one = cpe.args(request_of("Device.DeviceInfo."))["ParameterList"]
    first = one[-1]
    both = cpe.args(request_of(_name(first), "Device.DeviceInfo."))["ParameterList"]
    assert both[0] == first and len(both) == len(one)
    assert sorted(map(_name, both)) == sorted(map(_name, one))


def _name(item):
    return item[0]


def test_an_answer_over_max_response_parameters_is_9004(cpe):
    """The cap counts the whole answer, over all the names asked."""
    whole = len(cpe.args(acs.get_parameter_values("Device."))["ParameterList"])
    cpe.handler.features = Features(max_parameters=whole)
    assert len(cpe.args(acs.get_parameter_values("Device."))["ParameterList"]) == whole
    cpe.handler.features = Features(max_parameters=3)
    for request_of in (acs.get_parameter_values, acs.get_parameter_attributes):
        assert cpe.fault(request_of("Device.")).code == 9004
        assert cpe.fault(request_of("Device.DeviceInfo.UpTime", "Device.DeviceInfo.Manufacturer",
                                    "Device.ManagementServer.")).code == 9004
    cpe.handler.features = Features()
    names = len(cpe.args(acs.get_parameter_names("Device.", False))["ParameterList"])
    cpe.handler.features = Features(max_parameters=names)
    assert len(cpe.args(acs.get_parameter_names("Device.", False))["ParameterList"]) == names
    cpe.handler.features = Features(max_parameters=names - 1)
    assert cpe.fault(acs.get_parameter_names("Device.", False)).code == 9004
