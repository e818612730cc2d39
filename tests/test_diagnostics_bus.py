"""Diagnostics started over D-Bus: StartDiagnostics on the real daemon (private dbus-daemon),
the DiagnosticsComplete signal with the results, and no Inform to the ACS for it."""

import asyncio

import pytest
from dbus_next import DBusError
from dbus_next.aio import MessageBus

from dbus_fixture import DBusDaemon, available
from test_bus import INVALID_ARGS, NAME, PATH, icwmpd, unwrap

pytestmark = pytest.mark.skipif(not available(), reason="dbus-daemon is not installed")


def test_start_diagnostics_reports_by_signal_not_by_inform(tmp_path):
    async def main():
        with DBusDaemon() as bus:
            async with icwmpd(tmp_path, bus.address) as daemon:
                watcher = await MessageBus(bus_address=bus.address).connect()
                node = await watcher.introspect(NAME, PATH)
                done = asyncio.Queue()
                watcher.get_proxy_object(NAME, PATH, node).get_interface(NAME) \
                    .on_diagnostics_complete(lambda test, state, origin, results:
                                             done.put_nowait((test, state, origin, results)))
                answer = unwrap(await daemon.tr069.call_start_diagnostics(
                    "IPPing", {"Host": "::1", "NumberOfRepetitions": "2"}))
                assert answer["status"] == 1 and answer["info"] == "IPPing started"
                test, state, origin, results = await asyncio.wait_for(done.get(), 10)
                assert (test, state, origin) == ("IPPing", "Complete", "bus")
                assert (results["SuccessCount"], results["IPAddressUsed"]) == ("2", "::1")
                await asyncio.sleep(0.5)
                assert len(daemon.acs.sessions) == 1   # the ACS is not told

                with pytest.raises(DBusError) as bad:
                    await daemon.tr069.call_start_diagnostics("IPPing",
                                                              {"NumberOfRepetitions": "0"})
                assert bad.value.type == INVALID_ARGS
                assert bad.value.text.startswith("9007 Invalid parameter value: "
                                                 "Device.IP.Diagnostics.IPPing.NumberOfRepetitions")
                with pytest.raises(DBusError) as name:
                    await daemon.tr069.call_start_diagnostics("IPPing", {"Hots": "::1"})
                assert name.value.text == ("9005 Invalid parameter name: "
                                           "Device.IP.Diagnostics.IPPing.Hots")
                with pytest.raises(DBusError) as unknown:
                    await daemon.tr069.call_start_diagnostics("Nothing", {})
                assert unknown.value.text.startswith("9005 ")
                watcher.disconnect()
    asyncio.run(main())
