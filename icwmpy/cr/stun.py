"""STUN Binding for UDP connection requests behind a NAT (TR-069 Annex G, TR-111 Part 2).

A CPE behind a NAT cannot be reached by the ACS's HTTP connection request. Instead it
keeps a NAT binding open by sending STUN Binding Requests from its UDP connection request
port, learns the public address of that binding from the answers, and publishes it in
``UDPConnectionRequestAddress`` so the ACS can send UDP connection requests through it.

The codec is done by hand (one method, a handful of attributes) and has no I/O. Requests
carry the RFC 5389 magic cookie, which a classic RFC 3489 server simply echoes back as part
of the transaction ID, so one format talks to both kinds of server; answers are read from
XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS from a classic server. MESSAGE-INTEGRITY follows
RFC 5389 (HMAC-SHA1 keyed with the short-term password STUNPassword, computed with the
header length already counting the attribute). As TR-181 says, USERNAME and
MESSAGE-INTEGRITY are only sent once the server has asked for them (a 401 answer) and never
with an empty STUNUsername; a request with BINDING-CHANGE is signed whenever STUNUsername is
set, since it redirects the ACS's connection requests.

``StunClient`` is the asyncio side: it shares the connection request socket (``UdpCrServer``
hands it the STUN datagrams) and keeps the binding alive.
"""

import asyncio
import hmac
import ipaddress
import logging
import secrets
import socket
import struct
import zlib
from dataclasses import dataclass, field

log = logging.getLogger("icwmpy.cr")

MAGIC_COOKIE = 0x2112A442
BINDING_REQUEST, BINDING_SUCCESS, BINDING_ERROR = 0x0001, 0x0101, 0x0111
MAPPED_ADDRESS = 0x0001
USERNAME = 0x0006
MESSAGE_INTEGRITY = 0x0008
ERROR_CODE = 0x0009
XOR_MAPPED_ADDRESS = 0x0020
FINGERPRINT = 0x8028
# TR-111 attributes: "this binding carries UDP connection requests", and "the binding changed".
CONNECTION_REQUEST_BINDING = 0xC001
BINDING_CHANGE = 0xC002
TR111_BINDING_VALUE = b"dslforum.org/TR-111 "  # the trailing space makes it 20 bytes

_HEADER = struct.Struct("!HHI12s")
_FINGERPRINT_XOR = 0x5354554E
_COOKIE = MAGIC_COOKIE.to_bytes(4, "big")


class StunError(ValueError):
    """A datagram that is not a well-formed STUN message."""


def is_stun(datagram):
    """True for what can only be a STUN message: first two bits zero, our magic cookie, and
    a length that matches. (HTTP-over-UDP connection requests start with "GET ".)"""
    return (len(datagram) >= 20 and datagram[0] < 0x40 and datagram[4:8] == _COOKIE
            and int.from_bytes(datagram[2:4], "big") == len(datagram) - 20)


def _attribute(attr_type, value):
    return struct.pack("!HH", attr_type, len(value)) + value + b"\0" * (-len(value) % 4)


def encode(msg_type, transaction_id, attributes, *, integrity_key=None, fingerprint=False):
    """Bytes of a message with ``attributes`` ``[(type, value)]``, then MESSAGE-INTEGRITY
    (when ``integrity_key`` is given) and FINGERPRINT, each computed as RFC 5389 says: over
    the message so far, with the header length already counting the attribute itself."""
    body = b"".join(_attribute(t, v) for t, v in attributes)
    if integrity_key is not None:
        head = _HEADER.pack(msg_type, len(body) + 24, MAGIC_COOKIE, transaction_id)
        body += _attribute(MESSAGE_INTEGRITY, hmac.digest(integrity_key, head + body, "sha1"))
    if fingerprint:
        head = _HEADER.pack(msg_type, len(body) + 8, MAGIC_COOKIE, transaction_id)
        crc = zlib.crc32(head + body) ^ _FINGERPRINT_XOR
        body += _attribute(FINGERPRINT, crc.to_bytes(4, "big"))
    return _HEADER.pack(msg_type, len(body), MAGIC_COOKIE, transaction_id) + body


def binding_request(transaction_id, *, change=False, username="", password=None):
    """A TR-111 Binding Request; USERNAME and MESSAGE-INTEGRITY when ``password`` is given."""
    attributes = [(CONNECTION_REQUEST_BINDING, TR111_BINDING_VALUE)]
    if change:
        attributes.append((BINDING_CHANGE, b""))
    if password is None:
        return encode(BINDING_REQUEST, transaction_id, attributes)
    attributes.append((USERNAME, username.encode("utf-8")))
    return encode(BINDING_REQUEST, transaction_id, attributes,
                  integrity_key=password.encode("utf-8"))


