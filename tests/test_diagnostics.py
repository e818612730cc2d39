"""TR-143 diagnostics against real servers on 127.0.0.1 / ::1: ping, traceroute, UDP echo
(icwmpy's own responder), NSLookup (a dnspython server), ServerSelection, and bad input.

Each test goes the ACS's way: SetParameterValues on a real DataModel (the shipped
definitions), then the runner's after_session(), then the results read back with
GetParameterValues semantics (get_values), and the Inform event the runner queued.
"""

import asyncio
import functools
import logging
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from icwmpy.config.uci import Uci
from icwmpy.diagnostics import EVENT, Diagnostics
from icwmpy.faults import CwmpFault
from icwmpy.model import DataModel
from icwmpy.model.schema import Definitions
from icwmpy.store import Store

DATAMODEL = Path(__file__).resolve().parents[1] / "datamodel"
IP = "Device.IP.Diagnostics."
ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="raw ICMP sockets (traceroute) need root")
DEFS = Definitions().load_dir(str(DATAMODEL))


class Cpe:
    """A data model and its diagnostics runner on this loop, as the Agent composes them."""

    def __init__(self, tmp_path):
        (tmp_path / "config").mkdir(exist_ok=True)
        self.tmp = tmp_path
        self.store = Store(str(tmp_path / "state"))
        self.model = DataModel(DEFS, Uci(str(tmp_path / "config")), self.store)
        self.executor = ThreadPoolExecutor(1)
        self.events, self.told = [], []
        self.finished = asyncio.Queue()
        self.diagnostics = Diagnostics(self.store, self.model, self.run_model, self.events.append,
                                       self._tell, logging.getLogger("test"))

    async def run_model(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def _tell(self, detail):
        self.told.append(detail)
        self.finished.put_nowait(detail)

    async def spv(self, path, **values):
        """One SetParameterValues of the object ``path`` (relative names), as the ACS."""
        items = [(path + name, str(value), None) for name, value in values.items()]
        return await self.run_model(self.model.set_values, items)

    async def run(self, path, timeout=30, **values):
        """SPV of ``values`` + DiagnosticsState=Requested, the session ends, the test runs:
        {relative name: value} of the object afterwards."""
        await self.spv(path, **values, DiagnosticsState="Requested")
        self.diagnostics.after_session()
        await asyncio.wait_for(self.finished.get(), timeout)
        return await self.values(path)

    async def values(self, path):
        found = await self.run_model(self.model.get_values, path)
        return {name[len(path):]: value for name, value, _ in found}

    async def close(self):
        await self.diagnostics.close()
        self.executor.shutdown()


@pytest.fixture
def cpe(tmp_path):
    return Cpe(tmp_path)


def on_loop(test):
    """Run the async test on a loop of its own, with its ``cpe`` started there and closed."""
    @functools.wraps(test)
    def wrapper(**kwargs):
        async def main():
            await kwargs["cpe"].diagnostics.start()
            try:
                await test(**kwargs)
            finally:
                await kwargs["cpe"].close()
        asyncio.run(main())
    return wrapper


def rows(values, table):
    """The rows of a result table: [{field: value}] by instance number."""
    out = {}
    for name, value in values.items():
        if name.startswith(table + "."):
            number, _, field = name[len(table) + 1:].partition(".")
            out.setdefault(int(number), {})[field] = value
    return [out[n] for n in sorted(out)]


# ------------------------------------------------------------------ IPPing

@pytest.mark.parametrize("host, version", [("127.0.0.1", "IPv4"), ("::1", "IPv6")])
@on_loop
async def test_ping_loopback(cpe, host, version):
    v = await cpe.run(IP + "IPPing.", Host=host, NumberOfRepetitions=4, Timeout=1000,
                      DataBlockSize=100, DSCP=10, ProtocolVersion=version)
    assert v["DiagnosticsState"] == "Complete"
    assert (v["SuccessCount"], v["FailureCount"], v["IPAddressUsed"]) == ("4", "0", host)
    low, avg, high = (int(v[k + "ResponseTimeDetailed"]) for k in ("Minimum", "Average", "Maximum"))
    assert 0 < low <= avg <= high < 1000000
    assert int(v["AverageResponseTime"]) == round(avg / 1000)
    assert cpe.events == [EVENT]
    assert cpe.told[0]["origin"] == "acs" and cpe.told[0]["state"] == "Complete"


@on_loop
async def test_ping_results_survive_a_restart(cpe, tmp_path):
    await cpe.run(IP + "IPPing.", Host="127.0.0.1", NumberOfRepetitions=1)
    again = Cpe(tmp_path)   # a new process over the same state directory
    await again.diagnostics.start()
    try:
        v = await again.values(IP + "IPPing.")
        assert (v["DiagnosticsState"], v["SuccessCount"], v["Host"]) == ("Complete", "1",
                                                                          "127.0.0.1")
        assert again.events == []   # reported once, by the first
    finally:
        await again.close()


@on_loop
async def test_ping_unknown_host(cpe):
    v = await cpe.run(IP + "IPPing.", Host="no-such-host.invalid", NumberOfRepetitions=1)
    assert v["DiagnosticsState"] == "Error_CannotResolveHostName"
    assert cpe.events == [EVENT]   # an error is a completion too (TR-181)


@on_loop
async def test_ping_unreachable_address(cpe):
    """TEST-NET-2 has no host: nothing answers, whatever the route says."""
    v = await cpe.run(IP + "IPPing.", Host="198.51.100.1", NumberOfRepetitions=2, Timeout=200)
    assert v["SuccessCount"] == "0"
    assert v["DiagnosticsState"] in ("Complete", "Error_NoRouteToHost")
    if v["DiagnosticsState"] == "Complete":
        assert v["FailureCount"] == "2" and v["AverageResponseTime"] == "0"


@pytest.mark.parametrize("name, value", [("NumberOfRepetitions", "0"),
                                         ("NumberOfRepetitions", "4294967295"),
                                         ("Timeout", "0"), ("DSCP", "64"),
                                         ("Interface", "eth0"), ("ProtocolVersion", "IPv5"),
                                         ("DiagnosticsState", "Complete")])
@on_loop
async def test_bad_values_are_refused(cpe, name, value):
    with pytest.raises(CwmpFault) as fault:
        await cpe.spv(IP + "IPPing.", **{name: value})
    assert fault.value.code == 9003 and fault.value.details[0][1] == 9007
    assert (await cpe.values(IP + "IPPing."))["DiagnosticsState"] == "None"


@on_loop
async def test_nonexistent_interface_is_an_error_state(cpe):
    v = await cpe.run(IP + "IPPing.", Host="127.0.0.1", Interface="Device.IP.Interface.999")
    assert v["DiagnosticsState"] == "Error_Other"


@on_loop
async def test_interface_binds_the_test(cpe):
    """Bound to lo the loopback answers; the path is the CPE's own numbering."""
    names = await cpe.run_model(cpe.model.get_values, "Device.IP.Interface.")
    lo = next(n for n, v, _ in names if n.endswith(".Name") and v == "lo")
    v = await cpe.run(IP + "IPPing.", Host="127.0.0.1", NumberOfRepetitions=1,
                      Interface=lo[: -len(".Name")])
    assert (v["DiagnosticsState"], v["SuccessCount"]) == ("Complete", "1")


@on_loop
async def test_changing_a_parameter_cancels_and_resets(cpe):
    await cpe.spv(IP + "IPPing.", Host="198.51.100.1", NumberOfRepetitions=50, Timeout=200,
                  DiagnosticsState="Requested")
    cpe.diagnostics.after_session()
    await asyncio.sleep(0.3)   # running
    await cpe.spv(IP + "IPPing.", Timeout=300)
    await asyncio.sleep(0.1)
    v = await cpe.values(IP + "IPPing.")
    assert v["DiagnosticsState"] == "None" and v["SuccessCount"] == "0"
    assert not cpe.diagnostics._tasks and cpe.events == [] and cpe.told == []


@on_loop
async def test_requested_again_restarts_and_reports_once(cpe):
    await cpe.spv(IP + "IPPing.", Host="198.51.100.1", NumberOfRepetitions=50, Timeout=200,
                  DiagnosticsState="Requested")
    cpe.diagnostics.after_session()
    await asyncio.sleep(0.3)
    v = await cpe.run(IP + "IPPing.", Host="127.0.0.1", NumberOfRepetitions=2)
    assert (v["DiagnosticsState"], v["SuccessCount"]) == ("Complete", "2")
    await asyncio.sleep(0.3)
    assert len(cpe.told) == 1 and cpe.events == [EVENT]


@on_loop
async def test_canceled(cpe):
    await cpe.run(IP + "IPPing.", Host="127.0.0.1", NumberOfRepetitions=1)
    await cpe.spv(IP + "IPPing.", DiagnosticsState="Canceled")
    v = await cpe.values(IP + "IPPing.")
    assert v["DiagnosticsState"] == "None" and v["SuccessCount"] == "0"


@on_loop
async def test_nothing_starts_inside_the_session(cpe):
    await cpe.spv(IP + "IPPing.", Host="127.0.0.1", DiagnosticsState="Requested")
    await asyncio.sleep(0.2)
    assert not cpe.diagnostics._tasks
    assert (await cpe.values(IP + "IPPing."))["DiagnosticsState"] == "Requested"


@on_loop
async def test_supported_flags_tell_the_truth(cpe):
    v = await cpe.values(IP)
    assert v["IPv4PingSupported"] == "1" and v["IPv4UDPEchoDiagnosticsSupported"] == "1"
    assert v["IPv4TraceRouteSupported"] == ("1" if ROOT else "0")
    assert v["IPLayerCapacitySupported"] == "0"
    v6 = socket.has_ipv6 and os.path.isdir("/proc/sys/net/ipv6")
    assert v["IPv6DownloadDiagnosticsSupported"] == ("1" if v6 else "0")
