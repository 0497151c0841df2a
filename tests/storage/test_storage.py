"""The store's contract, on both adapters: migrations, leases, lane order, the inbox.

Every test that takes `database_url` runs on SQLite and on PostgreSQL; a few at the end are about
one engine's own way of being correct under concurrency.
"""
import dataclasses
import json
import sqlite3
import threading
import time

import pytest

from bridge.service import inbox, jobs
from bridge.storage import open_store
from bridge.storage.port import NewJob
from bridge.storage.schema import migrations
from bridge.wix.sandbox import order_event, sample_order
from bridge.wix.events import event_from_claims
from tests import postgres
from tests.builders import Signer


@pytest.fixture
def open_stores(database_url):
    """Open stores on the test's database (as separate processes would), closed afterwards."""
    opened = []

    def open_one(clock=time.time, migrate=True):
        store = open_store(database_url, clock=clock, pool_size=4, event_job=jobs.process_event)
        opened.append(store)
        if migrate:
            store.migrate()
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_stores):
    return open_stores()


def a_job(key: str, lane: str = "a") -> NewJob:
    return NewJob("k", key=key, lane=lane)


def test_migrations_apply_once_and_a_second_run_applies_nothing(open_stores):
    store = open_stores(migrate=False)
    assert store.pending_migrations()
    applied = store.migrate()
    assert applied and store.migrate() == []
    assert store.pending_migrations() == []


def test_two_processes_migrating_at_once_apply_each_migration_once(open_stores):
    stores = [open_stores(migrate=False) for _ in range(2)]
    results = []
    run_all([threading.Thread(target=lambda s=s: results.append(s.migrate()), daemon=True)
             for s in stores])
    assert sorted(map(len, results))[0] == 0 and sorted(map(len, results))[1] > 0
    assert stores[0].pending_migrations() == []


def test_a_claimed_job_is_taken_up_again_only_after_its_lease_expires(open_stores):
    now = [1000.0]
    store = open_stores(clock=lambda: now[0])
    store.enqueue(a_job("one"))
    first = store.claim("worker-1", lease_seconds=30)
    assert first and store.claim("worker-2", lease_seconds=30) is None
    now[0] += 31
    again = store.claim("worker-2", lease_seconds=30)
    assert again.id == first.id and again.attempts == 2 and again.worker == "worker-2"
    assert not store.finish(first, "done")     # the first worker lost it: its finish is refused
    assert store.finish(again, "done")


def test_jobs_of_one_lane_run_one_at_a_time_in_order(store):
    for key in ("a1", "a2"):
        store.enqueue(a_job(key, "a"))
    store.enqueue(a_job("b1", "b"))
    first = store.claim("w", 60)
    second = store.claim("w", 60)
    assert (first.key, second.key) == ("a1", "b1")  # a2 waits for a1
    assert store.claim("w", 60) is None
    store.finish(first, "done")
    assert store.claim("w", 60).key == "a2"


def test_the_same_key_enqueues_once(store):
    assert store.enqueue(a_job("x"))
    assert not store.enqueue(a_job("x"))


def test_concurrent_claimers_never_take_the_same_job(open_stores):
    stores = [open_stores() for _ in range(2)]
    for n in range(60):
        stores[0].enqueue(a_job(f"j{n}", lane=f"lane-{n}"))
    taken: list[int] = []

    def drain(store, name):
        while (job := store.claim(name, 60)) is not None:
            taken.append(job.id)
            store.finish(job, "done")

    run_all([threading.Thread(target=drain, args=(s, f"w{i}{t}"), daemon=True)
             for i, s in enumerate(stores) for t in range(3)])
    assert sorted(taken) == sorted(set(taken)) and len(taken) == 60


def run_all(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads), "a writer never got its answer"


def test_concurrent_duplicate_events_are_stored_once(store, private_key):
    claims = Signer(private_key).claims(order_event(sample_order()), "wix.ecom.v1.order_created")
    event = event_from_claims(claims)
    answers = []
    run_all([threading.Thread(target=lambda: answers.append(inbox.record(store, event)),
                              daemon=True) for _ in range(8)])
    assert sorted(answers) == [False] * 7 + [True]
    job = store.claim("w", 60)
    assert (job.kind, job.payload) == ("process_event", {"event_id": event.id})
    assert store.claim("w", 60) is None and store.job_counts() == {"running": 1}


