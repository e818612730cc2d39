"""Device.IP.Diagnostics.UDPEchoConfig: the CPE's UDP echo responder (TR-143 Annex A).

While Enable is true an asyncio datagram endpoint listens on UDPPort (both IP versions,
Interface's device only when one is named) and returns each packet from SourceIPAddress
(anyone when empty), with the Echo Plus fields filled in when EchoPlusEnabled. Its
counters start again at each enable and are persisted at most once a second, so that
reading them costs no disk write per packet.
"""

import asyncio
import ipaddress
import socket
import time

from icwmpy.cr.sockets import listening_socket
from icwmpy.diagnostics import echoplus
from icwmpy.diagnostics.common import BadInterface, read_request, utc_micro
from icwmpy.diagnostics.params import NAMESPACE, record

TEST = "UDPEchoConfig"
PATH = "Device.IP.Diagnostics.UDPEchoConfig."
SAVE_EVERY = 1.0


def _address(text):
    ip = ipaddress.ip_address(text.split("%")[0])
    return ip.ipv4_mapped or ip if ip.version == 6 else ip


class Responder(asyncio.DatagramProtocol):
    def __init__(self, source, plus, changed):
        self.source = _address(source) if source else None
        self.plus = plus
        self.changed = changed
        self.transport = None
        self.counts = {"PacketsReceived": 0, "PacketsResponded": 0, "BytesReceived": 0,
                       "BytesResponded": 0}
        self.first = self.last = None
        self.failures = 0

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        received = time.time()
        self.counts["PacketsReceived"] += 1
        self.counts["BytesReceived"] += len(data)
        self.first = self.first or received
        self.last = received
        if self.source is None or _address(addr[0]) == self.source:
            if self.plus and echoplus.fields(data):
                data = echoplus.answer(data, self.counts["PacketsResponded"] + 1, received,
                                       time.time(), self.failures)
            try:
                self.transport.sendto(data, addr)
            except OSError:
                self.failures += 1
            else:
                self.counts["PacketsResponded"] += 1
                self.counts["BytesResponded"] += len(data)
        self.changed()

    def error_received(self, exc):
        self.failures += 1

    def results(self):
        out = {name: str(value) for name, value in self.counts.items()}
        for name, when in (("TimeFirstPacketReceived", self.first),
                           ("TimeLastPacketReceived", self.last)):
            out[name] = utc_micro(when) if when else "0001-01-01T00:00:00Z"
        return out


class EchoService:
    """Keeps the responder as UDPEchoConfig says: :meth:`apply` after a change."""

    def __init__(self, store, model, run_model, log):
        self.store, self.model, self.run_model, self.log = store, model, run_model, log
        self.responder = None
        self.port = None        # the port bound (UDPPort 0: one the kernel chose)
        self._config = None
        self._applying = None
        self._again = False
        self._save = None

    def changed(self):
        """A parameter under the diagnostics objects changed: apply it, one apply at a time,
        and once more when it changed again meanwhile."""
        self._again = True
        if self._applying is None or self._applying.done():
            self._applying = asyncio.ensure_future(self._follow())

    async def _follow(self):
        while self._again:
            self._again = False
            await self.apply()

    async def apply(self):
        """Listen as UDPEchoConfig now says (nothing before the ACS ever wrote it: a fleet's
        profile data model has no such backend, and costs no model call)."""
        config = None
        if TEST in self.store[NAMESPACE]:
            try:
                request = await self.run_model(read_request, self.model, PATH)
            except BadInterface as e:
                self.log.warning("UDPEchoConfig: interface %s does not exist: not listening", e)
            else:
                if request.flag("Enable"):
                    config = (request.int("UDPPort"), request.device,
                              request["SourceIPAddress"], request.flag("EchoPlusEnabled"))
        if config == self._config:
            return
        await self._stop()
        self._config = config
        if config is None:
            return
        port, device, source, plus = config
        try:
            sock = listening_socket(socket.SOCK_DGRAM, port, device=device)
        except OSError as e:
            self.log.warning("UDPEchoConfig: cannot listen on UDP port %d: %s", port, e)
            return
        self.port = sock.getsockname()[1]
        self.responder = Responder(source, plus, self._schedule_save)
        await asyncio.get_running_loop().create_datagram_endpoint(lambda: self.responder,
                                                                  sock=sock)
        await self.run_model(self._store, self.responder.results())
        self.log.info("UDP echo responder on port %d%s%s", self.port,
                      f" of {device}" if device else "", " (Echo Plus)" if plus else "")

    def _schedule_save(self):
        if self._save is None:
            self._save = asyncio.get_running_loop().call_later(SAVE_EVERY, self._saving)

    def _saving(self):
        self._save = None
        if self.responder:
            asyncio.ensure_future(self.run_model(self._store, self.responder.results()))

    def _store(self, results):
        """(model worker) The counters as UDPEchoConfig's read-only parameters."""
        rec = record(self.store, TEST)
        rec["results"] = results
        self.store[NAMESPACE].set(TEST, rec)

    async def close(self):
        """The Agent stops: no apply any more, no responder."""
        if self._applying is not None:
            self._applying.cancel()
            await asyncio.gather(self._applying, return_exceptions=True)
        await self._stop()

    async def _stop(self):
        if self._save is not None:
            self._save.cancel()
            self._save = None
        if self.responder is not None:
            self.responder.transport.close()
            await self.run_model(self._store, self.responder.results())
            self.responder = None
            self.port = None
