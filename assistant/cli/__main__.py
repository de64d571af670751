"""`python -m assistant.cli` is the `dasi` command."""
import sys

from assistant.cli.main import main

sys.exit(main())
