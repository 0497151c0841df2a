"""Telling idle workers there is work, without slowing down the commits that made it.

PostgreSQL serializes every commit that sends `NOTIFY`, across the whole server: such a commit
takes a cluster-wide lock and holds it until its record is flushed to disk (`PreCommit_Notify`
in its async.c), so that notifications are queued in commit order. A webhook's insert that
notified could therefore not share a flush with any other commit (concurrent notifying inserts
commit at a fraction of the rate of plain ones), and a disk that takes milliseconds to flush (a
managed database's network storage) makes it worse.

So the commits that add work do not notify. Each process has one `Notifier`: told once work is
committed (`soon`), it sends one `NOTIFY` in a transaction of its own on one of the store's
connections, committed without waiting for the disk (a notification is a wake-up call, not data:
a worker that misses one finds the work at its next poll). Calls that come while it is sending
are answered by the next one, at most one every `INTERVAL_SECONDS`, so a burst of webhooks costs
a handful of notifications, not one each.
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import AbstractContextManager
from typing import Callable

import psycopg

from bridge import logs
from bridge.storage.port import StoreUnavailable

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 0.02   # between two notifications of one process, at most this often
RETRY_SECONDS = 1.0       # after a failed attempt; workers poll meanwhile


class Notifier:
    def __init__(self, connection: Callable[[], AbstractContextManager[psycopg.Connection]],
                 channel: str):
        """`connection`: the store's pooled connection, whose failures are StoreUnavailable;
        `channel`: an SQL expression naming the channel."""
        self._connection = connection
        # One statement, so one transaction: the local setting holds for its commit.
        self._statement = (f"SELECT set_config('synchronous_commit', 'off', true),"
                           f" pg_notify({channel}, '')")
        # Called on every stored webhook, so without a lock: `wanted` says there is work to
        # announce, `wake` (set at most once per notification) gets the thread going.
        self._wanted = False
        self._wake = threading.Event()
        self._closing = False
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def soon(self) -> None:
        """Work was committed: let the listening workers know (from a thread of its own, started
        on first use)."""
        self._wanted = True
        if not self._wake.is_set():
            self._wake.set()
        if self._thread is None:
            with self._start_lock:
                if self._thread is None and not self._closing:
                    self._thread = threading.Thread(target=self._run, name="bridge-notify",
                                                    daemon=True)
                    self._thread.start()

    def close(self, timeout: float = 2.0) -> None:
        """Send what is still wanted (a CLI command's replay, say), then stop."""
        with self._start_lock:
            self._closing = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        said = False  # one line per outage: the workers' polls carry on meanwhile
        while True:
            self._wake.wait()
            self._wake.clear()  # before reading `wanted`: a call after this sets `wake` again
            if self._wanted:
                self._wanted = False
                try:
                    with self._connection() as conn:
                        conn.execute(self._statement)
                    said = False
                except StoreUnavailable as error:
                    self._wanted = True  # the notification that failed goes with the next
                    self._wake.set()
                    if not said and not self._closing:
                        logs.warning(log, "notify_failed", reason=str(error))
                        said = True
                    if not self._closing:
                        time.sleep(RETRY_SECONDS)
            if self._closing:
                return
            time.sleep(INTERVAL_SECONDS)  # what is committed meanwhile goes with the next one
