"""What both SQL adapters share: the statements that read the same on SQLite and PostgreSQL.

The SQL here keeps to what both engines take (`?` placeholders, which the PostgreSQL adapter
rewrites; `ON CONFLICT`; `RETURNING`), so one statement serves both and a fix is made once. What
really differs, each adapter does its own way: connections and transactions, claiming a job, the
inbox, migrations, and waking workers.
"""
from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Collection, Iterator, Sequence

from bridge.storage.port import (Account, AccountState, Breaker, Configuration, Direction,
                                 EventJob, Import, Incident, ImportState, Job, JobState, NewJob,
                                 OrderRecord, Outcome, SchemaOutOfDate, Snapshot, StatusUpdate,
                                 StoredEvent, Sync, SyncState, iso)

# The state a job is left in by each attempt outcome.
_STATE_AFTER = {Outcome.DONE: JobState.DONE, Outcome.RETRY: JobState.PENDING,
                Outcome.FAILED: JobState.FAILED, Outcome.WAIT: JobState.PENDING}

# An event of `_event_row`; an event id already stored is not stored again.
INSERT_EVENT = ("INSERT INTO events (id, instance_id, event_type, entity_id, sequence,"
                " event_time, received_at, payload, domain_event, order_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")

INSERT_JOB = ("INSERT INTO jobs (kind, key, lane, instance_id, order_id, payload, state,"
              " attempts, not_before, created_at, updated_at, destination)"
              " VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?) ON CONFLICT DO NOTHING")

_JOB_COLUMNS = ("id, kind, key, lane, instance_id, order_id, payload, state, attempts, worker,"
                " last_error, destination")

# An attempt's outcome, only while this worker still holds the job (its lease may have been lost).
FINISH_JOB = ("UPDATE jobs SET state = ?, not_before = ?, lease_until = NULL, last_error = ?,"
              " attempts = attempts - ?, updated_at = ?"
              " WHERE id = ? AND state = 'running' AND worker = ?")
RECORD_ATTEMPT = ("INSERT INTO attempts (job_id, order_id, worker, started_at, finished_at,"
                  " outcome, error) VALUES (?, ?, ?, ?, ?, ?, ?)")

# Take the oldest ready job that is the first open job of its lane, in one statement. Ready:
# pending and due, or running with an expired lease (its worker died). "First of its lane" is
# asked as a correlated min(), one index probe per candidate: as a NOT EXISTS anti-join,
# PostgreSQL planned it quadratic while the jobs table's statistics were young (276 ms a claim
# with 1,000 jobs waiting). A job bound for a destination waits while that destination's
# breaker is open, or while it is in `{avoid}` (this process's workers already hold its share).
# `{lock}` is where PostgreSQL adds FOR UPDATE SKIP LOCKED.
# Parameters: worker, lease until, now (text), now, now, now, then the avoided destinations.
CLAIM_JOB = ("UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = ?,"
             " lease_until = ?, updated_at = ?"
             " WHERE id = (SELECT id FROM jobs AS j"
             "   WHERE j.state IN ('pending', 'running')"  # the open jobs' partial index
             "     AND ((j.state = 'pending' AND j.not_before <= ?)"
             "          OR (j.state = 'running' AND j.lease_until < ?))"
             "     AND j.id = (SELECT min(k.id) FROM jobs AS k"
             "                 WHERE k.lane = j.lane AND k.state IN ('pending', 'running'))"
             "     AND (j.destination IS NULL"
             "          OR (NOT EXISTS (SELECT 1 FROM breakers AS b"
             "                          WHERE b.destination = j.destination AND b.open_until > ?)"
             "              {avoid}))"
             "   ORDER BY j.not_before, j.id LIMIT 1{lock})"
             f" RETURNING {_JOB_COLUMNS}")
_ORDER_COLUMNS = ("wix_order_id, instance_id, number, state, wix_status, sequence, snapshot,"
                  " pos_client, pos_order_id, last_error, created_at, updated_at, pos_status,"
                  " wix_fulfillment_status, wix_fulfillment_id, direction, origin")
_IMPORT_COLUMNS = ("id, instance_id, pos_client, pos_order_id, state, wix_order_id, pos_order,"
                   " error, created_at, updated_at")
_UPDATE_COLUMNS = ("id, pos_client, pos_order_id, status, occurred_at, callback_id,"
                   " received_at, wix_order_id, state, note, sequence")
_BREAKER_COLUMNS = ("destination, state, failures, cooldown, open_until, opened_at, last_error")
_ACCOUNT_COLUMNS = ("id, instance_id, pos_client, status, authorized, merchant_id, credentials,"
                    " version, checked_at, check_error, created_at, updated_at")
_CONFIGURATION_COLUMNS = ("id, instance_id, account_id, location_name, wix_location_id,"
                          " pos_location_id, enabled, archived, catalog_id, error, created_at,"
                          " updated_at, sync_confirmed_at, sync_menus")
_SYNC_COLUMNS = ("id, instance_id, configuration_id, status, started_at, ended_at, error,"
                 " error_code, counts, created_at, updated_at")
_EVENT_COLUMNS = ("id, instance_id, event_type, entity_id, order_id, sequence, event_time,"
                  " domain_event, payload")


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


def job_row(job: NewJob, not_before: float, now: str) -> tuple:
    """INSERT_JOB's parameters for one job."""
    return (job.kind, job.key, job.lane, job.instance_id, job.order_id, json.dumps(job.payload),
            not_before, now, now, job.destination)


def job_from_row(row: Sequence[Any]) -> Job:
    return Job(*row[:6], json.loads(row[6] or "{}"), *row[7:])


