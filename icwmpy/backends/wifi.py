"""``Device.WiFi.`` on OpenWrt: the UCI ``wireless`` package and the Linux side of its interfaces.

Mapped as bbfdm (iopsys) maps it, minus its private ubus objects: a ``wifi-device`` section is
a Radio, every ``wifi-iface`` an SSID, the ``mode ap`` ones also AccessPoints and the ``mode
sta`` ones EndPoints, each keyed by its section name (so SSIDReference is the same section
seen from the SSID table). Values come from the options netifd's ``mac80211.sh`` and
``hostapd.sh`` read, with their defaults; MAC addresses, status and counters from
``/sys/class/net/<ifname>``, associated stations from ``iw dev <ifname> station dump`` and
the power levels from ``iwinfo <ifname> txpowerlist``, both through the CPE's command
runner (absent tools give an empty table and the defaults, never an error). Without a
``wireless`` package every table is empty, so the same definitions serve a plain host.

Writes stage UCI changes; the engine commits them and ``wifi reload`` runs after the session.
"""

import math
import re
import subprocess
import time

from icwmpy.backends.system import STATS, SYS_NET, NetInterfaces, _counter, _int, _read
from icwmpy.backends.uci import UciTable
from icwmpy.model.types import format_datetime

PACKAGE = "wireless"
TRUE = ("1", "true", "on", "yes", "enabled")

BANDS = {"2g": "2.4GHz", "5g": "5GHz", "6g": "6GHz"}
HWMODE_BANDS = {"11a": "5g", "11b": "2g", "11g": "2g"}   # before OpenWrt 21.02's "band"
# What each band's radios can do, oldest first; EHT (htmode) adds "be".
BAND_STANDARDS = {"2g": ["b", "g", "n", "ax"], "5g": ["a", "n", "ac", "ax"], "6g": ["ax"]}
# The newest standard an htmode family enables, and the family that enables a standard.
FAMILY_STANDARD = {"NOHT": None, "HT": "n", "VHT": "ac", "HE": "ax", "EHT": "be"}
STANDARD_FAMILY = {"n": "HT", "ac": "VHT", "ax": "HE", "be": "EHT"}
BAND_WIDTHS = {"2g": [20, 40], "5g": [20, 40, 80, 160], "6g": [20, 40, 80, 160]}
CHANNELS = {
    "2g": list(range(1, 14)),
    "5g": [36, 40, 44, 48, 52, 56, 60, 64, 100, 104, 108, 112, 116, 120, 124, 128, 132, 136,
           140, 144, 149, 153, 157, 161, 165],
    "6g": list(range(1, 234, 4)),
}
NORTH_AMERICA = ("US", "CA")      # 2.4 GHz channels 1-11 only
DEFAULT_MAX_DBM = 20              # 100 mW, when iwinfo cannot tell the radio's top level

# TR-181 Security.ModeEnabled <-> the base of the UCI encryption value (before any +cipher).
MODES = {
    "None": "none", "WEP-64": "wep-open", "WEP-128": "wep-open",
    "WPA-Personal": "psk", "WPA2-Personal": "psk2", "WPA3-Personal": "sae",
    "WPA-WPA2-Personal": "psk-mixed", "WPA3-Personal-Transition": "sae-mixed",
    "WPA-Enterprise": "wpa", "WPA2-Enterprise": "wpa2", "WPA3-Enterprise": "wpa3",
    "WPA-WPA2-Enterprise": "wpa-mixed", "OWE": "owe",
}
BASE_MODES = {base: mode for mode, base in MODES.items() if not base.startswith("wep")}
# Options that hold the secrets of one kind of mode: dropped when the mode leaves that kind.
WEP_KEYS = ("key1", "key2", "key3", "key4")
RADIUS = ("auth_server", "auth_port", "auth_secret")
CIPHERS = {"ccmp": "AES", "aes": "AES", "tkip": "TKIP"}
MFP = {"0": "Disabled", "1": "Optional", "2": "Required"}
WPS_METHODS = {"PushButton": "wps_pushbutton", "Label": "wps_label"}


