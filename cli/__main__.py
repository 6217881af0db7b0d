"""`python -m cli scan URL …`: see cli.main."""

import sys

from cli.main import main

sys.exit(main())
