"""Statuses back to Wix: a POS status change becomes an Update Fulfillment call.

A reported change is stored first (`record_changes`, from a callback or an in-process POS), then a
`wix_status` job per change does the Wix work. Jobs of one order share a lane, so its updates go
out in the order they came in. A change for a POS order id the bridge has not mapped yet is kept
`unmatched` and queued the moment the mapping is stored (`queue_unmatched`).
"""
from __future__ import annotations

import logging

from bridge import logs
from bridge.domain.lifecycle import OrderState
from bridge.domain.orders import restaurant_items
from bridge.domain.statuses import PosStatus, StatusChange, moves_forward
from bridge.pos.base import PosRejected, PosUnavailable
from bridge.pos.registry import NoPosForSite, PosClients
from bridge.service import jobs
from bridge.service.outcomes import NO_WIX, Fail, Retry, no_wix, wix_answers
from bridge.storage.port import Job, OrderRecord, Store, UpdateState
from bridge.wix import fulfillments
from bridge.wix.port import Wix, WixRejected

log = logging.getLogger(__name__)

LOOKUP = "LOOKUP"   # stored status of a report that did not say: the worker asks the POS
NO_CREDENTIALS_RECHECK_SECONDS = 60
APP_REMOVED = "the app was removed from this Wix site: nothing more is sent to it"


def record_changes(store: Store, pos_client: str, changes: list[StatusChange]) -> list[int]:
    """Durably store reported changes (a repeated callback id is stored once); ids stored."""
    stored = []
    with store.transaction():
        for change in changes:
            store.lock_keys(pos_order_key(pos_client, change.pos_order_id))
            newest = (store.newest_status_sequence(pos_client, change.pos_order_id)
                      if change.sequence is not None else None)
            update_id = store.add_status_update(pos_client, change.pos_order_id,
                                                change.status.value if change.status else LOOKUP,
                                                change.occurred_at, change.callback_id,
                                                change.sequence)
            if update_id is None:
                logs.info(log, "status_duplicate", pos=pos_client,
                          pos_order_id=change.pos_order_id, callback_id=change.callback_id)
                continue
            stored.append(update_id)
            if newest is not None and change.sequence <= newest:
                store.set_status_update(update_id, UpdateState.SKIPPED, note=f"stale: sequence "
                                        f"{change.sequence}, newest seen {newest}")
                logs.info(log, "status_stale", pos=pos_client, pos_order_id=change.pos_order_id,
                          sequence=change.sequence, newest=newest)
                continue
            order = store.find_order_by_pos_id(pos_client, change.pos_order_id)
            if order is None:
                logs.info(log, "status_unmatched", pos=pos_client, update=update_id,
                          pos_order_id=change.pos_order_id,
                          status=change.status.value if change.status else LOOKUP)
            else:
                _queue(store, update_id, order, change.status)
    return stored


def order_key(order_id: str) -> str:
    """Applying a Wix event and recording the POS's answer both read the order's state and then
    write it; on a database that runs writers side by side they are serialized on this key."""
    return f"order:{order_id}"


def pos_order_key(pos_client: str, pos_order_id: str) -> str:
    """Storing a POS order's mapping and matching a status to it are serialized on this key:
    otherwise a status stored while the mapping is being written matches nothing, and then
    nobody queues it."""
    return f"pos-order:{pos_client}:{pos_order_id}"


def queue_unmatched(store: Store, order: OrderRecord) -> None:
    """The order's POS id is now known: queue the changes that arrived before it.

    Call inside the transaction that stores the mapping, after `lock_keys(pos_order_key(...))`."""
    for update in store.unmatched_status_updates(order.pos_client, order.pos_order_id):
        _queue(store, update.id, order, _status(update.status))


def record_at_pos(store: Store, *, wix_order_id: str, instance_id: str, pos_key: str,
                  pos_order_id: str, snapshot: dict, number: str | None = None,
                  wix_status: str | None = None, origin: str | None = None,
                  direction: str | None = None) -> None:
    """Store an order the POS has, with its POS id, the way every path must: serialized against
    status reports for that POS order, and with the reports that came first queued. For the
    orders sent or found outside the worker's send (the SPI's, the original app's, imports)."""
    with store.transaction():
        store.lock_keys(order_key(wix_order_id), pos_order_key(pos_key, pos_order_id))
        store.save_order(wix_order_id=wix_order_id, instance_id=instance_id,
                         state=OrderState.SENT.value, snapshot=snapshot, wix_status=wix_status,
                         number=number, origin=origin, direction=direction)
        store.set_order_state(instance_id, wix_order_id, OrderState.SENT.value,
                              pos_client=pos_key, pos_order_id=pos_order_id)
        queue_unmatched(store, store.get_order(instance_id, wix_order_id))


def _status(stored: str) -> PosStatus | None:
    return None if stored == LOOKUP else PosStatus(stored)


def _record_pos_status(store: Store, order: OrderRecord, status: PosStatus) -> None:
    """What the kitchen reported, for `bridge orders`: only forward moves replace it."""
    current = PosStatus(order.pos_status) if order.pos_status else None
    if moves_forward(current, status):
        store.set_order_statuses(order.instance_id, order.wix_order_id, pos_status=status.value)


