"""Statuses back to Wix: a POS callback becomes an Update Fulfillment call, in order, once.

The services are called directly on the in-memory store (tests/service/conftest.py), the worker
runs for real, and Wix and the POS are mocked at the HTTP layer. What the routes answer to a bad
callback is in tests/web/test_pos_callbacks.py.
"""
import json

import pytest

from bridge.wix import events as wix_events
from tests.builders import INSTANCE, POS_URL, WIX_URL, accepted, an_order
from tests.service.conftest import pos_callback, webhook

TOKEN_URL = f"{WIX_URL}/oauth2/token"


def list_url(order_id):
    return f"{WIX_URL}/ecom/v1/fulfillments/orders/{order_id}"


def patch_url(order_id, fulfillment_id="f-1"):
    return f"{WIX_URL}/ecom/v1/fulfillments/{fulfillment_id}/orders/{order_id}"


@pytest.fixture
def database_url(tmp_path):
    """The store is in memory: the configuration names a file that is never opened."""
    return f"sqlite:///{tmp_path / 'unused.db'}"


@pytest.fixture
def bridge(memory_bridge):
    return memory_bridge()


@pytest.fixture
def sent_order(bridge, signer, worker, mocked):
    """An approved order the POS accepted as `pos-1`."""
    mocked.post(POS_URL, json=accepted("pos-1"))
    order = an_order(restaurant=2, other=1)
    assert webhook(bridge, signer.order_webhook(order))
    worker.drain()
    return order


def callback(bridge, status, pos_order_id="pos-1", **signing):
    """A status callback, stored: the number of changes it carried."""
    return pos_callback(bridge, status, pos_order_id, **signing)


def wix_has_fulfillment(mocked, order, fulfillment_id="f-1", status="Pending"):
    items = [{"id": li["id"], "quantity": li["quantity"]} for li in order["lineItems"][:2]]
    return mocked.get(list_url(order["id"]), json={"orderWithFulfillments": {
        "orderId": order["id"], "fulfillments": [
            {"id": "f-other", "lineItems": [{"id": order["lineItems"][2]["id"], "quantity": 1}],
             "status": "Pending"},
            {"id": fulfillment_id, "lineItems": items, "status": status, "completed": False}]}})


def token(mocked):
    return mocked.post(TOKEN_URL, json={"access_token": "tok", "expires_in": 14400})


@pytest.mark.parametrize("status, body", [
    ("ACCEPTED", {"fulfillment": {"status": "Accepted"}}),
    ("READY", {"fulfillment": {"status": "Ready"}}),
    ("IN_DELIVERY", {"fulfillment": {"status": "In_Delivery"}}),
    ("FULFILLED", {"fulfillment": {"status": "Fulfilled", "completed": True}}),
])
def test_each_status_patches_the_restaurant_fulfillment(bridge, worker, store, mocked, sent_order,
                                                       status, body):
    token(mocked)
    wix_has_fulfillment(mocked, sent_order)
    patch = mocked.patch(patch_url(sent_order["id"]), json={"orderWithFulfillments": {}})
    assert callback(bridge, status) == 1
    worker.drain()
    assert patch.call_count == 1
    assert json.loads(patch.calls[0].request.body) == body
    assert patch.calls[0].request.headers["Authorization"] == "tok"
    record = store.get_order(INSTANCE, sent_order["id"])
    assert (record.wix_fulfillment_status, record.wix_fulfillment_id) == (status, "f-1")


def test_statuses_go_out_in_order_with_one_token_and_one_listing(bridge, worker, mocked,
                                                                 sent_order):
    token_calls = token(mocked)
    listing = wix_has_fulfillment(mocked, sent_order)
    patch = mocked.patch(patch_url(sent_order["id"]), json={})
    for status in ("ACCEPTED", "READY", "FULFILLED"):
        assert callback(bridge, status) == 1
    worker.drain()
    assert [json.loads(c.request.body)["fulfillment"]["status"] for c in patch.calls] == [
        "Accepted", "Ready", "Fulfilled"]
    assert token_calls.call_count == 1 and listing.call_count == 1  # the id is remembered