def _true(value):
    return str(value).strip().lower() in TRUE


def _flag(value):
    return "1" if value else "0"


def _int_or(text, default):
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


class _Sections(UciTable):
    """The sections of one type of ``wireless``; an anonymous one is named on first sight,
    ``<prefix><n>`` as LuCI names them (``wifinet0``), so instance numbers hold."""

    def __init__(self, type, prefix):
        super().__init__({"uci": PACKAGE, "type": type})
        self.prefix = prefix

    def _free_name(self, taken):
        n = 0
        while f"{self.prefix}{n}" in taken:
            n += 1
        return f"{self.prefix}{n}"


RADIOS = _Sections("wifi-device", "radio")
IFACES = _Sections("wifi-iface", "wifinet")


class Wireless:
    """What every table reads of the ``wireless`` package of one CPE."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.uci = ctx.uci

    def opt(self, section, option, default=""):
        value = self.uci.get(PACKAGE, section, option, default)
        return " ".join(value) if isinstance(value, list) else value

    def set(self, section, option, value):
        self.uci.set(PACKAGE, section, option, value)

    def radios(self):
        return RADIOS.instances(self.ctx, None, ())

    def ifaces(self, mode=None):
        names = IFACES.instances(self.ctx, None, ())
        return [n for n in names if mode is None or self.opt(n, "mode", "ap") == mode]

    def radio_ifaces(self, radio):
        return [n for n in self.ifaces() if self.opt(n, "device") == radio]

    def enabled(self, section):
        """Not disabled itself, nor (for an interface) its radio."""
        if _true(self.opt(section, "disabled", "0")):
            return False
        device = self.opt(section, "device")
        return not device or not _true(self.opt(device, "disabled", "0"))

    def band(self, radio):
        band = self.opt(radio, "band")
        if band in BANDS:
            return band
        hwmode = self.opt(radio, "hwmode")
        if hwmode in HWMODE_BANDS:
            return HWMODE_BANDS[hwmode]
        return "5g" if _int_or(self.opt(radio, "channel"), 0) > 14 else "2g"

    def ifname(self, iface):
        """The Linux name of a wifi-iface: its ``ifname``, else the one mac80211.sh makes,
        ``<phy>-<mode><n>``, counting the enabled interfaces of that radio and mode before it."""
        name = self.opt(iface, "ifname")
        if name:
            return name
        device, mode = self.opt(iface, "device"), self.opt(iface, "mode", "ap")
        radios = self.radios()
        phy = self.opt(device, "phy") or (f"phy{radios.index(device)}" if device in radios else "phy0")
        before = 0
        for other in self.ifaces():
            if other == iface:
                break
            if (self.opt(other, "device") == device and self.opt(other, "mode", "ap") == mode
                    and not _true(self.opt(other, "disabled", "0"))):
                before += 1
        prefix = {"adhoc": "ibss", "monitor": "mon"}.get(mode, mode)
        return f"{phy}-{prefix}{before}"

    def netdev(self, iface):
        """``/sys/class/net/<ifname>`` of an interface, or None when Linux has none. A
        disabled one has none (netifd does not make it; its generated name may even be
        the one an enabled interface after it gets)."""
        base = f"{SYS_NET}/{self.ifname(iface)}"
        return base if self.enabled(iface) and _read(f"{base}/ifindex") else None

    def run(self, argv):
        """A tool's output, or "" when it is missing or fails."""
        try:
            return self.ctx.run(argv, 5)
        except (OSError, subprocess.SubprocessError):
            return ""

    def stations(self, iface):
        """The stations of an interface (for a station interface: the access point it joined)."""
        if not self.enabled(iface):
            return {}
        return stations(self.run(["iw", "dev", self.ifname(iface), "station", "dump"]))

    def add_iface(self, mode):
        """A new wifi-iface as bbfdm adds one: on the first radio, disabled until
        configured, in network lan."""
        name = IFACES.add(self.ctx, None, (), None)
        radios = self.radios()
        for option, value in (("device", radios[0] if radios else ""), ("mode", mode),
                              ("network", "lan"), ("disabled", "1")):
            if value:
                self.set(name, option, value)
        return name


