"""Menu syncs an owner set to repeat: nightly at 03:00 in the site's own time zone, or hourly;
each run starts an ordinary sync and queues the next; a changed setting ends the old chain. On
the in-memory store."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from bridge.service import auto_sync, jobs

SITE = "site-auto"


@pytest.fixture
def database_url(tmp_path):
    """The store is in memory: the configuration names a file that is never opened."""
    return f"sqlite:///{tmp_path / 'unused.db'}"


@pytest.fixture
def bridge(memory_bridge, clock):
    clock.now = datetime(2027, 3, 10, 14, 30, tzinfo=timezone.utc).timestamp()
    wired = memory_bridge(clock=clock)
    wired.store.set_instance(SITE, "installed")
    wired.store.save_configuration("conf-1", SITE, location_name="Harbour")
    wired.store.confirm_sync("conf-1")
    return wired


def at(text: str, zone: str = "UTC") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


@pytest.mark.parametrize("every, zone, now, due", [
    ("nightly", "UTC", "2027-03-10T14:30", "2027-03-11T03:00"),
    ("nightly", "UTC", "2027-03-10T02:59", "2027-03-10T03:00"),
    ("nightly", "America/New_York", "2027-03-13T12:00", "2027-03-14T03:00"),  # the DST night
    ("hourly", "Asia/Tokyo", "2027-03-10T14:30", "2027-03-10T15:00"),
])
def test_the_next_run_is_at_night_in_the_site_s_own_zone_or_on_the_hour(every, zone, now, due):
    assert auto_sync.next_run(every, zone, at(now, zone)) == at(due, zone)


def test_a_nightly_sync_starts_a_sync_at_03_00_local_and_queues_the_next(bridge, clock):
    store = bridge.store
    store.set_time_zone(SITE, "Europe/Paris")
    due = auto_sync.set_every(store, store.get_configuration("conf-1"), "nightly")
    assert due == at("2027-03-11T03:00", "Europe/Paris")
    worker = bridge.worker(wait=lambda state: 0.0)
    assert worker.drain() == 0                    # not due yet: nothing runs, nothing syncs
    clock.now = due
    job = store.claim("test", 30)
    assert job.kind == jobs.Kind.AUTO_SYNC
    bridge.handlers[job.kind].run(job)
    [sync] = store.list_syncs("conf-1")
    assert sync.status == "PENDING"
    following = store.job_by_key(
        jobs.auto_sync(SITE, "conf-1", "nightly", at("2027-03-12T03:00", "Europe/Paris")).key)
    assert following is not None and following.state == "pending"


def test_a_changed_or_removed_setting_ends_the_old_chain(bridge, clock):
    store = bridge.store
    nightly = auto_sync.set_every(store, store.get_configuration("conf-1"), "nightly")
    auto_sync.set_every(store, store.get_configuration("conf-1"), None)
    clock.now = nightly
    job = store.claim("test", 30)
    bridge.handlers[job.kind].run(job)
    assert store.list_syncs("conf-1") == []
    assert store.claim("test", 30) is None        # nothing queued after it


def test_an_unconfirmed_location_waits_and_a_removed_site_ends_its_chain(bridge, clock):
    store = bridge.store
    store.save_configuration("conf-2", SITE, location_name="Pier")
    hourly = auto_sync.set_every(store, store.get_configuration("conf-2"), "hourly")
    clock.now = hourly
    job = store.claim("test", 30)
    bridge.handlers[job.kind].run(job)
    assert store.list_syncs("conf-2") == []       # a first sync is the owner's to confirm
    store.finish(job, "done")
    store.set_instance(SITE, "removed")
    clock.now += 3600
    job = store.claim("test", 30)
    assert job is not None and job.kind == jobs.Kind.AUTO_SYNC
    bridge.handlers[job.kind].run(job)
    store.finish(job, "done")
    clock.now += 3600
    assert store.claim("test", 30) is None


def test_a_worker_starting_queues_each_chain_once(bridge):
    store = bridge.store
    store.set_auto_sync("conf-1", "hourly")
    assert auto_sync.schedule_all(store) == 1
    assert auto_sync.schedule_all(store) == 1
    assert store.job_counts().get("pending", 0) == 1
