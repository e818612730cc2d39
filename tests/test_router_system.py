"""Time, DeviceInfo extras, UPnP, DynamicDNS and UserInterface of the OpenWrt router.

The router's real UCI files (tests/fixtures/openwrt) are read and written through
``icwmpd -c`` and through a daemon session with the test ACS; each check reads the UCI
files (or the kernel's own files) back independently of icwmpy's backends.
"""

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import acs as A
from icwmpy.config.uci import Uci
from icwmpy.model.types import format_datetime
from openwrt import REPO, router_confdir, router_session

ZONEINFO = Path("/usr/share/zoneinfo")
SERVERS = [f"{n}.openwrt.pool.ntp.org" for n in range(4)]


@pytest.fixture
def router(tmp_path):
    return type("Router", (), {"conf": router_confdir(tmp_path), "state": tmp_path / "state",
                               "run": tmp_path / "run", "datamodel": None})()


def cli(router, *words):
    argv = [sys.executable, "-m", "icwmpy", "--confdir", str(router.conf), "--statedir",
            str(router.state), "--rundir", str(router.run)]
    if router.datamodel:
        argv += ["--datamodel", str(router.datamodel)]
    return subprocess.run(argv + ["-c", *words], capture_output=True, text=True, cwd=REPO,
                          timeout=60)


def get(router, path):
    done = cli(router, "get", path)
    assert done.returncode == 0, done.stderr
    return dict(line.split(" => ", 1) for line in done.stdout.splitlines())


def ok(router, *words):
    done = cli(router, *words)
    assert done.returncode == 0, done.stderr
    return done.stdout


def fault(router, *words):
    done = cli(router, *words)
    assert done.returncode == 1, done.stdout
    return int(re.search(r"Fault (\d+)", done.stderr).group(1))


def uci(router, package, section, option):
    return Uci(str(router.conf)).get(package, section, option)


# ------------------------------------------------------------------ Time

def test_time_reads_the_system_package(router):
    values = get(router, "Device.Time.")
    assert values["Device.Time.Enable"] == "1"
    assert values["Device.Time.LocalTimeZone"] == "CET-1CEST,M3.5.0,M10.5.0/3"
    assert values["Device.Time.ClientNumberOfEntries"] == "1"
    assert values["Device.Time.Client.1.Servers"] == ",".join(SERVERS)
    assert values["Device.Time.Client.1.Status"] in ("Synchronized", "Unsynchronized")


def test_ntp_servers_and_enable_are_written_to_system_ntp(router):
    servers = SERVERS[:2] + ["ntp.isp.example"] + SERVERS[3:]
    ok(router, "set", "Device.Time.Client.1.Servers", ",".join(servers))
    assert uci(router, "system", "ntp", "server") == servers
    ok(router, "set", "Device.Time.Client.1.Enable", "false")
    assert uci(router, "system", "ntp", "enabled") == "0"
    values = get(router, "Device.Time.")
    assert values["Device.Time.Status"] == values["Device.Time.Client.1.Status"] == "Disabled"
    assert fault(router, "set", "Device.Time.Client.1.Enable", "maybe") == 9007
    assert fault(router, "set", "Device.Time.Client.1.Status", "Disabled") == 9008
    assert fault(router, "set", "Device.Time.NTPServer1", "x") == 9005  # gone in TR-181 2.19


def test_the_one_ntp_client_can_be_deleted_and_added_again(router):
    assert fault(router, "add", "Device.Time.Client.") == 9004
    ok(router, "del", "Device.Time.Client.1.")
    assert Uci(str(router.conf)).section_type("system", "ntp") is None
    assert get(router, "Device.Time.")["Device.Time.ClientNumberOfEntries"] == "0"
    assert "Added Device.Time.Client.2." in ok(router, "add", "Device.Time.Client.")
    assert Uci(str(router.conf)).section_type("system", "ntp") == "timeserver"
    assert uci(router, "system", "ntp", "enabled") == "0"


def zone_rule(name):
    data = (ZONEINFO / name).read_bytes()
    return data.rstrip(b"\n").rsplit(b"\n", 1)[-1].decode()


def zones_with(rule):
    if not ZONEINFO.is_dir():
        return set()
    found = set()
    for path in ZONEINFO.rglob("*"):
        name = str(path.relative_to(ZONEINFO))
        if path.is_file() and "/" in name and name[0].isupper() \
                and not name.startswith(("posix/", "right/")) \
                and path.read_bytes()[:4] == b"TZif" and zone_rule(name) == rule:
            found.add(name)
    return found