@dataclass
class Message:
    type: int
    transaction_id: bytes  # the 12 bytes after the magic cookie
    attributes: list  # [(type, value)] in wire order
    raw: bytes = b""
    offsets: dict = field(default_factory=dict)  # attribute type -> offset of its first one

    def get(self, attr_type):
        return next((v for t, v in self.attributes if t == attr_type), None)

    def mapped_address(self):
        """``(ip, port)`` from XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS, else None."""
        value = self.get(XOR_MAPPED_ADDRESS)
        if value is not None:
            mask = _COOKIE + self.transaction_id
            return _address(value, xor=mask)
        value = self.get(MAPPED_ADDRESS)
        return _address(value) if value is not None else None

    def error_code(self):
        value = self.get(ERROR_CODE)
        if value is None or len(value) < 4:
            return None
        return (value[2] & 0x7) * 100 + value[3]

    def integrity_ok(self, key):
        """MESSAGE-INTEGRITY checks out with ``key`` (False when absent)."""
        at = self.offsets.get(MESSAGE_INTEGRITY)
        if at is None:
            return False
        expected = hmac.digest(key, self._prefix(at, 24), "sha1")
        return hmac.compare_digest(expected, self.get(MESSAGE_INTEGRITY))

    def fingerprint_ok(self):
        at = self.offsets.get(FINGERPRINT)
        if at is None:
            return False
        crc = zlib.crc32(self._prefix(at, 8)) ^ _FINGERPRINT_XOR
        return crc.to_bytes(4, "big") == self.get(FINGERPRINT)

    def _prefix(self, at, attribute_size):
        """The message before offset ``at``, its length field ending after that attribute."""
        return self.raw[:2] + (at - 20 + attribute_size).to_bytes(2, "big") + self.raw[4:at]


def _address(value, xor=None):
    if len(value) < 8 or value[1] not in (1, 2):
        raise StunError("malformed address attribute")
    size = 4 if value[1] == 1 else 16
    port, raw = value[2:4], value[4:4 + size]
    if len(raw) != size:
        raise StunError("truncated address attribute")
    if xor is not None:
        port = bytes(a ^ b for a, b in zip(port, xor, strict=False))
        raw = bytes(a ^ b for a, b in zip(raw, xor, strict=False))
    return str(ipaddress.ip_address(raw)), int.from_bytes(port, "big")


def parse(datagram):
    """The Message in ``datagram``; StunError when it is not well formed."""
    if not is_stun(datagram):
        raise StunError("not a STUN message")
    msg_type, _, _, transaction_id = _HEADER.unpack_from(datagram)
    attributes, offsets, at = [], {}, 20
    while at < len(datagram):
        if at + 4 > len(datagram):
            raise StunError("truncated attribute header")
        attr_type, size = struct.unpack_from("!HH", datagram, at)
        value = datagram[at + 4:at + 4 + size]
        if len(value) != size:
            raise StunError("truncated attribute")
        offsets.setdefault(attr_type, at)
        attributes.append((attr_type, value))
        at += 4 + size + (-size % 4)
    return Message(msg_type, transaction_id, attributes, bytes(datagram), offsets)


def keepalive_period(minimum, maximum, default=30):
    """Seconds between Binding Requests: STUNMinimumKeepAlivePeriod, or ``default`` when
    that is 0; never above STUNMaximumKeepAlivePeriod unless that is -1 (no maximum)."""
    period = minimum if minimum > 0 else default
    if maximum > 0:
        period = min(period, max(maximum, minimum))
    return period


