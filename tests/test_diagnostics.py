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

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from icwmpy.config.uci import Uci
from icwmpy.diagnostics.runner import EVENT, Diagnostics
from icwmpy.faults import CwmpFault
from icwmpy.model import DataModel
from icwmpy.model.profile import load_profile
from icwmpy.model.schema import Definitions
from icwmpy.store import Store

DATAMODEL = Path(__file__).resolve().parents[1] / "datamodel"
IP = "Device.IP.Diagnostics."
ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="raw ICMP sockets (traceroute) need root")
DEFS = Definitions().load_dir(str(DATAMODEL))
# A name no resolver looks up (a label over 63 characters fails before any query is sent),
# so "unknown host" needs no DNS server off the host.
UNKNOWN = "x" * 64 + ".invalid"


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

    async def refused(self, path, **values):
        """The CwmpFault of an SPV the CPE must refuse."""
        with pytest.raises(CwmpFault) as fault:
            await self.spv(path, **values)
        return fault.value

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


class Marks:
    """The DSCPs of the IPv4 packets of ``proto`` this host sends, as a raw socket sees them
    on lo (root); ``match(payload)`` picks the packets (payload: what follows the IP header)."""

    def __init__(self, proto, match):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
        self.sock.setblocking(False)
        self.match = match

    def seen(self):
        found = set()
        with self.sock:
            while True:
                try:
                    packet = self.sock.recv(65536)
                except BlockingIOError:
                    return found
                if self.match(packet[(packet[0] & 0x0F) * 4:]):
                    found.add(packet[1] >> 2)


def to_port(port):
    """Marks' match of TCP or UDP packets to ``port``."""
    return lambda payload: int.from_bytes(payload[2:4], "big") == port


async def lo(cpe):
    """The Device.IP.Interface path of the loopback, in this CPE's numbering."""
    names = await cpe.run_model(cpe.model.get_values, "Device.IP.Interface.")
    return next(n for n, v, _ in names if n.endswith(".Name") and v == "lo")[: -len(".Name")]


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


@pytest.mark.parametrize("host, version, state, used", [
    ("localhost", "IPv4", "Complete", "127.0.0.1"),
    ("127.0.0.1", "IPv6", "Error_CannotResolveHostName", ""),
    ("::1", "IPv4", "Error_CannotResolveHostName", "")])
@on_loop
async def test_ping_protocol_version(cpe, host, version, state, used):
    v = await cpe.run(IP + "IPPing.", Host=host, ProtocolVersion=version, NumberOfRepetitions=1)
    assert (v["DiagnosticsState"], v["IPAddressUsed"]) == (state, used)


@needs_root
@on_loop
async def test_ping_marks_its_packets_with_the_dscp(cpe):
    marks = Marks(socket.IPPROTO_ICMP, lambda icmp: icmp[0] == 8)   # echo requests
    v = await cpe.run(IP + "IPPing.", Host="127.0.0.1", NumberOfRepetitions=2, DSCP=10)
    assert v["SuccessCount"] == "2" and marks.seen() == {10}


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
    v = await cpe.run(IP + "IPPing.", Host=UNKNOWN, NumberOfRepetitions=1)
    assert v["DiagnosticsState"] == "Error_CannotResolveHostName"
    assert cpe.events == [EVENT]   # an error is a completion too (TR-181)


@pytest.mark.parametrize("host, state", [("198.51.100.1", "Complete"),
                                         ("2001:db8::1", "Error_NoRouteToHost")])
@on_loop
async def test_ping_unreachable_address(cpe, host, state):
    """Documentation addresses through lo (so nothing leaves the host): IPv4 is sent and
    never answered, IPv6 has no route there."""
    v = await cpe.run(IP + "IPPing.", Host=host, NumberOfRepetitions=2, Timeout=200,
                      Interface=await lo(cpe))
    assert (v["DiagnosticsState"], v["SuccessCount"]) == (state, "0")
    if state == "Complete":
        assert v["FailureCount"] == "2" and v["AverageResponseTime"] == "0"


