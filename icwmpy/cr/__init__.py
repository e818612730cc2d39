"""Connection requests: how the ACS asks the CPE to open a session now (TR-069 3.2.2).

``CrServer`` is the HTTP listener; each CPE registers a ``Route`` on it.
"""

from .http import CrServer, Route

__all__ = ["CrServer", "Route"]
