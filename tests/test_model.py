"""The data model engine over real backends: files, commands, the store and UCI files."""

import json
import os
import sys
import tracemalloc

import pytest

from icwmpy.cli import default_datamodel_dir
from icwmpy.config.uci import Uci
from icwmpy.faults import CwmpFault
from icwmpy.model import DataModel
from icwmpy.model.engine import Addressing
from icwmpy.model.schema import Definitions, DefinitionError
from icwmpy.model.types import TypeSpec
from icwmpy.store import Store

CWMP_UCI = """
config acs 'acs'
\toption url 'http://127.0.0.1:7557/'
\toption periodic_inform_enable '1'

config inform_parameter
\toption enable '1'
\toption parameter_name 'Device.DeviceInfo.UpTime'

config inform_parameter
\toption enable 'false'
\toption parameter_name 'Device.DeviceInfo.Manufacturer'
"""


def definitions(tmp_path):
    (tmp_path / "uptime").write_text("1234.56 99.0\n")
    return {
        "_reload": {"cwmp": "true"},
        "Device.": {"RootDataModelVersion": {"type": "string", "max": 32, "const": "2.19",
                                             "forced": True}},
        "Device.DeviceInfo.": {
            "Manufacturer": {"type": "string", "max": 64, "store": True, "default": "icwmpy"},
            "UpTime": {"type": "unsignedInt", "file": str(tmp_path / "uptime"), "field": 0,
                       "format": "int", "activeNotify": "canDeny"},
            "SoftwareVersion": {"type": "string", "max": 64, "command": ["echo", "1.2.3"],
                                "forced": True, "activeNotify": "forceDefaultEnabled"},
            "ProvisioningCode": {"type": "string", "max": 64, "access": "readWrite", "store": True,
                                 "activeNotify": "forceDefaultEnabled"},
            "Hostname": {"type": "string", "max": 64, "access": "readWrite",
                         "command": [sys.executable, "-c", "print(open('%s').read())" % (tmp_path / "host")],
                         "set": [sys.executable, "-c",
                                 "import sys; v=sys.argv[1]; sys.exit(3) if v=='boom' else open('%s','w').write(v)" % (tmp_path / "host"), "{value}"]},
        },
        "Device.ManagementServer.": {
            "URL": {"type": "string", "max": 256, "access": "readWrite", "uci": "cwmp.acs.url"},
            "PeriodicInformEnable": {"type": "boolean", "access": "readWrite",
                                     "uci": "cwmp.acs.periodic_inform_enable"},
            "PeriodicInformInterval": {"type": "unsignedInt", "range": [1, None],
                                       "access": "readWrite", "uci": "cwmp.acs.periodic_inform_interval",
                                       "default": "1800"},
            "Password": {"type": "string", "max": 256, "access": "readWrite", "secret": True,
                         "uci": "cwmp.acs.passwd"},
            "ParameterKey": {"type": "string", "max": 32, "store": True, "forced": True},
        },
        "Device.ManagementServer.InformParameter.{i}.": {
            "_table": {"uci": "cwmp", "type": "inform_parameter", "access": "readWrite"},
            "Enable": {"type": "boolean", "access": "readWrite", "uci": "enable", "default": "0"},
            "Alias": {"type": "string", "max": 64, "access": "readWrite"},
            "ParameterName": {"type": "string", "max": 256, "access": "readWrite",
                              "uci": "parameter_name"},
        },
        "Device.Bench.Item.{i}.": {
            "_table": {"store": True, "access": "readWrite"},
            "Alias": {"type": "string", "max": 64, "access": "readWrite"},
            "Value": {"type": "int", "range": [-10, 10], "access": "readWrite", "default": "0"},
            "Mode": {"type": "string", "enum": ["A", "B"], "access": "readWrite", "default": "A"},
            "Tags": {"type": "string", "list": {"maxItems": 3}, "access": "readWrite"},
        },
        "Device.Bench.Item.{i}.Sub.{i}.": {
            "_table": {"store": True, "access": "readWrite"},
            "Name": {"type": "string", "access": "readWrite"},
        },
    }


