"""Order export through the worker: one POS order per Wix order, whatever Wix and the POS do.

The services are called directly; the POS is mocked at the HTTP layer (`responses`). These stay on
the real databases, SQLite's file and PostgreSQL, because two workers race on them here.
"""
import json
import threading
import time

import pytest
import responses
from standardwebhooks import Webhook

from bridge.bootstrap import bootstrap
from bridge.config import load_config
from bridge.domain.failures import Cause
from bridge.service.replay import replay
from bridge.wix import events as wix_events
from tests.at_once import AtOnce
from tests.builders import (INSTANCE, POS_SECRET, POS_URL, accepted, an_order, numbered_pos_ids,
                            pos_error, WIX_URL)
from tests.service.conftest import webhook


def deliver(bridge, signer, order, event_type=wix_events.ORDER_CREATED, sequence=1):
    webhook(bridge, signer.order_webhook(order, event_type, sequence))


def sent_orders(mocked) -> list[dict]:
    return [json.loads(call.request.body)["order"] for call in mocked.calls
            if "order" in json.loads(call.request.body)]


def test_an_approved_order_reaches_the_pos_signed_with_its_restaurant_items(
        bridge, signer, worker, store, mocked):
    mocked.post(POS_URL, json=accepted("pos-1"))
    order = an_order(restaurant=2, other=1)
    deliver(bridge, signer, order)
    worker.drain()
    [call] = mocked.calls
    body = json.loads(call.request.body)
    assert body["order"]["id"] == order["id"]
    assert [i["lineItemId"] for i in body["order"]["items"]] == [
        li["id"] for li in order["lineItems"][:2]]
    headers = {k.lower(): v for k, v in call.request.headers.items()}
    Webhook(POS_SECRET).verify(call.request.body, headers)  # raises unless validly signed
    assert call.request.headers["webhook-id"] == f"send:{order['id']}"
    record = store.get_order(INSTANCE, order["id"])
    assert (record.state, record.pos_order_id, record.pos_client) == ("sent", "pos-1", "webhook")


def test_an_order_without_restaurant_items_is_recorded_as_ignored(bridge, signer, worker, store,
                                                                   mocked):
    order = an_order(restaurant=0, other=2)
    deliver(bridge, signer, order)
    worker.drain()
    assert len(mocked.calls) == 0
    assert store.get_order(INSTANCE, order["id"]).state == "ignored"


@pytest.mark.parametrize("first, second", [
    (wix_events.ORDER_CREATED, wix_events.ORDER_APPROVED),
    (wix_events.ORDER_APPROVED, wix_events.ORDER_CREATED),
])
def test_created_and_approved_in_either_order_give_one_pos_order(bridge, signer, worker, store,
                                                                  mocked, first, second):
    mocked.post(POS_URL, json=accepted("pos-1"))
    order = an_order(status="APPROVED")
    deliver(bridge, signer, order, first)
    worker.drain()
    deliver(bridge, signer, order, second)
    worker.drain()
    assert len(sent_orders(mocked)) == 1
    assert store.get_order(INSTANCE, order["id"]).state == "sent"


def test_both_events_stored_before_the_worker_runs_still_give_one_pos_order(
        bridge, signer, worker, mocked):
    mocked.post(POS_URL, json=accepted("pos-1"))
    order = an_order(status="APPROVED")
    deliver(bridge, signer, order, wix_events.ORDER_APPROVED, 2)
    deliver(bridge, signer, order, wix_events.ORDER_CREATED, 1)
    deliver(bridge, signer, order, wix_events.ORDER_UPDATED, 3)
    worker.drain()
    assert len(sent_orders(mocked)) == 1