def test_sqlite_a_write_waits_for_another_connection_holding_the_write_lock(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'b.db'}")
    store.migrate()
    other = sqlite3.connect(tmp_path / "b.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # as another process's transaction would
    releaser = threading.Timer(0.3, other.execute, args=["COMMIT"])
    releaser.start()
    started = time.monotonic()
    assert store.enqueue(a_job("waited"))
    assert time.monotonic() - started >= 0.25
    releaser.join()
    assert store.get_job(1).key == "waited"


def stored_event(store, signer: Signer, order_id: str, n: int):
    order = dict(sample_order(), id=order_id)
    event = event_from_claims(signer.claims(order_event(order), "wix.ecom.v1.order_created"))
    event = dataclasses.replace(event, id=f"event-{n}")
    assert inbox.record(store, event)
    return event


def test_events_become_jobs_in_stored_order_one_order_at_a_time(store, private_key):
    signer = Signer(private_key)
    first_a, first_b, second_a = (stored_event(store, signer, order, n)
                                  for n, order in enumerate(["A", "B", "A"]))
    assert store.job_counts() == {"pending": 3}  # stored, not yet taken: still pending work
    one = store.claim("w", 60)
    two = store.claim("w", 60)
    assert store.claim("w", 60) is None  # A's second event waits for its first
    assert [one.payload["event_id"], two.payload["event_id"]] == [first_a.id, first_b.id]
    store.finish(one, "done")
    assert store.claim("w", 60).payload["event_id"] == second_a.id


def test_sqlite_events_stored_before_the_inbox_migration_are_not_given_a_second_job(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'b.db'}", event_job=jobs.process_event)
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
def test_a_stored_event_reads_back_as_it_was_verified(store, domain_event, event_type,
                                                      data_as_text):
    event = event_from_claims(_claims(domain_event, event_type, data_as_text=data_as_text))
    assert inbox.record(store, event)
    assert inbox.load(store, event.id) == event


def test_a_backlog_of_events_is_taken_in_stored_order_across_claims(store, private_key):
    signer = Signer(private_key)
    stored = [stored_event(store, signer, f"order-{n}", n).id for n in range(250)]
    taken = []
    while (job := store.claim("w", 60)) is not None:
        taken.append(job.payload["event_id"])
        store.finish(job, "done")
    assert taken == stored
    assert store.job_counts() == {}


postgres_only = pytest.mark.parametrize("database_url", [
    pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)


@pytest.fixture
def pg_store(open_stores):
    return open_stores()


@postgres_only
def test_postgres_an_event_that_commits_late_is_not_skipped(pg_store, database_url, private_key):
    """seq 1 is handed out first but committed last: the worker must still take it."""
    import psycopg
    signer = Signer(private_key)
    with psycopg.connect(database_url) as late:
        late.execute("INSERT INTO events (id, instance_id, event_type, received_at, order_id)"
                     " VALUES ('late', 'i', 'wix.ecom.v1.order_created', 'now', 'L')")
        early = stored_event(pg_store, signer, "E", 1)  # seq 2, committed first
        first = pg_store.claim("w", 60)
        assert first.payload["event_id"] == early.id
        late.commit()
    second = pg_store.claim("w", 60)
    assert second.payload["event_id"] == "late"
    assert pg_store.claim("w", 60) is None and pg_store.job_counts() == {"running": 2}


@postgres_only
def test_postgres_a_webhook_never_waits_for_a_worker_holding_its_claim(pg_store, open_stores,
                                                                      private_key):
    signer = Signer(private_key)
    stored_event(pg_store, signer, "A", 1)
    holding, release = threading.Event(), threading.Event()

    def claim_and_hold():
        with pg_store.transaction():
            assert pg_store.claim("w", 60) is not None  # took the event, its job, a row lock
            holding.set()
            release.wait(10)

    worker = threading.Thread(target=claim_and_hold, daemon=True)
    worker.start()
    try:
        assert holding.wait(10)
        receiver = open_stores()
        started = time.monotonic()
        stored_event(receiver, signer, "A", 2)  # the same order, while the claim is open
        assert time.monotonic() - started < 1.0
    finally:
        release.set()
        worker.join(10)


@postgres_only
def test_postgres_jobs_added_to_one_lane_at_once_keep_their_commit_order(pg_store, open_stores):
    """A lane's second job cannot get its id before the first commits, so it never runs first."""
    other = open_stores()
    added = threading.Event()

    def add_first_and_wait():
        with pg_store.transaction():
            pg_store.enqueue(a_job("first", lane="same"))
            added.set()
            time.sleep(0.3)

    first = threading.Thread(target=add_first_and_wait, daemon=True)
    first.start()
    assert added.wait(10)
    other.enqueue(a_job("second", lane="same"))  # waits for the first's commit
    first.join(10)
    assert pg_store.claim("w", 60).key == "first"
    assert pg_store.claim("w", 60) is None


def listening(store) -> threading.Event:
    """Set each time `store`'s listener is told of new work (cleared of its first call, which
    it makes on starting to listen, for what came before)."""
    woken = threading.Event()
    assert store.on_new_work(woken.set)
    assert woken.wait(5), "the listener did not start"
    woken.clear()
    return woken


@postgres_only
def test_postgres_a_webhook_stored_by_another_process_wakes_an_idle_worker(pg_store, open_stores,
                                                                          private_key):
    woken = listening(pg_store)
    receiver = open_stores()
    stored_event(receiver, Signer(private_key), "A", 1)
    assert woken.wait(2.0), "NOTIFY did not wake the listener"


@postgres_only
def test_postgres_workers_are_told_of_work_once_it_is_committed(pg_store, open_stores):
    """A worker woken before the commit would find nothing, sleep, and leave the job waiting
    for its next poll."""
    woken = listening(pg_store)
    adder = open_stores()
    with adder.transaction():
        adder.enqueue(a_job("j1"))
        assert not woken.wait(0.5), "woken while the job was not committed"
    assert woken.wait(2.0), "not woken once it was"
    assert pg_store.claim("w", 60).key == "j1"
    woken.clear()
    with pytest.raises(RuntimeError), adder.transaction():
        adder.enqueue(a_job("j2"))
        raise RuntimeError("rolled back")
    assert not woken.wait(0.5), "woken for work that was rolled back"


@postgres_only
def test_postgres_a_bridge_in_another_schema_of_the_same_database_is_not_woken(pg_store):
    """Runs side by side on one database (two test runs, a staging copy) keep to themselves."""
    woken = listening(pg_store)
    with postgres.fresh_schema() as other_url:
        other = open_store(other_url, pool_size=2, event_job=jobs.process_event)
        try:
            other.migrate()
            other.enqueue(a_job("theirs"))
            assert not woken.wait(1.0), "woken for another schema's work"
            pg_store.enqueue(a_job("ours"))
            assert woken.wait(2.0), "not woken for its own"
        finally:
            other.close()


@postgres_only
def test_postgres_a_process_that_adds_work_and_exits_at_once_still_wakes_the_workers(
        pg_store, open_stores):
    """As `bridge replay` does: the notification goes out before the store closes."""
    woken = listening(pg_store)
    replay = open_stores()
    replay.enqueue(a_job("again"))
    replay.close()
    assert woken.wait(2.0)


@postgres_only
def test_postgres_a_burst_of_webhooks_wakes_the_workers_a_few_times_not_once_each(
        pg_store, open_stores, private_key, database_url):
    """Commits that notify are serialized server-wide until flushed: the webhooks' inserts do
    not notify, the process's notifier does, for all the work committed since it last did."""
    import psycopg
    signer = Signer(private_key)
    events = [dataclasses.replace(
        event_from_claims(signer.claims(order_event(dict(sample_order(), id=f"o{n}")),
                                        "wix.ecom.v1.order_created")), id=f"burst-{n}")
        for n in range(200)]
    receiver = open_stores()
    with psycopg.connect(database_url, autocommit=True) as listener:
        (channel,) = listener.execute("SELECT 'bridge_work.' || current_schema()").fetchone()
        listener.execute(f'LISTEN "{channel}"')
        run_all([threading.Thread(target=lambda share=events[i::8]: [
            inbox.record(receiver, event) for event in share]) for i in range(8)])
        notified = sum(1 for _ in listener.notifies(timeout=1.0))
    assert pg_store.job_counts() == {"pending": 200}
    assert 1 <= notified < 100, notified


def test_sqlite_cannot_wake_workers_in_other_processes(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'b.db'}")
    assert store.on_new_work(lambda: None) is False  # its workers poll instead


@pytest.mark.parametrize("url, expected", [
    ("postgres://u:pw@db.example.com:5432/d", {"sslmode": "require", "host": "db.example.com"}),
    ("postgresql://u@db.example.com/d?sslmode=verify-full", {"sslmode": "verify-full"}),
    ("postgresql://u@127.0.0.1/d", {"sslmode": None}),
    ("postgresql://u@localhost/d", {"sslmode": None}),
    ("postgresql:///d?host=/var/run/postgresql", {"sslmode": None}),
])
def test_postgres_urls_require_tls_unless_local_or_said_otherwise(url, expected):
    from psycopg.conninfo import conninfo_to_dict

    from bridge.storage.postgres import conninfo
    params = conninfo_to_dict(conninfo(url))
    for key, value in expected.items():
        assert params.get(key) == value
    assert params["connect_timeout"] == "5"


def test_a_postgres_url_is_shown_without_its_password():
    from bridge.storage.postgres import redact
    assert redact("postgres://app:s3cr%40t@db:5432/d") == "postgres://app:***@db:5432/d"
    assert redact("postgresql://app@db/d") == "postgresql://app@db/d"
    assert redact("postgresql://db/d") == "postgresql://db/d"


def _pos_job(order: str, site: str) -> NewJob:
    return jobs.send_order(order, site)


def test_a_claim_passes_over_jobs_for_a_destination_it_is_told_to_avoid(open_stores):
    store = open_stores()
    store.enqueue(_pos_job("o-1", "busy"))
    store.enqueue(_pos_job("o-2", "busy"))
    store.enqueue(_pos_job("o-3", "quiet"))
    taken = store.claim("w", 30, avoid=[jobs.pos_destination("busy")])
    assert taken.order_id == "o-3" and taken.destination == "pos:quiet"
    assert store.claim("w", 30, avoid=["pos:busy", "pos:quiet"]) is None
    assert store.claim("w", 30).order_id == "o-1"


def test_an_open_breaker_holds_its_destination_s_jobs_and_one_worker_probes(open_stores, clock):
    store, other = open_stores(clock=clock), open_stores(clock=clock)
    store.enqueue(_pos_job("o-1", "down"))
    store.enqueue(_pos_job("o-2", "up"))
    for n in range(1, 4):
        assert store.count_breaker_failure("pos:down", "refused").failures == n
    store.open_breaker("pos:down", 30)
    assert [b.state for b in other.breakers()] == ["open"]
    assert store.claim("w", 300).order_id == "o-2"
    assert store.claim("w", 300) is None                     # o-1 waits while it is open
    clock.now += 31
    assert other.take_probe("pos:down", 20) and not store.take_probe("pos:down", 20)
    assert store.breaker("pos:down").state == "probing"
    assert store.claim("w", 300) is None                     # held off while the probe runs
    clock.now += 21                                          # the prober died: another may
    assert store.take_probe("pos:down", 20)
    store.close_breaker("pos:down")
    assert store.breaker("pos:down").failures == 0 and other.breakers() == []
    assert store.claim("w", 300).order_id == "o-1"


def test_calls_to_a_rate_limited_api_are_paced_across_processes(open_stores, clock):
    stores = [open_stores(clock=clock), open_stores(clock=clock)]
    waits = [stores[n % 2].reserve_call("wix:site", 1.0, 3) for n in range(7)]
    assert waits == [0, 0, 0, 1, 2, 3, 4]          # three at once, then one a second, shared
    assert stores[0].reserve_call("wix:other", 1.0, 3) == 0
    clock.now += 10                                 # once quiet, a burst is allowed again
    assert stores[1].reserve_call("wix:site", 1.0, 3) == 0


def test_an_order_is_its_site_s_the_same_id_from_two_sites_is_two_orders(store):
    """Every look-up by Wix order id names the site: one site's order is out of another's
    reach, whatever id it sends."""
    for site, pos_id in (("site-a", "P-A"), ("site-b", "P-B")):
        store.save_order(wix_order_id="wix-1", instance_id=site, state="queued",
                         snapshot={"site": site}, number="7")
    store.set_order_state("site-a", "wix-1", "sent", pos_client="webhook", pos_order_id="P-A")
    store.set_order_statuses("site-a", "wix-1", pos_status="READY")
    a, b = store.get_order("site-a", "wix-1"), store.get_order("site-b", "wix-1")
    assert (a.state, a.pos_order_id, a.pos_status, a.snapshot) == ("sent", "P-A", "READY",
                                                                  {"site": "site-a"})
    assert (b.state, b.pos_order_id, b.pos_status, b.snapshot) == ("queued", None, None,
                                                                  {"site": "site-b"})
    assert store.get_order("site-c", "wix-1") is None
    assert {o.instance_id for o in store.orders_with_id("wix-1")} == {"site-a", "site-b"}

    store.enqueue(jobs.send_order("wix-1", "site-b"))
    assert [j["kind"] for j in store.history("site-b", "wix-1")["jobs"]] == ["send_order"]
    assert store.history("site-a", "wix-1")["jobs"] == []


def test_installs_and_removals_apply_by_the_site_s_state(open_stores):
    """A resend changes nothing; a removal signed before the latest install is ignored; an
    install of a removed site always installs, even one signed as long ago as the first."""
    store = open_stores(clock=lambda: 1_800_000_000.0)  # 2027-01-15, after every time below
    first, removal, later = ("2026-12-01T10:00:00.000+00:00", "2026-12-02T10:00:00.000+00:00",
                             "2026-12-03T10:00:00.000+00:00")
    assert store.set_instance("site", "installed", at=first)
    assert not store.set_instance("site", "installed", at=first)      # a resend
    assert not store.set_instance("site", "removed", at="2026-11-30T10:00:00.000+00:00")
    assert store.instance_status("site") == "installed"
    assert store.set_instance("site", "removed", at=removal)
    assert not store.set_instance("site", "removed", at=later)        # removed already
    assert store.set_instance("site", "installed", at=first)          # the re-install
    assert not store.set_instance("site", "removed", at=removal)      # the removal, resent
    assert store.instance_status("site") == "installed"
    assert store.set_instance("other", "removed", at=removal)         # a site never installed
    assert store.installed_instances() == ["site"]
