import sys

from kadr.cli import main

sys.exit(main())