@pytest.fixture
def env(tmp_path):
    conf = tmp_path / "config"
    conf.mkdir()
    (conf / "cwmp").write_text(CWMP_UCI)
    (tmp_path / "host").write_text("router")
    defs = Definitions()
    defs.load(definitions(tmp_path))

    def make():
        return DataModel(defs, Uci(str(conf)), Store(str(tmp_path / "state")))

    env = type("Env", (), {})()
    env.path, env.conf, env.make = tmp_path, conf, make
    env.model = make()
    return env


def values(model, path):
    return {n: v for n, v, _ in model.get_values(path)}


def fault(fn, *args):
    with pytest.raises(CwmpFault) as e:
        fn(*args)
    return e.value


def test_reads_every_backend_kind(env):
    v = values(env.model, "Device.")
    assert v["Device.RootDataModelVersion"] == "2.19"
    assert v["Device.DeviceInfo.Manufacturer"] == "icwmpy"
    assert v["Device.DeviceInfo.UpTime"] == "1234"
    assert v["Device.DeviceInfo.SoftwareVersion"] == "1.2.3"
    assert v["Device.DeviceInfo.Hostname"] == "router"
    assert v["Device.ManagementServer.URL"] == "http://127.0.0.1:7557/"
    assert v["Device.ManagementServer.PeriodicInformEnable"] == "1"
    assert v["Device.ManagementServer.PeriodicInformInterval"] == "1800"
    assert v["Device.ManagementServer.Password"] == ""
    assert v["Device.ManagementServer.InformParameter.2.Enable"] == "0"
    assert v["Device.ManagementServer.InformParameter.1.Alias"] == "cpe-1"
    assert v["Device.ManagementServer.InformParameterNumberOfEntries"] == "2"
    assert v["Device.Bench.ItemNumberOfEntries"] == "0"
    types = {n: t for n, _, t in env.model.get_values("Device.DeviceInfo.")}
    assert types["Device.DeviceInfo.UpTime"] == "unsignedInt"


@pytest.mark.parametrize("path", ["Device.Nope", "Device.DeviceInfo", "Device.DeviceInfo.UpTime.",
                                  "Device..DeviceInfo.", "device.", "Device.Bench.Item.1.",
                                  "Device.Bench.Item.{i}.", "Device.Bench.Item.01.Value",
                                  "InternetGatewayDevice.", "Device.DeviceInfo.Nope."])
def test_invalid_paths_are_9005(env, path):
    assert fault(env.model.get_values, path).code == 9005


def test_set_is_atomic_and_typed(env):
    m = env.model
    m.set_values([("Device.ManagementServer.URL", "http://acs.example/", "xsd:string"),
                  ("Device.ManagementServer.PeriodicInformInterval", "60", "xsd:unsignedInt")], "k1")
    assert "option url 'http://acs.example/'" in (env.conf / "cwmp").read_text()
    f = fault(m.set_values, [("Device.ManagementServer.URL", "http://other/", None),
                             ("Device.ManagementServer.PeriodicInformInterval", "0", None),
                             ("Device.DeviceInfo.UpTime", "5", None),
                             ("Device.ManagementServer.PeriodicInformEnable", "1", "xsd:int"),
                             ("Device.Nope", "1", None)], "k2")
    assert f.code == 9003
    assert [(n, c) for n, c, _ in f.details] == [
        ("Device.ManagementServer.PeriodicInformInterval", 9007), ("Device.DeviceInfo.UpTime", 9008),
        ("Device.ManagementServer.PeriodicInformEnable", 9006), ("Device.Nope", 9005)]
    v = values(env.make(), "Device.ManagementServer.")
    assert v["Device.ManagementServer.URL"] == "http://acs.example/"
    assert v["Device.ManagementServer.PeriodicInformInterval"] == "60"
    assert v["Device.ManagementServer.ParameterKey"] == "k1"


