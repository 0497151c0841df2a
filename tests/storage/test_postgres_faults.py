"""PostgreSQL down, restarting or cut mid-transaction: nothing answered 200 is lost, nothing is
half-written, and everything resumes by itself. The database is reached through a loopback proxy
whose wire the tests cut, as a restart or a network fault would."""
import logging
import threading

import pytest
import responses

from bridge.web.app import create_app
from tests import postgres
from tests.builders import INSTANCE, POS_SECRET, POS_URL, an_order, numbered_pos_ids
from tests.loopback import PosServer, TcpProxy, wait_until

pytestmark = pytest.mark.parametrize("database_url", [
    pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)


@pytest.fixture
def proxy():
    server = TcpProxy(*postgres.server_address())
    yield server
    server.close()


@pytest.fixture
def proxied_env(env, proxy, make_bridge):
    make_bridge(env)  # migrated directly, not through the proxy
    return {**env, "DATABASE_URL": postgres.through_port(env["DATABASE_URL"], proxy.port)}


def test_while_the_database_is_down_webhooks_and_health_answer_503_then_resume(
        proxied_env, proxy, make_bridge, signer, mocked, caplog):
    bridge = make_bridge(proxied_env)
    client = create_app(bridge).test_client()
    before, during, after = an_order(), an_order(), an_order()
    assert client.post("/webhooks/wix", data=signer.order_webhook(before)).status_code == 200

    proxy.cut()
    answer = client.post("/webhooks/wix", data=signer.order_webhook(during))
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "database_unavailable"
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["error"]["code"] == "database_unavailable"
    assert "event=database_unavailable" in caplog.text and "Traceback" not in caplog.text

    worker = bridge.worker(max_attempts=3, wait=lambda state: 0.0, poll_seconds=0.01)
    thread = threading.Thread(target=worker.run, daemon=True)
    with caplog.at_level(logging.INFO):
        thread.start()
        wait_until(lambda: "event=worker_waiting_for_database" in caplog.text, 20,
                   "the worker to notice the database is down")
        assert thread.is_alive()
        proxy.mend()
        mocked.add_callback(responses.POST, POS_URL, callback=numbered_pos_ids)
        assert client.post("/webhooks/wix", data=signer.order_webhook(after)).status_code == 200
        assert client.post("/webhooks/wix", data=signer.order_webhook(during)).status_code == 200
        wait_until(lambda: {bridge.store.get_order(INSTANCE, o["id"]).state if bridge.store.get_order(INSTANCE, 
            o["id"]) else None for o in (before, during, after)} == {"sent"}, 30,
            "every order to reach the POS")
    worker.stop()
    thread.join(10)
    assert client.get("/healthz").status_code == 200
    assert caplog.text.count("event=worker_waiting_for_database") == 1
    assert "event=worker_database_back" in caplog.text


def test_a_web_process_that_never_reached_the_database_answers_503_saying_why_then_takes_webhooks(
        proxied_env, env, proxy, make_bridge, signer, caplog):
    bridge = make_bridge(proxied_env)
    proxy.cut()  # before the pool's first connection
    client = create_app(bridge).test_client()
    token = signer.order_webhook(an_order())  # Wix sends it again until it is answered 200
    answer = client.post("/webhooks/wix", data=token)
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "database_unavailable"
    line = next(line for line in caplog.text.splitlines() if "event=database_unavailable" in line)
    assert "PostgreSQL at postgresql://" in line and "unavailable:" in line
    assert "Traceback" not in caplog.text
    proxy.mend()
    wait_until(lambda: client.post("/webhooks/wix", data=token).status_code == 200, 20,
               "the webhook to be taken")
    assert client.post("/webhooks/wix", data=token).status_code == 200
    direct = make_bridge(env).store
    assert direct._execute("SELECT count(*) FROM events").one()[0] == 1


def test_a_connection_cut_mid_send_leaves_no_job_claimed_forever_and_sends_once(
        proxied_env, proxy, make_bridge, env, signer):
    pos = PosServer(POS_SECRET)
    in_flight, release = threading.Event(), threading.Event()

    def hold(delivery):
        in_flight.set()
        release.wait(20)

    pos.hold = hold
    settings = {**proxied_env, "POS_WEBHOOK_URL": pos.url, "BRIDGE_LEASE_SECONDS": "1",
                "BRIDGE_ATTEMPT_DEADLINE": "0.5"}
    bridge = make_bridge(settings)
    client = create_app(bridge).test_client()
    order = an_order()
    try:
        assert client.post("/webhooks/wix", data=signer.order_webhook(order)).status_code == 200
        worker = bridge.worker(max_attempts=5, wait=lambda state: 0.0, poll_seconds=0.01)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        assert in_flight.wait(20)
        proxy.cut()          # the worker's connection dies while the POS has the order
        pos.hold = None
        release.set()
        proxy.mend()
        direct = make_bridge({**settings, "DATABASE_URL": env["DATABASE_URL"]}).store
        wait_until(lambda: direct.get_order(INSTANCE, order["id"]).state == "sent", 30,
                   "the order to be sent after the cut")
        worker.stop()
        thread.join(10)
    finally:
        release.set()
        pos.close()
    ids = {d["id"] for d in pos.deliveries}
    assert ids == {f"send:{order['id']}"}          # every attempt carried the same webhook-id
    record = direct.get_order(INSTANCE, order["id"])
    assert record.pos_order_id == pos.accepted[f"send:{order['id']}"]
    assert direct.job_counts() == {}               # nothing left claimed or pending


def test_after_a_cut_the_notifier_reconnects_and_workers_hear_of_new_work_again(
        proxied_env, env, proxy, make_bridge, signer, caplog):
    """The process's notifier loses its connections with the others; the work stored once the
    database is back is announced on a new one, without a worker having to poll for it."""
    workers = make_bridge(env).store  # the workers listen on a connection of their own
    woken = threading.Event()
    assert workers.on_new_work(woken.set)
    assert woken.wait(5), "the listener did not start"
    woken.clear()
    client = create_app(make_bridge(proxied_env)).test_client()
    assert client.post("/webhooks/wix", data=signer.order_webhook(an_order())).status_code == 200
    assert woken.wait(5), "the first webhook was not announced"

    proxy.cut()
    proxy.mend()
    woken.clear()
    with caplog.at_level(logging.INFO):
        wait_until(lambda: client.post("/webhooks/wix", data=signer.order_webhook(
            an_order())).status_code == 200, 20, "a webhook to be stored after the cut")
        assert woken.wait(5), "the notifier did not reconnect"
    assert caplog.text.count("event=notify_failed") <= 1  # said once an outage, if it saw one
    assert "Traceback" not in caplog.text