def _queue(store: Store, update_id: int, order: OrderRecord, status: PosStatus | None) -> None:
    store.set_status_update(update_id, UpdateState.QUEUED, wix_order_id=order.wix_order_id)
    if status is not None:
        _record_pos_status(store, order, status)
    store.enqueue(jobs.wix_status(update_id, order.wix_order_id, order.instance_id))
    logs.info(log, "status_received", order_id=order.wix_order_id, pos_order_id=order.pos_order_id,
              status=status.value if status else LOOKUP, update=update_id)


def fail_for_removed_app(store: Store, instance_id: str) -> int:
    """Fail the site's pending Wix updates; how many there were."""
    abandoned = store.fail_pending_jobs(instance_id, jobs.Kind.WIX_STATUS, APP_REMOVED)
    for job in abandoned:
        store.set_status_update(job.payload["update_id"], UpdateState.FAILED, note=APP_REMOVED)
        logs.warning(log, "status_abandoned", order_id=job.order_id, job=job.id,
                     reason=APP_REMOVED)
    return len(abandoned)


class SyncStatus:
    """Tell Wix one status change: PATCH the restaurant fulfillment, or create it if missing."""

    def __init__(self, store: Store, wix: Wix | None, pos: PosClients):
        self.store = store
        self.wix = wix
        self.pos = pos

    def run(self, job: Job) -> None:
        update = self.store.get_status_update(job.payload["update_id"])
        order = self.store.get_order(job.instance_id, job.order_id)
        if update is None or order is None:
            raise Fail(f"status update {job.payload['update_id']} or its order is not stored")
        status = _status(update.status) or self._look_up(order, update.id)
        if status is None:
            return
        if status == PosStatus.CANCELED:
            self._canceled_by_pos(order, update.id)
            return
        told = PosStatus(order.wix_fulfillment_status) if order.wix_fulfillment_status else None
        if not moves_forward(told, status):
            self.store.set_status_update(update.id, UpdateState.SKIPPED,
                                         note=f"Wix already has {told.value}: not sent")
            logs.info(log, "status_skipped", order_id=order.wix_order_id, status=status.value,
                      wix_has=told.value)
            return
        if self.store.instance_status(order.instance_id) == "removed":
            raise Fail(APP_REMOVED)
        if self.wix is None:
            self.store.set_status_update(update.id, UpdateState.QUEUED, note=NO_WIX)
            raise no_wix(NO_CREDENTIALS_RECHECK_SECONDS)
        fulfillment_id = self._tell_wix(order, status)
        with self.store.transaction():
            self.store.set_order_statuses(order.instance_id, order.wix_order_id,
                                          wix_fulfillment_status=status.value,
                                          wix_fulfillment_id=fulfillment_id)
            self.store.set_status_update(update.id, UpdateState.SENT)
        logs.info(log, "status_sent", order_id=order.wix_order_id, status=status.value,
                  fulfillment_id=fulfillment_id, attempt=job.attempts)

    def _look_up(self, order: OrderRecord, update_id: int) -> PosStatus | None:
        """The report did not say: ask the POS what the order's status is now."""
        try:
            client = self.pos.holding(order.pos_client, order.instance_id).client
            change = client.current_status(order.pos_order_id)
        except NoPosForSite as error:
            raise Fail(str(error)) from None
        except PosRejected as error:
            raise Fail(f"the POS would not say the order's status: {error}") from None
        except PosUnavailable as error:
            raise Retry(str(error)) from None
        if change is None or change.status is None:
            self.store.set_status_update(update_id, UpdateState.SKIPPED,
                                         note="the POS reports no status change")
            return None
        self.store.set_status_update(update_id, UpdateState.QUEUED, status=change.status.value)
        _record_pos_status(self.store, order, change.status)
        return change.status

    def _tell_wix(self, order: OrderRecord, status: PosStatus) -> str | None:
        items = restaurant_items(order.snapshot)
        try:
            with wix_answers():
                fulfillment_id = order.wix_fulfillment_id or fulfillments.pick(
                    self.wix.list_fulfillments(order.instance_id, order.wix_order_id),
                    {li["id"] for li in items})
                if fulfillment_id:
                    self.wix.update_fulfillment(order.instance_id, order.wix_order_id,
                                                fulfillment_id, fulfillments.update_body(status))
                    return fulfillment_id
                return self.wix.create_fulfillment(order.instance_id, order.wix_order_id,
                                                   fulfillments.create_body(status, items))
        except WixRejected as error:
            if error.status == 404 and order.wix_fulfillment_id:
                # The remembered fulfillment is gone: look again on the next attempt.
                self.store.set_order_statuses(order.instance_id, order.wix_order_id,
                                              forget_fulfillment=True)
                raise Retry(f"{error}; the fulfillment will be looked up again") from None
            raise Fail(str(error)) from None

    def _canceled_by_pos(self, order: OrderRecord, update_id: int) -> None:
        with self.store.transaction():
            self.store.set_order_state(order.instance_id, order.wix_order_id,
                                       OrderState.CANCELED.value, error="canceled by the POS")
            self.store.set_order_statuses(order.instance_id, order.wix_order_id,
                                          pos_status=PosStatus.CANCELED.value)
            self.store.set_status_update(update_id, UpdateState.SENT,
                                         note="canceled by the POS: no fulfillment change in Wix")
        logs.warning(log, "order_canceled_by_pos", order_id=order.wix_order_id,
                     pos_order_id=order.pos_order_id)

    def failed(self, job: Job, reason: str, cause: str | None = None) -> None:
        self.store.set_status_update(job.payload["update_id"], UpdateState.FAILED, note=reason)
