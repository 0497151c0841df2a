"""Orders taken at the POS (counter, phone, another channel), as the Wix orders the bridge
creates for them.

A POS reports one as a `PosOrderCreated`: its id and, when the report carries it, the order in
the bridge's import form (`parse_pos_order`; docs/pos-clients.md documents it); otherwise the worker
fetches it. `wix_order_body` is the Create Order request, pure: the items are Wix restaurant items
found through the catalog sync's identifiers, and an item that maps to nothing stops the import
(never half an order in Wix).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

from bridge.domain.orders import (RESTAURANTS_APP_ID, Customer, InvalidOrder, parse_amount,
                                  parse_quantity)

OTHER_PLATFORM = "OTHER_PLATFORM"   # channelInfo.type of an order from a third-party POS
MAX_EXTERNAL_ID = 100


@dataclass(frozen=True)
class PosOrderCreated:
    """A POS's report of an order it took itself. `order`: its import form, or None (fetch)."""
    pos_order_id: str
    order: Mapping[str, Any] | None = None
    location_id: str | None = None   # the POS location, to tell the site when nothing else does
    callback_id: str | None = None
    merchant_id: str | None = None


class UnmappedItem(InvalidOrder):
    """An item of the POS order has no Wix restaurant item (yet): sync the menu, then replay."""


@dataclass(frozen=True)
class ImportedModifier:
    pos_id: str | None
    name: str
    quantity: int
    price: Decimal


@dataclass(frozen=True)
class ImportedItem:
    pos_id: str
    name: str
    quantity: int
    price: Decimal
    modifiers: tuple[ImportedModifier, ...] = ()


@dataclass(frozen=True)
class ImportedOrder:
    pos_order_id: str
    location_id: str | None
    created_at: str | None
    currency: str
    note: str | None
    customer: Customer
    items: tuple[ImportedItem, ...]
    subtotal: Decimal
    tax: Decimal
    discount: Decimal
    total: Decimal
    fulfillment: str = "PICKUP"


def parse_pos_order(raw: Any) -> ImportedOrder:
    """The import form: `{"orderId", "locationId", "createdAt", "currency", "note", "customer",
    "fulfillmentType", "items": [{"itemId", "name", "quantity", "price", "modifiers": [...]}],
    "totals": {"subtotal", "tax", "discount", "total"}}`. Raises InvalidOrder naming the field."""
    if not isinstance(raw, Mapping):
        raise InvalidOrder("the order is not an object")
    order_id = raw.get("orderId")
    if not isinstance(order_id, (str, int)) or isinstance(order_id, bool) or order_id == "":
        raise InvalidOrder("orderId is missing")
    if len(str(order_id)) > MAX_EXTERNAL_ID:
        raise InvalidOrder(f"orderId is over {MAX_EXTERNAL_ID} characters")
    lines = raw.get("items")
    if not isinstance(lines, list) or not lines:
        raise InvalidOrder("the order has no items")
    totals = raw.get("totals") or {}
    if not isinstance(totals, Mapping) or totals.get("total") is None:
        raise InvalidOrder("totals.total is missing")
    customer = raw.get("customer") or {}
    kind = str(raw.get("fulfillmentType") or "PICKUP").upper()
    if kind not in ("PICKUP", "DELIVERY", "DINE_IN"):
        raise InvalidOrder(f"fulfillmentType {kind!r} is not PICKUP, DELIVERY or DINE_IN")
    return ImportedOrder(
        pos_order_id=str(order_id),
        location_id=_text(raw.get("locationId")),
        created_at=_text(raw.get("createdAt")),
        currency=_text(raw.get("currency")) or "USD",
        note=_text(raw.get("note")),
        customer=Customer(_text(customer.get("firstName")), _text(customer.get("lastName")),
                          _text(customer.get("phone")), _text(customer.get("email")))
        if isinstance(customer, Mapping) else Customer(),
        items=tuple(_item(line, n) for n, line in enumerate(lines, 1)),
        subtotal=_total(totals, "subtotal"), tax=_total(totals, "tax"),
        discount=_total(totals, "discount"), total=_total(totals, "total"),
        fulfillment=kind)


MAX_DESCRIPTION_LINES = 20  # LineItem.descriptionLines @maxSize (@wix/auto_sdk_ecom_orders)


