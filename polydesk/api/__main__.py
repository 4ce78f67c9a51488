"""`python -m polydesk.api`: the control API as a process of its own (how `polydesk up` runs it)."""

import sys

from polydesk.api.server import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
