"""POS orders into Wix: an order taken at the POS becomes one Wix order, exactly once, and Wix's
echo of it never goes back to the POS. Wix and the POS on loopback; both databases."""
import json

import pytest

from bridge.bootstrap import bootstrap
from bridge.config import load_config
from bridge.service import replay as replays
from bridge.web.app import create_app
from bridge.wix import events as wix_events
from tests.builders import signed_callback
from tests.loopback import PosServer
from tests.sites import site_bridge
from tests.wix_menus import on_a_menu

SITE = "site-counter"


@pytest.fixture
def site_pos():
    server = PosServer("whsec_" + "Y291bnRlci1wb3Mtc2VjcmV0LWZvci10ZXN0cyEh")
    yield server
    server.close()


@pytest.fixture
def bridge(env, wix, site_pos):
    wired = site_bridge(env, wix.url, site_pos, SITE, account_id="acc-c",
                        configuration_id="conf-c", wix_location_id="loc-c",
                        pos_location_id="COUNTER")
    wired.store.set_instance(SITE, "installed")
    for wix_id, pos_id in (("wix-marg", "margherita"), ("wix-lemon", "lemonade")):
        wired.store.set_identifier(SITE, "item", wix_id, pos_id)
    wired.store.set_identifier(SITE, "modifier", "wix-basil", "basil")
    wix.operations = [{"id": "op-elsewhere", "businessLocationId": "loc-x", "default": True},
                      {"id": "op-c", "businessLocationId": "loc-c"}]
    # The site's menus, as a sync left them: one elsewhere, one at this location.
    menus = wix.menus.entities
    menus["section"]["sec-c"] = {"id": "sec-c", "itemIds": ["wix-marg", "wix-lemon"]}
    menus["menu"]["menu-x"] = {"id": "menu-x", "businessLocationId": "loc-x",
                               "sectionIds": ["sec-c"]}
    menus["menu"]["menu-c"] = {"id": "menu-c", "businessLocationId": "loc-c",
                               "sectionIds": ["sec-c"]}
    yield wired
    wired.store.close()


def walk_in(pos_order_id="T-1", items=None) -> dict:
    return {"orderId": pos_order_id, "locationId": "COUNTER", "createdAt": "2026-12-02T12:00:00Z",
            "currency": "USD", "note": "Table by the window",
            "customer": {"firstName": "Ada", "lastName": "Lovelace", "phone": "+1 212 555 0100"},
            "items": items or [
                {"itemId": "margherita", "name": "Margherita Pizza", "quantity": 1,
                 "price": "11.00", "modifiers": [{"modifierId": "basil", "name": "Extra basil",
                                                  "price": "1.00"}]},
                {"itemId": "lemonade", "name": "Lemonade", "quantity": 2, "price": "3.50"}],
            "totals": {"subtotal": "19.00", "tax": "1.62", "discount": "0", "total": "20.62"}}


def report(client, pos, order) -> int:
    body, headers = signed_callback({"orderCreated": order}, secret=pos.secret)
    return client.post("/pos/webhook/events", data=body, headers=headers).status_code


def drain(bridge):
    bridge.worker(wait=lambda state: 0.0, poll_seconds=0.01).drain()


def test_a_walk_in_order_becomes_one_wix_order_with_its_items_location_and_totals(
        bridge, wix, site_pos):
    client = create_app(bridge).test_client()
    assert report(client, site_pos, walk_in()) == 200
    drain(bridge)
    [order] = wix.orders.values()
    assert order["status"] == "APPROVED"
    assert order["channelInfo"] == {"type": "OTHER_PLATFORM", "externalOrderId": "T-1"}
    assert order["businessLocation"] == {"id": "loc-c"}
    assert order["priceSummary"]["total"] == {"amount": "20.62"}
    assert [(li["catalogReference"]["catalogItemId"], li["quantity"], li["price"]["amount"])
            for li in order["lineItems"]] == [("wix-marg", 1, "11.00"), ("wix-lemon", 2, "3.50")]
    assert all(li["catalogReference"]["options"] == {"operationId": "op-c", "menuId": "menu-c",
                                                     "sectionId": "sec-c"}
               for li in order["lineItems"])
    # modifierGroups is read-only on a line item: the choice is told in its description.
    assert "modifierGroups" not in order["lineItems"][0]
    assert order["lineItems"][0]["descriptionLines"] == [
        {"name": {"original": "Option"}, "plainText": {"original": "Extra basil"}}]
    assert wix.order_settings[order["id"]]["notifications"]["sendNotificationToBuyer"] is False
    assert order["billingInfo"]["contactDetails"]["firstName"] == "Ada"
    # Its Pending fulfillment, made since Wix made none.
    assert [f["status"] for f in wix.fulfillments[order["id"]]] == ["Pending"]
    record = bridge.store.get_order(SITE, order["id"])
    assert (record.direction, record.state, record.pos_order_id, record.pos_client) == (
        "imported", "sent", "T-1", "webhook@acc-c")
    [imported] = bridge.store.list_imports()
    assert (imported.state, imported.wix_order_id) == ("done", order["id"])


