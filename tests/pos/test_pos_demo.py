"""The demo POS: accepts orders with stable ids and moves them through the kitchen, reporting
each step so the statuses reach Wix like a real POS's callbacks."""
import json

import pytest

from bridge.bootstrap import bootstrap
from bridge.config import ConfigError, load_config
from bridge.web.app import create_app
from tests.builders import INSTANCE, WIX_URL, an_order
from tests.loopback import wait_until


@pytest.fixture
def demo(env, make_bridge):
    settings = {k: v for k, v in env.items() if not k.startswith("POS_")}
    return make_bridge({**settings, "POS_CLIENT": "demo", "POS_DEMO_STEP_SECONDS": "0"})


def test_the_demo_kitchen_reports_each_step_and_wix_hears_them_in_order(demo, signer, mocked):
    mocked.post(f"{WIX_URL}/oauth2/token", json={"access_token": "t", "expires_in": 14400})
    order = an_order()
    items = [{"id": li["id"], "quantity": li["quantity"]} for li in order["lineItems"][:2]]
    mocked.get(f"{WIX_URL}/ecom/v1/fulfillments/orders/{order['id']}", json={
        "orderWithFulfillments": {"fulfillments": [{"id": "f-1", "lineItems": items}]}})
    patch = mocked.patch(f"{WIX_URL}/ecom/v1/fulfillments/f-1/orders/{order['id']}", json={})
    client = create_app(demo).test_client()
    worker = demo.worker(max_attempts=3, wait=lambda s: 0.0)
    client.post("/webhooks/wix", data=signer.order_webhook(order))
    worker.drain()
    record = demo.store.get_order(INSTANCE, order["id"])
    assert record.state == "sent" and record.pos_order_id.startswith("demo-")
    wait_until(lambda: len(demo.store.list_status_updates()) == 3, timeout=10,
               what="the demo kitchen to report three steps")
    worker.drain()
    assert [json.loads(c.request.body)["fulfillment"]["status"] for c in patch.calls] == [
        "Accepted", "Ready", "Fulfilled"]
    assert demo.store.get_order(INSTANCE, order["id"]).pos_status == "FULFILLED"


def test_the_demo_gives_the_same_id_to_a_retried_order(demo):
    from bridge.domain.orders import pos_order_from_wix
    client = demo.pos.for_instance("i")
    order = pos_order_from_wix(an_order(), "i")
    assert client.create_order(order, idempotency_key="k") == client.create_order(
        order, idempotency_key="k")
    assert client.create_order(order, idempotency_key="k2") != client.create_order(
        order, idempotency_key="k")


def test_the_demo_takes_no_callbacks_over_http(demo):
    answer = create_app(demo).test_client().post("/pos/demo/events", data=b"{}")
    assert answer.status_code == 404


def test_a_bad_demo_step_setting_is_a_configuration_error(env):
    with pytest.raises(ConfigError, match="POS_DEMO_STEP_SECONDS"):
        bootstrap(load_config({**env, "POS_CLIENT": "demo", "POS_DEMO_STEP_SECONDS": "soon"}))
