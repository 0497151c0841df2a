"""The Square client: CreateOrder bodies as Square documents them, errors, cancel, and webhooks
verified and turned into Wix fulfillment updates. Square and Wix are mocked at the HTTP layer."""
import base64
import hashlib
import hmac
import json
import uuid

import pytest
import responses

from bridge.bootstrap import bootstrap
from bridge.config import ConfigError, load_config
from bridge.domain.orders import pos_order_from_wix
from bridge.pos.base import CallbackRejected, PosConfig, PosRejected, PosUnavailable
from bridge.pos.square import SQUARE_VERSION, SquarePos, create_order_body
from bridge.web.app import create_app
from bridge.wix import events as wix_events
from bridge.wix.events import event_from_claims
from tests.builders import INSTANCE, WIX_URL, an_order

SQUARE = "http://square.test"
KEY = "sq-signature-key"
NOTIFY = "https://bridge.example.com/pos/square/events"
DOWNTOWN = "b7e3f0d2-1c4a-4e58-8f9b-6a0d2c3e4f51"


@pytest.fixture
def square_env(env):
    settings = {k: v for k, v in env.items() if not k.startswith("POS_")}
    return {**settings, "POS_CLIENT": "square",
            "POS_SITES": "*", "POS_SQUARE_ACCESS_TOKEN": "EAAA-token",
            "POS_SQUARE_BASE_URL": SQUARE, "POS_SQUARE_LOCATION_ID": "L-DEFAULT",
            "POS_SQUARE_LOCATION_MAP": f"{DOWNTOWN}=L-DOWNTOWN",
            "POS_SQUARE_WEBHOOK_SIGNATURE_KEY": KEY, "POS_SQUARE_NOTIFICATION_URL": NOTIFY}


@pytest.fixture
def square(square_env, make_bridge):
    return make_bridge(square_env)


def client_for(square_env, **overrides) -> SquarePos:
    return SquarePos.from_config(PosConfig(INSTANCE, {**square_env, **overrides}))


def sample_pos_order(sample):
    return pos_order_from_wix(event_from_claims(sample("order_created")["claims"]).order, INSTANCE)


def test_the_pickup_sample_becomes_square_s_create_order_body(sample, square_env):
    body = create_order_body(sample_pos_order(sample), client_for(square_env).settings,
                             "wix-send:5a2c1b0e-7d3f-4a8e-9b61-2f4c8d9e0a11")
    assert body == {
        "idempotency_key": "wix-send:5a2c1b0e-7d3f-4a8e-9b61-2f4c8d9e0a11",
        "order": {
            "location_id": "L-DOWNTOWN",   # mapped from the Wix business location
            "reference_id": "10042",
            "source": {"name": "Wix"},
            "line_items": [
                {"quantity": "2", "name": "Margherita Pizza",
                 "base_price_money": {"amount": 1400, "currency": "USD"},
                 "modifiers": [{"name": "Extra basil", "quantity": "1",
                                "base_price_money": {"amount": 100, "currency": "USD"}}]},
                {"quantity": "1", "name": "Tiramisu",
                 "base_price_money": {"amount": 850, "currency": "USD"}},
            ],
            "fulfillments": [{
                "type": "PICKUP", "state": "PROPOSED",
                "pickup_details": {
                    "recipient": {"display_name": "Dana Levi", "email_address": "dana@example.com",
                                  "phone_number": "+12125550142"},
                    "schedule_type": "SCHEDULED", "pickup_at": "2026-11-20T18:30:00Z",
                    "note": "Ring the bell / No onions please"}}],
            "metadata": {"wix_order_id": "5a2c1b0e-7d3f-4a8e-9b61-2f4c8d9e0a11",
                         "wix_instance_id": INSTANCE},
        }}


def test_a_jpy_delivery_order_uses_whole_yen_and_a_delivery_fulfillment(square_env):
    order = an_order(restaurant=1, other=0, currency="JPY", businessLocation={"id": "elsewhere"})
    item = order["lineItems"][0]
    item["price"] = {"amount": "1500"}
    item["totalPriceAfterTax"] = {"amount": "3300"}
    item["modifierGroups"][0]["modifiers"][0]["price"] = {"amount": "150"}
    order["shippingInfo"]["logistics"] = {
        "shippingDestination": {"address": {"country": "JP", "subdivision": "JP-13",
                                            "city": "Tokyo", "postalCode": "100-0001",
                                            "addressLine1": "1-1 Chiyoda"}},
        "deliveryTimeSlot": {"from": "2026-11-20T10:00:00Z", "to": "2026-11-20T10:30:00Z"},
        "instructions": "Leave at the door"}
    order["buyerNote"] = None
    body = create_order_body(pos_order_from_wix(order, INSTANCE), client_for(square_env).settings,
                             "k")["order"]
    assert body["location_id"] == "L-DEFAULT"  # no mapping for this location: the default
    assert body["line_items"][0]["base_price_money"] == {"amount": 1500, "currency": "JPY"}
    assert body["line_items"][0]["modifiers"][0]["base_price_money"] == {"amount": 150,
                                                                          "currency": "JPY"}
    assert body["fulfillments"] == [{
        "type": "DELIVERY", "state": "PROPOSED",
        "delivery_details": {
            "recipient": {"display_name": "Dana Levi", "email_address": "dana@example.com",
                          "phone_number": "+12125550142",
                          "address": {"address_line_1": "1-1 Chiyoda", "locality": "Tokyo",
                                      "administrative_district_level_1": "13",
                                      "postal_code": "100-0001", "country": "JP"}},
            "schedule_type": "SCHEDULED", "deliver_at": "2026-11-20T10:00:00Z",
            "note": "Leave at the door"}}]