class _Handler:
    """A table of wireless sections. Parameters are plain options (``OPTIONS``: relname ->
    (option, default, inverted)) or ``get_<relname>`` / ``set_<relname>`` methods, dots as
    underscores."""

    OPTIONS = {}

    def __init__(self, ctx):
        self.w = Wireless(ctx)

    def get(self, keys, relname):
        if relname in self.OPTIONS:
            option, default, inverted = self.OPTIONS[relname]
            value = self.w.opt(keys[-1], option, default)
            return _flag(not _true(value)) if inverted else value
        getter = getattr(self, "get_" + relname.replace(".", "_"), None)
        return getter(keys[-1]) if getter else ""

    def set(self, keys, relname, value):
        if relname in self.OPTIONS:
            option, _, inverted = self.OPTIONS[relname]
            if inverted:
                value = _flag(value != "1")
            self.w.set(keys[-1], option, value)
            return
        setter = getattr(self, "set_" + relname.replace(".", "_"), None)
        if setter is None:
            raise OSError(f"{relname} cannot be written")
        setter(keys[-1], value)

    def delete(self, keys, key):
        self.w.uci.delete(PACKAGE, key)

    def stats(self, ifaces, relname):
        file, bits = STATS[relname]
        bases = [b for b in (self.w.netdev(i) for i in ifaces) if b]
        return _counter(sum(_int(f"{b}/statistics/{file}") for b in bases), bits)


