"""The D-Bus API (``org.icwmpy.tr069``): icwmp's ubus ``tr069`` object for D-Bus systems.

See docs/dbus.md for the methods, replies and signals.
"""

from icwmpy.bus.service import INTERFACE, NAME, PATH, BusService

__all__ = ["BusService", "INTERFACE", "NAME", "PATH"]
