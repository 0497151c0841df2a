"""The POS-neutral order: what a restaurant's POS needs to cook and hand over an online order.

Built from a Wix eCommerce order by pure functions, so the mapping can be tested without Flask,
SQL or HTTP. The JSON form (`to_json`) is the ORDER of the `webhook` POS protocol
(docs/pos-clients.md).
Amounts stay `Decimal` here and decimal strings on the wire: a float never touches money.
"""
from __future__ import annotations

import copy

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

RESTAURANTS_APP_ID = "9a5d83fd-8570-482e-81ab-cfa88942ee60"
"""`catalogReference.appId` of line items sold through the Wix Restaurants Orders app."""


class InvalidOrder(ValueError):
    """The Wix order lacks something the POS cannot do without; retrying will not help."""


@dataclass(frozen=True)
class Modifier:
    id: str | None
    group: str | None
    name: str
    quantity: int
    price: Decimal


@dataclass(frozen=True)
class Item:
    line_item_id: str
    catalog_item_id: str | None
    name: str
    quantity: int
    unit_price: Decimal
    total_price: Decimal
    modifiers: tuple[Modifier, ...] = ()
    menu_id: str | None = None
    section_id: str | None = None
    operation_id: str | None = None
    note: str | None = None            # the customer's request for this item
    pos_item_id: str | None = None     # the POS's id for it, when the site's items are mapped


@dataclass(frozen=True)
class Customer:
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Fulfillment:
    type: str  # PICKUP or DELIVERY
    promised_from: str | None = None
    promised_to: str | None = None
    address: Mapping[str, Any] | None = None
    instructions: str | None = None


# What of a delivery address the bridge keeps and passes on: the fields of Wix's address (eCommerce
# and Restaurants), and of the original app's. Anything else in an address is dropped.
ADDRESS_TEXT = ("addressLine", "addressLine1", "addressLine2", "formatted", "city", "subdivision",
                "country", "countryCode", "postalCode", "street", "number", "apt", "floor",
                "entrance", "comment", "countryFullname", "subdivisionFullname")
ADDRESS_PARTS = {"streetAddress": ("number", "name", "apt"), "location": ("latitude", "longitude"),
                 "latLng": ("lat", "lng")}
MAX_ADDRESS_TEXT = 500


def address_of(raw: Any) -> dict[str, Any] | None:
    """A delivery address, field by field: known fields with plain values only."""
    if not isinstance(raw, Mapping):
        return None
    kept: dict[str, Any] = {k: _plain(raw[k]) for k in ADDRESS_TEXT
                            if _plain(raw.get(k)) is not None}
    for part, fields in ADDRESS_PARTS.items():
        inner = raw.get(part)
        if isinstance(inner, Mapping):
            values = {k: _plain(inner[k]) for k in fields if _plain(inner.get(k)) is not None}
            if values:
                kept[part] = values
    return kept or None


def _plain(value: Any) -> str | int | float | None:
    if isinstance(value, str):
        return value[:MAX_ADDRESS_TEXT]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return None


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)
    shipping: Decimal = Decimal(0)
    discount: Decimal = Decimal(0)
    total: Decimal = Decimal(0)


@dataclass(frozen=True)
class Payment:
    type: str          # cash, credit, ... as the channel names it; never card data
    amount: Decimal


@dataclass(frozen=True)
class PosOrder:
    id: str
    number: str | None
    instance_id: str
    location_id: str | None
    created_date: str | None
    currency: str | None
    note: str | None
    customer: Customer
    fulfillment: Fulfillment
    items: tuple[Item, ...]
    totals: Totals = field(default_factory=Totals)
    pos_location_id: str | None = None  # the paired POS location, for a site with an account
    payments: tuple[Payment, ...] = ()   # known for the original Restaurants app's orders


def is_restaurant_item(line_item: Mapping[str, Any]) -> bool:
    reference = line_item.get("catalogReference")
    return isinstance(reference, Mapping) and reference.get("appId") == RESTAURANTS_APP_ID