class Radios(_Handler):
    """``WiFi.Radio.{i}.``: the ``wifi-device`` sections."""

    OPTIONS = {
        "Enable": ("disabled", "0", True),
        "BeaconPeriod": ("beacon_int", "100", False),
        "DTIMPeriod": ("dtim_period", "2", False),
        "RTSThreshold": ("rts", "2347", False),
        "FragmentationThreshold": ("frag", "2346", False),
        "IEEE80211hEnabled": ("doth", "1", False),
    }

    def instances(self, keys):
        return self.w.radios()

    def get(self, keys, relname):
        if relname.startswith("Stats."):
            return self.stats(self.w.radio_ifaces(keys[-1]), relname)
        return super().get(keys, relname)

    def get_Status(self, radio):
        if _true(self.w.opt(radio, "disabled", "0")):
            return "Down"
        up = any(_int(f"{b}/flags") & 1 for b in map(self.w.netdev, self.w.radio_ifaces(radio)) if b)
        return "Up" if up else "Down"

    def get_Name(self, radio):
        return radio

    def get_OperatingFrequencyBand(self, radio):
        return BANDS[self.w.band(radio)]

    get_SupportedFrequencyBands = get_OperatingFrequencyBand

    def set_OperatingFrequencyBand(self, radio, value):
        band = next(b for b, name in BANDS.items() if name == value)
        self.w.set(radio, "band", band)
        self.w.set(radio, "hwmode", "")
        channel = self.w.opt(radio, "channel")
        if channel not in ("", "auto") and int(channel) not in self._channels(radio):
            self.w.set(radio, "channel", "auto")   # the old band's channel means nothing here

    def _htmode(self, radio):
        """(family, width in MHz or None) of the radio's htmode ('HE80' -> ('HE', 80))."""
        m = re.match(r"^([A-Z]+?)(\d+)?[+-]?$", self.w.opt(radio, "htmode"))
        if not m:
            return None, None
        family = m.group(1)
        return family, 20 if family == "NOHT" else _int_or(m.group(2), None)

    def _standards(self, radio, family):
        band = self.w.band(radio)
        newest = FAMILY_STANDARD.get(family, "ax")
        known = BAND_STANDARDS[band] + ["be"]
        if newest is None:
            return [s for s in known if s in ("a", "b", "g")]
        return known[:known.index(newest) + 1] if newest in known else BAND_STANDARDS[band]

    def get_SupportedStandards(self, radio):
        family, _ = self._htmode(radio)
        return ",".join(self._standards(radio, "EHT" if family == "EHT" else "HE"))

    def get_OperatingStandards(self, radio):
        return ",".join(self._standards(radio, self._htmode(radio)[0] or "HE"))

    def set_OperatingStandards(self, radio, value):
        wanted = value.split(",")
        supported = self.get_SupportedStandards(radio).split(",")
        if not value or any(s not in supported for s in wanted):
            raise ValueError(f"{value!r}: this radio supports {','.join(supported)}")
        newest = max(wanted, key=supported.index)
        family = STANDARD_FAMILY.get(newest, "NOHT")
        width = self._htmode(radio)[1] or 20
        if family == "HT":
            width = min(width, 40)
        self.w.set(radio, "htmode", "NOHT" if family == "NOHT" else f"{family}{width}")

    def get_SupportedOperatingChannelBandwidths(self, radio):
        return ",".join([f"{w}MHz" for w in BAND_WIDTHS[self.w.band(radio)]] + ["Auto"])

    def get_OperatingChannelBandwidth(self, radio):
        width = self._htmode(radio)[1]
        return f"{width}MHz" if width else "Auto"

    def set_OperatingChannelBandwidth(self, radio, value):
        if value == "Auto":
            self.w.set(radio, "htmode", "")
            return
        width = int(value[:-3])
        if width not in BAND_WIDTHS[self.w.band(radio)]:
            raise ValueError(f"{value} is not a bandwidth of this radio")
        family = self._htmode(radio)[0] or "HE"
        if family == "NOHT" or (family == "HT" and width > 40):
            family = "VHT" if width > 40 else "HT"
        self.w.set(radio, "htmode", f"{family}{width}")

    def _channels(self, radio):
        band = self.w.band(radio)
        if band == "2g" and self.w.opt(radio, "country") in NORTH_AMERICA:
            return CHANNELS[band][:11]
        return CHANNELS[band]

    def get_PossibleChannels(self, radio):
        return ",".join(map(str, self._channels(radio)))

    def get_AutoChannelSupported(self, radio):
        return "1"

    def get_AutoChannelEnable(self, radio):
        return _flag(self.w.opt(radio, "channel", "auto") == "auto")

    def set_AutoChannelEnable(self, radio, value):
        if value == "1":
            self.w.set(radio, "channel", "auto")
        elif self.get_AutoChannelEnable(radio) == "1":
            self.w.set(radio, "channel", self._current_channel(radio) or str(self._channels(radio)[0]))

    def get_Channel(self, radio):
        return self._current_channel(radio) or "0"

    def _current_channel(self, radio):
        """The configured channel, or with ``auto`` the one the radio is on (``iw dev info``)."""
        channel = self.w.opt(radio, "channel", "auto")
        if channel != "auto":
            return channel
        for iface in self.w.radio_ifaces(radio):
            m = re.search(r"^\s*channel (\d+)", self.w.run(["iw", "dev", self.w.ifname(iface), "info"]),
                          re.M)
            if m:
                return m.group(1)
        return ""

    def set_Channel(self, radio, value):
        if int(value) not in self._channels(radio):
            raise ValueError(f"channel {value} is not one of {self.get_PossibleChannels(radio)}")
        self.w.set(radio, "channel", value)

    def get_RegulatoryDomain(self, radio):
        country = self.w.opt(radio, "country")
        return f"{country} " if country else ""

    def set_RegulatoryDomain(self, radio, value):
        self.w.set(radio, "country", value[:2])   # UCI has the country only, not I/O (3rd char)

    def _levels(self, radio):
        """The radio's power levels in dBm (``iwinfo txpowerlist``), else 0..DEFAULT_MAX_DBM."""
        for iface in self.w.radio_ifaces(radio):
            levels = re.findall(r"^\s*\*?\s*(-?\d+) dBm", self.w.run(
                ["iwinfo", self.w.ifname(iface), "txpowerlist"]), re.M)
            if levels and max(map(int, levels)) > 0:
                return sorted({int(dbm) for dbm in levels})
        return list(range(DEFAULT_MAX_DBM + 1))

    @staticmethod
    def _percent(dbm, levels):
        return min(100, max(0, math.ceil(dbm * 100 / levels[-1])))

    def get_TransmitPowerSupported(self, radio):
        """-1 (auto) and each level as a percent of the top one, as bbfdm lists them."""
        levels = self._levels(radio)
        return ",".join(["-1"] + sorted({str(self._percent(dbm, levels)) for dbm in levels}, key=int))

    def get_TransmitPower(self, radio):
        """``txpower`` (dBm) as a percent of the radio's top level; -1: unset (auto)."""
        dbm = _int_or(self.w.opt(radio, "txpower"), None)
        return "-1" if dbm is None else str(self._percent(dbm, self._levels(radio)))

    def set_TransmitPower(self, radio, value):
        """The level whose percent is nearest, so that a supported value reads back as set."""
        percent = int(value)
        if percent < 0:
            self.w.set(radio, "txpower", "")
            return
        levels = self._levels(radio)
        dbm = min(levels, key=lambda level: (abs(self._percent(level, levels) - percent), -level))
        self.w.set(radio, "txpower", str(dbm))

    def get_Upstream(self, radio):
        return "0"


