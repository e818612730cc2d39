"""The OpenWrt firewall rule that lets the ACS reach the connection request port.

icwmp opens its port from a firewall include script; here the rule is a plain section of
the UCI package ``firewall`` (so ``uci show firewall`` and LuCI show it), rewritten only
when what it must say changed (the port moved, UDP connection requests came or went).
"""

SECTION = "icwmp_cr"
NAME = "Open_ACS_port"  # icwmp's name for its rule


def wan_zone(uci, network):
    """The firewall zone holding ``network`` (cwmp.cpe.default_wan_interface), else wan."""
    for section, _ in uci.sections("firewall", "zone"):
        networks = uci.get("firewall", section, "network", [])
        if network in (networks.split() if isinstance(networks, str) else networks):
            return uci.get("firewall", section, "name", section)
    return "wan"


def open_port(uci, port, *, udp, network):
    """Make the rule accept ``port`` (tcp, and udp when ``udp``) from the WAN zone.

    Options an operator added to the section (family, src_ip, ...) are kept. True when
    the package was committed, i.e. the firewall must reload.
    """
    wanted = {"name": NAME, "src": wan_zone(uci, network), "proto": "tcp udp" if udp else "tcp",
              "dest_port": str(port), "target": "ACCEPT"}
    current = uci.options("firewall", SECTION) or {}
    if uci.section_type("firewall", SECTION) == "rule" \
            and all(current.get(k) == v for k, v in wanted.items()):
        return False
    uci.set_section("firewall", SECTION, "rule")
    for option, value in wanted.items():
        uci.set("firewall", SECTION, option, value)
    uci.commit("firewall")
    return True
