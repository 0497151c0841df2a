"""Order export: Wix order events become POS orders, exactly once.

Three job kinds (named in `jobs`), each a small handler the worker runs:
- `process_event`: apply a stored Wix event to the order's state (domain.lifecycle decides) and
  enqueue a send or a cancel. Local only, so it is quick and never waits on the POS.
- `send_order`: build the POS order from the newest snapshot and hand it to the POS client.
- `cancel_order`: ask the POS to cancel an order it accepted.
Enqueueing is keyed by order, so a second approval cannot add a second send, and every send of
one order carries the same idempotency key.
"""
from __future__ import annotations

import dataclasses
import logging

from bridge import logs
from bridge.domain import lifecycle
from bridge.domain.failures import Cause
from bridge.domain.lifecycle import Action, OrderState
from bridge.domain.orders import InvalidOrder, pos_order_from_wix, restaurant_items
from bridge.pos.registry import PosClients
from bridge.service import imports, inbox, incidents, jobs, reconcile, statuses
from bridge.service.accounts import AccountError, NotRoutable, SiteAccounts
from bridge.service.outcomes import Fail, Wait, pos_answers
from bridge.storage.port import Direction, Import, Job, Store
from bridge.wix import events as wix_events
from bridge.wix.events import WixEvent

log = logging.getLogger(__name__)


def _apply(store: Store, order_id: str, instance_id: str, decision: lifecycle.Decision) -> None:
    if decision.action == Action.SEND:
        store.enqueue(jobs.send_order(order_id, instance_id))
    elif decision.action == Action.CANCEL:
        store.enqueue(jobs.cancel_order(order_id, instance_id))


class ProcessEvent:
    def __init__(self, store: Store, *, app_id: str | None = None,
                 reconcile_seconds: float = 0.0):
        self.store = store
        self.app_id = app_id  # to know the orders this app created in Wix (imports)
        self.reconcile_seconds = reconcile_seconds  # an install starts the site's reconciling

    def run(self, job: Job) -> None:
        event = inbox.load(self.store, job.payload["event_id"])
        if event is None:
            raise Fail(f"event {job.payload['event_id']} is not stored")
        if event.event_type == wix_events.APP_INSTALLED:
            if self._instance(event, "installed"):
                logs.info(log, "app_installed", instance_id=event.instance_id)
                self.store.enqueue(jobs.list_configurations(event.instance_id, event.id))
                reconcile.schedule(self.store, event.instance_id, self.reconcile_seconds)
        elif event.event_type == wix_events.APP_REMOVED:
            if self._instance(event, "removed"):
                logs.info(log, "app_removed", instance_id=event.instance_id)
                abandoned = statuses.fail_for_removed_app(self.store, event.instance_id)
                if abandoned:
                    incidents.incident(
                        self.store, event.instance_id, incidents.IncidentKind.APP_REMOVED,
                        event.id, f"The app was removed while {abandoned} order update(s) were "
                        "on their way to Wix", statuses.APP_REMOVED)
        elif event.event_type in wix_events.ORDER_EVENTS:
            self._order_event(event)

    def _instance(self, event: WixEvent, status: str) -> bool:
        """Applied by the site's state: a resend, or a removal older than the latest install,
        changes nothing."""
        if self.store.set_instance(event.instance_id, status, at=event.event_time):
            return True
        logs.info(log, "app_event_unchanged", event_id=event.id, type=event.event_type,
                  instance_id=event.instance_id, signed_at=event.event_time)
        return False

    def _order_event(self, event: WixEvent) -> None:
        order_id = event.order_id
        if not order_id:
            raise Fail(f"{event.event_type} event {event.id} names no order")
        order = dict(event.order or {})
        with self.store.transaction():
            self.store.lock_keys(statuses.order_key(order_id))
            current = self.store.get_order(event.instance_id, order_id)
            if current is None and order and self._own_import(event, order):
                return
            state = OrderState(current.state) if current else None
            if event.event_type == wix_events.ORDER_CANCELED:
                decision = lifecycle.on_order_canceled(state)
            else:
                if not order:
                    raise Fail(f"{event.event_type} event {event.id} carries no order")
                try:
                    restaurant = restaurant_items(order)
                except InvalidOrder as error:
                    raise Fail(f"{event.event_type} event {event.id}: the order cannot be "
                               f"read: {error}") from None
                decision = lifecycle.on_order_seen(state, order.get("status"), bool(restaurant))
            newer = (current is None or event.sequence is None or current.sequence is None
                     or event.sequence >= current.sequence)
            fresh = newer and bool(order)
            self.store.save_order(
                wix_order_id=order_id, instance_id=event.instance_id, state=decision.state.value,
                snapshot=order if fresh else None,
                wix_status=order.get("status") if fresh else None,
                sequence=event.sequence if fresh else None,
                number=str(order["number"]) if fresh and order.get("number") else None)
            _apply(self.store, order_id, event.instance_id, decision)
        logs.info(log, "order_event_applied", event_id=event.id, type=event.event_type,
                  order_id=order_id, state=decision.state.value,
                  action=decision.action.value if decision.action != Action.NONE else None)

    def _own_import(self, event: WixEvent, order: dict) -> bool:
        """Wix sends the orders the bridge imported back as new: recorded, never sent to the
        POS (the import job records the rest once it has Wix's answer)."""
        found = imports.own_import(self.store, event.instance_id, order, self.app_id)
        if not found:
            return False
        self.store.save_order(wix_order_id=event.order_id, instance_id=event.instance_id,
                              state=OrderState.SENT.value, snapshot=order,
                              wix_status=order.get("status"), sequence=event.sequence,
                              number=str(order["number"]) if order.get("number") else None,
                              direction=Direction.IMPORTED)
        if isinstance(found, Import):
            self.store.set_order_state(event.instance_id, event.order_id, OrderState.SENT.value,
                                       pos_client=found.pos_client,
                                       pos_order_id=found.pos_order_id)
        logs.info(log, "import_echo_recorded", event_id=event.id, type=event.event_type,
                  order_id=event.order_id, note="an order the bridge imported: not sent to the POS")
        return True

    def failed(self, job: Job, reason: str, cause: str | None = None) -> None:
        pass  # the event stays stored; `bridge show` lists the failed job with its reason