def test_backend_failure_rolls_back_what_was_applied(env):
    m = env.model
    f = fault(m.set_values, [("Device.ManagementServer.URL", "http://changed/", None),
                             ("Device.DeviceInfo.ProvisioningCode", "P1", None),
                             ("Device.DeviceInfo.Hostname", "boom", None)], "bad")
    assert f.code == 9002 and f.details[0][0] == "Device.DeviceInfo.Hostname"
    fresh = env.make()
    v = values(fresh, "Device.")
    assert v["Device.ManagementServer.URL"] == "http://127.0.0.1:7557/"
    assert v["Device.DeviceInfo.ProvisioningCode"] == ""
    assert v["Device.ManagementServer.ParameterKey"] == ""
    m.set_values([("Device.DeviceInfo.Hostname", "gw", None)], "ok")
    assert (env.path / "host").read_text() == "gw"


def test_duplicate_names_in_one_set_are_refused(env):
    f = fault(env.model.set_values, [("Device.DeviceInfo.ProvisioningCode", "a", None),
                                     ("Device.DeviceInfo.ProvisioningCode", "b", None)])
    assert f.code == 9003


@pytest.mark.parametrize("value,ok", [("-10", True), ("11", False), ("x", False), ("2147483648", False)])
def test_ranges(env, value, ok):
    number, _ = env.model.add_object("Device.Bench.Item.")
    name = f"Device.Bench.Item.{number}.Value"
    if ok:
        env.model.set_values([(name, value, None)])
        assert values(env.model, name)[name] == value
    else:
        assert fault(env.model.set_values, [(name, value, None)]).details[0][1] == 9007


def test_enumerations_and_lists(env):
    env.model.add_object("Device.Bench.Item.")
    env.model.set_values([("Device.Bench.Item.1.Mode", "B", None),
                          ("Device.Bench.Item.1.Tags", "a, b,c", None)])
    assert values(env.model, "Device.Bench.Item.1.Tags")["Device.Bench.Item.1.Tags"] == "a,b,c"
    assert fault(env.model.set_values, [("Device.Bench.Item.1.Mode", "C", None)]).details[0][1] == 9007
    assert fault(env.model.set_values, [("Device.Bench.Item.1.Tags", "a,b,c,d", None)]).details[0][1] == 9007


def test_instances_are_never_reused_and_counts_follow(env):
    m = env.model
    assert m.add_object("Device.Bench.Item.", "a") == (1, 0)
    assert m.add_object("Device.Bench.Item.")[0] == 2
    m.delete_object("Device.Bench.Item.2.", "b")
    m2 = env.make()  # after a restart too
    assert m2.add_object("Device.Bench.Item.")[0] == 3
    assert values(m2, "Device.Bench.ItemNumberOfEntries")["Device.Bench.ItemNumberOfEntries"] == "2"
    assert [n for n, _ in m2.get_names("Device.Bench.Item.", True)] == [
        "Device.Bench.Item.1.", "Device.Bench.Item.3."]
    assert values(m2, "Device.ManagementServer.ParameterKey")["Device.ManagementServer.ParameterKey"] == "b"


def test_uci_tables_add_and_delete_sections(env):
    m = env.model
    number, status = m.add_object("Device.ManagementServer.InformParameter.", "k")
    assert number == 3 and status == 1
    m.set_values([("Device.ManagementServer.InformParameter.3.ParameterName", "Device.X", None)])
    text = (env.conf / "cwmp").read_text()
    assert text.count("config inform_parameter") == 3 and "'Device.X'" in text
    m.delete_object("Device.ManagementServer.InformParameter.1.")
    fresh = env.make()
    names = [n for n, _ in fresh.get_names("Device.ManagementServer.InformParameter.", True)]
    assert names == ["Device.ManagementServer.InformParameter.2.",
                     "Device.ManagementServer.InformParameter.3."]
    assert dict(fresh.take_reloads()) == {}
    assert ("cwmp", "true") in m.take_reloads()


def test_nested_tables_and_deleting_a_parent_drops_its_children(env):
    m = env.model
    m.add_object("Device.Bench.Item.")
    m.add_object("Device.Bench.Item.1.Sub.")
    m.set_values([("Device.Bench.Item.1.Sub.1.Name", "x", None)])
    assert values(m, "Device.Bench.Item.1.SubNumberOfEntries")["Device.Bench.Item.1.SubNumberOfEntries"] == "1"
    m.delete_object("Device.Bench.Item.1.")
    m.add_object("Device.Bench.Item.")
    assert values(m, "Device.Bench.Item.2.") == {
        "Device.Bench.Item.2.Alias": "cpe-2", "Device.Bench.Item.2.Value": "0",
        "Device.Bench.Item.2.Mode": "A", "Device.Bench.Item.2.Tags": "",
        "Device.Bench.Item.2.SubNumberOfEntries": "0"}


