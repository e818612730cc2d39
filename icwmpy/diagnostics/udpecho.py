"""UDPEchoDiagnostics: the TR-143 UDP echo client, plain asyncio datagrams.

Each packet carries its TestGenSN in the Echo Plus header, so a late answer is never
taken for the next packet's; a responder that does Echo Plus fills in its fields, which
become IndividualPacketResult's. Response times are in µs.
"""

import asyncio
import socket
import time

from icwmpy.diagnostics import echoplus
from icwmpy.diagnostics.common import Outcome, Unresolved, prepare, resolve, rtt_stats, utc_micro

UNKNOWN_TIME = "0001-01-01T00:00:00Z"


class _Answers(asyncio.DatagramProtocol):
    """Answers by TestGenSN; an ICMP error (port unreachable) fails the packets waiting."""

    def __init__(self):
        self.waiting = {}

    def datagram_received(self, data, addr):
        sequence = (int.from_bytes(data[:4], "big") if len(data) >= 4
                    else min(self.waiting, default=None))   # too short to carry it
        future = self.waiting.pop(sequence, None)
        if future and not future.done():
            future.set_result((data, time.time()))

    def error_received(self, exc):
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(exc)
        self.waiting.clear()


async def exchange(address, family, port, count, timeout, size, dscp=0, gap=0.0, device=None):
    """Send ``count`` packets of ``size`` bytes ``gap`` seconds apart to (address, port),
    each waiting ``timeout`` s: [(sequence, sent, answer bytes or None, received)]."""
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        prepare(sock, family, device, dscp)
        sock.setblocking(False)
        sock.connect((address, port))
    except OSError:
        sock.close()
        raise
    loop = asyncio.get_running_loop()
    transport, answers = await loop.create_datagram_endpoint(_Answers, sock=sock)
    packets = []
    try:
        for sequence in range(1, count + 1):
            future = answers.waiting[sequence] = loop.create_future()
            sent = time.time()
            transport.sendto(echoplus.request(sequence, size))
            try:
                data, received = await asyncio.wait_for(future, timeout)
            except (TimeoutError, OSError):
                answers.waiting.pop(sequence, None)
                data, received = None, None
            packets.append((sequence, sent, data, received))
            if sequence < count:
                await asyncio.sleep(max(0.0, sent + gap - time.time()))
    finally:
        transport.close()
    return packets


def packet_row(sequence, sent, data, received):
    """An IndividualPacketResult row."""
    plus = echoplus.fields(data) if data else None
    _, resp_sn, rcv, reply, failures = plus or (0, 0, 0, 0, 0)
    return {"PacketSuccess": "1" if data is not None else "0",
            "PacketSendTime": utc_micro(sent),
            "PacketReceiveTime": utc_micro(received) if received else UNKNOWN_TIME,
            "TestGenSN": str(sequence), "TestRespSN": str(resp_sn),
            "TestRespRcvTimeStamp": str(rcv), "TestRespReplyTimeStamp": str(reply),
            "TestRespReplyFailureCount": str(failures)}


async def run(request):
    try:
        family, address = await resolve(request["Host"], request.family)
    except Unresolved:
        return Outcome("Error_CannotResolveHostName")
    count = request.int("NumberOfRepetitions")
    try:
        packets = await exchange(address, family, request.int("Port"), count,
                                 request.int("Timeout") / 1000, request.int("DataBlockSize"),
                                 request.int("DSCP"), request.int("InterTransmissionTime") / 1000,
                                 request.device)
    except OSError:
        return Outcome("Error_Other", {"IPAddressUsed": address})
    rtts = [received - sent for _, sent, data, received in packets if data is not None]
    avg, low, high = rtt_stats(rtts, 1000000)
    tables = {}
    if request.flag("EnableIndividualPacketResults"):
        kept = packets[:request.int("UDPEchoDiagnosticsMaxResults")]
        tables["IndividualPacketResult"] = [packet_row(*p) for p in kept]
    return Outcome("Complete", {
        "IPAddressUsed": address, "SuccessCount": str(len(rtts)),
        "FailureCount": str(count - len(rtts)), "AverageResponseTime": avg,
        "MinimumResponseTime": low, "MaximumResponseTime": high}, tables)