def test_wix_s_echo_of_an_import_never_reaches_the_pos(bridge, wix, site_pos, signer):
    client = create_app(bridge).test_client()
    echoes = []

    def echo(order):  # Wix fires the webhooks while the bridge still waits for its answer
        for event_type, sequence in ((wix_events.ORDER_CREATED, 1),
                                     (wix_events.ORDER_APPROVED, 2)):
            echoes.append(signer.order_webhook(order, event_type, sequence, SITE))
        for token in echoes[-2:]:
            assert create_app(bridge).test_client().post("/webhooks/wix",
                                                         data=token).status_code == 200
        bridge.worker(name="second", wait=lambda state: 0.0, poll_seconds=0.01).drain()
    wix.on_order_created = echo
    assert report(client, site_pos, walk_in()) == 200
    drain(bridge)
    for token in echoes:  # and again later, as Wix resends
        client.post("/webhooks/wix", data=token)
    drain(bridge)
    assert site_pos.orders() == []
    [order] = wix.orders.values()
    record = bridge.store.get_order(SITE, order["id"])
    assert (record.direction, record.state, record.pos_order_id) == ("imported", "sent", "T-1")


def test_a_lost_answer_then_a_retry_finds_the_order_instead_of_making_another(bridge, wix,
                                                                             site_pos):
    wix.order_faults = ["lose"]     # Wix makes the order, its answer never arrives
    client = create_app(bridge).test_client()
    assert report(client, site_pos, walk_in()) == 200
    drain(bridge)
    assert len(wix.orders) == 1
    [imported] = bridge.store.list_imports()
    assert imported.state == "done" and imported.wix_order_id == "wix-import-1"
    searches = [r for r in wix.requests if r["path"] == "/ecom/v1/orders/search"]
    assert len(searches) == 1


def test_the_same_order_reported_twice_is_imported_once(bridge, wix, site_pos):
    client = create_app(bridge).test_client()
    assert report(client, site_pos, walk_in()) == 200
    assert report(client, site_pos, walk_in()) == 200
    drain(bridge)
    assert report(client, site_pos, walk_in()) == 200
    drain(bridge)
    assert len(wix.orders) == 1 and len(bridge.store.list_imports()) == 1


def test_an_unmapped_item_fails_the_import_naming_it_then_a_replay_imports_it(
        bridge, wix, site_pos):
    client = create_app(bridge).test_client()
    order = walk_in(items=[{"itemId": "tiramisu", "name": "Tiramisu", "quantity": 1,
                            "price": "6.00"}])
    assert report(client, site_pos, order) == 200
    drain(bridge)
    [imported] = bridge.store.list_imports()
    assert imported.state == "failed" and "Tiramisu (tiramisu)" in imported.error
    assert wix.orders == {}
    bridge.store.set_identifier(SITE, "item", "wix-tiramisu", "tiramisu")
    on_a_menu(wix, ["wix-tiramisu"], location="loc-c", operation="op-c")
    assert replays.replay(bridge.store, import_id=imported.id)
    drain(bridge)
    assert bridge.store.get_import(imported.id).state == "done" and len(wix.orders) == 1