def with_contact(order, **contact):
    """The customer's contact as Wix gives it, for the recipient and for billing."""
    order["recipientInfo"] = {"contactDetails": contact}
    order["billingInfo"] = {**order.get("billingInfo", {}), "contactDetails": contact}
    return order


def _fulfillment_of(square_env, order, **settings):
    body = create_order_body(pos_order_from_wix(order, INSTANCE),
                             client_for(square_env, **settings).settings, "k")["order"]
    (fulfillment,) = body["fulfillments"]
    return body, fulfillment.get("pickup_details") or fulfillment.get("delivery_details")


@pytest.mark.parametrize("phone, sent", [
    ("+972 (54) 123-4567", "+972541234567"),   # 18 characters as typed: Square allows 17
    ("054-123-4567", "0541234567"),
    ("+1 (212) 555-0142 ext. 12345", "+12125550142"),
    ("+44 20 7946 0958 1234 5678", None),       # 21 digits: more than Square takes, left out
    ("call me", None),
])
def test_a_phone_is_sent_as_digits_and_one_square_would_refuse_is_left_out(square_env, phone,
                                                                           sent):
    order = with_contact(an_order(), firstName="Dana", phone=phone)
    _, details = _fulfillment_of(square_env, order)
    assert details["recipient"].get("phone_number") == sent


def test_without_a_customer_phone_or_name_the_restaurant_s_phone_and_the_order_number_go(
        square_env):
    order = with_contact(an_order(number="10077"))
    _, details = _fulfillment_of(square_env, order,
                                 POS_SQUARE_FALLBACK_PHONE="+1 (212) 555-0100")
    assert details["recipient"]["phone_number"] == "+12125550100"
    assert details["recipient"]["display_name"] == "Wix order 10077"


def test_names_notes_and_emails_longer_than_square_takes_are_cut_or_left_out(square_env):
    order = an_order(restaurant=1, other=0)
    order["lineItems"][0]["productName"] = {"original": "P" * 600}
    order["lineItems"][0]["modifierGroups"][0]["modifiers"][0]["label"] = {"original": "M" * 300}
    with_contact(order, firstName="F" * 300)
    order["buyerInfo"] = {**order.get("buyerInfo", {}), "email": "e" * 250 + "@example.com"}
    order["buyerNote"] = "N" * 800
    body, details = _fulfillment_of(square_env, order)
    item = body["line_items"][0]
    assert len(item["name"]) == 512 and len(item["modifiers"][0]["name"]) == 255
    assert len(details["recipient"]["display_name"]) == 255
    assert "email_address" not in details["recipient"]
    assert len(details["note"]) == 500


def test_an_asap_order_carries_the_preparation_time_when_one_is_set(square_env):
    order = an_order()
    order["shippingInfo"]["logistics"].pop("pickupDetails", None)
    order["shippingInfo"]["logistics"].pop("deliveryTimeSlot", None)
    _, details = _fulfillment_of(square_env, order, POS_SQUARE_PREP_MINUTES="20")
    assert details["schedule_type"] == "ASAP" and details["prep_time_duration"] == "PT20M"
    assert "pickup_at" not in details and "deliver_at" not in details
    _, plain = _fulfillment_of(square_env, order)
    assert plain["schedule_type"] == "ASAP" and "prep_time_duration" not in plain


def test_the_cancel_key_stays_within_square_s_192_characters():
    from bridge.pos.square import cancel_key
    key = cancel_key("cancel:" + "x" * 300, 12)
    assert len(key) == 192 and key.endswith("-v12")
    assert cancel_key("cancel:abc", 3) == "wix-cancel:abc-v3"


@pytest.mark.parametrize("setting, value, says", [
    ("POS_SQUARE_FALLBACK_PHONE", "reception", ""),
    ("POS_SQUARE_PREP_MINUTES", "soon", ""),
    ("POS_SQUARE_LOCATION_MAP", "{not json", "not a JSON object"),
    ("POS_SQUARE_LOCATION_MAP", '{"loc": 7}', 'expected {"wix id": "square id"}'),
    ("POS_SQUARE_CATALOG_MAP", "dish-1=,dish-2=SQ-2", "'dish-1=' is not wix_id=square_id"),
    ("POS_SQUARE_BASE_URL", "connect.squareup.com", "'connect.squareup.com'"),
    ("POS_SQUARE_UNMAPPED_ITEMS", "guess", "ad_hoc or reject"),
])
def test_a_malformed_square_setting_stops_start_up_naming_it(square_env, setting, value, says):
    with pytest.raises(ValueError, match=f"{setting} is malformed") as refused:
        client_for(square_env, **{setting: value})
    assert says in str(refused.value)


