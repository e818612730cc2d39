"""Every message icwmpy can build is valid against the BBF schema of its namespace."""

import pytest

import testdata
import xsd
from icwmpy.cwmp import soap
from icwmpy.cwmp.rpcs import RPCS
from icwmpy.faults import CwmpFault

pytestmark = testdata.needs("cwmp-xsd")
NAMESPACES = soap.CWMP_NAMESPACES


def minor(ns):
    return int(ns.rpartition("-")[2])


@pytest.mark.parametrize("ns", NAMESPACES)
@pytest.mark.parametrize("method", sorted(RPCS))
def test_every_message_validates(method, ns):
    used = xsd.validate(soap.build(method, xsd.SAMPLES[method], id="cpe-1", ns=ns))
    # a method newer than the namespace is checked against the newest schema
    assert used == (min(minor(ns), 2) if RPCS[method].since <= minor(ns) else 2)


@pytest.mark.parametrize("ns", NAMESPACES)
def test_faults_validate(ns):
    xsd.validate(soap.build_fault(CwmpFault(9005), id="f", ns=ns))
    xsd.validate(soap.build_fault(CwmpFault(9003, details=[
        ("Device.A.", 9005, "Invalid parameter name"), ("Device.B", 9007, "")]), ns=ns))
    xsd.validate(soap.build_fault(CwmpFault(9899, "vendor"), ns=ns))
    xsd.validate(soap.build_fault(CwmpFault(8005), id="acs-9", ns=ns))


@pytest.mark.parametrize("ns", NAMESPACES[2:])
def test_cwmp_1_2_and_later_extras_validate(ns):
    xsd.validate(soap.build_fault(CwmpFault(8006, "ACS version incompatible"), ns=ns))
    inform = dict(xsd.SAMPLES["Inform"], Event=[("14 HEARTBEAT", ""), ("13 WAKEUP", "")])
    xsd.validate(soap.build("Inform", inform, id="1", ns=ns, session_timeout=30,
                            supported_versions="1.0,1.1,1.2,1.3,1.4"))
    xsd.validate(soap.build("InformResponse", {"MaxEnvelopes": 1}, id="1", ns=ns,
                            hold_requests=True, use_version="1.4"))
    spa = {"ParameterList": [dict(xsd.SAMPLES["SetParameterAttributes"]["ParameterList"][0],
                                  Notification=6)]}
    xsd.validate(soap.build("SetParameterAttributes", spa, ns=ns))


@pytest.mark.parametrize("ns", NAMESPACES[:2])
def test_hold_requests_validates_in_old_namespaces(ns):
    xsd.validate(soap.build("InformResponse", {"MaxEnvelopes": 1}, id="1", ns=ns,
                            hold_requests=False))


def test_the_validator_rejects_invalid_messages():
    """Guards the helper itself: a schema violation must be reported."""
    too_long = soap.build("Reboot", {"CommandKey": "k" * 33}, id="1")
    with pytest.raises(AssertionError, match="CommandKey"):
        xsd.validate(too_long)
    bad_fault = soap.build_fault(CwmpFault(7000), id="1")
    with pytest.raises(AssertionError):
        xsd.validate(bad_fault)
    with pytest.raises(AssertionError, match="SessionTimeout"):
        xsd.validate(soap.build("GetRPCMethods", {}, ns=NAMESPACES[0], session_timeout=5))