class Ssids(_Handler):
    """``WiFi.SSID.{i}.``: every ``wifi-iface`` section."""

    OPTIONS = {"Enable": ("disabled", "0", True), "SSID": ("ssid", "", False)}

    def instances(self, keys):
        return self.w.ifaces()

    def get(self, keys, relname):
        if relname.startswith("Stats."):
            return self.stats([keys[-1]], relname)
        return super().get(keys, relname)

    def add(self, keys):
        return self.w.add_iface("ap")

    def get_Status(self, iface):
        if not self.w.enabled(iface):
            return "Down"
        base = self.w.netdev(iface)
        return NetInterfaces._status(base, _int(f"{base}/flags")) if base else "NotPresent"

    def get_Name(self, iface):
        return self.w.ifname(iface)

    def get_LowerLayers(self, iface):
        return self.w.ctx.refs.path("Device.WiFi.Radio.", self.w.opt(iface, "device"))

    def set_LowerLayers(self, iface, value):
        radio = self.w.ctx.refs.key(value)
        if radio is None or "," in value:
            raise ValueError(f"{value!r} is not one Device.WiFi.Radio instance")
        self.w.set(iface, "device", radio)

    def get_MACAddress(self, iface):
        base = self.w.netdev(iface)
        return _read(f"{base}/address") if base else self.w.opt(iface, "macaddr")

    get_BSSID = get_MACAddress

    def get_Upstream(self, iface):
        return _flag(self.w.opt(iface, "mode", "ap") == "sta")


def _base(encryption):
    return (encryption or "none").split("+")[0]


def _kind(base):
    """Which secrets a mode uses: WEP keys, a passphrase, a RADIUS server, or none."""
    if base.startswith("wep"):
        return "wep"
    if base.startswith(("psk", "sae")):
        return "personal"
    if base.startswith("wpa"):
        return "enterprise"
    return "none"