def test_a_mapped_catalog_item_is_sent_by_catalog_object_id(sample, square_env):
    settings = client_for(square_env, POS_SQUARE_CATALOG_MAP=json.dumps(
        {"d0d5a022-26d5-4203-828f-94798735812a": "SQ-PIZZA"})).settings
    lines = create_order_body(sample_pos_order(sample), settings, "k")["order"]["line_items"]
    assert lines[0] == {"quantity": "2", "catalog_object_id": "SQ-PIZZA",
                        "modifiers": [{"name": "Extra basil", "quantity": "1",
                                       "base_price_money": {"amount": 100, "currency": "USD"}}]}
    assert "catalog_object_id" not in lines[1] and lines[1]["name"] == "Tiramisu"


def test_an_unmapped_item_fails_as_invalid_item_mapping_when_configured_to(sample, square_env):
    settings = client_for(square_env, POS_SQUARE_UNMAPPED_ITEMS="reject",
                          POS_SQUARE_CATALOG_MAP="d0d5a022-26d5-4203-828f-94798735812a=SQ-PIZZA"
                          ).settings
    with pytest.raises(PosRejected) as raised:
        create_order_body(sample_pos_order(sample), settings, "k")
    assert raised.value.code == "invalid_item_mapping" and "Tiramisu" in str(raised.value)


def test_requests_carry_the_token_and_the_pinned_version_and_the_same_key_twice(
        sample, square_env, mocked):
    call = mocked.post(f"{SQUARE}/v2/orders", json={"order": {"id": "SQ-1", "location_id": "L-DOWNTOWN", "version": 1}})
    client = client_for(square_env)
    order = sample_pos_order(sample)
    assert client.create_order(order, idempotency_key=f"send:{order.id}") == "SQ-1"
    assert client.create_order(order, idempotency_key=f"send:{order.id}") == "SQ-1"
    first, second = (json.loads(c.request.body) for c in call.calls)
    assert first["idempotency_key"] == second["idempotency_key"] == f"wix-send:{order.id}"
    assert len(first["idempotency_key"]) <= 192
    headers = call.calls[0].request.headers
    assert headers["Authorization"] == "Bearer EAAA-token"
    assert headers["Square-Version"] == SQUARE_VERSION


@pytest.mark.parametrize("status, error, raised", [
    (400, {"category": "INVALID_REQUEST_ERROR", "code": "INVALID_VALUE",
           "detail": "Invalid quantity", "field": "order.line_items[0].quantity"}, PosRejected),
    (401, {"category": "AUTHENTICATION_ERROR", "code": "UNAUTHORIZED"}, PosRejected),
    (429, {"category": "RATE_LIMIT_ERROR", "code": "RATE_LIMITED"}, PosUnavailable),
    (503, {"category": "API_ERROR", "code": "SERVICE_UNAVAILABLE"}, PosUnavailable),
])
def test_square_errors_are_surfaced_with_their_code(sample, square_env, mocked, status, error,
                                                    raised):
    mocked.post(f"{SQUARE}/v2/orders", status=status, json={"errors": [error]})
    with pytest.raises(raised) as caught:
        client_for(square_env).create_order(sample_pos_order(sample), idempotency_key="k")
    assert caught.value.code == error["code"] and error["code"] in str(caught.value)


def deliver(square, signer, order, event_type=wix_events.ORDER_CREATED, sequence=1):
    client = create_app(square).test_client()
    assert client.post("/webhooks/wix",
                       data=signer.order_webhook(order, event_type, sequence)).status_code == 200


def test_a_503_is_retried_and_a_400_fails_the_order_with_square_s_code(square, signer, mocked):
    worker = square.worker(max_attempts=3, wait=lambda s: 0.0)
    mocked.post(f"{SQUARE}/v2/orders", status=503, json={"errors": [{"code": "SERVICE_UNAVAILABLE"}]})
    mocked.post(f"{SQUARE}/v2/orders", json={"order": {"id": "SQ-9", "location_id": "L-DOWNTOWN"}})
    good = an_order()
    deliver(square, signer, good)
    worker.drain()
    assert square.store.get_order(INSTANCE, good["id"]).pos_order_id == "SQ-9"
    keys = {json.loads(c.request.body)["idempotency_key"] for c in mocked.calls}
    assert keys == {f"wix-send:{good['id']}"}

    mocked.replace(responses.POST, f"{SQUARE}/v2/orders", status=400, json={"errors": [
        {"category": "INVALID_REQUEST_ERROR", "code": "INVALID_VALUE", "detail": "bad"}]})
    bad = an_order()
    deliver(square, signer, bad)
    worker.drain()
    record = square.store.get_order(INSTANCE, bad["id"])
    assert record.state == "failed" and "INVALID_VALUE" in record.last_error