def test_wildcards_and_aliases(env):
    m = env.model
    for _ in range(3):
        m.add_object("Device.Bench.Item.")
    m.set_values([("Device.Bench.Item.2.Alias", "second", None)])
    assert list(values(m, "Device.Bench.Item.*.Mode")) == [
        f"Device.Bench.Item.{i}.Mode" for i in (1, 2, 3)]
    assert values(m, "Device.Bench.Item.[second].Value") == {"Device.Bench.Item.2.Value": "0"}
    assert fault(m.get_values, "Device.Bench.Item.[nope].Value").code == 9005
    assert fault(m.set_values, [("Device.Bench.Item.3.Alias", "second", None)]).details[0][1] == 9007
    assert fault(m.set_values, [("Device.Bench.Item.3.Alias", "9lives", None)]).details[0][1] == 9007
    number, _ = m.add_object("Device.Bench.Item.[fourth].")
    assert values(m, f"Device.Bench.Item.{number}.Alias")[f"Device.Bench.Item.{number}.Alias"] == "fourth"
    assert fault(m.add_object, "Device.Bench.Item.[fourth].").code == 9007


def test_get_names(env):
    m = env.model
    assert m.get_names("", True) == [("Device.", False)]
    top = m.get_names("Device.", True)
    assert ("Device.DeviceInfo.", False) in top and ("Device.RootDataModelVersion", False) in top
    assert all(n.count(".") <= 2 for n, _ in top)
    full = dict(m.get_names("Device.ManagementServer.", False))
    assert full["Device.ManagementServer."] is False
    assert full["Device.ManagementServer.InformParameter."] is True
    assert full["Device.ManagementServer.InformParameter.1."] is True
    assert full["Device.ManagementServer.URL"] is True
    assert full["Device.ManagementServer.InformParameterNumberOfEntries"] is False
    assert m.get_names("Device.ManagementServer.URL", False) == [("Device.ManagementServer.URL", True)]
    assert fault(m.get_names, "Device.ManagementServer.URL", True).code == 9003


def test_attributes_inherit_persist_and_refuse_forced(env):
    m = env.model
    m.set_attributes([("Device.ManagementServer.", 1, ["Subscriber"])])
    m.set_attributes([("Device.ManagementServer.URL", 2, None)])
    attrs = {n: (v, a) for n, v, a in env.make().get_attributes("Device.ManagementServer.")}
    assert attrs["Device.ManagementServer.URL"] == (2, ["Subscriber"])
    assert attrs["Device.ManagementServer.PeriodicInformEnable"] == (1, ["Subscriber"])
    assert env.make().get_attributes("Device.DeviceInfo.SoftwareVersion")[0][1] == 2
    assert fault(m.set_attributes, [("Device.DeviceInfo.SoftwareVersion", 0, None)]).code == 9009
    assert fault(m.set_attributes, [("Device.DeviceInfo.UpTime", 2, None)]).code == 9009
    assert fault(m.set_attributes, [("Device.Nope", 1, None)]).code == 9005
    assert fault(m.set_attributes, [("Device.DeviceInfo.UpTime", 7, None)]).code == 9003
    # setting the object again drops the parameter's own setting
    m.set_attributes([("Device.ManagementServer.", 0, None)])
    assert m.get_attributes("Device.ManagementServer.URL")[0][1] == 0


def test_notification_values_and_forced_inform(env):
    m = env.model
    m.set_attributes([("Device.ManagementServer.URL", 1, None)])
    got = {n: (v, notif) for n, v, _, notif in m.notification_values()}
    assert got["Device.ManagementServer.URL"] == ("http://127.0.0.1:7557/", 1)
    assert got["Device.DeviceInfo.SoftwareVersion"] == ("1.2.3", 2)
    assert "Device.DeviceInfo.UpTime" not in got
    forced = [n for n, _, _ in m.forced_inform()]
    assert forced == ["Device.RootDataModelVersion", "Device.DeviceInfo.SoftwareVersion",
                      "Device.ManagementServer.ParameterKey"]


