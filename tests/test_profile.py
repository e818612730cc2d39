"""Device profiles: real GenieACS dumps served as the data model of simulated CPEs."""

import csv
import gc
import tracemalloc

import pytest

import testdata
from icwmpy.config.uci import Uci
from icwmpy.faults import CwmpFault
from icwmpy.model import DataModel
from icwmpy.model.engine import Addressing
from icwmpy.model.profile import ProfileError, load_profile
from icwmpy.model.types import TypeSpec
from icwmpy.store import Store

DUMPS = {  # file -> root
    "data_model_202BC1-BM632w-8KA8WA1151100043.csv": "InternetGatewayDevice.",
    "device-9CA2F4-EC220_G5_V3-22275K2000315.csv": "Device.",
}
META = ("DeviceID.", "Events.")

SMALL = """\
Parameter,Object,Writable,Value,Value type
DeviceID.Manufacturer,false,false,"Acme, Inc.",xsd:string
DeviceID.OUI,false,false,001122,xsd:string
DeviceID.ProductClass,false,false,Box,xsd:string
DeviceID.SerialNumber,false,false,SN-{cpe_id},xsd:string
InternetGatewayDevice.DeviceSummary,false,false,"InternetGatewayDevice:1.1[](Baseline:1)",
InternetGatewayDevice.DeviceInfo.SerialNumber,false,false,SN-{cpe_id},xsd:string
InternetGatewayDevice.DeviceInfo.Description,false,true,"unit {n} of {fleet}, {cpe_id}",xsd:string
InternetGatewayDevice.DeviceInfo.SoftwareVersion,false,false,1.0,xsd:string
InternetGatewayDevice.ManagementServer.ParameterKey,false,false,,xsd:string
InternetGatewayDevice.ManagementServer.PeriodicInformInterval,false,true,{n}0,xsd:unsignedInt
InternetGatewayDevice.ManagementServer.PeriodicInformEnable,false,true,true,xsd:boolean
InternetGatewayDevice.LANDevice,true,false,,
InternetGatewayDevice.LANDevice.1.Hosts.Host,true,true,,
InternetGatewayDevice.LANDevice.1.Hosts.Host.1.HostName,false,true,h1,xsd:string
InternetGatewayDevice.LANDevice.1.Hosts.Host.3.HostName,false,true,h3,xsd:string
InternetGatewayDevice.LANDevice.1.Hosts.Host.3.Active,false,false,true,xsd:boolean
InternetGatewayDevice.LANDevice.1.Hosts.HostNumberOfEntries,false,false,2,xsd:unsignedInt
"""
HOST = "InternetGatewayDevice.LANDevice.1.Hosts.Host."


def dump(name):
    return testdata.path("captures", "genieacs-sim", name)


def rows(path):
    """The dump's parameter rows as the test reads them: {name: (writable, value, type)}."""
    with open(path, newline="", encoding="utf-8") as f:
        return {r["Parameter"]: (r["Writable"] == "true", r["Value"],
                                 r["Value type"].removeprefix("xsd:") or "string")
                for r in csv.DictReader(f)
                if r["Object"] == "false" and not r["Parameter"].startswith(META)}


def model(profile, state, n):
    """CPE number ``n`` of a fleet over ``profile``, its state in ``state``."""
    state.mkdir(exist_ok=True)
    return DataModel(profile.definitions, Uci(str(state)), Store(str(state / "store")),
                     cpe=(f"cpe-{n}", n))


def values(m, path):
    return {name: value for name, value, _ in m.get_values(path)}


def fault(fn, *args):
    with pytest.raises(CwmpFault) as e:
        fn(*args)
    return e.value


@pytest.fixture
def small(tmp_path):
    (tmp_path / "small.csv").write_text(SMALL)
    return load_profile(tmp_path / "small.csv")


@testdata.needs("captures")
@pytest.mark.parametrize("name", DUMPS)
def test_every_dump_parameter_is_served_with_its_type_access_and_value(name, tmp_path):
    profile = load_profile(dump(name))
    root = DUMPS[name]
    assert profile.root == root
    m = model(profile, tmp_path, 1)
    assert m.root == root
    expected = rows(dump(name))
    served = {n: (v, t) for n, v, t in m.get_values(root)}
    assert set(served) == set(expected)
    writable = dict(m.get_names(root, False))
    for pname, (access, value, type_) in expected.items():
        assert served[pname] == (TypeSpec({"type": type_}).check(value), type_), pname
        assert writable[pname] is access, pname
    assert m.get_names("", True) == [(root, False)]
    assert [n for n, _, _ in m.get_attributes("")] == list(served)