def test_a_wix_cancellation_cancels_the_square_order_at_its_version(square, signer, mocked):
    worker = square.worker(max_attempts=3, wait=lambda s: 0.0)
    mocked.post(f"{SQUARE}/v2/orders", json={"order": {"id": "SQ-1", "location_id": "L-DOWNTOWN"}})
    order = an_order()
    deliver(square, signer, order)
    worker.drain()
    mocked.get(f"{SQUARE}/v2/orders/SQ-1", json={"order": {
        "id": "SQ-1", "location_id": "L-DOWNTOWN", "version": 4, "state": "OPEN",
        "fulfillments": [{"uid": "F1", "type": "PICKUP", "state": "RESERVED"}]}})
    put = mocked.put(f"{SQUARE}/v2/orders/SQ-1",
                     json={"order": {"id": "SQ-1", "location_id": "L-DOWNTOWN", "version": 5}})
    deliver(square, signer, dict(order, status="CANCELED"), wix_events.ORDER_CANCELED, 2)
    worker.drain()
    assert json.loads(put.calls[0].request.body) == {
        "order": {"location_id": "L-DOWNTOWN", "version": 4, "state": "CANCELED",
                  "fulfillments": [{"uid": "F1", "state": "CANCELED"}]},
        "idempotency_key": f"wix-cancel:{order['id']}-v4"}
    assert square.store.get_order(INSTANCE, order["id"]).state == "canceled"


# -- webhooks -------------------------------------------------------------------------------------

def square_event(kind, order_id, version, new_state=None, state="OPEN", event_id=None):
    if kind == "order.fulfillment.updated":
        obj = {"order_fulfillment_updated": {
            "order_id": order_id, "version": version, "location_id": "L-DOWNTOWN", "state": state,
            "created_at": "2026-11-20T18:04:20Z", "updated_at": "2026-11-20T18:10:00Z",
            "fulfillment_update": [{"fulfillment_uid": "F1", "old_state": "PROPOSED",
                                    "new_state": new_state}]}}
    else:
        obj = {"order_updated": {"order_id": order_id, "version": version, "state": state,
                                 "location_id": "L-DOWNTOWN",
                                 "updated_at": "2026-11-20T18:10:00Z"}}
    return {"merchant_id": "M1", "type": kind, "event_id": event_id or str(uuid.uuid4()),
            "created_at": "2026-11-20T18:10:01Z",
            "data": {"type": kind.replace(".", "_"), "id": order_id, "object": obj}}


def signed(event, key=KEY, url=NOTIFY):
    body = json.dumps(event).encode()
    digest = hmac.new(key.encode(), url.encode() + body, hashlib.sha256).digest()
    return body, {"x-square-hmacsha256-signature": base64.b64encode(digest).decode(),
                  "content-type": "application/json"}


def post_event(square, body, headers):
    return create_app(square).test_client().post("/pos/square/events", data=body, headers=headers)


def test_a_signature_computed_as_square_documents_it_is_accepted(square):
    body, headers = signed(square_event("order.fulfillment.updated", "SQ-1", 2, "RESERVED"))
    assert post_event(square, body, headers).status_code == 200
    assert [u.status for u in square.store.list_status_updates()] == ["ACCEPTED"]


@pytest.mark.parametrize("tamper", ["key", "body", "url", "missing"])
def test_a_wrong_key_a_changed_body_or_another_url_is_refused(square, tamper):
    event = square_event("order.fulfillment.updated", "SQ-1", 2, "RESERVED")
    body, headers = signed(event, key="other-key" if tamper == "key" else KEY,
                           url="https://elsewhere.example.com/hook" if tamper == "url" else NOTIFY)
    if tamper == "body":
        body = body.replace(b"RESERVED", b"COMPLETED")
    if tamper == "missing":
        headers = {"content-type": "application/json"}
    answer = post_event(square, body, headers)
    assert answer.status_code == 401 and answer.get_json()["error"]["code"] == "bad_signature"
    assert square.store.list_status_updates() == []


def test_a_replayed_event_id_is_applied_once(square):
    body, headers = signed(square_event("order.fulfillment.updated", "SQ-1", 2, "PREPARED",
                                        event_id="evt-1"))
    for _ in range(3):
        assert post_event(square, body, headers).status_code == 200
    assert len(square.store.list_status_updates()) == 1


@pytest.fixture
def sent_square_order(square, signer, mocked, clock):
    """An order at Square as SQ-1, and a Wix that has its Pending restaurant fulfillment."""
    worker = square.worker(max_attempts=3, wait=lambda s: 0.0)
    mocked.post(f"{SQUARE}/v2/orders", json={"order": {"id": "SQ-1", "location_id": "L-DOWNTOWN"}})
    order = an_order()
    deliver(square, signer, order)
    worker.drain()
    mocked.post(f"{WIX_URL}/oauth2/token", json={"access_token": "t", "expires_in": 14400})
    items = [{"id": li["id"], "quantity": li["quantity"]} for li in order["lineItems"][:2]]
    mocked.get(f"{WIX_URL}/ecom/v1/fulfillments/orders/{order['id']}", json={
        "orderWithFulfillments": {"fulfillments": [{"id": "f-1", "lineItems": items}]}})
    return order, worker


@pytest.mark.parametrize("square_state, wix_body", [
    ("RESERVED", {"fulfillment": {"status": "Accepted"}}),
    ("PREPARED", {"fulfillment": {"status": "Ready"}}),
    ("COMPLETED", {"fulfillment": {"status": "Fulfilled", "completed": True}}),
])
def test_each_fulfillment_state_lands_as_the_right_wix_update(square, sent_square_order, mocked,
                                                              square_state, wix_body):
    order, worker = sent_square_order
    patch = mocked.patch(f"{WIX_URL}/ecom/v1/fulfillments/f-1/orders/{order['id']}", json={})
    body, headers = signed(square_event("order.fulfillment.updated", "SQ-1", 3, square_state))
    assert post_event(square, body, headers).status_code == 200
    worker.drain()
    assert [json.loads(c.request.body) for c in patch.calls] == [wix_body]


