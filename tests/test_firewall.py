"""The UCI firewall rule for the connection request port and cwmp.cpe.incoming_rule."""

import pytest

from icwmpy.config.uci import Uci
from icwmpy.cr import firewall

ZONE = """config zone
\toption name 'wide'
\tlist network 'wan'
"""


@pytest.fixture
def uci(tmp_path):
    (tmp_path / "firewall").write_text(ZONE)
    return Uci(str(tmp_path))


def open_port(uci, incoming_rule, acs_ip, port=7547):
    return firewall.open_port(uci, port, udp=False, network="wan",
                              incoming_rule=incoming_rule, acs_ip=acs_ip)


def rule(uci):
    """The rule as written to the file (a fresh read)."""
    return Uci(uci.confdir).options("firewall", firewall.SECTION)


BASE = {"name": "Open_ACS_port", "src": "wide", "proto": "tcp", "target": "ACCEPT"}


@pytest.mark.parametrize("incoming_rule,expected", [
    ("IP_Port", {**BASE, "src_ip": "192.0.2.7", "dest_port": "7547"}),
    ("IP_Only", {**BASE, "src_ip": "192.0.2.7"}),
    ("Port_Only", {**BASE, "dest_port": "7547"}),
])
def test_incoming_rule_picks_the_source_address_and_the_port(uci, incoming_rule, expected):
    assert open_port(uci, incoming_rule, "192.0.2.7")
    assert rule(uci) == expected


@pytest.mark.parametrize("incoming_rule", ["IP_Port", "IP_Only"])
def test_the_rule_stays_disabled_until_the_acs_address_is_known(uci, incoming_rule):
    """Never open to everyone for a rule that means only the ACS."""
    assert open_port(uci, incoming_rule, None)
    assert rule(uci)["enabled"] == "0" and "src_ip" not in rule(uci)
    assert firewall.describe(rule(uci)) == "is disabled until the ACS address is known"
    assert open_port(uci, incoming_rule, "2001:db8::7")
    assert rule(uci)["src_ip"] == "2001:db8::7" and "enabled" not in rule(uci)


def test_the_rule_is_rewritten_only_when_the_address_or_the_mode_changed(uci):
    assert open_port(uci, "IP_Port", "192.0.2.7")
    assert not open_port(uci, "IP_Port", "192.0.2.7")
    assert open_port(uci, "IP_Port", "192.0.2.8")
    assert rule(uci)["src_ip"] == "192.0.2.8"
    assert open_port(uci, "Port_Only", "192.0.2.8")
    assert "src_ip" not in rule(uci)


def test_the_log_says_what_the_rule_lets_in(uci):
    open_port(uci, "IP_Only", "192.0.2.7")
    assert firewall.describe(rule(uci)) == "accepts any port (tcp) from 192.0.2.7"
    open_port(uci, "IP_Port", "192.0.2.7")
    assert firewall.describe(rule(uci)) == "accepts port 7547 (tcp) from 192.0.2.7"
