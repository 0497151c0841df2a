"""One site's slow or dead POS never holds up another's: bulkheads, circuit breakers, deadlines.

A real loopback POS answers (or hangs) per site; the bridge's own crew of workers runs against a
real database, SQLite and PostgreSQL both.
"""
from __future__ import annotations

import logging
import threading
import time

import pytest

from bridge import timeouts
from bridge.bootstrap import bootstrap, worker_pool_size
from bridge.config import load_config
from bridge.service import jobs
from bridge.web.app import create_app
from bridge.wix import events as wix_events
from tests.at_once import AtOnce
from tests.builders import an_order, signed_callback
from tests.loopback import WixServer, wait_until

HUNG, OK = "site-hung", "site-ok"


def deliver(client, signer, order, site: str) -> None:
    token = signer.order_webhook(order, wix_events.ORDER_CREATED, 1, site)
    assert client.post("/webhooks/wix", data=token).status_code == 200


def orders_from(client, signer, site: str, count: int) -> list[dict]:
    """`count` approved orders of one site, delivered as Wix would."""
    orders = [an_order() for _ in range(count)]
    for order in orders:
        deliver(client, signer, order, site)
    return orders


def site_of(delivery: dict) -> str:
    return delivery["message"]["order"]["instanceId"]


@pytest.fixture
def hanging(pos):
    """The POS hangs on every order of site HUNG until the test ends; counts them in flight."""
    release = threading.Event()
    in_flight = AtOnce()

    def hold(delivery):
        if site_of(delivery) != HUNG:
            return
        with in_flight.inside():
            release.wait(30)

    pos.hold = hold
    yield in_flight
    release.set()


def state(store, order) -> str | None:
    found = store.orders_with_id(order["id"])  # each test's order ids are Wix's: one site each
    return found[0].state if found else None


def test_a_hanging_pos_of_one_site_holds_a_bounded_share_and_others_keep_flowing(
        env, make_bridge, signer, pos, hanging):
    bridge = make_bridge({**env, "POS_WEBHOOK_URL": pos.url, "BRIDGE_WORKER_CONCURRENCY": "4",
                          "BRIDGE_WORKERS_PER_DESTINATION": "2"})
    client = create_app(bridge).test_client()
    stuck = orders_from(client, signer, HUNG, 5)
    crew = bridge.crew(wait=lambda s: 0.0, poll_seconds=0.01)
    crew.start()
    try:
        wait_until(lambda: hanging.now == 2, 10, "the hung site's share to be taken")
        later = orders_from(client, signer, OK, 3)
        wait_until(lambda: all(state(bridge.store, o) == "sent" for o in later), 10,
                   "the other site's orders to reach the POS while the hung one hangs")
        assert hanging.most == 2                      # never more than its share
        assert all(state(bridge.store, o) == "queued" for o in stuck)
    finally:
        crew.stop(0)


def test_a_site_with_many_queued_orders_does_not_starve_a_site_with_one(
        env, make_bridge, signer, pos):
    pos.hold = lambda delivery: time.sleep(0.1)
    bridge = make_bridge({**env, "POS_WEBHOOK_URL": pos.url, "BRIDGE_WORKER_CONCURRENCY": "4",
                          "BRIDGE_WORKERS_PER_DESTINATION": "2"})
    client = create_app(bridge).test_client()
    orders_from(client, signer, "site-busy", 16)
    lonely = an_order()
    deliver(client, signer, lonely, "site-lonely")       # queued after all sixteen
    crew = bridge.crew(wait=lambda s: 0.0, poll_seconds=0.01)
    crew.start()
    try:
        wait_until(lambda: len(pos.orders()) == 17, 20, "every order to reach the POS")
    finally:
        crew.stop(5)
    arrival = [o["id"] for o in pos.orders()]
    assert arrival.index(lonely["id"]) < 4, "the lonely order waited behind the busy site"


def test_the_breaker_opens_holds_orders_without_failing_them_probes_and_closes(
        env, make_bridge, signer, pos, caplog):
    down = threading.Event()
    down.set()
    pos.hold = lambda delivery: down.is_set() and time.sleep(1.0)   # past the 0.2 s timeout
    bridge = make_bridge({**env, "POS_WEBHOOK_URL": pos.url, "POS_WEBHOOK_TIMEOUT": "0.2",
                          "BRIDGE_BREAKER_FAILURES": "2", "BRIDGE_BREAKER_SECONDS": "1",
                          "BRIDGE_WORKER_CONCURRENCY": "2", "BRIDGE_METRICS_TOKEN": "ops"})
    client = create_app(bridge).test_client()
    orders = orders_from(client, signer, HUNG, 3)
    destination = jobs.pos_destination(HUNG)
    crew = bridge.crew(max_attempts=3, wait=lambda s: 0.0, poll_seconds=0.01)
    with caplog.at_level(logging.INFO):
        crew.start()
        try:
            wait_until(lambda: getattr(bridge.store.breaker(destination), "state", None)
                       == "open", 10, "the breaker to open")
            anyone = client.get("/healthz").get_json()["breakers"]
            assert [b["state"] for b in anyone] == ["open"]
            assert "destination" not in anyone[0] and "last_error" not in anyone[0]
            health = client.get("/healthz", headers={"Authorization": "Bearer ops"}).get_json()
            assert [(b["destination"], b["state"]) for b in health["breakers"]] == [
                (destination, "open")]
            assert "timed out" in health["breakers"][0]["last_error"] or \
                "in time" in health["breakers"][0]["last_error"]
            # Far more time than three attempts need: without the breaker they would be failed.
            wait_until(lambda: "event=breaker_reopened" in caplog.text, 10, "a probe to fail")
            assert all(state(bridge.store, o) == "queued" for o in orders)
            down.clear()                                             # the POS answers again
            wait_until(lambda: all(state(bridge.store, o) == "sent" for o in orders), 20,
                       "the orders to flow once the probe got through")
        finally:
            crew.stop(5)
    assert "event=breaker_opened" in caplog.text and "event=breaker_closed" in caplog.text
    assert bridge.store.breakers() == []
    assert bridge.store.job_counts() == {}
    assert client.get("/healthz").get_json()["breakers"] == []