@pytest.mark.parametrize("name, value", [("NumberOfRepetitions", "0"),
                                         ("NumberOfRepetitions", "4294967295"),
                                         ("Timeout", "0"), ("DSCP", "64"),
                                         ("Interface", "eth0"),
                                         ("Interface", "Device.IP.Interface.999"),
                                         ("ProtocolVersion", "IPv5"),
                                         ("DiagnosticsState", "Complete")])
@on_loop
async def test_bad_values_are_refused(cpe, name, value):
    fault = await cpe.refused(IP + "IPPing.", **{name: value})
    assert fault.code == 9003 and fault.details[0][1] == 9007
    assert (await cpe.values(IP + "IPPing."))["DiagnosticsState"] == "None"


@on_loop
async def test_udp_echo_config_refuses_a_nonexistent_interface(cpe):
    fault = await cpe.refused(IP + "UDPEchoConfig.", Enable=1, Interface="Device.IP.Interface.999")
    assert fault.details[0][:2] == (IP + "UDPEchoConfig.Interface", 9007)
    assert cpe.diagnostics.echo.port is None


@on_loop
async def test_interface_binds_the_test(cpe):
    """Bound to lo the loopback answers; the path is the CPE's own numbering."""
    v = await cpe.run(IP + "IPPing.", Host="127.0.0.1", NumberOfRepetitions=1,
                      Interface=await lo(cpe))
    assert (v["DiagnosticsState"], v["SuccessCount"]) == ("Complete", "1")


