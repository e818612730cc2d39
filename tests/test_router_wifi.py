"""Device.WiFi on the OpenWrt router fixture: what the real CLI and daemon read and write.

Every write is checked in the ``wireless`` file itself, as ``uci export`` prints it, and
read back through the data model. The Linux side comes from the real kernel (a dummy
interface named as a wifi-iface, in a network namespace of the test's own) and from
stand-ins for the wireless tools ``iw`` and ``iwinfo`` put first on PATH, printing what
those tools print on an OpenWrt 23.05 router.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import acs as A
from icwmpy.config.uci import Uci
from openwrt import STATION_DUMP, router_confdir, router_session, tools

REPO = Path(__file__).resolve().parents[1]
AP = "Device.WiFi.AccessPoint."

TXPOWERLIST = """\
   0 dBm (   1 mW)
   5 dBm (   3 mW)
  10 dBm (  10 mW)
  15 dBm (  31 mW)
* 20 dBm ( 100 mW)
  23 dBm ( 199 mW)
"""


class Router:
    """The router fixture's config in ``tmp_path`` and the real CLI over it; ``prefix`` runs
    the CLI inside something (``ip netns exec``), ``path`` goes first on its PATH."""

    def __init__(self, tmp_path, prefix=(), path=None):
        self.conf = router_confdir(tmp_path)
        self.state, self.run = tmp_path / "state", tmp_path / "run"
        self.prefix = list(prefix)
        self.env = dict(os.environ)
        if path:
            self.env["PATH"] = f"{path}:{self.env['PATH']}"

    def cli(self, *words):
        return subprocess.run(
            [*self.prefix, sys.executable, "-m", "icwmpy", "--confdir", str(self.conf),
             "--statedir", str(self.state), "--rundir", str(self.run), "-c", *words],
            capture_output=True, text=True, cwd=REPO, env=self.env, timeout=60)

    def get(self, path):
        done = self.cli("get", path)
        assert done.returncode == 0, done.stderr
        return dict(line.split(" => ", 1) for line in done.stdout.splitlines())

    def value(self, name):
        return self.get(name)[name]

    def set(self, name, value):
        done = self.cli("set", name, value)
        assert done.returncode == 0, done.stderr
        return done

    def fault(self, *words):
        """The fault code a CLI command ends with."""
        done = self.cli(*words)
        assert done.returncode == 1, done.stdout
        return done.stderr.split()[1].rstrip(":")

    def added(self, table):
        """AddObject through the CLI: the new instance's path."""
        done = self.cli("add", table)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()[-1]

    def text(self):
        return (self.conf / "wireless").read_text()

    def section(self, name):
        """The options of a wireless section as the file now has them (None: no section)."""
        return Uci(str(self.conf)).options("wireless", name)


@pytest.fixture
def router(tmp_path):
    return Router(tmp_path)


# ------------------------------------------------------------------ reading

def test_radios_are_the_wifi_devices(router):
    v = router.get("Device.WiFi.")
    assert v["Device.WiFi.RadioNumberOfEntries"] == "2"
    radio = {k[len("Device.WiFi.Radio.1."):]: x for k, x in v.items() if k.startswith("Device.WiFi.Radio.1.")}
    assert radio["Name"] == "radio0" and radio["Enable"] == "1"
    assert radio["OperatingFrequencyBand"] == "2.4GHz" == radio["SupportedFrequencyBands"]
    assert radio["Channel"] == "6" and radio["AutoChannelEnable"] == "0"
    assert radio["OperatingStandards"] == "b,g,n,ax"           # htmode HE20
    assert radio["OperatingChannelBandwidth"] == "20MHz"
    assert radio["PossibleChannels"] == ",".join(map(str, range(1, 14)))   # country DE
    assert radio["RegulatoryDomain"] == "DE "
    assert radio["TransmitPower"] == "-1"                       # no txpower: the driver's
    assert radio["Status"] == "Down"                            # no interface up here
    assert v["Device.WiFi.Radio.2.Name"] == "radio1"
    assert v["Device.WiFi.Radio.2.OperatingFrequencyBand"] == "5GHz"
    assert v["Device.WiFi.Radio.2.OperatingStandards"] == "a,n,ac,ax"
    assert v["Device.WiFi.Radio.2.OperatingChannelBandwidth"] == "80MHz"   # HE80
    assert v["Device.WiFi.Radio.2.Channel"] == "36"


