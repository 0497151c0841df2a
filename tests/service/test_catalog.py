"""Catalog sync: a site's POS menu written to Wix menus (a loopback Wix keeping them in memory),
as durable work, with its status, its log, and orders that use what it mapped."""
import copy

import pytest

from bridge.service import catalog
from bridge.web.app import create_app
from bridge.wix import events as wix_events
from tests.builders import an_order
from tests.loopback import PosServer
from tests.sites import site_bridge, spi_token
from tests.wix_menus import a_menu

SITE = "site-menu"


@pytest.fixture
def site_pos():
    server = PosServer("whsec_" + "bWVudS1wb3Mtc2VjcmV0LWZvci10aGUtdGVzdHMh")
    server.menu = a_menu()
    yield server
    server.close()


@pytest.fixture
def bridge(env, wix, site_pos):
    wired = site_bridge(env, wix.url, site_pos, SITE, account_id="acc-m",
                        configuration_id="conf-m", wix_location_id="loc-m",
                        pos_location_id="KITCHEN")
    yield wired
    wired.store.close()


def synced(bridge, *, confirm=True):
    """Start a sync of the configuration and let the worker run it."""
    configuration = bridge.store.get_configuration("conf-m")
    if confirm:
        catalog.confirm(bridge.store, configuration)
        configuration = bridge.store.get_configuration("conf-m")
    sync, _ = catalog.start(bridge.store, configuration)
    bridge.worker(wait=lambda state: 0.0, poll_seconds=0.01).drain()
    return bridge.store.get_sync(sync.id)


def by_pos_id(bridge, entities) -> dict[str, dict]:
    """Wix's items by the POS id the bridge's identifiers table gives each."""
    pos_ids = bridge.store.identifiers(SITE, "item")
    return {pos_ids[e["id"]]: e for e in entities if e["id"] in pos_ids}


def actions(bridge, sync) -> list[tuple]:
    return [(r["kind"], r["action"], r["pos_id"]) for r in bridge.store.sync_log(sync.id)]


def test_the_first_sync_creates_everything_and_records_its_identifiers(bridge, wix):
    sync = synced(bridge)
    assert sync.status == "SYNCED", sync.error
    menus = wix.menus.entities
    assert len(menus["item"]) == 6 and len(menus["section"]) == 2 and len(menus["menu"]) == 1
    assert len(menus["modifier_group"]) == 2 and len(menus["modifier"]) == 6
    items = by_pos_id(bridge, menus["item"].values())
    assert items["item-1"]["priceInfo"] == {"price": "8.25"}
    sizes = items["item-0"]["priceVariants"]["variants"]
    assert [v["priceInfo"]["price"] for v in sizes] == ["9.50", "13.25"]
    assert {v["variantId"] for v in sizes} == set(menus["variant"])
    [menu] = menus["menu"].values()
    assert menu["businessLocationId"] == "loc-m" and len(menu["sectionIds"]) == 2
    section = menus["section"][menu["sectionIds"][0]]
    assert [menus["item"][i]["name"] for i in section["itemIds"]] == ["Dish 0", "Dish 2", "Dish 4"]
    mapped = bridge.store.identifiers(SITE, "item")
    assert sorted(mapped.values()) == [f"item-{i}" for i in range(6)]
    # One bulk create per kind: the bulk minimum.
    assert all(wix.menus.calls[f"{kind}.create"] == 1 for kind in
               ("item", "section", "menu", "modifier", "modifier_group", "variant"))
    assert sync.counts["item.created"] == 6


def test_a_second_sync_of_an_unchanged_menu_writes_nothing(bridge, wix):
    synced(bridge)
    writes = wix.menus.writes()
    again = synced(bridge)
    assert again.status == "SYNCED" and wix.menus.writes() == writes
    assert actions(bridge, again) == []


