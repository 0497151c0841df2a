"""Menu syncs a location's owner set to repeat: nightly (at 03:00 in the site's time zone, when a
kitchen is closed) or hourly. Each run starts an ordinary sync and schedules the next; a change
of the setting starts a new chain, and the old one ends at its next run, finding it changed."""
from __future__ import annotations

import logging
from datetime import datetime, time as clock_time, timedelta
from zoneinfo import ZoneInfo

from bridge import logs
from bridge.service import catalog, jobs
from bridge.storage.port import Configuration, Job, Store

log = logging.getLogger(__name__)

EVERY = {"nightly": "every night at 03:00", "hourly": "every hour"}
NIGHTLY_AT = clock_time(3, 0)


def next_run(every: str, zone: str | None, now: float) -> float:
    """When a location syncing `every` syncs next, after `now` (epoch seconds)."""
    if every == "hourly":
        return (now // 3600 + 1) * 3600
    tz = ZoneInfo(zone or "UTC")
    today = datetime.fromtimestamp(now, tz).date()
    for day in (today, today + timedelta(days=1)):
        due = datetime.combine(day, NIGHTLY_AT, tz).timestamp()
        if due > now:
            return due
    raise AssertionError("unreachable: tomorrow's 03:00 is after now")


def schedule(store: Store, configuration: Configuration) -> float | None:
    """The configuration's next automatic sync, queued; when it is due (None: it has none)."""
    if configuration.auto_sync not in EVERY:
        return None
    now = store.clock()
    at = next_run(configuration.auto_sync, store.time_zone(configuration.instance_id), now)
    store.enqueue(jobs.auto_sync(configuration.instance_id, configuration.id,
                                 configuration.auto_sync, at), delay=at - now)
    return at


def schedule_all(store: Store) -> int:
    """At a worker's start: every chain there should be (a job's key names its due time, so
    scheduling twice queues once). How many."""
    chosen = [c for c in store.list_configurations() if c.auto_sync in EVERY]
    for configuration in chosen:
        schedule(store, configuration)
    return len(chosen)


def set_every(store: Store, configuration: Configuration, every: str | None) -> float | None:
    """The owner's choice: `every` one of EVERY, or None (never). When the next run is."""
    store.set_auto_sync(configuration.id, every)
    logs.info(log, "auto_sync_set", configuration=configuration.id, every=every or "never")
    return schedule(store, store.get_configuration(configuration.id))


class AutoSync:
    """The `auto_sync` job."""

    def __init__(self, store: Store):
        self.store = store

    def run(self, job: Job) -> None:
        configuration = self.store.get_configuration(job.payload["configuration_id"])
        if configuration is None or configuration.auto_sync != job.payload["every"]:
            return  # turned off or changed: the new setting has a chain of its own
        if self.store.instance_status(configuration.instance_id) == "removed":
            return  # the app is gone: the chain ends (set again, it starts again)
        try:
            if configuration.sync_confirmed_at is None:
                logs.info(log, "auto_sync_waits", configuration=configuration.id,
                          reason="the owner has not confirmed a first sync")
            else:
                catalog.start(self.store, configuration)
        finally:
            schedule(self.store, configuration)

    def failed(self, job: Job, reason: str, cause: str | None = None) -> None:
        configuration = self.store.get_configuration(job.payload["configuration_id"])
        if configuration is not None and configuration.auto_sync == job.payload["every"]:
            schedule(self.store, configuration)