def test_an_initialized_order_is_sent_once_approved(bridge, signer, worker, store, mocked):
    mocked.post(POS_URL, json=accepted("pos-1"))
    order = an_order(status="INITIALIZED")
    deliver(bridge, signer, order)
    worker.drain()
    assert store.get_order(INSTANCE, order["id"]).state == "received" and len(mocked.calls) == 0
    deliver(bridge, signer, dict(order, status="APPROVED"), wix_events.ORDER_APPROVED, 2)
    worker.drain()
    assert len(sent_orders(mocked)) == 1


def test_a_redelivered_event_gives_one_pos_order(bridge, signer, worker, mocked):
    mocked.post(POS_URL, json=accepted("pos-1"))
    token = signer.order_webhook(an_order())
    for _ in range(3):
        webhook(bridge, token)
    worker.drain()
    assert len(sent_orders(mocked)) == 1


def test_the_newest_snapshot_is_sent_and_a_stale_update_does_not_replace_it(
        bridge, signer, worker, mocked):
    mocked.post(POS_URL, json=accepted("pos-1"))
    order = an_order(status="INITIALIZED")
    deliver(bridge, signer, dict(order, buyerNote="newest", status="APPROVED"),
            wix_events.ORDER_UPDATED, 5)
    deliver(bridge, signer, dict(order, buyerNote="stale"), wix_events.ORDER_CREATED, 1)
    worker.drain()
    assert [o["note"] for o in sent_orders(mocked)] == ["newest"]


@pytest.mark.parametrize("code", ["endpoint_down", "pos_error"])
def test_a_retryable_pos_error_is_retried_until_accepted(bridge, signer, worker, store, mocked,
                                                         code):
    mocked.post(POS_URL, json=pos_error(code), status=503)
    mocked.post(POS_URL, json=accepted("pos-2"))
    order = an_order()
    deliver(bridge, signer, order)
    worker.drain()
    assert len(sent_orders(mocked)) == 2
    assert store.get_order(INSTANCE, order["id"]).pos_order_id == "pos-2"
    outcomes = [a["outcome"] for a in store.history(INSTANCE, order["id"])["attempts"]]
    assert outcomes == ["done", "retry", "done"]  # the event, the failed send, the good one


@pytest.mark.parametrize("code, cause", [("invalid_item_mapping", Cause.UNKNOWN_ITEM),
                                         ("cc_rejected", Cause.POS_REFUSED)])
def test_a_permanent_pos_error_fails_the_order_at_once_and_keeps_it(bridge, signer, worker,
                                                                    store, mocked, code, cause):
    mocked.post(POS_URL, json=pos_error(code), status=400)
    order = an_order()
    deliver(bridge, signer, order)
    worker.drain()
    assert len(sent_orders(mocked)) == 1
    record = store.get_order(INSTANCE, order["id"])
    assert record.state == "failed" and code in record.last_error
    assert record.failure == cause     # the owner is told what kind of problem it is
    assert store.get_event(store.history(INSTANCE, order["id"])["events"][0]["id"]) is not None


@pytest.mark.parametrize("answer", [
    dict(status=500, body="Internal Server Error"),
    dict(status=200, json={"unexpected": True}),
    dict(status=400, json={"error": {"code": "something_new"}}),
    dict(body=ConnectionError("refused")),
])
def test_any_other_answer_is_retried_and_gives_up_after_the_limit(bridge, signer, worker, store,
                                                                  mocked, answer):
    mocked.post(POS_URL, **answer)
    order = an_order()
    deliver(bridge, signer, order)
    worker.drain()
    assert len(mocked.calls) == worker.max_attempts
    record = store.get_order(INSTANCE, order["id"])
    assert record.state == "failed" and "gave up after 3 attempts" in record.last_error
    assert record.failure == Cause.POS_SILENT


