"""The owner's dashboard in a real browser: Debian's Chromium, headless, driven by Playwright,
inside an iframe of a page on another origin (as Wix's dashboard shows it), against loopback Wix
and POS servers. A screenshot of each page is saved under test-artifacts/screenshots/ (or
$BRIDGE_TEST_ARTIFACTS).

Chromium is never downloaded: the tests use /usr/bin/chromium (`apt-get install chromium`,
which `.ci/run` does). Without it they are skipped, saying so; with BRIDGE_TEST_BROWSER=required
(as `.ci/run` sets it) they fail instead.
"""
from __future__ import annotations

import os
import re
import shutil
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from bridge.bootstrap import bootstrap
from bridge.config import load_config
from bridge.web.app import create_app
from bridge.wix import events as wix_events
from bridge.wix import instance
from tests.builders import an_order
from tests.loopback import FramingPage, PosServer, SquareServer, free_port
from tests.sites import SECRET_KEY
from tests.wix_menus import a_menu

CHROMIUM = os.environ.get("BRIDGE_TEST_CHROMIUM", "/usr/bin/chromium")
REQUIRED = os.environ.get("BRIDGE_TEST_BROWSER") == "required"
ARTIFACTS = Path(os.environ.get("BRIDGE_TEST_ARTIFACTS")
                 or Path(__file__).resolve().parents[2] / "test-artifacts") / "screenshots"
SITE, OTHER = "site-browser", "site-other"
POS_SECRET = "whsec_" + "YnJvd3Nlci1wb3Mtc2VjcmV0LWZvci10ZXN0cyE="

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium():
    if not shutil.which(CHROMIUM):
        message = (f"no Chromium at {CHROMIUM}: `apt-get install chromium` (the browser tests "
                   "never download one)")
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


@pytest.fixture
def wix_dashboard():
    page = FramingPage(height=FRAME_HEIGHT)
    yield page
    page.close()


@pytest.fixture
def site_pos():
    server = PosServer(POS_SECRET)
    server.menu = a_menu()
    yield server
    server.close()


@pytest.fixture
def served(env, wix, wix_dashboard, square):
    """The bridge's web app on a real loopback port, in a thread, with Square's app set (owners
    connect with its OAuth); its worker is drained by the test when work is due."""
    port = free_port()
    bridge = bootstrap(load_config({
        **env, "WIX_API_BASE": wix.url, "BRIDGE_SECRET_KEY": SECRET_KEY,
        "BRIDGE_DASHBOARD_FRAME_ANCESTORS": wix_dashboard.origin,
        "BRIDGE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "POS_SQUARE_BASE_URL": square.url, "POS_SQUARE_APPLICATION_ID": SquareServer.APP_ID,
        "POS_SQUARE_APPLICATION_SECRET": SquareServer.APP_SECRET,
        "BRIDGE_ALLOW_PRIVATE_URLS": "1"}), pool_size=4)  # the owner's POS is on loopback
    bridge.store.migrate()
    for site in (SITE, OTHER):  # as the install job stores what Wix lists
        bridge.store.set_instance(site, "installed")
    bridge.store.save_configuration("conf-browser", SITE, location_name="Harbour Street")
    server = make_server("127.0.0.1", port, create_app(bridge), threaded=True)
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
    bridge.url = f"http://127.0.0.1:{server.server_port}"
    yield bridge
    server.shutdown()
    bridge.store.close()


WIDE, PHONE = 1280, 390
FRAME_HEIGHT = 4000   # Wix's frame, tall enough for any page whole: screenshots need no scroll


def open_from_wix(chromium, wix_dashboard, bridge, site, width=WIDE):
    """A new browser, and the dashboard of `site` as its owner sees it inside Wix."""
    signed = datetime.now(timezone.utc).isoformat()
    wix_dashboard.src = f"{bridge.url}/dashboard/?instance=" + instance.sign(
        {"instanceId": site, "appDefId": "app-id", "signDate": signed, "uid": "owner",
         "permissions": "OWNER"}, "app-secret")
    # A window as tall as Wix's frame: a screenshot never resizes it (a resized frame paints
    # late, and would be caught blank).
    context = chromium.new_context(viewport={"width": width, "height": FRAME_HEIGHT + 100})
    page = context.new_page()
    page.goto(wix_dashboard.url)
    return context, page, page.frame_locator("#app")


def inner(page):
    """The dashboard's own frame (Wix's page is the top one)."""
    return page.main_frame.child_frames[0]