def test_ssids_and_access_points_are_the_wifi_ifaces(router):
    v = router.get("Device.WiFi.")
    assert v["Device.WiFi.SSIDNumberOfEntries"] == "3" == v["Device.WiFi.AccessPointNumberOfEntries"]
    assert v["Device.WiFi.EndPointNumberOfEntries"] == "0"
    ssids = {v[f"Device.WiFi.SSID.{n}.SSID"]: n for n in (1, 2, 3)}
    assert set(ssids) == {"HomeNet", "HomeNet-5G", "HomeNet-Guest"}
    home, five, guest = (ssids[s] for s in ("HomeNet", "HomeNet-5G", "HomeNet-Guest"))
    # the names mac80211.sh gives interfaces without an ifname option
    assert [v[f"Device.WiFi.SSID.{n}.Name"] for n in (home, five, guest)] == \
        ["phy0-ap0", "phy1-ap0", "phy0-ap1"]
    assert v[f"Device.WiFi.SSID.{five}.LowerLayers"] == "Device.WiFi.Radio.2"
    assert v[f"Device.WiFi.SSID.{guest}.LowerLayers"] == "Device.WiFi.Radio.1"
    assert v[f"Device.WiFi.SSID.{home}.Status"] == "NotPresent"   # no such Linux interface
    assert v[f"Device.WiFi.SSID.{home}.MACAddress"] == ""
    aps = {v[f"{AP}{n}.SSIDReference"]: n for n in (1, 2, 3)}
    ap_home, ap_five, ap_guest = (aps[f"Device.WiFi.SSID.{n}"] for n in (home, five, guest))
    assert v[f"{AP}{ap_home}.Security.ModeEnabled"] == "WPA2-Personal"
    assert v[f"{AP}{ap_five}.Security.ModeEnabled"] == "WPA3-Personal-Transition"
    assert v[f"{AP}{ap_five}.Security.MFPConfig"] == "Optional"
    assert v[f"{AP}{ap_guest}.IsolationEnable"] == "1" and v[f"{AP}{ap_home}.IsolationEnable"] == "0"
    assert v[f"{AP}{ap_home}.Security.KeyPassphrase"] == ""       # secrets read back empty
    assert v[f"{AP}{ap_home}.WPS.Enable"] == "1" and v[f"{AP}{ap_guest}.WPS.Enable"] == "0"
    assert v[f"{AP}{ap_home}.WPS.Status"] == "Configured"
    assert v[f"{AP}{ap_home}.Status"] == "Enabled"
    assert "WPA3-Personal" in v[f"{AP}{ap_home}.Security.ModesSupported"].split(",")
    assert v[f"{AP}{ap_home}.AssociatedDeviceNumberOfEntries"] == "0"    # no iw: no stations


def test_no_wireless_package_no_wifi(tmp_path):
    router = Router(tmp_path)
    (router.conf / "wireless").unlink()
    v = router.get("Device.WiFi.")
    assert [v[f"Device.WiFi.{t}NumberOfEntries"] for t in ("Radio", "SSID", "AccessPoint", "EndPoint")] \
        == ["0"] * 4


# ------------------------------------------------------------------ writing

def test_acs_provisioning_ssid_passphrase_and_mode(router):
    router.set("Device.WiFi.SSID.1.SSID", "MyNetwork")
    router.set(f"{AP}1.Security.KeyPassphrase", "correct horse battery")
    router.set(f"{AP}1.Security.ModeEnabled", "WPA3-Personal")
    router.set(f"{AP}1.SSIDAdvertisementEnabled", "0")
    text = router.text()
    block = text[text.index("config wifi-iface 'default_radio0'"):].split("\n\n")[0]
    for line in ("option ssid 'MyNetwork'", "option key 'correct horse battery'",
                 "option encryption 'sae'", "option hidden '1'"):
        assert f"\t{line}\n" in block + "\n", block
    assert router.value(f"{AP}1.Security.ModeEnabled") == "WPA3-Personal"
    assert router.value(f"{AP}1.Security.MFPConfig") == "Required"     # sae's own default
    assert router.value(f"{AP}1.Security.KeyPassphrase") == ""
    assert router.section("default_radio1")["ssid"] == "HomeNet-5G"     # the others untouched


