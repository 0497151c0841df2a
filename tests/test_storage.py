"""The store: migrations, leases, lane order and group commit, on a real SQLite file."""
import dataclasses
import json
import sqlite3
import threading
import time

import pytest

from bridge.storage.group_commit import GroupCommit
from bridge.storage.schema import migrations
from bridge.storage.sqlite import Store
from bridge.wix.sandbox import order_event, sample_order
from bridge.wix.events import event_from_claims
from tests.builders import Signer


def test_migrations_apply_once_and_a_second_run_applies_nothing(tmp_path):
    store = Store(tmp_path / "b.db")
    assert store.migrate() == ["m001_core", "m002_statuses", "m003_status_sequence",
                             "m004_inbox", "m005_event_text"]
    assert store.migrate() == []
    assert store.pending_migrations() == []


def test_a_claimed_job_is_taken_up_again_only_after_its_lease_expires(tmp_path):
    now = [1000.0]
    store = Store(tmp_path / "b.db", clock=lambda: now[0])
    store.migrate()
    store.enqueue("k", key="one", lane="a")
    first = store.claim("worker-1", lease_seconds=30)
    assert first and store.claim("worker-2", lease_seconds=30) is None
    now[0] += 31
    again = store.claim("worker-2", lease_seconds=30)
    assert again.id == first.id and again.attempts == 2 and again.worker == "worker-2"
    assert not store.finish(first, "done")     # the first worker lost it: its finish is refused
    assert store.finish(again, "done")


def test_jobs_of_one_lane_run_one_at_a_time_in_order(tmp_path):
    store = Store(tmp_path / "b.db")
    store.migrate()
    for key in ("a1", "a2"):
        store.enqueue("k", key=key, lane="a")
    store.enqueue("k", key="b1", lane="b")
    first = store.claim("w", 60)
    second = store.claim("w", 60)
    assert (first.key, second.key) == ("a1", "b1")  # a2 waits for a1
    assert store.claim("w", 60) is None
    store.finish(first, "done")
    assert store.claim("w", 60).key == "a2"


def test_the_same_key_enqueues_once(tmp_path):
    store = Store(tmp_path / "b.db")
    store.migrate()
    assert store.enqueue("k", key="x", lane="a")
    assert not store.enqueue("k", key="x", lane="a")


def test_group_commit_answers_every_writer_with_its_own_result():
    batches, writing = [], []

    def write(items):
        writing.append(1)
        assert len(writing) == 1, "two batches were written at once"
        time.sleep(0.005)  # slow enough for writers to queue up behind the leader
        batches.append(list(items))
        writing.pop()
        return [item * 2 for item in items]

    group = GroupCommit(write)
    results = {}

    def submit(n):
        results[n] = group.submit(n)

    run_all([threading.Thread(target=submit, args=(n,), daemon=True) for n in range(50)])
    assert results == {n: n * 2 for n in range(50)}
    assert sorted(n for batch in batches for n in batch) == list(range(50))
    assert len(batches) < 50, "nobody shared a batch"


def test_group_commit_fails_every_writer_of_a_failed_batch_and_goes_on():
    failing = threading.Event()
    failing.set()

    def write(items):
        time.sleep(0.005)
        if failing.is_set():
            raise OSError("disk full")
        return list(items)

    group = GroupCommit(write)
    errors = []

    def submit(n):
        try:
            group.submit(n)
        except OSError as error:
            errors.append(str(error))

    run_all([threading.Thread(target=submit, args=(n,), daemon=True) for n in range(10)])
    assert errors == ["disk full"] * 10
    failing.clear()
    later = threading.Thread(target=submit, args=(7,), daemon=True)
    run_all([later])  # the lead was handed back: later writers are not stuck


def run_all(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads), "a writer never got its answer"


