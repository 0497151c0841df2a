"""A worker killed with SIGKILL mid-send loses nothing and sends nothing twice once restarted.

Real processes: `bridge worker` runs as a subprocess against a real SQLite file and a loopback POS.
The POS holds one delivery open while the test kills the worker; a second worker takes the job up
once its lease expires and resends it with the same webhook-id, which the POS (as any Standard
Webhooks consumer) recognises. Every order ends at the POS exactly once.
"""
import signal
import threading

import pytest

from bridge.bootstrap import bootstrap
from bridge.config import load_config
from bridge.web.app import create_app
from bridge.wix import events as wix_events
from tests.builders import INSTANCE, POS_SECRET, an_order
from tests.loopback import PosServer, bridge_process, wait_until

pytestmark = pytest.mark.slow
ORDERS = 8


def test_a_worker_killed_mid_send_loses_nothing_and_duplicates_nothing(tmp_path, database_url,
                                                                       public_pem, signer):
    pos = PosServer(POS_SECRET)
    env = {"DATABASE_URL": database_url, "WIX_PUBLIC_KEY": public_pem,
           "POS_CLIENT": "webhook",
           "POS_SITES": "*", "POS_WEBHOOK_URL": pos.url, "POS_WEBHOOK_SECRET": POS_SECRET,
           "BRIDGE_LEASE_SECONDS": "2", "BRIDGE_ATTEMPT_DEADLINE": "1.5",
           # One job at a time, so that only the held delivery is in flight when it is killed.
           "BRIDGE_WORKER_CONCURRENCY": "1"}
    bridge = bootstrap(load_config(env))
    bridge.store.migrate()
    client = create_app(bridge).test_client()
    orders = [an_order(number=str(30000 + i)) for i in range(ORDERS)]
    for order in orders:
        for event_type, sequence in ((wix_events.ORDER_CREATED, 1), (wix_events.ORDER_APPROVED, 2)):
            assert client.post("/webhooks/wix",
                               data=signer.order_webhook(order, event_type, sequence)).status_code == 200

    in_flight, release = threading.Event(), threading.Event()

    def hold_the_third(delivery):
        if len(pos.deliveries) == 3 and not in_flight.is_set():
            in_flight.set()
            release.wait(30)

    pos.hold = hold_the_third
    log = tmp_path / "worker.log"
    try:
        first = bridge_process(["worker"], env, tmp_path, log)
        assert in_flight.wait(30), log.read_text()
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        release.set()
        held_id = pos.deliveries[2]["id"]
        assert bridge.store.get_order(INSTANCE, held_id.split(":", 1)[1]).state == "queued"

        second = bridge_process(["worker"], env, tmp_path, log)
        try:
            wait_until(lambda: {o.state for o in bridge.store.list_orders()} == {"sent"}
                       and len(bridge.store.list_orders()) == ORDERS,
                       timeout=30, what="every order to be sent")
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0
    finally:
        release.set()
        pos.close()

    deliveries = pos.deliveries
    by_order: dict[str, set[str]] = {}
    for d in deliveries:
        by_order.setdefault(d["message"]["order"]["id"], set()).add(d["id"])
    assert set(by_order) == {o["id"] for o in orders}           # nothing lost
    assert all(len(ids) == 1 for ids in by_order.values())       # one webhook-id per order
    assert len(deliveries) == ORDERS + 1                          # only the held one came again
    assert [d["id"] for d in deliveries].count(held_id) == 2
    for order in orders:                                          # mapping matches the POS
        record = bridge.store.get_order(INSTANCE, order["id"])
        assert record.pos_order_id == pos.accepted[f"send:{order['id']}"]
