"""Where connection requests are listened for and the URL the ACS is told
(ConnectionRequestURL), for the daemon's one CPE and a fleet's many alike."""

import fcntl
import ipaddress
import logging
import socket
import struct

log = logging.getLogger("icwmpy")

SIOCGIFADDR = 0x8915
# icwmp tries the next port without end; a bound keeps a broken device from scanning
CR_PORT_TRIES = 10
_IFA_UNUSABLE = 0x08 | 0x20  # /proc/net/if_inet6 flags: IFA_F_DADFAILED, IFA_F_DEPRECATED


def interface_address(name, version=4):
    """The address of IP ``version`` of a network interface (IPv6: a global one), or None."""
    if not name:
        return None
    if version == 6:
        return _global_ipv6_address(name)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            packed = fcntl.ioctl(s.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        return socket.inet_ntoa(packed[20:24])
    except OSError:
        return None


def _global_ipv6_address(name):
    try:
        with open("/proc/net/if_inet6", encoding="ascii") as f:
            for line in f:
                address, _, _, scope, flags, device = line.split()
                if device == name and scope == "00" and not int(flags, 16) & _IFA_UNUSABLE:
                    return str(ipaddress.IPv6Address(bytes.fromhex(address)))
    except OSError:
        pass
    return None


def listener_ip_version(settings):
    """What the connection request listeners bind: 4, 6, or None for both (icwmp's
    cwmp.acs.ip_version, which cwmp.cpe.force_ipv4 overrides)."""
    if settings.cpe.force_ipv4:
        return 4
    return int(settings.acs.ip_version) if settings.acs.ip_version else None


def url_ip_version(settings):
    """The IP version of ConnectionRequestURL: the listeners', else 6 with acs.ipv6_enable."""
    return listener_ip_version(settings) or (6 if settings.acs.ipv6_enable else 4)


def connection_request_url(settings, port):
    """The URL the ACS should use: advertised host, else the address of the listening
    interface or the WAN interface in the configured IP version, else loopback."""
    cpe, version = settings.cpe, url_ip_version(settings)
    host = cpe.advertise_host or interface_address(cpe.interface, version) or interface_address(
        cpe.default_wan_interface, version)
    if not host:
        host = "127.0.0.1" if version == 4 else "::1"
        log.warning("no IPv%d address on interface %r and no cwmp.cpe.advertise_host: "
                    "advertising %s", version, cpe.interface or cpe.default_wan_interface, host)
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass
    path = cpe.path if cpe.path.startswith("/") else "/" + cpe.path
    return f"http://{host}:{port}{path}"
