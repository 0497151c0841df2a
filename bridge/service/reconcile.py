"""Reconciling with Wix: the orders whose webhooks never came are taken all the same.

Wix stops resending a webhook after about two days, so an outage of the bridge, a DNS mistake or a
rotated key longer than that would lose orders silently. Each site is therefore reconciled on a
schedule (and by `bridge reconcile`): Wix's orders updated since the site's cursor are searched,
oldest change first, and each one the bridge does not know, or whose status it has not seen, is
stored as an event exactly as its webhook would have been, and goes the same way: one order at
the POS however many times it is seen, a late webhook after it changing nothing. A cancellation
that was missed is caught the same way.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Protocol

from bridge import logs
from bridge.domain.orders import InvalidOrder, restaurant_items
from bridge.service import inbox, jobs
from bridge.service.outcomes import no_wix, wix_answers
from bridge.storage.port import (Inbox, Instances, Job, JobQueue, Orders, Reconciliations,
                                 epoch, iso)
from bridge.wix import events as wix_events
from bridge.wix.events import WixEvent
from bridge.wix.port import Wix

log = logging.getLogger(__name__)

SOURCE = "wix"
# A site reconciled for the first time is searched this far back: as long as Wix resends.
FIRST_LOOKBACK = timedelta(days=2)
NO_CREDENTIALS_RECHECK_SECONDS = 300.0


class ReconcileStore(Inbox, Orders, Reconciliations, Instances, JobQueue, Protocol):
    """The inbox it stores into, the orders it compares with, and where it got to."""


@dataclass
class Reconciled:
    seen: int = 0         # orders Wix listed
    taken: int = 0        # stored as events: unknown to the bridge, or a status it missed


def reconcile_site(store: ReconcileStore, wix: Wix, instance_id: str) -> Reconciled:
    """Search the site's orders changed since its cursor and take what the bridge missed; the
    cursor then moves to the newest change seen (searched again next time: `$gte`)."""
    since = store.reconcile_cursor(instance_id, SOURCE) or iso(
        (datetime.now(timezone.utc) - FIRST_LOOKBACK).timestamp())
    done, newest, cursor = Reconciled(), since, None
    while True:
        orders, cursor = wix.orders_updated_since(instance_id, since, cursor)
        for order in orders:
            done.seen += 1
            if _take(store, instance_id, order):
                done.taken += 1
            updated = order.get("updatedDate")
            if isinstance(updated, str) and _later(updated, newest):
                newest = updated
        if cursor is None:
            break
    store.set_reconcile_cursor(instance_id, SOURCE, newest)
    if done.taken:
        logs.warning(log, "reconcile_took_missed_orders", instance_id=instance_id,
                     seen=done.seen, taken=done.taken)
    return done


def _later(at: str, than: str) -> bool:
    try:
        return epoch(at) > epoch(than)
    except ValueError:
        return False  # not a time: the cursor stays where it was


def _take(store: ReconcileStore, instance_id: str, order: Mapping[str, Any]) -> bool:
    """Store the order as the event its webhook would have been, when the bridge missed it."""
    try:
        restaurant = restaurant_items(order)
    except InvalidOrder:
        restaurant = []
    known = store.get_order(instance_id, order["id"])
    status = order.get("status")
    if known is None and not restaurant:
        return False  # nothing for the POS, and never stored: as its webhook would be ignored
    if known is not None and known.wix_status == status:
        return False  # the bridge has this status already
    event_type = (wix_events.ORDER_CANCELED if status == "CANCELED" and known is not None
                  else wix_events.ORDER_UPDATED)
    updated = order.get("updatedDate") if isinstance(order.get("updatedDate"), str) else None
    event = WixEvent(id=f"reconcile:{order['id']}:{status}:{updated}", event_type=event_type,
                     instance_id=instance_id, entity_id=order["id"], sequence=None,
                     event_time=updated, payload=dict(order))
    stored = inbox.record(store, event)
    if stored:
        logs.info(log, "reconcile_took_order", instance_id=instance_id, order_id=order["id"],
                  status=status, type=event_type, known=known is not None)
    return stored


def schedule(store: JobQueue, instance_id: str, interval: float, *, after: float = 0.0) -> None:
    """The site's next reconciliation, `after` seconds from now (once, whoever schedules it)."""
    if interval <= 0:
        return
    slot = int((store.clock() + after) // interval)
    store.enqueue(jobs.reconcile_wix(instance_id, slot), delay=after)


def schedule_all(store: ReconcileStore, interval: float) -> int:
    """Every installed site's reconciliation, due now (a worker starting): how many sites."""
    sites = store.installed_instances()
    for site in sites:
        schedule(store, site, interval)
    return len(sites)


class ReconcileWix:
    """The job: reconcile the site, then schedule its next run."""

    def __init__(self, store: ReconcileStore, wix: Wix | None, interval: float):
        self.store = store
        self.wix = wix
        self.interval = interval

    def run(self, job: Job) -> None:
        site = job.instance_id or ""
        if self.store.instance_status(site) == "removed":
            return  # the chain ends with the app; an install starts it again
        if self.wix is None:
            raise no_wix(NO_CREDENTIALS_RECHECK_SECONDS)
        with wix_answers(then="; the next attempt searches from where this one started"):
            reconcile_site(self.store, self.wix, site)
        schedule(self.store, site, self.interval, after=self.interval)

    def failed(self, job: Job, reason: str) -> None:
        """Given up on: the next period's run tries again."""
        schedule(self.store, job.instance_id or "", self.interval, after=self.interval)
