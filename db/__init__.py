"""The trace store: SQLAlchemy models, the TraceStore API, migrations and SQL views.

`db` imports no other project package.
"""
from db.engine import StoreError
from db.store import TraceStore

__all__ = ["StoreError", "TraceStore"]
