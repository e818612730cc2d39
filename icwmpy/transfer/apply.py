"""What a file type means to the device: how a downloaded file is applied, how a file to
upload is produced.

Both are configuration, not code, because they are what differs between an OpenWrt router
(``sysupgrade``, ``uci import``, ``uci export``) and a development machine or a simulated
CPE, where applying a "firmware" must not touch the host: the :data:`SANDBOX` hook only
moves the file into ``applied/`` and records it.

Commands are argv templates (no shell): ``{file}`` is replaced by the file's path and an
empty element is dropped, so ``("sysupgrade", "{keep}", "{file}")``
works with ``keep=""``. A check command failing, or an apply command failing, means the file
is unusable: fault 9018.
"""

import asyncio
import dataclasses
import itertools
import logging
import os
import shutil
import signal
import time

from ..faults import CwmpFault

log = logging.getLogger(__name__)

COMMAND_TIMEOUT = 600       # seconds; sysupgrade -T on a large image takes a while
OUTPUT_LIMIT = 2000         # characters of a failing command's output kept for the log


@dataclasses.dataclass(frozen=True)
class ApplyHook:
    """How one download file type is applied.

    ``check``: commands that must all succeed before anything changes (image validation).
    ``apply``: commands that apply the file; empty = sandbox (keep the file in ``applied/``).
    ``reboots``: the apply takes the device down (firmware): its TransferComplete is
    persisted *before* the apply runs, and sent after the restart.
    """
    check: tuple = ()
    apply: tuple = ()
    reboots: bool = False


SANDBOX = ApplyHook()

# Every standard download FileType (TR-069 A.3.2.8); vendor "X <OUI> ..." types have none.
FILE_TYPES = ("1 Firmware Upgrade Image", "2 Web Content", "3 Vendor Configuration File",
              "4 Tone File", "5 Ringer File", "6 Stored Firmware Image")
SANDBOX_HOOKS = dict.fromkeys(FILE_TYPES, SANDBOX)


def openwrt_hooks(keep_settings=True):
    """The hooks of a real OpenWrt device."""
    keep = "" if keep_settings else "-n"
    return {
        **SANDBOX_HOOKS,   # web content, tones, ringers, stored images: kept for their users
        "1 Firmware Upgrade Image": ApplyHook(check=(("sysupgrade", "-T", "{file}"),),
                                              apply=(("sysupgrade", keep, "{file}"),),
                                              reboots=True),
        "3 Vendor Configuration File": ApplyHook(apply=(("uci", "-f", "{file}", "import"),
                                                        ("reload_config",))),
    }


@dataclasses.dataclass(frozen=True)
class UploadSource:
    """Where an upload file type comes from: a ``command`` whose standard output is the
    file (``uci export``), or the ``path`` of an existing file (a log)."""
    command: tuple = ()
    path: str = ""


DEFAULT_UPLOAD_SOURCES = {
    "1 Vendor Configuration File": UploadSource(command=("uci", "export")),
    "3 Vendor Configuration File 1": UploadSource(command=("uci", "export")),
}


def _argv(template, file):
    return [part.replace("{file}", file) for part in template if part]


async def run_command(template, *, file="", stdout=None, detached=False,
                      timeout=COMMAND_TIMEOUT):
    """Run one argv template; raise CwmpFault(9018) naming it when it fails.

    ``detached`` starts it in its own session and leaves it running if we are cancelled
    (sysupgrade must outlive the daemon it stops); otherwise cancelling kills it.
    """
    argv = _argv(template, file)
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL,
            stdout=stdout if stdout is not None else asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE if stdout is not None else asyncio.subprocess.STDOUT,
            start_new_session=True)
    except OSError as error:
        raise CwmpFault(9018, f"{argv[0]}: {error}") from None
    try:
        output, errors = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        _kill(process)
        await process.wait()
        raise CwmpFault(9018, f"{' '.join(argv)}: no answer in {timeout} s") from None
    except asyncio.CancelledError:
        if not detached:
            _kill(process)
        raise
    if process.returncode != 0:
        text = (output or errors or b"").decode(errors="replace").strip()[-OUTPUT_LIMIT:]
        log.warning("%s failed (exit %s): %s", " ".join(argv), process.returncode, text)
        raise CwmpFault(9018, f"{argv[0]} failed (exit {process.returncode})")


def _kill(process):
    """Kill the command and whatever it started (it leads its own process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


async def check(hook, file):
    for template in hook.check:
        await run_command(template, file=file)


async def apply(hook, file, applied_dir, name):
    """Apply ``file`` (already checked); returns the path it was kept under, if kept."""
    if not hook.apply:
        return keep(file, applied_dir, name)
    for template in hook.apply:
        await run_command(template, file=file, detached=hook.reboots)
    return None


def keep(file, applied_dir, name):
    """The sandbox's apply: move the file into ``applied_dir`` under a name that does not
    overwrite an earlier one."""
    os.makedirs(applied_dir, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    base = os.path.basename(name) or "file"
    for number in itertools.count():
        target = os.path.join(applied_dir, f"{stamp}-{number}-{base}" if number
                              else f"{stamp}-{base}")
        if not os.path.exists(target):
            shutil.move(file, target)
            return target


async def produce(source, tmp_path):
    """The file an upload sends and its size: the source's file as it is now, or the
    output of its command written to ``tmp_path`` (never held in memory)."""
    if source.path:
        try:
            return source.path, os.stat(source.path).st_size
        except OSError as error:
            raise CwmpFault(9011, f"{source.path}: {error.strerror}") from None
    with open(tmp_path, "wb") as out:
        try:
            await run_command(source.command, stdout=out)
        except CwmpFault as fault:
            raise CwmpFault(9011, fault.message) from None
    return tmp_path, os.stat(tmp_path).st_size
