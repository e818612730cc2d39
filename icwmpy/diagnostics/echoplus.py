"""The TR-143 UDP Echo Plus packet: five 32-bit fields in network order at its start.

TestGenSN (the client's sequence number), TestRespSN (the responder's), the responder's
receive and reply times (µs, modulo 2^32) and its count of replies that failed. A plain
UDP echo just returns the packet; Echo Plus fills in the four responder fields.
"""

import struct

HEADER = struct.Struct("!IIIII")
MASK = 0xFFFFFFFF


def micros(timestamp):
    """A time as Echo Plus carries it: microseconds, modulo 2^32."""
    return int(timestamp * 1000000) & MASK


def request(sequence, size):
    """The client's packet of ``size`` bytes: its TestGenSN, zeros, padding."""
    return HEADER.pack(sequence & MASK, 0, 0, 0, 0)[:size].ljust(size, b"\0")


def answer(packet, resp_sn, received, replied, failures):
    """The Echo Plus reply to ``packet`` (at least HEADER.size bytes)."""
    return (packet[:4] + HEADER.pack(0, resp_sn & MASK, micros(received), micros(replied),
                                     failures & MASK)[4:] + packet[HEADER.size:])


def fields(packet):
    """(TestGenSN, TestRespSN, receive, reply, failures) of a packet; None when short."""
    return HEADER.unpack_from(packet) if len(packet) >= HEADER.size else None