def test_a_failed_order_can_be_replayed(bridge, signer, worker, store, mocked):
    mocked.post(POS_URL, json=pos_error("invalid_item_mapping"))
    order = an_order()
    deliver(bridge, signer, order)
    worker.drain()
    assert store.get_order(INSTANCE, order["id"]).state == "failed"
    mocked.replace(responses.POST, POS_URL, json=accepted("pos-9"))
    assert replay(store, order=(INSTANCE, order["id"]))
    worker.drain()
    record = store.get_order(INSTANCE, order["id"])
    assert (record.state, record.pos_order_id, record.last_error, record.failure) == (
        "sent", "pos-9", None, None)
    ids = {c.request.headers["webhook-id"] for c in mocked.calls}
    assert ids == {f"send:{order['id']}"}  # the replay keeps the idempotency key


def test_a_cancel_for_an_order_at_the_pos_cancels_it_there(bridge, signer, worker, store, mocked):
    mocked.post(POS_URL, json=accepted("pos-1"))
    order = an_order()
    deliver(bridge, signer, order)
    worker.drain()
    mocked.replace(responses.POST, POS_URL, json={"value": {}})
    deliver(bridge, signer, dict(order, status="CANCELED"), wix_events.ORDER_CANCELED, 2)
    worker.drain()
    cancel = json.loads(mocked.calls[-1].request.body)
    assert cancel == {"cancel": {"id": order["id"], "orderId": "pos-1"}}
    assert mocked.calls[-1].request.headers["webhook-id"] == f"cancel:{order['id']}"
    assert store.get_order(INSTANCE, order["id"]).state == "canceled"


def test_a_cancel_before_the_send_means_nothing_reaches_the_pos(bridge, signer, worker, store,
                                                                mocked):
    order = an_order()
    deliver(bridge, signer, order)
    deliver(bridge, signer, dict(order, status="CANCELED"), wix_events.ORDER_CANCELED, 2)
    worker.drain()
    assert len(mocked.calls) == 0
    assert store.get_order(INSTANCE, order["id"]).state == "canceled"


