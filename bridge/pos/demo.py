"""The `demo` POS: an in-process stand-in so the bridge can be tried without a real POS.

It accepts every order and answers with a POS order id derived from the idempotency key, so a
retried send gets the same id, as a real POS honouring idempotency would. Then, like a kitchen,
it moves each order through ACCEPTED -> READY -> FULFILLED, one step every
`POS_DEMO_STEP_SECONDS` (default 5), and reports each step to the bridge as a real POS's callback
would, so the demo shows statuses flowing back.
"""
from __future__ import annotations

import copy
import hashlib
import heapq
import itertools
import logging
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Mapping

from bridge import logs
from bridge.domain.imports import PosOrderCreated
from bridge.domain.orders import PosOrder
from bridge.domain.statuses import PosStatus, StatusChange
from bridge.pos import demo_menu
from bridge.pos.base import (CallbackRejected, PosConfig, PosConfigurationError, PosLocation,
                             Report, Setting)

log = logging.getLogger(__name__)

KITCHEN_STEPS = (PosStatus.ACCEPTED, PosStatus.READY, PosStatus.FULFILLED)


class DemoPos:
    name = "demo"
    settings = (Setting("POS_DEMO_STEP_SECONDS", "5",
                        "seconds between the demo kitchen's steps (ACCEPTED, READY, FULFILLED)",
                        owner=True, kind="number", label="Seconds between kitchen steps",
                        hint="The demo kitchen accepts, readies and hands over each order."),
                Setting("POS_DEMO_WALK_IN_SECONDS", "0",
                        "every this many seconds a walk-in order is taken at the demo counter "
                        "and imported into Wix (0: never)", owner=True, kind="number",
                        label="Seconds between walk-in orders",
                        hint="0: no walk-in orders."))

    def __init__(self, report: Report | None = None, step_seconds: float = 5.0, *,
                 report_orders=None, walk_in_seconds: float = 0.0):
        self._report = report
        self._report_orders = report_orders
        self._walk_ins = itertools.count(1)
        self._step_seconds = step_seconds
        self._lock = threading.Condition()
        self._due: list[tuple[float, int, StatusChange]] = []
        self._sequence = itertools.count()
        self._kitchen: threading.Thread | None = None
        self.orders: dict[str, PosOrder] = {}
        self.canceled: set[str] = set()

    @classmethod
    def from_config(cls, config: PosConfig) -> "DemoPos":
        step = _seconds(config.settings, "POS_DEMO_STEP_SECONDS", "5", 3600)
        walk_in = _seconds(config.settings, "POS_DEMO_WALK_IN_SECONDS", "0", 86400)
        client = cls(config.report, step, report_orders=config.report_orders,
                     walk_in_seconds=walk_in)
        if walk_in and config.report_orders is not None:
            threading.Thread(target=client._counter, args=(walk_in,), name="demo-counter",
                             daemon=True).start()
        return client

    # -- the counter: orders taken at the POS ----------------------------------------------

    def walk_in(self) -> str:
        """Take an order at the counter (a Margherita and a lemonade) and report it, as a POS
        reports the orders it took itself; the kitchen then cooks it. Its POS order id."""
        number = next(self._walk_ins)
        pos_order_id = f"walkin-{number}-{uuid.uuid4().hex[:6]}"
        order = {"orderId": pos_order_id, "locationId": "demo-kitchen",
                 "createdAt": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "currency": "USD", "note": "Walk-in", "fulfillmentType": "PICKUP",
                 "customer": {"firstName": "Walk-in", "lastName": f"#{number}"},
                 "items": [{"itemId": "margherita", "name": "Margherita Pizza", "quantity": 1,
                            "price": "11.00"},
                           {"itemId": "lemonade", "name": "Lemonade", "quantity": 2,
                            "price": "3.50"}],
                 "totals": {"subtotal": "18.00", "tax": "1.53", "discount": "0",
                            "total": "19.53"}}
        if self._report_orders is not None:
            self._report_orders([PosOrderCreated(pos_order_id, order, "demo-kitchen",
                                                 f"{pos_order_id}:created")])
        logs.info(log, "demo_pos_walk_in", pos_order_id=pos_order_id)
        if self._report is not None:
            self._schedule(pos_order_id)
        return pos_order_id

    def _counter(self, every: float) -> None:
        while True:
            time.sleep(every)
            try:
                self.walk_in()
            except Exception:
                log.exception("%s", logs.fields("demo_pos_walk_in_failed"))

    def create_order(self, order: PosOrder, *, idempotency_key: str) -> str:
        pos_order_id = "demo-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]
        with self._lock:
            known = pos_order_id in self.orders
            self.orders[pos_order_id] = order
        logs.info(log, "demo_pos_accepted", order_id=order.id, number=order.number,
                  pos_order_id=pos_order_id, items=len(order.items))
        if not known and self._report is not None:
            self._schedule(pos_order_id)
        return pos_order_id

    def check_credentials(self) -> str:
        return "demo-merchant"  # the demo takes any account

    def list_locations(self) -> list[PosLocation]:
        return [PosLocation("demo-kitchen", "The demo kitchen")]

    def fetch_menu(self, location_id: str | None) -> dict:
        return copy.deepcopy(demo_menu.MENU)

    def cancel_order(self, wix_order_id: str, pos_order_id: str, *, idempotency_key: str) -> None:
        with self._lock:
            self.canceled.add(pos_order_id)
        logs.info(log, "demo_pos_canceled", order_id=wix_order_id, pos_order_id=pos_order_id)

    def current_status(self, pos_order_id: str) -> StatusChange | None:
        return None  # its callbacks always carry the status

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> list[StatusChange]:
        raise CallbackRejected("the demo POS reports its statuses in-process, not over HTTP", 404)

    # -- the kitchen -----------------------------------------------------------------------

    def _schedule(self, pos_order_id: str) -> None:
        now = time.monotonic()
        with self._lock:
            for step, status in enumerate(KITCHEN_STEPS, start=1):
                change = StatusChange(pos_order_id, status, callback_id=f"{pos_order_id}:{status.value}")
                heapq.heappush(self._due, (now + step * self._step_seconds, next(self._sequence),
                                           change))
            if self._kitchen is None:
                self._kitchen = threading.Thread(target=self._cook, name="demo-kitchen",
                                                 daemon=True)
                self._kitchen.start()
            self._lock.notify()

    def _cook(self) -> None:
        while True:
            with self._lock:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._lock.wait(max(0.0, self._due[0][0] - time.monotonic()) if self._due
                                    else None)
                _, _, change = heapq.heappop(self._due)
                if change.pos_order_id in self.canceled:
                    continue
            change = StatusChange(change.pos_order_id, change.status,
                                  datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                  change.callback_id)
            try:
                self._report([change])
                logs.info(log, "demo_pos_status", pos_order_id=change.pos_order_id,
                          status=change.status.value)
            except Exception:
                log.exception("%s", logs.fields("demo_pos_report_failed",
                                                pos_order_id=change.pos_order_id))


def _seconds(settings, name: str, default: str, most: float) -> float:
    raw = (settings.get(name) or default).strip() or default
    try:
        value = float(raw)
        if not 0 <= value <= most:
            raise ValueError
    except ValueError:
        raise PosConfigurationError(f"{name} is malformed: {raw!r} is not a number of seconds "
                                    f"between 0 and {most:g}") from None
    return value