def restaurant_items(wix_order: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The order's Wix Restaurants line items; InvalidOrder when its line items are not a list
    of objects (the event is then failed once, visibly, not retried)."""
    lines = wix_order.get("lineItems") or []
    if not isinstance(lines, list) or not all(isinstance(li, Mapping) for li in lines):
        raise InvalidOrder("lineItems is not a list of line items")
    return [li for li in lines if is_restaurant_item(li)]


def pos_order_from_wix(wix_order: Mapping[str, Any], instance_id: str) -> PosOrder | None:
    """The POS order for a Wix order, or None when it holds no restaurant items.

    Only restaurant line items go to the POS; the totals are Wix's for the whole order.
    """
    items = restaurant_items(wix_order)
    if not items:
        return None
    order_id = wix_order.get("id") or wix_order.get("_id")
    if not order_id:
        raise InvalidOrder("order has no id")
    return PosOrder(
        id=order_id,
        number=_str_or_none(wix_order.get("number")),
        instance_id=instance_id,
        location_id=(wix_order.get("businessLocation") or {}).get("id"),
        created_date=wix_order.get("createdDate"),
        currency=wix_order.get("currency"),
        note=wix_order.get("buyerNote"),
        customer=_customer(wix_order),
        fulfillment=_fulfillment(wix_order),
        items=tuple(_item(li) for li in items),
        totals=_totals(wix_order.get("priceSummary") or {}),
    )


def _customer(wix_order: Mapping[str, Any]) -> Customer:
    contact = ((wix_order.get("recipientInfo") or {}).get("contactDetails")
               or (wix_order.get("billingInfo") or {}).get("contactDetails") or {})
    return Customer(
        first_name=contact.get("firstName"),
        last_name=contact.get("lastName"),
        phone=contact.get("phone"),
        email=(wix_order.get("buyerInfo") or {}).get("email"),
    )


def _fulfillment(wix_order: Mapping[str, Any]) -> Fulfillment:
    logistics = (wix_order.get("shippingInfo") or {}).get("logistics") or {}
    slot = logistics.get("deliveryTimeSlot") or {}
    promised_from = slot.get("from") or logistics.get("deliveryTime")
    promised_to = slot.get("to") or logistics.get("deliveryTime")
    destination = logistics.get("shippingDestination")
    if destination:
        return Fulfillment("DELIVERY", promised_from, promised_to,
                           address_of(destination.get("address")),
                           logistics.get("instructions"))
    return Fulfillment("PICKUP", promised_from, promised_to, None, logistics.get("instructions"))


def _item(li: Mapping[str, Any]) -> Item:
    reference = li.get("catalogReference") or {}
    options = reference.get("options") or {}
    quantity = parse_quantity(li.get("quantity"), f"line item {li.get('id')}")
    unit_price = parse_amount(li.get("price"), f"price of line item {li.get('id')}")
    total = li.get("totalPriceAfterTax") or li.get("totalPriceBeforeTax")
    total_price = (parse_amount(total, f"total of line item {li.get('id')}") if total
                   else unit_price * quantity)
    if not li.get("id"):
        raise InvalidOrder("a restaurant line item has no id")
    return Item(
        line_item_id=li["id"],
        catalog_item_id=reference.get("catalogItemId"),
        name=_translated(li.get("productName")) or "",
        quantity=quantity,
        unit_price=unit_price,
        total_price=total_price,
        modifiers=tuple(
            Modifier(
                id=m.get("id"),
                group=_translated(group.get("name")),
                name=_translated(m.get("label")) or "",
                quantity=parse_quantity(m.get("quantity", 1), f"modifier {m.get('id')}"),
                price=parse_amount(m.get("price"), f"price of modifier {m.get('id')}") if m.get("price") else Decimal(0),
            )
            for group in li.get("modifierGroups") or []
            for m in group.get("modifiers") or []
        ),
        menu_id=options.get("menuId"),
        section_id=options.get("sectionId"),
        operation_id=options.get("operationId"),
    )


def _totals(summary: Mapping[str, Any]) -> Totals:
    def pick(name: str) -> Decimal:
        return parse_amount(summary[name], f"priceSummary.{name}") if summary.get(name) else Decimal(0)

    return Totals(subtotal=pick("subtotal"), tax=pick("tax"), shipping=pick("shipping"),
                  discount=pick("discount"), total=pick("total"))


def parse_amount(price: Any, what: str) -> Decimal:
    """Wix prices are `{"amount": "14.00", ...}`; a bare string is tolerated."""
    raw = price.get("amount") if isinstance(price, Mapping) else price
    if isinstance(raw, float) or raw is None:
        raise InvalidOrder(f"{what}: amount {raw!r} is not a decimal string")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise InvalidOrder(f"{what}: amount {raw!r} is not a decimal string") from None
    if not value.is_finite():
        raise InvalidOrder(f"{what}: amount {raw!r} is not finite")
    return value


def parse_quantity(raw: Any, what: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise InvalidOrder(f"{what}: quantity {raw!r} is not a whole number")
    try:
        quantity = int(raw)
    except ValueError:
        raise InvalidOrder(f"{what}: quantity {raw!r} is not a whole number") from None
    if quantity <= 0:
        raise InvalidOrder(f"{what}: quantity {quantity} is not positive")
    return quantity


def _translated(text: Any) -> str | None:
    if isinstance(text, Mapping):
        return text.get("translated") or text.get("original")
    return text


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def to_json(order: PosOrder) -> dict[str, Any]:
    """The ORDER of the `webhook` POS protocol (docs/pos-clients.md), amounts as decimal strings."""
    return {
        "id": order.id,
        "number": order.number,
        "instanceId": order.instance_id,
        "locationId": order.location_id,
        "createdDate": order.created_date,
        "currency": order.currency,
        "note": order.note,
        "customer": {
            "firstName": order.customer.first_name,
            "lastName": order.customer.last_name,
            "phone": order.customer.phone,
            "email": order.customer.email,
        },
        "fulfillment": {
            "type": order.fulfillment.type,
            "promisedFrom": order.fulfillment.promised_from,
            "promisedTo": order.fulfillment.promised_to,
            "address": dict(order.fulfillment.address) if order.fulfillment.address else None,
            "instructions": order.fulfillment.instructions,
        },
        "items": [
            {
                "lineItemId": item.line_item_id,
                "catalogItemId": item.catalog_item_id,
                "name": item.name,
                "quantity": item.quantity,
                "unitPrice": str(item.unit_price),
                "totalPrice": str(item.total_price),
                "modifiers": [
                    {"id": m.id, "group": m.group, "name": m.name,
                     "quantity": m.quantity, "price": str(m.price)}
                    for m in item.modifiers
                ],
                "menuId": item.menu_id,
                "sectionId": item.section_id,
                "operationId": item.operation_id,
                **_present(note=item.note, posItemId=item.pos_item_id),
            }
            for item in order.items
        ],
        "totals": {
            "subtotal": str(order.totals.subtotal),
            "tax": str(order.totals.tax),
            "shipping": str(order.totals.shipping),
            "discount": str(order.totals.discount),
            "total": str(order.totals.total),
        },
        **_present(posLocationId=order.pos_location_id,
                   payments=[{"type": p.type, "amount": str(p.amount)} for p in order.payments]
                   or None),
    }


def stored_form(order: PosOrder) -> dict[str, Any]:
    """What the bridge keeps of an order pushed to it (the original app's, the SPI's): the POS
    order it built, field by field, and nothing else of the body (no card, no token, no field
    the bridge does not use)."""
    return {"posOrder": to_json(order)}


def _present(**fields: Any) -> dict[str, Any]:
    """Fields a single-restaurant bridge never sets are left out, not sent as null."""
    return {k: v for k, v in fields.items() if v is not None}


# What is kept of a finished order once its customer's details are dropped (retention): its
# ids, states, items and totals, for support; no name, phone, email, address or note.
_KEPT_FIELDS = frozenset({
    "id", "number", "status", "currency", "createdDate", "updatedDate", "purchasedDate",
    "priceSummary", "lineItems", "businessLocation", "channelInfo", "fulfillmentStatus",
    "paymentStatus", "archived",                         # a Wix order
    "instanceId", "locationId", "posLocationId", "items", "totals",   # the bridge's POS form
})


def without_customer(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """An order as stored (a Wix order, or `stored_form`'s), its customer's details dropped."""
    kept: dict[str, Any] = {k: copy.deepcopy(v) for k, v in snapshot.items() if k in _KEPT_FIELDS}
    if isinstance(snapshot.get("posOrder"), Mapping):
        kept["posOrder"] = without_customer(snapshot["posOrder"])
    fulfillment = snapshot.get("fulfillment")
    if isinstance(fulfillment, Mapping) and fulfillment.get("type"):
        kept["fulfillment"] = {"type": fulfillment["type"]}
    for item in kept.get("items") or []:
        if isinstance(item, dict):
            item.pop("note", None)                       # the customer's words on an item
    return kept