@pytest.mark.parametrize("square_state", ["CANCELED", "FAILED"])
def test_a_canceled_or_failed_fulfillment_cancels_the_order_in_the_bridge(square,
                                                                          sent_square_order,
                                                                          mocked, square_state):
    order, worker = sent_square_order
    mocked.remove(responses.POST, f"{WIX_URL}/oauth2/token")  # no Wix call is expected
    mocked.remove(responses.GET, f"{WIX_URL}/ecom/v1/fulfillments/orders/{order['id']}")
    body, headers = signed(square_event("order.fulfillment.updated", "SQ-1", 3, square_state))
    post_event(square, body, headers)
    worker.drain()
    assert square.store.get_order(INSTANCE, order["id"]).state == "canceled"
    assert all(WIX_URL not in c.request.url for c in mocked.calls)


def test_proposed_is_no_change_and_stores_nothing(square):
    body, headers = signed(square_event("order.fulfillment.updated", "SQ-1", 2, "PROPOSED"))
    assert post_event(square, body, headers).status_code == 200
    assert square.store.list_status_updates() == []


def test_order_updated_fetches_the_order_to_learn_its_state(square, sent_square_order, mocked):
    order, worker = sent_square_order
    fetch = mocked.get(f"{SQUARE}/v2/orders/SQ-1", json={"order": {
        "id": "SQ-1", "location_id": "L-DOWNTOWN", "version": 6, "state": "OPEN",
        "fulfillments": [{"uid": "F1", "type": "PICKUP", "state": "PREPARED"}]}})
    patch = mocked.patch(f"{WIX_URL}/ecom/v1/fulfillments/f-1/orders/{order['id']}", json={})
    body, headers = signed(square_event("order.updated", "SQ-1", 6))
    assert post_event(square, body, headers).status_code == 200
    worker.drain()
    assert fetch.call_count == 1
    assert [json.loads(c.request.body) for c in patch.calls] == [{"fulfillment": {"status": "Ready"}}]


def test_an_older_version_arriving_late_is_dropped(square, sent_square_order, mocked):
    order, worker = sent_square_order
    patch = mocked.patch(f"{WIX_URL}/ecom/v1/fulfillments/f-1/orders/{order['id']}", json={})
    for version, state in ((5, "COMPLETED"), (4, "PREPARED")):
        body, headers = signed(square_event("order.fulfillment.updated", "SQ-1", version, state))
        post_event(square, body, headers)
    worker.drain()
    assert [json.loads(c.request.body)["fulfillment"]["status"] for c in patch.calls] == ["Fulfilled"]
    stale = square.store.list_status_updates()[0]
    assert stale.state == "skipped" and "stale" in stale.note


@pytest.mark.parametrize("missing", ["POS_SQUARE_ACCESS_TOKEN", "POS_SQUARE_LOCATION_ID"])
def test_a_missing_square_setting_stops_start_up_naming_it(square_env, missing):
    with pytest.raises(ConfigError, match=missing):
        bootstrap(load_config({**square_env, missing: ""}))


def test_a_signature_key_without_a_notification_url_is_a_configuration_error(square_env):
    with pytest.raises(ConfigError, match="POS_SQUARE_NOTIFICATION_URL"):
        bootstrap(load_config({**square_env, "POS_SQUARE_NOTIFICATION_URL": ""}))


def test_a_paired_location_and_mapped_items_are_used_and_the_map_still_overrides(
        sample, square_env):
    import dataclasses
    order = sample_pos_order(sample)
    mapped = dataclasses.replace(
        order, location_id="loc-elsewhere", pos_location_id="L-PAIRED",
        items=tuple(dataclasses.replace(item, pos_item_id=f"SQ-{n}")
                    for n, item in enumerate(order.items)))
    settings = client_for(square_env).settings
    body = create_order_body(mapped, settings, "k")["order"]
    assert body["location_id"] == "L-PAIRED"
    assert [line["catalog_object_id"] for line in body["line_items"]] == [
        f"SQ-{n}" for n in range(len(order.items))]
    overridden = dataclasses.replace(mapped, location_id=DOWNTOWN)
    assert create_order_body(overridden, settings, "k")["order"]["location_id"] == "L-DOWNTOWN"


def test_the_credentials_check_names_the_merchant_and_locations_are_listed(square_env, mocked):
    from bridge.pos import base
    client = client_for(square_env)
    mocked.get(f"{SQUARE}/v2/merchants/me",
               json={"merchant": {"id": "MERCHANT-1", "country": "US"}})
    mocked.get(f"{SQUARE}/v2/locations", json={"locations": [
        {"id": "L1", "name": "Uptown", "status": "ACTIVE"},
        {"id": "L2", "name": "Closed", "status": "INACTIVE"}]})
    assert base.check_credentials(client) == (True, "MERCHANT-1")
    assert [(loc.id, loc.name) for loc in base.list_locations(client)] == [("L1", "Uptown")]
    mocked.replace(responses.GET, f"{SQUARE}/v2/merchants/me", status=401, json={"errors": [
        {"category": "AUTHENTICATION_ERROR", "code": "UNAUTHORIZED", "detail": "bad token"}]})
    with pytest.raises(PosRejected):
        base.check_credentials(client)


