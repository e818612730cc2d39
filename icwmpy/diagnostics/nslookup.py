"""NSLookupDiagnostics: A and AAAA queries to a chosen DNS server with dnspython (asyncio).

DNSServer is an address, a name (resolved by the system resolver) or empty (the first
nameserver of resolv.conf). Each repetition is one Result row: its status, whether the
answer was authoritative, the canonical name, the addresses and the A query's time (ms).
"""

import socket
import time

import dns.asyncbackend
import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver

from icwmpy.diagnostics.common import Outcome, Unresolved, prepare, resolve

MAX_ADDRESSES = 10


async def _query(name, rdtype, server, family, timeout, device):
    backend = dns.asyncbackend.get_default_backend()
    # connected, so that an ICMP port unreachable comes back as ConnectionRefusedError
    sock = await backend.make_socket(family, socket.SOCK_DGRAM, destination=(server, 53))
    try:
        prepare(sock.transport.get_extra_info("socket"), family, device)
        return await dns.asyncquery.udp(dns.message.make_query(name, rdtype), server,
                                        timeout=timeout, sock=sock)
    finally:
        await sock.close()


def _answers(response, rdtype):
    """(canonical name, [addresses]) of one answer, following its CNAMEs."""
    canonical = response.question[0].name
    addresses = []
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.CNAME and rrset.name == canonical:
            canonical = rrset[0].target
    for rrset in response.answer:
        if rrset.rdtype == rdtype and rrset.name == canonical:
            addresses += [rdata.address for rdata in rrset]
    return canonical.to_text(omit_final_dot=True), addresses


async def lookup(name, server, family, timeout, device=None):
    """One Result row."""
    row = {"Status": "Success", "AnswerType": "None", "HostNameReturned": "",
           "IPAddresses": "", "DNSServerIP": server, "ResponseTime": "0"}
    addresses, authoritative = [], True
    try:
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            started = time.monotonic()
            response = await _query(name, rdtype, server, family, timeout, device)
            if rdtype == dns.rdatatype.A:
                row["ResponseTime"] = str(max(1, round((time.monotonic() - started) * 1000)))
            authoritative &= bool(response.flags & dns.flags.AA)
            canonical, found = _answers(response, rdtype)
            addresses += found
            if found:
                row["HostNameReturned"] = canonical
    except dns.exception.Timeout:
        row["Status"] = "Error_Timeout"
        return row
    except ConnectionRefusedError:
        row["Status"] = "Error_DNSServerNotAvailable"
        return row
    except (OSError, dns.exception.DNSException):
        row["Status"] = "Error_Other"
        return row
    row["AnswerType"] = "Authoritative" if authoritative else "NonAuthoritative"
    if addresses:
        row["IPAddresses"] = ",".join(addresses[:MAX_ADDRESSES])
    else:
        row["Status"] = "Error_HostNameNotResolved"
    return row


def default_server():
    try:
        return dns.resolver.Resolver().nameservers[0]
    except (dns.resolver.NoResolverConfiguration, IndexError):
        return ""


async def run(request):
    try:
        name = dns.name.from_text(request["HostName"])
    except (dns.exception.DNSException, UnicodeError):
        return Outcome("Error_Other")
    try:
        family, server = await resolve(request["DNSServer"] or default_server())
    except Unresolved:
        return Outcome("Error_DNSServerNotResolved")
    timeout = request.int("Timeout") / 1000
    rows = []
    for _ in range(request.int("NumberOfRepetitions")):
        rows.append(await lookup(name, server, family, timeout, request.device))
    success = sum(row["Status"] == "Success" for row in rows)
    return Outcome("Complete", {"SuccessCount": str(success)}, {"Result": rows})
