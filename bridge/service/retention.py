"""Keeping nothing longer than needed: customers' details, webhook bodies and history age out.

- `BRIDGE_KEEP_CUSTOMER_DAYS` (30): the bodies of processed webhooks and of imported POS orders,
  and the customer's details in finished orders (sent, canceled or ignored, and untouched since),
  which keep their ids, states, items and totals for support; a site removed that long ago has
  every order's details dropped.
- `BRIDGE_KEEP_HISTORY_DAYS` (90): finished jobs with their attempts, and POS reports that never
  matched an order.
0 keeps that kind forever. The `prune` job does it each hour, a small batch per transaction so
intake never waits long behind it; `bridge prune --dry-run` says what it would do.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Protocol

from bridge import logs
from bridge.domain.orders import without_customer
from bridge.service import jobs
from bridge.storage.port import Instances, Job, JobQueue, Retention, iso

log = logging.getLogger(__name__)

DAY = 86400.0
BATCH = 200                      # rows a transaction: a webhook waits for at most one
PERIOD_SECONDS = 3600.0          # the prune job's period
BATCHES_A_RUN = 200              # then it hands over, and runs again a minute later

KINDS = ("webhook_bodies", "customer_details", "import_bodies", "removed_sites_orders",
         "history", "unmatched_reports")


class RetentionStore(Retention, JobQueue, Instances, Protocol):
    """What ages out, and the queue the prune job is on."""


@dataclass(frozen=True)
class Policy:
    customer_days: float = 30.0
    history_days: float = 90.0


def prune(store: RetentionStore, policy: Policy, *, dry_run: bool = False,
          batches: int | None = None) -> dict[str, int]:
    """What was (with `dry_run`: would be) dropped, by kind. `batches`: at most this many
    batches of each kind in this call (None: until done)."""
    now = store.clock()
    customer = iso(now - policy.customer_days * DAY) if policy.customer_days else None
    history = iso(now - policy.history_days * DAY) if policy.history_days else None
    done = dict.fromkeys(KINDS, 0)
    removed = store.sites_removed_before(customer) if customer else []
    if dry_run:
        if customer:
            done["webhook_bodies"] = store.count_event_bodies(customer)
            done["customer_details"] = store.count_orders_to_redact(customer)
            done["import_bodies"] = store.count_import_bodies(customer)
            done["removed_sites_orders"] = sum(store.count_orders_to_redact(customer, instance_id=s)
                                               for s in removed)
        if history:
            done["history"] = store.count_history(history)
            done["unmatched_reports"] = store.count_unmatched_reports(history)
        return done
    if customer:
        done["webhook_bodies"] = _batches(lambda: store.blank_event_bodies(customer, BATCH),
                                          batches)
        done["customer_details"] = _batches(lambda: _redact(store, customer, None), batches)
        done["import_bodies"] = _batches(lambda: store.forget_import_bodies(customer, BATCH),
                                         batches)
        for site in removed:
            done["removed_sites_orders"] += _batches(lambda: _redact(store, customer, site),
                                                     batches)
    if history:
        done["history"] = _batches(lambda: store.delete_history(history, BATCH), batches)
        done["unmatched_reports"] = _batches(
            lambda: store.delete_unmatched_reports(history, BATCH), batches)
    if any(done.values()):
        logs.info(log, "pruned", **done)
    return done


def _batches(one: Callable[[], int], limit: int | None) -> int:
    """Run batches until one comes back short (or `limit` of them ran): the rows handled."""
    total, runs = 0, 0
    while limit is None or runs < limit:
        handled = one()
        total += handled
        runs += 1
        if handled < BATCH:
            break
    return total


def _redact(store: RetentionStore, before: str, site: str | None) -> int:
    orders = store.orders_to_redact(before, BATCH, instance_id=site)
    store.redact_orders([(o.instance_id, o.wix_order_id, without_customer(o.snapshot))
                         for o in orders])
    return len(orders)


def schedule(store: JobQueue, *, after: float = 0.0) -> None:
    """The next prune, once whoever schedules it (its key names the hour)."""
    slot = int((store.clock() + after) // PERIOD_SECONDS)
    store.enqueue(jobs.prune(slot), delay=after)


class Prune:
    """The job: one run's worth of batches; sooner again while there is more."""

    def __init__(self, store: RetentionStore, policy: Policy):
        self.store = store
        self.policy = policy

    def run(self, job: Job) -> None:
        done = prune(self.store, self.policy, batches=BATCHES_A_RUN)
        more = any(count >= BATCH * BATCHES_A_RUN for count in done.values())
        if more:  # a backlog (a first run on an old database): the rest a minute on
            self.store.enqueue(jobs.prune(int(self.store.clock()), more=True), delay=60)
        schedule(self.store, after=PERIOD_SECONDS)

    def failed(self, job: Job, reason: str, cause: str | None = None) -> None:
        schedule(self.store, after=PERIOD_SECONDS)
