"""The owner's dashboard over HTTP: who sees what, forms that refuse bad input beside the field,
and each page doing what its CLI command does. Two sites with their own loopback POSes, Wix on
loopback; on SQLite and PostgreSQL. (tests/e2e/test_dashboard_browser.py drives it in Chromium.)"""
import re
from datetime import datetime, timezone

import pytest

from bridge.bootstrap import bootstrap
from bridge.config import load_config
from bridge.web.app import create_app
from bridge.wix import events as wix_events
from bridge.wix import instance
from tests.builders import an_order
from tests.loopback import PosServer
from tests.sites import SECRET_KEY, two_sites
from tests.wix_menus import a_menu, on_a_menu

SITE_A, SITE_B = "site-a", "site-b"
OPERATOR_PASSWORD = "operator-password-for-tests"
POS_SECRET_B = "whsec_" + "cG9zLWItc2VjcmV0LWZvci10aGUtdGVzdHMh"


@pytest.fixture
def two_poses():
    servers = [PosServer("whsec_" + "cG9zLWEtc2VjcmV0LWZvci10aGUtdGVzdHMh"),
               PosServer(POS_SECRET_B)]
    yield servers
    for server in servers:
        server.close()


@pytest.fixture
def dashboard_env(env, wix):
    return {**env, "WIX_API_BASE": wix.url, "BRIDGE_SECRET_KEY": SECRET_KEY,
            "BRIDGE_OPERATOR_PASSWORD": OPERATOR_PASSWORD,
            "BRIDGE_DASHBOARD_FRAME_ANCESTORS": "https://manage.wix.com http://localhost:9",
            "BRIDGE_ALLOW_PRIVATE_URLS": "1",  # the owners' POSes here are on loopback
            "BRIDGE_PUBLIC_URL": "https://bridge.example.com"}


@pytest.fixture
def sites(dashboard_env, two_poses):
    bridge = two_sites(dashboard_env, two_poses, (SITE_A, SITE_B))
    yield bridge
    bridge.store.close()


@pytest.fixture
def app(sites):
    return create_app(sites)


def wix_link(site: str, secret: str = "app-secret") -> str:
    """The dashboard URL Wix opens in its iframe."""
    signed = datetime.now(timezone.utc).isoformat()
    return "/dashboard/?instance=" + instance.sign(
        {"instanceId": site, "appDefId": "app-id", "signDate": signed, "uid": "owner-1",
         "permissions": "OWNER"}, secret)


def owner(app, site: str):
    """A browser of the site's owner, come from Wix; and the CSRF token its forms carry."""
    client = app.test_client()
    entered = client.get(wix_link(site))
    assert entered.status_code == 302
    assert entered.headers["Location"] == f"/dashboard/sites/{site}/"
    return client, csrf_of(client.get(f"/dashboard/sites/{site}/").text)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def field_error(html: str, name: str) -> str:
    found = re.search(rf'id="error-{re.escape(name)}"[^>]*>([^<]*)<', html)
    return found.group(1) if found else ""


def deliver(app, signer, order, site):
    token = signer.order_webhook(order, wix_events.ORDER_CREATED, 1, site)
    assert app.test_client().post("/webhooks/wix", data=token).status_code == 200


def drain(bridge):
    bridge.worker(wait=lambda state: 0.0, poll_seconds=0.01, max_attempts=1).drain()


def test_an_owner_sees_their_own_site_and_another_site_s_pages_do_not_exist_for_them(
        app, sites, signer):
    order_a = an_order(businessLocation={"id": "loc-a"})
    order_b = an_order(businessLocation={"id": "loc-b"})
    deliver(app, signer, order_a, SITE_A)
    deliver(app, signer, order_b, SITE_B)
    drain(sites)
    client, csrf = owner(app, SITE_A)

    listing = client.get(f"/dashboard/sites/{SITE_A}/orders").text
    assert order_a["id"] in listing and order_b["id"] not in listing
    assert client.get(f"/dashboard/sites/{SITE_A}/orders/{order_a['id']}").status_code == 200
    # Site B's order, through B's pages or through A's: not found, either way.
    assert client.get(f"/dashboard/sites/{SITE_A}/orders/{order_b['id']}").status_code == 404
    for page in ("", "orders", f"orders/{order_b['id']}", "account", "locations", "menus"):
        assert client.get(f"/dashboard/sites/{SITE_B}/{page}").status_code == 404, page
    for form in (f"orders/{order_b['id']}/replay", "locations/conf-b/unpair", "notifications"):
        assert client.post(f"/dashboard/sites/{SITE_B}/{form}",
                           data={"csrf": csrf, "email": "x@y.z"}).status_code == 404, form
    assert client.post(f"/dashboard/sites/{SITE_A}/locations/conf-b/unpair",
                       data={"csrf": csrf}).status_code == 404
    assert sites.store.get_configuration("conf-b").pos_location_id == "B-KITCHEN"
    assert sites.store.notify_email(SITE_B) is None
    assert client.get("/dashboard/sites").status_code == 404  # the operator's list


