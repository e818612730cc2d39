"""``python -m icwmpy`` is the same as the ``icwmpd`` console script."""

import sys

from icwmpy.cli import main

sys.exit(main())
