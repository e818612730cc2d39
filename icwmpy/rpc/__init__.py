"""CPE-side RPC methods: what the CPE does for each ACS request (TR-069 Annex A).

:class:`RpcHandler` answers one decoded request with response or fault bytes;
:mod:`.checks` holds the protocol-level rules of the transfer RPCs (shared with the
transfer queue); :class:`Options` keeps the options bought with SetVouchers.
"""

from icwmpy.rpc.methods import RpcHandler
from icwmpy.rpc.options import Options

__all__ = ["RpcHandler", "Options"]
