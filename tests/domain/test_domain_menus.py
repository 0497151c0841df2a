"""The menu a POS gives, checked against what Wix menus can hold: each entry Wix could not take
is left out with its reason, and what refers to it lets go of it."""
import pytest

from bridge.domain.menus import InvalidCatalog, item_list, parse_catalog
from tests.wix_menus import a_menu


def reasons(raw) -> list[str]:
    return list(parse_catalog(raw).skipped)


def test_a_whole_menu_reads_whole():
    catalog = parse_catalog(a_menu(items=4, sections=2, groups=2))
    assert catalog.skipped == () and len(catalog.items) == 4
    assert catalog.modifier_groups[0].max_selections == 3
    assert [str(p) for _, p in catalog.items[0].variant_prices] == ["9.50", "13.25"]


@pytest.mark.parametrize("item, says", [
    ({"id": "x", "name": "A" * 201, "price": "1"}, "name over 200"),
    ({"id": "x", "name": "Cake", "price": "1.0001"}, "more than 3 decimals"),
    ({"id": "x", "name": "Cake", "price": "cheap"}, "not a number"),
    ({"id": "x", "name": "Cake"}, "no price"),
    ({"id": "x", "name": "Cake", "price": "1", "variants": [{"variantId": "small",
                                                              "price": "1"}]},
     "both a price and variant prices"),
    ({"id": "x", "name": "Cake", "variants": [{"variantId": "nope", "price": "1"}]},
     "variant that is not in the menu"),
    ({"id": "x", "name": "Cake", "price": "1", "modifierGroupIds": [
        f"group-{n}" for n in range(26)]}, None),
    ("not an object", "not an object"),
    ({"name": "Cake", "price": "1"}, "no id"),
])
def test_an_item_wix_could_not_take_is_left_out_with_its_reason(item, says):
    raw = a_menu(items=1, sections=1, groups=26 if says is None else 1)
    raw["items"].append(item)
    found = reasons(raw)
    if says is None:  # 26 groups: more than Wix's 25
        assert any("more than 25 modifier groups" in r for r in found)
    else:
        assert any(says in r for r in found), found


def test_references_to_what_was_left_out_are_dropped_and_said():
    raw = a_menu(items=2, sections=1, groups=1)
    raw["items"][1]["name"] = ""
    raw["sections"][0]["itemIds"].append("item-ghost")
    raw["menus"][0]["sectionIds"].append("sec-ghost")
    raw["modifierGroups"][0]["modifiers"].append({"modifierId": "mod-ghost"})
    raw["items"][0]["modifierGroupIds"].append("group-ghost")
    raw["items"].append(dict(raw["items"][0]))            # the same id twice
    catalog = parse_catalog(raw)
    assert catalog.sections[0].item_ids == ("item-0",)
    assert any("appears twice" in r for r in catalog.skipped)
    assert any("items not in the menu" in r for r in catalog.skipped)
    assert any("sections not in the menu" in r for r in catalog.skipped)
    assert any("modifier that is not in the menu" in r for r in catalog.skipped)


@pytest.mark.parametrize("raw, code", [
    ([], "INVALID_MENU"), ({"items": "many"}, "INVALID_MENU"), ({"menus": []}, "EMPTY_MENU"),
])
def test_a_menu_with_nothing_to_write_is_refused_with_a_code(raw, code):
    with pytest.raises(InvalidCatalog) as refused:
        parse_catalog(raw)
    assert refused.value.code == code


def test_a_group_s_selection_rules_must_be_whole_numbers_in_order():
    raw = a_menu(items=1, sections=1, groups=1)
    raw["modifierGroups"][0].update(minSelections=3, maxSelections=1)
    assert any("minSelections/maxSelections" in r for r in reasons(raw))


def two_menus() -> dict:
    raw = a_menu()
    raw["menus"].append({"id": "lunch", "name": "Lunch", "sectionIds": ["sec-0"]})
    return raw


def test_only_the_chosen_menus_are_kept_and_what_they_share_stays():
    catalog = parse_catalog(two_menus())
    lunch = catalog.only(["lunch", "brunch"])  # brunch: not on the POS (any more)
    assert [m.pos_id for m in lunch.menus] == ["lunch"]
    assert lunch.sections == catalog.sections and lunch.items == catalog.items


def test_choosing_only_menus_the_pos_no_longer_has_is_refused_with_a_code():
    with pytest.raises(InvalidCatalog, match="choose again") as refused:
        parse_catalog(two_menus()).only(["brunch"])
    assert refused.value.code == "NO_CHOSEN_MENU"


def test_the_item_list_is_what_the_menus_show_by_section_with_prices_and_availability():
    raw = a_menu(items=4, sections=2, groups=1)
    raw["items"][3]["inStock"] = False
    raw["items"].append({"id": "orphan", "name": "In no section", "price": "1"})
    listed = item_list(parse_catalog(raw))
    assert [(i["section"], i["name"]) for i in listed] == [
        ("Section 0", "Dish 0"), ("Section 0", "Dish 2"),
        ("Section 1", "Dish 1"), ("Section 1", "Dish 3")]          # no menu shows the orphan
    dish_0, dish_2, _, dish_3 = listed
    assert (dish_0["price"], dish_0["from"]) == ("9.50", True)     # priced by size: from the least
    assert (dish_2["price"], dish_2["from"], dish_2["available"]) == ("9.50", False, True)
    assert dish_3["available"] is False