def test_changes_at_the_pos_become_exactly_those_writes(bridge, wix, site_pos):
    synced(bridge)
    menu = copy.deepcopy(site_pos.menu)
    menu["items"][1]["price"] = "9.99"                     # a price
    menu["items"][2]["name"] = "Dish two, renamed"         # a name
    menu["items"] = [i for i in menu["items"] if i["id"] != "item-5"]  # removed
    menu["items"].append({"id": "item-new", "name": "Newcomer", "price": "4.00"})  # added
    menu["sections"][1]["itemIds"] = ["item-1", "item-3", "item-new"]
    site_pos.menu = menu
    sync = synced(bridge)
    assert sorted(actions(bridge, sync)) == sorted([
        ("item", "created", "item-new"), ("item", "updated", "item-1"),
        ("item", "updated", "item-2"), ("item", "hidden", "item-5"),
        ("section", "updated", "sec-1")])
    items = by_pos_id(bridge, wix.menus.entities["item"].values())
    assert items["item-1"]["priceInfo"]["price"] == "9.99"
    assert items["item-5"]["visible"] is False   # hidden, kept: orders naming it still map


def test_a_stale_revision_is_read_again_and_written(bridge, wix, site_pos):
    synced(bridge)
    site_pos.menu["items"][3]["price"] = "1.50"
    stored = by_pos_id(bridge, wix.menus.entities["item"].values())["item-3"]
    original = wix.menus._update

    def someone_else_first(kind, body):
        if kind.name == "item" and stored["revision"] == "1":
            stored["revision"] = "2"                  # the owner edited it meanwhile
            stored["description"] = "edited in Wix"
        return original(kind, body)
    wix.menus._update = someone_else_first
    sync = synced(bridge)
    assert sync.status == "SYNCED" and sync.counts["item.stale"] == 1
    assert stored["priceInfo"]["price"] == "1.50" and stored["revision"] == "3"


def test_wix_failing_mid_sync_then_resuming_creates_nothing_twice(bridge, wix):
    # Wix does the items' bulk create but its answer is lost; then sections fail outright.
    wix.menus.faults = [("item.create", "lose"), ("section.create", "fail")]
    sync = synced(bridge)
    assert sync.status == "SYNCED", sync.error
    assert len(wix.menus.entities["item"]) == 6       # not 12
    assert len(wix.menus.entities["section"]) == 2
    found = [a for a in actions(bridge, sync) if a[1] == "found_again"]
    assert len(found) == 6
    assert sorted(bridge.store.identifiers(SITE, "item").values()) == [
        f"item-{i}" for i in range(6)]


def test_bad_entries_are_skipped_with_a_reason_and_the_rest_is_written(bridge, wix, site_pos):
    site_pos.menu["items"] += [{"id": "bad-price", "name": "Gold", "price": "-1"},
                               {"id": "no-name", "price": "3.00"},
                               {"id": "floaty", "name": "Float", "price": 1.5}]
    sync = synced(bridge)
    assert sync.status == "SYNCED" and sync.counts["skipped"] == 3
    notes = [r["note"] for r in bridge.store.sync_log(sync.id) if r["action"] == "skipped"]
    assert any("bad-price" in n and "negative" in n for n in notes)
    assert any("no-name" in n and "no name" in n for n in notes)
    assert len(wix.menus.entities["item"]) == 6


def test_a_menu_with_nothing_to_write_fails_the_sync_with_a_code(bridge, wix, site_pos):
    site_pos.menu = {"menus": [{"id": "m", "name": ""}]}
    sync = synced(bridge)
    assert (sync.status, sync.error_code) == ("FAILED", "EMPTY_MENU")
    assert wix.menus.writes() == 0


def test_the_first_sync_needs_the_owner_s_word_and_hides_the_site_s_menus(bridge, wix):
    old = {"id": "old-menu", "name": "Our old menu", "visible": True, "revision": "1",
           "businessLocationId": "loc-m"}
    wix.menus.entities["menu"]["old-menu"] = old
    with pytest.raises(catalog.SyncRefused) as refused:
        synced(bridge, confirm=False)
    assert refused.value.code == "CONFIRMATION_REQUIRED"
    sync = synced(bridge)
    assert old["visible"] is False
    assert ("menu", "hidden", None) in actions(bridge, sync)


