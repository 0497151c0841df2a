"""When an order goes to the POS, and what a cancellation does: the rules that make "exactly once" hold.

Wix may deliver `order_created` (status INITIALIZED or already APPROVED), `order_approved`,
`order_updated` and `order_canceled` in any order and more than once. The rule is:

    an order is sent to the POS the first time Wix says it is APPROVED, whichever event says so.

Every later event about the same order leaves it where it is (QUEUED, SENT, ...). The storage layer
applies these decisions inside one transaction per event, so two events racing cannot both send.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class OrderState(str, Enum):
    RECEIVED = "received"    # known, not approved yet (e.g. INITIALIZED, awaiting payment)
    IGNORED = "ignored"      # no restaurant line items: nothing for the POS
    QUEUED = "queued"        # approved: a send to the POS is pending or under way
    SENT = "sent"            # the POS accepted it and gave its order id
    FAILED = "failed"        # the POS refused it for good or retries ran out (replayable)
    CANCELING = "canceling"  # canceled in Wix after reaching the POS: a cancel is pending
    CANCELED = "canceled"    # canceled, and the POS either never had it or has canceled it


class Action(str, Enum):
    NONE = "none"
    SEND = "send"            # enqueue the order for the POS
    CANCEL = "cancel"        # enqueue a cancellation at the POS


@dataclass(frozen=True)
class Decision:
    state: OrderState
    action: Action = Action.NONE


APPROVED = "APPROVED"
CANCELED = "CANCELED"


def on_order_seen(current: OrderState | None, wix_status: str | None,
                  has_restaurant_items: bool) -> Decision:
    """An order_created / order_approved / order_updated event about an order."""
    if wix_status == CANCELED:
        return on_order_canceled(current)
    if current not in (None, OrderState.RECEIVED, OrderState.IGNORED):
        return Decision(current)
    if not has_restaurant_items:
        return Decision(OrderState.IGNORED)
    if wix_status == APPROVED:
        return Decision(OrderState.QUEUED, Action.SEND)
    return Decision(OrderState.RECEIVED)


def on_order_canceled(current: OrderState | None) -> Decision:
    """An order_canceled event. A send under way notices the cancel when it finishes."""
    if current == OrderState.SENT:
        return Decision(OrderState.CANCELING, Action.CANCEL)
    if current in (OrderState.CANCELING, OrderState.IGNORED):
        return Decision(current)
    return Decision(OrderState.CANCELED)


def after_pos_accepted(current: OrderState) -> Decision:
    """The POS accepted the order: normally SENT, but a cancel may have come in meanwhile."""
    if current == OrderState.CANCELED:
        return Decision(OrderState.CANCELING, Action.CANCEL)
    return Decision(OrderState.SENT)


def should_send(current: OrderState) -> bool:
    """A send job still has work only while its order is QUEUED (a cancel may have overtaken it)."""
    return current == OrderState.QUEUED