def local_ip_toward(ip):
    """The source address the kernel picks to reach ``ip`` (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((ip, 9))
        return s.getsockname()[0]


class StunTimeout(Exception):
    pass


class StunClient:
    """Keeps the UDP connection request binding alive and publishes what it learns.

    ``send(data, addr)`` writes on the shared socket, whose port is ``local_port``;
    ``config()`` is the live ``cwmp.stun`` settings section; ``default_host()`` is the
    ACS host (used when STUNServerAddress is empty); ``await publish(address, nat)``
    records UDPConnectionRequestAddress and NATDetected. ``local_address`` is what is
    published while STUN is off or has learnt nothing yet (the caller has published it
    already), ``previous`` the binding published before a restart (a different one now is
    a binding change). Retransmissions follow RFC 5389 7.2.1: ``rto`` doubling, ``attempts``
    requests, the last one awaited ``last_wait`` initial RTOs.
    """

    IDLE_POLL = 5.0  # how often a disabled client looks at STUNEnable again

    def __init__(self, send, config, default_host, publish, *, local_port, local_address,
                 previous=None, rto=0.5, attempts=7, last_wait=16):
        self._send = send
        self._config = config
        self._default_host = default_host
        self._publish = publish
        self.local_port = local_port
        self._local_address = local_address
        self.mapped = previous  # "ip:port" of the binding, as last published
        self._published = (local_address, False)
        self._rto, self._attempts, self._last_wait = rto, attempts, last_wait
        self._integrity = False  # the server asked for MESSAGE-INTEGRITY (401) once
        self._pending = None  # (transaction id, server address, future)

    def datagram_received(self, data, addr):
        """A STUN datagram arrived on the shared socket."""
        if self._pending is None:
            return
        tid, server, future = self._pending
        try:
            message = parse(data)
        except StunError as e:
            log.debug("STUN datagram from %s ignored: %s", addr, e)
            return
        if message.transaction_id != tid or addr[:2] != server or future.done():
            log.debug("STUN datagram from %s ignored: not our transaction", addr)
            return
        future.set_result(message)

    async def run(self):
        while True:
            config = self._config()
            try:
                if config.enable:
                    await self._refresh(config)
                else:
                    await self._set(self._local_address, False)
            except (OSError, StunTimeout, StunError) as e:
                log.warning("STUN binding with %s failed: %s", self._server_name(config), e)
            except Exception:  # e.g. the data model refused a value: keep the binding alive
                log.exception("STUN: cannot publish the UDP connection request address")
            await asyncio.sleep(keepalive_period(config.min_keepalive, config.max_keepalive)
                                if config.enable else self.IDLE_POLL)

    async def _refresh(self, config):
        host = self._server_name(config)
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, config.server_port, family=socket.AF_INET, type=socket.SOCK_DGRAM)
        server = infos[0][4][:2]
        ip, port = await self._bind(server, config, change=False)
        mapped = f"{ip}:{port}"
        nat = (ip, port) != (local_ip_toward(server[0]), self.local_port)
        if mapped != self.mapped:
            log.info("STUN binding is now %s (NAT %sdetected)", mapped, "" if nat else "not ")
            if self.mapped is not None:
                await self._bind(server, config, change=True)  # tell the server (ACS) at once
            self.mapped = mapped
        await self._set(mapped, nat)

    async def _set(self, address, nat):
        if self._published != (address, nat):
            await self._publish(address, nat)
            self._published = (address, nat)

    def _server_name(self, config):
        return config.server_address or self._default_host()

    async def _bind(self, server, config, *, change):
        """One Binding transaction; ``(ip, port)`` of the mapped address."""
        signed = bool(config.username) and (change or self._integrity)
        response = await self._transaction(server, change, config if signed else None)
        if response.type == BINDING_ERROR and response.error_code() == 401 and not signed:
            if not config.username:
                raise StunError("the STUN server wants credentials and STUNUsername is empty")
            self._integrity = True
            response = await self._transaction(server, change, config)
        if response.type != BINDING_SUCCESS:
            raise StunError(f"Binding error response {response.error_code()}")
        mapped = response.mapped_address()
        if mapped is None:
            raise StunError("Binding response without a mapped address")
        return mapped

    async def _transaction(self, server, change, signer):
        tid = secrets.token_bytes(12)
        password = signer.password if signer else None
        request = binding_request(tid, change=change, password=password,
                                  username=signer.username if signer else "")
        future = asyncio.get_running_loop().create_future()
        self._pending = (tid, server, future)
        waits = [self._rto * 2 ** i for i in range(self._attempts - 1)]
        waits.append(self._rto * self._last_wait)
        try:
            for wait in waits:
                self._send(request, server)
                done, _ = await asyncio.wait([future], timeout=wait)
                if done:
                    response = future.result()
                    if password is not None and MESSAGE_INTEGRITY in response.offsets \
                            and not response.integrity_ok(password.encode("utf-8")):
                        raise StunError("Binding response with a wrong MESSAGE-INTEGRITY")
                    return response
            raise StunTimeout(f"no answer after {len(waits)} Binding Requests")
        finally:
            self._pending = None
