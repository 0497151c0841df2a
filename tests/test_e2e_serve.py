"""End to end: the real `bridge serve` (gunicorn) on loopback, a real POS server, signed webhooks."""
import signal

import pytest
import requests

from bridge.wix import events as wix_events
from tests.builders import POS_SECRET, an_order
from tests.loopback import PosServer, bridge_process, free_port, wait_for_health, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def pos():
    server = PosServer(POS_SECRET)
    yield server
    server.close()


@pytest.fixture
def served(tmp_path, public_pem, pos):
    port = free_port()
    env = {"PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp_path / 'bridge.db'}",
           "WIX_PUBLIC_KEY": public_pem, "WIX_APP_ID": "app", "WIX_APP_SECRET": "secret",
           "POS_CLIENT": "webhook", "POS_WEBHOOK_URL": pos.url, "POS_WEBHOOK_SECRET": POS_SECRET}
    log = tmp_path / "serve.log"
    process = bridge_process(["serve"], env, tmp_path, log)
    try:
        wait_for_health(port, process, log)
        yield f"http://127.0.0.1:{port}", process, log
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)


def test_signed_webhooks_over_http_reach_the_pos_once_each(served, pos, signer):
    url, _, log = served
    orders = [an_order(number=str(20000 + i)) for i in range(5)]
    for order in orders:
        for event_type, sequence in ((wix_events.ORDER_CREATED, 1),
                                     (wix_events.ORDER_APPROVED, 2)):
            token = signer.order_webhook(order, event_type, sequence)
            answer = requests.post(f"{url}/webhooks/wix", data=token,
                                   headers={"content-type": "text/plain"}, timeout=5)
            assert answer.status_code == 200 and answer.json() == {}
    wait_until(lambda: len(pos.orders()) >= 5, what="the POS to receive five orders")
    received = pos.orders()
    assert sorted(o["number"] for o in received) == sorted(o["number"] for o in orders)
    assert all(len(o["items"]) == 2 for o in received)  # the gift card stayed behind
    assert "event=order_sent" in log.read_text()


def test_a_forged_webhook_over_http_is_refused_and_nothing_reaches_the_pos(served, pos, signer):
    url, _, _ = served
    token = signer.order_webhook(an_order())
    header, payload, signature = token.split(".")
    answer = requests.post(f"{url}/webhooks/wix", data=f"{header}.{payload}.{signature[::-1]}",
                           timeout=5)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "bad_signature"
    assert requests.get(f"{url}/healthz", timeout=5).json()["jobs"]["pending"] == 0
    assert pos.deliveries == []


def test_sigterm_stops_the_bridge_cleanly(served):
    _, process, log = served
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    assert "event=worker_stopped" in log.read_text()
