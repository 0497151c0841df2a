"""The worker: the one place where work is claimed, done, retried and given up on.

Each job is claimed under a lease (a killed worker's job is taken up again once it expires), run by
the handler for its kind, and finished as done, retried after a tenacity backoff, or failed (kept,
with its last error, replayable). A stop request lets the job in hand finish; nothing new is claimed.

A process runs a crew of workers, one thread each, so that while some wait on a slow POS the
others go on. Three things keep one site's POS from holding up another's: the crew's bulkhead
(each destination holds at most `per_destination` of its workers: a claim passes over a full
one's jobs), the destination's circuit breaker (`breakers`), and the attempt's deadline
(`bridge.timeouts`). No database connection is held while a job waits on a destination.
"""
from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Mapping, Protocol

import tenacity

from bridge import logs, timeouts
from bridge.service.breakers import Breakers, Policy
from bridge.service.outcomes import Fail, Retry, Unreachable, Wait
from bridge.storage.port import Job, Outcome, Store, StoreUnavailable

log = logging.getLogger(__name__)

# How long a worker sleeps when another one polls: it is woken as soon as there is work.
ASLEEP_POLL_SECONDS = 1.0


class Handler(Protocol):
    def run(self, job: Job) -> None:
        """Do the job. Raise Retry or Fail; any other exception counts as Retry (and is logged)."""

    def failed(self, job: Job, reason: str, cause: str | None = None) -> None:
        """The job is given up on: make that visible on what it was about (e.g. the order).
        `cause`: the `Fail`'s, when it said one."""


def default_wait(max_seconds: float) -> tenacity.wait.wait_base:
    return tenacity.wait_exponential_jitter(multiplier=2, max=max_seconds, jitter=2)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


class Bulkhead:
    """How many of a crew's workers each destination holds now. A claim passes over the full
    ones; claims run side by side (the database keeps two from taking one job), so one may
    fill up while a claim is under way: `take` then says no, and the job is handed back.

    Claims were once made one at a time, under this lock, so that two could never both take a
    destination's last place: in a burst the lock was held 80 % of the time, and claims, four
    round trips each, set the pace of the whole crew."""

    def __init__(self, per_destination: int):
        self.per_destination = per_destination
        self._held: Counter[str] = Counter()
        self._lock = threading.Lock()

    def full(self) -> list[str]:
        with self._lock:
            return [d for d, held in self._held.items() if held >= self.per_destination]

    def take(self, job: Job) -> bool:
        """Hold a place for the job's destination; False when it has none left."""
        if not job.destination:
            return True
        with self._lock:
            if self._held[job.destination] >= self.per_destination:
                return False
            self._held[job.destination] += 1
            return True

    def release(self, job: Job) -> None:
        if job.destination:
            with self._lock:
                self._held[job.destination] -= 1
                if self._held[job.destination] <= 0:
                    del self._held[job.destination]


@dataclass(frozen=True)
class Limits:
    """How long an attempt may take, and how much of a crew one destination may hold."""
    deadline_seconds: float = 20.0
    connect_seconds: float = timeouts.CONNECT_SECONDS
    per_destination: int = 4
    breaker: Policy = Policy()