def test_the_spi_starts_a_sync_and_reports_it_through_its_life(bridge, private_key):
    client = create_app(bridge).test_client()
    named = {"accountId": "acc-m", "configurationId": "conf-m"}

    def spi(call):
        return client.post(f"/spi/pos/{call}", data=spi_token(private_key, named, SITE))
    assert spi("get-catalog-sync-status").get_json() == {"status": "UNKNOWN"}
    refused = spi("sync-catalog")
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "confirmation_required"

    catalog.confirm(bridge.store, bridge.store.get_configuration("conf-m"))
    assert spi("sync-catalog").get_json() == {}
    assert spi("sync-catalog").get_json() == {}          # one open sync at a time
    pending = spi("get-catalog-sync-status").get_json()
    assert pending["status"] == "PENDING" and pending["inProgress"]["elapsedSeconds"] >= 0
    assert len(bridge.store.list_syncs("conf-m")) == 1
    bridge.worker(wait=lambda state: 0.0, poll_seconds=0.01).drain()
    done = spi("get-catalog-sync-status").get_json()
    assert done["status"] == "SYNCED" and done["synced"]["lastSyncDate"]


def test_orders_carry_the_pos_ids_the_sync_recorded(bridge, wix, site_pos, signer):
    synced(bridge)
    wix_item = next(w for w, p in bridge.store.identifiers(SITE, "item").items()
                    if p == "item-3")
    order = an_order(restaurant=1, other=0, businessLocation={"id": "loc-m"})
    order["lineItems"][0]["catalogReference"]["catalogItemId"] = wix_item
    client = create_app(bridge).test_client()
    token = signer.order_webhook(order, wix_events.ORDER_CREATED, 1, SITE)
    assert client.post("/webhooks/wix", data=token).status_code == 200
    bridge.worker(wait=lambda state: 0.0, poll_seconds=0.01).drain()
    [sent] = site_pos.orders()
    assert sent["items"][0]["posItemId"] == "item-3"


def test_an_item_the_owner_deleted_in_wix_is_made_again_and_mapped_alone(bridge, wix):
    synced(bridge)
    gone = next(w for w, p in bridge.store.identifiers(SITE, "item").items() if p == "item-2")
    del wix.menus.entities["item"][gone]
    sync = synced(bridge)
    assert ("item", "created", "item-2") in actions(bridge, sync)
    mapped = bridge.store.identifiers(SITE, "item")
    assert gone not in mapped and sorted(mapped.values()) == [f"item-{i}" for i in range(6)]
    section = next(s for s in wix.menus.entities["section"].values()
                   if s["name"] == "Section 0")
    assert gone not in section["itemIds"] and len(section["itemIds"]) == 3


def test_fields_wix_adds_by_itself_do_not_make_a_sync_write(bridge, wix):
    assert synced(bridge).status == "SYNCED"
    for item in wix.menus.entities["item"].values():
        item["updatedDate"] = "2026-12-02T10:00:00Z"                 # Wix's own additions
        if "priceInfo" in item:                                      # "8.25" read back as such,
            item["priceInfo"]["price"] = str(float(item["priceInfo"]["price"]))  # "9.0" too
    writes = wix.menus.writes()
    assert synced(bridge).status == "SYNCED"
    assert wix.menus.writes() == writes


