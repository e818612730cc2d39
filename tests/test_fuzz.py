"""Seeded fuzzing of the whole request -> response path: our own ACS requests, mutated element
by element, through the codec and the RPC handler of a real DataModel. Whatever the ACS
sends, the CPE answers a valid response or a CWMP fault, never 9002 or a logged traceback."""

import copy
import logging
import random
from xml.etree import ElementTree

import acs
import xsd
from forms import QUIRKS
from icwmpy.cwmp import soap
from icwmpy.rpc import RpcHandler
from test_rpc import NS12, answer, cpe  # noqa: F401 (cpe is a fixture)

NAMESPACES = [*soap.CWMP_NAMESPACES, "urn:dslforum-org:cwmp-9-9", "urn:x", soap.SOAP_ENV,
              soap.SOAP_ENC, ""]
TEXTS = ["", " ", "0", "1", "-1", "true", "maybe", "4294967296", "9" * 40, "1.5", "\u0663",
         "k" * 300, "Device.", "Device.Bench.Item.", "Device.Bench.Item.1.Value",
         "Device.Bench.Item.[a].", "Device.DeviceInfo.ProvisioningCode", "Device..", ".",
         "http://files/fw.bin", "ftp://[::1", "1 Firmware Upgrade Image", "2024-02-30T25:00:00Z",
         "0001-01-01T00:00:00Z", "AAAA", "not base64!", "x:unsignedInt", "cwmp:string[2]",
         "string[99999999]", "\u00e9\u2713"]
ATTRIBUTES = [f"{{{soap.XSI}}}type", f"{{{soap.SOAP_ENC}}}arrayType", f"{{{soap.SOAP_ENV}}}"
              "mustUnderstand", "Id"]


def seeds():
    """Requests for every method the CPE serves (schema samples, and the test ACS's forms
    on paths the test model has) plus the real-world quirks."""
    built = [soap.build(m, xsd.SAMPLES[m], id=f"f-{m}", ns=NS12) for m in RpcHandler.METHODS]
    return built + list(QUIRKS.values()) + [
        acs.get_parameter_values("Device.", "Device.Bench.Item.1.Value"),
        acs.get_parameter_names("Device.Bench.", True),
        acs.set_parameter_values([("Device.Bench.Item.1.Value", "5", "int")], "k"),
        acs.get_parameter_attributes("Device.DeviceInfo.UpTime"),
        acs.set_parameter_attributes([("Device.DeviceInfo.UpTime", 2, None)]),
        acs.add_object("Device.Bench.Item."), acs.delete_object("Device.Bench.Item.1."),
        acs.schedule_inform(5, "si"), acs.cancel_transfer("k"),
        acs.download("http://files/fw.bin"), acs.upload("http://files/cfg"),
    ]


def mutate(rng, root):
    """One bounded change to a random element of the tree ``root`` (in place)."""
    parents = {kid: elem for elem in root.iter() for kid in elem}
    if not parents:
        return
    elem = rng.choice(list(parents))
    parent = parents[elem]
    at = list(parent).index(elem)
    kind = rng.randrange(7)
    if kind == 0:
        parent.remove(elem)
    elif kind == 1:
        parent.insert(at, copy.deepcopy(elem))
    elif kind == 2 and len(parent) > 1:
        other = rng.randrange(len(parent))
        parent[at], parent[other] = parent[other], elem
    elif kind == 3:
        elem.text = rng.choice(TEXTS)
    elif kind == 4:
        ns = rng.choice(NAMESPACES)
        name = elem.tag.rpartition("}")[2]
        elem.tag = f"{{{ns}}}{name}" if ns else name
    elif kind == 5:
        elem.set(rng.choice(ATTRIBUTES), rng.choice(TEXTS))
    else:
        elem.tag = rng.choice(list(parents)).tag


def fuzzed(rng, seed):
    """``seed`` after one to four mutations, and sometimes cut short."""
    root = ElementTree.fromstring(seed)
    for _ in range(rng.randint(1, 4)):
        mutate(rng, root)
    data = ElementTree.tostring(root)
    return data[:rng.randrange(1, len(data))] if rng.random() < 0.05 else data


def test_mutated_requests_get_faults_or_responses_never_9002(cpe, caplog):  # noqa: F811
    rng = random.Random(14)
    corpus = seeds()
    with caplog.at_level(logging.WARNING):
        for _ in range(3000):
            request = fuzzed(rng, rng.choice(corpus))
            reply = soap.parse(answer(cpe.handler, request))
            assert reply.method.endswith("Response") or (
                reply.method == "Fault" and reply.fault.code != 9002), request
            assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR], \
                request
