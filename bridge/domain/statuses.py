"""Kitchen statuses reported by a POS, and how they show in Wix.

Statuses only move forward: an older status than the one Wix already has is recorded, not sent.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class PosStatus(str, Enum):
    ACCEPTED = "ACCEPTED"
    READY = "READY"
    IN_DELIVERY = "IN_DELIVERY"
    FULFILLED = "FULFILLED"
    CANCELED = "CANCELED"


# Position in the kitchen's flow; CANCELED stands outside it.
_RANK = {PosStatus.ACCEPTED: 1, PosStatus.READY: 2, PosStatus.IN_DELIVERY: 3, PosStatus.FULFILLED: 4}

# The Wix fulfillment `status` (case-sensitive) for each POS status.
WIX_FULFILLMENT_STATUS = {
    PosStatus.ACCEPTED: "Accepted",
    PosStatus.READY: "Ready",
    PosStatus.IN_DELIVERY: "In_Delivery",
    PosStatus.FULFILLED: "Fulfilled",
}


@dataclass(frozen=True)
class StatusChange:
    """A POS's report about one of its orders. `status` None means the report did not say what
    the status is (e.g. Square's `order.updated`): the worker asks the POS client."""
    pos_order_id: str
    status: PosStatus | None
    occurred_at: str | None = None
    callback_id: str | None = None   # the POS's own id for the callback, for dedupe when it has one
    sequence: int | None = None      # the POS's ordering of its reports (e.g. an order version)
    merchant_id: str | None = None   # the POS account it is about, when the report says


def parse_status(raw: object) -> PosStatus:
    try:
        return PosStatus(str(raw).upper())
    except ValueError:
        raise ValueError(f"unknown status {raw!r}; expected one of "
                         f"{', '.join(s.value for s in PosStatus)}") from None


def moves_forward(current: PosStatus | None, new: PosStatus) -> bool:
    """True when `new` is later in the flow than `current` (a repeat is not a move)."""
    if new == PosStatus.CANCELED:
        return current != PosStatus.CANCELED
    if current == PosStatus.CANCELED:
        return False
    return _RANK[new] > (_RANK.get(current, 0) if current else 0)
