"""`python -m course.grading EXERCISE ...`: grade the solution, the release and the known wrong solutions."""

import sys

from .runner import main

sys.exit(main())