@on_loop
async def test_changing_a_parameter_cancels_and_resets(cpe):
    await cpe.spv(IP + "IPPing.", Host="198.51.100.1", NumberOfRepetitions=50, Timeout=200,
                  Interface=await lo(cpe), DiagnosticsState="Requested")
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
                  Interface=await lo(cpe), DiagnosticsState="Requested")
    cpe.diagnostics.after_session()
    await asyncio.sleep(0.3)
    v = await cpe.run(IP + "IPPing.", Host="127.0.0.1", NumberOfRepetitions=2, Interface="")
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
async def test_a_test_stopped_with_the_daemon_runs_at_the_next_start(cpe, tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        await cpe.spv(IP + "UDPEchoDiagnostics.", Host="127.0.0.1",
                      Port=silent.getsockname()[1], NumberOfRepetitions=2, Timeout=300,
                      InterTransmissionTime=1, DiagnosticsState="Requested")
        cpe.diagnostics.after_session()
        await asyncio.sleep(0.2)
        await cpe.diagnostics.close()   # SIGTERM: the Agent stops
        assert cpe.events == []
        again = Cpe(tmp_path)
        await again.diagnostics.start()
        try:
            await asyncio.wait_for(again.finished.get(), 10)
            v = await again.values(IP + "UDPEchoDiagnostics.")
        finally:
            await again.close()
    assert (v["DiagnosticsState"], v["FailureCount"]) == ("Complete", "2")
    assert again.events == [EVENT]


def test_a_test_cut_twice_by_a_crash_is_error_internal(tmp_path):
    """What two kills -9 in the same test leave: the record says started, twice."""
    store = Store(str(tmp_path / "state"))
    store["diagnostics"].set("IPPing", {"params": {"Host": "127.0.0.1"}, "state": "Requested",
                                        "run": 3, "started": True, "attempts": 2})

    async def main():
        cpe = Cpe(tmp_path)
        await cpe.diagnostics.start()
        try:
            assert (await cpe.values(IP + "IPPing."))["DiagnosticsState"] == "Error_Internal"
            assert cpe.events == [EVENT] and not cpe.diagnostics._tasks
        finally:
            await cpe.close()
    asyncio.run(main())


@on_loop
async def test_supported_flags_tell_the_truth(cpe):
    v = await cpe.values(IP)
    assert v["IPv4PingSupported"] == "1" and v["IPv4UDPEchoDiagnosticsSupported"] == "1"
    assert v["IPv4TraceRouteSupported"] == ("1" if ROOT else "0")
    assert v["IPLayerCapacitySupported"] == "0"
    v6 = socket.has_ipv6 and os.path.isdir("/proc/sys/net/ipv6")
    assert v["IPv6DownloadDiagnosticsSupported"] == ("1" if v6 else "0")


# ------------------------------------------------------------------ TraceRoute

@needs_root
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
@on_loop
async def test_traceroute_loopback(cpe, host):
    v = await cpe.run(IP + "TraceRoute.", Host=host, NumberOfTries=2, Timeout=1000,
                      MaxHopCount=5)
    assert v["DiagnosticsState"] == "Complete" and v["IPAddressUsed"] == host
    hops = rows(v, "RouteHops")
    assert v["RouteHopsNumberOfEntries"] == "1" and len(hops) == 1
    assert hops[0]["Host"] == host and hops[0]["ErrorCode"] == "0"
    times = [int(t) for t in hops[0]["RTTimes"].split(",")]
    assert len(times) == 2 and all(t >= 1 for t in times)   # < 1 ms rounds up to 1
    assert int(v["ResponseTime"]) >= 1


@needs_root
@on_loop
async def test_traceroute_max_hops(cpe):
    """Nothing answers (a documentation address through lo): every hop is listed, each
    lost try as 0."""
    v = await cpe.run(IP + "TraceRoute.", Host="198.51.100.1", NumberOfTries=2, Timeout=100,
                      MaxHopCount=3, Interface=await lo(cpe))
    assert v["DiagnosticsState"] == "Error_MaxHopCountExceeded"
    assert [h["RTTimes"] for h in rows(v, "RouteHops")] == ["0,0"] * 3


# ------------------------------------------------------------------ UDP echo

@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
@on_loop
async def test_udp_echo_round_trip_with_echo_plus(cpe, host):
    """icwmpy's UDPEchoConfig responder answers its own UDPEchoDiagnostics client."""
    config = IP + "UDPEchoConfig."
    await cpe.spv(config, Enable=1, UDPPort=0, EchoPlusEnabled=1, SourceIPAddress=host,
                  Interface=await lo(cpe))
    await asyncio.sleep(0.2)
    port = cpe.diagnostics.echo.port
    assert port
    v = await cpe.run(IP + "UDPEchoDiagnostics.", Host=host, Port=port, NumberOfRepetitions=5,
                      Timeout=1000, DataBlockSize=64, InterTransmissionTime=10,
                      EnableIndividualPacketResults=1)
    assert (v["DiagnosticsState"], v["SuccessCount"], v["FailureCount"]) == ("Complete", "5", "0")
    low, avg, high = (int(v[k + "ResponseTime"]) for k in ("Minimum", "Average", "Maximum"))
    assert 0 < low <= avg <= high < 1000000
    packets = rows(v, "IndividualPacketResult")
    assert [p["TestGenSN"] for p in packets] == ["1", "2", "3", "4", "5"]
    assert [p["TestRespSN"] for p in packets] == ["1", "2", "3", "4", "5"]
    assert all(p["PacketSuccess"] == "1" and p["PacketSendTime"] < p["PacketReceiveTime"]
               and int(p["TestRespRcvTimeStamp"]) <= int(p["TestRespReplyTimeStamp"])
               for p in packets)
    await asyncio.sleep(1.2)   # the counters are saved once a second
    c = await cpe.values(config)
    assert (c["PacketsReceived"], c["PacketsResponded"]) == ("5", "5")
    assert (c["BytesReceived"], c["BytesResponded"]) == ("320", "320")
    assert c["TimeFirstPacketReceived"] <= c["TimeLastPacketReceived"]


@needs_root
@on_loop
async def test_udp_echo_marks_its_packets_with_the_dscp(cpe):
    await cpe.spv(IP + "UDPEchoConfig.", Enable=1, UDPPort=0)
    await asyncio.sleep(0.2)
    port = cpe.diagnostics.echo.port
    marks = Marks(socket.IPPROTO_UDP, to_port(port))
    v = await cpe.run(IP + "UDPEchoDiagnostics.", Host="127.0.0.1", Port=port, DSCP=46,
                      NumberOfRepetitions=2, InterTransmissionTime=1)
    assert v["SuccessCount"] == "2" and marks.seen() == {46}


@on_loop
async def test_udp_echo_answers_only_its_source(cpe):
    await cpe.spv(IP + "UDPEchoConfig.", Enable=1, UDPPort=0, SourceIPAddress="127.0.0.2")
    await asyncio.sleep(0.2)
    v = await cpe.run(IP + "UDPEchoDiagnostics.", Host="127.0.0.1",
                      Port=cpe.diagnostics.echo.port, NumberOfRepetitions=2, Timeout=200,
                      InterTransmissionTime=1)
    assert (v["DiagnosticsState"], v["SuccessCount"], v["FailureCount"]) == ("Complete", "0", "2")
    await cpe.spv(IP + "UDPEchoConfig.", Enable=0)
    await asyncio.sleep(0.2)
    assert cpe.diagnostics.echo.port is None


@on_loop
async def test_udp_echo_refused_port(cpe):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]   # closed again: nobody listens there
    v = await cpe.run(IP + "UDPEchoDiagnostics.", Host="127.0.0.1", Port=port,
                      NumberOfRepetitions=3, Timeout=2000, InterTransmissionTime=1)
    assert (v["DiagnosticsState"], v["SuccessCount"], v["FailureCount"]) == ("Complete", "0", "3")


