"""The `demo` POS: an in-process stand-in so the bridge can be tried without a real POS.

It accepts every order and answers with a POS order id derived from the idempotency key, so a
retried send gets the same id, as a real POS honouring idempotency would answer.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from typing import Mapping

from bridge import logs
from bridge.domain.orders import PosOrder
from bridge.domain.statuses import StatusChange
from bridge.pos.base import CallbackRejected, PosConfig

log = logging.getLogger(__name__)


class DemoPos:
    name = "demo"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.orders: dict[str, PosOrder] = {}
        self.canceled: set[str] = set()

    @classmethod
    def from_config(cls, config: PosConfig) -> "DemoPos":
        return cls()

    def create_order(self, order: PosOrder, *, idempotency_key: str) -> str:
        pos_order_id = "demo-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]
        with self._lock:
            self.orders[pos_order_id] = order
        logs.info(log, "demo_pos_accepted", order_id=order.id, number=order.number,
                  pos_order_id=pos_order_id, items=len(order.items))
        return pos_order_id

    def cancel_order(self, wix_order_id: str, pos_order_id: str, *, idempotency_key: str) -> None:
        with self._lock:
            self.canceled.add(pos_order_id)
        logs.info(log, "demo_pos_canceled", order_id=wix_order_id, pos_order_id=pos_order_id)

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> list[StatusChange]:
        raise CallbackRejected("the demo POS takes no callbacks over HTTP", 404)
