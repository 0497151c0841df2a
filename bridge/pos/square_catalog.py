"""Square's Catalog as the bridge's menu form: categories become sections of one menu, items
their items, item variations either the item itself (one variation: its id is what an order
sends as `catalog_object_id`) or its priced variants, modifier lists the modifier groups.

Pure: `menu_from_catalog` takes the objects Square listed (every page) and the location.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from bridge.domain.money import from_minor_units

UNCATEGORIZED = "uncategorized"


def menu_from_catalog(objects: Iterable[Mapping[str, Any]], location_id: str | None,
                      menu_name: str = "Menu") -> dict[str, Any]:
    by_type: dict[str, list[Mapping[str, Any]]] = {}
    for obj in objects:
        if isinstance(obj, Mapping) and not obj.get("is_deleted"):
            by_type.setdefault(str(obj.get("type")), []).append(obj)
    items, variants, sections = [], [], {}
    categories = {c["id"]: (c.get("category_data") or {}).get("name")
                  for c in by_type.get("CATEGORY", []) if c.get("id")}
    lists = [m for m in by_type.get("MODIFIER_LIST", []) if _here(m, location_id)]
    list_ids = {m["id"] for m in lists}
    for obj in by_type.get("ITEM", []):
        data = obj.get("item_data") or {}
        if data.get("is_archived") or not _here(obj, location_id):
            continue
        sellable = [v for v in data.get("variations") or [] if _here(v, location_id)]
        if not sellable:
            continue
        item: dict[str, Any] = {"name": data.get("name"), "description": data.get("description"),
                                "modifierGroupIds": [
                                    m.get("modifier_list_id")
                                    for m in data.get("modifier_list_info") or []
                                    if m.get("enabled", True)
                                    and m.get("modifier_list_id") in list_ids]}
        if len(sellable) == 1:
            item["id"] = sellable[0]["id"]
            item["price"] = _price(sellable[0].get("item_variation_data") or {})
        else:
            item["id"] = obj["id"]
            item["variants"] = []
            for variation in sellable:
                vdata = variation.get("item_variation_data") or {}
                variants.append({"id": variation["id"], "name": vdata.get("name")})
                item["variants"].append({"variantId": variation["id"], "price": _price(vdata)})
        items.append(item)
        category = _category(data)
        section = sections.setdefault(category if category in categories else UNCATEGORIZED, [])
        section.append(item["id"])
    groups, modifiers = [], []
    for obj in lists:
        data = obj.get("modifier_list_data") or {}
        choices = []
        for modifier in data.get("modifiers") or []:
            mdata = modifier.get("modifier_data") or {}
            modifiers.append({"id": modifier["id"], "name": mdata.get("name"),
                              "inStock": not mdata.get("sold_out", False)})
            choices.append({"modifierId": modifier["id"], "price": _price(mdata) or "0",
                            "preSelected": bool(mdata.get("on_by_default"))})
        single = data.get("selection_type") == "SINGLE"
        low = data.get("min_selected_modifiers")
        high = data.get("max_selected_modifiers")
        groups.append({"id": obj["id"], "name": data.get("name"), "modifiers": choices,
                       "minSelections": low if isinstance(low, int) and low > 0 else 0,
                       "maxSelections": 1 if single else (high if isinstance(high, int)
                                                          and high > 0 else None),
                       "required": isinstance(low, int) and low > 0})
    section_list = [{"id": cid, "name": categories.get(cid) or "Other", "itemIds": ids}
                    for cid, ids in sections.items()]
    return {"menus": [{"id": location_id or "all", "name": menu_name,
                       "sectionIds": [s["id"] for s in section_list]}],
            "sections": section_list, "items": items, "modifierGroups": groups,
            "modifiers": modifiers, "variants": variants}


def _here(obj: Mapping[str, Any], location_id: str | None) -> bool:
    """Square's presence rules: everywhere but where it is absent, or only where it is present."""
    if location_id is None:
        return True
    if obj.get("present_at_all_locations", True):
        return location_id not in (obj.get("absent_at_location_ids") or [])
    return location_id in (obj.get("present_at_location_ids") or [])


def _category(data: Mapping[str, Any]) -> str | None:
    listed = data.get("categories") or []
    if listed and isinstance(listed[0], Mapping):
        return listed[0].get("id")
    return data.get("category_id")


def _price(data: Mapping[str, Any]) -> str | None:
    money = data.get("price_money") or {}
    amount, currency = money.get("amount"), money.get("currency") or "USD"
    if not isinstance(amount, int) or isinstance(amount, bool):
        return None  # variable pricing: the menu check leaves the item out, naming why
    return format(from_minor_units(amount, currency), "f")
