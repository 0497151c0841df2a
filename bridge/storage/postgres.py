"""The PostgreSQL adapter: many web and worker processes, on many machines, share one database.

Correct under concurrency by design:
- Workers claim with `SELECT ... FOR UPDATE SKIP LOCKED`: two never take the same job, and none
  waits for another.
- A webhook's transaction inserts one event row and nothing else, so it never waits on a lock a
  worker holds. The inbox does not trust `seq` to grow in commit order (see postgres_schema):
  each event is marked when it is given its job, so one that commits late is taken later, never
  skipped. One worker at a time takes events (under an advisory lock).
- Jobs of one lane run in id order, so ids in a lane must be handed out in commit order: adding a
  job takes a transaction-scoped advisory lock on its lane first.
- Work once committed is announced with `NOTIFY` in a transaction of its own (a commit that
  notifies holds a server-wide lock until it is on disk: see postgres_notifier);
  idle workers `LISTEN` and wake at once (a slow poll stays as the backstop). Migrations run
  under an advisory lock, once, however many processes start together.

Connections come from a `psycopg_pool` pool, checked before use, so a database that restarted
costs no request more than it must. Any failure to reach the database is `StoreUnavailable`.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Collection, Iterator, Sequence

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from bridge import logs
from bridge.storage.port import (EventJob, Job, NewJob, Outcome, StoredEvent,
                                 StoreUnavailable, iso)
from bridge.storage.postgres_notifier import Notifier
from bridge.storage.postgres_schema import MIGRATIONS
from bridge.storage.sql import FINISH_JOB, INSERT_EVENT, Result, SqlStore

log = logging.getLogger(__name__)

# The workers' channel is per schema: bridges sharing one database in schemas of their own (a
# concurrent test run, a staging copy) wake only their own workers.
CHANNEL = "'bridge_work.' || coalesce(current_schema(), '')"
# Advisory lock keys, (class, id): one class for lanes (id = hash of the lane), one per singleton.
_LANE_LOCKS, _INBOX_LOCK, _MIGRATION_LOCK, _KEY_LOCKS = 7301, (7302, 0), (7303, 0), 7304
_TAKE_AT_ONCE = 200
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "")
CONNECT_TIMEOUT_SECONDS = 5
CHECKOUT_TIMEOUT_SECONDS = 3  # a request waits this long for a connection, then answers 503
# What makes the database unusable for now, not a statement wrong: down, unreachable, restarting,
# or answering but refusing writes (a read-only server, a full disk, a plan over its row limit).
UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError,
               psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientResources,
               psycopg.errors.InsufficientPrivilege)

# The pool retries a lost connection with a doubling backoff for this long, then starts afresh at
# the next request: a database back after a long outage is found within seconds, not minutes.
RECONNECT_SECONDS = 5
# A connection taken from the pool is checked (a round trip) only when it has sat unused this
# long: one just returned was just proven, and checking every one cost each webhook a round
# trip; one left idle may have died with a database restart.
CHECK_AFTER_IDLE_SECONDS = 2.0


def mark_returned(conn: psycopg.Connection) -> None:
    conn.bridge_returned_at = time.monotonic()  # type: ignore[union-attr]


def idle_too_long(conn: psycopg.Connection) -> bool:
    """Whether a connection taken from a pool must be checked before use."""
    return time.monotonic() - getattr(conn, "bridge_returned_at", 0.0) > CHECK_AFTER_IDLE_SECONDS


def kept_cursor(conn: psycopg.Connection) -> Any:
    """The connection's one cursor, kept: a new one per statement copied the connection's
    adapters each time (a connection serves one caller at a time, so does its cursor)."""
    cursor = getattr(conn, "bridge_cursor", None)
    if cursor is None or cursor.closed:
        cursor = conn.bridge_cursor = conn.cursor()  # type: ignore[union-attr]
    return cursor


def _check_if_idle(conn: psycopg.Connection) -> None:
    if idle_too_long(conn):
        ConnectionPool.check_connection(conn)


def conninfo(url: str) -> str:
    """The libpq connection string for a `postgres://` or `postgresql://` URL.

    `sslmode` is `require` unless the URL says otherwise or the host is this machine (Heroku
    Postgres refuses plain connections). Raises ValueError, without the password, when malformed.
    """
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    authority = re.split(r"[/?]", url.partition("://")[2], maxsplit=1)[0]
    if authority.count("@") > 1:  # libpq would take part of the password for the host
        raise ValueError(f"the password holds an @ not written as %40 ({redact(url)})")
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as error:
        # libpq's message may quote the password (a bad %-escape in it): only its kind is said.
        kind = str(error).split(":", 1)[0].strip() or "unreadable"
        raise ValueError(f"{kind} ({redact(url)})") from None
    host = str(params.get("host", ""))
    if "sslmode" not in params and not (host in LOCAL_HOSTS or host.startswith("/")):
        params["sslmode"] = "require"
    params.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
    params.setdefault("application_name", "bridge")
    return make_conninfo(**params)


def redact(url: str) -> str:
    """The URL with any password (in its credentials, or a `password=` parameter) replaced by
    `***`, for messages and logs."""
    url = re.sub(r"([?&]password=)[^&]*", r"\1***", url)
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if not sep or "@" not in authority:
        return url
    credentials, at, host = authority.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}{':***' if ':' in credentials else ''}@{host}{slash}{path}"


class PostgresStore(SqlStore):
    _EVENT_ORDER = "seq"
    _UNTAKEN_EVENTS = "SELECT count(*) FROM events WHERE NOT taken"

    def __init__(self, url: str, *, pool_size: int = 1, clock: Callable[[], float] = time.time,
                 event_job: EventJob | None = None):
        super().__init__(clock=clock, event_job=event_job)
        self.url = redact(url)
        self.conninfo = conninfo(url)
        self._pool = ConnectionPool(self.conninfo, min_size=1, max_size=max(pool_size, 1),
                                    open=False, kwargs={"autocommit": True},
                                    check=_check_if_idle,
                                    timeout=CHECKOUT_TIMEOUT_SECONDS,
                                    reconnect_timeout=RECONNECT_SECONDS,
                                    reconnect_failed=lambda pool: None, name="bridge")
        self._opened = False
        self._open_lock = threading.Lock()
        self._local = threading.local()
        self._sql: dict[str, str] = {}
        self._closing = threading.Event()
        self._notifier = Notifier(self._connection, CHANNEL)

    def describe(self) -> str:
        return self.url

    # -- connections and transactions ------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; whatever keeps it from the database becomes StoreUnavailable."""
        if not self._opened:
            with self._open_lock:
                if not self._opened:
                    self._pool.open(wait=False)
                    self._opened = True
        try:
            conn = self._pool.getconn()
        except PoolTimeout:
            raise StoreUnavailable(self._unavailable(self._why_no_connection())) from None
        except UNAVAILABLE as error:
            raise StoreUnavailable(self._unavailable(error)) from None
        # getconn/putconn rather than the pool's `connection()`: that one also enters the
        # connection's own block, whose exit commits, a call through psycopg's wait machinery
        # even in autocommit, where there is nothing to commit. On its way back the pool rolls
        # back a transaction left open, and drops a connection that broke.
        try:
            yield conn
        except UNAVAILABLE as error:
            raise StoreUnavailable(self._unavailable(error)) from None
        finally:
            # Here, not as the pool's `reset`: the pool runs that on a thread of its own, a
            # handoff between threads each time a connection comes back.
            mark_returned(conn)
            self._pool.putconn(conn)

    def _why_no_connection(self) -> Exception:
        """The pool only says it waited in vain; one direct attempt says why (refused, unknown
        host, bad password...). It runs only when the request is failing anyway."""
        try:
            psycopg.connect(self.conninfo, connect_timeout=2).close()
        except psycopg.Error as error:
            return error
        return PoolTimeout(f"every connection of this process was busy for "
                           f"{CHECKOUT_TIMEOUT_SECONDS} s")

    def _unavailable(self, error: Exception) -> str:
        reason = " ".join(str(error).split()) or type(error).__name__
        return f"PostgreSQL at {self.url} is unavailable: {reason}"

    @contextmanager
    def session(self) -> Iterator[None]:
        """Keep one connection for this thread until the block ends: a worker's job makes some
        twenty statements, and taking each one's connection from the pool cost a round trip."""
        if getattr(self._local, "session", None) is not None:
            yield
            return
        with self._connection() as conn:
            self._local.session = conn
            try:
                yield
            finally:
                self._local.session = None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        self._local.added_work = False
        with self.session(), self._local.session.transaction():
            self._local.conn = self._local.session
            try:
                yield
            finally:
                self._local.conn = None
        if self._local.added_work:  # committed: only now can a worker see it
            self._notifier.soon()

    def _added_work(self) -> None:
        """Work for the workers was stored: they are told once it is committed (see
        postgres_notifier for why not by a NOTIFY in the transaction itself)."""
        if getattr(self._local, "conn", None) is not None:
            self._local.added_work = True
        else:
            self._notifier.soon()

    def _statement(self, sql: str) -> str:
        """The shared statements are written with `?`; psycopg takes `%s`."""
        translated = self._sql.get(sql)
        if translated is None:
            translated = self._sql[sql] = sql.replace("?", "%s")
        return translated

    def _execute(self, sql: str, params: Sequence[Any] = (), *, named: bool = False) -> Result:
        conn = getattr(self._local, "conn", None) or getattr(self._local, "session", None)
        if conn is not None:
            return self._run(conn, sql, params, named)
        with self._connection() as conn:
            return self._run(conn, sql, params, named)

    def _run(self, conn: psycopg.Connection, sql: str, params: Sequence[Any],
             named: bool) -> Result:
        cursor = kept_cursor(conn)
        cursor.execute(self._statement(sql), params)
        result = cursor.pgresult
        rows = cursor.fetchall() if result is not None and result.nfields else []
        columns = tuple(d.name for d in cursor.description or ()) if named else ()
        return Result(rows, cursor.rowcount, columns)

    def _executemany(self, sql: str, rows: list[Sequence[Any]]) -> None:
        with self.transaction():
            self._local.conn.cursor().executemany(self._statement(sql), rows)

    def close(self) -> None:
        self._closing.set()
        self._notifier.close()
        if self._opened:
            self._pool.close()
            self._opened = False

    # -- schema ----------------------------------------------------------------------------

    def migrate(self) -> list[str]:
        """Apply pending migrations, under an advisory lock: one migrator at a time, each once."""
        with self.transaction():
            self._execute("SELECT pg_advisory_xact_lock(?, ?)", _MIGRATION_LOCK)
            self._execute("CREATE TABLE IF NOT EXISTS bridge_migrations"
                          " (name text PRIMARY KEY, applied_at text NOT NULL)")
            done = {row[0] for row in self._execute("SELECT name FROM bridge_migrations").rows}
            applied = []
            for name, statements in MIGRATIONS:
                if name in done:
                    continue
                for statement in statements:
                    self._execute(statement)
                self._execute("INSERT INTO bridge_migrations (name, applied_at) VALUES (?, ?)",
                              [name, iso(self.clock())])
                applied.append(name)
            return applied

    def pending_migrations(self) -> list[str]:
        (table,) = self._execute("SELECT to_regclass('bridge_migrations')").one()
        done = ({row[0] for row in self._execute("SELECT name FROM bridge_migrations").rows}
                if table else set())
        return [name for name, _ in MIGRATIONS if name not in done]

    # -- the inbox -------------------------------------------------------------------------

    def record_event(self, event: StoredEvent) -> bool:
        """One statement on the request's own connection, committed at once; a new event is
        then announced to the workers by the process's notifier.

        Unlike SQLite, with its one write lock, PostgreSQL needs no batching in this process:
        concurrent commits share their flushes of the log on the server. Batching here as well
        (one thread writing for the others) cost more in thread handoffs than it saved: 13.8
        context switches a webhook against 8-9, and a quarter less intake."""
        _, now = self._now()
        stored = self._execute(INSERT_EVENT, self._event_row(event, now)).rowcount == 1
        if stored:
            self._added_work()
        return stored

    def _take_new_events(self) -> None:
        """Give untaken events their jobs, oldest first, one worker at a time.

        Called when there are any: a worker waits (milliseconds) for another that is taking
        them, and afterwards sees the jobs that one made, so no worker goes idle beside work.
        """
        self._execute("SELECT pg_advisory_xact_lock(?, ?)", _INBOX_LOCK)
        epoch, now = self._now()
        taken = self._execute(
            # By id, the primary key: `seq` has an index only among the untaken, and matching
            # on it scanned every stored event (15 ms a claim with 30,000 orders stored).
            "UPDATE events SET taken = true WHERE id IN (SELECT id FROM events WHERE NOT taken"
            " ORDER BY seq LIMIT ?) RETURNING seq, id, instance_id, order_id",
            [_TAKE_AT_ONCE]).rows
        if taken:
            self._jobs_for_events([row[1:] for row in sorted(taken)], epoch, now)
            self._added_work()  # other idle workers: there may be more than this one can take

    # -- jobs ------------------------------------------------------------------------------

    def _added_job(self, job: NewJob) -> None:
        self._execute(f"SELECT pg_advisory_xact_lock({_LANE_LOCKS}, hashtext(?))", [job.lane])
        self._added_work()

    _FINISH_AND_RECORD = (f"WITH finished AS ({FINISH_JOB} RETURNING id, order_id, worker),"
                          " attempt AS (INSERT INTO attempts (job_id, order_id, worker,"
                          "   started_at, finished_at, outcome, error)"
                          "   SELECT id, order_id, worker, ?, ?, ?, ? FROM finished)"
                          " SELECT count(*) FROM finished")

    def finish(self, job: Job, outcome: str, *, error: str | None = None, delay: float = 0.0,
               started: float | None = None) -> bool:
        """As SqlStore.finish, in one statement: one round trip instead of four."""
        if outcome == Outcome.WAIT:
            return super().finish(job, outcome, error=error, delay=delay, started=started)
        epoch, now = self._now()
        result = self._execute(self._FINISH_AND_RECORD, [
            *self._finish_params(job, outcome, error, delay, epoch, now),
            iso(started or epoch), now, outcome, error])
        return result.one()[0] == 1

    def lock_keys(self, *keys: str) -> None:
        """Locks taken in sorted order, so two transactions never wait on each other's."""
        self._execute("SELECT " + ", ".join(f"pg_advisory_xact_lock({_KEY_LOCKS}, hashtext(?))"
                                            for _ in keys), sorted(keys))

    def claim(self, worker: str, lease_seconds: float, *, avoid: Collection[str] = ()):
        with self.transaction():
            # One round trip: are there events to take, and this transaction's settings. Walk
            # the open-jobs index in order and stop at the first claimable row whatever the
            # statistics say (sorting every waiting job first made a burst's claims slow). And
            # commit without waiting for the disk: a claim a database crash forgets is taken
            # again, with the same idempotency key, as after a lease expiry; never lost.
            (waiting, _, _) = self._execute(
                "SELECT EXISTS (SELECT 1 FROM events WHERE NOT taken),"
                " set_config('enable_sort', 'off', true),"
                " set_config('synchronous_commit', 'off', true)").one()
            if waiting and self.event_job is not None:
                self._take_new_events()
            # The clock is read after any wait for the inbox: jobs another worker made meanwhile
            # are stamped later than a clock read before waiting, and would not look due yet.
            return self._claim_ready(worker, lease_seconds, avoid,
                                     lock=" FOR UPDATE OF j SKIP LOCKED")

    # -- waking workers --------------------------------------------------------------------

    def on_new_work(self, wake: Callable[[], None]) -> bool:
        """LISTEN on a connection of its own (outside the pool), calling `wake` on each NOTIFY
        and once after every (re)connection, for what was stored while it was not listening."""
        threading.Thread(target=self._listen, args=(wake,), name="bridge-listen",
                         daemon=True).start()
        return True

    def _listen(self, wake: Callable[[], None]) -> None:
        said = False  # one line per outage: the worker says the rest
        while not self._closing.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    (channel,) = conn.execute(f"SELECT {CHANNEL}").fetchone()
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    said = False
                    wake()
                    while not self._closing.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            wake()
            except psycopg.Error as error:
                if not said and not self._closing.is_set():
                    logs.warning(log, "listen_failed", reason=self._unavailable(error))
                    said = True
                self._closing.wait(1.0)