def test_accounts_sharing_the_app_s_signature_key_are_told_apart_by_merchant(square_env,
                                                                           make_bridge, mocked):
    """Square signs every seller's events with the app's one key: the event's merchant_id says
    which site's account it is about."""
    from tests.sites import SECRET_KEY
    bridge = make_bridge({**square_env, "BRIDGE_SECRET_KEY": SECRET_KEY})
    for n in (1, 2):
        mocked.get(f"{SQUARE}/v2/merchants/me",
                   json={"merchant": {"id": f"M{n}", "country": "US"}},
                   match=[responses.matchers.header_matcher(
                       {"Authorization": f"Bearer token-{n}"})])
        account = bridge.accounts.save(f"site-{n}", "square",
                                       {"POS_SQUARE_ACCESS_TOKEN": f"token-{n}",
                                        "POS_SQUARE_LOCATION_ID": f"L{n}"},
                                       account_id=f"acc-{n}", clients=bridge.pos)
        assert bridge.accounts.check(account, bridge.pos).merchant_id == f"M{n}"
        bridge.store.save_order(wix_order_id=f"wix-{n}", instance_id=f"site-{n}", state="sent",
                                snapshot={})
        bridge.store.set_order_state(f"site-{n}", f"wix-{n}", "sent",
                                     pos_client=f"square@acc-{n}",
                                     pos_order_id="SQ-1")  # ids alike: only the merchant differs
    event = square_event("order.fulfillment.updated", "SQ-1", 2, "RESERVED")
    event["merchant_id"] = "M2"
    assert post_event(bridge, *signed(event)).status_code == 200
    [update] = bridge.store.list_status_updates()
    assert (update.pos_client, update.wix_order_id, update.state) == ("square@acc-2", "wix-2",
                                                                      "queued")


def _variation(vid, name, cents, **extra):
    return {"type": "ITEM_VARIATION", "id": vid, "present_at_all_locations": True,
            "item_variation_data": {"name": name, "pricing_type": "FIXED_PRICING",
                                    "price_money": {"amount": cents, "currency": "USD"}},
            **extra}


CATALOG_PAGES = [
    {"objects": [
        {"type": "CATEGORY", "id": "CAT-PIZZA", "category_data": {"name": "Pizza"}},
        {"type": "ITEM", "id": "IT-MARG", "present_at_all_locations": True, "item_data": {
            "name": "Margherita", "description": "Tomato, mozzarella",
            "categories": [{"id": "CAT-PIZZA"}],
            "variations": [_variation("V-MARG-S", "Small", 1100),
                           _variation("V-MARG-L", "Large", 1400)],
            "modifier_list_info": [{"modifier_list_id": "ML-TOP", "enabled": True}]}},
    ], "cursor": "page-2"},
    {"objects": [
        {"type": "ITEM", "id": "IT-LEMON", "present_at_all_locations": True, "item_data": {
            "name": "Lemonade", "variations": [_variation("V-LEMON", "Regular", 350)]}},
        {"type": "ITEM", "id": "IT-ELSEWHERE", "present_at_all_locations": False,
         "present_at_location_ids": ["L-OTHER"], "item_data": {
             "name": "Only uptown", "variations": [_variation("V-X", "Regular", 100)]}},
        {"type": "ITEM", "id": "IT-MARKET", "present_at_all_locations": True, "item_data": {
            "name": "Market fish", "variations": [{
                "type": "ITEM_VARIATION", "id": "V-FISH", "present_at_all_locations": True,
                "item_variation_data": {"name": "Regular",
                                        "pricing_type": "VARIABLE_PRICING"}}]}},
        {"type": "MODIFIER_LIST", "id": "ML-TOP", "present_at_all_locations": True,
         "modifier_list_data": {"name": "Toppings", "selection_type": "MULTIPLE",
                                "modifiers": [{"type": "MODIFIER", "id": "MOD-BASIL",
                                               "modifier_data": {"name": "Basil", "price_money":
                                                                 {"amount": 100,
                                                                  "currency": "USD"}}}]}},
    ]},
]


def test_the_catalog_is_read_page_by_page_into_the_bridge_s_menu(square_env, mocked):
    from bridge.domain.menus import parse_catalog
    from bridge.pos import base
    mocked.get(f"{SQUARE}/v2/catalog/list", json=CATALOG_PAGES[1],
               match=[responses.matchers.query_param_matcher(
                   {"types": "ITEM,CATEGORY,MODIFIER_LIST", "cursor": "page-2"})])
    mocked.get(f"{SQUARE}/v2/catalog/list", json=CATALOG_PAGES[0],
               match=[responses.matchers.query_param_matcher(
                   {"types": "ITEM,CATEGORY,MODIFIER_LIST"})])
    menu = base.fetch_menu(client_for(square_env), "L-DOWNTOWN")
    catalog = parse_catalog(menu)
    items = {i.pos_id: i for i in catalog.items}
    assert set(items) == {"IT-MARG", "V-LEMON"}  # a lone variation is the item: orders send it
    assert str(items["V-LEMON"].price) == "3.50"
    assert [(v, str(p)) for v, p in items["IT-MARG"].variant_prices] == [
        ("V-MARG-S", "11.00"), ("V-MARG-L", "14.00")]
    assert items["IT-MARG"].modifier_group_ids == ("ML-TOP",)
    assert [(s.name, s.item_ids) for s in catalog.sections] == [
        ("Pizza", ("IT-MARG",)), ("Other", ("V-LEMON",))]
    assert any("V-FISH" in reason and "no price" in reason for reason in catalog.skipped)
    assert str(catalog.modifier_groups[0].choices[0].price) == "1.00"