def test_two_workers_racing_send_each_order_exactly_once(env, bridge, signer, mocked):
    mocked.add_callback(responses.POST, POS_URL, callback=numbered_pos_ids)
    orders = [an_order(number=str(n)) for n in range(40)]
    for order in orders:
        deliver(bridge, signer, order, wix_events.ORDER_CREATED)
        deliver(bridge, signer, order, wix_events.ORDER_APPROVED, 2)
    # Each racer is wired from scratch, as a separate worker process would be.
    racers = [bootstrap(load_config(env)) for _ in range(2)]
    workers = [racer.worker(max_attempts=3, wait=lambda s: 0.0, name=f"racer-{i}")
               for i, racer in enumerate(racers)]
    done = [0, 0]

    def race(i):
        done[i] = workers[i].drain()

    threads = [threading.Thread(target=race, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for racer in racers:
        racer.store.close()
    sent = [o["id"] for o in sent_orders(mocked)]
    assert sorted(sent) == sorted(o["id"] for o in orders)  # every order once, none twice
    assert sum(done) == 40 * 3  # two events and one send per order
    assert all(done), "both workers took part"


def test_a_pos_id_already_given_to_another_order_fails_the_send_without_resending(
        bridge, signer, worker, store, mocked):
    mocked.post(POS_URL, json=accepted("pos-same"))
    first, second = an_order(), an_order()
    deliver(bridge, signer, first)
    worker.drain()
    deliver(bridge, signer, second)
    worker.drain()
    assert len(sent_orders(mocked)) == 2
    record = store.get_order(INSTANCE, second["id"])
    assert record.state == "failed" and first["id"] in record.last_error


def test_a_worker_process_sends_to_a_slow_pos_several_orders_at_once(env, make_bridge, signer):
    """BRIDGE_WORKER_CONCURRENCY workers share the process: while one waits for the POS the
    others send, and each order still reaches it once."""
    import time

    from tests.loopback import PosServer, wait_until
    pos = PosServer(POS_SECRET)
    in_flight = AtOnce()

    def slow(delivery):
        with in_flight.inside():
            time.sleep(0.2)

    pos.hold = slow
    bridge = make_bridge({**env, "POS_WEBHOOK_URL": pos.url, "BRIDGE_WORKER_CONCURRENCY": "3"})
    orders = [an_order() for _ in range(6)]
    for order in orders:
        deliver(bridge, signer, order)
    crew = bridge.crew(wait=lambda state: 0.0, poll_seconds=0.01).workers
    threads = [threading.Thread(target=w.run, daemon=True) for w in crew]
    try:
        assert len(crew) == 3
        for thread in threads:
            thread.start()
        wait_until(lambda: all(getattr(bridge.store.get_order(INSTANCE, o["id"]), "state", None) == "sent"
                               for o in orders), 20, "every order to be sent")
    finally:
        for worker in crew:
            worker.stop()
        for thread in threads:
            thread.join(10)
        pos.close()
    assert in_flight.most >= 2, "the orders went to the POS one at a time"
    assert sorted(o["id"] for o in pos.orders()) == sorted(o["id"] for o in orders)


def test_a_reinstall_after_a_removal_counts_and_a_late_older_event_does_not(bridge, signer,
                                                                           worker, store,
                                                                           mocked):
    # Each install lists the site's location configurations (POS Connectivity API).
    mocked.post(f"{WIX_URL}/oauth2/token", json={"access_token": "T", "expires_in": 14400})
    listed = mocked.get(f"{WIX_URL}/restaurants/v1/pos-integration/configurations",
                        json={"configurations": [{"id": "conf-1", "location": {"name": "Main"},
                                                  "enabled": True}]})
    def lifecycle(event_type: str, signed_ago: int) -> str:
        data = ({"appId": "app", "originInstanceId": ""}
                if event_type == wix_events.APP_INSTALLED else {"appId": "app"})
        claims = signer.claims(data, event_type)
        claims["iat"] = int(time.time()) - signed_ago
        return signer.claims_token(claims)

    installed = lifecycle(wix_events.APP_INSTALLED, 300)
    for token in (installed, lifecycle(wix_events.APP_REMOVED, 200),
                  lifecycle(wix_events.APP_INSTALLED, 100)):   # the same envelope as the first
        webhook(bridge, token)
    assert len(inbox_ids(store)) == 3
    worker.drain()
    assert store.instance_status(INSTANCE) == "installed"
    assert listed.call_count == 2  # both installs; the removal in between lists nothing
    assert [(c.id, c.location_name) for c in store.list_configurations(INSTANCE)] == [
        ("conf-1", "Main")]
    # A removal signed before the re-install, delivered late (Wix resends out of order), and
    # the first install delivered again: neither undoes the re-install.
    webhook(bridge, lifecycle(wix_events.APP_REMOVED, 150))
    webhook(bridge, installed)
    worker.drain()
    assert store.instance_status(INSTANCE) == "installed"
    assert len(inbox_ids(store)) == 5            # each delivery kept, applied by the site's state
    assert listed.call_count == 2                # the resent install listed nothing again


def inbox_ids(store) -> list[str]:
    return [row[0] for row in store._execute(
        "SELECT id FROM events ORDER BY received_at").rows]


def test_a_cancel_the_pos_refuses_for_good_fails_the_order_visibly(bridge, signer, worker, store,
                                                                   mocked):
    mocked.post(POS_URL, json=accepted("pos-1"))
    order = an_order()
    deliver(bridge, signer, order)
    worker.drain()
    mocked.replace(responses.POST, POS_URL, json=pos_error("invalid_item_mapping"))
    deliver(bridge, signer, dict(order, status="CANCELED"), wix_events.ORDER_CANCELED, 2)
    worker.drain()
    record = store.get_order(INSTANCE, order["id"])
    assert record.state == "failed"
    assert record.last_error.startswith("cancel at the POS failed: ")
    [incident] = store.open_incidents(record.instance_id)
    assert incident.key == f"cancel:{order['id']}"

