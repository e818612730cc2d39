"""The cwmp package validated against cwmp.spec: types, ranges, defaults, messages."""

import importlib.resources
import logging
import pathlib
import shutil

import pytest
from configobj import ConfigObj

from icwmpy.config.settings import ConfigError, Settings, load_settings
from icwmpy.config.uci import Uci
from icwmpy.config.settings import SECTIONS

DEFAULT_CONFIG = pathlib.Path(__file__).resolve().parent.parent / "etc" / "config" / "cwmp"


def spec():
    text = importlib.resources.files("icwmpy.config").joinpath("cwmp.spec").read_text()
    return ConfigObj(text.splitlines(), list_values=False, _inspec=True)


def load(tmp_path, text):
    (tmp_path / "cwmp").write_text(text)
    warnings = []
    return load_settings(tmp_path, warn=warnings.append), warnings


def one(tmp_path, section, option, value):
    """Load a config setting one option (UCI-quoted) and return its validated value."""
    settings, warnings = load(tmp_path, f"config {section} '{section}'\n\toption {option} {value}\n")
    assert warnings == []
    return getattr(settings, section)[option]


def error(tmp_path, section, option, value):
    with pytest.raises(ConfigError) as err:
        one(tmp_path, section, option, value)
    return str(err.value)


def test_default_config_validates_and_every_option_is_known(tmp_path):
    shutil.copy(DEFAULT_CONFIG, tmp_path / "cwmp")
    warnings = []
    settings = load_settings(tmp_path, warn=warnings.append)
    assert warnings == []
    assert isinstance(settings, Settings)
    assert settings.path == str(tmp_path / "cwmp")
    assert settings.acs.url == ""
    assert settings.acs.periodic_inform_enable is True
    assert settings.acs.periodic_inform_interval == 86400
    assert settings.cpe.port == 7547
    assert settings.cpe.log_severity == "INFO"
    assert settings.lwn.enable is False
    assert settings.inform_parameters == []
    # every option of the default file is one the spec knows (and so is checked)
    known = spec()
    for name, type in Uci(tmp_path).sections("cwmp"):
        for option in Uci(tmp_path).options("cwmp", name):
            assert option in known[type], f"{type}.{option}"


def test_empty_file_gives_every_default(tmp_path):
    settings, warnings = load(tmp_path, "")
    assert warnings == []
    known = spec()
    for section in SECTIONS:
        assert set(getattr(settings, section)) == set(known[section])
    assert settings.cpe.path == "/"
    assert settings.cpe.default_wan_interface == "wan"
    assert settings.acs.retry_interval_multiplier == 2000
    assert settings.cpe.delay_reboot == -1


def test_missing_file_warns_and_gives_defaults(tmp_path):
    warnings = []
    settings = load_settings(tmp_path, warn=warnings.append)
    assert settings.cpe.session_timeout == 60
    assert warnings == [f"{tmp_path / 'cwmp'}: no such file, using the defaults"]


def test_empty_value_means_default(tmp_path):
    assert one(tmp_path, "cpe", "port", "''") == 7547
    assert one(tmp_path, "cpe", "log_file_name", "''") == "/var/log/icwmpd.log"
    assert one(tmp_path, "acs", "periodic_inform_enable", "''") is True


@pytest.mark.parametrize("word, value", [
    ("1", True), ("true", True), ("TRUE", True), ("on", True), ("yes", True),
    ("enable", True), ("enabled", True), ("0", False), ("false", False), ("Off", False),
    ("no", False), ("disable", False), ("disabled", False),
])
def test_boolean_accepts(tmp_path, word, value):
    assert one(tmp_path, "acs", "insecure_enable", word) is value


@pytest.mark.parametrize("word", ["2", "maybe", "ja", "y"])
def test_boolean_rejects(tmp_path, word):
    assert "expected a boolean" in error(tmp_path, "acs", "insecure_enable", word)


@pytest.mark.parametrize("option, word, value", [
    ("port", "7548", 7548), ("port", "'  8080 '", 8080), ("port", "0", 0), ("port", "65535", 65535),
    ("session_timeout", "+30", 30), ("delay_reboot", "-1", -1),
])
def test_integer_accepts(tmp_path, option, word, value):
    assert one(tmp_path, "cpe", option, word) == value


@pytest.mark.parametrize("section, option, word, wanted", [
    ("cpe", "port", "abc", "an integer from 0 to 65535"),
    ("cpe", "port", "65536", "an integer from 0 to 65535"),
    ("cpe", "port", "1.5", "an integer from 0 to 65535"),
    ("cpe", "port", "0x10", "an integer from 0 to 65535"),
    ("acs", "periodic_inform_interval", "0", "an integer >= 1"),
    ("acs", "retry_interval_multiplier", "999", "an integer from 1000 to 65535"),
    ("cpe", "amd_version", "7", "an integer from 1 to 6"),
    ("cpe", "delay_reboot", "-2", "an integer >= -1"),
    ("acs", "heartbeat_interval", "29", "an integer >= 30"),  # TR-181 ReportingInterval
])
def test_integer_rejects(tmp_path, section, option, word, wanted):
    assert error(tmp_path, section, option, word).endswith(": expected " + wanted)


