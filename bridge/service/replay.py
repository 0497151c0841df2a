"""Replaying failed work: the job goes back in the queue with fresh attempts, and what it was
about (the order, the status update) goes back to the state that work starts from."""
from __future__ import annotations

from typing import Protocol

from bridge.domain.lifecycle import OrderState
from bridge.service import jobs
from bridge.storage.port import (ImportState, Imports, JobQueue, Orders, StatusUpdates,
                                 Transactions, UpdateState)

_ORDER_STATE = {jobs.Kind.SEND_ORDER: OrderState.QUEUED,
                jobs.Kind.CANCEL_ORDER: OrderState.CANCELING}


class ReplayStore(Transactions, JobQueue, Orders, StatusUpdates, Imports, Protocol):
    """Failed jobs go back with what they were working on."""


def replay(store: ReplayStore, *, order: tuple[str, str] | None = None, job_id: int | None = None,
           status_update_id: int | None = None, import_id: int | None = None) -> list[int]:
    """Re-queue failed jobs: all of an order's (`order`: its site and Wix id), one job, one
    status update's, or one import's (an order taken at the POS). Their ids."""
    key = (jobs.wix_status_key(status_update_id) if status_update_id
           else jobs.import_key(import_id) if import_id else None)
    with store.transaction():
        ids = store.replay(order=order, job_id=job_id, key=key)
        for id_ in ids:
            job = store.get_job(id_)
            if job.kind in _ORDER_STATE and job.order_id:
                store.set_order_state(job.instance_id, job.order_id,
                                      _ORDER_STATE[job.kind].value)
            elif job.kind == jobs.Kind.WIX_STATUS:
                store.set_status_update(job.payload["update_id"], UpdateState.QUEUED)
            elif job.kind == jobs.Kind.IMPORT_ORDER:
                # Creating: whatever it was, Wix is searched before the order is made again.
                store.set_import(job.payload["import_id"], ImportState.CREATING)
    return ids
