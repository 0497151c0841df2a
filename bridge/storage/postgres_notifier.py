"""Telling idle workers there is work, without slowing down the commits that made it.

PostgreSQL serializes every commit that sends `NOTIFY`, across the whole server: such a commit
takes a cluster-wide lock and holds it until its record is flushed to disk (`PreCommit_Notify`
in its async.c), so that notifications are queued in commit order. A webhook's insert that
notified could therefore not share a flush with any other commit (concurrent notifying inserts
commit at a fraction of the rate of plain ones), and a disk that takes milliseconds to flush (a
managed database's network storage) makes it worse.

So the commits that add work do not notify. Each process has one `Notifier`: told once work is
committed (`soon`), it sends one `NOTIFY` from a connection of its own, which does not wait for
the disk (a notification is a wake-up call, not data: a worker that misses one finds the work at
its next poll). Calls that come while it is sending are answered by the next one, at most one
every `INTERVAL_SECONDS`, so a burst of webhooks costs a handful of notifications, not one each.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import psycopg

from bridge import logs

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 0.02   # between two notifications of one process, at most this often
RETRY_SECONDS = 1.0       # after a failed connection; workers poll meanwhile


class Notifier:
    def __init__(self, conninfo: str, channel: str, describe_error: Callable[[Exception], str]):
        """`channel`: an SQL expression naming the channel."""
        self._conninfo = conninfo
        self._statement = f"SELECT pg_notify({channel}, '')"
        self._describe_error = describe_error  # the error, as the store words it (no password)
        # Called on every stored webhook, so without a lock: `wanted` says there is work to
        # announce, `wake` (set at most once per notification) gets the thread going.
        self._wanted = False
        self._wake = threading.Event()
        self._closing = False
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def soon(self) -> None:
        """Work was committed: let the listening workers know (from a thread of its own, started
        on first use: a process that adds no work opens no connection for it)."""
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
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute("SET synchronous_commit = off")
                    said = False
                    self._send_while_open(conn)
                    return
            except psycopg.Error as error:
                self._wanted = True  # the notification that failed goes on the next connection
                self._wake.set()
                if self._closing:
                    return
                if not said:
                    logs.warning(log, "notify_failed", reason=self._describe_error(error))
                    said = True
                time.sleep(RETRY_SECONDS)

    def _send_while_open(self, conn: psycopg.Connection) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()  # before reading `wanted`: a call after this sets `wake` again
            if self._wanted:
                self._wanted = False
                conn.execute(self._statement)
            if self._closing:
                return
            time.sleep(INTERVAL_SECONDS)  # what is committed meanwhile goes with the next one