@pytest.mark.parametrize("section, option, word, value", [
    ("acs", "compression", "gzip", "GZIP"),
    ("acs", "compression", "DEFLATE", "Deflate"),
    ("cpe", "log_severity", "debug", "DEBUG"),
    ("cpe", "log_severity", "CRITIC", "CRITIC"),
    ("cpe", "instance_mode", "InstanceAlias", "InstanceAlias"),
    ("transfer_complete", "transfer_type", "upload", "Upload"),
])
def test_option_accepts_any_case(tmp_path, section, option, word, value):
    assert one(tmp_path, section, option, word) == value


def test_option_rejects_and_lists_choices(tmp_path):
    message = error(tmp_path, "acs", "compression", "zip")
    assert message.endswith(": expected one of Disabled, GZIP, Deflate")


def test_csv_list(tmp_path):
    assert one(tmp_path, "transfer_complete", "file_type", "'1 Firmware Upgrade Image, 2 Web Content'") == [
        "1 Firmware Upgrade Image", "2 Web Content"]
    assert one(tmp_path, "du_state_change", "operation_type", "'install,Uninstall'") == ["Install", "Uninstall"]
    settings, _ = load(tmp_path, "config du_state_change\n\tlist fault_code 9001\n\tlist fault_code 9003\n")
    assert settings.du_state_change.fault_code == ["9001", "9003"]
    assert "expected one of Install, Update, Uninstall" in error(
        tmp_path, "du_state_change", "operation_type", "'Install,Reboot'")


@pytest.mark.parametrize("word, value", [
    ("'2024-01-31T12:00:00Z'", 1706702400),
    ("'2024-01-31T13:00:00+01:00'", 1706702400),
    ("'2024-01-31T12:00:00'", 1706702400),
    ("'2024-01-31T12:00:00.5Z'", 1706702400),
    ("'0001-01-01T00:00:00Z'", 0),
    ("0", 0),
    ("'2024-01-31T11:59:60Z'", 1706702399),  # a leap second, as the data model takes it
])
def test_datetime_accepts(tmp_path, word, value):
    assert one(tmp_path, "acs", "periodic_inform_time", word) == value


@pytest.mark.parametrize("word", ["tomorrow", "'2024-01-31 12:00:00'", "'2024-02-30T00:00:00Z'"])
def test_datetime_rejects(tmp_path, word):
    """Exactly what SetParameterValues refuses (no other form can get into the file)."""
    assert "expected a dateTime" in error(tmp_path, "acs", "periodic_inform_time", word)


@pytest.mark.parametrize("word", ["http://acs", "'https://acs.example.net:7547/cwmp?x=1'", "HTTP://[::1]:80/"])
def test_url_accepts(tmp_path, word):
    assert one(tmp_path, "acs", "url", word) == word.strip("'")


@pytest.mark.parametrize("word", ["ftp://acs/", "acs.example.net", "http://", "'http:// acs'",
                                  "http://acs:99999/", "'http://[::1/'"])
def test_url_rejects(tmp_path, word):
    assert error(tmp_path, "acs", "url", word).endswith(": expected an http:// or https:// URL")


def test_string_rejects_a_list(tmp_path):
    with pytest.raises(ConfigError, match=r"cwmp\.acs\.userid = \['a', 'b'\]: expected a single value"):
        load(tmp_path, "config acs\n\tlist userid a\n\tlist userid b\n")


def test_error_message_is_one_precise_line(tmp_path):
    (tmp_path / "cwmp").write_text("config acs 'acs'\n\toption periodic_inform_interval 'abc'\n")
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path)
    assert str(err.value) == (
        f"{tmp_path / 'cwmp'}: cwmp.acs.periodic_inform_interval = 'abc': expected an integer >= 1")


def test_parse_error_is_a_config_error_with_line(tmp_path):
    with pytest.raises(ConfigError, match=r"/cwmp:3: unterminated '"):
        load(tmp_path, "config acs 'acs'\n\n\toption url 'http://x\n")


