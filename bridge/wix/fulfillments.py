"""Which Wix fulfillment carries a restaurant order's status, and what to PATCH it with. Pure.

Wix Restaurants creates a `Pending` fulfillment for restaurant orders by itself; the bridge moves
that one along. Wix refuses changes to a fulfillment's line items, so an update carries only
`status` (and `completed` once fulfilled).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from bridge.domain.statuses import WIX_FULFILLMENT_STATUS, PosStatus


def update_body(status: PosStatus) -> dict[str, Any]:
    body: dict[str, Any] = {"status": WIX_FULFILLMENT_STATUS[status]}
    if status == PosStatus.FULFILLED:
        body["completed"] = True
    return body


def create_body(status: PosStatus, line_items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A new fulfillment covering the order's restaurant line items."""
    return {"lineItems": [{"id": li["id"], "quantity": int(li.get("quantity") or 1)}
                          for li in line_items],
            "status": WIX_FULFILLMENT_STATUS[status],
            "completed": status == PosStatus.FULFILLED}


def pending_body(line_items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The `Pending` fulfillment of an order the bridge created in Wix (an import)."""
    return {"lineItems": [{"id": li["id"], "quantity": int(li.get("quantity") or 1)}
                          for li in line_items], "status": "Pending"}


def pick(fulfillments: Iterable[Mapping[str, Any]], line_item_ids: set[str]) -> str | None:
    """The fulfillment sharing the most line items with the restaurant items, if any does."""
    best, best_overlap = None, 0
    for fulfillment in fulfillments:
        ids = {li.get("id") for li in fulfillment.get("lineItems") or []}
        overlap = len(ids & line_item_ids)
        if overlap > best_overlap and fulfillment.get("id"):
            best, best_overlap = fulfillment["id"], overlap
    return best