def test_an_order_taken_at_square_is_reported_and_fetched_in_the_import_form(square,
                                                                            square_env):
    from bridge.domain.imports import PosOrderCreated, parse_pos_order
    from bridge.pos.base import NotAnImport
    from bridge.pos.square import changes_from_event, import_form
    event = {"merchant_id": "M1", "type": "order.created", "event_id": "ev-1",
             "data": {"type": "order_created", "id": "SQ-77", "object": {"order_created": {
                 "order_id": "SQ-77", "location_id": "L-DOWNTOWN", "state": "OPEN"}}}}
    assert changes_from_event(event) == [PosOrderCreated("SQ-77", None, "L-DOWNTOWN", "ev-1",
                                                         "M1")]
    taken = {"id": "SQ-77", "location_id": "L-DOWNTOWN", "created_at": "2026-12-02T12:00:00Z",
             "line_items": [{"uid": "u1", "catalog_object_id": "V-MARG-S", "name": "Margherita",
                             "quantity": "2", "base_price_money": {"amount": 1100,
                                                                   "currency": "USD"},
                             "modifiers": [{"catalog_object_id": "MOD-BASIL", "name": "Basil",
                                            "base_price_money": {"amount": 100,
                                                                 "currency": "USD"}}]}],
             "fulfillments": [{"type": "PICKUP", "pickup_details": {"recipient": {
                 "display_name": "Ada Lovelace", "phone_number": "+12125550100"}}}],
             "total_money": {"amount": 2460, "currency": "USD"},
             "total_tax_money": {"amount": 160, "currency": "USD"},
             "total_discount_money": {"amount": 0, "currency": "USD"}}
    order = parse_pos_order(import_form(taken))
    assert (order.pos_order_id, order.location_id, str(order.total), str(order.subtotal)) == (
        "SQ-77", "L-DOWNTOWN", "24.60", "23.00")
    assert [(i.pos_id, i.quantity, str(i.price)) for i in order.items] == [("V-MARG-S", 2,
                                                                            "11.00")]
    assert order.customer.first_name == "Ada" and order.items[0].modifiers[0].pos_id == \
        "MOD-BASIL"
    ours = {**taken, "source": {"name": "Wix"}, "metadata": {"wix_order_id": "wix-1"}}
    with pytest.raises(NotAnImport, match="wix-1"):
        import_form(ours)


def test_an_update_about_an_order_never_seen_is_imported_one_about_ours_is_not(square):
    square.store.save_order(wix_order_id="wix-ours", instance_id=INSTANCE, state="sent",
                            snapshot={})
    square.store.set_order_state(INSTANCE, "wix-ours", "sent", pos_client="square",
                                 pos_order_id="SQ-OURS")
    for order_id in ("SQ-NEW", "SQ-OURS", "SQ-NEW"):
        body, headers = signed(square_event("order.updated", order_id, 3))
        assert post_event(square, body, headers).status_code == 200
    assert [(i.pos_client, i.pos_order_id) for i in square.store.list_imports()] == [
        ("square", "SQ-NEW")]


@pytest.mark.parametrize("answer, state, says", [
    ({"status": 503, "json": {"errors": [{"category": "API_ERROR", "code": "SERVICE_UNAVAILABLE"}]}},
     "pending", "the POS did not give the order"),
    ({"status": 404, "json": {"errors": [{"category": "INVALID_REQUEST_ERROR",
                                          "code": "NOT_FOUND"}]}},
     "failed", "the POS would not give the order"),
    ({"json": {"order": {"id": "SQ-NEW", "location_id": "L-DOWNTOWN", "source": {"name": "Wix"},
                         "metadata": {"wix_order_id": "wix-9"}}}},
     "done", "wix-9"),
])
def test_an_order_square_reports_is_fetched_and_what_square_answers_decides(
        square, mocked, answer, state, says):
    """Square's event names the order; the import fetches it. Square down: tried again later;
    Square refusing: failed, visibly; an order the bridge made itself: not imported."""
    square.store.set_instance(INSTANCE, "installed")
    body, headers = signed(square_event("order.updated", "SQ-NEW", 3))
    assert post_event(square, body, headers).status_code == 200
    mocked.get(f"{SQUARE}/v2/orders/SQ-NEW", **answer)
    square.worker(max_attempts=3, wait=lambda s: 0.0, poll_seconds=0.01).run_once()
    [imported] = square.store.list_imports()
    assert imported.instance_id == INSTANCE and imported.state == state
    [job] = [j for j in map(square.store.get_job, range(1, 10))
             if j is not None and j.kind == "import_order"]
    assert says in (imported.error if state != "pending" else job.last_error)
    assert job.state == ("pending" if state == "pending" else
                         "failed" if state == "failed" else "done")