@pytest.mark.parametrize("mode, encryption", [
    ("None", "none"), ("WPA-Personal", "psk"), ("WPA2-Personal", "psk2"),
    ("WPA3-Personal", "sae"), ("WPA-WPA2-Personal", "psk-mixed"),
    ("WPA3-Personal-Transition", "sae-mixed"), ("WPA-Enterprise", "wpa"),
    ("WPA2-Enterprise", "wpa2"), ("WPA3-Enterprise", "wpa3"),
    ("WPA-WPA2-Enterprise", "wpa-mixed"), ("OWE", "owe")])
def test_security_modes_map_to_encryption(router, mode, encryption):
    router.set(f"{AP}2.Security.ModeEnabled", mode)
    options = router.section("default_radio1")
    assert options["encryption"] == encryption
    assert router.value(f"{AP}2.Security.ModeEnabled") == mode
    assert ("key" in options) == mode.endswith(("Personal", "Transition"))   # the passphrase stays
    # an enterprise mode needs a RADIUS server before the access point can work
    assert router.value(f"{AP}2.Status") == \
        ("Error_Misconfigured" if mode.endswith("Enterprise") else "Enabled")


def test_mode_changes_keep_the_cipher_and_drop_secrets_of_the_old_kind(router):
    uci = Uci(str(router.conf))
    uci.set("wireless", "default_radio0", "encryption", "psk2+ccmp")
    uci.commit("wireless")
    assert router.value(f"{AP}1.Security.EncryptionMode") == "AES"
    router.set(f"{AP}1.Security.ModeEnabled", "WPA-WPA2-Personal")
    assert router.section("default_radio0")["encryption"] == "psk-mixed+ccmp"
    router.set(f"{AP}1.Security.EncryptionMode", "TKIP,AES")
    assert router.section("default_radio0")["encryption"] == "psk-mixed+tkip+ccmp"
    router.set(f"{AP}1.Security.ModeEnabled", "WPA2-Enterprise")
    router.set(f"{AP}1.Security.RadiusServerIPAddr", "192.168.1.5")
    router.set(f"{AP}1.Security.RadiusSecret", "radius-secret")
    assert router.value(f"{AP}1.Status") == "Enabled"
    options = router.section("default_radio0")
    assert options["encryption"] == "wpa2+tkip+ccmp" and "key" not in options
    assert options["auth_server"] == "192.168.1.5" and options["auth_secret"] == "radius-secret"
    assert router.value(f"{AP}1.Security.RadiusServerPort") == "1812"
    router.set(f"{AP}1.Security.ModeEnabled", "WPA2-Personal")
    router.set(f"{AP}1.Security.PreSharedKey", "ab" * 32)
    options = router.section("default_radio0")
    assert options["key"] == "ab" * 32 and not {"auth_server", "auth_secret"} & set(options)
    router.set(f"{AP}1.Security.ModeEnabled", "WEP-64")
    router.set(f"{AP}1.Security.WEPKey", "0102030405")
    options = router.section("default_radio0")
    assert (options["encryption"], options["key"], options["key1"]) == ("wep-open", "1", "0102030405")
    assert router.value(f"{AP}1.Status") == "Enabled"
    assert router.value(f"{AP}1.Security.ModeEnabled") == "WEP-64"
    router.set(f"{AP}1.Security.ModeEnabled", "WPA2-Personal")
    options = router.section("default_radio0")
    assert options["encryption"] == "psk2" and not {"key", "key1"} & set(options)
    assert router.value(f"{AP}1.Status") == "Error_Misconfigured"    # no passphrase yet


