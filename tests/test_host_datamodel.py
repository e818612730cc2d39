"""The real definitions through the real CLI tell the truth about this host.

Each check compares what ``icwmpd -c get Device.`` prints with what the kernel and the
files of the machine running the test say, found independently of icwmpy's backends.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from icwmpy.config.uci import Uci

REPO = Path(__file__).resolve().parents[1]
MINIMAL_CWMP = """
config acs 'acs'
\toption url 'http://127.0.0.1:7557/'

config cpe 'cpe'
\toption enable '1'
"""
MANUFACTURER = "ACME Test Manufacturer"
RESOLVERS = ("/tmp/resolv.conf.d/resolv.conf.auto", "/tmp/resolv.conf.auto", "/etc/resolv.conf")


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    """Config and state directories, with a manufacturer override in cwmp.cpe."""
    tmp = tmp_path_factory.mktemp("host")
    conf = tmp / "config"
    if (REPO / "etc" / "config").is_dir():
        shutil.copytree(REPO / "etc" / "config", conf)
    else:
        conf.mkdir()
        (conf / "cwmp").write_text(MINIMAL_CWMP)
    uci = Uci(str(conf))
    uci.set("cwmp", "cpe", "manufacturer", MANUFACTURER)
    uci.commit("cwmp")
    return type("Host", (), {"conf": conf, "state": tmp / "state"})


def cli(host, *words):
    return subprocess.run(
        [sys.executable, "-m", "icwmpy", "--confdir", str(host.conf), "--statedir", str(host.state),
         "-c", *words], capture_output=True, text=True, cwd=REPO, timeout=60)


@pytest.fixture(scope="module")
def values(host):
    started = time.monotonic()
    done = cli(host, "get", "Device.")
    elapsed = time.monotonic() - started
    print(f"full 'get Device.' through the CLI: {elapsed:.2f} s")
    assert done.returncode == 0, done.stderr
    assert elapsed < 5
    out = {}
    for line in done.stdout.splitlines():
        name, sep, value = line.partition(" => ")
        assert sep, f"unexpected output line {line!r}"
        out[name] = value
    return out


def instances(values, table, param):
    """{instance path: value of param} for the instances of a table path."""
    return {name[: -len(param)]: v for name, v in values.items()
            if name.startswith(table) and name.endswith("." + param)
            and name[len(table):-len(param) - 1].isdigit()}


def by_name(values, table):
    """{Name: instance path} of an interface table."""
    return {v: path for path, v in instances(values, table, "Name").items()}


def test_uptime_and_memory(values):
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    assert abs(int(values["Device.DeviceInfo.UpTime"]) - uptime) < 10
    meminfo = {line.split(":")[0]: line.split()[1]
               for line in Path("/proc/meminfo").read_text().splitlines()}
    assert values["Device.DeviceInfo.MemoryStatus.Total"] == meminfo["MemTotal"]
    assert 0 < int(values["Device.DeviceInfo.MemoryStatus.Free"]) <= int(meminfo["MemTotal"])
    assert 0 <= int(values["Device.DeviceInfo.ProcessStatus.CPUUsage"]) <= 100


def test_our_own_process_is_listed_with_its_command(values):
    pids = instances(values, "Device.DeviceInfo.ProcessStatus.Process.", "PID")
    mine = [path for path, pid in pids.items() if pid == str(os.getpid())]
    assert len(mine) == 1
    command = " ".join(Path("/proc/self/cmdline").read_bytes().decode().replace("\0", " ").split())
    assert values[mine[0] + "Command"] == command[:256]
    assert values[mine[0] + "State"] in ("Running", "Sleeping")
    assert values["Device.DeviceInfo.ProcessStatus.ProcessNumberOfEntries"] == str(len(pids))


def test_ip_interfaces_are_the_kernel_interfaces(values):
    names = by_name(values, "Device.IP.Interface.")
    assert set(names) == set(os.listdir("/sys/class/net"))
    for name, path in names.items():
        assert values[path + "MaxMTUSize"] == str(min(int(Path(f"/sys/class/net/{name}/mtu").read_text()), 65535))


def test_loopback_has_its_address(values):
    lo = by_name(values, "Device.IP.Interface.")["lo"]
    assert values[lo + "Type"] == "Loopback"
    assert values[lo + "Status"] == "Up"
    v4 = instances(values, lo + "IPv4Address.", "IPAddress")
    assert "127.0.0.1" in v4.values()
    address = next(path for path, ip in v4.items() if ip == "127.0.0.1")
    assert values[address + "SubnetMask"] == "255.0.0.0"
    if os.path.exists("/proc/net/if_inet6") and "lo" in Path("/proc/net/if_inet6").read_text():
        assert "::1" in instances(values, lo + "IPv6Address.", "IPAddress").values()


@pytest.mark.skipif(not shutil.which("ip"), reason="no 'ip' tool to compare with")
def test_ipv4_addresses_match_ip_tool(values):
    listed = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True, check=True).stdout
    expected = {(f[1], f[3].split("/")[0]) for f in (line.split() for line in listed.splitlines())}
    got = set()
    for name, path in by_name(values, "Device.IP.Interface.").items():
        got |= {(name, ip) for ip in instances(values, path + "IPv4Address.", "IPAddress").values()}
    assert got == expected


def test_ethernet_interfaces_are_the_physical_ones(values):
    physical = {n for n in os.listdir("/sys/class/net")
                if Path(f"/sys/class/net/{n}/type").read_text().strip() == "1"
                and Path(f"/sys/class/net/{n}/device").exists()}
    names = by_name(values, "Device.Ethernet.Interface.")
    assert set(names) == physical
    for name, path in names.items():
        assert values[path + "MACAddress"] == Path(f"/sys/class/net/{name}/address").read_text().strip()
        sent = int(Path(f"/sys/class/net/{name}/statistics/tx_packets").read_text())
        assert 0 <= sent - int(values[path + "Stats.PacketsSent"]) < 10000


def test_dns_servers_are_the_resolver_files(values):
    source = next((f for f in RESOLVERS if os.path.exists(f)), None)
    expected = []
    for line in Path(source).read_text().splitlines() if source else []:
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver" and fields[1] not in expected:
            expected.append(fields[1])
    servers = instances(values, "Device.DNS.Client.Server.", "DNSServer")
    assert [servers[k] for k in sorted(servers, key=lambda p: int(p.split(".")[-2]))] == expected


def test_users_are_the_passwd_accounts(values):
    accounts = [line.split(":") for line in Path("/etc/passwd").read_text().splitlines()
                if line.count(":") >= 6]
    users = instances(values, "Device.Users.User.", "Username")
    assert sorted(users.values()) == sorted(a[0] for a in accounts)
    root = next(path for path, name in users.items() if name == accounts[0][0])
    assert values[root + "UserID"] == accounts[0][2]
    assert values[root + "Password"] == ""


def test_identity_override_and_forced_values(values):
    assert values["Device.DeviceInfo.Manufacturer"] == MANUFACTURER
    assert values["Device.RootDataModelVersion"] == "2.19"
    assert len(values["Device.DeviceInfo.ManufacturerOUI"]) == 6
    assert values["Device.DeviceInfo.SoftwareVersion"]


def test_current_local_time_is_now(values):
    from datetime import datetime
    shown = datetime.fromisoformat(values["Device.Time.CurrentLocalTime"])
    assert abs(shown.timestamp() - time.time()) < 60


def test_set_lands_in_the_uci_file(host):
    done = cli(host, "set", "Device.ManagementServer.PeriodicInformInterval", "60")
    assert done.returncode == 0, done.stderr
    assert "option periodic_inform_interval '60'" in (host.conf / "cwmp").read_text()
    again = cli(host, "get", "Device.ManagementServer.PeriodicInformInterval")
    assert again.stdout.strip() == "Device.ManagementServer.PeriodicInformInterval => 60"


def test_read_only_and_unknown_parameters_fault(host):
    done = cli(host, "set", "Device.DeviceInfo.UpTime", "5")
    assert done.returncode == 1 and "Fault 9008" in done.stderr
    done = cli(host, "get", "Device.Nope")
    assert done.returncode == 1 and "Fault 9005" in done.stderr


@pytest.mark.parametrize("amd, offered", [("3", "0"), ("4", "1"), ("6", "1")])
def test_alias_based_addressing_is_offered_from_amendment_4(host, amd, offered):
    uci = Uci(str(host.conf))
    uci.set("cwmp", "cpe", "amd_version", amd)
    uci.commit("cwmp")
    done = cli(host, "get", "Device.ManagementServer.AliasBasedAddressing")
    assert done.stdout.strip() == f"Device.ManagementServer.AliasBasedAddressing => {offered}"