def test_a_forged_or_foreign_link_opens_nothing(app):
    client = app.test_client()
    assert client.get(f"/dashboard/sites/{SITE_A}/").status_code == 401
    assert "Operator login" in client.get("/dashboard/").text
    forged = client.get(wix_link(SITE_A, secret="not-the-app-secret"))
    assert forged.status_code == 401 and "not signed with this app" in forged.text
    assert "Set-Cookie" not in forged.headers
    assert client.get(f"/dashboard/sites/{SITE_A}/").status_code == 401
    assert client.get("/dashboard/?instance=garbage").status_code == 401


def test_the_session_cookie_works_inside_wix_s_iframe_and_pages_say_who_may_frame_them(app):
    entered = app.test_client().get(wix_link(SITE_A))
    cookie = entered.headers["Set-Cookie"]
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/dashboard"):
        assert attribute in cookie
    page = app.test_client().get("/dashboard/")
    policy = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://manage.wix.com http://localhost:9" in policy
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"


def test_every_form_needs_the_session_s_csrf_token(app, sites):
    client, csrf = owner(app, SITE_A)
    for token in (None, "", "forged"):
        data = {"email": "owner@example.com"} | ({"csrf": token} if token is not None else {})
        assert client.post(f"/dashboard/sites/{SITE_A}/notifications",
                           data=data).status_code == 403
    assert sites.store.notify_email(SITE_A) is None
    # Another owner's token is not this session's either.
    _, other = owner(app, SITE_B)
    assert client.post(f"/dashboard/sites/{SITE_A}/notifications",
                       data={"csrf": other, "email": "o@example.com"}).status_code == 403
    saved = client.post(f"/dashboard/sites/{SITE_A}/notifications",
                        data={"csrf": csrf, "email": "owner@example.com"})
    assert saved.status_code == 302 and sites.store.notify_email(SITE_A) == "owner@example.com"


def test_connecting_a_pos_checks_the_credentials_and_never_shows_a_secret_back(app, sites):
    site = "site-new"
    pos = PosServer(POS_SECRET_B)
    try:
        client, csrf = owner(app, site)
        form = client.get(f"/dashboard/sites/{site}/account?pos=webhook").text
        assert 'name="POS_WEBHOOK_URL"' in form and 'name="POS_WEBHOOK_SECRET"' in form
        saved = client.post(f"/dashboard/sites/{site}/account", data={
            "csrf": csrf, "pos": "webhook", "POS_WEBHOOK_URL": pos.url,
            "POS_WEBHOOK_SECRET": POS_SECRET_B})
        assert saved.status_code == 302
        page = client.get(f"/dashboard/sites/{site}/account").text
        assert "first contacted when an order comes" in page  # a webhook POS is never asked
        assert POS_SECRET_B not in page                 # a secret is never shown back
        assert f'type="url" id="POS_WEBHOOK_URL" name="POS_WEBHOOK_URL" value="{pos.url}"' \
            in page                                     # the address is no secret: it is shown
        assert "set: leave empty to keep it" in page

        # Empty fields keep what is set: a new URL alone leaves the secret as it was.
        moved = PosServer(POS_SECRET_B)
        try:
            assert client.post(f"/dashboard/sites/{site}/account", data={
                "csrf": csrf, "pos": "webhook", "POS_WEBHOOK_URL": moved.url,
                "POS_WEBHOOK_SECRET": ""}).status_code == 302
            account = sites.store.account_for_instance(site)
            assert sites.accounts.credentials(account) == {"POS_WEBHOOK_URL": moved.url,
                                                           "POS_WEBHOOK_SECRET": POS_SECRET_B}
            assert account.version == 2
        finally:
            moved.close()
    finally:
        pos.close()


def test_bad_input_is_refused_with_the_message_beside_the_field(app, sites):
    client, csrf = owner(app, "site-new")
    bad_url = client.post("/dashboard/sites/site-new/account", data={
        "csrf": csrf, "pos": "webhook", "POS_WEBHOOK_URL": "ftp://pos.example",
        "POS_WEBHOOK_SECRET": POS_SECRET_B})
    assert bad_url.status_code == 422
    said = field_error(bad_url.text, "POS_WEBHOOK_URL")   # in the owner's words, not a name
    assert "must be an https:// address" in said and "POS_WEBHOOK_URL" not in said
    assert 'value="ftp://pos.example"' in bad_url.text     # what was typed is kept
    assert POS_SECRET_B not in bad_url.text                 # except a secret
    assert 'aria-invalid="true"' in bad_url.text and 'id="error-summary"' in bad_url.text
    assert sites.store.account_for_instance("site-new") is None
    unknown = client.post("/dashboard/sites/site-new/account", data={"csrf": csrf, "pos": "x"})
    assert unknown.status_code == 422 and field_error(unknown.text, "pos") == "Choose your POS."

    client, csrf = owner(app, SITE_A)
    email = client.post(f"/dashboard/sites/{SITE_A}/notifications",
                        data={"csrf": csrf, "email": "not an email"})
    assert email.status_code == 422 and "is not an email address" in field_error(email.text,
                                                                                  "email")
    assert 'value="not an email"' in email.text  # what was typed is kept
    empty = client.post(f"/dashboard/sites/{SITE_A}/locations/conf-a/pair",
                        data={"csrf": csrf, "pos_location": " "})
    assert empty.status_code == 422
    assert field_error(empty.text, "pos_location-conf-a").startswith("Choose the POS location")
    assert sites.store.get_configuration("conf-a").pos_location_id == "A-KITCHEN"
    currency = client.post(f"/dashboard/sites/{SITE_A}/legacy-url",
                           data={"csrf": csrf, "currency": "dollars"})
    assert currency.status_code == 422 and field_error(currency.text, "currency")


