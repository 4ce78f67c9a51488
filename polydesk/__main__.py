import sys

from polydesk.cli import main

sys.exit(main())