class Worker:
    def __init__(self, store: Store, handlers: Mapping[str, Handler], *, max_attempts: int,
                 lease_seconds: float, wait: Callable[[tenacity.RetryCallState], float],
                 poll_seconds: float = 0.05, idle_poll_seconds: float = 0.1,
                 name: str | None = None, limits: Limits = Limits(),
                 bulkhead: Bulkhead | None = None):
        self.store = store
        self.handlers = handlers
        self.max_attempts = max_attempts
        self.lease_seconds = lease_seconds
        self.wait = wait
        self.poll_seconds = poll_seconds
        self.idle_poll_seconds = idle_poll_seconds
        self.name = name or worker_name()
        self.limits = limits
        self.bulkhead = bulkhead or Bulkhead(limits.per_destination)
        self.breakers = Breakers(store, limits.breaker)
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.current: Job | None = None  # the job in hand, for a crew that must hand it back
        # In a crew only one worker polls: the first that is not busy. The others sleep until
        # woken (by a notice of new work, or by a sibling that found some), so 32 threads do not
        # make 32 empty claims, and a poller stuck on a slow POS does not stop the polling.
        self.another_polls: Callable[[], bool] = lambda: False
        self.waiting = False
        self.found_work: Callable[[], None] | None = None

    def backoff(self, attempt: int) -> float:
        state = tenacity.RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = attempt
        return float(self.wait(state))

    def run_once(self) -> bool:
        """Claim and run one job; False when nothing was ready."""
        job = self.store.claim(self.name, self.lease_seconds, avoid=self.bulkhead.full())
        if job is None:
            return False
        if not self.bulkhead.take(job):  # its destination filled up during the claim
            self.store.release(job)
            logs.info(log, "job_handed_back", job=job.id, kind=job.kind, order_id=job.order_id,
                      reason="destination_full")
            return True  # look again at once, passing over that destination
        try:
            if self.stopping.is_set():
                self.store.release(job)
                return False
            self.current = job
            if job.destination is None:
                with self.store.session():  # local work: keep one connection throughout
                    self._run(job)
            else:
                self._run(job)  # each store call takes a connection only while it needs one
            return True
        finally:
            self.current = None
            self.bulkhead.release(job)

    def run(self) -> None:
        """Work until `stop()`; between empty looks, sleep briefly (or until woken)."""
        logs.info(log, "worker_started", worker=self.name)
        idle = 0
        database_down = False
        while not self.stopping.is_set():
            self.wake.clear()  # before looking: a wake that comes while looking is kept
            try:
                worked = self.run_once()
                if database_down:
                    database_down = False
                    logs.info(log, "worker_database_back", worker=self.name)
            except StoreUnavailable as error:  # down or restarting: wait for it, say so once
                if not database_down:
                    database_down = True
                    logs.warning(log, "worker_waiting_for_database", worker=self.name,
                                 reason=str(error))
                worked = False
                self.stopping.wait(1.0)
            except Exception:  # the database itself failed: keep the worker alive, retry soon
                log.exception("%s", logs.fields("worker_error", worker=self.name))
                worked = False
                self.stopping.wait(1.0)
            if worked:
                idle = 0
                if self.found_work:
                    self.found_work()  # there may be more: a sleeping sibling looks too
                continue
            idle += 1
            # Poll fast right after work (bursts come together), slower once quiet.
            if self.another_polls():  # sleep until woken; the backstop is slow
                timeout = max(self.idle_poll_seconds, ASLEEP_POLL_SECONDS)
            else:
                timeout = self.poll_seconds if idle < 20 else self.idle_poll_seconds
            self.waiting = True
            self.wake.wait(timeout)
            self.waiting = False
        logs.info(log, "worker_stopped", worker=self.name)

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    def drain(self, deadline_seconds: float = 30.0) -> int:
        """Run jobs until none is ready (for tests and the CLI's one-shot mode)."""
        done = 0
        end = time.monotonic() + deadline_seconds
        while time.monotonic() < end and self.run_once():
            done += 1
        return done

    def _run(self, job: Job) -> None:
        handler = self.handlers.get(job.kind)
        started = self.store.clock()
        if handler is None:
            self._give_up(job, None, f"no handler for job kind {job.kind!r}", started)
            return
        if job.attempts > self.max_attempts:
            # Claimed again after its workers died mid-attempt more often than allowed.
            self._give_up(job, handler, f"abandoned by a worker {job.attempts - 1} time(s)", started)
            return
        admission = self.breakers.admit(job.destination) if job.destination else None
        if admission and admission.hold is not None:
            self.store.finish(job, Outcome.WAIT, error=f"{job.destination} is not answering: its "
                              "circuit breaker is open", delay=admission.hold, started=started)
            return
        try:
            with timeouts.attempt(self.limits.deadline_seconds, self.limits.connect_seconds):
                handler.run(job)
        except (Unreachable, timeouts.DeadlineExceeded) as error:
            self._unreachable(job, handler, admission, str(error), started)
            return
        except Fail as error:
            self._give_up(job, handler, str(error), started, error.cause)
        except Retry as error:
            self._retry(job, handler, str(error), started, error.after)
        except Wait as error:
            self.store.finish(job, Outcome.WAIT, error=str(error), delay=error.seconds, started=started)
            logs.info(log, "job_waiting", job=job.id, kind=job.kind, order_id=job.order_id,
                      recheck_in_s=error.seconds, reason=str(error))
        except Exception as error:
            log.exception("%s", logs.fields("job_crashed", job=job.id, kind=job.kind,
                                            order_id=job.order_id))
            self._retry(job, handler, f"{type(error).__name__}: {error}", started, None)
        else:
            if not self.store.finish(job, Outcome.DONE, started=started):
                logs.warning(log, "job_lease_lost", job=job.id, kind=job.kind, order_id=job.order_id)
        if admission is not None:
            self.breakers.answered(job.destination, admission)

    def _unreachable(self, job: Job, handler: Handler, admission, reason: str,
                     started: float) -> None:
        """Counted toward the breaker; once it is open the job waits, its attempt handed back."""
        hold = (self.breakers.unreachable(job.destination, admission, reason)
                if admission is not None else None)  # admitted: bound for a destination
        if hold is None:
            self._retry(job, handler, reason, started, None)
            return
        self.store.finish(job, Outcome.WAIT, error=f"{reason} (circuit breaker open)", delay=hold,
                          started=started)
        logs.info(log, "job_held", job=job.id, kind=job.kind, order_id=job.order_id,
                  destination=job.destination, recheck_in_s=round(hold, 1))

    def _retry(self, job: Job, handler: Handler, reason: str, started: float,
               after: float | None) -> None:
        if job.attempts >= self.max_attempts:
            self._give_up(job, handler, f"gave up after {job.attempts} attempts: {reason}", started)
            return
        delay = max(self.backoff(job.attempts), after or 0.0)
        self.store.finish(job, Outcome.RETRY, error=reason, delay=delay, started=started)
        logs.warning(log, "job_retry", job=job.id, kind=job.kind, order_id=job.order_id,
                     attempt=job.attempts, retry_in_s=round(delay, 2), reason=reason)

    def _give_up(self, job: Job, handler: Handler | None, reason: str, started: float,
                 cause: str | None = None) -> None:
        with self.store.transaction():
            if self.store.finish(job, Outcome.FAILED, error=reason, started=started) and handler:
                handler.failed(job, reason, cause)
        logs.error(log, "job_failed", job=job.id, kind=job.kind, order_id=job.order_id,
                   attempts=job.attempts, reason=reason)


