"""All of the bridge's SQL, behind one narrow class. Nothing else imports sqlite3 or sqlite-utils.

Concurrency: any number of web and worker processes share one SQLite file in WAL mode. Writes that
read first (claiming a job, moving an order's state) run in `BEGIN IMMEDIATE` transactions, which
SQLite serialises across processes, so two workers can never claim the same job. Each thread gets
its own connection.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from sqlite_utils import Database

from bridge.storage.group_commit import GroupCommit
from bridge.storage.schema import migrations
from bridge.wix.events import WixEvent, payload_of

BUSY_TIMEOUT_SECONDS = 10
_TAKE_AT_ONCE = 200  # events given their jobs per claim

_INSERT_JOB = ("INSERT OR IGNORE INTO jobs (kind, key, lane, instance_id, order_id, payload, state,"
               " attempts, not_before, created_at, updated_at)"
               " VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)")


class SchemaOutOfDate(RuntimeError):
    """The database lacks migrations this code needs: run `bridge migrate`."""


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    key: str
    lane: str
    instance_id: str | None
    order_id: str | None
    payload: dict[str, Any]
    state: str
    attempts: int
    worker: str | None
    last_error: str | None


@dataclass(frozen=True)
class OrderRecord:
    wix_order_id: str
    instance_id: str
    number: str | None
    state: str
    wix_status: str | None
    sequence: int | None
    snapshot: dict[str, Any]
    pos_client: str | None
    pos_order_id: str | None
    last_error: str | None
    created_at: str
    updated_at: str
    pos_status: str | None = None
    wix_fulfillment_status: str | None = None
    wix_fulfillment_id: str | None = None


@dataclass(frozen=True)
class StatusUpdate:
    id: int
    pos_client: str
    pos_order_id: str
    status: str
    occurred_at: str | None
    callback_id: str | None
    received_at: str
    wix_order_id: str | None
    state: str
    note: str | None
    sequence: int | None = None


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds")


class Store:
    def __init__(self, path: Path | str, clock: Callable[[], float] = time.time,
                 synchronous: str = "FULL"):
        self.path = Path(path)
        self.clock = clock
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        self.synchronous = synchronous
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._writer_db: Database | None = None
        self._event_writes = GroupCommit(self._write_events)

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
        if self.path.parent != Path("."):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None,
                               check_same_thread=check_same_thread)
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL (the default): an acknowledged webhook survives a power cut, not only a crash.
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        return Database(conn, execute_plugins=False)

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
            self._begin_immediate(db.conn)
            self._local.depth = 1
            try:
                yield db
            except BaseException:
                db.conn.rollback()
                raise
            else:
                db.conn.execute("COMMIT")
            finally:
                self._local.depth = 0

    @staticmethod
    def _begin_immediate(conn: sqlite3.Connection) -> None:
        """Take SQLite's write lock, polling briefly while another process holds it.

        SQLite's own busy handler sleeps 1, 2, 5, 10 ... 100 ms between tries, while a commit
        holds the lock for well under a millisecond: waiting that way puts tens of milliseconds
        on a webhook's answer. Threads of one process queue on `_write_lock` instead. The
        writer connection has no busy timeout of its own, so a busy database answers at once.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
        pause = 0.0002
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.004)

    def _now(self) -> tuple[float, str]:
        now = self.clock()
        return now, iso(now)

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

    def check_schema(self) -> None:
        pending = self.pending_migrations()
        if pending:
            raise SchemaOutOfDate(f"database {self.path} needs migrations {', '.join(pending)}: "
                                  "run `bridge migrate`")

    # -- the inbox -------------------------------------------------------------------------

    def record_event(self, event: WixEvent) -> bool:
        """Store a verified webhook; False for a duplicate event id.

        This is the receiver's hot path, so it writes one row and nothing else (the worker makes
        the processing job, see `_take_new_events`). Concurrent callers are committed together
        (group commit), and each returns only once its event is durably stored.
        """
        _, now = self._now()
        payload = "" if event.text is not None else json.dumps(event.payload,
                                                                separators=(",", ":"))
        return self._event_writes.submit(
            (event.id, event.instance_id, event.event_type, event.entity_id, event.sequence,
             event.event_time, now, payload, event.text, event.order_id))

    def _write_events(self, rows: list[tuple]) -> list[bool]:
        with self.transaction() as db:
            return [db.conn.execute(
                "INSERT OR IGNORE INTO events (id, instance_id, event_type, entity_id, sequence,"
                " event_time, received_at, payload, domain_event, order_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row).rowcount == 1 for row in rows]

    def _take_new_events(self, db: Database, epoch: float, now: str) -> None:
        """Give each event stored since the last look its `process_event` job, in stored order.

        Runs inside the worker's claim transaction. Jobs of one order share a lane, so that
        order's events are processed one at a time, oldest first. At most _TAKE_AT_ONCE a time:
        the transaction holds SQLite's write lock, which webhooks are waiting for; each claim
        takes one job, so the queue still fills far faster than it empties.
        """
        (last,) = db.execute("SELECT last_rowid FROM inbox WHERE name = 'events'").fetchone()
        new = db.execute("SELECT rowid, id, instance_id, order_id FROM events WHERE rowid > ?"
                         " ORDER BY rowid LIMIT ?", [last, _TAKE_AT_ONCE]).fetchall()
        if not new:
            return
        db.conn.executemany(_INSERT_JOB, [
            ("process_event", f"event:{id_}", f"events:{order_id or instance_id}", instance_id,
             order_id, json.dumps({"event_id": id_}), epoch, now, now)
            for _, id_, instance_id, order_id in new])
        db.execute("UPDATE inbox SET last_rowid = ? WHERE name = 'events'", [new[-1][0]])

    def get_event(self, event_id: str) -> WixEvent | None:
        row = self.db.execute("SELECT id, instance_id, event_type, entity_id, sequence,"
                              " event_time, payload, domain_event FROM events WHERE id = ?",
                              [event_id]).fetchone()
        if row is None:
            return None
        (id_, instance_id, event_type, entity_id, sequence, event_time, payload, text) = row
        return WixEvent(id=id_, event_type=event_type, instance_id=instance_id, entity_id=entity_id,
                        sequence=sequence, event_time=event_time, text=text,
                        payload=json.loads(payload) if text is None else payload_of(text))

    # -- instances -------------------------------------------------------------------------

    def set_instance(self, instance_id: str, status: str) -> None:
        _, now = self._now()
        column = "installed_at" if status == "installed" else "removed_at"
        with self.transaction() as db:
            db.execute(
                f"INSERT INTO instances (instance_id, status, {column}) VALUES (?, ?, ?)"
                f" ON CONFLICT (instance_id) DO UPDATE SET status = excluded.status,"
                f" {column} = excluded.{column}", [instance_id, status, now])

    def instance_status(self, instance_id: str) -> str | None:
        row = self.db.execute("SELECT status FROM instances WHERE instance_id = ?",
                              [instance_id]).fetchone()
        return row[0] if row else None

    # -- jobs ------------------------------------------------------------------------------

    def enqueue(self, kind: str, *, key: str, lane: str, instance_id: str | None = None,
                order_id: str | None = None, payload: dict[str, Any] | None = None,
                delay: float = 0.0) -> bool:
        """Add a job unless one with the same key exists; True when added."""
        epoch, now = self._now()
        with self.transaction() as db:
            cursor = db.execute(_INSERT_JOB, [kind, key, lane, instance_id, order_id,
                                              json.dumps(payload or {}), epoch + delay, now, now])
            return cursor.rowcount == 1

    def claim(self, worker: str, lease_seconds: float) -> Job | None:
        """Take the oldest ready job whose lane has nothing earlier still open.

        Ready means pending and due, or running with an expired lease (its worker died).
        """
        with self.transaction() as db:
            # Read the clock once the lock is held: jobs another worker enqueued while this one
            # waited for the lock are stamped later than a clock read before waiting.
            epoch, now = self._now()
            self._take_new_events(db, epoch, now)
            row = db.execute(
                """SELECT id FROM jobs AS j
                   WHERE ((j.state = 'pending' AND j.not_before <= :now)
                          OR (j.state = 'running' AND j.lease_until < :now))
                     AND NOT EXISTS (SELECT 1 FROM jobs AS k
                                     WHERE k.lane = j.lane AND k.id < j.id
                                       AND k.state IN ('pending', 'running'))
                   ORDER BY j.not_before, j.id LIMIT 1""", {"now": epoch}).fetchone()
            if row is None:
                return None
            db.execute("UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = ?,"
                       " lease_until = ?, updated_at = ? WHERE id = ?",
                       [worker, epoch + lease_seconds, now, row[0]])
            return self.get_job(row[0])

    def get_job(self, job_id: int) -> Job | None:
        row = self.db.execute(
            "SELECT id, kind, key, lane, instance_id, order_id, payload, state, attempts, worker,"
            " last_error FROM jobs WHERE id = ?", [job_id]).fetchone()
        if row is None:
            return None
        return Job(*row[:6], json.loads(row[6] or "{}"), *row[7:])

    def finish(self, job: Job, outcome: str, *, error: str | None = None, delay: float = 0.0,
               started: float | None = None) -> bool:
        """Record an attempt's outcome: `done`, `retry` (after `delay` seconds), `failed`, or
        `wait` (not an attempt at all: the job is put back for `delay` seconds, uncounted).

        False when this worker no longer holds the job (its lease expired and another took it).
        """
        epoch, now = self._now()
        state = {"done": "done", "retry": "pending", "failed": "failed", "wait": "pending"}[outcome]
        uncount = 1 if outcome == "wait" else 0
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE jobs SET state = ?, not_before = ?, lease_until = NULL, last_error = ?,"
                " attempts = attempts - ?, updated_at = ?"
                " WHERE id = ? AND state = 'running' AND worker IS ?",
                [state, epoch + delay, error, uncount, now, job.id, job.worker])
            if cursor.rowcount == 0:
                return False
            if outcome == "wait":
                return True
            db.execute("INSERT INTO attempts (job_id, order_id, worker, started_at, finished_at,"
                       " outcome, error) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [job.id, job.order_id, job.worker, iso(started or epoch), now, outcome, error])
            return True

    def release(self, job: Job) -> None:
        """Hand a claimed job back untouched (a stopping worker that did not start it)."""
        _, now = self._now()
        with self.transaction() as db:
            db.execute("UPDATE jobs SET state = 'pending', attempts = attempts - 1,"
                       " lease_until = NULL, worker = NULL, updated_at = ?"
                       " WHERE id = ? AND state = 'running' AND worker IS ?",
                       [now, job.id, job.worker])

    def replay(self, *, order_id: str | None = None, job_id: int | None = None,
               key: str | None = None) -> list[int]:
        """Put failed jobs (of an order, by id or by key) back in the queue, attempts reset."""
        epoch, now = self._now()
        if order_id is not None:
            where, args = "order_id = ?", [order_id]
        elif job_id is not None:
            where, args = "id = ?", [job_id]
        else:
            where, args = "key = ?", [key]
        with self.transaction() as db:
            ids = [r[0] for r in db.execute(
                f"SELECT id FROM jobs WHERE {where} AND state = 'failed' ORDER BY id", args)]
            for id_ in ids:
                db.execute("UPDATE jobs SET state = 'pending', attempts = 0, not_before = ?,"
                           " worker = NULL, updated_at = ? WHERE id = ?", [epoch, now, id_])
            return ids

    def fail_pending_jobs(self, instance_id: str, kind: str, reason: str) -> list[Job]:
        """Fail the not-yet-running jobs of one kind for an instance; returns them."""
        _, now = self._now()
        with self.transaction() as db:
            ids = [r[0] for r in db.execute(
                "SELECT id FROM jobs WHERE instance_id = ? AND kind = ? AND state = 'pending'",
                [instance_id, kind])]
            for id_ in ids:
                db.execute("UPDATE jobs SET state = 'failed', last_error = ?, updated_at = ?"
                           " WHERE id = ?", [reason, now, id_])
            return [self.get_job(id_) for id_ in ids]

    def job_counts(self) -> dict[str, int]:
        """Jobs by state; events no worker has taken yet count as pending work too."""
        counts = dict(self.db.execute("SELECT state, count(*) FROM jobs"
                                      " WHERE state IN ('pending', 'running', 'failed')"
                                      " GROUP BY state").fetchall())
        (untaken,) = self.db.execute(
            "SELECT count(*) FROM events"
            " WHERE rowid > (SELECT last_rowid FROM inbox WHERE name = 'events')").fetchone()
        if untaken:
            counts["pending"] = counts.get("pending", 0) + untaken
        return counts

    # -- orders ----------------------------------------------------------------------------

    _ORDER_COLUMNS = ("wix_order_id, instance_id, number, state, wix_status, sequence, snapshot,"
                      " pos_client, pos_order_id, last_error, created_at, updated_at, pos_status,"
                      " wix_fulfillment_status, wix_fulfillment_id")

    def _order(self, row) -> OrderRecord:
        values = list(row)
        values[6] = json.loads(values[6])
        return OrderRecord(*values)

    def get_order(self, wix_order_id: str) -> OrderRecord | None:
        row = self.db.execute(f"SELECT {self._ORDER_COLUMNS} FROM orders WHERE wix_order_id = ?",
                              [wix_order_id]).fetchone()
        return self._order(row) if row else None

    def find_order_by_pos_id(self, pos_client: str, pos_order_id: str) -> OrderRecord | None:
        row = self.db.execute(f"SELECT {self._ORDER_COLUMNS} FROM orders"
                              " WHERE pos_client = ? AND pos_order_id = ?",
                              [pos_client, pos_order_id]).fetchone()
        return self._order(row) if row else None

    def save_order(self, *, wix_order_id: str, instance_id: str, state: str,
                   snapshot: dict[str, Any] | None = None, wix_status: str | None = None,
                   sequence: int | None = None, number: str | None = None) -> None:
        """Insert or update an order; the snapshot is replaced only when given."""
        _, now = self._now()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO orders (wix_order_id, instance_id, number, state, wix_status, sequence,"
                " snapshot, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (wix_order_id) DO UPDATE SET state = excluded.state,"
                "   number = coalesce(excluded.number, number),"
                "   wix_status = coalesce(excluded.wix_status, wix_status),"
                "   sequence = CASE WHEN ? THEN excluded.sequence ELSE sequence END,"
                "   snapshot = CASE WHEN ? THEN excluded.snapshot ELSE snapshot END,"
                "   updated_at = excluded.updated_at",
                [wix_order_id, instance_id, number, state, wix_status, sequence,
                 json.dumps(snapshot or {}), now, now, snapshot is not None, snapshot is not None])

    def set_order_state(self, wix_order_id: str, state: str, *, error: str | None = None,
                        pos_client: str | None = None, pos_order_id: str | None = None) -> None:
        _, now = self._now()
        with self.transaction() as db:
            db.execute("UPDATE orders SET state = ?, last_error = ?,"
                       " pos_client = coalesce(?, pos_client),"
                       " pos_order_id = coalesce(?, pos_order_id), updated_at = ?"
                       " WHERE wix_order_id = ?",
                       [state, error, pos_client, pos_order_id, now, wix_order_id])

    def set_order_statuses(self, wix_order_id: str, *, pos_status: str | None = None,
                           wix_fulfillment_status: str | None = None,
                           wix_fulfillment_id: str | None = None,
                           forget_fulfillment: bool = False) -> None:
        """Record what the POS reported and what Wix was told; None leaves a column as it is."""
        _, now = self._now()
        with self.transaction() as db:
            db.execute("UPDATE orders SET pos_status = coalesce(?, pos_status),"
                       " wix_fulfillment_status = coalesce(?, wix_fulfillment_status),"
                       " wix_fulfillment_id = CASE WHEN ? THEN NULL"
                       "   ELSE coalesce(?, wix_fulfillment_id) END,"
                       " updated_at = ? WHERE wix_order_id = ?",
                       [pos_status, wix_fulfillment_status, forget_fulfillment,
                        wix_fulfillment_id, now, wix_order_id])

    def list_orders(self, state: str | None = None, limit: int = 50) -> list[OrderRecord]:
        where, args = ("WHERE state = ?", [state]) if state else ("", [])
        rows = self.db.execute(f"SELECT {self._ORDER_COLUMNS} FROM orders {where}"
                               " ORDER BY updated_at DESC LIMIT ?", [*args, limit]).fetchall()
        return [self._order(r) for r in rows]

    # -- status updates --------------------------------------------------------------------

    _UPDATE_COLUMNS = ("id, pos_client, pos_order_id, status, occurred_at, callback_id,"
                       " received_at, wix_order_id, state, note, sequence")

    def add_status_update(self, pos_client: str, pos_order_id: str, status: str,
                          occurred_at: str | None, callback_id: str | None,
                          sequence: int | None = None) -> int | None:
        """Store a reported status change; None when the same callback was stored before."""
        _, now = self._now()
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO status_updates (pos_client, pos_order_id, status, occurred_at,"
                " callback_id, received_at, state, sequence)"
                " VALUES (?, ?, ?, ?, ?, ?, 'unmatched', ?)",
                [pos_client, pos_order_id, status, occurred_at, callback_id, now, sequence])
            return cursor.lastrowid if cursor.rowcount == 1 else None

    def newest_status_sequence(self, pos_client: str, pos_order_id: str) -> int | None:
        """The highest sequence reported so far for a POS order (stale reports are below it)."""
        row = self.db.execute("SELECT max(sequence) FROM status_updates"
                              " WHERE pos_client = ? AND pos_order_id = ? AND state != 'failed'",
                              [pos_client, pos_order_id]).fetchone()
        return row[0] if row else None

    def get_status_update(self, update_id: int) -> StatusUpdate | None:
        row = self.db.execute(f"SELECT {self._UPDATE_COLUMNS} FROM status_updates WHERE id = ?",
                              [update_id]).fetchone()
        return StatusUpdate(*row) if row else None

    def unmatched_status_updates(self, pos_client: str, pos_order_id: str) -> list[StatusUpdate]:
        rows = self.db.execute(f"SELECT {self._UPDATE_COLUMNS} FROM status_updates"
                               " WHERE pos_client = ? AND pos_order_id = ? AND state = 'unmatched'"
                               " ORDER BY id", [pos_client, pos_order_id]).fetchall()
        return [StatusUpdate(*r) for r in rows]

    def set_status_update(self, update_id: int, state: str, *, note: str | None = None,
                          wix_order_id: str | None = None, status: str | None = None) -> None:
        with self.transaction() as db:
            db.execute("UPDATE status_updates SET state = ?, note = ?,"
                       " wix_order_id = coalesce(?, wix_order_id), status = coalesce(?, status)"
                       " WHERE id = ?", [state, note, wix_order_id, status, update_id])

    def list_status_updates(self, state: str | None = None, limit: int = 50) -> list[StatusUpdate]:
        where, args = ("WHERE state = ?", [state]) if state else ("", [])
        rows = self.db.execute(f"SELECT {self._UPDATE_COLUMNS} FROM status_updates {where}"
                               " ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()
        return [StatusUpdate(*r) for r in rows]

    def history(self, wix_order_id: str) -> dict[str, list[dict[str, Any]]]:
        """Everything recorded about one order, oldest first, for `bridge show`."""
        def rows(sql: str) -> list[dict[str, Any]]:
            cursor = self.db.execute(sql, [wix_order_id])
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]

        return {
            "events": rows("SELECT id, event_type, sequence, event_time, received_at FROM events"
                           " WHERE entity_id = ? ORDER BY received_at, rowid"),
            "jobs": rows("SELECT id, kind, state, attempts, last_error, created_at, updated_at"
                         " FROM jobs WHERE order_id = ? ORDER BY id"),
            "attempts": rows("SELECT job_id, worker, started_at, finished_at, outcome, error"
                             " FROM attempts WHERE order_id = ? ORDER BY id"),
            "status_updates": rows("SELECT id, status, sequence, occurred_at, received_at, state,"
                                   " note"
                                   " FROM status_updates WHERE wix_order_id = ? ORDER BY id"),
        }
