"""The listening sockets of connection requests: which IP version, interface and port.

HTTP and UDP connection requests share these rules, so both listen where the ACS is told
to send (ConnectionRequestURL, UDPConnectionRequestAddress) and nowhere else.
"""

import errno
import logging
import socket

log = logging.getLogger("icwmpy.cr")


def listening_socket(kind, port, *, host=None, version=None, device=None):
    """A non-blocking socket of ``kind`` (SOCK_STREAM or SOCK_DGRAM) bound on ``port``.

    ``host`` binds one address. Otherwise every address of IP ``version``: 4, 6, or None
    for both on one socket (dual stack, so one port number even when ``port`` is 0; IPv4
    alone on a kernel without IPv6). ``device`` (a Linux interface name) keeps the socket
    to what arrives on that interface (SO_BINDTODEVICE), whatever addresses it gets later.
    """
    if host:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=kind,
                                                      flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind)
    elif version == 4:
        sock, address = socket.socket(socket.AF_INET, kind), ("0.0.0.0", port)
    else:
        try:
            sock, address = socket.socket(socket.AF_INET6, kind), ("::", port)
        except OSError:
            if version == 6:
                raise
            sock, address = socket.socket(socket.AF_INET, kind), ("0.0.0.0", port)
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(version == 6))
    try:
        if kind == socket.SOCK_STREAM:  # not for UDP: there it lets a second daemon share the port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if device:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device.encode())
        sock.bind(address)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def first_free(kind, port, tries, **where):
    """:func:`listening_socket` on ``port``, else on the next of ``tries`` ports (as icwmp
    does when its port is taken: 7547 busy, then 7548, ...). Port 0 needs no retry."""
    last = min(port + tries - 1, 65535) if port else 0
    while True:
        try:
            return listening_socket(kind, port, **where)
        except OSError as e:
            if e.errno != errno.EADDRINUSE or port >= last:
                raise
            log.warning("connection request port %d is in use: trying %d", port, port + 1)
            port += 1
