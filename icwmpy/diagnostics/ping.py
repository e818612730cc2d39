"""IPPing: ICMP echo requests with icmplib, on the event loop (no thread).

icmplib builds and matches the packets; the socket is raw as root and the unprivileged
datagram kind otherwise (net.ipv4.ping_group_range). Times come from the kernel's receive
time as icmplib takes it: AverageResponseTime in ms, the *Detailed ones in µs.
"""

import errno
import os
import socket

import icmplib

from icwmpy.diagnostics.common import Outcome, Unresolved, prepare, resolve, rtt_stats

UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL}


def icmp_socket(family, device):
    """An icmplib socket of ``family`` bound to ``device`` (OSError, or icmplib's error when
    ICMP sockets are not allowed). The DSCP goes in each request: icmplib sets the socket's
    TOS / traffic class from it at every send."""
    cls = icmplib.ICMPv6Socket if family == socket.AF_INET6 else icmplib.ICMPv4Socket
    sock = cls(privileged=os.geteuid() == 0)
    try:
        prepare(sock.sock, family, device)
    except OSError:
        sock.close()
        raise
    return sock


async def echo(host, family, count, timeout, size=56, dscp=0, device=None):
    """(address, [rtt seconds of each answered request], errors) of ``count`` echo
    requests, each waiting ``timeout`` seconds; ``errors`` counts those the network
    refused (no route, destination unreachable). Raises Unresolved, OSError, ICMPLibError."""
    family, address = await resolve(host, family)
    rtts, errors = [], 0
    with icmplib.AsyncSocket(icmp_socket(family, device)) as sock:
        ident = icmplib.utils.unique_identifier()
        for sequence in range(count):
            request = icmplib.ICMPRequest(address, ident, sequence, payload_size=size,
                                          traffic_class=dscp << 2)
            try:
                sock.send(request)
                reply = await sock.receive(request, timeout)
                reply.raise_for_status()
            except icmplib.TimeoutExceeded:
                continue
            except (icmplib.ICMPError, icmplib.ICMPSocketError):
                errors += 1   # destination unreachable, or sendto refused (no route)
                continue
            rtts.append(reply.time - request.time)
    return address, rtts, errors


async def run(request):
    count = request.int("NumberOfRepetitions")
    try:
        address, rtts, errors = await echo(
            request["Host"], request.family, count, request.int("Timeout") / 1000,
            request.int("DataBlockSize"), request.int("DSCP"), request.device)
    except Unresolved:
        return Outcome("Error_CannotResolveHostName")
    except (OSError, icmplib.ICMPLibError) as e:
        return Outcome("Error_NoRouteToHost" if getattr(e, "errno", None) in UNREACHABLE
                       else "Error_Internal")
    if errors == count:
        return Outcome("Error_NoRouteToHost", {"IPAddressUsed": address})
    avg, low, high = rtt_stats(rtts, 1000)
    avg_us, low_us, high_us = rtt_stats(rtts, 1000000)
    return Outcome("Complete", {
        "IPAddressUsed": address, "SuccessCount": str(len(rtts)),
        "FailureCount": str(count - len(rtts)),
        "AverageResponseTime": avg, "MinimumResponseTime": low, "MaximumResponseTime": high,
        "AverageResponseTimeDetailed": avg_us, "MinimumResponseTimeDetailed": low_us,
        "MaximumResponseTimeDetailed": high_us})
