import sys

from vecbench.cli import main

sys.exit(main())