def check_page(page, name: str) -> None:
    """What every page must be, at any width: no serious or critical accessibility problem
    (axe-core, bundled by axe-playwright-python), nothing wider than the screen, one title of
    its own. And a screenshot of the whole page, inside Wix's frame."""
    from axe_playwright_python.sync_playwright import Axe
    frame = inner(page)
    frame.wait_for_load_state()
    screenshot(page, name)
    results = Axe().run(frame)
    serious = [v for v in results.response["violations"]
               if v["impact"] in ("serious", "critical")]
    assert not serious, f"{name}: " + results.generate_report()
    assert frame.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), \
        f"{name} scrolls sideways at {page.viewport_size['width']} px"
    assert frame.title().endswith("· POS orders") and frame.title() != "POS orders · POS orders"


def screenshot(page, name: str) -> None:
    """The page down to the end of the dashboard's content (the frame is taller than any page,
    so nothing scrolls)."""
    frame = inner(page)
    box = page.locator("#app").bounding_box()
    used = frame.evaluate("Math.max(...[...document.body.children].map("
                          "e => e.getBoundingClientRect().bottom))")
    assert used < FRAME_HEIGHT, f"{name} is taller than the test's frame"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{page.viewport_size['width']}.png"),
                    clip={"x": 0, "y": 0, "width": page.viewport_size["width"],
                          "height": box["y"] + used + 16})


def nav(app, name: str) -> None:
    app.locator("header nav").get_by_role("link", name=re.compile(f"^{name}")).click()


def drain(bridge):
    bridge.worker(wait=lambda state: 0.0, poll_seconds=0.01, max_attempts=1).drain()


