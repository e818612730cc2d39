"""The OpenWrt firewall rule that lets the ACS reach the connection request port.

icwmp opens its port from a firewall include script; here the rule is a plain section of
the UCI package ``firewall`` (so ``uci show firewall`` and LuCI show it), rewritten only
when what it must say changed (the port moved, UDP connection requests came or went, the
ACS's address cwmp.cpe.incoming_rule lets in became known or changed).
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


def open_port(uci, port, *, udp, network, incoming_rule, acs_ip):
    """Make the rule accept what cwmp.cpe.incoming_rule lets in, as icwmp: IP_Port from
    the ACS's address ``acs_ip`` to ``port``, IP_Only from that address to any port,
    Port_Only ``port`` from anywhere; tcp, and udp when ``udp``, from the WAN zone.

    While ``acs_ip`` is unknown, IP_Port and IP_Only leave the rule disabled rather than
    open to everyone. Options an operator added to the section (family, ...) are kept.
    True when the package was committed, i.e. the firewall must reload.
    """
    by_ip = incoming_rule != "Port_Only"
    wanted = {"name": NAME, "src": wan_zone(uci, network),
              "src_ip": (acs_ip or "") if by_ip else "",
              "proto": "tcp udp" if udp else "tcp",
              "dest_port": "" if incoming_rule == "IP_Only" else str(port),
              "target": "ACCEPT",
              "enabled": "0" if by_ip and not acs_ip else ""}  # "": absent (uci.set deletes)
    current = uci.options("firewall", SECTION) or {}
    if uci.section_type("firewall", SECTION) == "rule" \
            and all(current.get(k, "") == v for k, v in wanted.items()):
        return False
    uci.set_section("firewall", SECTION, "rule")
    for option, value in wanted.items():
        uci.set("firewall", SECTION, option, value)
    uci.commit("firewall")
    return True


def describe(rule):
    """What the rule's options let in, for the log."""
    if rule.get("enabled") == "0":
        return "is disabled until the ACS address is known"
    port = f"port {rule['dest_port']}" if rule.get("dest_port") else "any port"
    source = f" from {rule['src_ip']}" if rule.get("src_ip") else ""
    return f"accepts {port} ({', '.join(rule['proto'].split())}){source}"
