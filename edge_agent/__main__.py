"""Allow ``python -m edge_agent``."""

import sys

from .cli import main

sys.exit(main())