def test_two_locations_of_a_site_synced_at_once_share_their_items_without_duplicates(
        bridge, wix, site_pos):
    bridge.store.save_configuration("conf-m2", SITE, location_name="Second")
    bridge.store.pair_configuration("conf-m2", pos_location_id="KITCHEN-2",
                                    wix_location_id="loc-m2")
    for configuration_id in ("conf-m", "conf-m2"):
        configuration = bridge.store.get_configuration(configuration_id)
        catalog.confirm(bridge.store, configuration)
        catalog.start(bridge.store, bridge.store.get_configuration(configuration_id))
    crew = bridge.crew(4, wait=lambda state: 0.0, poll_seconds=0.01)
    crew.start()
    try:
        from tests.loopback import wait_until
        wait_until(lambda: all(s.status == "SYNCED" for s in bridge.store.list_syncs()),
                   what="both syncs")
    finally:
        crew.stop(5)
    assert len(wix.menus.entities["item"]) == 6           # shared, made once
    assert len(wix.menus.entities["menu"]) == 2           # one per location
    assert {m["businessLocationId"] for m in wix.menus.entities["menu"].values()} == {
        "loc-m", "loc-m2"}


def test_a_menu_the_owner_leaves_out_is_hidden_and_the_rest_stays(bridge, wix, site_pos):
    site_pos.menu["menus"].append({"id": "lunch", "name": "Lunch", "sectionIds": ["sec-0"]})
    synced(bridge)
    assert {m["name"] for m in wix.menus.entities["menu"].values()} == {"Dinner", "Lunch"}

    bridge.store.choose_sync_menus("conf-m", ["lunch"])
    sync = synced(bridge)
    assert sync.status == "SYNCED"
    visible = {m["name"]: m.get("visible") for m in wix.menus.entities["menu"].values()}
    assert visible == {"Dinner": False, "Lunch": True}
    assert actions(bridge, sync) == [("menu", "hidden", "conf-m/dinner")]

    bridge.store.choose_sync_menus("conf-m", ["brunch"])
    refused = synced(bridge)
    assert refused.status == "FAILED" and refused.error_code == "NO_CHOSEN_MENU"
    bridge.store.choose_sync_menus("conf-m", None)  # every menu again
    assert synced(bridge).status == "SYNCED"
    assert all(m.get("visible") for m in wix.menus.entities["menu"].values())


def test_sections_whose_create_answer_was_lost_are_found_again_by_name(bridge, wix):
    # Another app's section of the same name, made long ago, is not taken for ours.
    wix.menus.entities["section"]["theirs"] = {"id": "theirs", "name": "Section 0",
                                               "revision": "1", "createdDate": "2020-01-01T00:00:00Z"}
    wix.menus.entities["section"]["odd"] = {"id": "odd", "name": "Section 1", "revision": "1",
                                            "createdDate": "not a date"}
    wix.menus.faults = [("section.create", "lose")]
    sync = synced(bridge)
    assert sync.status == "SYNCED", sync.error
    ours = {w for w, p in bridge.store.identifiers(SITE, "section").items()}
    assert len(wix.menus.entities["section"]) == 4 and not ours & {"theirs", "odd"}
    assert sorted(p for k, a, p in actions(bridge, sync) if a == "found_again") == [
        "sec-0", "sec-1"]


def test_a_group_without_an_upper_bound_sends_none_and_a_failed_sync_s_status_says_why(
        bridge, wix, site_pos):
    site_pos.menu["modifierGroups"][0].pop("maxSelections")  # no upper bound: none is sent
    site_pos.menu["items"][1]["name"] = "3 Cheese Pizza"    # a name that begins with a digit
    sync = synced(bridge)
    groups = {g["name"]: g for g in wix.menus.entities["modifier_group"].values()}
    assert "maxSelections" not in groups["Extras 0"]["rule"]
    assert "maxSelections" in groups["Extras 1"]["rule"]
    assert synced(bridge).counts == {"skipped": 0}  # "3 Cheese Pizza" compared as text: same
    assert sync.status == "SYNCED"

    site_pos.menu = {"menus": []}
    failed = synced(bridge)
    answer = catalog.status(bridge.store, "conf-m", 0)
    assert answer == {"status": "FAILED", "failed": {
        "reason": failed.error, "code": "OTHER", "params": {"bridgeCode": "EMPTY_MENU"},
        "lastSyncDate": failed.ended_at}}
    spec_codes = {"NONE", "OTHER", "SYSTEM_ERROR", "ACCOUNT_NOT_FOUND", "ACCOUNT_NOT_AUTHORIZED",
                  "LOCATION_NOT_FOUND", "ACCOUNT_NOT_CONNECTED", "ACCOUNT_CONFIGURATION",
                  "OVERLOADED_MENU"}  # SyncFailed.Code in the POS Integration spec
    assert set(catalog.SYNC_FAILED_CODES.values()) <= spec_codes


