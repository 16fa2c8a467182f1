"""python -m dlcore: the dlcore command line (info, tour, bench)."""
import sys

from .cli import main

sys.exit(main())
