"""The SQLite adapter: one machine, any number of its processes, one file in WAL mode.

Writes that read first (claiming a job, moving an order's state) run in `BEGIN IMMEDIATE`
transactions, which SQLite serialises across processes, so two workers can never claim the same
job. Each thread reads on its own connection; a process writes through one (see `_writer`).
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Collection, Iterator, Sequence

from sqlite_utils import Database

from bridge.storage.port import EventJob, StoredEvent, StoreUnavailable
from bridge.storage.schema import migrations
from bridge.storage.sql import INSERT_EVENT, Result, SqlStore

BUSY_TIMEOUT_SECONDS = 10
_TAKE_AT_ONCE = 200  # events given their jobs per claim
# SQLite's words for a database that cannot be used for now (busy, gone, full, read-only).
_UNAVAILABLE_WORDS = ("locked", "unable to open", "disk I/O", "full", "readonly")


def _unavailable(error: sqlite3.OperationalError) -> bool:
    return any(word in str(error) for word in _UNAVAILABLE_WORDS)


def _file_path(text: str) -> Path:
    """The file a `sqlite:///` URL names; what would quietly be something else is refused."""
    if text in ("", ":memory:") or text.startswith("file:"):
        raise ValueError(f"{text or 'an empty path'} is not a file: every process needs the same "
                         "database, so give a path such as sqlite:///bridge.db")
    if "?" in text:
        raise ValueError("options after ? (such as ?mode=ro) are not supported: sqlite:/// takes "
                         "a file path only")
    path = Path(text)
    if path.is_dir():
        raise ValueError(f"{path.absolute()} is a folder, not a database file")
    return path


class SqliteStore(SqlStore):
    _UNTAKEN_EVENTS = ("SELECT count(*) FROM events"
                       " WHERE rowid > (SELECT last_rowid FROM inbox WHERE name = 'events')")

    def __init__(self, path: Path | str, clock: Callable[[], float] = time.time,
                 synchronous: str = "FULL", event_job: EventJob | None = None,
                 create: bool = True):
        super().__init__(clock=clock, event_job=event_job)
        self.path = _file_path(str(path))
        self.create = create  # False: a missing file is an error, never a new empty database
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        self.synchronous = synchronous
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._writer_db: Database | None = None

    def describe(self) -> str:
        return str(self.path.absolute())

    # -- connections and transactions ------------------------------------------------------

    @property
    def db(self) -> Database:
        """This thread's connection; inside a write transaction, the process's writer."""
        if getattr(self._local, "depth", 0):
            return self._writer
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect(check_same_thread=True)
        return db

    def _connect(self, *, check_same_thread: bool) -> Database:
        if not self.path.exists():
            self._create_file()
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS,
                                   isolation_level=None, check_same_thread=check_same_thread)
            self._set_wal(conn)
            # FULL (the default): an acknowledged webhook survives a power cut, not a crash only.
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as error:  # not a database, unreadable, a read-only folder...
            raise StoreUnavailable(f"database {self.describe()} cannot be used: {error}") from None
        return Database(conn, execute_plugins=False)

    def _create_file(self) -> None:
        """A new database, readable by its owner only: it holds customers' names, phones and
        addresses. SQLite gives the WAL and shared-memory files the same permissions."""
        if not self.create:
            raise StoreUnavailable(
                f"no database at {self.describe()}: run `bridge migrate` to create it, or set "
                f"DATABASE_URL to the existing one (a relative sqlite:/// path is read from the "
                f"working folder, here {Path.cwd()})")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass  # another process made it first
        except OSError as error:
            raise StoreUnavailable(f"database {self.describe()} cannot be created: "
                                   f"{error.strerror}") from None

    @classmethod
    def _set_wal(cls, conn: sqlite3.Connection) -> None:
        """Switching a new file to WAL needs it to itself and answers `locked` at once, without
        the busy handler, while another process opens it too (two `bridge migrate` at once)."""
        cls._while_locked(conn, "PRAGMA journal_mode=WAL")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
        with self._write_lock:
            if self._writer_db is not None:
                self._writer_db.close()
                self._writer_db = None

    @property
    def _writer(self) -> Database:
        """One connection does all of a process's writes, its threads taking turns under
        `_write_lock`. With a connection per thread, each write started on a page cache that
        another thread's commit had made stale, and paid to read it again."""
        if self._writer_db is None:
            self._writer_db = self._connect(check_same_thread=False)
            # Its only wait is for the write lock, which _begin_immediate polls for itself.
            self._writer_db.conn.execute("PRAGMA busy_timeout = 0")
        return self._writer_db

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """A write transaction; nested calls join the outer one."""
        if getattr(self._local, "depth", 0):
            self._local.depth += 1
            try:
                yield self._writer
            finally:
                self._local.depth -= 1
            return
        with self._write_lock:
            db = self._writer
            try:
                self._begin_immediate(db.conn)
            except sqlite3.OperationalError as error:
                raise StoreUnavailable(f"database {self.path}: {error}") from None
            self._local.depth = 1
            try:
                yield db
                db.conn.execute("COMMIT")
            except BaseException as error:
                db.conn.rollback()
                if isinstance(error, sqlite3.OperationalError) and _unavailable(error):
                    raise StoreUnavailable(f"database {self.path}: {error}") from None
                raise
            finally:
                self._local.depth = 0

    @classmethod
    def _begin_immediate(cls, conn: sqlite3.Connection) -> None:
        """Take SQLite's write lock, polling briefly while another process holds it.

        SQLite's own busy handler sleeps 1, 2, 5, 10 ... 100 ms between tries, while a commit
        holds the lock for well under a millisecond: waiting that way puts tens of milliseconds
        on a webhook's answer. Threads of one process queue on `_write_lock` instead. The
        writer connection has no busy timeout of its own, so a busy database answers at once.
        """
        cls._while_locked(conn, "BEGIN IMMEDIATE")

    @staticmethod
    def _while_locked(conn: sqlite3.Connection, statement: str) -> None:
        """Run `statement`, trying again every 0.2-4 ms while another connection holds the
        lock it needs, for up to BUSY_TIMEOUT_SECONDS."""
        deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
        pause = 0.0002
        while True:
            try:
                conn.execute(statement)
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.004)

    def _execute(self, sql: str, params: Sequence[Any] = (), *, named: bool = False) -> Result:
        try:
            cursor = self.db.conn.execute(sql, params)
            rows = cursor.fetchall()
        except sqlite3.OperationalError as error:
            if _unavailable(error):
                raise StoreUnavailable(f"database {self.path}: {error}") from None
            raise
        columns = tuple(d[0] for d in cursor.description or ()) if named else ()
        return Result(rows, cursor.rowcount, columns)

    def _executemany(self, sql: str, rows: list[Sequence[Any]]) -> None:
        self.db.conn.executemany(sql, rows)

    # -- schema ----------------------------------------------------------------------------

    def migrate(self) -> list[str]:
        """Apply pending migrations; safe to run twice (and from two processes at once)."""
        self.db.execute("BEGIN IMMEDIATE")  # one migrator at a time across processes
        try:
            names = [m.name for m in migrations.pending(self.db)]
            migrations.apply(self.db)
        except BaseException:
            self.db.conn.rollback()
            raise
        self.db.execute("COMMIT")
        return names

    def pending_migrations(self) -> list[str]:
        return [m.name for m in migrations.pending(self.db)]

    # -- the inbox -------------------------------------------------------------------------

    def record_event(self, event: StoredEvent) -> bool:
        """Store a verified webhook; False for a duplicate event id. The receiver's hot path:
        one row and nothing else (the worker makes the processing job, see `_take_new_events`),
        committed before it returns."""
        _, now = self._now()
        with self.transaction():
            return self._writer.conn.execute(INSERT_EVENT, self._event_row(event, now)
                                             ).rowcount == 1

    def _take_new_events(self, epoch: float, now: str) -> None:
        """Give each event stored since the last look its processing job, in stored order.

        Runs inside the worker's claim transaction. SQLite commits one writer at a time, so
        rowids grow in commit order and reading on from the last rowid taken skips nothing.
        At most _TAKE_AT_ONCE a time: the transaction holds SQLite's write lock, which webhooks
        are waiting for; each claim takes one job, so the queue still fills faster than it empties.
        """
        new = self._execute("SELECT rowid, id, instance_id, order_id FROM events WHERE rowid >"
                            " (SELECT last_rowid FROM inbox WHERE name = 'events')"
                            " ORDER BY rowid LIMIT ?", [_TAKE_AT_ONCE]).rows
        if not new:
            return
        self._jobs_for_events([row[1:] for row in new], epoch, now)
        self._execute("UPDATE inbox SET last_rowid = ? WHERE name = 'events'", [new[-1][0]])

    # -- jobs ------------------------------------------------------------------------------

    def claim(self, worker: str, lease_seconds: float, *, avoid: Collection[str] = ()):
        with self.transaction():
            # Read the clock once the lock is held: jobs another worker enqueued while this one
            # waited for the lock are stamped later than a clock read before waiting.
            if self.event_job is not None:
                self._take_new_events(*self._now())
            return self._claim_ready(worker, lease_seconds, avoid)

