"""``python -m icwmpy.config CONFDIR [PACKAGE...]``: ``uci export`` for a config directory.

What an Upload of the vendor configuration file sends: it honours ``--confdir`` and
needs no ``uci`` binary (Debian has none).
"""

import sys

from icwmpy.config.uci import Uci


def main(args):
    if not args:
        print("usage: python -m icwmpy.config CONFDIR [PACKAGE...]", file=sys.stderr)
        return 2
    sys.stdout.write(Uci(args[0]).export(args[1:] or None))
    return 0


sys.exit(main(sys.argv[1:]))
