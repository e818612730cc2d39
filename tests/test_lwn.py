"""UDP Lightweight Notifications (TR-069 Annex M) received on a real UDP socket.

The notifier runs against the real data model and store; what arrives on 127.0.0.1 is
checked as an ACS would: its Signature header against an HMAC computed here, and (where the
test data has the BBF schemas) its body against cwmp-UDPLightweightNotification-1-0.xsd. The
daemon test changes a value with notification 5 behind the daemon's back.
"""

import asyncio
import hashlib
import hmac
import shutil
import time

from lxml import etree

import acs as A
import xsd
from cpe import REPO, Cpe
from icwmpy.cli import default_datamodel_dir
from icwmpy.config.uci import Uci
from icwmpy.lwn import LightweightNotifier
from icwmpy.model import DataModel
from icwmpy.store import Store

INTERVAL = "Device.ManagementServer.PeriodicInformInterval"
URL = "Device.ManagementServer.URL"


class Receiver(asyncio.DatagramProtocol):
    def __init__(self):
        self.datagrams = asyncio.Queue()

    def datagram_received(self, data, addr):
        self.datagrams.put_nowait(data)


async def receiver():
    transport, protocol = await asyncio.get_running_loop().create_datagram_endpoint(
        Receiver, local_addr=("127.0.0.1", 0))
    return transport, protocol, transport.get_extra_info("sockname")[1]


def check_message(datagram, password):
    """Head fields and body of a notification, after checking signature and schema."""
    head, _, body = datagram.partition(b"\r\n\r\n")
    request_line, *lines = head.decode("ascii").split("\r\n")
    assert request_line == "POST / HTTP/1.1"
    headers = dict(line.split(": ", 1) for line in lines)
    assert headers["Content-Type"] == "text/xml; charset=utf-8"
    assert int(headers["Content-Length"]) == len(body)
    expected = hmac.new(password.encode(), body, hashlib.sha1).hexdigest()
    assert headers["Signature"].lower() == expected
    doc = etree.fromstring(body)
    if xsd.available():   # the schemas are third-party test data
        path = xsd.XSD_DIR / "cwmp-UDPLightweightNotification-1-0.xsd"
        etree.XMLSchema(etree.parse(str(path), xsd._resolver_parser())).assertValid(doc)
    ns = {"n": "urn:broadband-forum-org:cwmp:lwnotif-1-0"}
    fields = {tag: doc.findtext(f"n:{tag}", namespaces=ns)
              for tag in ("TS", "UN", "CN", "OUI", "ProductClass", "SerialNumber")}
    params = {p.findtext("n:Name", namespaces=ns): (
        p.findtext("n:Value", namespaces=ns),
        p.find("n:Value", ns).get("{http://www.w3.org/2001/XMLSchema-instance}type"))
        for p in doc.findall("n:Param", ns)}
    return headers, fields, params


class Host:
    """What the notifier uses of its Agent: the model, the store, the model worker."""

    def __init__(self, tmp_path, options):
        conf = tmp_path / "config"
        conf.mkdir()
        shutil.copy(REPO / "etc" / "config" / "cwmp", conf / "cwmp")
        uci = Uci(str(conf))
        for (section, option), value in options.items():
            uci.set("cwmp", section, option, value)
        uci.commit("cwmp")
        self.store = Store(str(tmp_path / "state"))
        self.model = DataModel.from_dir(default_datamodel_dir(), uci, self.store)

    async def run_model(self, fn, *args):
        return fn(*args)


async def watched(statedir, name):
    """Wait until the daemon's watcher has recorded ``name``'s value: a change needs it."""
    async with asyncio.timeout(10):
        while name not in Store(str(statedir))["notify"].get("known", {}):
            await asyncio.sleep(0.1)


def options(port, enable="1"):
    return {("lwn", "enable"): enable, ("lwn", "hostname"): "127.0.0.1", ("lwn", "port"): str(port),
            ("acs", "userid"): "acs-user", ("acs", "passwd"): "acs-secret",
            ("cpe", "manufacturer_oui"): "00D09E", ("cpe", "product_class"): "Box",
            ("cpe", "serial_number"): "SN-1"}


def test_passive_waits_for_active_then_one_signed_valid_datagram(tmp_path):
    async def main():
        transport, rx, port = await receiver()
        try:
            host = Host(tmp_path, options(port))
            notifier = LightweightNotifier(host)
            await notifier.notify([(URL, "http://acs.example/", "string", 3),
                                   ("Device.DeviceInfo.UpTime", "5", "unsignedInt", 1)])
            await asyncio.sleep(0.3)
            assert rx.datagrams.empty()  # passive lightweight: waits (and is persisted)
            stored = Store(str(tmp_path / "state"))["lwn"]
            assert stored.get(URL) == ["http://acs.example/", "string"]
            await notifier.notify([(INTERVAL, "1234", "unsignedInt", 5)])
            datagram = await asyncio.wait_for(rx.datagrams.get(), 5)
            headers, fields, params = check_message(datagram, "acs-secret")
            assert headers["Host"] == f"127.0.0.1:{port}"
            assert abs(int(fields["TS"]) - time.time()) < 10 and fields["CN"]
            assert (fields["UN"], fields["OUI"], fields["ProductClass"], fields["SerialNumber"]) \
                == ("acs-user", "00D09E", "Box", "SN-1")
            assert params == {URL: ("http://acs.example/", "xsd:string"),
                              INTERVAL: ("1234", "xsd:unsignedInt")}
            assert dict(host.store["lwn"].items()) == {}
            await notifier.notify([(INTERVAL, "99", "unsignedInt", 6)])
            datagram = await asyncio.wait_for(rx.datagrams.get(), 5)
            _, _, params = check_message(datagram, "acs-secret")
            assert params == {INTERVAL: ("99", "xsd:unsignedInt")}  # sent changes are not resent
        finally:
            transport.close()
    A.run(main(), timeout=20)


def test_disabled_protocols_send_nothing_and_forget(tmp_path):
    async def main():
        transport, rx, port = await receiver()
        try:
            host = Host(tmp_path, options(port, enable="0"))
            protocols = "Device.ManagementServer.LightweightNotificationProtocolsUsed"
            assert host.model.read(protocols) == ""
            host.store["lwn"].set(URL, ["x", "string"])
            await LightweightNotifier(host).notify([(INTERVAL, "1", "unsignedInt", 5)])
            await asyncio.sleep(0.3)
            assert rx.datagrams.empty() and dict(host.store["lwn"].items()) == {}
        finally:
            transport.close()
    A.run(main(), timeout=20)


def test_daemon_sends_a_lightweight_notification(tmp_path):
    async def main():
        transport, rx, port = await receiver()
        acs = A.Acs()
        await acs.start()
        cpe = Cpe(tmp_path, acs.url, options(port))
        acs.queue(A.set_parameter_attributes([(INTERVAL, 5, None)]))
        await cpe.start()
        try:
            await acs.wait_session(1, timeout=15)
            await watched(cpe.statedir, INTERVAL)
            cpe.configure({("acs", "periodic_inform_interval"): "4321"})
            datagram = await asyncio.wait_for(rx.datagrams.get(), 10)
            _, fields, params = check_message(datagram, "acs-secret")
            assert params == {INTERVAL: ("4321", "xsd:unsignedInt")} and fields["UN"] == "acs-user"
            await asyncio.sleep(1.5)
            assert len(acs.sessions) == 1  # lightweight only: no session for notification 5
        finally:
            assert await cpe.stop() == 0
            await acs.stop()
            transport.close()
    A.run(main(), timeout=40)
