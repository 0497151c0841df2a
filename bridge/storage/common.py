"""What every storage area shares: the errors the store raises, stored times, a statement's
result, and the plumbing each SQL area builds on (`SqlBase`), which the adapters provide."""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

if TYPE_CHECKING:
    from bridge.storage.events import EventJob
    from bridge.storage.jobs import NewJob


class StorageError(Exception):
    """Base of what the store raises on purpose."""


class SchemaOutOfDate(StorageError):
    """The database lacks migrations this code needs: run `bridge migrate`."""


class StoreUnavailable(StorageError):
    """The database does not answer (down, restarting, unreachable): try again later.

    The message says why in words an operator can act on, and never holds a password."""


def iso(epoch: float) -> str:
    """Every stored time: UTC, ISO 8601 to the millisecond, so text order is time order."""
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds")


def epoch(at: str) -> float:
    """A stored time (`iso`), or one of Wix's (`...Z`), in epoch seconds."""
    return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class Result:
    """A statement's outcome, read whole before its connection goes back (to a pool)."""
    rows: list[tuple]
    rowcount: int
    columns: tuple[str, ...] = ()

    def one(self) -> tuple | None:
        return self.rows[0] if self.rows else None

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def where_equal(**equal: Any) -> tuple[str, list[Any]]:
    """A WHERE clause of `column = ?` for each value given (None or empty: no condition)."""
    given = {column: value for column, value in equal.items() if value}
    if not given:
        return "", []
    return "WHERE " + " AND ".join(f"{column} = ?" for column in given), list(given.values())


class SqlBase(ABC):
    """What each area's SQL runs on: the adapters (SQLite, PostgreSQL) provide `_execute`,
    transactions and the engine-specific parts."""

    # The column that orders events by arrival (SQLite's rowid, PostgreSQL's sequence).
    _EVENT_ORDER = "rowid"

    def __init__(self, *, clock: Callable[[], float] = time.time,
                 event_job: EventJob | None = None):
        self.clock = clock
        self.event_job = event_job  # None: this store only reads and writes; it claims nothing

    @abstractmethod
    def _execute(self, sql: str, params: Sequence[Any] = (), *, named: bool = False) -> Result:
        """Run one statement: inside this thread's transaction if one is open, else on its own.
        `named`: the result carries its column names (building them costs, so only on request)."""

    @abstractmethod
    def _executemany(self, sql: str, rows: list[Sequence[Any]]) -> None: ...

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]: ...

    @abstractmethod
    def pending_migrations(self) -> list[str]: ...

    @abstractmethod
    def describe(self) -> str:
        """Where the data lives, for messages and logs: never a password."""

    def on_new_work(self, wake: Callable[[], None]) -> bool:
        """Only a database that can notify other processes does anything here."""
        return False

    @contextmanager
    def session(self) -> Iterator[None]:
        """Where connections are pooled, keep this thread's for the block (see PostgresStore)."""
        yield

    def lock_keys(self, *keys: str) -> None:
        """SQLite already runs write transactions one at a time."""

    def _added_job(self, job: NewJob) -> None:
        """Called inside the transaction that adds a job (PostgreSQL orders lanes, and has the
        workers told once it commits)."""

    def _now(self) -> tuple[float, str]:
        now = self.clock()
        return now, iso(now)

    def check_schema(self) -> None:
        pending = self.pending_migrations()
        if pending:
            raise SchemaOutOfDate(f"database {self.describe()} needs migrations "
                                  f"{', '.join(pending)}: run `bridge migrate`")

    def heartbeat(self) -> None:
        """Commit a write: what tells a database that answers from one that also takes writes
        (a full disk, a read-only server)."""
        _, now = self._now()
        with self.transaction():
            self._execute("INSERT INTO heartbeat (name, at) VALUES ('healthz', ?)"
                          " ON CONFLICT (name) DO UPDATE SET at = excluded.at", [now])
