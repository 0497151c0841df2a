"""How many SQL statements the bridge runs for one order, from its webhook to the POS's answer.

Counted on the connections themselves, in this process: every statement SQLite runs (its trace
callback, so `BEGIN` and `COMMIT` too), and every statement given to a psycopg cursor (psycopg
sends a transaction's `BEGIN` and `COMMIT` itself: those are not counted on PostgreSQL). The
bridge is wired as its processes wire it; one order goes first to warm it up, the next is counted:
its webhook through the Flask app, then the worker until nothing is ready, the POS having answered.
"""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from typing import Iterator

import psycopg

from bridge.bootstrap import bootstrap
from bridge.config import load_config
from bridge.web.app import create_app


class Counter:
    def __init__(self):
        self.on = False
        self.count = 0
        self._lock = threading.Lock()

    def add(self, n: int = 1) -> None:
        if self.on:
            with self._lock:
                self.count += n


@contextmanager
def counting(counter: Counter) -> Iterator[None]:
    """Connections opened inside the block count what they run while `counter.on`."""
    sqlite_connect = sqlite3.connect
    postgres_connect = psycopg.Connection.connect.__func__  # type: ignore[attr-defined]

    class CountingCursor(psycopg.Cursor):
        def execute(self, query, params=None, **kwargs):
            counter.add()
            return super().execute(query, params, **kwargs)

        def executemany(self, query, params_seq, **kwargs):
            rows = list(params_seq)
            counter.add(len(rows))
            return super().executemany(query, rows, **kwargs)

    def connect_sqlite(*args, **kwargs):
        conn = sqlite_connect(*args, **kwargs)
        conn.set_trace_callback(lambda statement: counter.add())
        return conn

    def connect_postgres(cls, *args, **kwargs):
        return postgres_connect(cls, *args, cursor_factory=CountingCursor, **kwargs)

    sqlite3.connect = connect_sqlite
    psycopg.Connection.connect = classmethod(connect_postgres)  # type: ignore[method-assign]
    try:
        yield
    finally:
        sqlite3.connect = sqlite_connect
        psycopg.Connection.connect = classmethod(postgres_connect)  # type: ignore[method-assign]


def statements_per_order(env: dict[str, str], tokens: list[str]) -> int:
    """`tokens`: two signed, approved order webhooks for a migrated database in `env`."""
    counter = Counter()
    with counting(counter):
        bridge = bootstrap(load_config(env), pool_size=2, create=False)
        try:
            client = create_app(bridge).test_client()
            worker = bridge.worker(poll_seconds=0.01)
            for n, token in enumerate(tokens[:2]):
                counter.on = n == 1
                assert client.post("/webhooks/wix", data=token).status_code == 200
                worker.drain()
                counter.on = False
        finally:
            bridge.store.close()
    return counter.count
