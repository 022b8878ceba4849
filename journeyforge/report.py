"""Old home of the stage tables, now analysis/tables.py (below the application layer, so that the
experiment's report can use them without importing the application). Kept only for
stages/linearize.py, which another engineer is rewriting: drop this file when it imports
analysis.tables."""
from analysis.tables import table

__all__ = ["table"]
