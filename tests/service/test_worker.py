"""The worker on its own: a real store, handlers the test writes, time the test moves."""
import logging
import threading
import time

import pytest

from bridge.service.breakers import Breakers, Policy
from bridge.service.outcomes import Fail, Retry, Wait
from bridge.service.worker import Bulkhead, Worker
from bridge.storage import open_store
from bridge.storage.port import Job, NewJob
from tests.at_once import AtOnce


class Handler:
    """Does what the test tells it to, and remembers what it was asked."""

    def __init__(self, outcome=None):
        self.outcome = outcome
        self.ran: list[int] = []
        self.given_up: list[tuple[int, str]] = []

    def run(self, job):
        self.ran.append(job.id)
        if callable(self.outcome):
            self.outcome(job)
        elif self.outcome is not None:
            raise self.outcome

    def failed(self, job, reason, cause=None):
        self.given_up.append((job.id, reason))


@pytest.fixture
def store(database_url, clock):
    opened = open_store(database_url, clock=clock)
    opened.migrate()
    yield opened
    opened.close()


def worker_for(store, handlers, **options):
    return Worker(store, handlers, max_attempts=3, lease_seconds=30, wait=lambda state: 5.0,
                  name="w", **options)


def add(store, kind="thing", key="k-1") -> int:
    store.enqueue(NewJob(kind, key=key, lane=key, instance_id="site", order_id="o-1"))
    (job,) = store.history("site", "o-1")["jobs"]
    return job["id"]


def test_a_done_job_is_done_and_nothing_else_runs(store, clock):
    handler = Handler()
    job_id = add(store)
    clock.now += 1
    assert worker_for(store, {"thing": handler}).run_once()
    assert handler.ran == [job_id] and store.get_job(job_id).state == "done"
    assert not worker_for(store, {"thing": handler}).run_once()


def test_retry_waits_the_backoff_or_longer_when_asked_and_gives_up_at_the_limit(store, clock):
    handler = Handler(Retry("busy", after=60))
    job_id = add(store)
    worker = worker_for(store, {"thing": handler})
    clock.now += 1
    assert worker.run_once()
    job = store.get_job(job_id)
    assert job.state == "pending" and job.attempts == 1 and job.last_error == "busy"
    assert not worker.run_once()                     # not due: Retry-After said 60 s
    for _ in range(2):
        clock.now += 61
        assert worker.run_once()
    assert store.get_job(job_id).state == "failed"
    assert handler.given_up == [(job_id, "gave up after 3 attempts: busy")]


def test_fail_gives_up_at_once_and_tells_the_handler(store, clock):
    handler = Handler(Fail("no such item"))
    job_id = add(store)
    clock.now += 1
    worker_for(store, {"thing": handler}).run_once()
    assert store.get_job(job_id).state == "failed"
    assert handler.given_up == [(job_id, "no such item")]


def test_wait_puts_the_job_back_uncounted(store, clock):
    job_id = add(store)
    clock.now += 1
    worker_for(store, {"thing": Handler(Wait("no credentials", seconds=30))}).run_once()
    job = store.get_job(job_id)
    assert job.state == "pending" and job.attempts == 0 and job.last_error == "no credentials"


def test_a_crash_is_logged_and_retried(store, clock, caplog):
    job_id = add(store)
    clock.now += 1
    worker_for(store, {"thing": Handler(KeyError("surprise"))}).run_once()
    job = store.get_job(job_id)
    assert job.state == "pending" and job.last_error == "KeyError: 'surprise'"
    assert "event=job_crashed" in caplog.text


def test_a_job_of_an_unknown_kind_fails_with_the_reason(store, clock):
    job_id = add(store, kind="mystery")
    clock.now += 1
    worker_for(store, {"thing": Handler()}).run_once()
    job = store.get_job(job_id)
    assert job.state == "failed" and job.last_error == "no handler for job kind 'mystery'"


def test_a_job_whose_workers_kept_dying_is_given_up(store, clock):
    handler = Handler()
    job_id = add(store)
    for n in range(3):                                   # three workers die holding it
        clock.now += 31
        assert store.claim(f"dead-{n}", 30).id == job_id
    clock.now += 31
    worker_for(store, {"thing": handler}).run_once()
    assert handler.ran == [] and store.get_job(job_id).state == "failed"
    assert handler.given_up == [(job_id, "abandoned by a worker 3 time(s)")]


