"""`TraceStore`: the API every stage uses to read and write the trace store.

Rows go in and come out as plain dicts (sqlite-utils style); bulk writes use SQLAlchemy Core
executemany, never ORM objects, because the explorer writes thousands of nodes per wave.

    store = TraceStore("sqlite:///traces.db")
    run = store.start_run("demo", "explore", config={"seed": 0})
    [tree] = store.create_trees(run, store.add_problems([{"dataset": "gsm8k", "key": "test/0",
                                                          "payload": {"question": "What is 2 + 2?"}}]))
    [root] = store.add_nodes([{"tree_id": tree, "seq": 0, "depth": 0, "label": "root"}])
    store.tree(tree)  # networkx.DiGraph

`TraceStore` is composed of mixins, one file per job, each a subclass of `StoreConnection` that
reaches the database only through its `_read`/`_write` transactions:

    db/connection.py  StoreConnection  opening the URL, the schema check, read/write transactions
    db/runs.py        RunsMixin        runs and their provenance and lineage
    db/writes.py      WritesMixin      problems, trees, trajectories and evals
    db/waves.py       WavesMixin       add_nodes and write_wave (one wave, one transaction)
    db/leases.py      LeasesMixin      claim_trees, renew_lease, release, and the fencing of a wave
    db/reads.py       ReadsMixin       every read, on the one filtered query of db/query.py
    db/publishing.py  PublishingMixin  explore runs' costs and exports' contaminated problems
    db/labels.py      LabelsMixin      judge and oracle step labels of a `journeyforge label` run
    db/bulk.py        (functions)      each backend's bulk node and rollout statements, side by side
    db/tables.py, db/rows.py           table handles and row fields; checks of callers' rows

A new method goes into the mixin of its job; a new job gets its own mixin, listed here and below.
"""
from __future__ import annotations

from db.connection import StoreConnection
from db.engine import StoreError
from db.labels import LabelsMixin
from db.leases import LeasesMixin
from db.publishing import PublishingMixin
from db.reads import ReadsMixin
from db.runs import RunsMixin
from db.waves import WaveIds, WavesMixin
from db.writes import WritesMixin


class TraceStore(RunsMixin, WritesMixin, WavesMixin, LeasesMixin, ReadsMixin, PublishingMixin, LabelsMixin,
                 StoreConnection):
    """The trace store at a SQLAlchemy URL: `sqlite:///path.db` or `postgresql+psycopg://user@host/db`.

    Opening creates the schema in an empty database, and refuses a store whose schema is older
    (or newer) than this code. Use as a context manager or call `close()`.
    """

    def __enter__(self) -> TraceStore:
        return self


__all__ = ["TraceStore", "StoreError", "WaveIds"]
