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
from tests.loopback import FramingPage, PosServer
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
    page = FramingPage()
    yield page
    page.close()


@pytest.fixture
def site_pos():
    server = PosServer(POS_SECRET)
    server.menu = a_menu()
    yield server
    server.close()


@pytest.fixture
def served(env, wix, wix_dashboard):
    """The bridge's web app on a real loopback port, in a thread; its worker is drained by the
    test when work is due."""
    bridge = bootstrap(load_config({
        **env, "WIX_API_BASE": wix.url, "BRIDGE_SECRET_KEY": SECRET_KEY,
        "BRIDGE_DASHBOARD_FRAME_ANCESTORS": wix_dashboard.origin,
        "BRIDGE_ALLOW_PRIVATE_URLS": "1"}), pool_size=4)  # the owner's POS is on loopback
    bridge.store.migrate()
    for site in (SITE, OTHER):  # as the install job stores what Wix lists
        bridge.store.set_instance(site, "installed")
    bridge.store.save_configuration("conf-browser", SITE, location_name="Harbour Street")
    server = make_server("127.0.0.1", 0, create_app(bridge), threaded=True)
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
    bridge.url = f"http://127.0.0.1:{server.server_port}"
    yield bridge
    server.shutdown()
    bridge.store.close()


def open_from_wix(chromium, wix_dashboard, bridge, site):
    """A new browser, and the dashboard of `site` as its owner sees it inside Wix."""
    signed = datetime.now(timezone.utc).isoformat()
    wix_dashboard.src = f"{bridge.url}/dashboard/?instance=" + instance.sign(
        {"instanceId": site, "appDefId": "app-id", "signDate": signed, "uid": "owner",
         "permissions": "OWNER"}, "app-secret")
    context = chromium.new_context(viewport={"width": 1280, "height": 960})
    page = context.new_page()
    page.goto(wix_dashboard.url)
    return context, page, page.frame_locator("#app")


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def nav(app, name: str) -> None:
    app.locator("header nav").get_by_role("link", name=name, exact=True).click()


def drain(bridge):
    bridge.worker(wait=lambda state: 0.0, poll_seconds=0.01, max_attempts=1).drain()


def test_an_owner_connects_pairs_syncs_and_replays_a_failed_order_in_the_browser(
        chromium, wix_dashboard, served, wix, site_pos, signer):
    from playwright.sync_api import expect
    context, page, app = open_from_wix(chromium, wix_dashboard, served, SITE)
    expect(app.get_by_role("heading", name="Overview")).to_be_visible()

    # Connect the POS account; a bad URL is refused beside its field first.
    nav(app, "POS account")
    app.get_by_label("POS", exact=True).select_option("webhook")
    app.get_by_role("button", name="Choose").click()
    # The page before already shows webhook's fields (the bridge's default POS): typing must
    # wait for the chosen page, or the reload eats the text, or the click that follows.
    page.main_frame.child_frames[0].wait_for_url("**/account?pos=webhook")
    app.get_by_label("POS_WEBHOOK_URL").fill("ftp://not-a-pos")
    app.get_by_label("POS_WEBHOOK_SECRET").fill(POS_SECRET)
    app.get_by_role("button", name="Save and check").click()
    expect(app.locator("#error-POS_WEBHOOK_URL")).to_contain_text("POS_WEBHOOK_URL")
    app.get_by_label("POS_WEBHOOK_URL").fill(site_pos.url)
    app.get_by_label("POS_WEBHOOK_SECRET").fill(POS_SECRET)
    app.get_by_role("button", name="Save and check").click()
    expect(app.get_by_role("status")).to_contain_text("The POS accepted the credentials")
    assert POS_SECRET not in app.locator("body").inner_html()
    screenshot(page, "account")

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
    screenshot(page, "locations")

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
    assert len(wix.menus.entities["item"]) == 6
    screenshot(page, "menus")
    app.get_by_role("link", name="#1").click()
    expect(app.get_by_role("heading", name="Sync #1")).to_be_visible()
    expect(app.locator("table")).to_contain_text("item")

    # An order the POS refuses shows why, and a replay sends it once the POS is fixed.
    site_pos.refuse = "invalid_item_mapping"
    order = an_order(businessLocation={"id": "loc-harbour", "name": "Harbour Street"})
    token = signer.order_webhook(order, wix_events.ORDER_CREATED, 1, SITE)
    assert requests.post(f"{served.url}/webhooks/wix", data=token, timeout=10).status_code == 200
    drain(served)
    nav(app, "Orders")
    app.get_by_label("State").select_option("failed")
    app.get_by_role("button", name="Filter").click()
    expect(app.locator("table.orders")).to_contain_text("not on the menu")
    screenshot(page, "orders")
    app.locator("table.orders a").first.click()
    expect(app.locator("h1")).to_contain_text("failed")
    screenshot(page, "order")
    site_pos.refuse = None
    app.get_by_role("button", name="Replay").click()
    expect(app.get_by_role("status")).to_contain_text("Replayed")
    drain(served)
    nav(app, "Orders")
    expect(app.locator("table.orders")).to_contain_text("sent")
    assert served.store.get_order(SITE, order["id"]).state == "sent"

    # Notifications: a bad address is refused beside the field.
    nav(app, "Overview")
    app.get_by_label("Email").fill("not an address")
    app.get_by_role("button", name="Save").first.click()
    expect(app.locator("#error-email")).to_contain_text("is not an email address")
    app.get_by_label("Email").fill("owner@harbour.example")
    app.get_by_role("button", name="Save").first.click()
    expect(app.get_by_role("status")).to_contain_text("owner@harbour.example")
    screenshot(page, "overview")
    nav(app, "Help")
    expect(app.get_by_role("heading", name="Order states")).to_be_visible()
    screenshot(page, "help")
    context.close()

    # Another site's owner, in their own browser, cannot reach this site's order.
    context, page, app = open_from_wix(chromium, wix_dashboard, served, OTHER)
    expect(app.get_by_role("heading", name="Overview")).to_be_visible()
    assert order["id"] not in app.locator("body").inner_html()
    frame = page.main_frame.child_frames[0]  # its session lives inside Wix's frame
    frame.goto(f"{served.url}/dashboard/sites/{SITE}/orders/{order['id']}")
    expect(app.get_by_role("heading", name="Not found")).to_be_visible()
    assert order["id"] not in app.locator("body").inner_html()
    context.close()