def test_concurrent_duplicate_events_are_stored_once(tmp_path, private_key):
    store = Store(tmp_path / "b.db")
    store.migrate()
    claims = Signer(private_key).claims(order_event(sample_order()), "wix.ecom.v1.order_created")
    event = event_from_claims(claims)
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(store.record_event(event)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [False] * 7 + [True]
    job = store.claim("w", 60)
    assert (job.kind, job.payload) == ("process_event", {"event_id": event.id})
    assert store.db.execute("SELECT count(*) FROM jobs").fetchone()[0] == 1


def test_a_write_waits_for_another_connection_holding_the_write_lock(tmp_path):
    store = Store(tmp_path / "b.db")
    store.migrate()
    other = sqlite3.connect(tmp_path / "b.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # as another process's transaction would
    releaser = threading.Timer(0.3, other.execute, args=["COMMIT"])
    releaser.start()
    started = time.monotonic()
    assert store.enqueue("k", key="waited", lane="a")
    assert time.monotonic() - started >= 0.25
    releaser.join()
    assert store.get_job(1).key == "waited"


def stored_event(store: Store, signer: Signer, order_id: str, n: int):
    order = dict(sample_order(), id=order_id)
    event = event_from_claims(signer.claims(order_event(order), "wix.ecom.v1.order_created"))
    event = dataclasses.replace(event, id=f"event-{n}")
    assert store.record_event(event)
    return event


def test_events_become_jobs_in_stored_order_one_order_at_a_time(tmp_path, private_key):
    store, signer = Store(tmp_path / "b.db"), Signer(private_key)
    store.migrate()
    first_a, first_b, second_a = (stored_event(store, signer, order, n)
                                  for n, order in enumerate(["A", "B", "A"]))
    assert store.job_counts() == {"pending": 3}  # stored, not yet taken: still pending work
    one = store.claim("w", 60)
    two = store.claim("w", 60)
    assert store.claim("w", 60) is None  # A's second event waits for its first
    assert [one.payload["event_id"], two.payload["event_id"]] == [first_a.id, first_b.id]
    store.finish(one, "done")
    assert store.claim("w", 60).payload["event_id"] == second_a.id


def test_events_stored_before_the_inbox_migration_are_not_given_a_second_job(tmp_path):
    store = Store(tmp_path / "b.db")
    migrations.apply(store.db, stop_before="m004_inbox")
    store.db.execute("INSERT INTO events (id, instance_id, event_type, received_at, payload)"
                     " VALUES ('old', 'i', 'wix.ecom.v1.order_created', 'now', '{}')")
    store.db.execute("INSERT INTO jobs (kind, key, lane, payload, state, not_before, created_at,"
                     " updated_at) VALUES ('process_event', 'event:old', 'events:i',"
                     " '{\"event_id\": \"old\"}', 'done', 0, 'now', 'now')")
    store.migrate()
    assert store.job_counts() == {}  # not counted as work waiting to be taken
    assert store.claim("w", 60) is None


def _claims(domain_event: dict, event_type: str, *, data_as_text: bool) -> dict:
    data = json.dumps(domain_event) if data_as_text else domain_event
    return {"data": json.dumps({"instanceId": "i-1", "eventType": event_type, "data": data})}


@pytest.mark.parametrize("data_as_text", [True, False])
@pytest.mark.parametrize("domain_event, event_type", [
    ({"id": "ev-1", "entityId": "o-1", "createdEvent": {"entity": {"id": "o-1", "n": 10**30}}},
     "wix.ecom.v1.order_created"),
    ({"id": "ev-1", "entityId": "o-1",
      "createdEvent": {"entityAsJson": json.dumps({"id": "o-1", "status": "APPROVED"})}},
     "wix.ecom.v1.order_created"),
    ({"id": "ev-1", "entityId": "o-1", "actionEvent": {"body": {"order": {"id": "o-1"}}}},
     "wix.ecom.v1.order_approved"),
    ({"appId": "app", "originInstanceId": ""}, "AppInstalled"),
])
def test_a_stored_event_reads_back_as_it_was_verified(tmp_path, domain_event, event_type,
                                                      data_as_text):
    store = Store(tmp_path / "b.db")
    store.migrate()
    event = event_from_claims(_claims(domain_event, event_type, data_as_text=data_as_text))
    assert store.record_event(event)
    assert store.get_event(event.id) == event


def test_a_backlog_of_events_is_taken_in_stored_order_across_claims(tmp_path, private_key):
    store, signer = Store(tmp_path / "b.db"), Signer(private_key)
    store.migrate()
    stored = [stored_event(store, signer, f"order-{n}", n).id for n in range(250)]
    taken = []
    while (job := store.claim("w", 60)) is not None:
        taken.append(job.payload["event_id"])
        store.finish(job, "done")
    assert taken == stored
    assert store.job_counts() == {}