class AccessPoints(_Handler):
    """``WiFi.AccessPoint.{i}.``: the ``mode ap`` wifi-ifaces (each its own SSID)."""

    MODE = "ap"
    OPTIONS = {
        "Enable": ("disabled", "0", True),
        "SSIDAdvertisementEnabled": ("hidden", "0", True),
        "IsolationEnable": ("isolate", "0", False),
        "WMMEnable": ("wmm", "1", False),
        "UAPSDEnable": ("uapsd", "1", False),
        "MaxAllowedAssociations": ("maxassoc", "2007", False),   # hostapd's MAX_STA_COUNT
        "Security.RekeyingInterval": ("wpa_group_rekey", "86400", False),
        "Security.RadiusServerIPAddr": ("auth_server", "", False),
        "Security.RadiusServerPort": ("auth_port", "1812", False),
        "Security.RadiusSecret": ("auth_secret", "", False),
        "Security.KeyPassphrase": ("key", "", False),
        "Security.PreSharedKey": ("key", "", False),
        "Security.SAEPassphrase": ("key", "", False),
    }

    def instances(self, keys):
        return self.w.ifaces(self.MODE)

    def add(self, keys):
        return self.w.add_iface(self.MODE)

    def get_Status(self, iface):
        if not self.w.enabled(iface):
            return "Disabled"
        return "Error_Misconfigured" if self._misconfigured(iface) else "Enabled"

    def _misconfigured(self, iface):
        """What hostapd or wpa_supplicant would refuse to start with: no SSID, or no secret
        of the kind the mode needs."""
        kind = _kind(_base(self.w.opt(iface, "encryption")))
        if not self.w.opt(iface, "ssid"):
            return True
        if kind == "personal":
            key = self.w.opt(iface, "key")
            return not (8 <= len(key) <= 63 or re.fullmatch(r"[0-9A-Fa-f]{64}", key))
        if kind == "wep":
            return not self.get_Security_WEPKey(iface)
        return kind == "enterprise" and self.MODE == "ap" and not self.w.opt(iface, "auth_server")

    def get_SSIDReference(self, iface):
        return self.w.ctx.refs.path("Device.WiFi.SSID.", iface)

    def set_SSIDReference(self, iface, value):
        """One wifi-iface is both the SSID and its access point: only its own SSID fits."""
        if self.w.ctx.refs.key(value) != iface:
            raise ValueError(f"{value!r}: this access point's SSID is {self.get_SSIDReference(iface)}")

    def get_WMMCapability(self, iface):
        return "1"

    get_UAPSDCapability = get_WMMCapability

    def get_MACAddressControlEnabled(self, iface):
        return _flag(self.w.opt(iface, "macfilter") == "allow")

    def set_MACAddressControlEnabled(self, iface, value):
        self.w.set(iface, "macfilter", "allow" if value == "1" else "")

    def get_AllowedMACAddress(self, iface):
        value = self.w.uci.get(PACKAGE, iface, "maclist", [])
        return ",".join(value if isinstance(value, list) else value.split())

    def set_AllowedMACAddress(self, iface, value):
        self.w.set(iface, "maclist", [m for m in value.split(",") if m])

    # ------------------------------------------------------------- security
    def get_Security_ModesSupported(self, iface):
        return ",".join(MODES)

    def get_Security_ModeEnabled(self, iface):
        base = _base(self.w.opt(iface, "encryption"))
        if base.startswith("wep"):
            index = self.w.opt(iface, "key", "1")
            key = self.w.opt(iface, f"key{index}" if index in "1234" else "key1")
            return "WEP-64" if len(key.removeprefix("s:")) in (5, 10) else "WEP-128"
        return BASE_MODES.get(base, "None")

    def set_Security_ModeEnabled(self, iface, value):
        """``encryption`` of the mode (its +cipher kept where the mode takes one); the
        secrets of a kind of mode left behind are dropped, and ``ieee80211w`` goes back to
        the new mode's own default."""
        if value == self.get_Security_ModeEnabled(iface):
            return
        old, new = _base(self.w.opt(iface, "encryption")), MODES[value]
        if _kind(new) != _kind(old):
            for option in {"wep": WEP_KEYS, "enterprise": RADIUS}.get(_kind(old), ()):
                self.w.set(iface, option, "")
            index = self.w.opt(iface, "key") in ("1", "2", "3", "4")
            if (_kind(old) == "wep" and index) or _kind(new) in ("none", "enterprise"):
                self.w.set(iface, "key", "")   # a WEP key index, or a passphrase no longer used
        if _kind(new) == "wep":
            self.w.set(iface, "key", "1")
        cipher = self.w.opt(iface, "encryption").partition("+")[2]
        takes_cipher = new in ("psk", "psk2", "psk-mixed", "wpa", "wpa2", "wpa-mixed")
        self.w.set(iface, "encryption", f"{new}+{cipher}" if cipher and takes_cipher else new)
        self.w.set(iface, "ieee80211w", "")

    def get_Security_EncryptionMode(self, iface):
        encryption = self.w.opt(iface, "encryption")
        if _kind(_base(encryption)) in ("none", "wep"):
            return ""
        found = [CIPHERS[c] for c in encryption.split("+")[1:] if c in CIPHERS]
        return ",".join(sorted(set(found), key=["TKIP", "AES"].index)) or "AES"

    def set_Security_EncryptionMode(self, iface, value):
        base = _base(self.w.opt(iface, "encryption"))
        wanted = set(value.split(","))
        if base not in ("psk", "psk2", "psk-mixed", "wpa", "wpa2", "wpa-mixed"):
            if wanted != {"AES"}:
                raise ValueError(f"{self.get_Security_ModeEnabled(iface)} takes AES only")
            return
        suffix = {frozenset({"AES"}): "+ccmp", frozenset({"TKIP"}): "+tkip"}.get(
            frozenset(wanted), "+tkip+ccmp")
        self.w.set(iface, "encryption", base + suffix)

    def _wep_option(self, iface):
        index = self.w.opt(iface, "key", "1")
        return f"key{index}" if index in ("1", "2", "3", "4") else "key1"

    def get_Security_WEPKey(self, iface):
        return self.w.opt(iface, self._wep_option(iface))

    def set_Security_WEPKey(self, iface, value):
        self.w.set(iface, self._wep_option(iface), value)

    def get_Security_MFPConfig(self, iface):
        default = {"sae": "2", "sae-mixed": "1", "owe": "2", "wpa3": "2"}.get(
            _base(self.w.opt(iface, "encryption")), "0")
        return MFP.get(self.w.opt(iface, "ieee80211w", default), "Disabled")

    def set_Security_MFPConfig(self, iface, value):
        self.w.set(iface, "ieee80211w", next(k for k, v in MFP.items() if v == value))

    # ------------------------------------------------------------- WPS
    def get_WPS_Enable(self, iface):
        return _flag(self.get_WPS_ConfigMethodsEnabled(iface))

    def set_WPS_Enable(self, iface, value):
        if value == "0":
            for option in WPS_METHODS.values():
                self.w.set(iface, option, "")
        elif not self.get_WPS_ConfigMethodsEnabled(iface):
            self.w.set(iface, "wps_pushbutton", "1")

    def get_WPS_ConfigMethodsSupported(self, iface):
        return ",".join(WPS_METHODS)

    def get_WPS_ConfigMethodsEnabled(self, iface):
        return ",".join(m for m, option in WPS_METHODS.items() if _true(self.w.opt(iface, option, "0")))

    def set_WPS_ConfigMethodsEnabled(self, iface, value):
        wanted = value.split(",")
        for method, option in WPS_METHODS.items():
            self.w.set(iface, option, "1" if method in wanted else "")

    def get_WPS_Status(self, iface):
        if not self.get_WPS_ConfigMethodsEnabled(iface):
            return "Disabled"
        return "Unconfigured" if _base(self.w.opt(iface, "encryption")) == "none" else "Configured"


