"""How much of a real router's TR-181 tree icwmpy serves on the OpenWrt router fixtures.

The measure is a real device: the parameter dump of a TP-Link EC220-G5 (a GenieACS export in
the test data). Its standard parameters count: those TR-181 2.19 defines and has not deleted
or obsoleted (vendor ``X_`` extensions are the vendor's), instance numbers normalised to
``{i}``. The router runs with two Wi-Fi stations associated (an ``iw`` stand-in, as the
Wi-Fi tests use). The names icwmpy lacks are printed.
"""

import csv
import os
import re
import subprocess
import sys

from lxml import etree

import testdata
from openwrt import REPO, STATION_DUMP, router_confdir, tools
from test_tr181_conformance import LIVE

DUMP = ("captures", "genieacs-sim", "device-9CA2F4-EC220_G5_V3-22275K2000315.csv")
TARGET = 0.90
_NUMBER = re.compile(r"\.\d+(?=\.|$)")


def normalised(name):
    return _NUMBER.sub(".{i}", name)


def live_parameters(xml):
    """The parameters TR-181 defines today (status current or deprecated)."""
    root = etree.parse(str(xml)).getroot()
    return {obj.get("name") + p.get("name")
            for obj in root.find("model").findall("object")
            if obj.get("status", "current") in LIVE
            for p in obj.findall("parameter") if p.get("status", "current") in LIVE}


def dumped_parameters(path):
    with open(path, newline="", encoding="utf-8") as f:
        return {normalised(row["Parameter"]) for row in csv.DictReader(f)
                if row["Object"] == "false" and row["Parameter"].startswith("Device.")}


@testdata.needs("captures")
@testdata.needs("datamodels")
def test_the_router_serves_90_percent_of_a_real_routers_standard_parameters(tmp_path):
    standard = live_parameters(testdata.path("datamodels", "tr-181-2-19-1-cwmp-full.xml"))
    wanted = dumped_parameters(testdata.path(*DUMP)) & standard
    conf = router_confdir(tmp_path)
    bin_dir = tools(tmp_path / "bin", iw={"dev phy0-ap0 station dump": STATION_DUMP})
    out = subprocess.run(
        [sys.executable, "-m", "icwmpy", "--confdir", str(conf), "--statedir",
         str(tmp_path / "state"), "--rundir", str(tmp_path / "run"), "-c", "get_names",
         "Device.", "0"], capture_output=True, text=True, timeout=120, cwd=REPO,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert out.returncode == 0, out.stderr
    served = {normalised(line.split(" => ")[0]) for line in out.stdout.splitlines()}
    missing = sorted(wanted - served)
    share = 1 - len(missing) / len(wanted)
    print(f"\nserved {len(wanted) - len(missing)} of {len(wanted)} standard parameters "
          f"of the EC220-G5 dump ({share:.0%}); missing:\n  " + "\n  ".join(missing))
    assert share >= TARGET