@pytest.mark.parametrize("rule", ["EST5EDT,M3.2.0,M11.1.0", "<+0330>-3:30", "XYZ-13:17"])
def test_local_time_zone_keeps_zonename_true(router, rule):
    ok(router, "set", "Device.Time.LocalTimeZone", rule)
    assert uci(router, "system", "@system[0]", "timezone") == rule
    zonename = uci(router, "system", "@system[0]", "zonename")
    expected = zones_with(rule)
    if expected:
        assert zonename in expected
    else:
        assert zonename is None
    ok(router, "set", "Device.Time.LocalTimeZone", "CET-1CEST,M3.5.0,M10.5.0/3")
    if "Europe/Berlin" in zones_with("CET-1CEST,M3.5.0,M10.5.0/3"):
        # the rule of Berlin again: a zone with it (Berlin itself if it was still named)
        assert zone_rule(uci(router, "system", "@system[0]", "zonename")) == \
            "CET-1CEST,M3.5.0,M10.5.0/3"


def test_an_unchanged_zone_keeps_its_name(router):
    ok(router, "set", "Device.Time.LocalTimeZone", "CET-1CEST,M3.5.0,M10.5.0/3")
    if zones_with("CET-1CEST,M3.5.0,M10.5.0/3"):
        assert uci(router, "system", "@system[0]", "zonename") == "Europe/Berlin"


# ------------------------------------------------------------------ DeviceInfo

def test_supported_data_model_and_network_properties(router):
    values = get(router, "Device.DeviceInfo.")
    assert values["Device.DeviceInfo.SupportedDataModelNumberOfEntries"] == "1"
    assert values["Device.DeviceInfo.SupportedDataModel.1.URN"] == \
        "urn:broadband-forum-org:tr-181-2-19-1"
    assert values["Device.DeviceInfo.SupportedDataModel.1.URL"].endswith("tr-181-2-19-1-cwmp-full.xml")
    rmem = Path("/proc/sys/net/ipv4/tcp_rmem").read_text().split()
    scaling = Path("/proc/sys/net/ipv4/tcp_window_scaling").read_text().strip() == "1"
    assert values["Device.DeviceInfo.NetworkProperties.MaxTCPWindowSize"] == \
        (rmem[2] if scaling else "65535")
    assert "New Reno" in values["Device.DeviceInfo.NetworkProperties.TCPImplementation"].split(",")


def test_location_is_one_acs_given_instance(router):
    values = get(router, "Device.DeviceInfo.")
    assert values["Device.DeviceInfo.LocationNumberOfEntries"] == "0"
    tree = Uci(str(router.conf))
    tree.set("cwmp", "acs", "url", "https://acs.isp.example/")
    tree.commit("cwmp")
    assert "Added Device.DeviceInfo.Location.1." in ok(router, "add", "Device.DeviceInfo.Location.")
    assert fault(router, "add", "Device.DeviceInfo.Location.") == 9004
    before = time.time()
    geo = '<presence><geo:Point><gml:pos>52.52 13.40</gml:pos></geo:Point></presence>'
    ok(router, "set", "Device.DeviceInfo.Location.1.DataObject", geo)
    values = get(router, "Device.DeviceInfo.Location.1.")
    assert values["Device.DeviceInfo.Location.1.DataObject"] == geo
    assert values["Device.DeviceInfo.Location.1.Source"] == "External"
    assert values["Device.DeviceInfo.Location.1.ExternalProtocol"] == "CWMP"
    assert values["Device.DeviceInfo.Location.1.ExternalSource"] == "https://acs.isp.example/"
    acquired = values["Device.DeviceInfo.Location.1.AcquiredTime"]
    assert format_datetime(before - 1) <= acquired <= format_datetime(time.time() + 1)
    assert fault(router, "set", "Device.DeviceInfo.Location.1.Source", "GPS") == 9008
    assert fault(router, "set", "Device.DeviceInfo.Location.1.DataObject", "x" * 1201) == 9007
    ok(router, "del", "Device.DeviceInfo.Location.1.")
    assert get(router, "Device.DeviceInfo.")["Device.DeviceInfo.LocationNumberOfEntries"] == "0"