class SqlStore(ABC):
    """The shared statements; subclasses provide `_execute` and the engine-specific parts."""

    # The column that orders events by arrival (SQLite's rowid, PostgreSQL's sequence).
    _EVENT_ORDER = "rowid"

    def __init__(self, *, clock: Callable[[], float] = time.time,
                 event_job: EventJob | None = None):
        self.clock = clock
        self.event_job = event_job  # None: this store only reads and writes; it claims nothing

    # -- what each adapter provides --------------------------------------------------------

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

    # -- shared ----------------------------------------------------------------------------

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

    # -- the inbox -------------------------------------------------------------------------

    def get_event(self, event_id: str) -> StoredEvent | None:
        row = self._execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE id = ?", [event_id]).one()
        if row is None:
            return None
        (id_, instance_id, event_type, entity_id, order_id, sequence, event_time, text,
         payload) = row
        return StoredEvent(id=id_, instance_id=instance_id, event_type=event_type,
                           entity_id=entity_id, order_id=order_id, sequence=sequence,
                           event_time=event_time, text=text, payload=payload or None)

    @staticmethod
    def _event_row(event: StoredEvent, now: str) -> tuple:
        return (event.id, event.instance_id, event.event_type, event.entity_id, event.sequence,
                event.event_time, now, event.payload or "", event.text, event.order_id)

    def _jobs_for_events(self, events: list[tuple[str, str, str | None]], epoch: float,
                         now: str) -> None:
        """Add the processing job of each newly taken (event id, instance id, order id)."""
        if self.event_job is None:
            raise RuntimeError("this store was opened without an event_job: it cannot claim")
        self._executemany(INSERT_JOB, [job_row(self.event_job(*event), epoch, now)
                                       for event in events])

    # -- instances -------------------------------------------------------------------------

    def set_instance(self, instance_id: str, status: str, *, at: str | None = None) -> bool:
        """Record an install or removal; one signed before the last recorded (`at`, a resend
        arriving late) changes nothing and answers False."""
        _, now = self._now()
        column = "installed_at" if status == "installed" else "removed_at"
        with self.transaction():
            return self._execute(
                f"INSERT INTO instances (instance_id, status, {column}, changed_at)"
                f" VALUES (?, ?, ?, ?)"
                f" ON CONFLICT (instance_id) DO UPDATE SET status = excluded.status,"
                f" {column} = excluded.{column}, changed_at = excluded.changed_at"
                f" WHERE excluded.changed_at IS NULL OR instances.changed_at IS NULL"
                f" OR excluded.changed_at >= instances.changed_at",
                [instance_id, status, now, at]).rowcount == 1

    def instance_status(self, instance_id: str) -> str | None:
        row = self._execute("SELECT status FROM instances WHERE instance_id = ?",
                            [instance_id]).one()
        return row[0] if row else None

    def installed_instances(self) -> list[str]:
        rows = self._execute("SELECT instance_id FROM instances WHERE status = 'installed'"
                             " ORDER BY instance_id").rows
        return [r[0] for r in rows]

    # -- accounts, configurations, identifiers ---------------------------------------------

    @staticmethod
    def _account(row) -> Account:
        values = list(row)
        values[4] = bool(values[4])
        return Account(*values)

    def save_account(self, account_id: str, instance_id: str, pos_client: str,
                     credentials: str | None) -> Account:
        _, now = self._now()
        with self.transaction():
            row = self._execute(
                "INSERT INTO accounts (id, instance_id, pos_client, status, authorized,"
                " credentials, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET pos_client = excluded.pos_client,"
                "   status = excluded.status, authorized = excluded.authorized,"
                "   credentials = excluded.credentials, version = accounts.version + 1,"
                "   checked_at = NULL, check_error = NULL, updated_at = excluded.updated_at"
                f" RETURNING {_ACCOUNT_COLUMNS}",
                [account_id, instance_id, pos_client, AccountState.ACTIVE, False, credentials,
                 now, now]).one()
        return self._account(row)

    def get_account(self, account_id: str) -> Account | None:
        row = self._execute(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE id = ?",
                            [account_id]).one()
        return self._account(row) if row else None

    def account_for_instance(self, instance_id: str) -> Account | None:
        row = self._execute(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts"
                            " WHERE instance_id = ? AND status = ? ORDER BY created_at DESC",
                            [instance_id, AccountState.ACTIVE]).one()
        return self._account(row) if row else None

    def list_accounts(self, instance_id: str | None = None) -> list[Account]:
        where, args = _filter(instance_id=instance_id)
        rows = self._execute(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts {where}"
                             " ORDER BY instance_id, created_at", args).rows
        return [self._account(r) for r in rows]

    def record_account_check(self, account_id: str, *, error: str | None,
                             merchant_id: str | None = None) -> None:
        _, now = self._now()
        with self.transaction():
            self._execute("UPDATE accounts SET authorized = ?, check_error = ?, checked_at = ?,"
                          " merchant_id = coalesce(?, merchant_id), updated_at = ? WHERE id = ?",
                          [error is None, error, now, merchant_id, now, account_id])

    def set_account_status(self, account_id: str, status: str) -> None:
        _, now = self._now()
        with self.transaction():
            self._execute("UPDATE accounts SET status = ?, updated_at = ? WHERE id = ?",
                          [status, now, account_id])

    def reseal_account(self, account_id: str, credentials: str) -> None:
        with self.transaction():
            self._execute("UPDATE accounts SET credentials = ? WHERE id = ?",
                          [credentials, account_id])

    @staticmethod
    def _configuration(row) -> Configuration:
        values = list(row)
        values[6], values[7] = bool(values[6]), bool(values[7])
        values[13] = tuple(json.loads(values[13])) if values[13] is not None else None
        return Configuration(*values)

    def save_configuration(self, configuration_id: str, instance_id: str, *,
                           location_name: str | None = None, enabled: bool = True,
                           archived: bool = False, catalog_id: str | None = None,
                           account_id: str | None = None) -> Configuration:
        _, now = self._now()
        with self.transaction():
            row = self._execute(
                "INSERT INTO configurations (id, instance_id, account_id, location_name, enabled,"
                " archived, catalog_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET"
                "   account_id = coalesce(excluded.account_id, configurations.account_id),"
                "   location_name = coalesce(excluded.location_name, configurations.location_name),"
                "   enabled = excluded.enabled, archived = excluded.archived,"
                "   catalog_id = coalesce(excluded.catalog_id, configurations.catalog_id),"
                "   updated_at = excluded.updated_at"
                f" RETURNING {_CONFIGURATION_COLUMNS}",
                [configuration_id, instance_id, account_id, location_name, enabled, archived,
                 catalog_id, now, now]).one()
        return self._configuration(row)

    def pair_configuration(self, configuration_id: str, *, pos_location_id: str | None,
                           wix_location_id: str | None = None) -> Configuration | None:
        _, now = self._now()
        with self.transaction():
            row = self._execute(
                "UPDATE configurations SET pos_location_id = ?,"
                " wix_location_id = coalesce(?, wix_location_id), error = NULL, updated_at = ?"
                f" WHERE id = ? RETURNING {_CONFIGURATION_COLUMNS}",
                [pos_location_id, wix_location_id, now, configuration_id]).one()
        return self._configuration(row) if row else None

    def set_configuration_error(self, configuration_id: str, error: str | None) -> None:
        _, now = self._now()
        with self.transaction():
            self._execute("UPDATE configurations SET error = ?, updated_at = ? WHERE id = ?",
                          [error, now, configuration_id])

    def get_configuration(self, configuration_id: str) -> Configuration | None:
        row = self._execute(f"SELECT {_CONFIGURATION_COLUMNS} FROM configurations WHERE id = ?",
                            [configuration_id]).one()
        return self._configuration(row) if row else None

    def list_configurations(self, instance_id: str | None = None) -> list[Configuration]:
        where, args = _filter(instance_id=instance_id)
        rows = self._execute(f"SELECT {_CONFIGURATION_COLUMNS} FROM configurations {where}"
                             " ORDER BY instance_id, created_at, id", args).rows
        return [self._configuration(r) for r in rows]

    def configuration_for_location(self, instance_id: str, wix_location_id: str | None
                                   ) -> Configuration | None:
        live = [c for c in self.list_configurations(instance_id) if not c.archived]
        exact = next((c for c in live if wix_location_id
                      and c.wix_location_id == wix_location_id), None)
        if exact is not None:
            return exact
        # A site with one location: its configuration, unless it names another location.
        if len(live) == 1 and (not wix_location_id or not live[0].wix_location_id):
            return live[0]
        return None

    def set_identifier(self, instance_id: str, kind: str, wix_id: str, pos_id: str) -> None:
        _, now = self._now()
        with self.transaction():
            self._execute("DELETE FROM identifiers WHERE instance_id = ? AND kind = ?"
                          " AND pos_id = ? AND wix_id <> ?", [instance_id, kind, pos_id, wix_id])
            self._execute("INSERT INTO identifiers (instance_id, kind, wix_id, pos_id, updated_at)"
                          " VALUES (?, ?, ?, ?, ?) ON CONFLICT (instance_id, kind, wix_id)"
                          " DO UPDATE SET pos_id = excluded.pos_id,"
                          " updated_at = excluded.updated_at",
                          [instance_id, kind, wix_id, pos_id, now])

    def pos_id(self, instance_id: str, kind: str, wix_id: str) -> str | None:
        row = self._execute("SELECT pos_id FROM identifiers"
                            " WHERE instance_id = ? AND kind = ? AND wix_id = ?",
                            [instance_id, kind, wix_id]).one()
        return row[0] if row else None

    def wix_id(self, instance_id: str, kind: str, pos_id: str) -> str | None:
        row = self._execute("SELECT wix_id FROM identifiers"
                            " WHERE instance_id = ? AND kind = ? AND pos_id = ? ORDER BY wix_id",
                            [instance_id, kind, pos_id]).one()
        return row[0] if row else None

    def identifiers(self, instance_id: str, kind: str) -> dict[str, str]:
        rows = self._execute("SELECT wix_id, pos_id FROM identifiers"
                             " WHERE instance_id = ? AND kind = ?", [instance_id, kind]).rows
        return dict(rows)

    # -- imports ---------------------------------------------------------------------------

    @staticmethod
    def _import(row) -> Import:
        values = list(row)
        values[6] = json.loads(values[6]) if values[6] else None
        return Import(*values)

    def add_import(self, instance_id: str, pos_client: str, pos_order_id: str,
                   pos_order: dict[str, Any] | None) -> tuple[Import, bool]:
        _, now = self._now()
        with self.transaction():
            row = self._execute(
                "INSERT INTO imports (instance_id, pos_client, pos_order_id, state, pos_order,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                f" ON CONFLICT (pos_client, pos_order_id) DO NOTHING RETURNING {_IMPORT_COLUMNS}",
                [instance_id, pos_client, pos_order_id, ImportState.PENDING,
                 json.dumps(pos_order) if pos_order is not None else None, now, now]).one()
            if row is not None:
                return self._import(row), True
            row = self._execute(f"SELECT {_IMPORT_COLUMNS} FROM imports"
                                " WHERE pos_client = ? AND pos_order_id = ?",
                                [pos_client, pos_order_id]).one()
        return self._import(row), False

    def get_import(self, import_id: int) -> Import | None:
        row = self._execute(f"SELECT {_IMPORT_COLUMNS} FROM imports WHERE id = ?",
                            [import_id]).one()
        return self._import(row) if row else None

    def find_import(self, instance_id: str, pos_order_id: str) -> Import | None:
        row = self._execute(f"SELECT {_IMPORT_COLUMNS} FROM imports"
                            " WHERE instance_id = ? AND pos_order_id = ? ORDER BY id",
                            [instance_id, pos_order_id]).one()
        return self._import(row) if row else None

    def set_import(self, import_id: int, state: str, *, wix_order_id: str | None = None,
                   error: str | None = None, pos_order: dict[str, Any] | None = None) -> None:
        _, now = self._now()
        with self.transaction():
            self._execute("UPDATE imports SET state = ?, error = ?,"
                          " wix_order_id = coalesce(?, wix_order_id),"
                          " pos_order = coalesce(?, pos_order), updated_at = ? WHERE id = ?",
                          [state, error, wix_order_id,
                           json.dumps(pos_order) if pos_order is not None else None, now,
                           import_id])

    def list_imports(self, state: str | None = None, limit: int = 50, *,
                     instance_id: str | None = None) -> list[Import]:
        where, args = _filter(state=state, instance_id=instance_id)
        rows = self._execute(f"SELECT {_IMPORT_COLUMNS} FROM imports {where}"
                             " ORDER BY updated_at DESC LIMIT ?", [*args, limit]).rows
        return [self._import(r) for r in rows]

    # -- incidents: what an owner is told of ------------------------------------------------

    def record_incident(self, instance_id: str, kind: str, key: str, subject: str,
                        detail: str | None) -> int | None:
        _, now = self._now()
        with self.transaction():
            row = self._execute(
                "INSERT INTO incidents (instance_id, kind, key, subject, detail, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (instance_id, kind, key) DO NOTHING"
                " RETURNING id", [instance_id, kind, key, subject, detail, now]).one()
        return row[0] if row else None

    def open_incidents(self, instance_id: str) -> list[Incident]:
        rows = self._execute("SELECT id, instance_id, kind, key, subject, detail, created_at,"
                             " notified_at FROM incidents WHERE instance_id = ?"
                             " AND notified_at IS NULL ORDER BY id", [instance_id]).rows
        return [Incident(*row) for row in rows]

    def mark_notified(self, incident_ids: list[int]) -> None:
        _, now = self._now()
        with self.transaction():
            self._executemany("UPDATE incidents SET notified_at = ? WHERE id = ?",
                              [(now, i) for i in incident_ids])

    def set_notify_email(self, instance_id: str, email: str | None) -> None:
        with self.transaction():
            # A site not installed yet is kept as 'unknown' until its install arrives.
            self._execute("INSERT INTO instances (instance_id, status, notify_email)"
                          " VALUES (?, 'unknown', ?) ON CONFLICT (instance_id)"
                          " DO UPDATE SET notify_email = excluded.notify_email",
                          [instance_id, email])

    def notify_email(self, instance_id: str) -> str | None:
        row = self._execute("SELECT notify_email FROM instances WHERE instance_id = ?",
                            [instance_id]).one()
        return row[0] if row else None

    # -- the original Restaurants app's POS webhook -----------------------------------------

    def set_legacy_endpoint(self, instance_id: str, token_hash: str, currency: str) -> None:
        _, now = self._now()
        with self.transaction():
            self._execute("INSERT INTO legacy_endpoints (instance_id, token_hash, currency,"
                          " created_at) VALUES (?, ?, ?, ?) ON CONFLICT (instance_id) DO UPDATE"
                          " SET token_hash = excluded.token_hash, currency = excluded.currency,"
                          " created_at = excluded.created_at",
                          [instance_id, token_hash, currency, now])

    def legacy_endpoint(self, token_hash: str) -> tuple[str, str] | None:
        row = self._execute("SELECT instance_id, currency FROM legacy_endpoints"
                            " WHERE token_hash = ?", [token_hash]).one()
        return (row[0], row[1]) if row else None

    # -- catalog syncs ---------------------------------------------------------------------

    @staticmethod
    def _sync(row) -> Sync:
        values = list(row)
        values[8] = json.loads(values[8]) if values[8] else {}
        return Sync(*values)

    def start_sync(self, instance_id: str, configuration_id: str) -> tuple[Sync, bool]:
        _, now = self._now()
        with self.transaction():
            self.lock_keys(f"sync:{configuration_id}")
            row = self._execute(
                f"SELECT {_SYNC_COLUMNS} FROM syncs WHERE configuration_id = ?"
                " AND status IN (?, ?) ORDER BY id DESC",
                [configuration_id, SyncState.PENDING, SyncState.IN_PROGRESS]).one()
            if row is not None:
                return self._sync(row), False
            row = self._execute(
                "INSERT INTO syncs (instance_id, configuration_id, status, created_at, updated_at)"
                f" VALUES (?, ?, ?, ?, ?) RETURNING {_SYNC_COLUMNS}",
                [instance_id, configuration_id, SyncState.PENDING, now, now]).one()
        return self._sync(row), True

    def get_sync(self, sync_id: int) -> Sync | None:
        row = self._execute(f"SELECT {_SYNC_COLUMNS} FROM syncs WHERE id = ?", [sync_id]).one()
        return self._sync(row) if row else None

    def list_syncs(self, configuration_id: str | None = None, limit: int = 50) -> list[Sync]:
        where, args = _filter(configuration_id=configuration_id)
        rows = self._execute(f"SELECT {_SYNC_COLUMNS} FROM syncs {where} ORDER BY id DESC"
                             " LIMIT ?", [*args, limit]).rows
        return [self._sync(r) for r in rows]

    def set_sync(self, sync_id: int, status: str, *, error: str | None = None,
                 code: str | None = None, counts: dict[str, int] | None = None) -> None:
        _, now = self._now()
        ended = status in (SyncState.SYNCED, SyncState.FAILED)
        with self.transaction():
            self._execute(
                "UPDATE syncs SET status = ?, error = ?, error_code = ?,"
                " counts = coalesce(?, counts),"
                " started_at = CASE WHEN ? AND started_at IS NULL THEN ? ELSE started_at END,"
                " ended_at = CASE WHEN ? THEN ? ELSE ended_at END, updated_at = ? WHERE id = ?",
                [status, error, code, json.dumps(counts) if counts is not None else None,
                 status == SyncState.IN_PROGRESS, now, ended, now, now, sync_id])

    def log_sync(self, sync_id: int, action: str, *, kind: str | None = None,
                 pos_id: str | None = None, wix_id: str | None = None,
                 note: str | None = None) -> None:
        _, now = self._now()
        with self.transaction():
            self._execute("INSERT INTO sync_log (sync_id, at, kind, action, pos_id, wix_id, note)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?)",
                          [sync_id, now, kind, action, pos_id, wix_id, note])

    def sync_log(self, sync_id: int) -> list[dict[str, Any]]:
        return self._execute("SELECT at, kind, action, pos_id, wix_id, note FROM sync_log"
                             " WHERE sync_id = ? ORDER BY id", [sync_id], named=True).dicts()

    def confirm_sync(self, configuration_id: str) -> None:
        _, now = self._now()
        with self.transaction():
            self._execute("UPDATE configurations SET sync_confirmed_at = coalesce("
                          "sync_confirmed_at, ?) WHERE id = ?", [now, configuration_id])

    def choose_sync_menus(self, configuration_id: str, menu_ids: list[str] | None) -> None:
        _, now = self._now()
        with self.transaction():
            self._execute("UPDATE configurations SET sync_menus = ?, updated_at = ? WHERE id = ?",
                          [None if menu_ids is None else json.dumps(sorted(set(menu_ids))), now,
                           configuration_id])

    # -- jobs ------------------------------------------------------------------------------

    def enqueue(self, job: NewJob, *, delay: float = 0.0) -> bool:
        epoch, now = self._now()
        with self.transaction():
            self._added_job(job)
            return self._execute(INSERT_JOB, job_row(job, epoch + delay, now)).rowcount == 1

    def _claim_ready(self, worker: str, lease_seconds: float, avoid: Collection[str], *,
                     lock: str = "") -> Job | None:
        epoch, now = self._now()
        avoided = sorted(avoid)
        sql = CLAIM_JOB.format(lock=lock, avoid=(
            f"AND j.destination NOT IN ({', '.join('?' * len(avoided))})" if avoided else ""))
        row = self._execute(sql, [worker, epoch + lease_seconds, now, epoch, epoch, epoch,
                                  *avoided]).one()
        return job_from_row(row) if row else None

    def get_job(self, job_id: int) -> Job | None:
        row = self._execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", [job_id]).one()
        return job_from_row(row) if row else None

    def finish(self, job: Job, outcome: str, *, error: str | None = None, delay: float = 0.0,
               started: float | None = None) -> bool:
        """Record an attempt's outcome: `done`, `retry` (after `delay` seconds), `failed`, or
        `wait` (not an attempt at all: the job is put back for `delay` seconds, uncounted).

        False when this worker no longer holds the job (its lease expired and another took it).
        """
        epoch, now = self._now()
        with self.transaction():
            changed = self._execute(FINISH_JOB, self._finish_params(job, outcome, error, delay,
                                                                   epoch, now))
            if changed.rowcount == 0:
                return False
            if outcome != Outcome.WAIT:
                self._execute(RECORD_ATTEMPT, [job.id, job.order_id, job.worker,
                                               iso(started or epoch), now, outcome, error])
            return True

    @staticmethod
    def _finish_params(job: Job, outcome: str, error: str | None, delay: float, epoch: float,
                       now: str) -> list:
        """FINISH_JOB's parameters: `wait` hands the attempt back uncounted."""
        return [_STATE_AFTER[Outcome(outcome)].value, epoch + delay, error,
                1 if outcome == Outcome.WAIT else 0, now,
                job.id, job.worker]

    def release(self, job: Job) -> bool:
        """Hand a claimed job back, its attempt uncounted (a stopping worker's); False when this
        worker no longer held it (it had finished, or its lease was lost)."""
        _, now = self._now()
        with self.transaction():
            return self._execute("UPDATE jobs SET state = 'pending', attempts = attempts - 1,"
                                 " lease_until = NULL, worker = NULL, updated_at = ?"
                                 " WHERE id = ? AND state = 'running' AND worker = ?",
                                 [now, job.id, job.worker]).rowcount == 1

    def replay(self, *, order: tuple[str, str] | None = None, job_id: int | None = None,
               key: str | None = None) -> list[int]:
        """Put failed jobs (of an order, by id or by key) back in the queue, attempts reset."""
        epoch, now = self._now()
        if order is not None:
            where, args = "instance_id = ? AND order_id = ?", list(order)
        elif job_id is not None:
            where, args = "id = ?", [job_id]
        else:
            where, args = "key = ?", [key]
        with self.transaction():
            rows = self._execute(f"UPDATE jobs SET state = 'pending', attempts = 0,"
                                 f" not_before = ?, worker = NULL, updated_at = ?"
                                 f" WHERE {where} AND state = 'failed' RETURNING id",
                                 [epoch, now, *args]).rows
            return sorted(r[0] for r in rows)

    def fail_pending_jobs(self, instance_id: str, kind: str, reason: str) -> list[Job]:
        """Fail the not-yet-running jobs of one kind for an instance; returns them."""
        _, now = self._now()
        with self.transaction():
            rows = self._execute(f"UPDATE jobs SET state = 'failed', last_error = ?,"
                                 f" updated_at = ? WHERE instance_id = ? AND kind = ?"
                                 f" AND state = 'pending' RETURNING {_JOB_COLUMNS}",
                                 [reason, now, instance_id, kind]).rows
            return sorted((job_from_row(r) for r in rows), key=lambda job: job.id)

    # Each adapter's count of the events no worker has given their job yet.
    _UNTAKEN_EVENTS: str

    def job_counts(self) -> dict[str, int]:
        """Jobs by state; events no worker has taken yet count as pending work too.

        Counts an index answers (open jobs, failed ones, untaken events): /healthz must not read
        every job ever done (a third of a second with 100,000 orders stored)."""
        counts = {state: count for state, count in self._execute(
            "SELECT state, count(*) FROM jobs WHERE state IN ('pending', 'running')"
            " GROUP BY state UNION ALL SELECT 'failed', count(*) FROM jobs WHERE state = 'failed'"
        ).rows if count}
        (untaken,) = self._execute(self._UNTAKEN_EVENTS).one()
        if untaken:
            counts[JobState.PENDING] = counts.get(JobState.PENDING, 0) + untaken
        return counts

    def snapshot(self, recent: int = 1000) -> Snapshot:
        def pairs(sql: str) -> dict:
            return {tuple(row[:-1]) if len(row) > 2 else row[0]: row[-1]
                    for row in self._execute(sql).rows}

        (events,) = self._execute("SELECT count(*) FROM events").one()
        open_jobs = self._execute("SELECT kind, state, count(*), min(created_at) FROM jobs"
                                  " WHERE state IN ('pending', 'running', 'failed')"
                                  " GROUP BY kind, state").rows
        return Snapshot(
            events=events,
            orders=pairs("SELECT state, coalesce(direction, 'exported'), count(*) FROM orders"
                         " GROUP BY state, coalesce(direction, 'exported')"),
            jobs={(kind, state): count for kind, state, count, _ in open_jobs},
            oldest_pending={kind: oldest for kind, state, _, oldest in open_jobs
                            if state == JobState.PENDING},
            attempts=pairs("SELECT j.kind, a.outcome, count(*) FROM attempts AS a"
                           " JOIN jobs AS j ON j.id = a.job_id GROUP BY j.kind, a.outcome"),
            recent_attempts=[tuple(r) for r in self._execute(
                "SELECT j.kind, a.started_at, a.finished_at FROM attempts AS a"
                " JOIN jobs AS j ON j.id = a.job_id ORDER BY a.id DESC LIMIT ?", [recent]).rows],
            imports=pairs("SELECT state, count(*) FROM imports GROUP BY state"),
            syncs=pairs("SELECT status, count(*) FROM syncs GROUP BY status"),
            status_updates=pairs("SELECT state, count(*) FROM status_updates GROUP BY state"),
        )

    # -- circuit breakers ------------------------------------------------------------------

    def breaker(self, destination: str) -> Breaker | None:
        row = self._execute(f"SELECT {_BREAKER_COLUMNS} FROM breakers WHERE destination = ?",
                            [destination]).one()
        return Breaker(*row) if row else None

    def count_breaker_failure(self, destination: str, error: str) -> Breaker:
        _, now = self._now()
        with self.transaction():
            row = self._execute(
                "INSERT INTO breakers (destination, state, failures, last_error, updated_at)"
                " VALUES (?, 'closed', 1, ?, ?) ON CONFLICT (destination) DO UPDATE"
                " SET failures = breakers.failures + 1, last_error = excluded.last_error,"
                " updated_at = excluded.updated_at"
                f" RETURNING {_BREAKER_COLUMNS}", [destination, error[:500], now]).one()
            return Breaker(*row)

    def open_breaker(self, destination: str, cooldown: float) -> None:
        epoch, now = self._now()
        with self.transaction():
            self._execute("UPDATE breakers SET state = 'open', cooldown = ?, open_until = ?,"
                          " opened_at = CASE WHEN state = 'closed' THEN ? ELSE opened_at END,"
                          " updated_at = ? WHERE destination = ?",
                          [cooldown, epoch + cooldown, now, now, destination])

    def take_probe(self, destination: str, hold_seconds: float) -> bool:
        epoch, now = self._now()
        with self.transaction():
            return self._execute(
                "UPDATE breakers SET state = 'probing', open_until = ?, updated_at = ?"
                " WHERE destination = ? AND state IN ('open', 'probing') AND open_until <= ?",
                [epoch + hold_seconds, now, destination, epoch]).rowcount == 1

    def close_breaker(self, destination: str) -> None:
        _, now = self._now()
        with self.transaction():
            self._execute("UPDATE breakers SET state = 'closed', failures = 0, cooldown = NULL,"
                          " open_until = NULL, opened_at = NULL, updated_at = ?"
                          " WHERE destination = ?", [now, destination])

    def breakers(self) -> list[Breaker]:
        rows = self._execute(f"SELECT {_BREAKER_COLUMNS} FROM breakers"
                             " WHERE state != 'closed' OR failures > 0 ORDER BY destination").rows
        return [Breaker(*row) for row in rows]

    # -- pacing calls to rate-limited APIs -------------------------------------------------

    def reserve_call(self, key: str, interval: float, burst: int) -> float:
        """A generic cell rate algorithm in one statement: `due` is when the booked calls
        would have run at the steady rate; a call may go `burst - 1` intervals before it."""
        epoch, _ = self._now()
        with self.transaction():
            (due,) = self._execute(
                "INSERT INTO pace (key, due) VALUES (?, ?) ON CONFLICT (key) DO UPDATE"
                " SET due = (CASE WHEN pace.due > ? THEN pace.due ELSE ? END) + ?"
                " RETURNING due", [key, epoch + interval, epoch, epoch, interval]).one()
        return max(0.0, due - interval * burst - epoch)

    # -- orders ----------------------------------------------------------------------------

    @staticmethod
    def _order(row) -> OrderRecord:
        values = list(row)
        values[6] = json.loads(values[6])
        return OrderRecord(*values)

    def get_order(self, instance_id: str, wix_order_id: str) -> OrderRecord | None:
        row = self._execute(f"SELECT {_ORDER_COLUMNS} FROM orders"
                            " WHERE instance_id = ? AND wix_order_id = ?",
                            [instance_id, wix_order_id]).one()
        return self._order(row) if row else None

    def orders_with_id(self, wix_order_id: str) -> list[OrderRecord]:
        rows = self._execute(f"SELECT {_ORDER_COLUMNS} FROM orders WHERE wix_order_id = ?"
                             " ORDER BY created_at", [wix_order_id]).rows
        return [self._order(r) for r in rows]

    def find_order_by_pos_id(self, pos_client: str, pos_order_id: str) -> OrderRecord | None:
        row = self._execute(f"SELECT {_ORDER_COLUMNS} FROM orders"
                            " WHERE pos_client = ? AND pos_order_id = ?",
                            [pos_client, pos_order_id]).one()
        return self._order(row) if row else None

    def find_orders_by_number(self, number: str) -> list[OrderRecord]:
        """Orders with this number, on any site (each site numbers its own orders)."""
        rows = self._execute(f"SELECT {_ORDER_COLUMNS} FROM orders WHERE number = ?"
                             " ORDER BY created_at", [number]).rows
        return [self._order(r) for r in rows]

    def save_order(self, *, wix_order_id: str, instance_id: str, state: str,
                   snapshot: dict[str, Any] | None = None, wix_status: str | None = None,
                   sequence: int | None = None, number: str | None = None,
                   direction: str | None = None, origin: str | None = None) -> None:
        """Insert or update an order; the snapshot is replaced only when given."""
        _, now = self._now()
        fresh = snapshot is not None
        with self.transaction():
            self._execute(
                "INSERT INTO orders (wix_order_id, instance_id, number, state, wix_status, sequence,"
                " snapshot, created_at, updated_at, direction, origin)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (instance_id, wix_order_id) DO UPDATE SET state = excluded.state,"
                "   number = coalesce(excluded.number, orders.number),"
                "   direction = coalesce(excluded.direction, orders.direction),"
                "   origin = coalesce(orders.origin, excluded.origin),"
                "   wix_status = coalesce(excluded.wix_status, orders.wix_status),"
                "   sequence = CASE WHEN ? THEN excluded.sequence ELSE orders.sequence END,"
                "   snapshot = CASE WHEN ? THEN excluded.snapshot ELSE orders.snapshot END,"
                "   updated_at = excluded.updated_at",
                [wix_order_id, instance_id, number, state, wix_status, sequence,
                 json.dumps(snapshot or {}), now, now, direction, origin, fresh, fresh])

    def set_order_state(self, instance_id: str, wix_order_id: str, state: str, *,
                        error: str | None = None, pos_client: str | None = None,
                        pos_order_id: str | None = None) -> None:
        _, now = self._now()
        with self.transaction():
            self._execute("UPDATE orders SET state = ?, last_error = ?,"
                          " pos_client = coalesce(?, pos_client),"
                          " pos_order_id = coalesce(?, pos_order_id), updated_at = ?"
                          " WHERE instance_id = ? AND wix_order_id = ?",
                          [state, error, pos_client, pos_order_id, now, instance_id,
                           wix_order_id])

    def set_order_statuses(self, instance_id: str, wix_order_id: str, *,
                           pos_status: str | None = None,
                           wix_fulfillment_status: str | None = None,
                           wix_fulfillment_id: str | None = None,
                           forget_fulfillment: bool = False) -> None:
        """Record what the POS reported and what Wix was told; None leaves a column as it is."""
        _, now = self._now()
        with self.transaction():
            self._execute("UPDATE orders SET pos_status = coalesce(?, pos_status),"
                          " wix_fulfillment_status = coalesce(?, wix_fulfillment_status),"
                          " wix_fulfillment_id = CASE WHEN ? THEN NULL"
                          "   ELSE coalesce(?, wix_fulfillment_id) END,"
                          " updated_at = ? WHERE instance_id = ? AND wix_order_id = ?",
                          [pos_status, wix_fulfillment_status, forget_fulfillment,
                           wix_fulfillment_id, now, instance_id, wix_order_id])

    def list_orders(self, state: str | None = None, limit: int = 50, *,
                    instance_id: str | None = None, direction: str | None = None
                    ) -> list[OrderRecord]:
        where, args = _filter(state=state, instance_id=instance_id)
        if direction is not None:  # rows older than imports have none: they were exported
            where += (" AND " if where else "WHERE ") + "coalesce(direction, ?) = ?"
            args += [Direction.EXPORTED.value, direction]
        rows = self._execute(f"SELECT {_ORDER_COLUMNS} FROM orders {where}"
                             " ORDER BY updated_at DESC LIMIT ?", [*args, limit]).rows
        return [self._order(r) for r in rows]

    # -- status updates --------------------------------------------------------------------

    def add_status_update(self, pos_client: str, pos_order_id: str, status: str,
                          occurred_at: str | None, callback_id: str | None,
                          sequence: int | None = None) -> int | None:
        """Store a reported status change; None when the same callback was stored before."""
        _, now = self._now()
        with self.transaction():
            row = self._execute(
                "INSERT INTO status_updates (pos_client, pos_order_id, status, occurred_at,"
                " callback_id, received_at, state, sequence)"
                " VALUES (?, ?, ?, ?, ?, ?, 'unmatched', ?) ON CONFLICT DO NOTHING RETURNING id",
                [pos_client, pos_order_id, status, occurred_at, callback_id, now, sequence]).one()
            return row[0] if row else None

    def newest_status_sequence(self, pos_client: str, pos_order_id: str) -> int | None:
        """The highest sequence reported so far for a POS order (stale reports are below it)."""
        row = self._execute("SELECT max(sequence) FROM status_updates"
                            " WHERE pos_client = ? AND pos_order_id = ? AND state != 'failed'",
                            [pos_client, pos_order_id]).one()
        return row[0] if row else None

    def get_status_update(self, update_id: int) -> StatusUpdate | None:
        row = self._execute(f"SELECT {_UPDATE_COLUMNS} FROM status_updates WHERE id = ?",
                            [update_id]).one()
        return StatusUpdate(*row) if row else None

    def unmatched_status_updates(self, pos_client: str, pos_order_id: str) -> list[StatusUpdate]:
        rows = self._execute(f"SELECT {_UPDATE_COLUMNS} FROM status_updates"
                             " WHERE pos_client = ? AND pos_order_id = ? AND state = 'unmatched'"
                             " ORDER BY id", [pos_client, pos_order_id]).rows
        return [StatusUpdate(*r) for r in rows]

    def set_status_update(self, update_id: int, state: str, *, note: str | None = None,
                          wix_order_id: str | None = None, status: str | None = None) -> None:
        with self.transaction():
            self._execute("UPDATE status_updates SET state = ?, note = ?,"
                          " wix_order_id = coalesce(?, wix_order_id), status = coalesce(?, status)"
                          " WHERE id = ?", [state, note, wix_order_id, status, update_id])

    def list_status_updates(self, state: str | None = None, limit: int = 50
                            ) -> list[StatusUpdate]:
        where, args = _filter(state=state)
        rows = self._execute(f"SELECT {_UPDATE_COLUMNS} FROM status_updates {where}"
                             " ORDER BY id DESC LIMIT ?", [*args, limit]).rows
        return [StatusUpdate(*r) for r in rows]

    def history(self, instance_id: str, wix_order_id: str) -> dict[str, list[dict[str, Any]]]:
        """Everything recorded about one order of a site, oldest first, for `bridge show`."""
        def rows(sql: str) -> list[dict[str, Any]]:
            return self._execute(sql, [instance_id, wix_order_id], named=True).dicts()

        return {
            "events": rows("SELECT id, event_type, sequence, event_time, received_at FROM events"
                           " WHERE instance_id = ? AND entity_id = ?"
                           f" ORDER BY received_at, {self._EVENT_ORDER}"),
            "jobs": rows("SELECT id, kind, state, attempts, last_error, created_at, updated_at"
                         " FROM jobs WHERE instance_id = ? AND order_id = ? ORDER BY id"),
            "attempts": rows("SELECT a.job_id, a.worker, a.started_at, a.finished_at, a.outcome,"
                             " a.error FROM attempts AS a JOIN jobs AS j ON j.id = a.job_id"
                             " WHERE j.instance_id = ? AND a.order_id = ? ORDER BY a.id"),
            # A POS order id is one order's under its POS's key: the reports matched to it.
            "status_updates": rows("SELECT u.id, u.status, u.sequence, u.occurred_at,"
                                   " u.received_at, u.state, u.note"
                                   " FROM status_updates AS u JOIN orders AS o"
                                   " ON o.pos_client = u.pos_client"
                                   " AND o.wix_order_id = u.wix_order_id"
                                   " WHERE o.instance_id = ? AND o.wix_order_id = ?"
                                   " ORDER BY u.id"),
            # An order taken at the POS: its import, and the attempts that brought it into Wix.
            "import": rows("SELECT id, pos_client, pos_order_id, state, error, created_at,"
                           " updated_at FROM imports WHERE instance_id = ? AND wix_order_id = ?"
                           " ORDER BY id"),
            "import_attempts": rows(
                "SELECT a.job_id, a.worker, a.started_at, a.finished_at, a.outcome, a.error"
                " FROM attempts AS a JOIN jobs AS j ON j.id = a.job_id"
                " JOIN imports AS i ON j.key = 'import:' || i.id"
                " WHERE i.instance_id = ? AND i.wix_order_id = ? ORDER BY a.id"),
        }


def _filter(**equal: Any) -> tuple[str, list[Any]]:
    """A WHERE clause of `column = ?` for each value given (None or empty: no condition)."""
    given = {column: value for column, value in equal.items() if value}
    if not given:
        return "", []
    return "WHERE " + " AND ".join(f"{column} = ?" for column in given), list(given.values())
