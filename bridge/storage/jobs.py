"""Durable work: jobs, their attempts, the circuit breakers of the destinations they call,
the pace of calls to rate-limited APIs, and the counts the operator's metrics read."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Callable, Collection, Protocol, Sequence

from bridge.storage.common import SqlBase, iso


class JobState(StrEnum):
    PENDING = "pending"    # waiting until its not_before
    RUNNING = "running"    # claimed under a lease
    DONE = "done"
    FAILED = "failed"      # given up on; kept with its last error, replayable


class Outcome(StrEnum):
    """How an attempt at a job ended (`JobQueue.finish`)."""
    DONE = "done"          # -> done
    RETRY = "retry"        # -> pending after a delay, the attempt counted
    FAILED = "failed"      # -> failed
    WAIT = "wait"          # -> pending after a delay, the attempt handed back uncounted


class BreakerState(StrEnum):
    CLOSED = "closed"      # calls go
    OPEN = "open"          # the destination's jobs wait until open_until
    PROBING = "probing"    # one job is trying whether it answers again


@dataclass(frozen=True)
class NewJob:
    """A job to add. `key` makes adding idempotent; jobs sharing a `lane` run one at a time,
    in the order they were added. `destination`: the outside system the job calls (a site's
    POS account), whose share of the workers is bounded and whose circuit breaker it obeys;
    None for work that stays in the bridge."""
    kind: str
    key: str
    lane: str
    instance_id: str | None = None
    order_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    destination: str | None = None


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
    destination: str | None = None


@dataclass(frozen=True)
class Breaker:
    """A destination's circuit breaker (`BreakerState`); `open_until` is in epoch seconds."""
    destination: str
    state: str
    failures: int                 # connection failures and timeouts in a row
    cooldown: float | None        # how long it stays open this time
    open_until: float | None
    opened_at: str | None
    last_error: str | None


class JobQueue(Protocol):
    clock: Callable[[], float]

    def enqueue(self, job: NewJob, *, delay: float = 0.0) -> bool:
        """Add a job unless one with the same key exists; True when added."""

    def claim(self, worker: str, lease_seconds: float, *, avoid: Collection[str] = ()
              ) -> Job | None:
        """Take the oldest ready job whose lane has nothing earlier still open, under a lease.
        Jobs bound for a destination in `avoid`, or whose breaker is open, are left waiting."""

    def get_job(self, job_id: int) -> Job | None: ...

    def job_by_key(self, key: str) -> Job | None: ...

    def finish(self, job: Job, outcome: str, *, error: str | None = None, delay: float = 0.0,
               started: float | None = None) -> bool:
        """`done`, `retry`, `failed` or `wait`; False when the lease was lost."""

    def release(self, job: Job) -> bool:
        """Hand a claimed job back, uncounted; False when this worker no longer held it."""

    def replay(self, *, order: tuple[str, str] | None = None, job_id: int | None = None,
               key: str | None = None) -> list[int]:
        """Failed jobs back in the queue: an order's (`order`: its site and Wix id), one by id,
        or one by key."""

    def fail_pending_jobs(self, instance_id: str, kind: str, reason: str) -> list[Job]: ...

    def job_counts(self) -> dict[str, int]: ...


class Breakers(Protocol):
    def breaker(self, destination: str) -> Breaker | None: ...

    def count_breaker_failure(self, destination: str, error: str) -> Breaker:
        """One more connection failure or timeout in a row; the breaker as it is now."""

    def open_breaker(self, destination: str, cooldown: float) -> None: ...

    def take_probe(self, destination: str, hold_seconds: float) -> bool:
        """Of the workers finding an open breaker's time up, True for the one that may try the
        destination again; the others are held off for `hold_seconds` (the probe's deadline)."""

    def close_breaker(self, destination: str) -> None: ...

    def breakers(self) -> list[Breaker]:
        """Every breaker not plainly closed (open, probing, or counting failures)."""


class Pace(Protocol):
    def reserve_call(self, key: str, interval: float, burst: int) -> float:
        """Book the next call to a rate-limited API (one each `interval` seconds, up to `burst`
        at once), shared by every process on this database; the seconds to wait before it."""


@dataclass(frozen=True)
class Snapshot:
    """Counts for the operator's metrics, read in one go (`Store.snapshot`)."""
    events: int                                            # every verified webhook stored
    orders: dict[tuple[str, str], int]                     # (state, direction) -> orders
    jobs: dict[tuple[str, str], int]                       # (kind, state) -> open or failed jobs
    oldest_pending: dict[str, str]                         # kind -> oldest pending job's creation
    attempts: dict[tuple[str, str], int]                   # (kind, outcome) -> attempts ever
    recent_attempts: list[tuple[str, str, str]]            # (kind, started, finished), newest
    imports: dict[str, int]
    syncs: dict[str, int]
    status_updates: dict[str, int]


class Metrics(Protocol):
    def snapshot(self, recent: int = 1000) -> Snapshot:
        """Counts by state, and the last `recent` attempts' times (for call latencies)."""


# The state a job is left in by each attempt outcome.
_STATE_AFTER = {Outcome.DONE: JobState.DONE, Outcome.RETRY: JobState.PENDING,
                Outcome.FAILED: JobState.FAILED, Outcome.WAIT: JobState.PENDING}


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


_BREAKER_COLUMNS = ("destination, state, failures, cooldown, open_until, opened_at, last_error")


def job_row(job: NewJob, not_before: float, now: str) -> tuple:
    """INSERT_JOB's parameters for one job."""
    return (job.kind, job.key, job.lane, job.instance_id, job.order_id, json.dumps(job.payload),
            not_before, now, now, job.destination)


def job_from_row(row: Sequence[Any]) -> Job:
    return Job(*row[:6], json.loads(row[6] or "{}"), *row[7:])


class JobsSql(SqlBase):
    """Jobs, attempts, breakers and pacing; claiming is each adapter's own."""

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

    def job_by_key(self, key: str) -> Job | None:
        row = self._execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE key = ?", [key]).one()
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
