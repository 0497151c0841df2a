"""A restaurant's menu as the POS has it, checked against what Wix menus can hold.

The shape mirrors Wix Restaurants menus (menus -> sections -> items; modifier groups of modifiers;
variants priced per item), each entity keyed by the POS's own id, so a sync maps one to one. The
JSON form (`parse_catalog`) is what a POS answers the `webhook` client's menu request with, and what
the other clients build. An entry Wix could not take (no name, a price that is negative, not a
number or finer than a tenth of a cent, a name over Wix's limits) is left out with its reason;
references to left-out entries are dropped with it, so what remains is whole.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Collection, Mapping

# Wix's limits (menus API).
MAX_NAME = 200
MAX_SECTIONS_PER_MENU = 100
MAX_ITEMS_PER_SECTION = 300
MAX_GROUPS_PER_ITEM = 25


class InvalidCatalog(ValueError):
    """Nothing sensible can be written from this menu. `code` is the sync's failure code."""

    def __init__(self, message: str, code: str = "INVALID_MENU"):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Modifier:
    pos_id: str
    name: str
    in_stock: bool = True


@dataclass(frozen=True)
class Choice:
    modifier_id: str
    price: Decimal = Decimal(0)
    preselected: bool = False


@dataclass(frozen=True)
class ModifierGroup:
    pos_id: str
    name: str
    choices: tuple[Choice, ...] = ()
    required: bool = False
    min_selections: int = 0
    max_selections: int | None = None


@dataclass(frozen=True)
class Variant:
    pos_id: str
    name: str


@dataclass(frozen=True)
class Item:
    pos_id: str
    name: str
    description: str | None = None
    price: Decimal | None = None                            # or priced per variant
    variant_prices: tuple[tuple[str, Decimal], ...] = ()
    modifier_group_ids: tuple[str, ...] = ()
    in_stock: bool = True
    visible: bool = True


@dataclass(frozen=True)
class Section:
    pos_id: str
    name: str
    description: str | None = None
    item_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Menu:
    pos_id: str
    name: str
    description: str | None = None
    section_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalog:
    menus: tuple[Menu, ...] = ()
    sections: tuple[Section, ...] = ()
    items: tuple[Item, ...] = ()
    modifier_groups: tuple[ModifierGroup, ...] = ()
    modifiers: tuple[Modifier, ...] = ()
    variants: tuple[Variant, ...] = ()
    skipped: tuple[str, ...] = field(default=(), compare=False)  # what was left out, and why

    def only(self, menu_ids: Collection[str]) -> "Catalog":
        """The catalog with only the menus the owner chose. Sections, items and the rest stay:
        they are shared by every location of the site, and one no chosen menu shows is not on
        the site anyway. Raises InvalidCatalog when the POS has none of them any more."""
        wanted = set(menu_ids)
        chosen = tuple(m for m in self.menus if m.pos_id in wanted)
        if not chosen:
            raise InvalidCatalog("none of the menus chosen for this location is on the POS any "
                                 "more: choose again", "NO_CHOSEN_MENU")
        return replace(self, menus=chosen)


def item_list(catalog: Catalog) -> list[dict[str, Any]]:
    """The items the catalog's menus show, as their owner reads them: by section, in menu
    order, each with its price ("from" the lowest, when priced per variant) and whether it can
    be ordered."""
    by_id = {i.pos_id: i for i in catalog.items}
    sections = {s.pos_id: s for s in catalog.sections}
    listed: list[dict[str, Any]] = []
    seen: set[str] = set()
    ordered = [sections[sid] for m in catalog.menus for sid in m.section_ids if sid in sections]
    for section in dict.fromkeys(ordered):
        for item_id in section.item_ids:
            if item_id in by_id and item_id not in seen:
                seen.add(item_id)
                listed.append(_listed(by_id[item_id], section.name))
    return listed


def _listed(item: Item, section: str) -> dict[str, Any]:
    prices = [p for _, p in item.variant_prices]
    price = item.price if item.price is not None else (min(prices) if prices else None)
    return {"id": item.pos_id, "name": item.name, "section": section,
            "price": str(price) if price is not None else None,
            "from": item.price is None and len(set(prices)) > 1,
            "available": item.in_stock and item.visible}


def parse_catalog(raw: Any) -> Catalog:
    """The menu in its JSON form; raises InvalidCatalog when there is no menu to write at all."""
    if not isinstance(raw, Mapping):
        raise InvalidCatalog("the menu is not a JSON object")
    skipped: list[str] = []
    modifiers = _each(raw, "modifiers", _modifier, skipped)
    modifier_ids = {m.pos_id for m in modifiers}
    variants = _each(raw, "variants", _variant, skipped)
    variant_ids = {v.pos_id for v in variants}
    groups = _each(raw, "modifierGroups", lambda r: _group(r, modifier_ids, skipped), skipped)
    group_ids = {g.pos_id for g in groups}
    items = _each(raw, "items", lambda r: _item(r, group_ids, variant_ids, skipped), skipped)
    item_ids = {i.pos_id for i in items}
    sections = _each(raw, "sections", lambda r: _section(r, item_ids, skipped), skipped)
    section_ids = {s.pos_id for s in sections}
    menus = _each(raw, "menus", lambda r: _menu(r, section_ids, skipped), skipped)
    if not menus:
        raise InvalidCatalog("the menu has no menu to write" + (
            f" ({'; '.join(skipped[:5])})" if skipped else ""), "EMPTY_MENU")
    return Catalog(tuple(menus), tuple(sections), tuple(items), tuple(groups), tuple(modifiers),
                   tuple(variants), tuple(skipped))


class _Skip(ValueError):
    pass


