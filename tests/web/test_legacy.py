"""The original Wix Restaurants app's POS webhook: the shared sample through to a loopback POS
and back in time, exactly once, card data kept from everything, each error code reachable."""
import json
import threading
import time
from pathlib import Path

import pytest

from bridge.service import legacy
from bridge.web.app import create_app
from tests.builders import POS_URL, pos_error
from tests.loopback import PosServer
from tests.sites import site_bridge

SITE = "site-classic"
SAMPLE = json.loads((Path(__file__).parents[1] / "samples" / "legacy_pos_spi_order.json").read_text())
CARD_NUMBER = "4580458045804580"


@pytest.fixture
def classic_pos():
    server = PosServer("whsec_" + "Y2xhc3NpYy1wb3Mtc2VjcmV0LWZvci10ZXN0cyEh")
    yield server
    server.close()


@pytest.fixture
def wired(env, wix, classic_pos):
    bridge = site_bridge({**env, "BRIDGE_SPI_DEADLINE": "1"}, wix.url, classic_pos, SITE,
                         account_id="acc-l", configuration_id="conf-l", wix_location_id="loc-l",
                         pos_location_id="CLASSIC")
    token = legacy.new_token(bridge.store, SITE, "USD")
    client = create_app(bridge).test_client()

    def post(body, to=None):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return client.post(f"/legacy/{to or token}/orders", data=raw,
                           content_type="application/json")
    post.bridge = bridge
    yield post
    bridge.store.close()


def test_the_sample_order_reaches_the_pos_and_its_id_comes_back(wired, classic_pos):
    answer = wired(SAMPLE)
    assert answer.status_code == 200 and answer.get_json() == {"value": {"orderId": "P1"}}
    [sent] = classic_pos.orders()
    assert sent["id"] == "4417-98231-5520" and sent["posLocationId"] == "CLASSIC"
    assert [(i["name"], i["quantity"], i["unitPrice"], i["totalPrice"], i.get("posItemId"))
            for i in sent["items"]] == [("Margherita Pizza", 2, "14.00", "30.00", "PLU-1001"),
                                        ("Tiramisu", 1, "7.00", "7.00", "PLU-2002")]
    assert sent["items"][0]["modifiers"][0] == {"id": "item-extra-basil", "group": "Extras",
                                                "name": "Extra basil", "quantity": 1,
                                                "price": "1.00"}
    assert sent["items"][0]["note"] == "well done"
    assert sent["totals"]["total"] == "37.00" and sent["payments"] == [
        {"type": "cash", "amount": "37.00"}]
    assert sent["fulfillment"]["type"] == "PICKUP"
    assert sent["fulfillment"]["promisedFrom"].startswith("2026-11-25T19:30:00")
    record = wired.bridge.store.get_order(SITE, "4417-98231-5520")
    assert (record.origin, record.state, record.pos_order_id) == ("legacy", "sent", "P1")


def test_a_slow_pos_answers_endpoint_down_then_wix_s_retry_gets_the_same_order(wired,
                                                                              classic_pos):
    slow = threading.Event()
    classic_pos.hold = lambda delivery: None if slow.is_set() else (slow.set(), time.sleep(1.3))
    started = time.monotonic()
    first = wired(SAMPLE)
    assert first.status_code == 503
    assert first.get_json()["error"]["code"] == "endpoint_down"
    assert time.monotonic() - started < 5
    assert wired.bridge.store.get_order(SITE, "4417-98231-5520").state == "failed"
    time.sleep(0.5)   # the POS made the order after all (past the 1 s deadline)
    again = wired(SAMPLE)
    assert again.status_code == 200 and again.get_json() == {"value": {"orderId": "P1"}}
    assert len(classic_pos.accepted) == 1          # one order at the POS: the key was the same
    assert wired.bridge.store.get_order(SITE, "4417-98231-5520").state == "sent"


def test_card_data_is_refused_and_kept_out_of_logs_and_the_database(wired, classic_pos,
                                                                    caplog, database_url):
    body = {**SAMPLE, "cards": {"tok-1": {"number": CARD_NUMBER, "expiration": "12/29",
                                          "cvv": "123"}}}
    body["order"] = {**SAMPLE["order"], "payments": [
        {"type": "credit", "amount": 3700, "card": {"number": CARD_NUMBER}, "password": "pw"}]}
    caplog.set_level("DEBUG")
    answer = wired(body)
    assert answer.status_code == 402
    assert answer.get_json()["error"]["code"] == "cc_rejected"
    assert "card payments are not handled" in answer.get_json()["error"]["description"]
    assert CARD_NUMBER not in answer.get_data(as_text=True)
    assert CARD_NUMBER not in caplog.text
    assert classic_pos.orders() == []
    assert CARD_NUMBER not in _everything_stored(wired.bridge.store, database_url)


