"""TR-143 diagnostics (Device.IP.Diagnostics., Device.DNS.Diagnostics.): one module per
test, the data model backends in :mod:`.params`, the runner the Agent composes in
:mod:`.runner`. Nothing is imported here: the data model reaches :mod:`.params` on every
``icwmpd -c`` run, which must not load asyncio and the tests' libraries."""
