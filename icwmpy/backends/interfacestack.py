"""``InterfaceStack.``: the layers the network tables stack, as their LowerLayers say."""

from icwmpy.backends.bridging import BridgePorts
from icwmpy.backends.network import NetworkTable, ref


class InterfaceStack(NetworkTable):
    """``InterfaceStack.{i}.``: every (higher, lower) pair the LowerLayers of the network
    tables say, keys ``higher|lower``."""

    def keys(self, keys):
        net, pairs = self.net, []
        for table, members in (("Device.IP.Interface.", list(net.interfaces)),
                               ("Device.PPP.Interface.", net.ppp()),
                               ("Device.Ethernet.VLANTermination.", list(net.vlans())),
                               ("Device.Ethernet.Link.", net.links())):
            for key in members:
                pairs += [(ref(self.ctx, table, key), lower)
                          for lower in self.lower(table, key).split(",")]
        ports = BridgePorts(self.ctx)
        ports.net = net
        for bridge in net.bridges():
            table = f"{ref(self.ctx, 'Device.Bridging.Bridge.', bridge)}.Port."
            for port in ports.keys((bridge,)):
                pairs += [(ref(self.ctx, table, port), lower)
                          for lower in ports.get((bridge, port), "LowerLayers").split(",")]
        return [f"{higher}|{lower}" for higher, lower in pairs if higher and lower]

    def get(self, keys, relname):
        higher, _, lower = keys[-1].partition("|")
        return {"HigherLayer": higher, "LowerLayer": lower}.get(relname, "")
