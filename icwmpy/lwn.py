"""UDP Lightweight Notifications (TR-069 Annex M).

A lightweight notification tells the ACS about value changes in one UDP datagram instead
of a CWMP session. Parameters opt in with notification 3..6 (SetParameterAttributes):
3 and 4 are passive (the change waits for the next lightweight message), 5 and 6 active
(a message goes now, carrying the waiting passive changes too). Without a
LightweightNotificationTriggerInterval in the data model the passive ones travel only with
an active one, which is what TR-181 specifies for an interval of 0. An empty
LightweightNotificationProtocolsUsed disables the whole mechanism, whatever the attributes.

The datagram is an HTTP-style POST whose body is the ``Notification`` document of
cwmp-UDPLightweightNotification-1-0.xsd (TS, UN = ManagementServer.Username, a random CN,
the device identity, then Name/Value pairs typed with xsi:type like an Inform), and whose
``Signature`` header is the HMAC-SHA1 of that body keyed with ManagementServer.Password,
so that the ACS can authenticate it. Waiting passive changes are kept in the store: a
restart does not lose them.
"""

import asyncio
import hmac
import logging
import secrets
import time

from icwmpy.cwmp.xsdtypes import ParameterValue, element

log = logging.getLogger("icwmpy")

NAMESPACE = "urn:broadband-forum-org:cwmp:lwnotif-1-0"
PASSIVE = frozenset({3, 4})
ACTIVE = frozenset({5, 6})
MAX_DATAGRAM = 65507  # the largest UDP payload over IPv4
_MS = "Device.ManagementServer."
_READS = {"protocols": _MS + "LightweightNotificationProtocolsUsed",
          "host": _MS + "UDPLightweightNotificationHost",
          "port": _MS + "UDPLightweightNotificationPort",
          "username": _MS + "Username", "password": _MS + "Password",
          "OUI": "Device.DeviceInfo.ManufacturerOUI",
          "ProductClass": "Device.DeviceInfo.ProductClass",
          "SerialNumber": "Device.DeviceInfo.SerialNumber"}
_PARAM = ParameterValue()


def notification_xml(ts, username, cnonce, device, params):
    """The Notification document; ``device`` has OUI, ProductClass and SerialNumber,
    ``params`` is ``[(name, value, type)]``."""
    head = "".join(element(tag, str(value)) for tag, value in (
        ("TS", ts), ("UN", username), ("CN", cnonce), ("OUI", device["OUI"].upper()),
        ("ProductClass", device["ProductClass"]), ("SerialNumber", device["SerialNumber"])))
    body = "".join(_PARAM.encode("Param", p) for p in params)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Notification xmlns="{NAMESPACE}" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"{head}{body}</Notification>")


def datagram(xml, password, host, port):
    """The UDP payload: POST head with the body's signature, then the body."""
    body = xml.encode("utf-8")
    signature = hmac.new(password.encode("utf-8"), body, "sha1").hexdigest().upper()
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    head = (f"POST / HTTP/1.1\r\nHost: {authority}\r\n"
            "Content-Type: text/xml; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nSignature: {signature}\r\n\r\n")
    return head.encode("ascii") + body


class LightweightNotifier:
    """An Agent's lightweight notifications: ``await notify(changes)`` after each value
    change check, with the changed ``(name, value, type, notification)``."""

    def __init__(self, agent):
        self._agent = agent
        self._pending = agent.store["lwn"]  # name -> [value, type], passive, not yet sent

    async def notify(self, changes):
        changes = [c for c in changes if c[3] in PASSIVE | ACTIVE]
        if not changes:
            return
        config = await self._agent.run_model(self._read)
        if "UDP" not in config["protocols"].split(","):
            self._pending.replace({})
            return
        waiting = dict(self._pending.items())
        waiting.update({name: [value, type_] for name, value, type_, n in changes if n in PASSIVE})
        active = {name: [value, type_] for name, value, type_, n in changes if n in ACTIVE}
        if not active:
            self._pending.replace(waiting)
            return
        params = [(name, value, type_) for name, (value, type_) in {**waiting, **active}.items()]
        if await self._send(config, params):
            self._pending.replace({})
        else:
            self._pending.replace(waiting)

    def _read(self):
        """What a message needs, read in the model worker ('' for what cannot be read)."""
        model = self._agent.model
        out = {}
        for key, name in _READS.items():
            try:
                out[key] = model.read(name)
            except Exception as e:
                log.warning("lightweight notification: %s: %s", name, e)
                out[key] = ""
        return out

    async def _send(self, config, params):
        """Send one message; False when the changes should wait for the next one."""
        host, port = config["host"], int(config["port"] or 0)
        if not host or not port:
            log.warning("lightweight notification not sent: no UDPLightweightNotificationHost/Port")
            return False
        xml = notification_xml(int(time.time()), config["username"], secrets.token_hex(8),
                               config, params)
        payload = datagram(xml, config["password"], host, port)
        if len(payload) > MAX_DATAGRAM:
            log.error("lightweight notification of %d parameters dropped: does not fit a "
                      "datagram", len(params))
            return True  # waiting would only make it larger
        try:
            transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                asyncio.DatagramProtocol, remote_addr=(host, port))
        except OSError as e:
            log.warning("lightweight notification to %s:%d not sent: %s", host, port, e)
            return False
        try:
            transport.sendto(payload)
        finally:
            transport.close()
        log.info("lightweight notification to %s:%d: %s", host, port,
                 ", ".join(name for name, _, _ in params))
        return True