def test_change_listeners_hear_successful_sets_only(env):
    heard = []
    env.model.change_listeners.append(heard.append)
    env.model.set_values([("Device.ManagementServer.URL", "http://x/", None)])
    with pytest.raises(CwmpFault):
        env.model.set_values([("Device.ManagementServer.URL", "y" * 300, None)])
    assert heard == [{"Device.ManagementServer.URL": "http://x/"}]
    env.model.add_object("Device.Bench.Item.")
    assert heard[-1] == {"Device.Bench.Item.1.": None}


def test_definition_errors_name_file_and_path(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"Device.X.": {"Y": {"type": "strin"}}}))
    with pytest.raises(DefinitionError, match=r"bad.json: Device.X.: unknown type"):
        Definitions().load_file(str(bad))
    bad.write_text(json.dumps({"Device.X.{i}.Y.{i}{i}.": {}}))
    with pytest.raises(DefinitionError, match="bad.json"):
        Definitions().load_file(str(bad))


def test_store_survives_kill_between_writes(env):
    """Every namespace file is whole JSON at any time (written by rename)."""
    env.model.add_object("Device.Bench.Item.")
    state = env.path / "state"
    for f in os.listdir(state):
        if f.endswith(".json"):
            json.loads((state / f).read_text())
        else:
            pytest.fail(f"stray temporary file {f}")


def cpe(tmp_path, defs, name, packages):
    """A DataModel of its own: config dir with ``packages`` (name -> UCI text), store."""
    conf = tmp_path / name / "config"
    conf.mkdir(parents=True)
    for package, text in packages.items():
        (conf / package).write_text(text)
    return DataModel(defs, Uci(str(conf)), Store(str(tmp_path / name / "state")))


def test_data_models_over_one_definitions_keep_their_cpes_apart(env):
    """Fleet mode: the definitions and their backends are shared, every value, instance and
    table handler belongs to one CPE's store and UCI tree."""
    defs = Definitions()
    defs.load(definitions(env.path))
    defs.load({"Device.DeviceInfo.VendorConfigFile.{i}.": {
        "_table": {"python": "icwmpy.backends.system:VendorConfigFiles"},
        "Name": {"type": "string"}}})
    a = cpe(env.path, defs, "a", {"cwmp": CWMP_UCI})
    b = cpe(env.path, defs, "b", {"cwmp": CWMP_UCI, "network": "config interface 'lan'\n"})
    backend = defs.by_path["Device.DeviceInfo."].children["ProvisioningCode"].backend
    assert cpe(env.path, defs, "c", {}).defs is defs and \
        defs.by_path["Device.DeviceInfo."].children["ProvisioningCode"].backend is backend

    a.set_values([("Device.DeviceInfo.ProvisioningCode", "a-code", None),
                  ("Device.ManagementServer.URL", "http://acs-a/", None)])
    assert values(a, "Device.DeviceInfo.")["Device.DeviceInfo.ProvisioningCode"] == "a-code"
    assert values(b, "Device.DeviceInfo.")["Device.DeviceInfo.ProvisioningCode"] == ""
    assert b.read("Device.ManagementServer.URL") == "http://127.0.0.1:7557/"

    assert [a.add_object("Device.Bench.Item.")[0] for _ in range(3)] == [1, 2, 3]
    assert b.add_object("Device.Bench.Item.")[0] == 1
    a.set_values([("Device.Bench.Item.1.Value", "7", None),
                  ("Device.Bench.Item.1.Alias", "mine", None)])
    mine = values(a, "Device.Bench.Item.1.")
    theirs = values(b, "Device.Bench.Item.1.")
    assert (mine["Device.Bench.Item.1.Alias"], mine["Device.Bench.Item.1.Value"]) == ("mine", "7")
    assert (theirs["Device.Bench.Item.1.Alias"], theirs["Device.Bench.Item.1.Value"]) == \
        ("cpe-1", "0")
    assert fault(b.get_values, "Device.Bench.Item.2.").code == 9005
    assert a.read("Device.Bench.ItemNumberOfEntries") == "3"
    assert b.read("Device.Bench.ItemNumberOfEntries") == "1"

    b.add_object("Device.ManagementServer.InformParameter.")
    assert a.read("Device.ManagementServer.InformParameterNumberOfEntries") == "2"
    assert b.read("Device.ManagementServer.InformParameterNumberOfEntries") == "3"

    # each CPE's handler lists its own UCI packages
    assert set(values(a, "Device.DeviceInfo.VendorConfigFile.").values()) == {"cwmp"}
    assert set(values(b, "Device.DeviceInfo.VendorConfigFile.").values()) == {"cwmp", "network"}


