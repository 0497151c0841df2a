"""Connect with Square, as the owner's browser goes through it: the button sends it to Square's
authorize page with a state signed for its site; the callback (in a tab with no dashboard
session) connects that site, and only that site; a refusal or a forged state connects nothing.
Square is the loopback stand-in held to Square's spec."""
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from bridge.web.app import create_app
from tests.loopback import PosServer, SquareServer
from tests.sites import SECRET_KEY, two_sites
from tests.web.test_dashboard import SITE_A, SITE_B, owner

CALLBACK = "/dashboard/square/callback"


@pytest.fixture
def dashboard_env(env, wix):
    return {**env, "WIX_API_BASE": wix.url, "BRIDGE_SECRET_KEY": SECRET_KEY,
            "BRIDGE_ALLOW_PRIVATE_URLS": "1", "BRIDGE_PUBLIC_URL": "https://bridge.example.com"}


@pytest.fixture
def app(dashboard_env, square):
    """Sites A and B, each with its own `webhook` POS account, on a bridge with Square's app."""
    poses = [PosServer("whsec_" + "c3F1YXJlLXRlc3RzLXBvcy1zZWNyZXQtZm9yLWFiYw=="),
             PosServer("whsec_" + "c3F1YXJlLXRlc3RzLXBvcy1zZWNyZXQtZm9yLXh5eg==")]
    bridge = two_sites({**dashboard_env, "POS_SQUARE_BASE_URL": square.url,
                        "POS_SQUARE_APPLICATION_ID": SquareServer.APP_ID,
                        "POS_SQUARE_APPLICATION_SECRET": SquareServer.APP_SECRET},
                       poses, (SITE_A, SITE_B))
    yield create_app(bridge)
    bridge.store.close()
    for pos in poses:
        pos.close()


def started(app, site):
    """The owner pressed Connect with Square: where their new tab goes, and Square's page."""
    client, _ = owner(app, site)
    page = client.get(f"/dashboard/sites/{site}/account?pos=square").text
    assert 'name="POS_SQUARE_ACCESS_TOKEN"' not in page
    link = re.search(r'href="([^"]+)" target="_blank" rel="noopener">Connect with Square<',
                     page).group(1).replace("&amp;", "&")
    return client, link, requests.get(link, timeout=5).text


def test_allowing_at_square_connects_the_site_whose_owner_pressed_the_button(app, square):
    client, authorize, square_page = started(app, SITE_A)
    asked = parse_qs(urlsplit(authorize).query)
    assert asked["redirect_uri"] == [f"https://bridge.example.com{CALLBACK}"]
    assert set(asked["scope"][0].split()) == {"MERCHANT_PROFILE_READ", "ORDERS_READ",
                                              "ORDERS_WRITE", "ITEMS_READ"}
    allow = re.search(r'id="allow" href="([^"]+)"', square_page).group(1).replace("&amp;", "&")
    back = urlsplit(allow)
    callback = app.test_client().get(f"{back.path}?{back.query}")   # a tab with no session
    assert callback.status_code == 200 and "Square is connected" in callback.text
    account = app.extensions["bridge"].store.account_for_instance(SITE_A)
    assert (account.pos_client, account.merchant_id) == ("square", square.merchant)
    assert app.extensions["bridge"].store.account_for_instance(SITE_B).pos_client == "webhook"
    assert "Connect Square again" in client.get(f"/dashboard/sites/{SITE_A}/account").text
    replayed = app.test_client().get(f"{back.path}?{back.query}")   # the code is spent
    assert replayed.status_code == 502 and "not connected" in replayed.text


def test_a_refusal_or_a_forged_or_stale_state_connects_nothing(app, square):
    _, authorize, square_page = started(app, SITE_A)
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    anyone = app.test_client()
    denied = anyone.get(f"{CALLBACK}?error=access_denied&state={state}")
    assert denied.status_code == 200 and "access was not allowed" in denied.text
    code = re.search(r"code=([^&\"]+)", square_page).group(1)
    forged = anyone.get(f"{CALLBACK}?code={code}&state={state[:-2]}xx")
    assert forged.status_code == 400 and "expired or is not ours" in forged.text
    assert anyone.get(f"{CALLBACK}?code={code}").status_code == 400
    assert app.extensions["bridge"].store.account_for_instance(SITE_A).pos_client == "webhook"
    assert square.calls("/oauth2/token") == []          # nothing was exchanged


def test_without_the_square_app_or_a_public_address_there_is_no_connect_button(
        dashboard_env, make_bridge):
    plain = create_app(make_bridge({**dashboard_env, "POS_SQUARE_APPLICATION_ID": "sq0idp-x"}))
    client, _ = owner(plain, SITE_A)
    page = client.get(f"/dashboard/sites/{SITE_A}/account?pos=square").text
    assert "Connect with Square" not in page and 'name="POS_SQUARE_ACCESS_TOKEN"' in page
    assert plain.test_client().get(f"{CALLBACK}?code=x&state=y").status_code == 404
