"""Reconciling with Wix: with the webhooks dropped on the floor, the orders still reach the POS
and their cancellations too, once each, however often Wix is searched and whatever comes late."""
from datetime import datetime, timedelta, timezone

import pytest

from bridge.bootstrap import bootstrap
from bridge.config import load_config
from bridge.service import reconcile
from bridge.web.app import create_app
from bridge.wix import events as wix_events
from tests.builders import INSTANCE, an_order

INTERVAL = 600


def in_wix(wix, order: dict, minutes_ago: float = 1.0, **fields) -> dict:
    """The order as Wix holds it, last changed `minutes_ago`."""
    changed = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    stored = {**order, **fields, "updatedDate": changed.isoformat(timespec="milliseconds")
              .replace("+00:00", "Z")}
    with wix.lock:
        wix.orders[order["id"]] = stored
    return stored


@pytest.fixture
def bridge(env, wix, pos):
    wired = bootstrap(load_config({**env, "WIX_API_BASE": wix.url, "POS_WEBHOOK_URL": pos.url,
                                   "POS_WEBHOOK_SECRET": pos.secret,
                                   "BRIDGE_RECONCILE_SECONDS": str(INTERVAL)}), pool_size=4)
    wired.store.migrate()
    wired.store.set_instance(INSTANCE, "installed")
    yield wired
    wired.store.close()


def drain(bridge):
    bridge.worker(wait=lambda state: 0.0, poll_seconds=0.01, max_attempts=3).drain()


def pending_reconciles(store) -> list[str]:
    return [row[0] for row in store._execute(
        "SELECT key FROM jobs WHERE kind = 'reconcile_wix' AND state = 'pending'").rows]


def test_an_order_whose_webhook_never_came_reaches_the_pos_once(bridge, wix, pos, signer):
    order = in_wix(wix, an_order())
    assert reconcile.schedule_all(bridge.store, INTERVAL) == 1
    drain(bridge)
    assert [o["id"] for o in pos.orders()] == [order["id"]]
    assert bridge.store.get_order(INSTANCE, order["id"]).state == "sent"
    [following] = pending_reconciles(bridge.store)        # the site's next run, one period on
    assert following.startswith(f"reconcile-wix:{INSTANCE}:")

    again = reconcile.reconcile_site(bridge.store, bridge.wix, INSTANCE)
    assert (again.seen, again.taken) == (1, 0)             # searched again from its change on
    webhook = create_app(bridge).test_client().post(
        "/webhooks/wix", data=signer.order_webhook(order))  # the webhook, days late
    assert webhook.status_code == 200
    drain(bridge)
    assert [o["id"] for o in pos.orders()] == [order["id"]]  # still one order at the POS
    assert not any("statuses" in d["message"] for d in pos.deliveries)  # it did not say it answers
    assert not wix.breaches


def test_a_cancellation_whose_webhook_never_came_cancels_at_the_pos(bridge, wix, pos, signer):
    order = an_order()
    client = create_app(bridge).test_client()
    assert client.post("/webhooks/wix", data=signer.order_webhook(order)).status_code == 200
    drain(bridge)
    assert bridge.store.get_order(INSTANCE, order["id"]).state == "sent"
    in_wix(wix, order, status="CANCELED")                  # canceled in Wix; no webhook came
    done = reconcile.reconcile_site(bridge.store, bridge.wix, INSTANCE)
    assert (done.seen, done.taken) == (1, 1)
    drain(bridge)
    assert bridge.store.get_order(INSTANCE, order["id"]).state == "canceled"
    cancels = [d["message"]["cancel"] for d in pos.deliveries if "cancel" in d["message"]]
    assert [c["id"] for c in cancels] == [order["id"]]
    assert reconcile.reconcile_site(bridge.store, bridge.wix, INSTANCE).taken == 0


def test_what_the_bridge_has_or_the_pos_needs_not_is_left_alone_and_the_cursor_moves_on(
        bridge, wix, pos, signer):
    known = an_order()
    client = create_app(bridge).test_client()
    client.post("/webhooks/wix", data=signer.order_webhook(known))
    drain(bridge)
    in_wix(wix, known, minutes_ago=3)                      # the same status: nothing to take
    in_wix(wix, an_order(restaurant=0, other=2), minutes_ago=2)   # nothing for the POS
    first = reconcile.reconcile_site(bridge.store, bridge.wix, INSTANCE)
    assert (first.seen, first.taken) == (2, 0)
    in_wix(wix, an_order(), minutes_ago=30)                # changed before the cursor: not seen
    assert reconcile.reconcile_site(bridge.store, bridge.wix, INSTANCE).seen == 1
    assert len(pos.orders()) == 1


