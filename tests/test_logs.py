"""icwmp-style log lines, rotation, and no secret in any log, from a real daemon."""

import re

import pytest

import acs as A
from cpe import Cpe
from icwmpy.logs import redact

LINE = re.compile(r"^\d\d-\d\d-\d{4}, \d\d:\d\d:\d\d \[(CRITIC|ERROR|WARNING|INFO|DEBUG)\] ")


def test_redact_masks_password_values_and_elements():
    soap = (b"<ParameterValueStruct><Name>Device.ManagementServer.ConnectionRequestPassword</Name>"
            b'<Value xsi:type="xsd:string">hunter2</Value></ParameterValueStruct>'
            b"<cwmp:Download><Password>ftp-secret</Password></cwmp:Download>"
            b"<Name>Device.X.Name</Name><Value>visible</Value>")
    text = redact(soap)
    assert "hunter2" not in text and "ftp-secret" not in text and "visible" in text


def pair(name, value):
    return (f"<ParameterValueStruct>\n  <Name>{name}</Name>\n"
            f'  <Value xsi:type="xsd:string">{value}</Value>\n</ParameterValueStruct>')


@pytest.mark.parametrize("name", [
    "Device.WiFi.AccessPoint.1.Security.KeyPassphrase", "Device.WiFi.AccessPoint.1.Security.PreSharedKey",
    "Device.WiFi.AccessPoint.1.Security.WEPKey", "Device.WiFi.AccessPoint.1.Security.SAEPassphrase",
    "Device.WiFi.AccessPoint.1.Security.RadiusSecret", "Device.Users.User.2.Password",
    "Device.ManagementServer.STUNPassword", "Device.X_VENDOR.admin_password",
    "Device.Cellular.Interface.1.USIM.PIN", "Device.Security.Certificate.1.CertPrivateKey",
])
def test_redact_masks_secured_parameters(name):
    text = redact(pair(name, "s3cret"))
    assert "s3cret" not in text and name in text and "***" in text


@pytest.mark.parametrize("name", [
    "Device.ManagementServer.ParameterKey", "Device.X.CommandKey", "Device.X.KeyPassphraseLength",
    "Device.Users.PasswordPolicy.MinLength", "Device.WiFi.AccessPoint.1.Security.ModeEnabled",
    "Device.X.Spin",
])
def test_redact_keeps_what_is_no_secret(name):
    assert redact(pair(name, "visible")) == pair(name, "visible")


def test_redact_keeps_command_and_parameter_keys_of_requests():
    soap = ("<cwmp:SetParameterValues><ParameterList/><ParameterKey>pk-1</ParameterKey>"
            "</cwmp:SetParameterValues><cwmp:Reboot><CommandKey>ck-2</CommandKey></cwmp:Reboot>"
            "<EventStruct><EventCode>M Reboot</EventCode><CommandKey>ck-2</CommandKey></EventStruct>")
    assert redact(soap) == soap


@pytest.mark.parametrize("url, shown", [
    ("http://user:pa55@acs.example:7547/x", "http://user:***@acs.example:7547/x"),
    ("ftp://u:p%40ss@[::1]/f.bin", "ftp://u:***@[::1]/f.bin"),
    ("https://acs.example/a?b=c@d", "https://acs.example/a?b=c@d"),
    ("http://user@acs/", "http://user@acs/"),
])
def test_redact_masks_the_password_of_urls(url, shown):
    assert redact(f"<URL>{url}</URL>{pair('Device.ManagementServer.URL', url)}") == (
        f"<URL>{shown}</URL>{pair('Device.ManagementServer.URL', shown)}")


def test_daemon_log_file_format_rotation_and_no_secrets(tmp_path):
    log_file = tmp_path / "logs" / "icwmpd.log"

    async def main():
        acs = A.Acs("digest", "acs-user", "acs-pass-123")
        await acs.start()
        cpe = Cpe(tmp_path / "cpe", acs.url, {
            ("acs", "userid"): "acs-user", ("acs", "passwd"): "acs-pass-123",
            ("cpe", "log_to_console"): "0", ("cpe", "log_to_file"): "1",
            ("cpe", "log_file_name"): str(log_file), ("cpe", "log_max_size"): "4000",
            ("cpe", "log_severity"): "DEBUG"})
        acs.queue(A.set_parameter_values([
            ("Device.ManagementServer.ConnectionRequestPassword", "cr-pass-456")], "k"),
            A.get_parameter_values("Device.ManagementServer."),
            A.download("http://127.0.0.1:9/x", key="d", username="u", password="dl-pass-789"))
        await cpe.start()
        await acs.wait_session(1, timeout=20)
        assert await cpe.stop() == 0
        await acs.stop()
    A.run(main())
    files = sorted(log_file.parent.iterdir())
    assert [f.name for f in files] == ["icwmpd.log", "icwmpd.log.1"]   # rotated at 4000 bytes
    text = "".join(f.read_text() for f in files)
    assert "[DEBUG] SOAP to the ACS" in text and "ParameterValueStruct" in text
    for secret in ("acs-pass-123", "cr-pass-456", "dl-pass-789"):
        assert secret not in text
    records = [line for line in text.splitlines() if LINE.match(line)]
    assert any("[INFO] session end: success" in line for line in records)
    assert all(LINE.match(line) for line in text.splitlines() if line[:2].isdigit() and "-" in line[:3])