def test_a_missing_fulfillment_is_created_with_the_restaurant_items(bridge, worker, store,
                                                                    mocked, sent_order):
    token(mocked)
    mocked.get(list_url(sent_order["id"]),
               json={"orderWithFulfillments": {"orderId": sent_order["id"], "fulfillments": []}})
    create = mocked.post(f"{list_url(sent_order['id'])}/create-fulfillment",
                         json={"fulfillmentId": "f-new", "orderWithFulfillments": {}})
    patch = mocked.patch(patch_url(sent_order["id"], "f-new"), json={})
    callback(bridge, "ACCEPTED")
    worker.drain()
    assert json.loads(create.calls[0].request.body) == {"fulfillment": {
        "lineItems": [{"id": li["id"], "quantity": li["quantity"]}
                      for li in sent_order["lineItems"][:2]],
        "status": "Accepted", "completed": False}}
    callback(bridge, "READY")
    worker.drain()
    assert create.call_count == 1 and patch.call_count == 1
    assert store.get_order(INSTANCE, sent_order["id"]).wix_fulfillment_id == "f-new"


def test_a_status_never_moves_backwards_and_a_repeat_is_not_sent(bridge, worker, store, mocked,
                                                                 sent_order):
    token(mocked)
    wix_has_fulfillment(mocked, sent_order)
    patch = mocked.patch(patch_url(sent_order["id"]), json={})
    for status in ("FULFILLED", "READY", "FULFILLED", "ACCEPTED"):
        callback(bridge, status)
    worker.drain()
    assert patch.call_count == 1
    states = [u.state for u in reversed(store.list_status_updates())]
    assert states == ["sent", "skipped", "skipped", "skipped"]
    assert store.get_order(INSTANCE, sent_order["id"]).wix_fulfillment_status == "FULFILLED"


def test_a_callback_before_the_order_is_mapped_is_applied_once_it_is(bridge, signer, worker,
                                                                     store, mocked):
    assert callback(bridge, "ACCEPTED", pos_order_id="pos-early") == 1
    worker.drain()
    [update] = store.list_status_updates()
    assert update.state == "unmatched"
    mocked.post(POS_URL, json=accepted("pos-early"))
    order = an_order()
    token(mocked)
    wix_has_fulfillment(mocked, order)
    patch = mocked.patch(patch_url(order["id"]), json={})
    webhook(bridge, signer.order_webhook(order))
    worker.drain()
    assert json.loads(patch.calls[0].request.body) == {"fulfillment": {"status": "Accepted"}}
    assert store.get_status_update(update.id).state == "sent"


def test_a_repeated_callback_is_stored_once(bridge, worker, store, mocked, sent_order):
    token(mocked)
    wix_has_fulfillment(mocked, sent_order)
    patch = mocked.patch(patch_url(sent_order["id"]), json={})
    for _ in range(3):
        callback(bridge, "READY", msg_id="msg_same")
    worker.drain()
    assert len(store.list_status_updates()) == 1 and patch.call_count == 1


def test_429_with_retry_after_and_503_are_retried_until_wix_takes_the_update(
        bridge, worker, store, mocked, sent_order, clock):
    token(mocked)
    wix_has_fulfillment(mocked, sent_order)
    url = patch_url(sent_order["id"])
    mocked.patch(url, status=429, headers={"Retry-After": "1"})
    mocked.patch(url, status=503)
    mocked.patch(url, status=503)
    mocked.patch(url, status=503)   # the in-process retries are spent: back to the worker
    mocked.patch(url, json={})
    callback(bridge, "READY")
    worker.drain()
    assert clock.sleeps[0] == 1.0
    assert store.get_order(INSTANCE, sent_order["id"]).wix_fulfillment_status == "READY"
    outcomes = [a["outcome"] for a in store.history(INSTANCE, sent_order["id"])["attempts"]][-2:]
    assert outcomes == ["retry", "done"]


def test_a_400_from_wix_is_not_retried_and_is_surfaced(bridge, worker, store, mocked, sent_order):
    token(mocked)
    wix_has_fulfillment(mocked, sent_order)
    patch = mocked.patch(patch_url(sent_order["id"]), status=400, json={
        "message": "bad", "details": {"applicationError": {"code": "FULFILLMENT_LOCKED"}}})
    callback(bridge, "READY")
    worker.drain()
    assert patch.call_count == 1
    [update] = store.list_status_updates()
    assert update.state == "failed" and "FULFILLMENT_LOCKED" in update.note
    assert store.get_order(INSTANCE, sent_order["id"]).wix_fulfillment_status is None