def test_mac_filter_and_wps(router):
    router.set(f"{AP}1.AllowedMACAddress", "3c:22:fb:12:34:56,a4:83:e7:aa:bb:cc")
    router.set(f"{AP}1.MACAddressControlEnabled", "1")
    text = router.text()
    assert "\tlist maclist '3c:22:fb:12:34:56'\n\tlist maclist 'a4:83:e7:aa:bb:cc'\n" in text
    assert "\toption macfilter 'allow'\n" in text
    assert router.value(f"{AP}1.AllowedMACAddress") == "3c:22:fb:12:34:56,a4:83:e7:aa:bb:cc"
    router.set(f"{AP}1.WPS.ConfigMethodsEnabled", "PushButton,Label")
    assert router.section("default_radio0")["wps_label"] == "1"
    router.set(f"{AP}1.WPS.Enable", "0")
    assert not {"wps_pushbutton", "wps_label"} & set(router.section("default_radio0"))
    assert router.value(f"{AP}1.WPS.Status") == "Disabled"
    router.set(f"{AP}3.WPS.Enable", "1")
    assert router.section("guest_radio0")["wps_pushbutton"] == "1"
    assert router.fault("set", f"{AP}1.WPS.ConfigMethodsEnabled", "PIN") == "9007"


def test_an_anonymous_wifi_iface_is_named_once(router):
    with open(router.conf / "wireless", "a") as f:
        f.write("config wifi-iface\n\toption device 'radio1'\n\toption mode 'ap'\n"
                "\toption ssid 'Legacy'\n\toption encryption 'psk2'\n\toption key 'legacy-key'\n")
    v = router.get("Device.WiFi.")
    assert v["Device.WiFi.SSID.4.SSID"] == "Legacy" and v["Device.WiFi.SSID.4.Name"] == "phy1-ap1"
    assert "config wifi-iface 'wifinet0'\n\toption device 'radio1'\n" in router.text()
    assert router.value("Device.WiFi.SSID.4.SSID") == "Legacy"


def test_bad_values_are_refused_and_nothing_is_written(router):
    before = router.text()
    for name, value in ((f"{AP}1.Security.ModeEnabled", "WPA9-Personal"),
                        ("Device.WiFi.Radio.1.OperatingFrequencyBand", "7GHz"),
                        (f"{AP}1.Security.KeyPassphrase", "short"),
                        ("Device.WiFi.Radio.1.Channel", "300"),
                        ("Device.WiFi.Radio.1.TransmitPower", "101"),
                        ("Device.WiFi.SSID.1.SSID", "x" * 33),
                        ("Device.WiFi.Radio.1.RegulatoryDomain", "germany"),
                        (f"{AP}1.SSIDReference", "Device.IP.Interface.1")):
        assert router.fault("set", name, value) == "9007", name
    assert router.fault("set", "Device.WiFi.Radio.1.Name", "radio7") == "9008"
    # values of the right form that this radio cannot take: the backend refuses them (9007)
    assert router.fault("set", "Device.WiFi.Radio.2.Channel", "6") == "9007"
    assert router.fault("set", "Device.WiFi.Radio.1.OperatingStandards", "ac") == "9007"
    assert router.fault("set", f"{AP}1.SSIDReference", "Device.WiFi.SSID.2") == "9007"
    assert router.text() == before


def test_radio_settings(router):
    r1, r2 = "Device.WiFi.Radio.1.", "Device.WiFi.Radio.2."
    router.set(r1 + "AutoChannelEnable", "1")
    assert router.section("radio0")["channel"] == "auto"
    router.set(r1 + "Channel", "11")
    assert router.section("radio0")["channel"] == "11" and router.value(r1 + "AutoChannelEnable") == "0"
    router.set(r1 + "Enable", "0")
    assert router.section("radio0")["disabled"] == "1"
    assert router.value("Device.WiFi.SSID.1.Status") == "Down"
    assert router.value(f"{AP}1.Status") == "Disabled"
    router.set(r2 + "OperatingChannelBandwidth", "40MHz")
    assert router.section("radio1")["htmode"] == "HE40"
    router.set(r2 + "OperatingStandards", "a,n,ac")
    assert router.section("radio1")["htmode"] == "VHT40"
    assert router.value(r2 + "OperatingStandards") == "a,n,ac"
    router.set(r2 + "OperatingChannelBandwidth", "Auto")
    assert "htmode" not in router.section("radio1")
    router.set(r2 + "OperatingFrequencyBand", "2.4GHz")      # channel 36 means nothing there
    assert (router.section("radio1")["band"], router.section("radio1")["channel"]) == ("2g", "auto")
    router.set(r1 + "RegulatoryDomain", "US ")
    assert router.section("radio0")["country"] == "US"
    assert router.value(r1 + "PossibleChannels") == ",".join(map(str, range(1, 12)))
    router.set(r1 + "TransmitPower", "50")     # no iwinfo: levels 0..20 dBm
    assert router.section("radio0")["txpower"] == "10"
    assert router.value(r1 + "TransmitPower") == "50"
    router.set(r1 + "TransmitPower", "-1")
    assert "txpower" not in router.section("radio0")