def test_an_owner_connects_pairs_syncs_and_replays_a_failed_order_in_the_browser(
        chromium, wix_dashboard, served, wix, site_pos, signer):
    from playwright.sync_api import expect
    context, page, app = open_from_wix(chromium, wix_dashboard, served, SITE)
    expect(app.get_by_role("heading", name="Overview")).to_be_visible()
    # The operator's POS serves every site here (POS_SITES=*), and has not been asked yet.
    expect(app.locator("section.status")).to_contain_text("not contacted yet")

    # Connect the POS account. A refused form keeps what was typed (never a secret), shows
    # every problem at once beside its field, and its summary takes the focus.
    nav(app, "POS account")
    app.get_by_label("Your POS", exact=True).select_option("webhook")
    app.get_by_role("button", name="Choose").click()
    # The page before already shows webhook's fields (the bridge's default POS): typing must
    # wait for the chosen page, or the reload eats the text, or the click that follows.
    inner(page).wait_for_url("**/account?pos=webhook")
    app.get_by_label("Your POS's order address").fill("ftp://not-a-pos")
    app.get_by_label("Signing secret").fill(POS_SECRET)
    app.get_by_label("Seconds to wait for your POS").fill("-3")
    app.get_by_role("button", name="Save and check").click()
    expect(app.locator("#error-POS_WEBHOOK_URL")).to_contain_text("must be an https:// address")
    expect(app.locator("#error-POS_WEBHOOK_TIMEOUT")).to_contain_text("0 or more")
    expect(app.locator("#error-summary li")).to_have_count(2)
    expect(app.locator("#error-summary")).to_be_focused()
    expect(app.get_by_label("Your POS's order address")).to_have_value("ftp://not-a-pos")
    expect(app.get_by_label("Your POS's order address")).to_have_attribute("aria-invalid", "true")
    expect(app.get_by_label("Signing secret")).to_have_value("")
    check_page(page, "account-refused")
    app.get_by_label("Your POS's order address").fill(site_pos.url)
    app.get_by_label("Signing secret").fill(POS_SECRET)
    app.get_by_label("Seconds to wait for your POS").fill("10")
    app.get_by_role("button", name="Save and check").click()
    expect(app.get_by_role("status")).to_contain_text("first contacted when an order comes")
    assert POS_SECRET not in app.locator("body").inner_html()
    expect(app.locator("section.status")).to_contain_text("not contacted yet")
    check_page(page, "account")

    # Pair the location: an empty choice is refused beside the field.
    nav(app, "Locations")
    app.get_by_role("button", name="Pair").click()
    expect(app.locator("#error-pos_location-conf-browser")).to_contain_text(
        "Choose the POS location")
    app.get_by_label("POS location").fill("KITCHEN")
    app.get_by_label("Wix location id").fill("loc-harbour")
    app.get_by_role("button", name="Pair").click()
    expect(app.locator("#location-conf-browser .badge")).to_have_text(
        re.compile("ready", re.IGNORECASE))
    check_page(page, "locations")

    # The first sync waits for the owner's explicit confirmation.
    nav(app, "Menus")
    app.get_by_role("button", name="Sync now").click()
    expect(app.locator("#error-confirm-conf-browser")).to_contain_text("confirm it")
    app.get_by_label("I understand").check()
    app.get_by_role("button", name="Sync now").click()
    expect(app.get_by_role("status")).to_contain_text("started")
    drain(served)
    nav(app, "Menus")
    expect(app.locator("#menu-conf-browser p").first).to_contain_text(
        re.compile("synced", re.IGNORECASE))
    expect(app.locator("#status-conf-browser")).to_contain_text("Menu synced")
    assert len(wix.menus.entities["item"]) == 6
    check_page(page, "menus")
    app.get_by_role("link", name="Choose menus").click()
    expect(app.get_by_role("group", name="Which menus")).to_be_visible()
    check_page(page, "choose")
    nav(app, "Menus")
    app.get_by_role("link", name="#1").click()
    expect(app.get_by_role("heading", name="Sync #1")).to_be_visible()
    expect(app.locator("table")).to_contain_text("item")

    # An order the POS refuses shows its contents, why in the owner's words, and its fix; sent
    # again once the POS is fixed, it reaches the kitchen.
    site_pos.refuse = "invalid_item_mapping"
    order = an_order(businessLocation={"id": "loc-harbour", "name": "Harbour Street"})
    token = signer.order_webhook(order, wix_events.ORDER_CREATED, 1, SITE)
    assert requests.post(f"{served.url}/webhooks/wix", data=token, timeout=10).status_code == 200
    drain(served)
    nav(app, "Orders")
    expect(app.locator("header nav")).to_contain_text("Orders 1")     # the failed count
    app.get_by_label("State").select_option("failed")
    app.get_by_role("button", name="Filter").click()
    orders = app.locator("table.orders")
    expect(orders).to_contain_text("an item your POS does not know")
    expect(orders).to_contain_text(order["lineItems"][0]["productName"]["original"])
    expect(orders.get_by_role("link", name="Sync the menu")).to_be_visible()
    expect(app.locator("section.status")).to_contain_text("1 failed")
    check_page(page, "orders")
    app.locator("table.orders a").first.click()
    expect(app.locator("h1")).to_contain_text("an item your POS does not know")
    expect(app.get_by_role("heading", name="Items")).to_be_visible()
    expect(app.locator("table.items")).to_contain_text(
        order["lineItems"][0]["productName"]["original"])
    check_page(page, "order")
    site_pos.refuse = None
    app.get_by_role("button", name="Send again").click()
    expect(app.get_by_role("status")).to_contain_text("Replayed")
    drain(served)
    nav(app, "Orders")
    expect(app.locator("table.orders")).to_contain_text("at your POS")
    assert served.store.get_order(SITE, order["id"]).state == "sent"
    expect(app.locator("section.status")).to_contain_text("Your POS is answering")

    # Notifications: a bad address is refused beside the field; email being off is said.
    nav(app, "Overview")
    expect(app.locator("main")).to_contain_text("Email is off on this app")
    app.get_by_label("Email address").fill("not an address")
    app.get_by_role("button", name="Save the address").click()
    expect(app.locator("#error-email")).to_contain_text("is not an email address")
    expect(app.get_by_label("Email address")).to_have_value("not an address")
    app.get_by_label("Email address").fill("owner@harbour.example")
    app.get_by_role("button", name="Save the address").click()
    expect(app.get_by_role("status")).to_contain_text("does not send email yet")
    check_page(page, "overview")
    nav(app, "Help")
    expect(app.get_by_role("heading", name="Order states")).to_be_visible()
    check_page(page, "help")
    context.close()

    # The same pages at a phone's width: nothing cut off, nothing sideways, tables as cards.
    context, page, app = open_from_wix(chromium, wix_dashboard, served, SITE, width=PHONE)
    expect(app.get_by_role("heading", name="Overview")).to_be_visible()
    check_page(page, "overview")
    for name in ("Orders", "Menus", "Locations", "POS account", "Help"):
        nav(app, name)
        expect(app.locator("h1")).to_contain_text(name if name != "POS account" else "POS")
        check_page(page, name.lower().replace(" ", "-").replace("pos-", ""))
    nav(app, "Orders")
    app.locator("table.orders a").first.click()
    expect(app.get_by_role("heading", name="Items")).to_be_visible()
    check_page(page, "order")
    context.close()

    # Another site's owner, in their own browser, cannot reach this site's order.
    context, page, app = open_from_wix(chromium, wix_dashboard, served, OTHER)
    expect(app.get_by_role("heading", name="Overview")).to_be_visible()
    assert order["id"] not in app.locator("body").inner_html()
    frame = inner(page)  # its session lives inside Wix's frame
    frame.goto(f"{served.url}/dashboard/sites/{SITE}/orders/{order['id']}")
    expect(app.get_by_role("heading", name="Not found")).to_be_visible()
    assert order["id"] not in app.locator("body").inner_html()
    context.close()