def test_unknown_option_and_section_warn(tmp_path, caplog):
    (tmp_path / "cwmp").write_text(
        "config acs 'acs'\n\toption url 'http://acs/'\n\toption urll 'typo'\n"
        "config vendor 'vendor'\n\toption enable '0'\n"
        "config inform_parameter\n\toption enable 1\n\toption colour blue\n")
    logger = logging.getLogger("test.settings")
    with caplog.at_level(logging.WARNING, logger="test.settings"):
        settings = load_settings(tmp_path, warn=logger)
    path = tmp_path / "cwmp"
    assert sorted(caplog.messages) == sorted([
        f"{path}: cwmp.acs.urll: unknown option (ignored)",
        f"{path}: cwmp.vendor: section of type 'vendor' is not used (ignored)",
        f"{path}: cwmp.@inform_parameter[0].colour: unknown option (ignored)",
    ])
    assert "urll" not in settings.acs
    assert "colour" not in settings.inform_parameters[0]
    assert settings.acs.url == "http://acs/"


def test_default_warn_goes_to_the_module_logger(tmp_path, caplog):
    (tmp_path / "cwmp").write_text("config cpe 'cpe'\n\toption nonsense 1\n")
    with caplog.at_level(logging.WARNING, logger="icwmpy.config.settings"):
        load_settings(tmp_path)
    assert caplog.messages == [f"{tmp_path / 'cwmp'}: cwmp.cpe.nonsense: unknown option (ignored)"]


def test_sections_found_by_name_or_type(tmp_path):
    old, _ = load(tmp_path, "config cwmp 'acs'\n\toption url 'http://old/'\nconfig cwmp 'cpe'\n\toption port 1\n")
    assert (old.acs.url, old.cpe.port) == ("http://old/", 1)
    anonymous, warnings = load(tmp_path, "config acs\n\toption url 'http://a/'\nconfig acs\n\toption url 'http://b/'\n")
    assert anonymous.acs.url == "http://a/"
    assert len(warnings) == 1 and "section of type 'acs' is not used" in warnings[0]


def test_inform_parameters(tmp_path):
    settings, warnings = load(tmp_path, (
        "config inform_parameter\n\toption enable '1'\n\toption parameter_name 'Device.DeviceInfo.UpTime'\n"
        "\toption events_list '1 BOOT,6 CONNECTION REQUEST'\n"
        "config inform_parameter 'named'\n\toption parameter_name 'Device.X'\n"))
    assert warnings == []
    first, second = settings.inform_parameters
    assert first["enable"] is True
    assert first["parameter_name"] == "Device.DeviceInfo.UpTime"
    assert first["events_list"] == ["1 BOOT", "6 CONNECTION REQUEST"]
    assert first["section"] == Uci(tmp_path).resolve("cwmp", "@inform_parameter[0]")
    assert second == {"section": "named", "enable": False, "parameter_name": "Device.X", "events_list": []}


def test_inform_parameter_error_names_the_section(tmp_path):
    with pytest.raises(ConfigError, match=r"cwmp\.@inform_parameter\[1\]\.enable = 'perhaps': expected a boolean"):
        load(tmp_path, "config inform_parameter\nconfig inform_parameter\n\toption enable perhaps\n")


def test_section_access(tmp_path):
    settings, _ = load(tmp_path, "")
    assert settings.cpe["port"] == settings.cpe.port
    assert dict(settings.lwn) == {"enable": False, "hostname": "", "port": 7547}
    with pytest.raises(AttributeError, match="cwmp.cpe has no option 'prot'"):
        _ = settings.cpe.prot


def test_shares_a_uci_instance_and_sees_staged_values(tmp_path):
    shutil.copy(DEFAULT_CONFIG, tmp_path / "cwmp")
    uci = Uci(tmp_path)
    uci.set("cwmp", "acs", "url", "https://acs.example/")
    assert load_settings(tmp_path, uci=uci).acs.url == "https://acs.example/"
    assert load_settings(tmp_path).acs.url == ""


def test_apply_hook_sections_are_read_with_their_command_lists(tmp_path):
    (tmp_path / "cwmp").write_text(
        "config apply_hook\n\toption file_type '2 Web Content'\n"
        "\tlist check 'tar -tzf {file}'\n\tlist apply 'tar -xzf {file} -C /www'\n"
        "\tlist apply 'echo done, really'\n")
    [hook] = load_settings(tmp_path).apply_hooks
    assert hook["file_type"] == "2 Web Content" and hook["reboots"] is False
    assert hook["check"] == ["tar -tzf {file}"]
    assert hook["apply"] == ["tar -xzf {file} -C /www", "echo done, really"]


def test_an_apply_hook_without_file_type_is_warned_about_not_fatal(tmp_path, caplog):
    from icwmpy.daemon import transfer_config
    settings, _ = load(tmp_path, "config apply_hook 'x'\n\tlist apply 'true'\n")
    with caplog.at_level(logging.WARNING, logger="icwmpy"):
        transfer_config(str(tmp_path / "state"), str(tmp_path), settings)
    assert "apply_hook without file_type" in caplog.text
