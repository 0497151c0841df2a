"""A store held in memory, for tests and tools: nothing is kept when the process ends.

It is SQLite's adapter on a named in-memory database, so it runs the very statements the other
adapters run and passes the same storage contract; stores opened with the same name in one
process share it, as processes share a database file. One connection serves every thread, one at
a time, and so do the stores of one name (an in-memory database shared between connections locks
whole tables instead of waiting).
`DATABASE_URL` never names it: a bridge process on it would lose every order it took.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any, Callable, Sequence

from sqlite_utils import Database

from bridge.storage.common import Result
from bridge.storage.events import EventJob
from bridge.storage.sqlite import SqliteStore

# The databases this process holds, by name: each lives while one connection to it is open,
# and its stores take turns under its lock.
_anchors: dict[str, tuple[sqlite3.Connection, threading.RLock]] = {}
_anchors_lock = threading.Lock()


class MemoryStore(SqliteStore):
    def __init__(self, name: str, *, clock: Callable[[], float] = time.time,
                 event_job: EventJob | None = None):
        super().__init__(f"memory-{name}", clock=clock, event_job=event_job)
        self.name = name
        self._uri = f"file:bridge-memory-{name}?mode=memory&cache=shared"
        with _anchors_lock:
            if name not in _anchors:
                _anchors[name] = (sqlite3.connect(self._uri, uri=True, check_same_thread=False),
                                  threading.RLock())
            self._write_lock = _anchors[name][1]  # reads take it too (see above)

    def describe(self) -> str:
        return f"memory:{self.name}"

    @property
    def db(self) -> Database:
        return self._writer

    def _connect(self, *, check_same_thread: bool) -> Database:
        conn = sqlite3.connect(self._uri, uri=True, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA foreign_keys=ON")
        return Database(conn, execute_plugins=False)

    def _execute(self, sql: str, params: Sequence[Any] = (), *, named: bool = False) -> Result:
        with self._write_lock:
            return super()._execute(sql, params, named=named)

    def _executemany(self, sql: str, rows: list[Sequence[Any]]) -> None:
        with self._write_lock:
            super()._executemany(sql, rows)

    def migrate(self) -> list[str]:
        with self._write_lock:
            return super().migrate()

    def pending_migrations(self) -> list[str]:
        with self._write_lock:
            return super().pending_migrations()

    def drop(self) -> None:
        """Close, and forget the database itself."""
        self.close()
        with _anchors_lock:
            anchor = _anchors.pop(self.name, None)
        if anchor is not None:
            anchor[0].close()
