"""End to end, as an operator runs it: `bridge serve` running, and `bridge accounts` /
`bridge configurations` from another process changing a site's POS while it runs."""
import signal
import subprocess
import sys

import pytest
import requests

from bridge.wix import events as wix_events
from tests.builders import POS_SECRET, an_order
from tests.loopback import (REPO, PosServer, WixServer, bridge_process, free_port,
                            wait_for_health, wait_until)
from tests.sites import SECRET_KEY, spi_order, spi_token

pytestmark = pytest.mark.slow
SITE = "site-e2e"


@pytest.fixture
def poses():
    servers = [PosServer("whsec_" + "ZTJlLXBvcy1vbmUtc2VjcmV0LWZvci10ZXN0cyE="),
               PosServer("whsec_" + "ZTJlLXBvcy10d28tc2VjcmV0LWZvci10ZXN0cyE=")]
    yield servers
    for server in servers:
        server.close()


@pytest.fixture
def operator(tmp_path, database_url, public_pem, poses):
    wix = WixServer(tokens_per_site=True)
    port = free_port()
    env = {"PORT": str(port), "DATABASE_URL": database_url, "WIX_PUBLIC_KEY": public_pem,
           "WIX_APP_ID": "app-id", "WIX_APP_SECRET": "secret", "WIX_API_BASE": wix.url,
           "POS_CLIENT": "webhook", "POS_SITES": "*", "POS_WEBHOOK_URL": poses[0].url + "/env",
           "POS_WEBHOOK_SECRET": POS_SECRET, "BRIDGE_SECRET_KEY": SECRET_KEY}
    log = tmp_path / "serve.log"
    process = bridge_process(["serve"], env, tmp_path, log)

    def bridge(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
        import os
        return subprocess.run([sys.executable, "-m", "bridge", *args], input=stdin,
                              capture_output=True, text=True, timeout=60, cwd=tmp_path,
                              env={**{k: v for k, v in os.environ.items()
                                      if not k.startswith(("WIX_", "POS_", "BRIDGE_"))}, **env,
                                   "PYTHONPATH": str(REPO)})
    try:
        wait_for_health(port, process, log)
        yield bridge, f"http://127.0.0.1:{port}", wix
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        wix.close()


def test_a_site_added_and_rotated_from_the_cli_while_the_bridge_runs(operator, poses, signer,
                                                                     private_key):
    bridge, url, wix = operator
    first, second = poses

    def account(pos):
        added = bridge("accounts", "add", SITE, "--pos", "webhook", "--account-id", "acc-e2e",
                       "--settings-file", "-",
                       stdin=f"POS_WEBHOOK_URL={pos.url}\nPOS_WEBHOOK_SECRET={pos.secret}\n")
        assert added.returncode == 0, added.stderr
        assert pos.secret not in added.stdout + added.stderr

    account(first)
    assert bridge("configurations", "add", "conf-e2e", "--site", SITE).returncode == 0
    assert bridge("configurations", "pair", "conf-e2e", "--pos-location", "KITCHEN-1",
                  "--wix-location", "loc-1").returncode == 0

    def order_webhook() -> dict:
        order = an_order(businessLocation={"id": "loc-1"})
        token = signer.order_webhook(order, wix_events.ORDER_CREATED, 1, SITE)
        assert requests.post(f"{url}/webhooks/wix", data=token, timeout=5).status_code == 200
        return order

    one = order_webhook()
    wait_until(lambda: first.orders(), what="the first POS to get the site's order")
    assert first.orders()[0]["id"] == one["id"]
    assert first.orders()[0]["posLocationId"] == "KITCHEN-1"

    account(second)  # the restaurant changed POS: no restart
    two = order_webhook()
    wait_until(lambda: second.orders(), what="the second POS to get the next order")
    assert second.orders()[0]["id"] == two["id"] and len(first.orders()) == 1

    body = spi_token(private_key, {"accountId": "acc-e2e", "configurationId": "conf-e2e",
                                   "order": spi_order("spi-e2e")}, SITE)
    created = requests.post(f"{url}/spi/pos/create-order", data=body, timeout=15)
    assert created.status_code == 200, created.text
    assert created.json() == {"posOrderId": "P2", "posLocationId": "KITCHEN-1"}
    listed = bridge("orders", "--json")
    assert "spi-e2e" in listed.stdout
