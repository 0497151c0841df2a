"""What the dashboard's pages show of stored things, in the owner's terms: times in the site's
time zone, an order's contents, and its state with what to do about it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Mapping
from zoneinfo import ZoneInfo, available_timezones

from bridge.domain.failures import Cause
from bridge.domain.lifecycle import OrderState
from bridge.domain.orders import InvalidOrder, pos_order_from_wix, to_json
from bridge.storage.port import OrderRecord
from bridge.web.dashboard import glossary


@lru_cache(maxsize=1)
def time_zones() -> list[str]:
    """The IANA names an owner may choose from, sorted; the ones without a region are left out."""
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/")) \
        + ["UTC"]


def local(at: str | None, zone: str | None, *, with_date: bool = True) -> str:
    """An ISO UTC time as the site's clock shows it, e.g. '2027-01-14 22:00 EST'."""
    if not at:
        return "-"
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return at
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    shown = moment.astimezone(ZoneInfo(zone or "UTC"))
    return shown.strftime("%Y-%m-%d %H:%M %Z" if with_date else "%H:%M %Z")


def contents(order: OrderRecord) -> dict[str, Any] | None:
    """The order as the POS receives it (docs/pos-clients.md's ORDER): customer, items with
    their modifiers, totals, pickup or delivery. None when it cannot be read, or holds nothing
    for the kitchen."""
    snapshot = order.snapshot or {}
    if isinstance(snapshot.get("posOrder"), Mapping):
        return dict(snapshot["posOrder"])
    try:
        built = pos_order_from_wix(snapshot, order.instance_id)
    except (InvalidOrder, TypeError, ValueError, KeyError):
        return None
    return to_json(built) if built else None


def customer_name(form: Mapping[str, Any] | None) -> str:
    customer = (form or {}).get("customer") or {}
    name = " ".join(p for p in (customer.get("firstName"), customer.get("lastName")) if p)
    return name or "-"


def items_line(form: Mapping[str, Any] | None) -> str:
    """'2 × Margherita, 1 × Cola': the list's one-line summary."""
    return ", ".join(f"{i.get('quantity')} × {i.get('name')}" for i in (form or {}).get("items")
                     or [])


def money(amount: Any, currency: str | None) -> str:
    if amount in (None, ""):
        return "-"
    return f"{amount} {currency}" if currency else str(amount)


@dataclass(frozen=True)
class OwnerState:
    """An order's state as its owner reads it: a short label, what it means, the tone of its
    badge, and the fix the page offers ('locations', 'menus', 'account', 'replay'), if any."""
    label: str
    meaning: str
    tone: str
    fixes: tuple[str, ...] = ()


_TONES = {OrderState.SENT: "ok", OrderState.FAILED: "bad", OrderState.QUEUED: "warn",
          OrderState.CANCELING: "warn", OrderState.RECEIVED: "idle",
          OrderState.IGNORED: "idle", OrderState.CANCELED: "idle"}


def owner_state(order: OrderRecord, *, held: bool) -> OwnerState:
    """`held`: the site's POS is not answering (its breaker is open)."""
    state = OrderState(order.state)
    if state == OrderState.FAILED:
        label, meaning, fixes = glossary.FAILURES.get(order.failure or Cause.POS_SILENT,
                                                      glossary.FAILURES[Cause.POS_SILENT])
        return OwnerState(label, meaning, "bad", fixes)
    if state == OrderState.QUEUED and held:
        return OwnerState("held, your POS is not answering",
                          "It goes as soon as your POS answers again; nothing is lost.", "warn")
    if state == OrderState.QUEUED and order.last_error:  # no usable POS account (SendOrder)
        return OwnerState("waiting for your POS account",
                          "It goes once your POS account is connected and working.", "warn",
                          ("account",))
    return OwnerState(glossary.ORDER_LABELS.get(state.value, state.value),
                      glossary.ORDER_STATES.get(state.value, ""), _TONES.get(state, "idle"))