@testdata.needs("captures")
def test_tr098_device_id_tables_and_forced_inform(tmp_path):
    profile = load_profile(dump("data_model_202BC1-BM632w-8KA8WA1151100043.csv"))
    assert profile.device_id == {"Manufacturer": "Huawei Technologies Co., Ltd.", "OUI": "202BC1",
                                 "ProductClass": "BM632w", "SerialNumber": "8KA8WA1151100043"}
    igd = "InternetGatewayDevice."
    assert profile.instances[igd + "OperatorProfile.1.WiMAXNetworkParameters.ChannelPlan."] == (
        "1", "11", "12", "13", "14")
    m = model(profile, tmp_path, 1)
    forced = {name for name, _, _ in m.forced_inform()}
    assert forced == {igd + p for p in (
        "DeviceSummary", "DeviceInfo.HardwareVersion", "DeviceInfo.SoftwareVersion",
        "DeviceInfo.SpecVersion", "DeviceInfo.ProvisioningCode", "ManagementServer.ParameterKey",
        "ManagementServer.ConnectionRequestURL",
        "WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.ExternalIPAddress")}
    names = dict(m.get_names(igd + "X_HUAWEI_FireWall.FilterMode.4.ACL.", True))
    assert list(names) == [f"{igd}X_HUAWEI_FireWall.FilterMode.4.ACL.{i}." for i in range(1, 8)]
    assert all(names.values())


@testdata.needs("captures")
def test_tr181_device_id_comes_from_the_deviceid_rows(tmp_path):
    profile = load_profile(dump("device-9CA2F4-EC220_G5_V3-22275K2000315.csv"))
    assert profile.device_id == {"Manufacturer": "TP-Link", "OUI": "9CA2F4",
                                 "ProductClass": "EC220-G5", "SerialNumber": "22275K2000315"}
    forced = {name for name, _, _ in model(profile, tmp_path, 1).forced_inform()}
    assert forced == {"Device." + p for p in (
        "RootDataModelVersion", "DeviceInfo.HardwareVersion", "DeviceInfo.SoftwareVersion",
        "DeviceInfo.ProvisioningCode", "ManagementServer.ParameterKey",
        "ManagementServer.ConnectionRequestURL")}


@testdata.needs("captures")
def test_two_cpes_over_a_real_dump_keep_sets_and_instances_apart_across_restarts(tmp_path):
    profile = load_profile(dump("data_model_202BC1-BM632w-8KA8WA1151100043.csv"))
    igd = "InternetGatewayDevice."
    ssid = igd + "LANDevice.1.WLANConfiguration.1.SSID"
    static = igd + "LANDevice.1.LANHostConfigManagement.DHCPStaticAddress."
    pools = igd + "LANDevice.1.LANHostConfigManagement.DHCPConditionalServingPool."
    a, b = model(profile, tmp_path / "a", 1), model(profile, tmp_path / "b", 2)
    dumped = a.read(ssid)
    a.set_values([(ssid, "fleet-a", "xsd:string")], parameter_key="k1")
    assert a.add_object(pools)[0] == 5
    a.set_values([(pools + "5.VendorClassID", "PHONE", "xsd:string")])
    a.delete_object(pools + "2.")
    a.delete_object(pools + "3.")
    assert a.add_object(static)[0] == 1      # a table the dump shows empty, and writable
    for m in (a, model(profile, tmp_path / "a", 1)):  # and after a restart
        assert m.read(ssid) == "fleet-a"
        assert m.read(igd + "ManagementServer.ParameterKey") == "k1"
        assert [n for n, _ in m.get_names(pools, True)] == [pools + n + "." for n in "145"]
        assert values(m, pools + "5.") == {pools + "5.Enable": "0", pools + "5.MaxAddress": "",
                                           pools + "5.MinAddress": "",
                                           pools + "5.VendorClassID": "PHONE",
                                           pools + "5.X_HUAWEI_DeviveDhcpRelay": "0"}
        assert m.get_names(static, True) == [(static + "1.", True)]
        assert m.read(static[:-1] + "NumberOfEntries") == "1"
        assert m.read(pools[: -len("ServingPool.")] + "PoolNumberOfEntries") == "3"
    assert b.read(ssid) == dumped
    assert b.read(igd + "ManagementServer.ParameterKey") == ""
    assert [n for n, _ in b.get_names(pools, True)] == [pools + n + "." for n in "1234"]
    assert b.get_names(static, True) == []
    assert b.read(static[:-1] + "NumberOfEntries") == "0"
    assert b.read(pools[: -len("ServingPool.")] + "PoolNumberOfEntries") == "4"
    assert fault(b.add_object, igd + "LANDevice.").code == 9005  # a read-only table


