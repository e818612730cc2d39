"""A private, real ``dbus-daemon`` for tests: no system bus needed, nothing shared.

    with DBusDaemon() as bus:                 # session-like: everybody may do anything
        ... bus.address ...
    with DBusDaemon(policy=POLICY_FILE) as bus:   # system-like: deny by default + the policy

The system-like daemon applies the stock system bus defaults (deny owning names and
calling methods, allow signals and replies) and then includes the given policy file, so
a test sees what a router's system bus would allow. Its socket lives in a directory
anybody can enter, so an unprivileged caller (``setpriv --reuid=nobody``) can connect.
"""

import os
import shutil
import subprocess
import tempfile

DBUS_DAEMON = shutil.which("dbus-daemon") or "/usr/bin/dbus-daemon"
START_TIMEOUT = 5

_OPEN = """
  <policy context="default">
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>"""

# The system bus defaults (dbus's system.conf), then the policy under test.
_SYSTEM = """
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <include>{policy}</include>"""

_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>{type}</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>{rules}
</busconfig>
"""


def available():
    return os.access(DBUS_DAEMON, os.X_OK)


class DBusDaemon:
    """One ``dbus-daemon`` process; ``address`` is its D-Bus address."""

    def __init__(self, policy=None):
        self.policy = policy
        self.dir = None
        self.process = None
        self.address = None

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="icwmpy-dbus-")
        os.chmod(self.dir, 0o755)
        socket = os.path.join(self.dir, "bus")
        rules = _SYSTEM.format(policy=os.path.abspath(self.policy)) if self.policy else _OPEN
        config = os.path.join(self.dir, "bus.conf")
        with open(config, "w", encoding="utf-8") as f:
            f.write(_CONFIG.format(type="system" if self.policy else "session",
                                   socket=socket, rules=rules))
        errors = os.path.join(self.dir, "stderr")
        with open(errors, "w", encoding="utf-8") as err:
            self.process = subprocess.Popen(
                [DBUS_DAEMON, f"--config-file={config}", "--nofork", "--print-address"],
                stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            line = self.process.stdout.readline().strip()
        finally:
            self.process.stdout.close()
        if not line:
            with open(errors, encoding="utf-8") as err:
                message = err.read()
            self.stop()
            raise RuntimeError(f"dbus-daemon did not start: {message}")
        self.address = line
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(START_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
