import sys

from sccg_edge.cli import main

sys.exit(main())
