"""``python -m simulator --port 8780``: the same as ``opscentre simulate``."""

import sys

from simulator.runner import main

sys.exit(main())