def test_the_kitchen_s_progress_on_an_import_moves_its_wix_fulfillment(bridge, wix, site_pos):
    client = create_app(bridge).test_client()
    report(client, site_pos, walk_in())
    drain(bridge)
    [order] = wix.orders.values()
    for status in ("ACCEPTED", "READY", "ACCEPTED"):   # the last one is backwards: not sent
        body, headers = signed_callback({"orderId": "T-1", "status": status},
                                        secret=site_pos.secret)
        assert client.post("/pos/webhook/events", data=body, headers=headers).status_code == 200
    drain(bridge)
    patches = [r["body"] for r in wix.requests if r["method"] == "PATCH"]
    assert patches == [{"fulfillment": {"status": "Accepted"}},
                       {"fulfillment": {"status": "Ready"}}]
    assert bridge.store.get_order(SITE, order["id"]).wix_fulfillment_status == "READY"


def test_an_import_for_a_site_whose_app_was_removed_is_not_sent(bridge, wix, site_pos):
    bridge.store.set_instance(SITE, "removed")
    client = create_app(bridge).test_client()
    assert report(client, site_pos, walk_in()) == 200
    drain(bridge)
    [imported] = bridge.store.list_imports()
    assert imported.state == "failed" and "removed" in imported.error
    assert wix.orders == {}


@pytest.mark.parametrize("body, secret, status", [
    ({"orderCreated": {"orderId": "T-9"}}, None, 400),            # no items, no totals
    ({"orderCreated": walk_in("T-9")}, "whsec_" + "d3Jvbmctc2VjcmV0LWZvci10aGUtdGVzdHMhIQ==", 401),
])
def test_a_malformed_or_unsigned_report_is_refused_and_nothing_stored(bridge, site_pos, body,
                                                                      secret, status):
    client = create_app(bridge).test_client()
    raw, headers = signed_callback(body, secret=secret or site_pos.secret)
    assert client.post("/pos/webhook/events", data=raw, headers=headers).status_code == status
    assert bridge.store.list_imports() == []


def test_the_demo_counter_s_walk_in_is_imported(env, wix):
    demo = bootstrap(load_config({**env, "WIX_API_BASE": wix.url, "POS_CLIENT": "demo",
                                  "POS_DEMO_STEP_SECONDS": "3600"}), pool_size=2)
    demo.store.migrate()
    demo.store.set_instance("site-demo", "installed")
    for wix_id, pos_id in (("w-m", "margherita"), ("w-l", "lemonade")):
        demo.store.set_identifier("site-demo", "item", wix_id, pos_id)
    on_a_menu(wix, ["w-m", "w-l"])
    pos_order_id = demo.pos.for_instance("site-demo").walk_in()
    demo.worker(wait=lambda state: 0.0, poll_seconds=0.01).drain()
    [order] = wix.orders.values()
    demo.store.close()
    assert order["channelInfo"]["externalOrderId"] == pos_order_id
    assert json.dumps(order).count("w-m") == 1


def test_a_configured_item_map_maps_what_no_sync_did(env, wix, mocked):
    """Square with POS_SQUARE_CATALOG_MAP and no catalog sync: its walk-ins still import."""
    from tests.pos.test_pos_square import SQUARE, signed, post_event, square_event
    mocked.add_passthru("http://127.0.0.1")
    square = bootstrap(load_config({
        **{k: v for k, v in env.items() if not k.startswith("POS_")}, "WIX_API_BASE": wix.url,
        "POS_CLIENT": "square",
        "POS_SITES": "*", "POS_SQUARE_ACCESS_TOKEN": "EAAA", "POS_SQUARE_BASE_URL": SQUARE,
        "POS_SQUARE_LOCATION_ID": "L-1", "POS_SQUARE_CATALOG_MAP": "wix-marg=V-MARG",
        "POS_SQUARE_WEBHOOK_SIGNATURE_KEY": "sq-signature-key",
        "POS_SQUARE_NOTIFICATION_URL": "https://bridge.example.com/pos/square/events"}),
        pool_size=2)
    square.store.migrate()
    square.store.set_instance("site-sq", "installed")
    on_a_menu(wix, ["wix-marg"])
    mocked.get(f"{SQUARE}/v2/orders/SQ-9", json={"order": {
        "id": "SQ-9", "location_id": "L-1", "line_items": [{
            "catalog_object_id": "V-MARG", "name": "Margherita", "quantity": "1",
            "base_price_money": {"amount": 1100, "currency": "USD"}}],
        "total_money": {"amount": 1100, "currency": "USD"}}})
    event = square_event("order.created", "SQ-9", 1)
    event["data"]["object"] = {"order_created": {"order_id": "SQ-9", "location_id": "L-1"}}
    assert post_event(square, *signed(event)).status_code == 200
    square.worker(wait=lambda state: 0.0, poll_seconds=0.01).drain()
    square.store.close()
    [order] = wix.orders.values()
    assert order["lineItems"][0]["catalogReference"]["catalogItemId"] == "wix-marg"