def test_pairing_and_unpairing_a_location_changes_where_its_orders_go(app, sites, signer,
                                                                      two_poses):
    client, csrf = owner(app, SITE_A)
    assert client.post(f"/dashboard/sites/{SITE_A}/locations/conf-a/pair", data={
        "csrf": csrf, "pos_location": "A-BAR", "wix_location": "loc-a"}).status_code == 302
    order = an_order(businessLocation={"id": "loc-a"})
    deliver(app, signer, order, SITE_A)
    drain(sites)
    assert two_poses[0].orders()[-1]["posLocationId"] == "A-BAR"
    page = client.get(f"/dashboard/sites/{SITE_A}/locations").text
    assert 'value="A-BAR"' in page and "ready" in page.lower()

    unconfirmed = client.post(f"/dashboard/sites/{SITE_A}/locations/conf-a/unpair",
                              data={"csrf": csrf})
    assert unconfirmed.status_code == 422 and field_error(unconfirmed.text, "unpair-conf-a")
    assert sites.store.get_configuration("conf-a").pos_location_id == "A-BAR"
    assert client.post(f"/dashboard/sites/{SITE_A}/locations/conf-a/unpair",
                       data={"csrf": csrf, "confirm": "yes"}).status_code == 302
    later = an_order(businessLocation={"id": "loc-a"})
    deliver(app, signer, later, SITE_A)
    drain(sites)
    failed = sites.store.get_order(SITE_A, later["id"])
    assert (failed.state, failed.failure) == ("failed", "not_paired")
    assert "not paired" in client.get(f"/dashboard/sites/{SITE_A}/orders").text


def test_a_first_sync_needs_the_owner_s_confirmation_then_writes_the_menu(app, sites, wix,
                                                                           two_poses):
    two_poses[0].menu = a_menu()
    two_poses[0].menu["items"][1]["inStock"] = False
    two_poses[0].menu["items"].append({"id": "item-bad", "name": "Cake", "price": "cheap"})
    client, csrf = owner(app, SITE_A)
    refused = client.post(f"/dashboard/sites/{SITE_A}/menus/conf-a/sync", data={"csrf": csrf})
    assert refused.status_code == 422
    assert "replaces the menus already on your site" in field_error(refused.text,
                                                                   "confirm-conf-a")
    assert sites.store.list_syncs("conf-a") == []

    assert client.post(f"/dashboard/sites/{SITE_A}/menus/conf-a/sync",
                       data={"csrf": csrf, "confirm": "yes"}).status_code == 302
    drain(sites)
    [sync] = sites.store.list_syncs("conf-a")
    assert sync.status == "SYNCED"
    page = client.get(f"/dashboard/sites/{SITE_A}/menus").text
    assert "synced" in page and 'name="confirm"' not in page  # confirmed once, for good
    # The items as the sync read them, with prices and whether they can be ordered, and what
    # it left out up front.
    assert "6 item(s) on your POS's menu" in page and "Dish 5" in page
    assert "from 9.50" in page and "out of stock or hidden" in page
    assert page.index("Left out of your Wix menu") < page.index("Dish 5")
    assert "not a number" in page
    assert client.post(f"/dashboard/sites/{SITE_A}/menus/conf-a/auto-sync",
                       data={"csrf": csrf, "every": "nightly"}).status_code == 302
    assert sites.store.get_configuration("conf-a").auto_sync == "nightly"
    assert "syncs on its own every night at 03:00" in client.get(
        f"/dashboard/sites/{SITE_A}/menus").text
    refused = client.post(f"/dashboard/sites/{SITE_A}/menus/conf-a/auto-sync",
                          data={"csrf": csrf, "every": "weekly"})
    assert refused.status_code == 422 and field_error(refused.text, "every-conf-a")
    log = client.get(f"/dashboard/sites/{SITE_A}/menus/syncs/{sync.id}").text
    assert log.count("<tr>") == len(sites.store.sync_log(sync.id)) + 1 > 1
    assert len(wix.menus.entities["menu"]) == 1
    # Another site's sync is not this owner's to read.
    assert owner(app, SITE_B)[0].get(
        f"/dashboard/sites/{SITE_B}/menus/syncs/{sync.id}").status_code == 404