def test_an_attempt_ends_at_its_deadline_whatever_the_read_timeout(env, make_bridge, signer, pos):
    pos.hold = lambda delivery: time.sleep(5)
    bridge = make_bridge({**env, "POS_WEBHOOK_URL": pos.url, "POS_WEBHOOK_TIMEOUT": "30",
                          "BRIDGE_ATTEMPT_DEADLINE": "0.5"})
    client = create_app(bridge).test_client()
    order = an_order()
    deliver(client, signer, order, OK)
    worker = bridge.worker(max_attempts=3, wait=lambda s: 60.0)
    assert worker.run_once()                                   # the event becomes a send
    started = time.monotonic()
    assert worker.run_once()
    assert time.monotonic() - started < 3                      # not the POS's 5 s, nor 30
    (send,) = [j for j in bridge.store.history(OK, order["id"])["jobs"]
               if j["kind"] == "send_order"]
    assert send["state"] == "pending" and "in time" in send["last_error"]


def test_timeouts_are_cut_to_what_is_left_of_the_attempt():
    assert timeouts.for_request(10) == (timeouts.CONNECT_SECONDS, 10)   # outside an attempt
    with timeouts.attempt(1.0, connect_seconds=2.0):
        connect, read = timeouts.for_request(10)
        assert connect <= 1.0 and read <= 1.0
    with timeouts.attempt(0.1):
        time.sleep(0.15)
        with pytest.raises(timeouts.DeadlineExceeded):
            timeouts.for_request(10)


def test_one_order_s_jobs_run_in_order_while_a_crew_runs_many(env, make_bridge, signer, pos):
    pos.hold = lambda delivery: time.sleep(0.3)
    bridge = make_bridge({**env, "POS_WEBHOOK_URL": pos.url, "BRIDGE_WORKER_CONCURRENCY": "8"})
    client = create_app(bridge).test_client()
    orders = orders_from(client, signer, OK, 8)
    crew = bridge.crew(wait=lambda s: 0.0, poll_seconds=0.01)
    crew.start()

    def arrivals(order) -> list[tuple[str, float]]:
        return [(next(iter(d["message"])), d["at"]) for d in list(pos.deliveries)
                if d["message"].get("order", d["message"].get("cancel", {})).get("id")
                == order["id"]]

    try:
        for order in orders:  # canceled in Wix while its send is at the POS
            wait_until(lambda: arrivals(order), 10, "the send to reach the POS")
            token = signer.order_webhook({**order, "status": "CANCELED"},
                                         wix_events.ORDER_CANCELED, 2, OK)
            assert client.post("/webhooks/wix", data=token).status_code == 200
        wait_until(lambda: all(state(bridge.store, o) == "canceled" for o in orders), 20,
                   "every order to be canceled at the POS")
    finally:
        crew.stop(5)
    for order in orders:
        (sent, sent_at), (canceled, canceled_at) = arrivals(order)
        assert (sent, canceled) == ("order", "cancel")
        assert canceled_at >= sent_at + 0.3          # only once the POS had answered the send


def test_wix_hanging_for_one_site_holds_no_database_connection_and_no_other_site(
        env, signer, pos):
    """Five status updates wait on Wix; the worker has four connections: none of them is held
    while a job waits on Wix, so another site's order still reaches its POS."""
    wix, release, hung = WixServer(), threading.Event(), set()
    wix.hold = lambda request: (request["method"] == "GET"
                                and request["path"].rsplit("/", 1)[1] in hung
                                and release.wait(30))
    config = load_config({**env, "WIX_API_BASE": wix.url, "POS_WEBHOOK_URL": pos.url,
                          "BRIDGE_WORKER_CONCURRENCY": "8",
                          "BRIDGE_WORKERS_PER_DESTINATION": "8"})
    bridge = bootstrap(config, pool_size=worker_pool_size(config))
    bridge.store.migrate()
    client = create_app(bridge).test_client()
    crew = bridge.crew(wait=lambda s: 0.0, poll_seconds=0.01)
    crew.start()
    try:
        slow_site = orders_from(client, signer, HUNG, 5)
        wait_until(lambda: all(state(bridge.store, o) == "sent" for o in slow_site), 10,
                   "the orders to reach the POS")
        hung.update(o["id"] for o in slow_site)
        for order in slow_site:
            body, headers = signed_callback({"orderId": bridge.store.get_order(
                HUNG, order["id"]).pos_order_id, "status": "ACCEPTED"})
            answer = client.post("/pos/webhook/events", data=body, headers=headers)
            assert answer.status_code == 200
        wait_until(lambda: len([r for r in wix.requests if r["method"] == "GET"]) >= 4, 10,
                   "Wix to be asked, and hang")
        (other,) = orders_from(client, signer, OK, 1)
        wait_until(lambda: state(bridge.store, other) == "sent", 10,
                   "another site's order to reach its POS while Wix hangs")
    finally:
        release.set()
        crew.stop(5)
        bridge.store.close()
        wix.close()