class SendOrder:
    def __init__(self, store: Store, pos: PosClients, accounts: SiteAccounts):
        self.store = store
        self.pos = pos
        self.accounts = accounts

    def run(self, job: Job) -> None:
        record = self.store.get_order(job.instance_id, job.order_id)
        if record is None:
            raise Fail(f"order {job.order_id} is not stored")
        if not lifecycle.should_send(OrderState(record.state)):
            logs.info(log, "order_send_skipped", order_id=record.wix_order_id, state=record.state)
            return
        try:
            pos_order = pos_order_from_wix(record.snapshot, record.instance_id)
        except InvalidOrder as error:
            raise Fail(f"order cannot be sent: {error}", Cause.UNREADABLE) from None
        if pos_order is None:
            raise Fail("order has no restaurant items", Cause.UNREADABLE)
        try:
            with pos_answers():
                site = self.pos.site(record.instance_id)
        except Wait as waiting:  # no POS for the site yet: the order says why, for its owner
            self.store.set_order_state(record.instance_id, record.wix_order_id, record.state,
                                       error=str(waiting))
            raise
        try:
            pos_order = self.accounts.route(site, pos_order)
        except NotRoutable as error:
            raise Fail(str(error), error.cause) from None
        except AccountError as error:
            raise Fail(str(error), Cause.ACCOUNT) from None
        with pos_answers():
            pos_order_id = site.client.create_order(pos_order, idempotency_key=job.key)
        with self.store.transaction():
            self.store.lock_keys(statuses.order_key(record.wix_order_id),
                                 statuses.pos_order_key(site.key, pos_order_id))
            # Stored under the POS's key, as its callbacks are: the entry point name for the
            # environment's POS, name@account for a site's own (a client's `name` may differ).
            twin = self.store.find_order_by_pos_id(site.key, pos_order_id)
            if twin and twin.wix_order_id != record.wix_order_id:
                raise Fail(f"the POS answered with order id {pos_order_id}, which it gave to "
                           f"order {twin.wix_order_id} already", Cause.DUPLICATE_POS_ID)
            current = self.store.get_order(record.instance_id, record.wix_order_id)
            decision = lifecycle.after_pos_accepted(OrderState(current.state))
            self.store.set_order_state(record.instance_id, record.wix_order_id,
                                       decision.state.value,
                                       pos_client=site.key, pos_order_id=pos_order_id)
            _apply(self.store, record.wix_order_id, record.instance_id, decision)
            statuses.queue_unmatched(self.store, dataclasses.replace(
                current, state=decision.state.value, pos_client=site.key,
                pos_order_id=pos_order_id))
        logs.info(log, "order_sent", order_id=record.wix_order_id, number=record.number,
                  pos=site.key, pos_order_id=pos_order_id, items=len(pos_order.items),
                  attempt=job.attempts)

    def failed(self, job: Job, reason: str, cause: str | None = None) -> None:
        """Without a cause of its own the POS never took it: it refused to answer, try after
        try, or took too long each time."""
        record = self.store.get_order(job.instance_id, job.order_id)
        if record and record.state == OrderState.QUEUED:
            self.store.set_order_state(job.instance_id, job.order_id, OrderState.FAILED.value,
                                       error=reason, failure=cause or Cause.POS_SILENT)
            incidents.incident(self.store, record.instance_id,
                               incidents.IncidentKind.ORDER_FAILED, record.wix_order_id,
                               f"Order #{record.number or record.wix_order_id} did not reach "
                               "your POS", reason)


class CancelOrder:
    def __init__(self, store: Store, pos: PosClients):
        self.store = store
        self.pos = pos

    def run(self, job: Job) -> None:
        record = self.store.get_order(job.instance_id, job.order_id)
        if record is None or record.state != OrderState.CANCELING or not record.pos_order_id:
            return
        with pos_answers():
            client = self.pos.holding(record.pos_client, record.instance_id).client
            client.cancel_order(record.wix_order_id, record.pos_order_id, idempotency_key=job.key)
        self.store.set_order_state(record.instance_id, record.wix_order_id,
                                   OrderState.CANCELED.value)
        logs.info(log, "order_canceled_at_pos", order_id=record.wix_order_id,
                  pos_order_id=record.pos_order_id)

    def failed(self, job: Job, reason: str, cause: str | None = None) -> None:
        self.store.set_order_state(job.instance_id, job.order_id, OrderState.FAILED.value,
                                   error=f"cancel at the POS failed: {reason}",
                                   failure=Cause.CANCEL_FAILED)
        incidents.incident(self.store, job.instance_id,
                               incidents.IncidentKind.ORDER_FAILED, f"cancel:{job.order_id}",
                               f"Order {job.order_id} was canceled in Wix, but your POS did "
                               "not cancel it", reason)
