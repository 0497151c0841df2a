"""Reconciling with Wix and with the POS: what a webhook that never came should have said.

Wix stops resending a webhook after about two days, Square after three, and a `webhook` POS may
never resend: an outage of the bridge, a DNS mistake or a rotated key longer than that would lose
orders and kitchen statuses silently. Each site is therefore reconciled on a schedule (and by
`bridge reconcile`):
- with Wix: Wix's orders updated since the site's cursor are searched, oldest change first, and
  each one the bridge does not know, or whose status it has not seen, is stored as an event
  exactly as its webhook would have been, and goes the same way: one order at the POS however
  many times it is seen, a late webhook after it changing nothing. A missed cancellation too.
- with the POS: the site's unfinished orders' statuses are asked for, not past a maximum age: a
  POS that can search what changed since a time (Square) from where its last search got to, in
  one search per ten locations; another for the orders that are due (less often as they age),
  many in one call where it can. A status the bridge has not recorded goes to Wix by the same
  path as a callback's.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping, Protocol

from bridge import logs
from bridge.domain.orders import InvalidOrder, restaurant_items
from bridge.pos import base
from bridge.pos.registry import PosClients
from bridge.service import inbox, jobs, statuses
from bridge.service.outcomes import no_wix, pos_answers, wix_answers
from bridge.storage.port import (Accounts, AccountState, Configurations, Inbox, Instances, Job,
                                 JobQueue, NewJob, OrderRecord, Orders, Reconciliations,
                                 StatusUpdates, Transactions, epoch, iso)
from bridge.wix import events as wix_events
from bridge.wix.events import WixEvent
from bridge.wix.port import Wix

log = logging.getLogger(__name__)

SOURCE = "wix"
# A site reconciled for the first time is searched this far back: as long as Wix resends.
FIRST_LOOKBACK = timedelta(days=2)
NO_CREDENTIALS_RECHECK_SECONDS = 300.0


class ReconcileStore(Inbox, Orders, Reconciliations, Instances, Accounts, JobQueue, Protocol):
    """The inbox it stores into, the orders it compares with, and where it got to."""


class PosReconcileStore(Orders, StatusUpdates, JobQueue, Instances, Transactions, Reconciliations,
                        Configurations, Protocol):
    """The orders in the kitchen, the status path a callback takes, where a search got to."""


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


def schedule(store: JobQueue, instance_id: str, interval: float, *, after: float = 0.0,
             kinds: tuple[Callable[[str, int], NewJob], ...] = (jobs.reconcile_wix,
                                                               jobs.reconcile_pos)) -> None:
    """The site's next reconciliations, `after` seconds from now (once, whoever schedules
    them: a job's key names its period)."""
    if interval <= 0:
        return
    slot = int((store.clock() + after) // interval)
    for kind in kinds:
        store.enqueue(kind(instance_id, slot), delay=after)


def schedule_all(store: ReconcileStore, interval: float) -> int:
    """Every served site's reconciliations, due now (a worker starting): how many sites. A site
    is served when it is recorded installed, or has an active POS account (it may have been
    installed before this bridge kept installs)."""
    sites = set(store.installed_instances()) | {
        a.instance_id for a in store.list_accounts() if a.status == AccountState.ACTIVE
        and store.instance_status(a.instance_id) != "removed"}
    for site in sorted(sites):
        schedule(store, site, interval)
    return len(sites)


def due(age_seconds: float, slot: int) -> bool:
    """Whether an order of this age is asked in this period: every period in its first hour,
    every 4th until six hours, then every 12th (a kitchen moves fast, then rarely)."""
    every = 1 if age_seconds < 3600 else 4 if age_seconds < 6 * 3600 else 12
    return slot % every == 0


def reconcile_pos_site(store: PosReconcileStore, pos: PosClients, instance_id: str, slot: int,
                       max_age_seconds: float) -> Reconciled:
    """Ask the POS for the site's unfinished orders, and record each status the bridge has
    not: it goes to Wix as a callback's would. A POS that can search what changed since a time
    (`statuses_since`) is searched from where the last search got to, for its locations; another
    is asked for the orders that are due (`statuses_of`, else one `current_status` each)."""
    now = store.clock()
    done = Reconciled()
    unfinished: dict[str, list[OrderRecord]] = {}
    for order in store.orders_in_the_kitchen(instance_id, iso(now - max_age_seconds)):
        if order.pos_client:
            unfinished.setdefault(order.pos_client, []).append(order)
    for key, orders in unfinished.items():
        client = pos.holding(key, instance_id).client
        known = {o.pos_order_id: o.pos_status for o in orders}
        if callable(getattr(client, "statuses_since", None)):
            source = f"pos:{key}"
            since = store.reconcile_cursor(instance_id, source) or min(o.created_at
                                                                       for o in orders)
            changes, newest = client.statuses_since(since, _locations(store, instance_id))
            if newest:
                store.set_reconcile_cursor(instance_id, source, newest)
        else:
            due_ids = [o.pos_order_id for o in orders
                       if due(now - epoch(o.created_at), slot)]
            changes = base.statuses_of(client, due_ids) if due_ids else []
        done.seen += len(changes)
        fresh = [c for c in changes if c.pos_order_id in known
                 and c.status is not None and c.status.value != known[c.pos_order_id]]
        if fresh:
            done.taken += len(statuses.record_changes(store, key, [
                dataclasses.replace(c, callback_id=f"reconcile:{c.pos_order_id}:"
                                                   f"{c.status.value}") for c in fresh]))
    if done.taken:
        logs.warning(log, "reconcile_took_missed_statuses", instance_id=instance_id,
                     asked=sum(len(o) for o in unfinished.values()), taken=done.taken)
    return done


def _locations(store: PosReconcileStore, instance_id: str) -> list[str]:
    """The POS locations the site's locations are paired with."""
    return sorted({c.pos_location_id for c in store.list_configurations(instance_id)
                   if c.pos_location_id})


class _Periodic:
    """A site's reconciliation, one a period: the next is scheduled however this one ends, and
    the chain ends with the app (an install starts it again)."""
    kind: Callable[[str, int], NewJob]

    def __init__(self, store: ReconcileStore | PosReconcileStore, interval: float):
        self.store = store
        self.interval = interval

    def run(self, job: Job) -> None:
        site = job.instance_id or ""
        if self.store.instance_status(site) == "removed":
            return
        self.reconcile(site, job)
        self._next(site)

    def reconcile(self, site: str, job: Job) -> None:
        raise NotImplementedError

    def failed(self, job: Job, reason: str, cause: str | None = None) -> None:
        """Given up on: the next period's run tries again."""
        self._next(job.instance_id or "")

    def _next(self, site: str) -> None:
        schedule(self.store, site, self.interval, after=self.interval, kinds=(self.kind,))


class ReconcileWix(_Periodic):
    """The job: reconcile the site with Wix."""
    kind = staticmethod(jobs.reconcile_wix)

    def __init__(self, store: ReconcileStore, wix: Wix | None, interval: float):
        super().__init__(store, interval)
        self.wix = wix

    def reconcile(self, site: str, job: Job) -> None:
        if self.wix is None:
            raise no_wix(NO_CREDENTIALS_RECHECK_SECONDS)
        with wix_answers(then="; the next attempt searches from where this one started"):
            reconcile_site(self.store, self.wix, site)


class ReconcilePos(_Periodic):
    """The job: ask the site's POS for its unfinished orders' statuses."""
    kind = staticmethod(jobs.reconcile_pos)

    def __init__(self, store: PosReconcileStore, pos: PosClients, interval: float,
                 max_age_seconds: float):
        super().__init__(store, interval)
        self.pos = pos
        self.max_age_seconds = max_age_seconds

    def reconcile(self, site: str, job: Job) -> None:
        with pos_answers():
            reconcile_pos_site(self.store, self.pos, site, int(job.payload.get("slot", 0)),
                               self.max_age_seconds)
