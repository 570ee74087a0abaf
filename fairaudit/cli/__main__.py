"""``python -m fairaudit.cli``."""

import sys

from fairaudit.cli.commands import main

sys.exit(main())
