"""``Bridging.``: the bridges of the network config, their ports and VLANs (see
:mod:`icwmpy.backends.network`)."""

import os

from icwmpy.backends.linux import SYS_NET, _int, device_stat, device_status
from icwmpy.backends.network import NetworkTable, ref, refs
from icwmpy.backends.uci import UciTable
from icwmpy.faults import CwmpFault


class Bridges(NetworkTable):
    """``Bridging.Bridge.{i}.``: bridge devices of the network config."""

    def keys(self, keys):
        return list(self.net.bridges())

    def get(self, keys, relname):
        bridge = keys[-1]
        if relname == "Enable":
            return "1"
        if relname == "Status":
            return "Enabled" if os.path.isdir(f"{SYS_NET}/{bridge}/bridge") else "Disabled"
        if relname == "Name":
            return bridge
        if relname == "Standard":
            vlans = _int(f"{SYS_NET}/{bridge}/bridge/vlan_filtering")
            return "802.1Q-2011" if vlans else "802.1D-2004"
        return ""


class BridgePorts(NetworkTable):
    """``Bridging.Bridge.{i}.Port.{i}.``: the management port (the bridge itself, key the
    bridge name), its ethernet ports (``ports`` list; key the device name) and the wireless
    interfaces whose network is on the bridge (key their wifi-iface section). Ethernet
    ports are added and deleted through the ports list; a port added by the ACS has no
    device until its LowerLayers names an Ethernet.Interface, so its key (``port-<n>``) is
    remembered against its device in the store, as is a port whose device was changed:
    instance numbers follow keys, and these must not change with the device."""

    NAMESPACE = "bridge_ports"   # {bridge: {key: device, "" until there is one}}

    def _named(self, bridge):
        return dict(self.ctx.store[self.NAMESPACE].get(bridge) or {})

    def _name(self, bridge, key, device=None):
        """Remember (``device`` "": pending) or forget (None) a key of its own."""
        named = self._named(bridge)
        named.pop(key, None)
        if device is not None and device != key:
            named[key] = device
        self.ctx.store[self.NAMESPACE].set(bridge, named)

    def keys(self, keys):
        bridge = keys[-1]
        named = self._named(bridge)
        by_device = {dev: key for key, dev in named.items() if dev}
        ethernet = [by_device.get(p, p) for p in self.net.bridges().get(bridge, [])]
        pending = [key for key, dev in named.items() if not dev]
        return [bridge] + ethernet + pending + self.net.wireless_ports(bridge)

    def _kind(self, bridge, port):
        if port == bridge:
            return "management"
        named = self._named(bridge)
        if named.get(port) == "":
            return "pending"
        if named.get(port, port) in self.net.bridges().get(bridge, []):
            return "ethernet"
        return "wireless" if self.ctx.uci.section_type("wireless", port) else "pending"

    def _device(self, bridge, port):
        kind = self._kind(bridge, port)
        if kind == "wireless":
            return self.ctx.uci.get("wireless", port, "ifname", "")
        return "" if kind == "pending" else self._named(bridge).get(port, port)

    def get(self, keys, relname):
        bridge, port = keys[-2], keys[-1]
        kind = self._kind(bridge, port)
        dev = self._device(bridge, port)
        if relname.startswith("Stats."):
            return device_stat(dev, relname)
        if relname == "Enable":
            return "1"
        if relname == "Status":
            return device_status(dev) if dev else ("Down" if kind == "wireless" else "NotPresent")
        if relname == "Name":
            return dev or (port if kind == "wireless" else "")
        if relname == "ManagementPort":
            return "1" if kind == "management" else "0"
        if relname == "LowerLayers":
            return self._lower(bridge, port, kind)
        return ""

    def _lower(self, bridge, port, kind):
        if kind == "management":
            table = f"{ref(self.ctx, 'Device.Bridging.Bridge.', bridge)}.Port."
            return refs(self.ctx, [(table, p) for p in self.keys((bridge,)) if p != bridge])
        if kind == "wireless":
            return ref(self.ctx, "Device.WiFi.SSID.", port)
        if kind == "ethernet":
            return ref(self.ctx, "Device.Ethernet.Interface.", self._device(bridge, port))
        return ""

    def set(self, keys, relname, value):
        bridge, port = keys[-2], keys[-1]
        kind = self._kind(bridge, port)
        if relname != "LowerLayers" or kind not in ("ethernet", "pending"):
            raise CwmpFault(9008, f"{relname} of this port cannot be written")
        dev = self.ctx.refs.key(value) if value.startswith("Device.Ethernet.Interface.") else None
        if dev is None:
            raise CwmpFault(9007, f"LowerLayers {value!r}: one Device.Ethernet.Interface. instance")
        old = self._device(bridge, port)
        ports = [dev if p == old else p for p in self.net.bridges()[bridge]]
        if kind == "pending":
            ports.append(dev)
        self._name(bridge, port, dev)
        self._set_ports(bridge, ports)

    def add(self, keys):
        bridge = keys[-1]
        if bridge not in self.net.bridges():
            raise OSError(f"{bridge} is not a bridge")
        taken = set(self._named(bridge)) | set(self.keys(keys))
        n = 1
        while f"port-{n}" in taken:
            n += 1
        self._name(bridge, f"port-{n}", "")
        return f"port-{n}"

    def delete(self, keys, port):
        bridge = keys[-1]
        kind = self._kind(bridge, port)
        if kind == "ethernet":
            dev = self._device(bridge, port)
            self._set_ports(bridge, [p for p in self.net.bridges()[bridge] if p != dev])
        elif kind != "pending":
            raise CwmpFault(9001, "only ethernet ports can be deleted")
        self._name(bridge, port)

    def _set_ports(self, bridge, ports):
        section = self.net.section(bridge)
        if section is not None:
            self.uci_set(section, "ports", ports)
        else:   # legacy: option type bridge on the interface, ports in its ifname/device
            iface = bridge[len("br-"):]
            option = "device" if "device" in self.net.interfaces[iface] else "ifname"
            self.uci_set(iface, option, " ".join(ports))


class BridgeVLANs(NetworkTable):
    """``Bridging.Bridge.{i}.VLAN.{i}.``: the ``bridge-vlan`` sections of a VLAN-filtering
    bridge (keys: their section names, anonymous ones named once as :class:`UciTable`
    does); VLANID is their ``vlan`` option."""

    def __init__(self, ctx):
        super().__init__(ctx)
        self.sections = UciTable({"uci": "network", "type": "bridge-vlan"})

    def keys(self, keys):
        return [s for s in self.sections.instances(self.ctx, None, ())
                if self.ctx.uci.get("network", s, "device") == keys[-1]]

    def get(self, keys, relname):
        vid = self.ctx.uci.get("network", keys[-1], "vlan", "")
        return {"Enable": "1", "Name": f"{keys[-2]}.{vid}", "VLANID": vid}.get(relname, "")

    def set(self, keys, relname, value):
        if relname != "VLANID":
            raise OSError(f"{relname} cannot be written")
        self.uci_set(keys[-1], "vlan", value)