def test_wix_failing_after_the_order_was_made_finishes_the_import_without_a_second_order(
        bridge, wix, site_pos):
    wix.fulfillment_faults = ["fail"] * 3   # as many as the in-process tries: the job retries
    client = create_app(bridge).test_client()
    assert report(client, site_pos, walk_in()) == 200
    drain(bridge)
    [order] = wix.orders.values()
    [imported] = bridge.store.list_imports()
    assert (imported.state, imported.error) == ("done", None)
    assert [f["status"] for f in wix.fulfillments[order["id"]]] == ["Pending"]


def test_an_order_no_site_can_be_told_for_fails_visibly(env, wix, make_bridge):
    """The environment's POS, no pairing for its location, and no single installed site."""
    from tests.builders import POS_SECRET
    single = bootstrap(load_config({**env, "WIX_API_BASE": wix.url}), pool_size=2)
    single.store.migrate()
    client = create_app(single).test_client()
    body, headers = signed_callback({"orderCreated": walk_in("T-LOST")}, secret=POS_SECRET)
    assert client.post("/pos/webhook/events", data=body, headers=headers).status_code == 200
    drain(single)
    [imported] = single.store.list_imports()
    single.store.close()
    assert (imported.instance_id, imported.state) == ("", "failed")
    assert "no site could be told" in imported.error and wix.orders == {}


def test_bridge_show_tells_an_import_s_story(bridge, wix, site_pos, run):
    client = create_app(bridge).test_client()
    report(client, site_pos, walk_in())
    drain(bridge)
    [order] = wix.orders.values()
    shown = json.loads(run("show", order["id"], "--json").output)
    assert shown["order"]["direction"] == "imported" and shown["order"]["origin"] == "pos"
    assert [(i["pos_order_id"], i["state"]) for i in shown["import"]] == [("T-1", "done")]
    assert [a["outcome"] for a in shown["import_attempts"]] == ["done"]
    listed = json.loads(run("imports", "--json").output)
    assert (listed["wix_order_id"], listed["state"]) == (order["id"], "done")


def test_an_import_waiting_for_wix_credentials_says_so(env, site_pos):
    from tests.sites import SECRET_KEY, add_site
    waiting = bootstrap(load_config({**{k: v for k, v in env.items()
                                        if k not in ("WIX_APP_ID", "WIX_APP_SECRET")},
                                     "BRIDGE_SECRET_KEY": SECRET_KEY}), pool_size=2)
    waiting.store.migrate()
    add_site(waiting, SITE, site_pos, account_id="acc-w", configuration_id="conf-w",
             wix_location_id="loc-w")
    client = create_app(waiting).test_client()
    assert report(client, site_pos, walk_in()) == 200
    waiting.worker(wait=lambda state: 0.0, poll_seconds=0.01).drain()
    [imported] = waiting.store.list_imports()
    waiting.store.close()
    assert imported.state == "pending" and "waiting for Wix credentials" in imported.error


def test_an_import_fails_visibly_when_no_menu_or_operation_can_file_it(bridge, wix, site_pos):
    """Without its menu, section and operation a Restaurants line item never reaches the
    restaurant's orders board: the import says which is missing instead of making such an
    order."""
    client = create_app(bridge).test_client()
    bridge.store.set_identifier(SITE, "item", "wix-orphan", "orphan")
    report(client, site_pos, walk_in("T-5", items=[{"itemId": "orphan", "name": "Orphan",
                                                    "quantity": 1, "price": "2.00"}]))
    drain(bridge)
    wix.operations = []
    report(client, site_pos, walk_in("T-6"))
    drain(bridge)
    errors = {i.pos_order_id: i.error for i in bridge.store.list_imports()}
    assert "Orphan (orphan) is on no Wix menu of this location" in errors["T-5"]
    assert "no Wix Restaurants operation serves this location" in errors["T-6"]
    assert wix.orders == {}