def test_a_data_model_over_bound_definitions_costs_little_memory(tmp_path):
    """Fleet mode runs thousands of CPEs over one Definitions: the first data model binds
    the backends (tens of KiB for the shipped tree), the others add no per-parameter
    objects. (A throwaway binding first, so that imports are not counted.)"""
    Definitions().load_dir(default_datamodel_dir()).bind()
    defs = Definitions().load_dir(default_datamodel_dir())
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        first = cpe(tmp_path, defs, "first", {})
        binding = tracemalloc.get_traced_memory()[0] - start
        second = cpe(tmp_path, defs, "second", {})
        cost = tracemalloc.get_traced_memory()[0] - start - binding
    finally:
        tracemalloc.stop()
    assert first.defs is second.defs
    assert cost < binding / 4, (cost, binding)


def test_bound_definitions_take_no_more_files(env):
    with pytest.raises(DefinitionError, match="bound"):
        env.model.defs.load({"Device.Late.": {"X": {"type": "string", "const": "x"}}})


def test_unusable_backend_spec_is_a_definition_error(tmp_path):
    defs = Definitions()
    defs.load({"Device.X.": {"Y": {"type": "string", "uci": "no-dots-outside-a-table"}}})
    with pytest.raises(DefinitionError, match=r"^Device.X.Y: uci 'no-dots-outside-a-table'"):
        DataModel(defs, Uci(str(tmp_path)), Store(str(tmp_path / "state")))


def test_tables_the_acs_may_not_change_refuse_add_and_delete(tmp_path):
    defs = Definitions()
    defs.load({"Device.Fixed.{i}.": {"_table": {"store": True}, "Name": {"type": "string"}}})
    state = Store(str(tmp_path / "state"))
    state["tables"].set("Device.Fixed.", ["1"])
    model = DataModel(defs, Uci(str(tmp_path)), state)
    assert fault(model.add_object, "Device.Fixed.").code == 9005
    assert fault(model.delete_object, "Device.Fixed.1.").code == 9005
    assert model.get_names("Device.Fixed.", False)[0] == ("Device.Fixed.", False)


@pytest.mark.parametrize("value, ok", [
    ("", True), ("http://acs", True), ("HTTPS://[::1]:7547/cwmp", True), ("notaurl", False),
    ("ftp://x", False), ("http://", False), ("http://a b/", False), ("http://acs:99999/", False),
    ("http://[::1/", False),
])
def test_schemes_facet_takes_urls_of_those_schemes_only(value, ok):
    spec = TypeSpec({"type": "string", "max": 64, "schemes": ["http", "https"]})
    if ok:
        assert spec.check(value) == value
    else:
        with pytest.raises(CwmpFault) as e:
            spec.check(value)
        assert e.value.code == 9007


def test_names_as_instance_mode_shows_them(env):
    m = env.model
    m.add_object("Device.Bench.Item.")
    m.add_object("Device.Bench.Item.[b].")
    m.add_object("Device.Bench.Item.[b].Sub.")
    listed = [("Device.Bench.Item.1.Value", "0", "int"),
              ("Device.Bench.Item.2.Sub.1.Name", "", "string"),
              ("Device.Gone.Param", "x", "string"), ("Device.ManagementServer.URL", "u", "string")]
    assert [n for n, _, _ in m.shown(listed, Addressing(instance_alias=True))] == [
        "Device.Bench.Item.[cpe-1].Value", "Device.Bench.Item.[b].Sub.[cpe-1].Name",
        "Device.Gone.Param", "Device.ManagementServer.URL"]
    assert m.shown(listed, Addressing()) == listed
    assert list(values(m, "Device.Bench.Item.[b].Sub.")) == [
        "Device.Bench.Item.2.Sub.1.Name"]  # without Addressing: numbers, as internal users want