def test_a_failed_order_shows_why_and_a_replay_sends_it_once_fixed(app, sites, signer,
                                                                     two_poses):
    pos_a = two_poses[0]
    pos_a.refuse = "invalid_item_mapping"
    order = an_order(businessLocation={"id": "loc-a"})
    deliver(app, signer, order, SITE_A)
    drain(sites)
    client, csrf = owner(app, SITE_A)

    failed = client.get(f"/dashboard/sites/{SITE_A}/orders?state=failed").text
    assert order["id"] in failed and "not on the menu" in failed
    assert "an item your POS does not know" in failed and "Sync the menu" in failed
    assert order["id"] not in client.get(f"/dashboard/sites/{SITE_A}/orders?state=sent").text
    overview = client.get(f"/dashboard/sites/{SITE_A}/").text     # Needs you
    assert "an item your POS does not know" in overview
    detail = client.get(f"/dashboard/sites/{SITE_A}/orders/{order['id']}").text
    assert "Send again" in detail and "invalid_item_mapping" in detail
    assert "Margherita" in detail or order["lineItems"][0]["productName"]["original"] in detail

    pos_a.refuse = None
    replayed = client.post(f"/dashboard/sites/{SITE_A}/orders/{order['id']}/replay",
                           data={"csrf": csrf})
    assert replayed.status_code == 302
    drain(sites)
    assert sites.store.get_order(SITE_A, order["id"]).state == "sent"
    # Refused once, then accepted once: one order in the kitchen.
    assert [o["id"] for o in pos_a.orders()] == [order["id"]] * 2
    assert len(pos_a.accepted) == 1
    after = client.get(f"/dashboard/sites/{SITE_A}/orders/{order['id']}").text
    assert "Replayed: 1 step(s) queued again." in after and "/replay" not in after


def test_the_operator_logs_in_sees_every_site_and_guessing_is_throttled(app, sites):
    client = app.test_client()
    assert client.get("/dashboard/sites").status_code == 401
    wrong = client.post("/dashboard/login", data={"password": "guess"})
    assert wrong.status_code == 401 and "not the operator" in field_error(wrong.text, "password")
    assert client.post("/dashboard/login",
                       data={"password": OPERATOR_PASSWORD}).status_code == 302
    listing = client.get("/dashboard/sites").text
    assert SITE_A in listing and SITE_B in listing
    assert client.get(f"/dashboard/sites/{SITE_B}/orders").status_code == 200

    guesser = app.test_client()
    answers = [guesser.post("/dashboard/login", data={"password": f"guess-{n}"}).status_code
               for n in range(8)]
    assert 429 in answers
    assert guesser.post("/dashboard/login",
                        data={"password": OPERATOR_PASSWORD}).status_code == 429
    assert guesser.get("/dashboard/sites").status_code == 401


def test_without_an_operator_password_there_is_no_operator_login(dashboard_env, two_poses):
    bridge = bootstrap(load_config({**dashboard_env, "BRIDGE_OPERATOR_PASSWORD": ""}))
    bridge.store.migrate()
    try:
        client = create_app(bridge).test_client()
        assert client.post("/dashboard/login", data={"password": ""}).status_code == 404
        assert client.get("/dashboard/sites").status_code == 401
        assert "Operator login" not in client.get("/dashboard/").text
    finally:
        bridge.store.close()


def test_without_the_secret_key_the_dashboard_says_it_is_off(env):
    bridge = bootstrap(load_config(env))
    bridge.store.migrate()
    try:
        page = create_app(bridge).test_client().get(wix_link(SITE_A))
        assert page.status_code == 503 and "BRIDGE_SECRET_KEY" in page.text
    finally:
        bridge.store.close()


def test_the_help_page_explains_every_order_state_and_shows_the_operator_s_terms(
        dashboard_env, tmp_path):
    terms = tmp_path / "terms.txt"
    terms.write_text("Free for 30 days, then $29 a month per location.")
    bridge = bootstrap(load_config({**dashboard_env, "BRIDGE_TERMS_FILE": str(terms)}))
    bridge.store.migrate()
    try:
        client, _ = owner(create_app(bridge), SITE_A)
        page = client.get(f"/dashboard/sites/{SITE_A}/help").text
        for state in ("received", "queued", "sent", "failed", "canceled"):
            assert f"badge-{state}" in page
        assert "$29 a month" in page and "location_not_paired" in page
    finally:
        bridge.store.close()


