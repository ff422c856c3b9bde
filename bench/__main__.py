"""``python -m bench [--quick] [--only NAMES] [--out FOLDER]``: see :mod:`bench.runner`."""

import sys

from bench.runner import main

sys.exit(main())
