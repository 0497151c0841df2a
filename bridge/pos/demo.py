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
from datetime import datetime, timezone
from typing import Mapping

from bridge import logs
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
                        "seconds between the demo kitchen's steps (ACCEPTED, READY, FULFILLED)"),)

    def __init__(self, report: Report | None = None, step_seconds: float = 5.0):
        self._report = report
        self._step_seconds = step_seconds
        self._lock = threading.Condition()
        self._due: list[tuple[float, int, StatusChange]] = []
        self._sequence = itertools.count()
        self._kitchen: threading.Thread | None = None
        self.orders: dict[str, PosOrder] = {}
        self.canceled: set[str] = set()

    @classmethod
    def from_config(cls, config: PosConfig) -> "DemoPos":
        raw = config.settings.get("POS_DEMO_STEP_SECONDS", "5")
        try:
            step = float(raw)
            if not 0 <= step <= 3600:
                raise ValueError
        except ValueError:
            raise PosConfigurationError(f"POS_DEMO_STEP_SECONDS is malformed: {raw!r} is not a "
                                        "number of seconds between 0 and 3600") from None
        return cls(config.report, step)

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
