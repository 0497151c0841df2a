"""The order handlers called directly: a real store, the `webhook` POS mocked at the HTTP layer.

The same behaviour is tested end to end through Flask and signed webhooks elsewhere; here each
handler's own decisions are visible without a receiver or a worker in between.
"""
import json

import pytest
import requests

from bridge.config import ServedSites
from bridge.pos.registry import PosClients
from bridge.service import jobs
from bridge.service.accounts import SiteAccounts
from bridge.service.orders import CancelOrder, ProcessEvent, SendOrder
from bridge.service.outcomes import Fail, Retry, Unreachable
from bridge.storage import open_store
from tests.builders import INSTANCE, POS_SECRET, POS_URL, accepted, an_order, pos_error


@pytest.fixture
def store(database_url):
    opened = open_store(database_url, event_job=jobs.process_event)
    opened.migrate()
    yield opened
    opened.close()


@pytest.fixture
def pos():
    return PosClients.from_settings("webhook", {"POS_WEBHOOK_URL": POS_URL,
                                                "POS_WEBHOOK_SECRET": POS_SECRET},
                                    serves=ServedSites(every=True))


def queued_order(store, state="queued", pos_order_id=None):
    order = an_order()
    store.save_order(wix_order_id=order["id"], instance_id=INSTANCE, state=state,
                     snapshot=order, wix_status="APPROVED", number=order["number"])
    if pos_order_id:
        store.set_order_state(INSTANCE, order["id"], state, pos_client="webhook",
                              pos_order_id=pos_order_id)
    return order


def job_for(store, new_job):
    store.enqueue(new_job)
    return store.claim("test", 30)


def test_send_hands_the_newest_snapshot_to_the_pos_and_records_its_id(store, pos, mocked):
    mocked.post(POS_URL, json=accepted("P-9"))
    order = queued_order(store)
    SendOrder(store, pos, SiteAccounts(store, None)).run(job_for(store, jobs.send_order(order["id"], INSTANCE)))
    sent = json.loads(mocked.calls[0].request.body)["order"]
    assert sent["id"] == order["id"] and mocked.calls[0].request.headers["webhook-id"] == \
        f"send:{order['id']}"
    record = store.get_order(INSTANCE, order["id"])
    assert (record.state, record.pos_client, record.pos_order_id) == ("sent", "webhook", "P-9")


def test_send_does_nothing_for_an_order_no_longer_queued(store, pos, mocked):
    order = queued_order(store, state="canceled")
    SendOrder(store, pos, SiteAccounts(store, None)).run(job_for(store, jobs.send_order(order["id"], INSTANCE)))
    assert len(mocked.calls) == 0 and store.get_order(INSTANCE, order["id"]).state == "canceled"


@pytest.mark.parametrize("answer, raised", [
    (dict(json=pos_error("invalid_item_mapping")), Fail),
    (dict(json=pos_error("endpoint_down")), Retry),
    (dict(body=requests.ConnectionError("refused")), Unreachable),
])
def test_the_pos_s_refusals_become_the_worker_s_outcomes(store, pos, mocked, answer, raised):
    mocked.post(POS_URL, **answer)
    order = queued_order(store)
    with pytest.raises(raised):
        SendOrder(store, pos, SiteAccounts(store, None)).run(job_for(store, jobs.send_order(order["id"], INSTANCE)))
    assert store.get_order(INSTANCE, order["id"]).state == "queued"


def test_a_send_that_is_given_up_marks_the_order_failed_with_the_reason(store, pos):
    order = queued_order(store)
    job = job_for(store, jobs.send_order(order["id"], INSTANCE))
    SendOrder(store, pos, SiteAccounts(store, None)).failed(job, "gave up after 12 attempts: POS unreachable")
    record = store.get_order(INSTANCE, order["id"])
    assert record.state == "failed" and "gave up" in record.last_error


def test_a_send_for_an_order_that_is_not_stored_fails(store, pos):
    with pytest.raises(Fail, match="is not stored"):
        SendOrder(store, pos, SiteAccounts(store, None)).run(job_for(store, jobs.send_order("no-such-order", INSTANCE)))


def test_cancel_asks_the_pos_only_for_an_order_it_has_and_that_is_canceling(store, pos, mocked):
    mocked.post(POS_URL, json={"value": {}})
    sent = queued_order(store, state="sent", pos_order_id="P-1")
    CancelOrder(store, pos).run(job_for(store, jobs.cancel_order(sent["id"], INSTANCE)))
    assert len(mocked.calls) == 0                       # not canceling: nothing to do
    canceling = queued_order(store, state="canceling", pos_order_id="P-2")
    CancelOrder(store, pos).run(job_for(store, jobs.cancel_order(canceling["id"], INSTANCE)))
    assert json.loads(mocked.calls[0].request.body) == {
        "cancel": {"id": canceling["id"], "orderId": "P-2"}}
    assert store.get_order(INSTANCE, canceling["id"]).state == "canceled"


def test_an_event_that_is_not_stored_fails_its_job(store):
    with pytest.raises(Fail, match="is not stored"):
        ProcessEvent(store).run(job_for(store, jobs.process_event("ev-missing", INSTANCE, "o")))