def test_the_first_sync_leaves_another_location_s_menus_alone(bridge, wix):
    elsewhere = {"id": "uptown-menu", "name": "Uptown", "visible": True, "revision": "1",
                 "businessLocationId": "loc-uptown"}
    wix.menus.entities["menu"]["uptown-menu"] = elsewhere
    synced(bridge)
    assert elsewhere["visible"] is True


def test_a_re_sync_leaves_one_visible_set_of_menus_and_a_price_change_updates_it_in_place(
        bridge, wix, site_pos):
    """Menus answer `menuMetadata` and sections' updates `sectionMetadata` (the published
    packages): read any other way, every created menu looked refused, and each sync added a
    visible set."""
    synced(bridge)
    synced(bridge)
    [menu] = wix.menus.visible("menu")
    sections = {s["id"] for s in wix.menus.visible("section")}
    menu_first = dict(menu)
    menu_price = copy.deepcopy(site_pos.menu)
    menu_price["items"][1]["price"] = "10.50"
    site_pos.menu = menu_price
    assert synced(bridge).status == "SYNCED"
    [same] = wix.menus.visible("menu")
    assert same["id"] == menu_first["id"] and {s["id"] for s in
                                               wix.menus.visible("section")} == sections
    items = by_pos_id(bridge, wix.menus.visible("item"))
    assert items["item-1"]["priceInfo"]["price"] == "10.50" and len(items) == 6


def test_a_refused_menu_or_section_update_is_a_failure_not_a_success(bridge, wix, site_pos):
    synced(bridge)
    [menu] = wix.menus.visible("menu")
    wix.menus.entities["menu"][menu["id"]]["revision"] = "99"   # changed in Wix meanwhile
    renamed = copy.deepcopy(site_pos.menu)
    renamed["menus"][0]["name"] = "Supper"
    site_pos.menu = renamed
    sync = synced(bridge)
    # Read again and written at the current revision (the stale answer was seen as one).
    assert sync.status == "SYNCED", sync.error
    assert wix.menus.entities["menu"][menu["id"]]["name"] == "Supper"


def test_an_update_sends_only_the_fields_it_changes_never_the_menu_s_location(
        bridge, wix, site_pos):
    """A menu's businessLocationId is set once, at creation (Wix's "About Business
    Locations"): an update carries the masked fields, its id and revision, nothing else."""
    synced(bridge)
    sent = []
    wix.menus.on_update = sent.append
    renamed = copy.deepcopy(site_pos.menu)
    renamed["menus"][0]["name"] = "Supper"
    site_pos.menu = renamed
    assert synced(bridge).status == "SYNCED"
    [(kind, masked)] = [(k, m) for k, body in sent for m in body.get(k.body_key) or []]
    assert kind.name == "menu" and masked["mask"] == "name"
    assert set(masked["menu"]) == {"id", "revision", "name"}


def test_items_whose_create_answer_was_lost_are_found_again_without_internal_fields(
        bridge, wix):
    """`externalReferenceInfo` is internal (absent from the public menus types): nothing the
    bridge writes carries it, and an item made before its answer was lost is found again by
    its name, never made twice."""
    wix.menus.faults = [("item.create", "lose")]
    sync = synced(bridge)
    assert sync.status == "SYNCED", sync.error
    items = wix.menus.entities["item"]
    assert len(items) == 6 and not any("externalReferenceInfo" in e for e in items.values())
    assert sorted(p for k, a, p in actions(bridge, sync) if a == "found_again") == [
        f"item-{i}" for i in range(6)]
    assert sorted(by_pos_id(bridge, items.values())) == [f"item-{i}" for i in range(6)]