def test_orders_are_searched_page_by_page(bridge, wix, pos):
    orders = [in_wix(wix, an_order(), minutes_ago=1 + n / 100) for n in range(130)]
    done = reconcile.reconcile_site(bridge.store, bridge.wix, INSTANCE)
    assert (done.seen, done.taken, wix.searches) == (130, 130, 2)   # 100 a page
    drain(bridge)
    assert sorted(o["id"] for o in pos.orders()) == sorted(o["id"] for o in orders)


def test_a_removed_site_is_not_searched_and_its_chain_ends(bridge, wix, pos):
    in_wix(wix, an_order())
    bridge.store.set_instance(INSTANCE, "removed")
    reconcile.schedule(bridge.store, INSTANCE, INTERVAL)
    drain(bridge)
    assert wix.searches == 0 and pos.orders() == [] and pending_reconciles(bridge.store) == []


def test_an_install_starts_the_site_s_reconciling(bridge, wix, signer):
    installed = signer.token({"appId": "app", "originInstanceId": ""}, wix_events.APP_INSTALLED,
                             instance_id="site-new")
    create_app(bridge).test_client().post("/webhooks/wix", data=installed)
    bridge.worker(max_attempts=1).run_once()               # the install itself
    assert any(key.startswith("reconcile-wix:site-new:")
               for key in pending_reconciles(bridge.store))


def test_bridge_reconcile_says_what_it_took_per_site(bridge, wix, pos, run):
    in_wix(wix, an_order())
    result = run("reconcile", WIX_API_BASE=wix.url,
                 DATABASE_URL=bridge.config.database_url)
    assert result.exit_code == 0, result.output
    assert result.stdout == (f"{INSTANCE}: 1 order(s) in Wix since the last look, 1 taken; "
                             "0 status(es) from the POS, 0 new\n")
    assert run("reconcile", "--site", INSTANCE, WIX_API_BASE=wix.url,
               DATABASE_URL=bridge.config.database_url).stdout.endswith(
                   "0 taken; 0 status(es) from the POS, 0 new\n")


def test_with_every_webhook_dropped_the_order_reaches_the_pos_and_its_status_wix_once(
        env, wix, pos):
    """Wix's webhook never came, nor the POS's callback: reconciling alone does both, once."""
    wired = bootstrap(load_config({**env, "WIX_API_BASE": wix.url, "POS_WEBHOOK_URL": pos.url,
                                   "POS_WEBHOOK_SECRET": pos.secret, "POS_WEBHOOK_STATUSES": "1",
                                   "BRIDGE_RECONCILE_SECONDS": str(INTERVAL)}), pool_size=4)
    try:
        wired.store.migrate()
        wired.store.set_instance(INSTANCE, "installed")
        order = in_wix(wix, an_order(restaurant=2, other=1))
        restaurant = [{"id": li["id"], "quantity": li["quantity"]} for li in order["lineItems"][:2]]
        wix.fulfillments[order["id"]] = [{"id": "f-9", "lineItems": restaurant,
                                          "status": "Pending"}]
        reconcile.schedule_all(wired.store, INTERVAL)
        drain(wired)
        [pos_order_id] = pos.accepted.values()
        pos.kitchen[pos_order_id] = "READY"                  # its callback is lost
        for _ in range(2):
            reconcile.reconcile_pos_site(wired.store, wired.pos, INSTANCE, 0, 86400)
            drain(wired)
        assert [o["id"] for o in pos.orders()] == [order["id"]]
        assert [p["body"] for p in wix.calls("PATCH")] == [{"fulfillment": {"status": "Ready"}}]
    finally:
        wired.store.close()


def test_a_site_with_an_account_is_reconciled_though_its_install_was_never_recorded(
        env, wix, pos):
    from tests.sites import SECRET_KEY, add_site
    wired = bootstrap(load_config({**env, "WIX_API_BASE": wix.url, "BRIDGE_SECRET_KEY": SECRET_KEY,
                                   "BRIDGE_RECONCILE_SECONDS": str(INTERVAL)}), pool_size=4)
    try:
        wired.store.migrate()
        add_site(wired, "site-old", pos, account_id="acc-old", configuration_id="conf-old",
                 wix_location_id="loc-old")
        assert wired.store.instance_status("site-old") is None
        assert reconcile.schedule_all(wired.store, INTERVAL) == 1
        assert any(key.startswith("reconcile-wix:site-old:")
                   for key in pending_reconciles(wired.store))
    finally:
        wired.store.close()
