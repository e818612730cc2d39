"""TraceRoute: ICMP echo requests with growing TTL (icmplib sockets, raw: needs root).

icmplib's own traceroute leaves out the hops that do not answer, which TR-181 lists (an
RTTimes item of 0 per lost try), so the loop is ours; it runs in a thread since icmplib's
asyncio socket does not say who answered. A cancelled test stops it between probes.
Host is the answering address (no reverse DNS: it may wait seconds per hop).
"""

import asyncio
import os
import threading

import icmplib

from icwmpy.diagnostics.common import Outcome, Unresolved, resolve
from icwmpy.diagnostics.ping import UNREACHABLE, icmp_socket


def trace(address, family, tries, timeout, size, dscp, max_hops, device, stop):
    """(hops, reached): RouteHops rows up to the host or ``max_hops``."""
    hops, reached = [], False
    ident = icmplib.utils.unique_identifier()
    with icmp_socket(family, device) as sock:
        for ttl in range(1, max_hops + 1):
            rtts, source, code = [], "", 0
            for attempt in range(tries):
                if stop.is_set():
                    return hops, False
                request = icmplib.ICMPRequest(address, ident, ttl * tries + attempt,
                                              payload_size=size, ttl=ttl,
                                              traffic_class=dscp << 2)
                try:
                    sock.send(request)
                    reply = sock.receive(request, timeout)
                except icmplib.TimeoutExceeded:
                    rtts.append(0)
                    continue
                rtts.append(max(1, round((reply.time - request.time) * 1000)))
                source, code = reply.source, reply.code
                try:
                    reply.raise_for_status()
                    reached = True
                except icmplib.TimeExceeded:
                    pass
                except icmplib.ICMPError:
                    reached = True   # unreachable: the end of this route
            hops.append({"Host": source, "HostAddress": "", "ErrorCode": str(code),
                         "RTTimes": ",".join(map(str, rtts))})
            if reached:
                break
    return hops, reached


async def run(request):
    try:
        family, address = await resolve(request["Host"], request.family)
    except Unresolved:
        return Outcome("Error_CannotResolveHostName")
    if os.geteuid() != 0:
        return Outcome("Error_Internal", {"IPAddressUsed": address})
    stop = threading.Event()
    try:
        hops, reached = await asyncio.to_thread(
            trace, address, family, request.int("NumberOfTries"), request.int("Timeout") / 1000,
            request.int("DataBlockSize"), request.int("DSCP"), request.int("MaxHopCount"),
            request.device, stop)
    except asyncio.CancelledError:
        stop.set()
        raise
    except (OSError, icmplib.ICMPLibError) as e:
        return Outcome("Error_NoRouteToHost" if getattr(e, "errno", None) in UNREACHABLE
                       else "Error_Internal", {"IPAddressUsed": address})
    results = {"IPAddressUsed": address, "ResponseTime": "0"}
    if reached:
        last = [int(t) for t in hops[-1]["RTTimes"].split(",") if int(t)]
        results["ResponseTime"] = str(round(sum(last) / len(last)))
    return Outcome("Complete" if reached else "Error_MaxHopCountExceeded", results,
                   {"RouteHops": hops})