def test_an_answer_without_an_order_id_is_retried_and_a_canceled_order_is_not_canceled_again(
        sample, square_env, mocked):
    client = client_for(square_env)
    mocked.post(f"{SQUARE}/v2/orders", json={"order": {"location_id": "L-DEFAULT"}})
    with pytest.raises(PosUnavailable, match="gave no id"):
        client.create_order(sample_pos_order(sample), idempotency_key="send:1")
    mocked.post(f"{SQUARE}/v2/orders", body=b"<html>gateway</html>", status=200)
    with pytest.raises(PosUnavailable):
        client.create_order(sample_pos_order(sample), idempotency_key="send:1")
    mocked.get(f"{SQUARE}/v2/orders/SQ-1",
               json={"order": {"id": "SQ-1", "location_id": "L-DOWNTOWN", "state": "CANCELED"}})
    client.cancel_order("wix-1", "SQ-1", idempotency_key="cancel:wix-1")  # no PUT: strict mock


@pytest.mark.parametrize("body, says", [
    (b"not json", "body is not JSON"),
    (b'{"type": "order.updated"}', "no event_id"),
])
def test_a_signed_callback_that_is_not_a_square_event_is_refused(square_env, body, says):
    digest = hmac.new(KEY.encode(), NOTIFY.encode() + body, hashlib.sha256).digest()
    headers = {"x-square-hmacsha256-signature": base64.b64encode(digest).decode()}
    with pytest.raises(CallbackRejected, match=says):
        client_for(square_env).parse_callback(headers, body)


def test_callbacks_are_refused_where_square_webhooks_are_not_configured(square_env):
    client = client_for(square_env, POS_SQUARE_WEBHOOK_SIGNATURE_KEY="",
                        POS_SQUARE_NOTIFICATION_URL="")
    with pytest.raises(CallbackRejected, match="not configured here") as refused:
        client.parse_callback({}, b"{}")
    assert refused.value.status == 401


def test_reconciling_searches_square_for_what_changed_since_and_tells_wix_once(
        square, sent_square_order, mocked):
    """Square's webhooks never came: the kitchen's progress reaches Wix all the same, from one
    search of the locations' orders changed since the last one, not a call per order."""
    from bridge.service import reconcile
    order, worker = sent_square_order
    search = mocked.post(f"{SQUARE}/v2/orders/search", json={"orders": [{
        "id": "SQ-1", "location_id": "L-DOWNTOWN", "version": 7, "state": "OPEN", "updated_at": "2026-12-06T12:00:00Z",
        "fulfillments": [{"uid": "F1", "type": "PICKUP", "state": "PREPARED"}]}]})
    patch = mocked.patch(f"{WIX_URL}/ecom/v1/fulfillments/f-1/orders/{order['id']}", json={})
    for _ in range(2):                                     # searched twice: told once
        done = reconcile.reconcile_pos_site(square.store, square.pos, INSTANCE, 0, 86400)
        worker.drain()
    bodies = [json.loads(c.request.body) for c in search.calls]
    assert [b["location_ids"] for b in bodies] == [["L-DEFAULT", "L-DOWNTOWN"]] * 2
    starts = [b["query"]["filter"]["date_time_filter"]["updated_at"]["start_at"] for b in bodies]
    assert starts[0] == square.store.get_order(INSTANCE, order["id"]).created_at
    assert starts[1] == "2026-12-06T12:00:00Z"            # from where the last search got to
    assert [json.loads(c.request.body) for c in patch.calls] == [{"fulfillment": {"status": "Ready"}}]
    assert (done.seen, done.taken) == (1, 0)
    assert square.store.get_order(INSTANCE, order["id"]).pos_status == "READY"


def test_reconciling_leaves_finished_and_too_old_orders_alone(square, sent_square_order, mocked):
    import time

    from bridge.service import reconcile
    order, _ = sent_square_order
    mocked.remove(responses.POST, f"{WIX_URL}/oauth2/token")  # nothing goes to Wix
    mocked.remove(responses.GET, f"{WIX_URL}/ecom/v1/fulfillments/orders/{order['id']}")
    batch = mocked.post(f"{SQUARE}/v2/orders/search", json={"orders": []})
    reconcile.reconcile_pos_site(square.store, square.pos, INSTANCE, 0, 86400)
    assert batch.call_count == 1                           # unfinished and young: asked
    time.sleep(0.02)
    reconcile.reconcile_pos_site(square.store, square.pos, INSTANCE, 0, 0.01)
    assert batch.call_count == 1                           # older than the maximum age
    square.store.set_order_statuses(INSTANCE, order["id"], pos_status="FULFILLED")
    reconcile.reconcile_pos_site(square.store, square.pos, INSTANCE, 0, 86400)
    assert batch.call_count == 1                           # finished at the POS


def test_an_order_is_asked_less_often_as_it_ages():
    from bridge.service.reconcile import due
    assert all(due(600, slot) for slot in range(8))                      # its first hour
    assert [due(2 * 3600, slot) for slot in range(8)].count(True) == 2  # every 4th period
    assert [due(9 * 3600, slot) for slot in range(24)].count(True) == 2  # every 12th
