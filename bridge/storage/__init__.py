"""Storage: the port (`port.py`) and its adapters: SQLite and PostgreSQL, chosen by
`DATABASE_URL`, and an in-memory one for tests and tools (`memory.py`)."""
from __future__ import annotations

import time
from typing import Callable

from bridge.storage.port import EventJob, Store


def open_store(url: str, *, synchronous: str = "FULL", pool_size: int = 1,
               clock: Callable[[], float] = time.time, event_job: EventJob | None = None,
               create: bool = True) -> Store:
    """The adapter for `url`: `sqlite:///path`, `postgres(ql)://...`, or `memory://name` (in
    this process's memory; never from configuration). Connects lazily.

    `pool_size`: how many threads of this process may use the database at once (PostgreSQL).
    `event_job`: how a stored event becomes its job; a store opened without it claims nothing.
    `create`: False where a missing SQLite file is a mistake (the web and worker processes, the
    operator commands), not the start of a new database (`bridge migrate`, `bridge serve`).
    Raises ValueError for a URL the adapter cannot read (the message holds no password)."""
    if url.startswith("sqlite:///"):
        from bridge.storage.sqlite import SqliteStore
        return SqliteStore(url[len("sqlite:///"):], clock=clock, synchronous=synchronous,
                           event_job=event_job, create=create)
    if url.startswith(("postgres://", "postgresql://")):
        from bridge.storage.postgres import PostgresStore
        return PostgresStore(url, pool_size=pool_size, clock=clock, event_job=event_job)
    if url.startswith("memory://") and url[len("memory://"):]:
        from bridge.storage.memory import MemoryStore
        return MemoryStore(url[len("memory://"):], clock=clock, event_job=event_job)
    raise ValueError("not sqlite:///path, postgres://... or postgresql://...")
