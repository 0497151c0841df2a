"""What a site's owner must hear of: an order that failed for good, a menu sync that failed,
their POS not answering, the app removed with orders still pending.

Each incident is recorded once (its site, kind and what it is about: a retry is not a new one),
logged in one line for the operator, and handed to a `notify` job
(`bridge.service.notifications`), which waits for the digest window so that the incidents of a
burst go out as one message.
"""
from __future__ import annotations

import logging
from enum import StrEnum
from typing import Protocol

from bridge import logs
from bridge.service import jobs
from bridge.storage.port import Incidents, JobQueue, Transactions

log = logging.getLogger(__name__)


class IncidentKind(StrEnum):
    ORDER_FAILED = "order_failed"
    SYNC_FAILED = "sync_failed"
    POS_UNREACHABLE = "pos_unreachable"
    APP_REMOVED = "app_removed_with_orders"


class IncidentStore(Incidents, JobQueue, Transactions, Protocol):
    """An incident is recorded and its notification queued in one transaction."""


def incident(store: IncidentStore, instance_id: str | None, kind: IncidentKind, key: str,
             subject: str, detail: str | None = None) -> None:
    if not instance_id:
        return
    with store.transaction():
        incident_id = store.record_incident(instance_id, kind, key, subject, detail)
        if incident_id is not None:
            store.enqueue(jobs.notify(instance_id, f"incident:{incident_id}"))
    if incident_id is not None:
        logs.warning(log, "owner_incident", instance_id=instance_id, kind=kind.value, key=key,
                     subject=subject)