def test_a_rotated_secret_still_verifies_callbacks(env, memory_bridge):
    new = "whsec_" + "TkVXU0VDUkVU" * 3
    bridge = memory_bridge({**env, "POS_WEBHOOK_SECRET": f"{new} {env['POS_WEBHOOK_SECRET']}"})
    for secret in (new, env["POS_WEBHOOK_SECRET"]):
        assert callback(bridge, "READY", pos_order_id="p", secret=secret) == 1


def test_canceled_by_the_pos_marks_the_order_and_tells_wix_nothing(bridge, worker, store, mocked,
                                                                   sent_order):
    callback(bridge, "CANCELED")
    worker.drain()
    record = store.get_order(INSTANCE, sent_order["id"])
    assert (record.state, record.pos_status) == ("canceled", "CANCELED")
    assert all(WIX_URL not in c.request.url for c in mocked.calls)


def test_without_wix_credentials_updates_wait_visibly_and_send_nothing(
        env, signer, mocked, memory_bridge):
    bridge = memory_bridge({k: v for k, v in env.items()
                            if k not in ("WIX_APP_ID", "WIX_APP_SECRET")}, wix=None)
    assert bridge.wix is None
    worker = bridge.worker(max_attempts=3, wait=lambda s: 0.0)
    mocked.post(POS_URL, json=accepted("pos-1"))
    order = an_order()
    webhook(bridge, signer.order_webhook(order))
    worker.drain()
    for status in ("ACCEPTED", "READY"):
        callback(bridge, status)
    worker.drain()
    record = bridge.store.get_order(INSTANCE, order["id"])
    assert record.pos_status == "READY" and record.wix_fulfillment_status is None
    jobs = [j for j in bridge.store.history(INSTANCE, order["id"])["jobs"] if j["kind"] == "wix_status"]
    assert [j["state"] for j in jobs] == ["pending", "pending"]
    assert jobs[0]["attempts"] == 0 and "waiting for Wix credentials" in jobs[0]["last_error"]
    oldest = bridge.store.list_status_updates()[-1]  # the next in line; the rest queue behind it
    assert oldest.status == "ACCEPTED" and "waiting for Wix credentials" in oldest.note
    assert len(mocked.calls) == 1  # the POS order, and nothing to Wix


def test_app_removed_fails_pending_updates_with_a_reason_and_stops_calls(bridge, signer, worker,
                                                                         store, mocked, sent_order):
    token(mocked)
    mocked.get(list_url(sent_order["id"]), status=429, headers={"Retry-After": "600"})
    callback(bridge, "READY")
    worker.drain()  # Wix asked for ten minutes' rest: the update is pending, not due
    assert store.list_status_updates()[0].state == "queued"
    calls_to_wix = len(mocked.calls)
    removed = signer.token({"appId": "app"}, wix_events.APP_REMOVED)
    assert webhook(bridge, removed)
    worker.drain()
    [update] = store.list_status_updates()
    assert update.state == "failed" and "removed" in update.note
    assert store.instance_status(INSTANCE) == "removed"
    callback(bridge, "FULFILLED")
    worker.drain()
    newest = store.list_status_updates()[0]
    assert newest.state == "failed" and "removed" in newest.note
    assert len(mocked.calls) == calls_to_wix  # nothing more went to Wix
    installed = signer.token({"appId": "app", "originInstanceId": ""}, wix_events.APP_INSTALLED)
    assert webhook(bridge, installed)
    worker.drain()
    assert store.instance_status(INSTANCE) == "installed"