def test_a_pos_that_stops_answering_shows_red_everywhere_and_its_orders_held(
        chromium, wix_dashboard, served, site_pos, signer):
    """Saved as fine, paired, and yet: the breaker open, every page says so, never green."""
    from playwright.sync_api import expect
    account = served.accounts.save(SITE, "webhook", {"POS_WEBHOOK_URL": site_pos.url,
                                                     "POS_WEBHOOK_SECRET": POS_SECRET},
                                   clients=served.pos)
    served.accounts.check(account, served.pos)
    served.store.pair_configuration("conf-browser", pos_location_id="KITCHEN",
                                    wix_location_id="loc-harbour")
    destination = f"pos:{SITE}"
    for _ in range(5):
        served.store.count_breaker_failure(destination, "ConnectTimeout")
    served.store.open_breaker(destination, 600)
    order = an_order(businessLocation={"id": "loc-harbour", "name": "Harbour Street"})
    token = signer.order_webhook(order, wix_events.ORDER_CREATED, 1, SITE)
    assert requests.post(f"{served.url}/webhooks/wix", data=token, timeout=10).status_code == 200
    drain(served)                          # the send waits behind the open breaker
    for width in (WIDE, PHONE):
        context, page, app = open_from_wix(chromium, wix_dashboard, served, SITE, width=width)
        for name in ("Overview", "Orders", "Menus", "Locations", "POS account"):
            nav(app, name)
            status = app.locator("section.status")
            expect(status).to_have_class(re.compile("tone-bad"))
            expect(status).to_contain_text("Your POS is not answering")
            expect(status).to_contain_text("1 held")
        nav(app, "Orders")
        expect(app.locator("table.orders")).to_contain_text("held, your POS is not answering")
        check_page(page, "held")
        context.close()


def test_an_owner_connects_square_with_oauth_and_its_token_is_renewed(
        chromium, wix_dashboard, served, square):
    """Connect with Square opens Square's page in a tab of its own (Square's pages are never
    framed); allowing access there connects the site; the token is renewed before it expires.
    The stand-in checks every request and answer against Square's published spec."""
    from playwright.sync_api import expect
    square.TOKEN_DAYS = 1          # the first token's renewal falls due a day before it expires:
    #                                at once, here; the renewed one lasts Square's 30 days
    context, page, app = open_from_wix(chromium, wix_dashboard, served, SITE)
    nav(app, "POS account")
    app.get_by_label("Your POS", exact=True).select_option("square")
    app.get_by_role("button", name="Choose").click()
    inner(page).wait_for_url("**/account?pos=square")
    expect(app.get_by_label("Access token")).to_have_count(0)   # no token to paste
    check_page(page, "account-square")
    with context.expect_page() as opened:
        app.get_by_role("link", name="Connect with Square").click()
    square_tab = opened.value
    square_tab.wait_for_load_state()
    expect(square_tab.get_by_role("heading", name="Allow access?")).to_be_visible()
    square_tab.get_by_role("link", name="Allow").click()
    expect(square_tab.get_by_role("heading", name="Square is connected")).to_be_visible()
    square_tab.close()
    inner(page).goto(inner(page).url)
    expect(app.locator("main")).to_contain_text("Your Square account is connected")
    expect(app.locator("main")).to_contain_text(f"account {square.merchant}")
    account = served.store.account_for_instance(SITE)
    first = served.accounts.credentials(account)["POS_SQUARE_ACCESS_TOKEN"]
    check_page(page, "account-square-connected")

    square.TOKEN_DAYS = 30
    drain(served)                   # the renewal: due now, with a one-day token
    renewed = served.store.account_for_instance(SITE)
    assert served.accounts.credentials(renewed)["POS_SQUARE_ACCESS_TOKEN"] != first
    assert [c["body"]["grant_type"] for c in square.calls("/oauth2/token")] == [
        "authorization_code", "refresh_token"]
    inner(page).goto(inner(page).url)
    expect(app.locator("main")).to_contain_text("Your POS accepted the settings")
    context.close()
