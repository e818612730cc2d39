"""The sandbox behind ``bash tests/sandbox``: icwmpd in the foreground, for a person.

Everything lives under ``./sandbox`` (config, state, run dirs, the D-Bus socket): a
private ``dbus-daemon``, the test ACS on 127.0.0.1 (Digest, user ``acs``), and icwmpd
restarted as after a boot whenever a Reboot or FactoryReset makes it exit with 75.
"""

import argparse
import asyncio
import signal
import sys
from pathlib import Path

import acs as A
from cpe import REPO, Cpe

EXIT_FOR_REBOOT = 75


async def print_traffic(acs):
    while True:
        try:
            session, message = await acs.wait_message(timeout=3600)
        except TimeoutError:
            continue
        print(f"[test ACS] session {session.number}: CPE sent {message.method}", flush=True)


async def main(args):
    root = Path(args.root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    bus_socket = root / "bus.sock"
    bus = await asyncio.create_subprocess_exec(
        "dbus-daemon", "--session", "--nofork", f"--address=unix:path={bus_socket}",
        "--print-address", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True)   # Ctrl-C reaches icwmpd, which still says goodbye on the bus
    address = (await bus.stdout.readline()).decode().strip()
    acs = A.Acs("digest", "acs", "acs-secret", port=args.acs_port)
    await acs.start()
    acs.queue(A.get_parameter_values("Device.DeviceInfo."))
    cpe = Cpe(root, acs.url, {("acs", "userid"): "acs", ("acs", "passwd"): "acs-secret",
                              ("cpe", "port"): str(args.cr_port), ("cpe", "log_severity"): "INFO",
                              ("cpe", "periodic_notify_interval"): "10",
                              ("acs", "periodic_inform_enable"): "1",
                              ("acs", "periodic_inform_interval"): "300"})
    traffic = asyncio.create_task(print_traffic(acs))
    cli = (f".venv/bin/icwmpd --confdir {cpe.confdir} --statedir {cpe.statedir} "
           f"--rundir {cpe.rundir} -c")
    print(f"""icwmpy sandbox in {root}
  test ACS:  {acs.url} (Digest acs/acs-secret)
  D-Bus:     {address}
  CLI:       {cli} get Device.DeviceInfo.
  D-Bus:     dbus-send --bus={address} --print-reply --dest=org.icwmpy.tr069 /org/icwmpy/tr069 org.icwmpy.tr069.StatusJson
             dbus-send --bus={address} --print-reply --dest=org.icwmpy.tr069 /org/icwmpy/tr069 org.icwmpy.tr069.Inform string:'6 CONNECTION REQUEST' boolean:false
  Ctrl-C stops everything.
""", flush=True)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    loop.add_signal_handler(signal.SIGINT, stopping.set)
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    code = 0
    try:
        while not stopping.is_set():
            cpe.reboot()
            proc = await cpe.start("--bus", address, console=True)
            waiter = asyncio.create_task(proc.wait())
            stop = asyncio.create_task(stopping.wait())
            await asyncio.wait({waiter, stop}, return_when=asyncio.FIRST_COMPLETED)
            if stop.done():
                code = await cpe.stop()
                break
            stop.cancel()
            code = waiter.result()
            if code != EXIT_FOR_REBOOT:
                break
            print("[sandbox] icwmpd asked for a reboot: starting it again as after a boot",
                  flush=True)
    finally:
        traffic.cancel()
        await acs.stop()
        if bus.returncode is None:
            bus.terminate()
        await bus.wait()
    return code


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(REPO / "sandbox"))
    parser.add_argument("--acs-port", type=int, default=7557)
    parser.add_argument("--cr-port", type=int, default=7547)
    sys.exit(asyncio.run(main(parser.parse_args())))
