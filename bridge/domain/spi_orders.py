"""The order Wix sends through the POS Integration SPI (Validate Order, Create Order) as a POS
order.

It is the Restaurants order, not the eCommerce one: `lineItems [{quantity, price, comment,
dishOptions, catalogReference}]`, `fulfillment {type, promisedTime, asap, details}`, `customer`,
`totals`, amounts as decimal strings. Wix's documents for it are sparse (marked alpha), so the
reading is tolerant: what is missing is left empty, never guessed; what is malformed raises
InvalidOrder naming it.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

from bridge.domain.orders import (Customer, Fulfillment, InvalidOrder, Item, Modifier, PosOrder,
                                  Totals, address_of, parse_amount, parse_quantity)


def pos_order_from_spi(order: Mapping[str, Any], instance_id: str, *,
                       location_id: str | None = None) -> PosOrder:
    if not isinstance(order, Mapping):
        raise InvalidOrder("order is not an object")
    order_id = order.get("id") or order.get("_id")
    if not order_id or not isinstance(order_id, str):
        raise InvalidOrder("order has no id")
    lines = order.get("lineItems")
    if not isinstance(lines, list) or not lines:
        raise InvalidOrder("order has no lineItems")
    return PosOrder(
        id=order_id,
        number=_text(order.get("number")),
        instance_id=instance_id,
        location_id=location_id or _text(order.get("businessLocationId")),
        created_date=_text(order.get("createdDate")),
        currency=_text(order.get("currency")),
        note=_text(order.get("comment") or order.get("buyerNote")),
        customer=_customer(order.get("customer") or {}),
        fulfillment=_fulfillment(order.get("fulfillment") or {}),
        items=tuple(_item(line, n) for n, line in enumerate(lines, 1)),
        totals=_totals(order.get("totals") or {}),
    )


def _customer(raw: Mapping[str, Any]) -> Customer:
    contact = raw.get("contact") or raw
    return Customer(first_name=_text(contact.get("firstName")),
                    last_name=_text(contact.get("lastName")),
                    phone=_text(contact.get("phone")), email=_text(contact.get("email")))


def _fulfillment(raw: Mapping[str, Any]) -> Fulfillment:
    kind = str(raw.get("type") or "PICKUP").upper()
    if kind not in ("PICKUP", "DELIVERY", "DINE_IN"):
        raise InvalidOrder(f"fulfillment.type {kind!r} is not PICKUP, DELIVERY or DINE_IN")
    details = raw.get("details") or {}
    when = None if raw.get("asap") else _text(raw.get("promisedTime"))
    instructions = _text(details.get("instructions") or details.get("comment"))
    if kind == "DINE_IN":  # the POS protocol knows pickup and delivery: the kitchen must be told
        instructions = "DINE IN" + (f": {instructions}" if instructions else "")
        return Fulfillment("PICKUP", when, when, None, instructions)
    address = details.get("address") if kind == "DELIVERY" else None
    return Fulfillment(kind, when, when, address_of(address),
                       instructions)


def _item(line: Mapping[str, Any], number: int) -> Item:
    if not isinstance(line, Mapping):
        raise InvalidOrder(f"line item {number} is not an object")
    what = f"line item {number}"
    reference = line.get("catalogReference") or {}
    quantity = parse_quantity(line.get("quantity"), what)
    unit_price = parse_amount(line.get("price"), f"price of {what}")
    options = reference.get("options") or {}
    return Item(
        line_item_id=_text(line.get("id")) or str(number),
        catalog_item_id=_text(reference.get("catalogItemId")),
        name=_text(line.get("name") or line.get("itemName")
                   or reference.get("catalogItemName")) or "",
        quantity=quantity,
        unit_price=unit_price,
        total_price=(parse_amount(line["totalPrice"], f"total of {what}")
                     if line.get("totalPrice") else unit_price * quantity),
        modifiers=tuple(_modifiers(line.get("dishOptions") or [], what)),
        menu_id=_text(options.get("menuId")),
        section_id=_text(options.get("sectionId")),
        operation_id=_text(options.get("operationId")),
        note=_text(line.get("comment")),
    )


def _modifiers(options: list[Any], what: str):
    """A dish option's chosen choices are line items themselves (`LineItem` in the POS
    Integration spec): the chosen dish is their `catalogReference` (`catalogItemId`,
    `catalogItemName`); `itemId`/`name` are read where a sender put them flat."""
    for option in options:
        if not isinstance(option, Mapping):
            raise InvalidOrder(f"a dish option of {what} is not an object")
        group = _text(option.get("name"))
        for choice in option.get("selectedChoices") or option.get("choices") or []:
            if not isinstance(choice, Mapping):
                raise InvalidOrder(f"a choice of {what} is not an object")
            price = choice.get("price")
            reference = choice.get("catalogReference")
            reference = reference if isinstance(reference, Mapping) else {}
            yield Modifier(id=_text(reference.get("catalogItemId") or choice.get("itemId")
                                    or choice.get("id")), group=group,
                           name=_text(reference.get("catalogItemName") or choice.get("name"))
                           or "",
                           quantity=parse_quantity(choice.get("quantity", 1), f"a choice of {what}"),
                           price=parse_amount(price, f"price of a choice of {what}")
                           if price else Decimal(0))


def _totals(raw: Mapping[str, Any]) -> Totals:
    def pick(*names: str) -> Decimal:
        for name in names:
            if raw.get(name):
                return parse_amount(raw[name], f"totals.{name}")
        return Decimal(0)

    return Totals(subtotal=pick("subtotal"), tax=pick("tax"),
                  shipping=pick("delivery", "deliveryFee", "shipping"),
                  discount=pick("discount"), total=pick("total"))


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (Mapping, list)):
        return None
    return str(value)
