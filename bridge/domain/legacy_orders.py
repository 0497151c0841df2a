"""An order of the original Wix Restaurants app (its POS webhook) as a POS order.

The body is `{"menu": Menu, "order": Order}`: money in the currency's minor units, times in epoch
milliseconds, names in locale maps, an item's chosen options (`variationsChoices`) named through
the menu in the same body. The currency is not in the order: it is the site's. Anything missing
or malformed raises InvalidOrder naming it (`unknown_item` for an item the menu does not define).
Card data (`cards`, a payment's `card`, saved-payment secrets) is never read into the POS order.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Mapping

from bridge.domain.money import from_minor_units
from bridge.domain.orders import (Customer, Fulfillment, InvalidOrder, Item, Modifier, Payment,
                                  PosOrder, Totals, address_of)


class UnknownItem(InvalidOrder):
    """An order item, or a chosen option, names an item the menu does not define."""


def pos_order_from_legacy(body: Any, instance_id: str, currency: str) -> PosOrder:
    if not isinstance(body, Mapping):
        raise InvalidOrder("the body is not a JSON object")
    order, menu = body.get("order"), body.get("menu") or {}
    if not isinstance(order, Mapping):
        raise InvalidOrder("order is missing")
    if not isinstance(menu, Mapping):
        raise InvalidOrder("menu is not an object")
    order_id = order.get("id")
    if not isinstance(order_id, str) or not order_id:
        raise InvalidOrder("order.id is missing")
    lines = order.get("orderItems")
    if not isinstance(lines, list) or not lines:
        raise InvalidOrder("order.orderItems is empty")
    locale = order.get("locale") if isinstance(order.get("locale"), str) else None
    items_by_id = {i["id"]: i for i in _list(menu.get("items"), "menu.items")
                   if isinstance(i, Mapping) and isinstance(i.get("id"), str)}
    reader = _Reader(items_by_id, locale, currency)
    items = tuple(reader.item(line, n) for n, line in enumerate(lines, 1))
    delivery = _object(order.get("delivery"), "order.delivery")
    charge = reader.money(delivery.get("charge", 0), "delivery.charge")
    charges = sum((reader.money(c.get("amount", 0), "charges.amount")
                   for c in _list(order.get("charges"), "order.charges")
                   if isinstance(c, Mapping)), Decimal(0))
    subtotal = sum((i.total_price for i in items), Decimal(0))
    total = reader.money(order.get("price"), "order.price")
    contact = _object(order.get("contact"), "order.contact")
    return PosOrder(
        id=order_id,
        number=None,
        instance_id=instance_id,
        location_id=None,
        created_date=_iso(order.get("created"), "order.created"),
        currency=currency,
        note=_text(order.get("comment")),
        customer=Customer(_text(contact.get("firstName")), _text(contact.get("lastName")),
                          _text(contact.get("phone")), _text(contact.get("email"))),
        fulfillment=_fulfillment(delivery, order.get("submitAt")),
        items=items,
        totals=Totals(subtotal=subtotal, shipping=charge,
                      discount=-charges if charges < 0 else Decimal(0), total=total),
        payments=tuple(Payment(str(p.get("type") or "unknown"),
                               reader.money(p.get("amount", 0), "payments.amount"))
                       for p in _list(order.get("payments"), "order.payments")
                       if isinstance(p, Mapping)),
    )


class _Reader:
    def __init__(self, menu_items: Mapping[str, Mapping[str, Any]], locale: str | None,
                 currency: str):
        self.menu_items = menu_items
        self.locale = locale
        self.currency = currency

    def money(self, raw: Any, what: str) -> Decimal:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise InvalidOrder(f"{what} {raw!r} is not a whole number of minor units")
        return from_minor_units(raw, self.currency)

    def name(self, item_id: str, what: str) -> tuple[str, Mapping[str, Any]]:
        item = self.menu_items.get(item_id)
        if item is None:
            raise UnknownItem(f"{what}: item {item_id!r} is not in the order's menu")
        return _localized(item.get("title"), self.locale) or item_id, item

    def item(self, line: Any, number: int) -> Item:
        what = f"orderItems[{number}]"
        if not isinstance(line, Mapping) or not isinstance(line.get("itemId"), str):
            raise InvalidOrder(f"{what} has no itemId")
        name, menu_item = self.name(line["itemId"], what)
        count = _count(line.get("count", 1), what)
        price = self.money(line.get("price", 0), f"{what}.price")
        modifiers = tuple(self.choices(line, what))
        one = price + sum((m.price * m.quantity for m in modifiers), Decimal(0))
        externals = menu_item.get("externalIds") or {}
        pos_id = next(iter(externals.values())) if isinstance(externals, Mapping) and \
            len(externals) == 1 else None
        return Item(line_item_id=f"{number}", catalog_item_id=line["itemId"], name=name,
                    quantity=count, unit_price=price, total_price=one * count,
                    modifiers=modifiers, note=_text(line.get("comment")),
                    pos_item_id=str(pos_id) if pos_id else None)

    def choices(self, line: Mapping[str, Any], what: str, group_prefix: str = ""):
        """Every chosen option, nested choices flattened (their count multiplies)."""
        variations = _list(line.get("variations"), f"{what}.variations")
        for index, chosen in enumerate(_list(line.get("variationsChoices"),
                                             f"{what}.variationsChoices")):
            variation = variations[index] if index < len(variations) else {}
            group = _localized(variation.get("title") if isinstance(variation, Mapping) else None,
                               self.locale)
            for choice in _list(chosen, f"{what}.variationsChoices"):
                if not isinstance(choice, Mapping) or not isinstance(choice.get("itemId"), str):
                    raise InvalidOrder(f"{what}: a chosen option has no itemId")
                name, _ = self.name(choice["itemId"], what)
                count = _count(choice.get("count", 1), f"{what} option {name}")
                yield Modifier(choice["itemId"], group_prefix + (group or ""), name, count,
                               self.money(choice.get("price", 0), f"{what} option price"))
                yield from self.choices(choice, what, f"{name} / ")


def _fulfillment(delivery: Mapping[str, Any], submit_at: Any) -> Fulfillment:
    kind = str(delivery.get("type") or "takeout").lower()
    if kind not in ("takeout", "delivery"):
        raise InvalidOrder(f"delivery.type {kind!r} is not takeout or delivery")
    when = _iso(delivery.get("time"), "delivery.time")
    note = "ASAP" if submit_at is None and delivery.get("timeGuarantee") != "before" else None
    if kind == "delivery":
        address = delivery.get("address")
        if not isinstance(address, Mapping):
            raise InvalidOrder("delivery.address is missing for a delivery")
        return Fulfillment("DELIVERY", when, when, address_of(address),
                           _text(address.get("comment")))
    return Fulfillment("PICKUP", when, when, None, note if when is None else None)


def _count(raw: Any, what: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        raise InvalidOrder(f"{what}: count {raw!r} is not a positive whole number")
    return raw


def _iso(raw: Any, what: str) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise InvalidOrder(f"{what} {raw!r} is not epoch milliseconds")
    try:
        return datetime.fromtimestamp(raw / 1000, timezone.utc).isoformat(timespec="milliseconds")
    except (OverflowError, OSError, ValueError):
        raise InvalidOrder(f"{what} {raw!r} is not a time") from None


def _object(raw: Any, what: str) -> Mapping[str, Any]:
    """An optional object of the body: {} when absent, InvalidOrder when it is something else."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidOrder(f"{what} is not an object")
    return raw


def _list(raw: Any, what: str) -> list[Any]:
    """An optional list of the body: [] when absent, InvalidOrder when it is something else."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidOrder(f"{what} is not a list")
    return raw


def _localized(text: Any, locale: str | None) -> str | None:
    if isinstance(text, str):
        return text
    if isinstance(text, Mapping) and text:
        value = text.get(locale) if locale else None
        return value or next(iter(text.values()))
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