class EndPoints(AccessPoints):
    """``WiFi.EndPoint.{i}.``: the ``mode sta`` wifi-ifaces (clients of another network).
    Stats are of the link to the access point joined: downlink is what it receives (rx)."""

    MODE = "sta"

    def _link(self, iface):
        return next(iter(self.w.stations(iface).values()), {})

    def get_Stats_SignalStrength(self, iface):
        return _first_number(self._link(iface), "signal")

    def get_Stats_LastDataDownlinkRate(self, iface):
        return _kbps(self._link(iface), "rx bitrate")

    def get_Stats_LastDataUplinkRate(self, iface):
        return _kbps(self._link(iface), "tx bitrate")


STATION = re.compile(r"^Station ([0-9a-fA-F:]{17})", re.M)
RATE = re.compile(r"([\d.]+) MBit/s")
COUNTERS = {"Stats.BytesSent": "tx bytes", "Stats.BytesReceived": "rx bytes",
            "Stats.PacketsSent": "tx packets", "Stats.PacketsReceived": "rx packets",
            "Stats.RetransCount": "tx retries", "Stats.FailedRetransCount": "tx failed"}


def stations(text):
    """``iw dev <ifname> station dump`` as {MAC address: {field: value}}."""
    found = {}
    blocks = STATION.split(text)[1:]
    for mac, body in zip(blocks[::2], blocks[1::2], strict=True):
        fields = {}
        for line in body.splitlines():
            name, sep, value = line.strip().partition(":")
            if sep:
                fields[name.strip()] = value.strip()
        found[mac.lower()] = fields
    return found


