"""SIGTERM with sends in flight: they finish, or are handed back and sent again under one id.

Real processes: `bridge worker` as a subprocess against a real database and a loopback POS.
"""
import signal
import threading
import time

import pytest

from bridge.bootstrap import bootstrap
from bridge.config import load_config
from bridge.web.app import create_app
from bridge.wix import events as wix_events
from tests.builders import INSTANCE, POS_SECRET, an_order
from tests.loopback import PosServer, bridge_process, wait_until

# The worker's own periodic jobs, scheduled for their next period whatever the test does.
MAINTENANCE = {"prune", "reconcile_wix", "reconcile_pos"}

pytestmark = pytest.mark.slow


@pytest.fixture
def setting_up(database_url, public_pem, pos, signer):
    """The environment of a worker process, and an in-process bridge on the same database
    that takes the webhooks and reads the outcome."""
    env = {"DATABASE_URL": database_url, "WIX_PUBLIC_KEY": public_pem, "POS_CLIENT": "webhook",
           "POS_SITES": "*",
           "POS_WEBHOOK_URL": pos.url, "POS_WEBHOOK_SECRET": POS_SECRET,
           "BRIDGE_WORKER_CONCURRENCY": "4", "POS_WEBHOOK_TIMEOUT": "30",
           "BRIDGE_ATTEMPT_DEADLINE": "30", "BRIDGE_LEASE_SECONDS": "60"}
    bridge = bootstrap(load_config(env))
    bridge.store.migrate()
    client = create_app(bridge).test_client()

    def send(count: int) -> list[dict]:
        orders = [an_order() for _ in range(count)]
        for order in orders:
            token = signer.order_webhook(order, wix_events.ORDER_CREATED)
            assert client.post("/webhooks/wix", data=token).status_code == 200
        return orders

    yield env, bridge.store, send
    bridge.store.close()


def in_flight_counter(pos: PosServer, seconds: float) -> tuple[threading.Event, dict]:
    """The POS takes `seconds` over each order (or until released); counts those in flight."""
    release = threading.Event()
    counts = {"now": 0}
    lock = threading.Lock()

    def hold(delivery):
        with lock:
            counts["now"] += 1
        release.wait(seconds)
        with lock:
            counts["now"] -= 1

    pos.hold = hold
    return release, counts


def test_sigterm_lets_the_sends_in_flight_finish_then_exits(tmp_path, pos, setting_up):
    env, store, send = setting_up
    orders = send(3)
    release, counts = in_flight_counter(pos, 1.5)
    log = tmp_path / "worker.log"
    worker = bridge_process(["worker"], env, tmp_path, log)
    try:
        wait_until(lambda: counts["now"] == 3, 20, "three sends in flight")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(20) == 0, log.read_text()
    finally:
        release.set()
        if worker.poll() is None:
            worker.kill()
    assert {store.get_order(INSTANCE, o["id"]).state for o in orders} == {"sent"}, log.read_text()
    open_work = store._execute("SELECT kind FROM jobs WHERE state <> 'done'").rows
    assert {kind for (kind,) in open_work} <= MAINTENANCE       # every order's work is done
    assert "event=job_released" not in log.read_text()


def test_a_send_still_running_after_the_grace_is_handed_back_and_sent_once(
        tmp_path, pos, setting_up):
    env, store, send = setting_up
    (order,) = send(1)
    release, counts = in_flight_counter(pos, 30)
    log = tmp_path / "worker.log"
    worker = bridge_process(["worker"], {**env, "BRIDGE_STOP_SECONDS": "1"}, tmp_path, log)
    try:
        wait_until(lambda: counts["now"] == 1, 20, "the send to be in flight")
        worker.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        assert worker.wait(20) == 0, log.read_text()
        assert time.monotonic() - stopped < 10          # not the POS's 30 s
    finally:
        if worker.poll() is None:
            worker.kill()
    assert "event=job_released" in log.read_text()
    (job,) = [j for j in store.history(INSTANCE, order["id"])["jobs"] if j["kind"] == "send_order"]
    assert job["state"] == "pending" and job["attempts"] == 0   # back in the queue, uncounted

    release.set()                                       # the POS answers the first copy late
    pos.hold = None
    again = bridge_process(["worker"], env, tmp_path, log)
    try:
        wait_until(lambda: store.get_order(INSTANCE, order["id"]).state == "sent", 20, "the order sent")
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(20)
    ids = [d["id"] for d in pos.deliveries]
    assert ids == [f"send:{order['id']}"] * 2           # sent again under the same webhook-id
    assert store.get_order(INSTANCE, order["id"]).pos_order_id == pos.accepted[ids[0]]
    assert len(pos.accepted) == 1                        # the POS keeps one order