def sensors(hwmon, thermal):
    """{key: millidegree file} as the kernel lays them out, found independently."""
    found = {}
    for device in sorted(Path(hwmon).glob("hwmon*")):
        for temp in device.glob("temp*_input"):
            found[f"{device.name}/{temp.name[:-6]}"] = temp
    for zone in Path(thermal).glob("thermal_zone*"):
        found[zone.name] = zone / "temp"
    return found


def test_temperature_sensors_are_this_machines(router):
    """Whatever sensors this kernel has (none in many VMs: then the table is empty)."""
    real = sensors("/sys/class/hwmon", "/sys/class/thermal")
    values = get(router, "Device.DeviceInfo.TemperatureStatus.")
    count = values["Device.DeviceInfo.TemperatureStatus.TemperatureSensorNumberOfEntries"]
    assert count == str(len(real))
    base = "Device.DeviceInfo.TemperatureStatus.TemperatureSensor."
    for n in range(1, len(real) + 1):
        if values[f"{base}{n}.Status"] == "Enabled":
            assert -60 <= int(values[f"{base}{n}.Value"]) <= 150


@pytest.fixture
def fake_sys(tmp_path, router):
    """A sysfs-shaped tree (hwmon with history and a label, a thermal zone, a failing
    sensor) and the shipped definitions pointed at it."""
    hwmon, thermal = tmp_path / "hwmon", tmp_path / "thermal"
    files = {"hwmon0/name": "coretemp", "hwmon0/temp1_input": "47500", "hwmon0/temp1_label":
             "Package id 0", "hwmon0/temp1_lowest": "31000", "hwmon0/temp1_highest": "88250",
             "hwmon0/temp2_input": "45000", "hwmon1/name": "broken", "hwmon1/temp1_input": "",
             }
    for rel, text in files.items():
        (hwmon / rel).parent.mkdir(parents=True, exist_ok=True)
        (hwmon / rel).write_text(text + "\n")
    (thermal / "thermal_zone0").mkdir(parents=True)
    (thermal / "thermal_zone0" / "type").write_text("cpu-thermal\n")
    (thermal / "thermal_zone0" / "temp").write_text("-5200\n")
    return retarget(router, tmp_path, "deviceinfo.json",
                    "Device.DeviceInfo.TemperatureStatus.TemperatureSensor.{i}.", "_table",
                    {"hwmon": str(hwmon), "thermal": str(thermal)})


def retarget(router, tmp_path, file, path, name, args):
    """The router's CLI over a copy of the shipped definitions in which one backend's
    ``args`` point at the test's own files."""
    datamodel = tmp_path / "datamodel"
    shutil.copytree(REPO / "datamodel", datamodel)
    spec = json.loads((datamodel / file).read_text())
    spec[path][name]["args"] = args
    (datamodel / file).write_text(json.dumps(spec))
    router.datamodel = datamodel
    return router


def test_temperature_sensor_readings_in_celsius(fake_sys):
    base = "Device.DeviceInfo.TemperatureStatus."
    before = format_datetime(time.time() - 1)
    values = get(fake_sys, base)
    assert values[base + "TemperatureSensorNumberOfEntries"] == "4"
    s = {values[f"{base}TemperatureSensor.{n}.Name"]: {
        p: values[f"{base}TemperatureSensor.{n}.{p}"]
        for p in ("Enable", "Status", "Value", "MinValue", "MaxValue", "LastUpdate")}
        for n in range(1, 5)}
    assert s["coretemp Package id 0"] == {"Enable": "1", "Status": "Enabled", "Value": "48",
                                          "MinValue": "31", "MaxValue": "88",
                                          "LastUpdate": s["coretemp Package id 0"]["LastUpdate"]}
    assert s["coretemp Package id 0"]["LastUpdate"] >= before
    assert (s["coretemp"]["Value"], s["coretemp"]["MinValue"]) == ("45", "-274")
    assert (s["cpu-thermal"]["Value"], s["cpu-thermal"]["MaxValue"]) == ("-5", "-274")
    assert s["broken"] == {"Enable": "1", "Status": "Error", "Value": "-274", "MinValue": "-274",
                           "MaxValue": "-274", "LastUpdate": "0001-01-01T00:00:00Z"}
    number = next(n for n in range(1, 5)
                  if values[f"{base}TemperatureSensor.{n}.Name"] == "cpu-thermal")
    ok(fake_sys, "set", f"{base}TemperatureSensor.{number}.Enable", "0")
    values = get(fake_sys, f"{base}TemperatureSensor.{number}.")
    assert values[f"{base}TemperatureSensor.{number}.Status"] == "Disabled"
    assert values[f"{base}TemperatureSensor.{number}.Value"] == "-274"
    assert fault(fake_sys, "set", f"{base}TemperatureSensor.{number}.Value", "3") == 9008