def test_a_reinstall_byte_for_byte_as_the_first_install_installs_and_statuses_reach_wix(
        bridge, signer, worker, store, mocked, sent_order):
    token(mocked)
    mocked.get(f"{WIX_URL}/restaurants/v1/pos-integration/configurations",
               json={"configurations": []})        # each install lists the site's locations
    wix_has_fulfillment(mocked, sent_order)
    patched = mocked.patch(patch_url(sent_order["id"]), json={})
    installed = signer.token({"appId": "app", "originInstanceId": ""}, wix_events.APP_INSTALLED)
    removed = signer.token({"appId": "app"}, wix_events.APP_REMOVED)
    for body, state in ((installed, "installed"), (removed, "removed"), (installed, "installed"),
                        (installed, "installed")):   # the last: a resend, which changes nothing
        webhook(bridge, body)
        worker.drain()
        assert store.instance_status(INSTANCE) == state
    callback(bridge, "READY")
    worker.drain()
    [update] = store.list_status_updates()
    assert update.state == "sent" and patched.call_count == 1


def test_a_failed_status_update_can_be_replayed(bridge, worker, store, mocked, sent_order):
    from bridge.service.replay import replay
    token(mocked)
    wix_has_fulfillment(mocked, sent_order)
    mocked.patch(patch_url(sent_order["id"]), status=400, json={"message": "locked"})
    callback(bridge, "READY")
    worker.drain()
    [update] = store.list_status_updates()
    assert update.state == "failed"
    mocked.replace("PATCH", patch_url(sent_order["id"]), json={})
    assert replay(store, status_update_id=update.id)
    assert store.get_status_update(update.id).state == "queued"
    worker.drain()
    assert store.get_status_update(update.id).state == "sent"
    assert store.get_order(INSTANCE, sent_order["id"]).wix_fulfillment_status == "READY"


def test_the_entry_point_name_is_the_one_name_even_when_the_client_class_says_otherwise(
        env, memory_bridge, signer, mocked):
    """A plug-in installed as `acme` whose class calls itself `webhook`: orders are stored, and
    callbacks matched, under `acme`, so statuses find their orders."""
    from bridge.config import load_config
    from bridge.pos.registry import PosClients
    from bridge.pos.webhook import WebhookPos

    config = load_config(env)
    acme = PosClients("acme", WebhookPos.from_config, config.pos_settings,
                      serves=config.pos_sites)
    assert acme.for_instance(None).name == "webhook"
    bridge = memory_bridge(pos=acme)
    worker = bridge.worker(wait=lambda s: 0.0)
    mocked.post(POS_URL, json=accepted("pos-9"))
    order = an_order()
    webhook(bridge, signer.order_webhook(order))
    worker.drain()
    assert bridge.store.get_order(INSTANCE, order["id"]).pos_client == "acme"

    assert not bridge.pos.for_callback("webhook")       # the route answers 404 to that name
    assert callback(bridge, "ACCEPTED", pos_order_id="pos-9", client="acme") == 1
    (update,) = bridge.store.list_status_updates()
    assert (update.pos_client, update.state, update.wix_order_id) == ("acme", "queued",
                                                                       order["id"])


def test_a_fulfillment_whose_create_answer_was_lost_is_found_again_not_created_twice(
        bridge, worker, store, mocked, sent_order):
    """Wix refuses a second create (the quantities are fulfilled already): after a lost answer
    the next attempt looks at the order's fulfillments first, and updates the one it made."""
    token(mocked)
    items = [{"id": li["id"], "quantity": li["quantity"]} for li in sent_order["lineItems"][:2]]
    nothing = {"orderWithFulfillments": {"orderId": sent_order["id"], "fulfillments": []}}
    made = {"orderWithFulfillments": {"orderId": sent_order["id"], "fulfillments": [
        {"id": "f-made", "lineItems": items, "status": "Accepted", "completed": False}]}}
    mocked.get(list_url(sent_order["id"]), json=nothing)
    mocked.get(list_url(sent_order["id"]), json=made)
    create = mocked.post(f"{list_url(sent_order['id'])}/create-fulfillment", status=504,
                         json={"message": "timed out"})  # Wix made it; the answer was lost
    patch = mocked.patch(patch_url(sent_order["id"], "f-made"), json={})
    callback(bridge, "ACCEPTED")
    worker.drain()
    assert create.call_count == 1 and patch.call_count == 1
    assert json.loads(patch.calls[0].request.body) == {"fulfillment": {"status": "Accepted"}}
    record = store.get_order(INSTANCE, sent_order["id"])
    assert (record.wix_fulfillment_id, record.wix_fulfillment_status) == ("f-made", "ACCEPTED")
