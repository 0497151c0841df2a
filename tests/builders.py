"""Small builders for test data: Wix orders, their events, and signed webhooks."""
from __future__ import annotations

import copy
import json
import time
import uuid
from typing import Any

import jwt

from bridge.domain.orders import RESTAURANTS_APP_ID
from bridge.wix import events as wix_events
from bridge.wix.sandbox import order_event, sample_order

POS_URL = "http://pos.test/orders"
WIX_URL = "http://wix.test"
POS_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
INSTANCE = "044667f4-c13f-46c2-8506-de9e42293896"
OTHER_APP = "215238eb-22a5-4c36-9e7b-e7c08025e04e"


def an_order(*, status: str = "APPROVED", restaurant: int = 2, other: int = 1,
             **fields: Any) -> dict[str, Any]:
    """A Wix order with `restaurant` restaurant line items and `other` items of another app."""
    order = sample_order(status=status)
    restaurant_items = [li for li in order["lineItems"]
                        if li["catalogReference"]["appId"] == RESTAURANTS_APP_ID]
    other_item = next(li for li in order["lineItems"]
                      if li["catalogReference"]["appId"] != RESTAURANTS_APP_ID)
    items = []
    for i in range(restaurant):
        item = copy.deepcopy(restaurant_items[i % len(restaurant_items)])
        item["id"] = str(uuid.uuid4())
        items.append(item)
    for _ in range(other):
        item = copy.deepcopy(other_item)
        item["id"] = str(uuid.uuid4())
        items.append(item)
    order["lineItems"] = items
    order.update(fields)
    return order


class Signer:
    """Plays Wix: signs webhook JWTs with the tests' own key."""

    def __init__(self, private_key):
        self.private_key = private_key

    def claims(self, data: dict[str, Any], event_type: str, instance_id: str = INSTANCE) -> dict:
        envelope = {"instanceId": instance_id, "eventType": event_type,
                    "identity": json.dumps({"identityType": "APP"}), "data": json.dumps(data)}
        return {"data": json.dumps(envelope), "iat": int(time.time())}

    def token(self, data: dict[str, Any], event_type: str, instance_id: str = INSTANCE,
              key=None, algorithm: str = "RS256") -> str:
        return jwt.encode(self.claims(data, event_type, instance_id), key or self.private_key,
                          algorithm=algorithm)

    def order_webhook(self, order: dict[str, Any], event_type: str = wix_events.ORDER_CREATED,
                      sequence: int = 1, instance_id: str = INSTANCE) -> str:
        return self.token(order_event(order, event_type, sequence), event_type, instance_id)

    def claims_token(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private_key, algorithm="RS256")


def accepted(pos_order_id: str) -> dict[str, Any]:
    return {"value": {"orderId": pos_order_id}}


def pos_error(code: str) -> dict[str, Any]:
    return {"error": {"code": code, "description": f"the POS says {code}"}}


def signed_callback(body: dict[str, Any] | bytes, *, secret: str = POS_SECRET,
                    msg_id: str | None = None, at: float | None = None) -> tuple[bytes, dict]:
    """A `webhook` POS status callback, signed as Standard Webhooks says."""
    from datetime import datetime, timezone

    from standardwebhooks import Webhook
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    when = datetime.fromtimestamp(at if at is not None else time.time(), timezone.utc)
    return raw, {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
                 "webhook-signature": Webhook(secret).sign(msg_id, when, raw.decode()),
                 "content-type": "application/json"}


def numbered_pos_ids(request):
    """A `responses` callback for a POS that gives each order an id of its own, by its number."""
    time.sleep(0.005)  # a POS takes a moment to answer: another worker gets its turn
    return 200, {}, json.dumps(accepted(f"pos-{json.loads(request.body)['order']['number']}"))