# ------------------------------------------------------------------ UPnP, UserInterface

def test_upnp_device_maps_to_miniupnpd(router):
    values = get(router, "Device.UPnP.")
    assert values["Device.UPnP.Device.Enable"] == "1"
    assert values["Device.UPnP.Device.UPnPIGD"] == "1"
    assert values["Device.UPnP.Device.Capabilities.UPnPIGD"] == "1"      # igdv1 '1'
    ok(router, "set", "Device.UPnP.Device.Enable", "0")
    ok(router, "set", "Device.UPnP.Device.UPnPIGD", "false")
    assert uci(router, "upnpd", "config", "enabled") == "0"
    assert uci(router, "upnpd", "config", "enable_upnp") == "0"
    assert uci(router, "upnpd", "config", "enable_natpmp") == "1"
    assert fault(router, "set", "Device.UPnP.Device.Capabilities.UPnPIGD", "2") == 9008


UHTTPD = """
config uhttpd 'main'
\tlist listen_http '0.0.0.0:80'
\tlist listen_http '[::]:80'
\tlist listen_https '0.0.0.0:443'
\toption home '/www'
\toption cert '/etc/uhttpd.crt'
\toption key '/etc/uhttpd.key'
"""


def test_user_interface_protocols_are_what_uhttpd_listens_for(router):
    key = "Device.UserInterface.HTTPAccessSupportedProtocols"
    assert get(router, "Device.UserInterface.")[key] == ""
    (router.conf / "uhttpd").write_text(UHTTPD)
    assert get(router, "Device.UserInterface.")[key] == "HTTP,HTTPS"
    (router.conf / "uhttpd").write_text(UHTTPD.replace("\tlist listen_https '0.0.0.0:443'\n", ""))
    assert get(router, "Device.UserInterface.")[key] == "HTTP"


# ------------------------------------------------------------------ DynamicDNS

def ddns_client(values, name):
    base = "Device.DynamicDNS.Client."
    for key, value in values.items():
        if key.startswith(base) and key.endswith(".Hostname.1.Name") and value == name:
            return key[: -len("Hostname.1.Name")]
    raise AssertionError(f"no client updates {name}")


def test_ddns_clients_are_the_services(router, tmp_path):
    values = get(router, "Device.DynamicDNS.")
    assert values["Device.DynamicDNS.ClientNumberOfEntries"] == "2"
    main = ddns_client(values, "homenet.dyndns.org")
    six = ddns_client(values, "homenet.duckdns.org")
    assert (values[main + "Enable"], values[main + "Status"]) == ("1", "Connecting")
    assert (values[six + "Enable"], values[six + "Status"]) == ("0", "Disabled")
    assert values[main + "Username"] == "homeuser"
    assert values[main + "Password"] == ""                     # secret: never read back
    assert values[main + "Hostname.1.Status"] == "UpdateNeeded"
    # ddns-scripts' run directory: the last update's time
    rundir = tmp_path / "ddns-run"
    rundir.mkdir()
    tree = Uci(str(router.conf))
    tree.set("ddns", "global", "ddns_rundir", str(rundir))
    tree.commit("ddns")
    (rundir / "myddns_ipv4.update").write_text("1764590400\n")
    values = get(router, main)
    assert values[main + "Status"] == "Updated"
    assert values[main + "Hostname.1.Status"] == "Registered"
    assert values[main + "Hostname.1.LastUpdate"] == format_datetime(1764590400)


def test_ddns_supported_services_are_the_service_definitions(router, tmp_path):
    default, custom = tmp_path / "ddns" / "default", tmp_path / "ddns" / "custom"
    default.mkdir(parents=True)
    for name in ("dyndns.org", "duckdns.org", "no-ip.com"):
        (default / f"{name}.json").write_text(json.dumps(
            {"name": name, "ipv4": {"url": f"https://{name}/update?h=[DOMAIN]"}}))
    (default / "README").write_text("not a service\n")
    (default / "broken.json").write_text("{")
    retarget(router, tmp_path, "dynamicdns.json", "Device.DynamicDNS.", "SupportedServices",
             {"directories": [str(default), str(custom)]})
    key = "Device.DynamicDNS.SupportedServices"
    assert get(router, key)[key] == "duckdns.org,dyndns.org,no-ip.com"
    custom.mkdir()
    (custom / "mine.json").write_text(json.dumps({"name": "ddns.isp.example"}))
    assert get(router, key)[key] == "ddns.isp.example,duckdns.org,dyndns.org,no-ip.com"


