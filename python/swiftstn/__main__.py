"""`python -m swiftstn` is the `swiftstn` command."""
import sys

from .cli import main

sys.exit(main())