# ------------------------------------------------------------------ ServerSelection

@on_loop
async def test_server_selection_icmp(cpe):
    hosts = f"127.0.0.2,127.0.0.3,{UNKNOWN},127.0.0.4"
    v = await cpe.run(IP + "ServerSelectionDiagnostics.", HostList=hosts, Protocol="ICMP",
                      NumberOfRepetitions=3, Timeout=1000)
    assert v["DiagnosticsState"] == "Complete"
    assert v["FastestHost"] in hosts.split(",")[:2] + ["127.0.0.4"]
    assert v["IPAddressUsed"] == v["FastestHost"]
    assert 0 < int(v["MinimumResponseTime"]) <= int(v["AverageResponseTime"]) \
        <= int(v["MaximumResponseTime"])


@on_loop
async def test_server_selection_udp_echo_picks_the_one_that_answers(cpe):
    await cpe.spv(IP + "UDPEchoConfig.", Enable=1, UDPPort=0)
    await asyncio.sleep(0.2)
    port = cpe.diagnostics.echo.port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))   # bound, never answers
        hosts = f"127.0.0.1:{silent.getsockname()[1]},127.0.0.1:{port}"
        v = await cpe.run(IP + "ServerSelectionDiagnostics.", HostList=hosts,
                          Protocol="UDP Echo", NumberOfRepetitions=2, Timeout=300)
    assert (v["DiagnosticsState"], v["FastestHost"]) == ("Complete", f"127.0.0.1:{port}")


@on_loop
async def test_server_selection_nothing_resolves(cpe):
    v = await cpe.run(IP + "ServerSelectionDiagnostics.", HostList=f"{UNKNOWN},y{UNKNOWN}")
    assert v["DiagnosticsState"] == "Error_CannotResolveHostName"


# ------------------------------------------------------------------ NSLookup

NS = "Device.DNS.Diagnostics.NSLookupDiagnostics."
DNS_HOST = "127.0.0.153"   # port 53 of an address no resolver of the host uses
ZONE = {("host.test.", "A"): "127.0.0.7", ("host.test.", "AAAA"): "::7"}


class DnsServer(asyncio.DatagramProtocol):
    """An authoritative server for ``host.test`` (A, AAAA) and ``alias.test`` (a CNAME to
    it) built on dnspython's messages; NXDOMAIN for everything else; silent if ``mute``."""

    def __init__(self, mute=False):
        self.mute = mute
        self.queries = 0

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.queries += 1
        if self.mute:
            return
        query = dns.message.from_wire(data)
        answer = dns.message.make_response(query)
        answer.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text()
        kind = dns.rdatatype.to_text(question.rdtype)
        if name == "alias.test.":
            answer.answer.append(dns.rrset.from_text(name, 60, "IN", "CNAME", "host.test."))
            name = "host.test."
        if (name, kind) in ZONE:
            answer.answer.append(dns.rrset.from_text(name, 60, "IN", kind, ZONE[name, kind]))
        elif name not in {n for n, _ in ZONE}:
            answer.set_rcode(dns.rcode.NXDOMAIN)
        self.transport.sendto(answer.to_wire(), addr)


