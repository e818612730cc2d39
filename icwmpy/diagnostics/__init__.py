"""TR-143 diagnostics (Device.IP.Diagnostics., Device.DNS.Diagnostics.): one module per
test, the data model backends in :mod:`.params`, the runner the Agent composes in
:mod:`.runner`."""

from icwmpy.diagnostics.runner import EVENT, TESTS, Diagnostics

__all__ = ["EVENT", "TESTS", "Diagnostics"]
