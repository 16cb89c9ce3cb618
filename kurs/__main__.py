import sys

from kurs.cli import main

sys.exit(main())