def test_templated_values_differ_per_cpe_and_other_braces_stay(small, tmp_path):
    one, seven = model(small, tmp_path / "1", 1), model(small, tmp_path / "7", 7)
    info = "InternetGatewayDevice.DeviceInfo."
    assert one.read(info + "Description") == "unit 1 of {fleet}, cpe-1"
    assert seven.read(info + "Description") == "unit 7 of {fleet}, cpe-7"
    assert seven.read(info + "SerialNumber") == "SN-cpe-7"
    assert seven.read("InternetGatewayDevice.ManagementServer.PeriodicInformInterval") == "70"
    assert small.device_id_of("cpe-7", 7)["SerialNumber"] == "SN-cpe-7"
    assert small.device_id["Manufacturer"] == "Acme, Inc."


def test_added_instances_take_numbers_after_the_dumped_ones_and_counts_follow(small, tmp_path):
    m = model(small, tmp_path, 1)
    count = "InternetGatewayDevice.LANDevice.1.Hosts.HostNumberOfEntries"
    assert values(m, HOST) == {HOST + "1.HostName": "h1", HOST + "1.Active": "0",
                               HOST + "3.HostName": "h3", HOST + "3.Active": "1"}
    assert m.read(count) == "2"
    m.delete_object(HOST + "3.")
    assert m.add_object(HOST)[0] == 4       # 3 was the dump's: not reused
    assert m.add_object(HOST)[0] == 5
    m.delete_object(HOST + "5.")
    assert m.add_object(HOST)[0] == 6
    assert values(m, HOST) == {HOST + "1.HostName": "h1", HOST + "1.Active": "0",
                               HOST + "4.HostName": "", HOST + "4.Active": "0",
                               HOST + "6.HostName": "", HOST + "6.Active": "0"}
    assert m.read(count) == "3"
    assert m.get_values("InternetGatewayDevice.ManagementServer.PeriodicInformEnable")[0][1:] == (
        "1", "boolean")


def test_an_igd_tree_answers_attributes_aliases_and_the_empty_path(small, tmp_path):
    m = model(small, tmp_path, 1)
    igd = "InternetGatewayDevice."
    assert m.get_values("") == m.get_values(igd)
    m.set_attributes([("", None, ["Subscriber"]), (igd + "LANDevice.", 2, None)])
    assert m.get_attributes(HOST + "3.HostName") == [(HOST + "3.HostName", 2, ["Subscriber"])]
    assert m.get_attributes(igd + "DeviceSummary") == [(igd + "DeviceSummary", 0, ["Subscriber"])]
    by_alias = Addressing(instance_alias=True)
    assert m.get_values(igd + "LANDevice.*.Hosts.Host.[cpe-3].Active", addressing=by_alias) == [
        ("InternetGatewayDevice.LANDevice.[cpe-1].Hosts.Host.[cpe-3].Active", "1", "boolean")]
    assert fault(m.get_values, "Device.").code == 9005


def test_a_set_is_checked_against_the_dumped_type(small, tmp_path):
    m = model(small, tmp_path, 1)
    interval = "InternetGatewayDevice.ManagementServer.PeriodicInformInterval"
    e = fault(m.set_values, [(interval, "-1", "xsd:unsignedInt")])
    assert e.details[0][1] == 9007
    e = fault(m.set_values, [("InternetGatewayDevice.DeviceInfo.SoftwareVersion", "2", None)])
    assert e.details[0][1] == 9008
    assert m.read(interval) == "10"


HEADER = "Parameter,Object,Writable,Value,Value type\n"
IDS = "".join(f"DeviceID.{k},false,false,x,xsd:string\n"
              for k in ("Manufacturer", "OUI", "ProductClass", "SerialNumber"))


