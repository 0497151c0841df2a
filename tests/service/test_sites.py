"""One bridge, many restaurants: each site's orders go to its own POS account and location, and
its statuses back to its own Wix site. Two loopback POSes (they number their orders alike, as
two real ones may), Wix on loopback too; on SQLite and PostgreSQL."""
import pytest

from bridge.bootstrap import bootstrap
from bridge.config import ConfigError, load_config
from bridge.service.configurations import refresh
from bridge.web.app import create_app
from bridge.wix import events as wix_events
from tests.builders import an_order, signed_callback
from tests.loopback import PosServer
from tests.sites import SECRET_KEY, two_sites

SITE_A, SITE_B = "site-a", "site-b"


@pytest.fixture
def two_poses():
    servers = [PosServer("whsec_" + "cG9zLWEtc2VjcmV0LWZvci10aGUtdGVzdHMh"),
               PosServer("whsec_" + "cG9zLWItc2VjcmV0LWZvci10aGUtdGVzdHMh")]
    yield servers
    for server in servers:
        server.close()


@pytest.fixture
def sites(env, wix, two_poses):
    bridge = two_sites({**env, "WIX_API_BASE": wix.url}, two_poses, (SITE_A, SITE_B))
    yield bridge
    bridge.store.close()


def deliver(client, signer, order, site):
    token = signer.order_webhook(order, wix_events.ORDER_CREATED, 1, site)
    assert client.post("/webhooks/wix", data=token).status_code == 200


def test_each_site_s_orders_reach_its_own_pos_and_its_statuses_its_own_wix_site(
        sites, signer, wix, two_poses):
    pos_a, pos_b = two_poses
    client = create_app(sites).test_client()
    order_a = an_order(businessLocation={"id": "loc-a", "name": "Uptown"})
    order_b = an_order(businessLocation={"id": "loc-b", "name": "Harbour"})
    deliver(client, signer, order_a, SITE_A)
    deliver(client, signer, order_b, SITE_B)
    worker = sites.worker(wait=lambda state: 0.0, poll_seconds=0.01)
    worker.drain()

    assert [(o["id"], o["posLocationId"]) for o in pos_a.orders()] == [(order_a["id"], "A-KITCHEN")]
    assert [(o["id"], o["posLocationId"]) for o in pos_b.orders()] == [(order_b["id"], "B-KITCHEN")]
    # Both POSes numbered their first order P1: each is kept under its own account.
    a, b = (sites.store.get_order(site, o["id"])
            for o, site in ((order_a, SITE_A), (order_b, SITE_B)))
    assert (a.pos_order_id, a.pos_client) == ("P1", "webhook@acc-a")
    assert (b.pos_order_id, b.pos_client) == ("P1", "webhook@acc-b")

    body, headers = signed_callback({"orderId": "P1", "status": "READY"}, secret=pos_b.secret)
    assert client.post("/pos/webhook/events", data=body, headers=headers).status_code == 200
    worker.drain()
    told = [r for r in wix.requests if r["path"].endswith(f"/orders/{order_b['id']}")]
    assert told and all(r["authorization"] == f"OAUTH2.{SITE_B}" for r in told)
    assert sites.store.get_order(SITE_B, order_b["id"]).wix_fulfillment_status == "READY"
    assert sites.store.get_order(SITE_A, order_a["id"]).wix_fulfillment_status is None

    stranger, headers = signed_callback({"orderId": "P1", "status": "READY"},
                                        secret="whsec_" + "bm8tc3VjaC1wb3Mtc2VjcmV0LWhlcmUhISE=")
    assert client.post("/pos/webhook/events", data=stranger,
                       headers=headers).status_code == 401


def test_new_credentials_apply_to_the_next_order_without_a_restart(sites, signer, two_poses):
    pos_a, pos_b = two_poses
    client = create_app(sites).test_client()
    worker = sites.worker(wait=lambda state: 0.0, poll_seconds=0.01)
    deliver(client, signer, an_order(businessLocation={"id": "loc-a"}), SITE_A)
    worker.drain()
    assert len(pos_a.orders()) == 1

    # The restaurant moved to another POS server (another URL, another secret).
    sites.accounts.save(SITE_A, "webhook", {"POS_WEBHOOK_URL": pos_b.url,
                                            "POS_WEBHOOK_SECRET": pos_b.secret},
                        clients=sites.pos)
    deliver(client, signer, an_order(businessLocation={"id": "loc-a"}), SITE_A)
    worker.drain()
    assert len(pos_a.orders()) == 1 and len(pos_b.orders()) == 1
    assert pos_b.orders()[0]["posLocationId"] == "A-KITCHEN"


def test_an_order_for_an_unpaired_location_fails_naming_it(sites, signer, two_poses):
    client = create_app(sites).test_client()
    order = an_order(businessLocation={"id": "loc-new", "name": "Airport"})
    deliver(client, signer, order, SITE_A)
    sites.worker(wait=lambda state: 0.0, poll_seconds=0.01).drain()
    record = sites.store.get_order(SITE_A, order["id"])
    assert record.state == "failed"
    assert "loc-new" in record.last_error and "paired" in record.last_error
    assert two_poses[0].orders() == []