def _everything_stored(store, database_url) -> str:
    """Every byte of a SQLite database (with its journal), or every row of a PostgreSQL one."""
    if database_url.startswith("sqlite:///"):
        path = Path(database_url[len("sqlite:///"):])
        return "".join(p.read_bytes().decode("latin-1") for p in path.parent.iterdir()
                       if p.name.startswith(path.name))
    tables = [r[0] for r in store._execute(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = current_schema()").rows]
    return "\n".join(str(row) for table in tables
                     for row in store._execute(f"SELECT * FROM {table}").rows)


def test_an_unknown_token_is_404_and_nothing_is_stored(wired, classic_pos):
    answer = wired(SAMPLE, to="not-a-token")
    assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "pos_error"
    assert wired.bridge.store.get_order(SITE, "4417-98231-5520") is None


def test_a_new_url_replaces_the_old_one(wired, classic_pos):
    fresh = legacy.new_token(wired.bridge.store, SITE, "USD")
    assert wired(SAMPLE).status_code == 404            # the old token stopped working
    assert wired(SAMPLE, to=fresh).status_code == 200


@pytest.mark.parametrize("body, status, code", [
    (b"{not json", 400, "pos_error"),
    ({"menu": SAMPLE["menu"]}, 400, "pos_error"),
    ({**SAMPLE, "order": {**SAMPLE["order"], "orderItems": [
        {"itemId": "item-unknown", "price": 100, "count": 1}]}}, 400, "invalid_item_mapping"),
    ({**SAMPLE, "order": {**SAMPLE["order"], "orderItems": [
        {"itemId": "item-tiramisu", "price": 700, "count": -1}]}}, 400, "pos_error"),
])
def test_bad_input_is_answered_in_the_protocol_s_form_and_nothing_stored(wired, classic_pos,
                                                                        body, status, code):
    answer = wired(body)
    assert answer.status_code == status and answer.get_json()["error"]["code"] == code
    assert answer.get_json()["error"]["description"]
    assert classic_pos.orders() == [] and wired.bridge.store.list_orders() == []


def test_a_body_over_a_mebibyte_is_413(wired):
    assert wired(b"x" * (1024 * 1024 + 1)).status_code == 413


@pytest.mark.parametrize("code", ["invalid_item_mapping", "cc_rejected"])
def test_the_pos_s_refusals_keep_their_code(env, wix, mocked, code):
    from tests.sites import SECRET_KEY
    from bridge.bootstrap import bootstrap
    from bridge.config import load_config
    mocked.add_passthru("http://127.0.0.1")
    mocked.post(POS_URL, json=pos_error(code))
    bridge = bootstrap(load_config({**env, "WIX_API_BASE": wix.url,
                                    "BRIDGE_SECRET_KEY": SECRET_KEY}), pool_size=2)
    bridge.store.migrate()
    token = legacy.new_token(bridge.store, SITE, "USD")
    answer = create_app(bridge).test_client().post(f"/legacy/{token}/orders", json=SAMPLE)
    record = bridge.store.get_order(SITE, SAMPLE["order"]["id"])
    bridge.store.close()
    assert answer.status_code == 422 and answer.get_json()["error"]["code"] == code
    assert record.state == "failed" and "refused" in record.last_error


def test_the_order_is_listed_with_its_origin(wired, run):
    assert wired(SAMPLE).status_code == 200
    listed = run("orders", "--json")
    row = json.loads(listed.output)
    assert (row["wix_order_id"], row["site"], row["origin"], row["direction"]) == (
        "4417-98231-5520", SITE, "legacy", "exported")
    assert "via=legacy" in run("orders").output


def test_what_is_kept_of_an_order_is_the_fields_the_bridge_uses_nothing_else(
        wired, classic_pos, database_url):
    """Card data or anything else in a field the bridge does not use never reaches storage,
    whether or not the order is accepted."""
    hidden = "SECRET-NOT-A-FIELD-7731"
    order = json.loads(json.dumps(SAMPLE["order"]))
    order["delivery"] = {"type": "delivery", "time": order["delivery"]["time"], "charge": 0,
                         "address": {"city": "Tel Aviv", "street": "Dizengoff", "number": "99",
                                     "cardNumber": CARD_NUMBER, "extra": hidden}}
    order["contact"] = {**order["contact"], "fax": hidden, "card": CARD_NUMBER}
    order["somethingNew"] = {"number": CARD_NUMBER, "note": hidden}
    order["payments"] = [{"type": "cash", "amount": 3700, "token": hidden}]
    answer = wired({**SAMPLE, "order": order})
    assert answer.status_code == 200
    [sent] = classic_pos.orders()
    assert sent["fulfillment"]["address"] == {"city": "Tel Aviv", "street": "Dizengoff",
                                              "number": "99"}
    stored = _everything_stored(wired.bridge.store, database_url)
    assert CARD_NUMBER not in stored and hidden not in stored
    record = wired.bridge.store.get_order(SITE, order["id"])
    assert record.snapshot["posOrder"]["fulfillment"]["address"]["street"] == "Dizengoff"


@pytest.mark.parametrize("change", [
    {"order": {"created": 10**20}},
    {"order": {"delivery": "to the moon"}},
    {"order": {"contact": "Dana"}},
    {"order": {"orderItems": "zz"}},
    {"order": {"payments": "cash"}},
    {"order": {"price": "a lot"}},
    {"menu": {"items": 7}},
    {"menu": 7},
    {"order": 7},
])
def test_a_malformed_body_is_a_clear_4xx_never_a_500(wired, classic_pos, change):
    body = json.loads(json.dumps(SAMPLE))
    for part, fields in change.items():
        body[part] = {**body[part], **fields} if isinstance(fields, dict) else fields
    answer = wired(body)
    assert 400 <= answer.status_code < 500, answer.get_data(as_text=True)
    assert answer.get_json()["error"]["code"] in legacy.CODES
    assert classic_pos.orders() == []