def _each(raw: Mapping[str, Any], key: str, build, skipped: list[str]) -> list:
    entries = raw.get(key) or []
    if not isinstance(entries, list):
        raise InvalidCatalog(f"{key} is not a list")
    built, seen = [], set()
    for n, entry in enumerate(entries, 1):
        try:
            if not isinstance(entry, Mapping):
                raise _Skip("not an object")
            one = build(entry)
            if one.pos_id in seen:
                raise _Skip(f"id {one.pos_id!r} appears twice")
            seen.add(one.pos_id)
            built.append(one)
        except _Skip as reason:
            label = entry.get("id") if isinstance(entry, Mapping) else None
            skipped.append(f"{key} {label or f'#{n}'}: {reason}")
    return built


def _id(raw: Mapping[str, Any]) -> str:
    value = raw.get("id")
    if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value) == "":
        raise _Skip("no id")
    return str(value)


def _name(raw: Mapping[str, Any]) -> str:
    value = raw.get("name")
    if not isinstance(value, str) or not value.strip():
        raise _Skip("no name")
    if len(value) > MAX_NAME:
        raise _Skip(f"name over {MAX_NAME} characters")
    return value.strip()


def _text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return value if isinstance(value, str) and value else None


def _flag(raw: Mapping[str, Any], key: str, default: bool) -> bool:
    value = raw.get(key, default)
    return value if isinstance(value, bool) else default


def _price(raw: Any, what: str = "price") -> Decimal:
    """A price Wix takes: a decimal string (or integer), not negative, at most 3 decimals."""
    if isinstance(raw, (bool, float)) or not isinstance(raw, (str, int)):
        raise _Skip(f"{what} {raw!r} is not a decimal string")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise _Skip(f"{what} {raw!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise _Skip(f"{what} {raw!r} is negative or not finite")
    if value != value.quantize(Decimal("0.001")):
        raise _Skip(f"{what} {raw!r} has more than 3 decimals")
    return value


def _modifier(raw: Mapping[str, Any]) -> Modifier:
    return Modifier(_id(raw), _name(raw), _flag(raw, "inStock", True))


def _variant(raw: Mapping[str, Any]) -> Variant:
    return Variant(_id(raw), _name(raw))


def _group(raw: Mapping[str, Any], modifier_ids: set[str], skipped: list[str]) -> ModifierGroup:
    pos_id, name = _id(raw), _name(raw)
    choices = []
    for entry in raw.get("modifiers") or []:
        if not isinstance(entry, Mapping) or str(entry.get("modifierId")) not in modifier_ids:
            skipped.append(f"modifierGroups {pos_id}: a modifier that is not in the menu")
            continue
        choices.append(Choice(str(entry["modifierId"]), _price(entry.get("price") or "0",
                                                              "modifier price"),
                              _flag(entry, "preSelected", False)))
    low = raw.get("minSelections") or 0
    high = raw.get("maxSelections")
    if not isinstance(low, int) or (high is not None and not isinstance(high, int)) or low < 0 \
            or (high is not None and high < low):
        raise _Skip("minSelections/maxSelections are not whole numbers in order")
    return ModifierGroup(pos_id, name, tuple(choices), _flag(raw, "required", False), low, high)


def _item(raw: Mapping[str, Any], group_ids: set[str], variant_ids: set[str],
          skipped: list[str]) -> Item:
    pos_id, name = _id(raw), _name(raw)
    variant_prices = []
    for entry in raw.get("variants") or []:
        if not isinstance(entry, Mapping) or str(entry.get("variantId")) not in variant_ids:
            raise _Skip("a variant that is not in the menu")
        variant_prices.append((str(entry["variantId"]), _price(entry.get("price"),
                                                              "variant price")))
    base = raw.get("price")
    if variant_prices and base is not None:
        raise _Skip("both a price and variant prices")
    if not variant_prices and base is None:
        raise _Skip("no price")
    groups = [str(g) for g in raw.get("modifierGroupIds") or []]
    known = tuple(g for g in groups if g in group_ids)
    if len(known) < len(groups):
        skipped.append(f"items {pos_id}: modifier groups not in the menu left out")
    if len(known) > MAX_GROUPS_PER_ITEM:
        raise _Skip(f"more than {MAX_GROUPS_PER_ITEM} modifier groups")
    return Item(pos_id, name, _text(raw, "description"),
                _price(base) if base is not None else None, tuple(variant_prices), known,
                _flag(raw, "inStock", True), _flag(raw, "visible", True))


def _section(raw: Mapping[str, Any], item_ids: set[str], skipped: list[str]) -> Section:
    pos_id, name = _id(raw), _name(raw)
    listed = [str(i) for i in raw.get("itemIds") or []]
    known = tuple(i for i in listed if i in item_ids)
    if len(known) < len(listed):
        skipped.append(f"sections {pos_id}: items not in the menu left out")
    if len(known) > MAX_ITEMS_PER_SECTION:
        raise _Skip(f"more than {MAX_ITEMS_PER_SECTION} items")
    return Section(pos_id, name, _text(raw, "description"), known)


def _menu(raw: Mapping[str, Any], section_ids: set[str], skipped: list[str]) -> Menu:
    pos_id, name = _id(raw), _name(raw)
    listed = [str(s) for s in raw.get("sectionIds") or []]
    known = tuple(s for s in listed if s in section_ids)
    if len(known) < len(listed):
        skipped.append(f"menus {pos_id}: sections not in the menu left out")
    if len(known) > MAX_SECTIONS_PER_MENU:
        raise _Skip(f"more than {MAX_SECTIONS_PER_MENU} sections")
    return Menu(pos_id, name, _text(raw, "description"), known)