def test_a_new_legacy_address_is_shown_once_and_the_old_one_stops(app, sites):
    client, csrf = owner(app, SITE_A)
    made = client.post(f"/dashboard/sites/{SITE_A}/legacy-url",
                       data={"csrf": csrf, "currency": "eur"})
    assert made.status_code == 302                    # a reload of the page makes no other
    first = client.get(made.location).text
    url = re.search(r'id="legacy-url">([^<]+)<', first).group(1)
    assert url.endswith("/orders") and "/legacy/" in url
    assert url not in client.get(f"/dashboard/sites/{SITE_A}/").text     # shown once
    unconfirmed = client.post(f"/dashboard/sites/{SITE_A}/legacy-url",
                              data={"csrf": csrf, "currency": "EUR"})
    assert unconfirmed.status_code == 422                        # replacing one is confirmed
    assert "stops working" in field_error(unconfirmed.text, "legacy_confirm")
    assert app.test_client().post(url.split("bridge.example.com", 1)[1],
                                  json={}).status_code != 404    # the first still works
    second = client.post(f"/dashboard/sites/{SITE_A}/legacy-url",
                         data={"csrf": csrf, "currency": "EUR", "confirm": "yes"})
    shown = re.search(r'id="legacy-url">([^<]+)<', client.get(second.location).text).group(1)
    assert shown != url
    assert url.startswith("https://bridge.example.com/legacy/")
    path = url.split("bridge.example.com", 1)[1]
    assert app.test_client().post(path, json={}).status_code == 404


def test_the_legacy_address_is_the_configured_one_whatever_the_request_says(
        app, dashboard_env, make_bridge):
    """Forwarded headers are whatever the sender writes: never the address shown."""
    forged = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "javascript"}
    client, csrf = owner(app, SITE_A)
    answer = client.post(f"/dashboard/sites/{SITE_A}/legacy-url",
                         data={"csrf": csrf, "currency": "USD"}, headers=forged)
    assert answer.status_code == 302
    answer = client.get(answer.location, headers=forged)
    assert 'id="legacy-url">https://bridge.example.com/legacy/' in answer.text
    assert "evil.example" not in answer.text and "javascript:" not in answer.text

    unset = create_app(make_bridge({**dashboard_env, "BRIDGE_PUBLIC_URL": ""}))
    client, csrf = owner(unset, "site-unset")
    answer = client.post("/dashboard/sites/site-unset/legacy-url",
                         data={"csrf": csrf, "currency": "USD"}, headers=forged)
    assert answer.status_code == 422 and "public address" in answer.text
    assert 'id="legacy-url"' not in answer.text


def test_an_owner_chooses_which_pos_menus_a_location_syncs(app, sites, two_poses):
    two_poses[0].menu = a_menu()
    two_poses[0].menu["menus"].append({"id": "lunch", "name": "Lunch", "sectionIds": ["sec-0"]})
    client, csrf = owner(app, SITE_A)
    page = client.get(f"/dashboard/sites/{SITE_A}/menus/conf-a/choose").text
    assert 'value="dinner"' in page and 'value="lunch"' in page
    none = client.post(f"/dashboard/sites/{SITE_A}/menus/conf-a/choose",
                       data={"csrf": csrf, "which": "some"})
    assert none.status_code == 422 and "at least one menu" in field_error(none.text, "menu")
    assert client.post(f"/dashboard/sites/{SITE_A}/menus/conf-a/choose", data={
        "csrf": csrf, "which": "some", "menu": ["lunch"]}).status_code == 302
    assert sites.store.get_configuration("conf-a").sync_menus == ("lunch",)
    assert "1 chosen menu(s): lunch" in client.get(f"/dashboard/sites/{SITE_A}/menus").text
    assert client.post(f"/dashboard/sites/{SITE_A}/menus/conf-a/choose",
                       data={"csrf": csrf, "which": "all"}).status_code == 302
    assert sites.store.get_configuration("conf-a").sync_menus is None
    assert client.get(f"/dashboard/sites/{SITE_A}/menus/conf-b/choose").status_code == 404
    two_poses[0].close()  # a POS that does not answer: the page says so, nothing breaks
    down = client.get(f"/dashboard/sites/{SITE_A}/menus/conf-a/choose")
    assert down.status_code == 200 and "your POS did not send its menu" in down.text


def test_locations_are_refreshed_from_wix_and_disconnecting_tells_wix(app, sites, wix):
    wix.configurations[SITE_A] = [
        {"id": "conf-a", "location": {"name": "Uptown"}, "enabled": True},
        {"id": "conf-a2", "location": {"name": "Airport"}, "enabled": True}]
    client, csrf = owner(app, SITE_A)
    assert client.post(f"/dashboard/sites/{SITE_A}/locations/refresh",
                       data={"csrf": csrf}).status_code == 302
    page = client.get(f"/dashboard/sites/{SITE_A}/locations").text
    assert "Wix lists 2 location(s)." in page and "Airport" in page
    assert sites.store.get_configuration("conf-a").pos_location_id == "A-KITCHEN"  # kept

    unticked = client.post(f"/dashboard/sites/{SITE_A}/locations/conf-a/disconnect",
                           data={"csrf": csrf})
    assert unticked.status_code == 422 and field_error(unticked.text, "disconnect-conf-a")
    assert not [c for c in wix.calls("POST") if "disconnect" in c["path"]]
    assert client.post(f"/dashboard/sites/{SITE_A}/locations/conf-a/disconnect",
                       data={"csrf": csrf, "confirm": "yes"}).status_code == 302
    [told] = [c for c in wix.calls("POST") if "disconnect" in c["path"]]
    assert told["path"].endswith("/configurations/conf-a/disconnect")
    gone = sites.store.get_configuration("conf-a")
    assert gone.pos_location_id is None and not gone.enabled

    assert client.post(f"/dashboard/sites/{SITE_A}/account/disconnect",
                       data={"csrf": csrf}).status_code == 422
    assert client.post(f"/dashboard/sites/{SITE_A}/account/disconnect",
                       data={"csrf": csrf, "confirm": "yes"}).status_code == 302
    assert sites.store.get_account("acc-a").status == "disconnected"
    assert any(c["path"].endswith("/accounts/acc-a/disconnect") for c in wix.calls("POST"))
    assert sites.store.get_account("acc-b").status == "active"  # the other site's is untouched