@pytest.mark.parametrize("text, line, reason", [
    ("", 1, "not a parameter dump: empty file"),
    ("Parameter,Object,Writable,Value,Value type,Colour\n", 1, "unknown column 'Colour'"),
    ("Parameter,Object,Writable,Value\n", 1, "not a parameter dump: no column 'Value type'"),
    (HEADER + IDS, 6, "not a parameter dump: no Device. or InternetGatewayDevice. rows"),
    (HEADER + "Device.A,false,false,1,xsd:string\n", 3, "no DeviceID.Manufacturer row"),
    (HEADER + IDS + "Device.Bad Name.X,false,false,,xsd:string\n", 6,
     "invalid name 'Device.Bad Name.X': bad segment 'Bad Name'"),
    (HEADER + IDS + "Device.A.01.X,false,false,,\n", 6, "bad segment '01'"),
    (HEADER + IDS + "Device.A.1,false,false,,\n", 6, "invalid name 'Device.A.1' for a parameter"),
    (HEADER + IDS + "Foo.Bar,false,false,,\n", 6, "not under Device. or InternetGatewayDevice."),
    (HEADER + IDS + "Device.A,false,false,,\nInternetGatewayDevice.B,false,false,,\n", 7,
     "'InternetGatewayDevice.B' is outside this dump's root Device."),
    (HEADER + IDS + "Device.A,false,false,,\nDevice.A.B,false,false,,\n", 7,
     "'Device.A.B' is under parameter 'Device.A' (line 6)"),
    (HEADER + IDS + "Device.A,false,false,,\nDevice.A,true,false,,\n", 7,
     "'Device.A' is a parameter (line 6)"),
    (HEADER + IDS + "Device.A.B,false,false,,\nDevice.A,false,false,,\n", 7,
     "'Device.A' is an object (first at line 6)"),
    (HEADER + IDS + "Device.A,false,false,,\n\"Device.A\",false,true,,\n", 7,
     "'Device.A' appears twice (first at line 6)"),
    (HEADER + IDS + "Device.A,true,false,,\nDevice.A,true,false,,\n", 7,
     "'Device.A' appears twice (first at line 6)"),
    (HEADER + IDS + "Device.A,false,false,1.5,xsd:float\n", 6, "unknown type 'xsd:float'"),
    (HEADER + IDS + "Device.A,false,false,\"1,5\",xsd:unsignedInt\n", 6,
     "value '1,5' is not a valid unsignedInt"),
    (HEADER + IDS + "Device.A,false,false,yes,xsd:boolean\n", 6, "not a valid boolean"),
    (HEADER + IDS + "Device.A,maybe,false,,\n", 6, "Object must be true or false, not 'maybe'"),
    (HEADER + IDS + "Device.A,false,false,\n", 6, "4 fields where the header has 5"),
    (HEADER + IDS + "Device.T.1.X,false,false,,\nDevice.T.Y,false,false,,\n", 7,
     "'Device.T' mixes instances (1) and named children (Y)"),
    (HEADER + IDS + "Device.T.1.X,false,false,1,xsd:int\nDevice.T.2.X,false,false,,xsd:string\n",
     7, "'Device.T.2.X': string readOnly where line 6 has int readOnly"),
    (HEADER + IDS + "Device.A,false,false,\"unclosed\n", 6, "not a CSV parameter dump"),
])
def test_bad_profiles_are_refused_with_file_line_and_reason(tmp_path, text, line, reason):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ProfileError) as e:
        load_profile(path)
    assert str(e.value).startswith(f"{path}:{line}: ")
    assert reason in str(e.value)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(ProfileError, match=r"nope\.csv:0: No such file"):
        load_profile(tmp_path / "nope.csv")


def test_parameters_under_objects_without_rows_and_genieacs_ui_columns(tmp_path):
    path = tmp_path / "ui.csv"
    path.write_text(
        "Parameter,Object,Object timestamp,Writable,Writable timestamp,Value,Value type,"
        "Value timestamp,Notification,Notification timestamp,Access list,Access list timestamp\n"
        'DeviceID.ID,false,,false,,"x",xsd:string,,,,,\n'
        'Events.Inform,false,,false,,"2023-05-25T22:24:29.364Z",xsd:dateTime,,,,,\n'
        'Device.DeviceInfo.Manufacturer,false,,false,,"A",xsd:string,,,,,\n'
        'Device.DeviceInfo.ManufacturerOUI,false,,false,,"B",xsd:string,,,,,\n'
        'Device.DeviceInfo.ProductClass,false,,false,,"C",xsd:string,,,,,\n'
        'Device.DeviceInfo.SerialNumber,false,,false,,"D",xsd:string,,,,,\n'
        'Device.X.Y.1.Z,false,,true,,"2023-05-25T22:24:29.364Z",xsd:dateTime,,,,,\n')
    profile = load_profile(path)
    assert profile.device_id == {"Manufacturer": "A", "OUI": "B", "ProductClass": "C",
                                 "SerialNumber": "D"}
    assert profile.instances == {"Device.X.Y.": ("1",)}
    m = model(profile, tmp_path, 1)
    assert m.get_values("Device.X.") == [("Device.X.Y.1.Z", "2023-05-25T22:24:29.364Z", "dateTime")]


@testdata.needs("captures")
@pytest.mark.parametrize("name", DUMPS)
def test_memory_of_a_profile_and_of_each_more_cpe(name, tmp_path):
    """What a fleet costs: the profile once, then each CPE's DataModel (read whole once)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        profile = load_profile(dump(name))
        loaded = tracemalloc.get_traced_memory()[0] - before
        models = [model(profile, tmp_path / "0", 0)]
        models[0].get_values(profile.root)
        gc.collect()
        start = tracemalloc.get_traced_memory()[0]
        for n in range(1, 11):
            models.append(model(profile, tmp_path / str(n), n))
            models[-1].get_values(profile.root)
        gc.collect()
        per_cpe = (tracemalloc.get_traced_memory()[0] - start) / 10
    finally:
        tracemalloc.stop()
    print(f"\n{name}: profile {loaded / 1024:.0f} KiB, each more CPE {per_cpe / 1024:.1f} KiB")
    assert loaded < 3 * 1024 * 1024
    assert per_cpe < 32 * 1024