def test_a_worker_that_lost_its_lease_does_not_finish_the_job(store, clock, caplog):
    def outlive_the_lease(job):
        clock.now += 31
        assert store.claim("other", 30).id == job.id     # taken up as if this worker had died

    job_id = add(store)
    clock.now += 1
    with caplog.at_level(logging.WARNING):
        worker_for(store, {"thing": Handler(outlive_the_lease)}).run_once()
    job = store.get_job(job_id)
    assert job.state == "running" and job.worker == "other"
    assert "event=job_lease_lost" in caplog.text


def test_a_stopping_worker_hands_back_what_it_claimed(store, clock):
    handler = Handler()
    job_id = add(store)
    clock.now += 1
    worker = worker_for(store, {"thing": handler})
    worker.stop()
    assert not worker.run_once()
    job = store.get_job(job_id)
    assert handler.ran == [] and job.state == "pending" and job.attempts == 0


def test_a_job_held_behind_a_running_probe_looks_again_within_a_second(store, clock):
    """A probe holds its breaker for its whole deadline; jobs behind it must not wait that long
    once it has answered."""
    breakers = Breakers(store, Policy(probe_hold=30))
    for _ in range(5):
        store.count_breaker_failure("pos:site", "refused")
    store.open_breaker("pos:site", 10)
    assert breakers.admit("pos:site").hold == pytest.approx(10)   # open: wait its time
    clock.now += 11
    assert breakers.admit("pos:site").probe                       # the first job probes
    assert breakers.admit("pos:site").hold == 1.0                 # one claimed meanwhile


class FillingClock:
    """The test's clock; once armed, its next reading first gives another worker the last place
    of `job`'s destination, as a claim running beside this worker's would."""

    def __init__(self, clock, bulkhead: Bulkhead):
        self.clock, self.bulkhead = clock, bulkhead
        self.armed: Job | None = None

    def __call__(self) -> float:
        if self.armed is not None:
            assert self.bulkhead.take(self.armed)
            self.armed = None
        return self.clock()


def test_a_job_whose_destination_filled_up_during_its_claim_is_handed_back_uncounted(
        database_url, clock, caplog):
    bulkhead = Bulkhead(1)
    filling = FillingClock(clock, bulkhead)
    store = open_store(database_url, clock=filling)
    store.migrate()
    try:
        for key in ("k-1", "k-2"):
            store.enqueue(NewJob("thing", key=key, lane=key, instance_id="site", order_id="o-1",
                                 destination="pos:site"))
        first, other = (store.get_job(j["id"]) for j in store.history("site", "o-1")["jobs"])
        handler = Handler()
        worker = worker_for(store, {"thing": handler}, bulkhead=bulkhead)
        clock.now += 1
        filling.armed = other  # taken while this worker's claim reads the clock
        with caplog.at_level(logging.INFO):
            assert worker.run_once()  # it looked, and will look again at once
        assert handler.ran == []
        assert store.get_job(first.id).state == "pending"
        assert store.get_job(first.id).attempts == 0
        assert "event=job_handed_back" in caplog.text and "reason=destination_full" in caplog.text

        bulkhead.release(other)  # the other worker is done with it
        assert worker.run_once()
        assert handler.ran == [first.id]
        assert (store.get_job(first.id).state, store.get_job(first.id).attempts) == ("done", 1)
    finally:
        store.close()


def test_workers_claiming_side_by_side_never_run_more_of_a_destination_than_its_share(
        database_url, clock):
    store = open_store(database_url, clock=clock, pool_size=4)
    store.migrate()
    running = AtOnce()

    def crowd(job):
        with running.inside():
            time.sleep(0.005)

    handler = Handler(crowd)
    bulkhead = Bulkhead(2)
    for n in range(24):
        store.enqueue(NewJob("thing", key=f"k-{n}", lane=f"k-{n}", destination="pos:site"))
    workers = [Worker(store, {"thing": handler}, max_attempts=3, lease_seconds=30,
                      wait=lambda state: 5.0, name=f"w-{n}", bulkhead=bulkhead)
               for n in range(8)]

    def work(worker):
        end = time.monotonic() + 30
        while len(handler.ran) < 24 and time.monotonic() < end:
            if not worker.run_once():
                time.sleep(0.001)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(40)
        assert sorted(handler.ran) == sorted(set(handler.ran)) and len(handler.ran) == 24
        assert running.most == 2                # its share at once, never more
        assert {store.get_job(job_id).state for job_id in handler.ran} == {"done"}
        assert store.job_counts() == {}         # nothing left pending or running
    finally:
        store.close()