def test_orders_are_found_by_number_and_direction_and_the_list_shows_more_on_demand(
        app, sites, signer):
    from bridge.web.dashboard.blueprint import PAGE_ORDERS
    ours = [an_order(businessLocation={"id": "loc-a"}) for _ in range(3)]
    theirs = an_order(businessLocation={"id": "loc-b"}, number=ours[0]["number"])
    for order in ours:
        deliver(app, signer, order, SITE_A)
    deliver(app, signer, theirs, SITE_B)
    drain(sites)
    client, _ = owner(app, SITE_A)
    page = f"/dashboard/sites/{SITE_A}/orders"

    found = client.get(f"{page}?number=%23{ours[0]['number']}").text
    assert ours[0]["id"] in found and theirs["id"] not in found and ours[1]["id"] not in found
    assert "No orders numbered 0." in client.get(f"{page}?number=0").text
    assert ours[0]["id"] not in client.get(f"{page}?direction=imported").text
    exported = client.get(f"{page}?direction=exported").text
    assert all(o["id"] in exported for o in ours) and "Show more" not in exported

    for n in range(PAGE_ORDERS):  # more than a page
        sites.store.save_order(wix_order_id=f"old-{n}", instance_id=SITE_A, state="sent")
    first = client.get(page).text
    assert first.count("/orders/old-") + first.count(f"/orders/{ours[0]['id']}") <= PAGE_ORDERS
    more = re.search(r'<a href="([^"]+)">Show more</a>', first).group(1).replace("&amp;", "&")
    second = client.get(more).text
    assert all(o["id"] in second for o in ours) and "Show more" not in second


def test_a_return_visit_lands_on_the_viewer_s_page_and_logging_out_ends_the_session(app):
    client, csrf = owner(app, SITE_A)
    back = client.get("/dashboard/")
    assert back.status_code == 302 and back.headers["Location"] == f"/dashboard/sites/{SITE_A}/"
    assert client.post("/dashboard/logout", data={"csrf": csrf}).status_code == 302
    assert client.get(f"/dashboard/sites/{SITE_A}/").status_code == 401

    operator = app.test_client()
    assert operator.get("/dashboard/login").status_code == 200
    operator.post("/dashboard/login", data={"password": OPERATOR_PASSWORD})
    assert operator.get("/dashboard/").headers["Location"] == "/dashboard/sites"
    # An owner's link opened in the operator's browser asks first; agreed, it is an owner's.
    asked = operator.get(wix_link(SITE_B))
    assert asked.status_code == 200 and "the operator's view of every site" in asked.text
    assert operator.get(f"/dashboard/sites/{SITE_A}/").status_code == 200
    instance = re.search(r'name="instance" value="([^"]+)"', asked.text).group(1)
    switched = operator.post("/dashboard/switch", data={"csrf": csrf_of(asked.text),
                                                        "instance": instance})
    assert switched.headers["Location"] == f"/dashboard/sites/{SITE_B}/"
    assert operator.get(f"/dashboard/sites/{SITE_A}/").status_code == 404


def test_a_pos_that_lists_its_locations_offers_them_and_refuses_another(app, sites):
    client, csrf = owner(app, "site-demo")
    assert client.post("/dashboard/sites/site-demo/account",
                       data={"csrf": csrf, "pos": "demo"}).status_code == 302
    assert client.post("/dashboard/sites/site-demo/account/check",
                       data={"csrf": csrf}).status_code == 302
    assert "Your POS accepted the settings" in client.get(
        "/dashboard/sites/site-demo/account").text

    missing = client.post("/dashboard/sites/site-demo/locations/add",
                          data={"csrf": csrf, "configuration": " "})
    assert missing.status_code == 422 and "configuration id" in field_error(missing.text,
                                                                           "configuration")
    taken = client.post("/dashboard/sites/site-demo/locations/add",
                        data={"csrf": csrf, "configuration": "conf-b", "name": "Mine"})
    assert taken.status_code == 422
    assert "belongs to another site" in field_error(taken.text, "configuration")
    assert sites.store.get_configuration("conf-b").instance_id == SITE_B
    assert client.post("/dashboard/sites/site-demo/locations/add", data={
        "csrf": csrf, "configuration": "conf-d", "name": "Corner"}).status_code == 302

    page = client.get("/dashboard/sites/site-demo/locations").text
    assert '<option value="demo-kitchen"' in page  # a list, not a text field
    unknown = client.post("/dashboard/sites/site-demo/locations/conf-d/pair",
                          data={"csrf": csrf, "pos_location": "elsewhere"})
    assert unknown.status_code == 422
    assert "has no location 'elsewhere'" in field_error(unknown.text, "pos_location-conf-d") \
        .replace("&#39;", "'")
    assert client.post("/dashboard/sites/site-demo/locations/conf-d/pair", data={
        "csrf": csrf, "pos_location": "demo-kitchen"}).status_code == 302
    assert sites.store.get_configuration("conf-d").pos_location_id == "demo-kitchen"