def test_transmit_power_follows_the_radios_levels(tmp_path):
    bin_dir = tools(tmp_path / "bin", iwinfo={"phy0-ap0 txpowerlist": TXPOWERLIST})
    router = Router(tmp_path, path=bin_dir)
    r1 = "Device.WiFi.Radio.1."
    assert router.value(r1 + "TransmitPowerSupported") == "-1,0,22,44,66,87,100"
    router.set(r1 + "TransmitPower", "66")
    assert router.section("radio0")["txpower"] == "15"
    assert router.value(r1 + "TransmitPower") == "66"
    router.set(r1 + "TransmitPower", "50")      # nearest level: 10 dBm, 44 %
    assert router.section("radio0")["txpower"] == "10"


def test_ssids_access_points_and_end_points_are_added_and_deleted(router):
    assert router.added("Device.WiFi.SSID.") == "Device.WiFi.SSID.4."
    assert router.section("wifinet0") == {"device": "radio0", "mode": "ap", "network": "lan",
                                          "disabled": "1"}
    assert "config wifi-iface 'wifinet0'\n\toption device 'radio0'\n" in router.text()
    v = router.get("Device.WiFi.")
    assert v["Device.WiFi.SSID.4.Enable"] == "0" and v["Device.WiFi.AccessPointNumberOfEntries"] == "4"
    router.set("Device.WiFi.SSID.4.Enable", "1")
    assert router.value(f"{AP}4.Status") == "Error_Misconfigured"     # no SSID yet
    router.set("Device.WiFi.SSID.4.SSID", "Workshop")
    router.set("Device.WiFi.SSID.4.LowerLayers", "Device.WiFi.Radio.2")
    assert router.value(f"{AP}4.Status") == "Enabled"                 # an open network
    assert router.section("wifinet0") == {"device": "radio1", "mode": "ap", "network": "lan",
                                          "disabled": "0", "ssid": "Workshop"}
    assert router.value("Device.WiFi.SSID.4.Name") == "phy1-ap1"
    assert router.cli("del", "Device.WiFi.SSID.4.").returncode == 0
    assert router.section("wifinet0") is None and "wifinet0" not in router.text()

    ap = router.added(AP)
    assert router.section("wifinet0")["mode"] == "ap"
    v = router.get("Device.WiFi.")
    ssid = v[ap + "SSIDReference"]
    assert ssid.startswith("Device.WiFi.SSID.") and v[ssid + ".Enable"] == "0"
    assert router.cli("del", ap).returncode == 0
    assert router.section("wifinet0") is None

    end_point = router.added("Device.WiFi.EndPoint.")
    assert router.section("wifinet0")["mode"] == "sta"
    v = router.get("Device.WiFi.")
    ssid = v[end_point + "SSIDReference"]
    assert v[ssid + ".Upstream"] == "1" and v[ssid + ".Name"] == "phy0-sta0"
    assert v["Device.WiFi.AccessPointNumberOfEntries"] == "3"
    assert router.cli("del", end_point).returncode == 0
    assert router.section("wifinet0") is None


