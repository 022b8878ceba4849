"""The `store` settings group: where the trace store is and how long a write waits for a lock."""
from __future__ import annotations

from dataclasses import dataclass, field

# Seconds a SQLite write waits for another process's lock. A wave's write holds the lock for
# milliseconds, so a wait this long means a stuck or very long writer: better to say who it is.
BUSY_TIMEOUT = 20.0


@dataclass
class StoreSettings:
    """`store.*`: conf/store/sqlite.yaml (the default) and conf/store/postgres.yaml extend this."""

    url: str = field(default="sqlite:///outputs/journeyforge.db", metadata={"help": (
        "SQLAlchemy URL of the trace store: sqlite:///path.db or postgresql+psycopg://user@host:5432/db. "
        "Leave the password out and let libpq find it (PGPASSWORD, ~/.pgpass, PGPASSFILE): it is masked "
        "everywhere journeyforge prints or stores the URL, but the command line itself is in your shell history")})
    busy_timeout: float = field(default=BUSY_TIMEOUT, metadata={"help": (
        "seconds a SQLite write waits for another process's lock before the stage stops and says who holds "
        "it (PostgreSQL waits on row locks itself)")})

    def __post_init__(self) -> None:
        if isinstance(self.busy_timeout, bool) or not isinstance(self.busy_timeout, (int, float)) \
                or not 0 < self.busy_timeout <= 86400:
            raise ValueError(f"store.busy_timeout must be a number of seconds in (0, 86400], got {self.busy_timeout!r}")
