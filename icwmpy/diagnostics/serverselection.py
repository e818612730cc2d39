"""ServerSelectionDiagnostics: the host of HostList that answers fastest, by ICMP echo or
UDP echo (``host`` or ``host:port``, port 7 by default), reusing the IPPing and
UDPEchoDiagnostics probes. Times in µs."""

import icmplib

from icwmpy.diagnostics import ping, udpecho
from icwmpy.diagnostics.common import Outcome, Unresolved, resolve, rtt_stats

ECHO_PORT = 7


def split_port(entry):
    """("host", port) of a HostList entry for UDP Echo: host, host:port, [v6]:port."""
    if entry.startswith("[") and "]:" in entry:
        host, _, port = entry[1:].partition("]:")
        return host, int(port)
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, int(port)
    return entry, ECHO_PORT


async def probe(request, host, count, timeout):
    """(address, [rtt seconds]) of one host."""
    if request["Protocol"] == "UDP Echo":
        host, port = split_port(host)
        family, address = await resolve(host, request.family)
        packets = await udpecho.exchange(address, family, port, count, timeout, 24,
                                         device=request.device)
        return address, [received - sent for _, sent, data, received in packets if data]
    address, rtts, _ = await ping.echo(host, request.family, count, timeout,
                                       device=request.device)
    return address, rtts


async def run(request):
    hosts = [h.strip() for h in request["HostList"].split(",") if h.strip()]
    count, timeout = request.int("NumberOfRepetitions"), request.int("Timeout") / 1000
    best, resolved = None, False
    for host in hosts:
        try:
            address, rtts = await probe(request, host, count, timeout)
        except (Unresolved, ValueError):
            continue
        except (OSError, icmplib.ICMPLibError):
            resolved = True
            continue
        resolved = True
        if rtts and (best is None or sum(rtts) / len(rtts) < sum(best[2]) / len(best[2])):
            best = (host, address, rtts)
    if not resolved:
        return Outcome("Error_CannotResolveHostName")
    if best is None:
        return Outcome("Complete", {"FastestHost": ""})
    avg, low, high = rtt_stats(best[2], 1000000)
    return Outcome("Complete", {"FastestHost": best[0], "IPAddressUsed": best[1],
                                "AverageResponseTime": avg, "MinimumResponseTime": low,
                                "MaximumResponseTime": high})