class Crew:
    """A process's workers, one thread each: started together, stopped together.

    Stopping (SIGTERM) lets every job in hand finish within the grace period; a job still running
    after it is handed back to the queue, uncounted, for another worker to take up. It is sent
    again under the same idempotency key, so the POS keeps one order."""

    def __init__(self, workers: list[Worker]):
        self.workers = workers
        self._threads: list[threading.Thread] = []
        for i, worker in enumerate(workers):
            worker.found_work = self.wake
            worker.another_polls = functools.partial(self._polling_before, i)

    def _polling_before(self, index: int) -> bool:
        """Whether a worker ahead of this one is idle, and so the one that polls."""
        return any(worker.waiting for worker in self.workers[:index])

    def start(self) -> None:
        for i, worker in enumerate(self.workers):
            thread = threading.Thread(target=worker.run, name=f"bridge-worker-{i}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def wake(self) -> None:
        """New work, or a worker found some: wake one sleeping worker, who wakes the next if it
        finds work too. A burst fans out over the crew; a single job wakes one thread, not all."""
        for worker in self.workers:
            if worker.waiting and not worker.wake.is_set():
                worker.wake.set()
                return
        self.workers[0].wake.set()  # none asleep yet: the first looks again when it is done

    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def stop(self, grace_seconds: float) -> None:
        for worker in self.workers:
            worker.stop()
        end = time.monotonic() + grace_seconds
        for thread in self._threads:
            thread.join(max(0.0, end - time.monotonic()))
        for worker in self.workers:
            job = worker.current
            if job is None:
                continue
            try:
                if not worker.store.release(job):
                    continue  # it finished just now
            except Exception:  # the database is gone too: the lease hands it back later
                log.exception("%s", logs.fields("job_release_failed", job=job.id))
                continue
            logs.warning(log, "job_released", job=job.id, kind=job.kind, order_id=job.order_id,
                         worker=worker.name, grace_s=grace_seconds)