def test_without_wix_credentials_the_locations_cannot_be_refreshed_and_say_why(
        dashboard_env):
    bridge = bootstrap(load_config({k: v for k, v in dashboard_env.items()
                                    if k not in ("WIX_APP_ID", "WIX_APP_SECRET")}))
    bridge.store.migrate()
    try:
        client = create_app(bridge).test_client()
        client.post("/dashboard/login", data={"password": OPERATOR_PASSWORD})
        csrf = csrf_of(client.get(f"/dashboard/sites/{SITE_A}/locations").text)
        client.post(f"/dashboard/sites/{SITE_A}/locations/refresh", data={"csrf": csrf})
        assert "cannot reach Wix yet" in client.get(
            f"/dashboard/sites/{SITE_A}/locations").text
        # Without WIX_APP_SECRET no link from Wix can be verified: none opens a site.
        assert client.application.test_client().get(wix_link(SITE_A)).status_code == 401
    finally:
        bridge.store.close()


def test_replaying_an_order_with_nothing_failed_says_so(app, sites, signer):
    order = an_order(businessLocation={"id": "loc-a"})
    deliver(app, signer, order, SITE_A)
    drain(sites)
    client, csrf = owner(app, SITE_A)
    client.post(f"/dashboard/sites/{SITE_A}/orders/{order['id']}/replay", data={"csrf": csrf})
    page = client.get(f"/dashboard/sites/{SITE_A}/orders/{order['id']}").text
    assert "Nothing to replay" in page and sites.store.get_order(SITE_A, order["id"]).state == "sent"


def test_wix_refusing_a_change_is_said_on_the_page_and_nothing_changes(app, sites, wix):
    wix.connectivity_refusal = "the app has no permission for this site"
    client, csrf = owner(app, SITE_A)
    client.post(f"/dashboard/sites/{SITE_A}/locations/refresh", data={"csrf": csrf})
    assert "Wix did not list your locations" in client.get(
        f"/dashboard/sites/{SITE_A}/locations").text
    client.post(f"/dashboard/sites/{SITE_A}/locations/conf-a/disconnect",
                data={"csrf": csrf, "confirm": "yes"})
    assert "Wix refused the disconnection; nothing changed" in client.get(
        f"/dashboard/sites/{SITE_A}/locations").text
    assert sites.store.get_configuration("conf-a").pos_location_id == "A-KITCHEN"
    client.post(f"/dashboard/sites/{SITE_A}/account/disconnect",
                data={"csrf": csrf, "confirm": "yes"})
    assert "Wix refused the disconnection" in client.get(
        f"/dashboard/sites/{SITE_A}/account").text
    assert sites.store.get_account("acc-a").status == "active"


def test_a_site_without_an_account_has_nothing_to_check_or_disconnect(app):
    client, csrf = owner(app, "site-bare")
    for form in ("account/check", "account/disconnect"):
        assert client.post(f"/dashboard/sites/site-bare/{form}",
                           data={"csrf": csrf, "confirm": "yes"}).status_code == 404


def test_sealed_credentials_the_key_cannot_open_are_said_not_shown(dashboard_env, two_poses):
    """A bridge started with another key (the one that sealed them was removed)."""
    from bridge.credentials import new_key
    first = two_sites(dashboard_env, two_poses, (SITE_A, SITE_B))
    first.store.close()
    bridge = bootstrap(load_config({**dashboard_env, "BRIDGE_SECRET_KEY": new_key()}))
    try:
        client, csrf = owner(create_app(bridge), SITE_A)
        page = client.get(f"/dashboard/sites/{SITE_A}/account")
        assert page.status_code == 200 and "set (leave empty to keep)" not in page.text
        kept = client.post(f"/dashboard/sites/{SITE_A}/account", data={
            "csrf": csrf, "pos": "webhook", "POS_WEBHOOK_URL": two_poses[0].url})
        assert kept.status_code == 422 and "no key in BRIDGE_SECRET_KEY opens" in kept.text
        locations = client.get(f"/dashboard/sites/{SITE_A}/locations").text
        assert "type the location" in locations
    finally:
        bridge.store.close()