def test_associated_devices_from_the_station_dump(tmp_path):
    bin_dir = tools(tmp_path / "bin", iw={"dev phy0-ap0 station dump": STATION_DUMP})
    router = Router(tmp_path, path=bin_dir)
    v = router.get(f"{AP}1.")
    assert v[f"{AP}1.AssociatedDeviceNumberOfEntries"] == "2"
    sta = f"{AP}1.AssociatedDevice.1."
    assert v[sta + "MACAddress"] == "3c:22:fb:12:34:56"
    assert v[sta + "OperatingStandard"] == "ax"
    assert v[sta + "SignalStrength"] == "-48"
    assert (v[sta + "LastDataDownlinkRate"], v[sta + "LastDataUplinkRate"]) == ("286700", "229400")
    assert v[sta + "AuthenticationState"] == "1"
    assert (v[sta + "Stats.BytesSent"], v[sta + "Stats.BytesReceived"]) == ("9823412", "1523612")
    assert (v[sta + "Stats.RetransCount"], v[sta + "Stats.FailedRetransCount"]) == ("112", "3")
    assert v[sta + "AssociationTime"].endswith("Z") and v[sta + "AssociationTime"] > "2020"
    assert v[f"{AP}1.AssociatedDevice.2.OperatingStandard"] == "n"
    assert v[f"{AP}1.AssociatedDevice.2.AssociationTime"] > v[sta + "AssociationTime"]
    assert v[f"{AP}1.AssociatedDevice.2.LastDataUplinkRate"] == "6000"
    # the tool fails for the other interfaces: empty tables, not errors
    assert router.value(f"{AP}2.AssociatedDeviceNumberOfEntries") == "0"


def test_an_end_point_reports_its_link_to_the_access_point(tmp_path):
    link = STATION_DUMP.split("Station a4")[0].replace("phy0-ap0", "phy0-sta0")
    bin_dir = tools(tmp_path / "bin", iw={"dev phy0-sta0 station dump": link})
    router = Router(tmp_path, path=bin_dir)
    end_point = router.added("Device.WiFi.EndPoint.")
    assert router.value(end_point + "Stats.SignalStrength") == "0"      # disabled: no link
    router.set(end_point + "Enable", "1")
    v = router.get(end_point)
    assert v[end_point + "Status"] == "Error_Misconfigured"               # no SSID to join
    assert v[end_point + "Stats.SignalStrength"] == "-48"
    assert v[end_point + "Stats.LastDataDownlinkRate"] == "229400"        # what it receives
    assert v[end_point + "Stats.LastDataUplinkRate"] == "286700"
    assert "WPA3-Personal" in v[end_point + "Security.ModesSupported"].split(",")


# ------------------------------------------------------------------ the daemon

def test_an_acs_session_provisions_the_wifi(tmp_path):
    s = router_session(
        tmp_path,
        A.get_parameter_values("Device.WiFi.SSID.1.SSID", f"{AP}1.Security.ModeEnabled"),
        A.set_parameter_values([("Device.WiFi.SSID.1.SSID", "MyNetwork"),
                                (f"{AP}1.Security.KeyPassphrase", "s3cret-passphrase"),
                                (f"{AP}1.Security.ModeEnabled", "WPA3-Personal-Transition")],
                               "wifi-1"),
        A.add_object("Device.WiFi.SSID.", "wifi-2"),
        A.set_parameter_values([("Device.WiFi.SSID.4.SSID", "Lab"),
                                ("Device.WiFi.SSID.4.Enable", "1", "xsd:boolean")], "wifi-3"),
        A.add_object("Device.WiFi.SSID.", "wifi-4"),
        A.delete_object("Device.WiFi.SSID.5.", "wifi-5"),
        A.add_object(AP, "wifi-6"),
        A.set_parameter_values([(f"{AP}2.Security.ModeEnabled", "WEP-256")], "bad"))
    assert s.methods == ["Inform", "GetParameterValuesResponse", "SetParameterValuesResponse",
                         "AddObjectResponse", "SetParameterValuesResponse", "AddObjectResponse",
                         "DeleteObjectResponse", "AddObjectResponse", "Fault"], s.methods
    got = {p["Name"]: p["Value"] for p in s.messages[1].parsed["ParameterList"]}
    assert got == {"Device.WiFi.SSID.1.SSID": "HomeNet", f"{AP}1.Security.ModeEnabled": "WPA2-Personal"}
    assert s.messages[2].parsed == {"Status": "1"}      # wifi reload after the session
    assert s.messages[3].parsed == {"InstanceNumber": "4", "Status": "1"}
    assert s.messages[5].parsed["InstanceNumber"] == "5"
    assert s.messages[6].parsed == {"Status": "1"}
    assert s.messages[7].parsed["InstanceNumber"] == "5"     # AccessPoint 4 is SSID 4's
    fault = s.messages[8].raw.decode()
    assert "9003" in fault and "9007" in fault and f"{AP}2.Security.ModeEnabled" in fault
    uci = Uci(str(tmp_path / "config"))
    home = uci.options("wireless", "default_radio0")
    assert (home["ssid"], home["key"], home["encryption"]) == ("MyNetwork", "s3cret-passphrase", "sae-mixed")
    assert uci.options("wireless", "wifinet0") == {"device": "radio0", "mode": "ap", "network": "lan",
                                                   "disabled": "0", "ssid": "Lab"}
    # SSID 5 came and went; the AccessPoint added after it is a new wifi-iface, still disabled
    assert uci.options("wireless", "wifinet1") == {"device": "radio0", "mode": "ap", "network": "lan",
                                                   "disabled": "1"}
    assert len(uci.sections("wireless", "wifi-iface")) == 5
    assert uci.get("wireless", "default_radio1", "encryption") == "sae-mixed"
    assert "\toption ssid 'MyNetwork'\n" in (tmp_path / "config" / "wireless").read_text()


