"""``python -m glta`` (and ``accelerate launch -m glta``) runs the CLI."""

import sys

from glta.cli import main

sys.exit(main())