def test_an_order_taken_at_the_pos_that_could_not_reach_wix_is_listed_and_replayed(
        app, sites, two_poses, wix):
    from tests.builders import signed_callback
    sites.store.set_instance(SITE_A, "installed")
    walk_in = {"orderId": "T-7", "locationId": "A-KITCHEN", "currency": "USD",
               "items": [{"itemId": "tiramisu", "name": "Tiramisu", "quantity": 1,
                          "price": "6.00"}], "totals": {"total": "6.00"}}
    body, headers = signed_callback({"orderCreated": walk_in}, secret=two_poses[0].secret)
    assert app.test_client().post("/pos/webhook/events", data=body,
                                  headers=headers).status_code == 200
    drain(sites)
    [imported] = sites.store.list_imports(instance_id=SITE_A)
    assert imported.state == "failed"
    client, csrf = owner(app, SITE_A)
    page = client.get(f"/dashboard/sites/{SITE_A}/orders").text
    assert "T-7" in page and "Tiramisu" in page and f"/imports/{imported.id}/replay" in page
    other_client, other = owner(app, SITE_B)
    assert other_client.post(f"/dashboard/sites/{SITE_B}/imports/{imported.id}/replay",
                             data={"csrf": other}).status_code == 404

    sites.store.set_identifier(SITE_A, "item", "wix-tiramisu", "tiramisu")
    on_a_menu(wix, ["wix-tiramisu"], location="loc-a")
    assert client.post(f"/dashboard/sites/{SITE_A}/imports/{imported.id}/replay",
                       data={"csrf": csrf}).status_code == 302
    assert "is being added to Wix again" in client.get(f"/dashboard/sites/{SITE_A}/orders").text
    drain(sites)
    assert sites.store.get_import(imported.id).state == "done"
    again = client.post(f"/dashboard/sites/{SITE_A}/imports/{imported.id}/replay",
                        data={"csrf": csrf})
    assert again.status_code == 302
    assert "it has not failed" in client.get(f"/dashboard/sites/{SITE_A}/orders").text


def test_every_page_of_a_site_whose_pos_is_not_answering_says_its_orders_wait(app, sites):
    destination = f"pos:{SITE_A}"
    for _ in range(5):
        sites.store.count_breaker_failure(destination, "ConnectTimeout")
    sites.store.open_breaker(destination, 60)
    client, _ = owner(app, SITE_A)
    for page in ("", "orders", "menus", "locations", "account", "help"):
        text = client.get(f"/dashboard/sites/{SITE_A}/{page}").text
        assert 'class="status tone-bad"' in text and "Your POS is not answering" in text
        assert "none is lost" in text and "(since " in text and "Next try at" in text
    other, _ = owner(app, SITE_B)
    assert "not answering" not in other.get(f"/dashboard/sites/{SITE_B}/").text
    sites.store.close_breaker(destination)
    assert "not answering" not in client.get(f"/dashboard/sites/{SITE_A}/").text


def test_every_failed_order_is_sent_again_in_one_press(app, sites, signer, two_poses):
    pos_a = two_poses[0]
    pos_a.refuse = "invalid_item_mapping"
    orders = [an_order(businessLocation={"id": "loc-a"}) for _ in range(2)]
    for order in orders:
        deliver(app, signer, order, SITE_A)
    drain(sites)
    client, csrf = owner(app, SITE_A)
    page = client.get(f"/dashboard/sites/{SITE_A}/orders").text
    assert "Send every failed order again" in page
    assert 'aria-label="2 failed">2</span>' in page              # the nav's count
    pos_a.refuse = None
    answer = client.post(f"/dashboard/sites/{SITE_A}/orders/replay-failed", data={"csrf": csrf})
    assert answer.status_code == 302
    assert "Sent again: 2 order(s)" in client.get(answer.location).text
    drain(sites)
    assert {sites.store.get_order(SITE_A, o["id"]).state for o in orders} == {"sent"}
    again = client.post(f"/dashboard/sites/{SITE_A}/orders/replay-failed", data={"csrf": csrf})
    assert "no order has failed" in client.get(again.location).text
    assert "Send every failed order again" not in client.get(again.location).text


def test_times_are_shown_in_the_time_zone_the_owner_chooses(app, sites, signer, two_poses):
    order = an_order(businessLocation={"id": "loc-a"})
    deliver(app, signer, order, SITE_A)
    drain(sites)
    client, csrf = owner(app, SITE_A)
    assert "(times in UTC)" in client.get(f"/dashboard/sites/{SITE_A}/orders").text
    refused = client.post(f"/dashboard/sites/{SITE_A}/time-zone",
                          data={"csrf": csrf, "time_zone": "Mars/Olympus"})
    assert refused.status_code == 422 and field_error(refused.text, "time_zone")
    assert client.post(f"/dashboard/sites/{SITE_A}/time-zone",
                       data={"csrf": csrf, "time_zone": "Asia/Tokyo"}).status_code == 302
    page = client.get(f"/dashboard/sites/{SITE_A}/orders").text
    assert "(times in Asia/Tokyo)" in page and " JST</time>" in page
    assert "(times in UTC)" in owner(app, SITE_B)[0].get(f"/dashboard/sites/{SITE_B}/").text
