"""`python -m bench`: every benchmark, one table (see bench/suite.py)."""

from bench.suite import main

raise SystemExit(main())
