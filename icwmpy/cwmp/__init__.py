"""The CWMP protocol core, without I/O: bytes and events in, bytes and actions out.

``soap`` reads and writes envelopes, driven by the RPC table in ``rpcs``, which is built
from the schema value kinds of ``xsdtypes``."""
