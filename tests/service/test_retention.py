"""Retention: customers' details, webhook bodies and history age out; ids, states and totals stay."""
import json
import time

import pytest
import responses

from bridge.service.retention import Policy, prune
from bridge.wix import events as wix_events
from tests.builders import INSTANCE, POS_URL, an_order, numbered_pos_ids, signed_callback

AGED = 0.05 / 86400        # days: a twentieth of a second, so the tests need not wait for a month


def deliver(client, signer, order, event_type=wix_events.ORDER_CREATED, sequence=1):
    assert client.post("/webhooks/wix", data=signer.order_webhook(
        order, event_type, sequence)).status_code == 200


def personal(order) -> list[str]:
    contact = order["recipientInfo"]["contactDetails"]
    return [order["buyerInfo"]["email"], contact["phone"], contact["lastName"]]


def stored_text(store, table: str, order_ids: list[str]) -> str:
    """Every column of the table's rows about these orders, as text."""
    column = "wix_order_id" if table == "orders" else "order_id"
    marks = ", ".join("?" * len(order_ids))
    return json.dumps(store._execute(f"SELECT * FROM {table} WHERE {column} IN ({marks})",
                                     order_ids).rows)


@pytest.fixture
def sent(client, signer, worker, mocked):
    """Two orders at the POS, and one the POS refused for good (failed, replayable)."""
    mocked.add_callback(responses.POST, POS_URL, callback=numbered_pos_ids)
    orders = [an_order(), an_order()]
    for order in orders:
        deliver(client, signer, order)
    worker.drain()
    return orders


def test_finished_orders_lose_their_customer_and_webhooks_their_bodies_and_nothing_else(
        client, signer, worker, store, sent):
    time.sleep(0.1)
    young = an_order(status="INITIALIZED")               # received, waiting: not finished
    deliver(client, signer, young)
    worker.drain()
    planned = prune(store, Policy(customer_days=AGED, history_days=0), dry_run=True)
    assert (planned["customer_details"], planned["webhook_bodies"]) == (2, 2)
    assert prune(store, Policy(customer_days=AGED, history_days=0)) == planned
    for order in sent:
        kept = store.get_order(INSTANCE, order["id"])
        assert (kept.state, kept.pos_order_id, kept.snapshot["number"]) == (
            "sent", f"pos-{order['number']}", order["number"])
        assert kept.snapshot["priceSummary"] == order["priceSummary"]
    for table in ("orders", "events"):
        text = stored_text(store, table, [order["id"] for order in sent])
        assert [v for v in personal(sent[0]) + personal(sent[1]) if v in text] == [], table
    assert store.get_order(INSTANCE, young["id"]).snapshot["buyerInfo"]  # not finished
    assert len(store._execute("SELECT id FROM events").rows) == 3   # a resend is still a duplicate
    again = prune(store, Policy(customer_days=AGED, history_days=0))
    assert again["customer_details"] == 0                  # each finished order once; the young
    assert store.get_order(INSTANCE, young["id"]).snapshot["buyerInfo"]  # one is not finished


def test_history_and_unmatched_reports_age_out_and_failed_work_stays(client, signer, worker,
                                                                     store, mocked, sent):
    body, headers = signed_callback({"orderId": "NOT-OURS", "status": "READY"})
    assert client.post("/pos/webhook/events", data=body, headers=headers).status_code == 200
    mocked.remove(responses.POST, POS_URL)
    mocked.post(POS_URL, status=400, json={"error": {"code": "invalid_item_mapping"}})
    refused = an_order()
    deliver(client, signer, refused)
    worker.drain()
    time.sleep(0.1)
    done = prune(store, Policy(customer_days=0, history_days=AGED))
    assert done["history"] >= 4 and done["unmatched_reports"] == 1
    left = store._execute("SELECT kind, state FROM jobs").rows
    assert ("send_order", "failed") in left and all(state != "done" for _, state in left)
    assert store.list_status_updates() == []
    assert store.get_order(INSTANCE, refused["id"]).state == "failed"
    assert store.history(INSTANCE, refused["id"])["jobs"]      # what failed is still shown


def test_a_site_removed_past_the_period_has_every_order_s_details_dropped(client, signer,
                                                                          worker, store):
    waiting = an_order(status="INITIALIZED")
    deliver(client, signer, waiting)
    worker.drain()
    store.set_instance(INSTANCE, "removed")
    time.sleep(0.1)
    done = prune(store, Policy(customer_days=AGED, history_days=0))
    assert done["removed_sites_orders"] == 1
    assert "buyerInfo" not in store.get_order(INSTANCE, waiting["id"]).snapshot


def test_bridge_prune_dry_run_says_what_it_would_drop_and_drops_nothing(run, store, sent):
    time.sleep(0.2)
    result = run("prune", "--dry-run", BRIDGE_KEEP_CUSTOMER_DAYS="0.000001")
    assert result.exit_code == 0, result.output
    assert "customer details: would drop 2\n" in result.stdout
    assert "buyerInfo" in store.get_order(INSTANCE, sent[0]["id"]).snapshot
    assert "customer details: dropped 2\n" in run(
        "prune", BRIDGE_KEEP_CUSTOMER_DAYS="0.000001").stdout