async def dns_server(host, mute=False):
    """A DnsServer on (host, 53): DNSServer has no port, so it listens where a server is."""
    try:
        return await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: DnsServer(mute), local_addr=(host, 53))
    except PermissionError:
        pytest.skip("a DNS server on port 53 needs root")


@on_loop
async def test_nslookup_against_a_local_server(cpe):
    transport, server = await dns_server(DNS_HOST)
    try:
        v = await cpe.run(NS, HostName="alias.test", DNSServer=DNS_HOST,
                          NumberOfRepetitions=2, Timeout=1000)
        missing = await cpe.run(NS, HostName="nothing.test", DNSServer=DNS_HOST,
                                NumberOfRepetitions=1, Timeout=1000)
        bound = await cpe.run(NS, HostName="host.test", DNSServer=DNS_HOST,
                              NumberOfRepetitions=1, Interface=await lo(cpe))
    finally:
        transport.close()
    assert (v["DiagnosticsState"], v["SuccessCount"], v["ResultNumberOfEntries"]) == \
        ("Complete", "2", "2")
    for row in rows(v, "Result"):
        assert row["Status"] == "Success" and row["AnswerType"] == "Authoritative"
        assert row["HostNameReturned"] == "host.test"
        assert row["IPAddresses"] == "127.0.0.7,::7" and row["DNSServerIP"] == DNS_HOST
        assert int(row["ResponseTime"]) >= 1
    assert server.queries == 4 + 2 + 2   # A and AAAA per repetition
    assert bound["SuccessCount"] == "1"
    assert missing["SuccessCount"] == "0"
    assert rows(missing, "Result")[0]["Status"] == "Error_HostNameNotResolved"


@on_loop
async def test_nslookup_server_silent_refusing_or_unknown(cpe):
    transport, _ = await dns_server("127.0.0.154", mute=True)
    try:
        silent = await cpe.run(NS, HostName="host.test", DNSServer="127.0.0.154", Timeout=300)
    finally:
        transport.close()
    refused = await cpe.run(NS, HostName="host.test", DNSServer="127.0.0.155", Timeout=2000)
    unknown = await cpe.run(NS, HostName="host.test", DNSServer=UNKNOWN)
    assert rows(silent, "Result")[0]["Status"] == "Error_Timeout"
    assert rows(refused, "Result")[0]["Status"] == "Error_DNSServerNotAvailable"
    assert unknown["DiagnosticsState"] == "Error_DNSServerNotResolved"


# ------------------------------------------------------------------ fleet mode

def test_a_fleet_cpe_has_no_diagnostics_and_starts_none(tmp_path):
    """A fleet's CPEs run over their profile's data model, which has no diagnostics
    backends: the objects are absent (9005), the runner starts nothing and makes no model
    call for them."""
    profile = load_profile(DATAMODEL / "profiles" / "tr181-router.csv")

    async def main():
        store = Store(str(tmp_path / "state"))
        model = DataModel(profile.definitions, Uci(str(tmp_path)), store, cpe=("cpe-1", 1))
        calls = []

        async def run_model(fn, *args):
            calls.append(fn)
            return fn(*args)
        diagnostics = Diagnostics(store, model, run_model, calls.append, calls.append,
                                  logging.getLogger("test"))
        await diagnostics.start()
        assert calls == []
        with pytest.raises(CwmpFault) as fault:
            model.set_values([(IP + "IPPing.DiagnosticsState", "Requested", None)])
        assert fault.value.details[0][1] == 9005
        diagnostics.after_session()
        assert not diagnostics._tasks and calls == []
        await diagnostics.close()
    asyncio.run(main())
