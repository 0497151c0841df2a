"""Several processes, one PostgreSQL database: 2 web and 2 worker processes, as a Heroku
formation runs them. 200 approved orders arrive (some twice, as Wix resends), workers are
SIGKILLed at random mid-work and restarted, and still every order reaches the POS exactly once and
every POS status reaches Wix."""
import random
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from bridge.bootstrap import bootstrap
from bridge.config import load_config
from bridge.wix import events as wix_events
from tests.builders import POS_SECRET, an_order
from tests.loopback import (PosServer, WixServer, bridge_process, free_port, wait_for_health,
                            wait_until)

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", [
    pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)]
SITES = 10
ORDERS = 200


class Formation:
    """`bridge web` and `bridge worker` processes sharing one configuration and database."""

    def __init__(self, env: dict[str, str], tmp_path):
        self.env, self.tmp_path = env, tmp_path
        self.webs: list[tuple[str, object]] = []
        self.workers: list = []
        self.kills = 0

    def start_web(self) -> str:
        port = free_port()
        log = self.tmp_path / f"web-{port}.log"
        process = bridge_process(["web"], {**self.env, "PORT": str(port)}, self.tmp_path, log)
        wait_for_health(port, process, log)
        url = f"http://127.0.0.1:{port}"
        self.webs.append((url, process))
        return url

    def start_worker(self):
        log = self.tmp_path / f"worker-{len(self.workers)}.log"
        self.workers.append(bridge_process(["worker"], self.env, self.tmp_path, log))

    def kill_a_worker(self) -> None:
        victim = random.randrange(len(self.workers))
        self.workers[victim].send_signal(signal.SIGKILL)
        self.workers[victim].wait(10)
        self.kills += 1
        log = self.tmp_path / f"worker-{len(self.workers)}.log"
        self.workers[victim] = bridge_process(["worker"], self.env, self.tmp_path, log)

    def stop(self) -> None:
        for process in [p for _, p in self.webs] + self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [p for _, p in self.webs] + self.workers:
            process.wait(30)


def test_two_web_and_two_worker_processes_send_every_order_once_despite_kills(
        tmp_path, database_url, public_pem, signer):
    pos, wix = PosServer(POS_SECRET), WixServer()
    env = {"DATABASE_URL": database_url, "WIX_PUBLIC_KEY": public_pem, "WIX_APP_ID": "app",
           "WIX_APP_SECRET": "secret", "WIX_API_BASE": wix.url, "POS_CLIENT": "webhook",
           "POS_SITES": "*", "POS_WEBHOOK_URL": pos.url, "POS_WEBHOOK_SECRET": POS_SECRET,
           "BRIDGE_LEASE_SECONDS": "2", "BRIDGE_ATTEMPT_DEADLINE": "1.5", "BRIDGE_RETRY_MAX_SECONDS": "1"}
    observer = bootstrap(load_config(env))
    observer.store.migrate()
    formation = Formation(env, tmp_path)
    killing = threading.Event()

    def kill_now_and_then():
        while not killing.wait(random.uniform(0.4, 1.0)):
            formation.kill_a_worker()

    killer = threading.Thread(target=kill_now_and_then, daemon=True)
    orders = [an_order(number=str(40000 + n)) for n in range(ORDERS)]
    try:
        urls = [formation.start_web() for _ in range(2)]
        for _ in range(2):
            formation.start_worker()
        killer.start()

        def deliver(n: int) -> None:
            order = orders[n]
            site = f"site-{n % SITES}"  # Wix paces calls per site: 200 a minute
            deliveries = [signer.order_webhook(order, wix_events.ORDER_CREATED, 1, site)]
            if n % 3 == 0:
                deliveries.append(signer.order_webhook(order, wix_events.ORDER_APPROVED, 2, site))
            if n % 5 == 0:
                deliveries.append(deliveries[0])  # Wix resends, to the other web process
            for i, token in enumerate(deliveries):
                answer = requests.post(f"{urls[(n + i) % 2]}/webhooks/wix", data=token, timeout=10)
                assert answer.status_code == 200, answer.text

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(deliver, range(ORDERS)))

        def all_sent() -> bool:
            return sum(1 for o in observer.store.list_orders(limit=ORDERS + 1)
                       if o.state == "sent") == ORDERS
        wait_until(all_sent, 120, "every order to be sent")

        def report(n: int) -> None:
            pos_order_id = observer.store.get_order(f"site-{n % SITES}",
                                                    orders[n]["id"]).pos_order_id
            assert pos.send_status(urls[n % 2], pos_order_id, "ACCEPTED").status_code == 200

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(report, range(ORDERS)))

        def told_wix() -> set[str]:
            return {call["path"].split("/")[5] for call in wix.calls("POST")
                    if call["path"].endswith("/create-fulfillment")}
        wait_until(lambda: told_wix() >= {o["id"] for o in orders}, 120,
                   "every status to reach Wix")
        mapped = {o["id"]: observer.store.get_order(f"site-{n % SITES}", o["id"]).pos_order_id
                  for n, o in enumerate(orders)}
    finally:
        killing.set()
        killer.join(10)
        formation.stop()
        observer.store.close()
        pos.close()
        wix.close()

    assert formation.kills >= 3
    webhook_ids: dict[str, set[str]] = {}
    for delivery in pos.deliveries:
        webhook_ids.setdefault(delivery["message"]["order"]["id"], set()).add(delivery["id"])
    assert set(webhook_ids) == {o["id"] for o in orders}                  # nothing lost
    assert all(len(ids) == 1 for ids in webhook_ids.values())             # one POS order each
    assert len(pos.accepted) == ORDERS
    assert all(mapped[o] == pos.accepted[f"send:{o}"] for o in mapped)  # the bridge knows each