def wix_order_body(order: ImportedOrder, *, items: Mapping[str, str],
                   placements: Mapping[str, tuple[str, str]], business_location_id: str | None,
                   operation_id: str | None, notify_buyer: bool) -> dict[str, Any]:
    """The Create Order request. `items`: POS id -> Wix item id; `placements`: Wix item id ->
    (menu id, section id). A Restaurants line item names its operation, menu and section (Wix's
    Restaurants Online Orders sample flows: "You must specify" them), or the order would not
    reach the restaurant's orders board: an import missing one is refused (UnmappedItem).

    A line item's `modifierGroups` is read-only (@wix/auto_sdk_ecom_orders@1.0.300): the chosen
    modifiers go in its `descriptionLines`, which the orders board shows."""
    check_mapped(order, items)
    if not operation_id:
        raise UnmappedItem("no Wix Restaurants operation serves this location: set up online "
                           "ordering for it in Wix, then replay the import")
    unplaced = [f"{i.name or i.pos_id} ({i.pos_id})" for i in order.items
                if items[i.pos_id] not in placements]
    if unplaced:
        raise UnmappedItem(f"{', '.join(unplaced)} is on no Wix menu of this location: sync the "
                           "menu, then replay the import")
    line_items = []
    for item in order.items:
        wix_id = items[item.pos_id]
        menu_id, section_id = placements[wix_id]
        line: dict[str, Any] = {
            "quantity": item.quantity,
            "price": {"amount": _money(item.price)},
            "productName": {"original": item.name},
            "itemType": {"preset": "PHYSICAL"},
            "catalogReference": {"appId": RESTAURANTS_APP_ID, "catalogItemId": wix_id,
                                 "options": {"operationId": operation_id, "menuId": menu_id,
                                             "sectionId": section_id}},
        }
        if item.modifiers:
            line["descriptionLines"] = [
                {"name": {"original": "Option"},
                 "plainText": {"original": m.name + (f" x{m.quantity}" if m.quantity != 1
                                                     else "")}}
                for m in item.modifiers[:MAX_DESCRIPTION_LINES]]
        line_items.append(line)
    contact = {"firstName": order.customer.first_name or "Walk-in",
               **({"lastName": order.customer.last_name} if order.customer.last_name else {}),
               **({"phone": order.customer.phone} if order.customer.phone else {})}
    wix: dict[str, Any] = {
        "status": "APPROVED",
        "channelInfo": {"type": OTHER_PLATFORM, "externalOrderId": order.pos_order_id},
        "currency": order.currency,
        "lineItems": line_items,
        "priceSummary": {name: {"amount": _money(value)} for name, value in (
            ("subtotal", order.subtotal), ("tax", order.tax), ("discount", order.discount),
            ("total", order.total))},
        "billingInfo": {"contactDetails": contact},
    }
    if business_location_id:
        wix["businessLocation"] = {"id": business_location_id}
    if order.note:
        wix["buyerNote"] = order.note
    if order.customer.email:
        wix["buyerInfo"] = {"email": order.customer.email}
    return {"order": wix, "settings": {"notifications": {
        "sendNotificationToBuyer": notify_buyer, "sendNotificationsToBusiness": False}}}


def check_mapped(order: ImportedOrder, items: Mapping[str, str]) -> None:
    """Raise UnmappedItem naming each item with no Wix restaurant item (POS id -> Wix id)."""
    missing = [f"{i.name or i.pos_id} ({i.pos_id})" for i in order.items if i.pos_id not in items]
    if missing:
        raise UnmappedItem(f"no Wix restaurant item for {', '.join(missing)}: sync the menu "
                           "(`bridge sync`), then replay the import")


def _item(line: Any, number: int) -> ImportedItem:
    what = f"item {number}"
    if not isinstance(line, Mapping):
        raise InvalidOrder(f"{what} is not an object")
    pos_id = line.get("itemId")
    if not isinstance(pos_id, (str, int)) or isinstance(pos_id, bool) or pos_id == "":
        raise InvalidOrder(f"{what} has no itemId")
    modifiers = []
    for modifier in line.get("modifiers") or []:
        if not isinstance(modifier, Mapping):
            raise InvalidOrder(f"a modifier of {what} is not an object")
        modifiers.append(ImportedModifier(
            _text(modifier.get("modifierId")), _text(modifier.get("name")) or "",
            parse_quantity(modifier.get("quantity", 1), f"a modifier of {what}"),
            parse_amount(modifier.get("price") or "0", f"a modifier of {what}")))
    return ImportedItem(str(pos_id), _text(line.get("name")) or "",
                        parse_quantity(line.get("quantity"), what),
                        parse_amount(line.get("price"), f"price of {what}"), tuple(modifiers))


def _total(totals: Mapping[str, Any], name: str) -> Decimal:
    raw = totals.get(name)
    return parse_amount(raw, f"totals.{name}") if raw is not None else Decimal(0)


def _money(amount: Decimal) -> str:
    return format(amount, "f")


def _text(value: Any) -> str | None:
    return None if value is None or isinstance(value, (Mapping, list)) else str(value)