def test_references_between_tables_follow_the_cpe_numbering(tmp_path):
    """A backend holding another table's key gets its instance's path, and back."""
    from icwmpy.config.uci import Uci
    from icwmpy.model import DataModel
    from icwmpy.model.schema import Definitions
    from icwmpy.store import Store

    (tmp_path / "wireless").write_text("config wifi-device 'radio0'\nconfig wifi-device 'radio1'\n")
    defs = Definitions()
    defs.load({"Device.WiFi.Radio.{i}.": {
        "_table": {"uci": "wireless", "type": "wifi-device"},
        "Channel": {"type": "string", "uci": "channel"}}})
    model = DataModel(defs, Uci(str(tmp_path)), Store(str(tmp_path / "state")))
    refs = model.ctx.refs
    with model._operation():
        assert refs.path("Device.WiFi.Radio.", "radio1") == "Device.WiFi.Radio.2"
        assert refs.path("Device.WiFi.Radio.", "radio9") == ""
        assert refs.key("Device.WiFi.Radio.1.") == "radio0"
        assert refs.key("Device.WiFi.Radio.7") is None
        assert refs.key("Device.WiFi.Nothing.1") is None


def refuse_odd(ctx, value, **_):
    """A setter of a device that takes even numbers only (for the test below)."""
    from icwmpy.faults import CwmpFault
    if int(value) % 2:
        raise CwmpFault(9007, f"{value} is odd")


def test_a_value_the_backend_refuses_is_9007_and_nothing_stays_staged(tmp_path):
    from icwmpy.config.uci import Uci
    from icwmpy.faults import CwmpFault
    from icwmpy.model import DataModel
    from icwmpy.model.schema import Definitions
    from icwmpy.store import Store

    (tmp_path / "box").write_text("config box 'main'\n\toption name 'one'\n")
    defs = Definitions()
    defs.load({"Device.Box.": {
        "Name": {"type": "string", "access": "readWrite", "uci": "box.main.name"},
        "Even": {"type": "unsignedInt", "access": "readWrite", "python": "icwmpy.backends.system:env",
                 "args": {"name": "NOTHING"}, "setter": "test_model:refuse_odd"}}})
    uci = Uci(str(tmp_path))
    model = DataModel(defs, uci, Store(str(tmp_path / "state")))
    with pytest.raises(CwmpFault) as fault:
        model.set_values([("Device.Box.Name", "two", None), ("Device.Box.Even", "3", None)])
    assert fault.value.code == 9003
    assert fault.value.details == [("Device.Box.Even", 9007, "3 is odd")]
    assert uci.changed() == set() and uci.get("box", "main", "name") == "one"
    assert model.set_values([("Device.Box.Even", "4", None)]) == 0


class CountedRows:
    """A table handler that counts how often its instances are listed (test below)."""
    listings = 0

    def __init__(self, ctx):
        pass

    def instances(self, keys):
        CountedRows.listings += 1
        return [str(n) for n in range(1, 201)]

    def get(self, keys, relname):
        return keys[-1]


def test_names_asked_in_one_request_list_each_table_once(tmp_path):
    """GetParameterValues of 200 explicit names of a 200-row table lists it once, not 200
    times (which made the cost grow with names x rows)."""
    from icwmpy.config.uci import Uci
    from icwmpy.model import DataModel
    from icwmpy.model.schema import Definitions
    from icwmpy.rpc.methods import _concat
    from icwmpy.store import Store

    defs = Definitions()
    defs.load({"Device.Rows.{i}.": {"_table": {"python": "test_model:CountedRows"},
                                    "Key": {"type": "string"}}})
    model = DataModel(defs, Uci(str(tmp_path)), Store(str(tmp_path / "state")))
    names = [f"Device.Rows.{n}.Key" for n in range(1, 201)]
    CountedRows.listings = 0
    out = _concat(model.operation, model.get_values, model.check, names, None, 1000)
    assert [value for _, value, _ in out] == [str(n) for n in range(1, 201)]
    assert CountedRows.listings == 1