def test_ddns_writes_go_to_the_service_sections(router):
    main = ddns_client(get(router, "Device.DynamicDNS."), "homenet.dyndns.org")
    ok(router, "set", main + "Password", "n3w-secret")
    ok(router, "set", main + "Hostname.1.Name", "home.dyndns.org")
    ok(router, "set", main + "Enable", "0")
    assert uci(router, "ddns", "myddns_ipv4", "password") == "n3w-secret"
    assert uci(router, "ddns", "myddns_ipv4", "domain") == "home.dyndns.org"
    assert uci(router, "ddns", "myddns_ipv4", "enabled") == "0"
    assert fault(router, "add", main + "Hostname.") == 9004
    assert fault(router, "del", main + "Hostname.1.") == 9001
    ok(router, "set", main + "Interface", "Device.IP.Interface.1")
    assert get(router, main + "Interface")[main + "Interface"] == "Device.IP.Interface.1"
    assert uci(router, "ddns", "myddns_ipv4", "interface")
    assert fault(router, "set", main + "Interface", "Device.IP.Interface.999") == 9007
    assert fault(router, "set", main + "Interface", "Device.DynamicDNS.Client.2") == 9007
    assert uci(router, "ddns", "myddns_ipv4", "interface")


def test_ddns_client_add_and_delete(router):
    added = ok(router, "add", "Device.DynamicDNS.Client.")
    number = re.search(r"Client\.(\d+)\.", added).group(1)
    path = f"Device.DynamicDNS.Client.{number}."
    ok(router, "set", path + "Username", "second")
    names = [n for n, t in Uci(str(router.conf)).sections("ddns", "service")]
    new = [n for n in names if n not in ("myddns_ipv4", "myddns_ipv6")]
    assert len(new) == 1
    assert Uci(str(router.conf)).options("ddns", new[0]) == {"enabled": "0", "username": "second"}
    ok(router, "del", path)
    assert [n for n, _ in Uci(str(router.conf)).sections("ddns", "service")] == \
        ["myddns_ipv4", "myddns_ipv6"]


# ------------------------------------------------------------------ one ACS session

def test_an_acs_session_provisions_time_upnp_and_ddns(tmp_path):
    s = router_session(
        tmp_path,
        A.set_parameter_values([
            ("Device.Time.Client.1.Servers", "ntp1.isp.example,ntp2.isp.example"),
            ("Device.Time.LocalTimeZone", "GMT0BST,M3.5.0/1,M10.5.0"),
            ("Device.UPnP.Device.Enable", "0")], "prov-1"),
        A.add_object("Device.DynamicDNS.Client.", "prov-2"),
        A.get_parameter_values("Device.DynamicDNS.ClientNumberOfEntries"),
        A.set_parameter_values([("Device.UPnP.Device.UPnPIGD", "0"),
                                ("Device.Time.Client.1.Enable", "perhaps")], "prov-3"))
    assert s.methods == ["Inform", "SetParameterValuesResponse", "AddObjectResponse",
                         "GetParameterValuesResponse", "Fault"]
    assert s.messages[1].parsed == {"Status": "1"}          # services reload after the session
    count = {p["Name"]: p["Value"] for p in s.messages[3].parsed["ParameterList"]}
    assert count == {"Device.DynamicDNS.ClientNumberOfEntries": "3"}
    assert "9007" in s.messages[4].raw.decode()
    tree = Uci(str(tmp_path / "config"))
    assert tree.get("system", "ntp", "server") == ["ntp1.isp.example", "ntp2.isp.example"]
    assert tree.get("system", "@system[0]", "timezone") == "GMT0BST,M3.5.0/1,M10.5.0"
    assert tree.get("upnpd", "config", "enabled") == "0"
    assert tree.get("upnpd", "config", "enable_upnp") == "1"    # the faulty SPV left nothing
    assert tree.get("system", "ntp", "enabled") == "1"
    assert len(tree.sections("ddns", "service")) == 3
    zonename = tree.get("system", "@system[0]", "zonename")
    assert zonename in zones_with("GMT0BST,M3.5.0/1,M10.5.0") or (
        zonename is None and not zones_with("GMT0BST,M3.5.0/1,M10.5.0"))