# ------------------------------------------------------------------ Linux

@pytest.fixture
def netns():
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("network namespaces need root and ip (iproute2)")
    ns = f"icwmpy-wifi-{os.getpid()}"
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True, timeout=10)
    except subprocess.CalledProcessError as e:
        pytest.skip(f"cannot make network namespaces: {e.stderr.decode().strip()}")
    yield ns
    subprocess.run(["ip", "netns", "del", ns], check=True, timeout=10)


def test_a_linux_interface_named_as_the_wifi_iface_gives_bssid_status_and_stats(tmp_path, netns):
    def ns(*argv):
        return subprocess.run(["ip", "netns", "exec", netns, *argv], check=True,
                              capture_output=True, text=True, timeout=10).stdout
    mac = "02:11:22:33:44:55"
    for scope in ("all", "default"):   # no IPv6 chatter changing the counters while read
        ns("sysctl", "-qw", f"net.ipv6.conf.{scope}.disable_ipv6=1")
    ns("ip", "link", "add", "phy0-ap0", "address", mac, "type", "veth", "peer", "name", "station")
    for dev, address in (("phy0-ap0", "10.77.0.1/24"), ("station", "10.77.0.2/24")):
        ns("ip", "addr", "add", address, "dev", dev)
        ns("ip", "link", "set", dev, "up")
    # traffic over the link: UDP datagrams sent from the access point's address
    ns(sys.executable, "-c", "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
       "s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'phy0-ap0'); "
       "[s.sendto(b'x' * 100, ('10.77.0.2', 9)) for _ in range(5)]")
    router = Router(tmp_path, prefix=["ip", "netns", "exec", netns])
    v = router.get("Device.WiFi.")
    sent = ns("cat", "/sys/class/net/phy0-ap0/statistics/tx_packets").strip()
    assert v["Device.WiFi.SSID.1.BSSID"] == mac == v["Device.WiFi.SSID.1.MACAddress"]
    assert v["Device.WiFi.SSID.1.Status"] == "Up"
    assert int(sent) > 0 and v["Device.WiFi.SSID.1.Stats.PacketsSent"] == sent
    assert v["Device.WiFi.SSID.1.Stats.BytesSent"] == \
        ns("cat", "/sys/class/net/phy0-ap0/statistics/tx_bytes").strip()
    assert v["Device.WiFi.Radio.1.Status"] == "Up" and v["Device.WiFi.Radio.2.Status"] == "Down"
    assert v["Device.WiFi.Radio.1.Stats.PacketsSent"] == sent
    assert v["Device.WiFi.SSID.3.Status"] == "NotPresent"       # phy0-ap1: not there
    router.set("Device.WiFi.SSID.1.Enable", "0")    # now the guest SSID is phy0-ap0
    v = router.get("Device.WiFi.SSID.")
    assert (v["Device.WiFi.SSID.1.Status"], v["Device.WiFi.SSID.1.MACAddress"]) == ("Down", "")
    assert (v["Device.WiFi.SSID.3.Name"], v["Device.WiFi.SSID.3.MACAddress"]) == ("phy0-ap0", mac)
    router.set("Device.WiFi.SSID.1.Enable", "1")
    ns("ip", "link", "set", "phy0-ap0", "down")
    assert router.value("Device.WiFi.SSID.1.Status") == "Down"