def test_a_site_without_an_account_still_uses_the_environment_s_pos(sites, signer, mocked):
    from tests.builders import POS_URL, accepted
    mocked.add_passthru("http://127.0.0.1")
    mocked.post(POS_URL, json=accepted("ENV-1"))
    client = create_app(sites).test_client()
    order = an_order()
    deliver(client, signer, order, "site-single")
    sites.worker(wait=lambda state: 0.0, poll_seconds=0.01).drain()
    record = sites.store.get_order("site-single", order["id"])
    assert (record.pos_client, record.pos_order_id) == ("webhook", "ENV-1")


def test_start_up_refuses_with_one_line_when_the_key_is_missing_or_wrong(sites, env, wix):
    from bridge.credentials import new_key
    for key, word in ((None, "missing"), (new_key(), "malformed")):
        environ = {**env, "WIX_API_BASE": wix.url}
        if key:
            environ["BRIDGE_SECRET_KEY"] = key
        other = bootstrap(load_config(environ))
        with pytest.raises(ConfigError, match=f"BRIDGE_SECRET_KEY is {word}") as refused:
            other.check()
        assert "\n" not in str(refused.value)
        other.store.close()
    # A rotation: the new key first, the old one still there to open what it sealed.
    rotated = bootstrap(load_config({**env, "WIX_API_BASE": wix.url,
                                     "BRIDGE_SECRET_KEY": f"{new_key()} {SECRET_KEY}"}))
    rotated.check()
    assert rotated.accounts.reseal() == 2
    rotated.store.close()


def test_credentials_are_sealed_in_the_database(sites, two_poses):
    account = sites.store.get_account("acc-a")
    assert account.credentials and two_poses[0].secret not in account.credentials
    assert two_poses[0].url not in account.credentials
    assert "credentials" not in repr(account).replace("credentials=", "")


def test_configurations_listed_by_wix_are_stored_with_their_pairing_kept(sites, wix):
    wix.configurations[SITE_A] = [
        {"id": "conf-a", "location": {"name": "Uptown"}, "catalogId": "cat-1", "enabled": True},
        {"id": "conf-a2", "location": {"name": "Airport"}, "enabled": True, "archived": False}]
    listed = refresh(sites.store, sites.wix, SITE_A)
    assert [c.id for c in listed] == ["conf-a", "conf-a2"]
    kept = sites.store.get_configuration("conf-a")
    assert (kept.location_name, kept.pos_location_id, kept.catalog_id) == (
        "Uptown", "A-KITCHEN", "cat-1")
    assert sites.store.get_configuration("conf-a2").account_id == "acc-a"


def test_a_disconnected_site_s_orders_fail_and_never_reach_the_environment_s_pos(
        sites, signer, two_poses, mocked):
    from bridge.service.configurations import disconnect_account
    mocked.add_passthru("http://127.0.0.1")  # the loopback POSes; the environment's is mocked
    disconnect_account(sites.store, None, "acc-a")
    client = create_app(sites).test_client()
    order = an_order(businessLocation={"id": "loc-a"})
    deliver(client, signer, order, SITE_A)
    sites.worker(wait=lambda state: 0.0, poll_seconds=0.01).drain()
    record = sites.store.get_order(SITE_A, order["id"])
    assert record.state == "failed" and "webhook@acc-a is disconnected" in record.last_error
    assert two_poses[0].orders() == []  # and the strict mock saw nothing sent to POS_URL


def test_the_install_job_waits_for_wix_credentials_and_a_non_pos_app_is_not_an_error(
        env, wix, mocked):
    from bridge.service import jobs
    without = bootstrap(load_config({k: v for k, v in env.items()
                                     if k not in ("WIX_APP_ID", "WIX_APP_SECRET")}))
    without.store.migrate()
    without.store.enqueue(jobs.list_configurations("site-x", "ev-1"))
    without.worker(wait=lambda state: 0.0, poll_seconds=0.01).run_once()
    assert without.store.job_counts() == {"pending": 1}   # waiting, not failed
    without.store.close()

    from tests.builders import WIX_URL
    mocked.post(f"{WIX_URL}/oauth2/token", json={"access_token": "T", "expires_in": 14400})
    mocked.get(f"{WIX_URL}/restaurants/v1/pos-integration/configurations", status=403,
               json={"message": "not a POS integration app"})
    wired = bootstrap(load_config(env))
    wired.store.migrate()
    wired.store.enqueue(jobs.list_configurations("site-y", "ev-2"))
    wired.worker(wait=lambda state: 0.0, poll_seconds=0.01).drain()
    assert wired.store.job_counts() == {"pending": 1}   # only site-x's, still waiting
    assert wired.store.list_configurations("site-y") == []
    wired.store.close()


def test_a_configuration_wix_asks_about_before_it_was_listed_is_read_from_wix(
        sites, wix, private_key):
    from tests.sites import spi_token
    wix.configurations[SITE_A] = [{"id": "conf-new", "location": {"name": "Pier"},
                                   "enabled": True}]
    client = create_app(sites).test_client()

    def status(configuration_id):
        return client.post("/spi/pos/get-configuration-status", data=spi_token(
            private_key, {"accountId": "acc-a", "configurationId": configuration_id}, SITE_A))
    answer = status("conf-new")
    assert answer.status_code == 200 and answer.get_json() == {"status": "PENDING"}
    stored = sites.store.get_configuration("conf-new")
    assert (stored.instance_id, stored.location_name, stored.account_id) == (
        SITE_A, "Pier", "acc-a")
    assert status("conf-nobody-knows").status_code == 404
