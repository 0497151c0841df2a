"""The strict Wix stand-in refuses what Wix's published definitions refuse (contract/wix.json):
each refusal shown on the menus calls, and the contract names its sources by version."""
import pytest

from bridge.wix import menus as wix_menus
from tests.wix_contract import CONTRACT, call_for, refusals
from tests.wix_menus import FakeMenus

MENUS = "/restaurants/menus-menu/v1"
ITEMS = "/restaurants/menus-item/v1"
VARIANTS = "/restaurants/item-variants/v1"


def test_the_contract_names_each_package_by_version_and_every_call_the_bridge_makes():
    assert CONTRACT["sources"]["@wix/auto_sdk_restaurants_menus"] == "1.0.82"
    assert CONTRACT["sources"]["@wix/sdk-runtime"] == "1.0.25"
    for kind in wix_menus.KINDS:
        for path in (f"{kind.base}/{kind.plural}/query", f"{kind.base}/bulk/{kind.plural}/create",
                     kind.base + kind.update_path):
            assert call_for("POST", path) is not None, path
    assert call_for("POST", "/ecom/v1/fulfillments/orders/o-1/create-fulfillment")[1] == \
        "fulfillments.create"
    assert call_for("POST", "/restaurants/menus-menu/v1/nonsense") is None


@pytest.fixture
def menus():
    return FakeMenus()


def refused(menus, path, body) -> str:
    status, answer = menus.handle("POST", path, body)
    assert status == 400, answer
    assert answer["details"]["validationError"]["fieldViolations"]
    return answer["message"]


@pytest.mark.parametrize("path, body, says", [
    (f"{MENUS}/bulk/menus/create", {"menus": [{"name": "Dinner", "colour": "red"}]},
     "menus.colour: no such field"),
    (f"{MENUS}/bulk/menus/create", {"menus": [{"name": "Dinner", "revision": "3"}]},
     "menus.revision: read-only"),
    (f"{MENUS}/bulk/menus/update", {"menus": [{"menu": {
        "id": "m-1", "revision": "1", "businessLocationId": "loc-1"}, "mask": "name"}]},
     "menus.menu.businessLocationId: set at creation only"),
    (f"{MENUS}/bulk/menus/update", {"menus": [{"menu": {"id": "m-1", "revision": "1",
                                                       "name": "Supper"}, "mask": ["name"]}]},
     "menus.mask: a field mask is one comma-separated string"),
    (f"{MENUS}/bulk/menus/update", {"menus": [{"menu": {"name": "Supper"}, "mask": "name"}]},
     "menus[].menu.id: required"),
    (f"{MENUS}/bulk/menus/create", {"menus": [{"name": "x" * 501}]},
     "menus.name: longer than 500"),
    (f"{MENUS}/bulk/menus/create", {"menus": [{"name": "Dinner",
                                               "sectionIds": [f"s-{n}" for n in range(101)]}]},
     "menus.sectionIds: more than 100"),
    (f"{MENUS}/bulk/menus/create", {"menus": [{"name": "Dinner", "visible": "yes"}]},
     "menus.visible: not a boolean"),
    (f"{VARIANTS}/bulk/variants/update", {"variants": [{"variant": {
        "id": "v-1", "revision": "1", "name": "Large"}, "mask": "name"}]},
     "variants.mask: no such field"),       # variants name it fieldMask
    (f"{VARIANTS}/bulk/variants/update", {"variants": [{"variant": {
        "id": "v-1", "revision": "1", "name": "Large"}, "fieldMask": ["name"]}]},
     "variants.fieldMask: a field mask is one comma-separated string"),
])
def test_the_stand_in_refuses_what_the_published_definitions_refuse(menus, path, body, says):
    assert says in refused(menus, path, body)
    assert menus.writes() == 0


def test_a_request_as_the_definitions_describe_it_is_taken(menus):
    status, answer = menus.handle("POST", f"{ITEMS}/bulk/items/create", {
        "items": [{"name": "Margherita", "priceInfo": {"price": "11.00"}, "visible": True}],
        "returnEntity": False})
    assert status == 200 and answer["results"][0]["itemMetadata"]["success"] is True
    [item] = menus.entities["item"].values()
    status, answer = menus.handle("POST", f"{VARIANTS}/bulk/variants/update", {
        "variants": [{"variant": {"id": "nope", "revision": "1", "name": "L"},
                      "fieldMask": "name"}]})
    assert status == 200 and answer["results"][0]["itemMetadata"]["success"] is False
    assert refusals(*[call_for("POST", f"{ITEMS}/items/query")[i] for i in (0, 2)],
                    {"query": {"cursorPaging": {"limit": 100}}}) == []


@pytest.fixture
def wix():
    from tests.loopback import WixServer
    server = WixServer()
    yield server
    server.close()


def test_the_loopback_wix_refuses_orders_and_fulfillments_the_definitions_refuse(wix):
    import requests
    line = {"quantity": 1, "price": {"amount": "5.00"}, "productName": {"original": "Soup"},
            "itemType": {"preset": "PHYSICAL"},
            "catalogReference": {"appId": "app", "catalogItemId": "i-1"}}
    order = {"channelInfo": {"type": "OTHER_PLATFORM"}, "lineItems": [line],
             "priceSummary": {"total": {"amount": "5.00"}}}
    post = lambda path, body: requests.post(wix.url + path, json=body, timeout=5)  # noqa: E731
    assert post("/ecom/v1/orders", {"order": order}).status_code == 200
    modifiers = {**line, "modifierGroups": [{"name": {"original": "Extras"}}]}
    answer = post("/ecom/v1/orders", {"order": {**order, "lineItems": [modifiers]}})
    assert answer.status_code == 400 and "modifierGroups: read-only" in answer.json()["message"]
    answer = post("/ecom/v1/orders", {"order": {**order, "channelInfo": None}})
    assert answer.status_code == 400 and "order.channelInfo: required" in answer.json()["message"]
    answer = post("/ecom/v1/fulfillments/orders/o-1/create-fulfillment",
                  {"fulfillment": {"status": "Accepted"}})
    assert answer.status_code == 400
    assert "fulfillment.lineItems: required" in answer.json()["message"]
    assert len(wix.orders) == 1


def test_a_request_mocked_at_the_http_edge_is_held_to_the_same_definitions():
    """The `mocked` fixture checks every request to Wix with this after the test."""
    import requests

    from tests.builders import WIX_URL
    from tests.wix_contract import problems_of
    path = "/ecom/v1/fulfillments/f-1/orders/o-1"
    good = requests.Request("PATCH", WIX_URL + path,
                            json={"fulfillment": {"status": "Accepted"}}).prepare()
    bad = requests.Request("PATCH", WIX_URL + path,
                           json={"fulfillment": {"state": "Accepted"}}).prepare()
    assert problems_of(good) == []
    assert problems_of(bad) == ["fulfillment.state: no such field"]


def test_the_spec_s_calls_are_in_the_contract_and_the_connectivity_api_is_held_to_it(wix):
    import requests
    assert CONTRACT["sources"]["wix-incubator/wix-rest-docs"].endswith(
        "point-of-sale-integration.service.json")
    assert call_for("POST", "/restaurants/v1/pos-integration/accounts/acc-1/disconnect")[1] == \
        "DisconnectAccount"
    answer = requests.post(f"{wix.url}/restaurants/v1/pos-integration/accounts/acc-1/disconnect",
                           json={"appDefId": "app", "reason": "bye"}, timeout=5)
    assert answer.status_code == 400 and "reason: no such field" in answer.json()["message"]