def _first_number(fields, name):
    """The leading number of a field ('-48 [-50, -51] dBm' -> '-48'); '0' without one."""
    words = fields.get(name, "").split()
    return str(_int_or(words[0], 0)) if words else "0"


def _kbps(fields, name):
    """A ``tx bitrate`` / ``rx bitrate`` field in kbit/s, as TR-181 counts data rates."""
    m = RATE.search(fields.get(name, ""))
    return str(int(float(m.group(1)) * 1000)) if m else "0"


def _station_standard(line, band):
    """The standard of a station's ``tx bitrate`` line (``... HE-MCS 11 ...`` -> ax)."""
    for marker, standard in (("EHT-", "be"), ("HE-", "ax"), ("VHT-", "ac"), ("MCS", "n")):
        if marker in line:
            return standard
    return "a" if band != "2g" else "g"


class AssociatedDevices:
    """``AccessPoint.{i}.AssociatedDevice.{i}.``: the stations ``iw dev <ifname> station
    dump`` lists (one run per listing); keys are MAC addresses. Rates are the access
    point's: downlink is what it sends (tx), uplink what it receives (rx)."""

    def __init__(self, ctx):
        self.w = Wireless(ctx)
        self.snapshot = {}

    def instances(self, keys):
        self.snapshot[keys[-1]] = self.w.stations(keys[-1])
        return list(self.snapshot[keys[-1]])

    def get(self, keys, relname):
        iface, mac = keys[-2], keys[-1]
        fields = self.snapshot.get(iface, {}).get(mac, {})
        if relname in COUNTERS:
            return _first_number(fields, COUNTERS[relname])
        if relname == "MACAddress":
            return mac
        if relname == "AuthenticationState":
            return _flag(fields.get("authenticated") == "yes")
        if relname == "Active":
            return "1"
        if relname == "SignalStrength":
            return _first_number(fields, "signal")
        if relname == "LastDataDownlinkRate":
            return _kbps(fields, "tx bitrate")
        if relname == "LastDataUplinkRate":
            return _kbps(fields, "rx bitrate")
        if relname == "OperatingStandard":
            return _station_standard(fields.get("tx bitrate", ""),
                                     self.w.band(self.w.opt(iface, "device")))
        if relname == "AssociationTime":
            seconds = _int_or(fields.get("connected time", "").split(" ")[0], None)
            return format_datetime(None if seconds is None else time.time() - seconds)
        return ""
