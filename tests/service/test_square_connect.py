"""Connect with Square, at the service: a seller's code becomes their site's Square account
(tokens stored encrypted, checked), the access token is renewed well before it expires, given
back on disconnect, and Square's `oauth.authorization.revoked` disconnects the account. Square
is a loopback stand-in whose every request and answer is checked against Square's published
spec (contract/square.json); on the in-memory store."""
import json
from datetime import datetime, timezone

import pytest

from bridge.pos.square import signature
from bridge.pos.square_oauth import SCOPES
from bridge.service import callbacks, jobs, square_connect
from tests import square_contract
from tests.loopback import SquareServer
from tests.sites import SECRET_KEY

SITE = "site-square"
REDIRECT = "https://bridge.example.com/dashboard/square/callback"
KEY, NOTIFY = "sq-signature-key", "https://bridge.example.com/pos/square/events"


@pytest.fixture
def database_url(tmp_path):
    """The store is in memory: the configuration names a file that is never opened."""
    return f"sqlite:///{tmp_path / 'unused.db'}"


@pytest.fixture
def bridge(env, memory_bridge, square, clock):
    square.clock = clock
    settings = {k: v for k, v in env.items() if not k.startswith("POS_")}
    return memory_bridge({
        **settings, "POS_CLIENT": "webhook", "POS_WEBHOOK_URL": env["POS_WEBHOOK_URL"],
        "POS_WEBHOOK_SECRET": env["POS_WEBHOOK_SECRET"], "POS_SITES": "*",
        "BRIDGE_SECRET_KEY": SECRET_KEY, "POS_SQUARE_BASE_URL": square.url,
        "POS_SQUARE_APPLICATION_ID": SquareServer.APP_ID,
        "POS_SQUARE_APPLICATION_SECRET": SquareServer.APP_SECRET,
        "POS_SQUARE_WEBHOOK_SIGNATURE_KEY": KEY, "POS_SQUARE_NOTIFICATION_URL": NOTIFY},
        clock=clock)


def allowed(bridge, square) -> str:
    """The seller allowed the app on Square's page: the code their browser brings back."""
    import re
    import requests
    page = requests.get(bridge.square_oauth.authorize_url("state-1", REDIRECT), timeout=5).text
    return re.search(r"code=([^&\"]+)", page).group(1)


def test_the_app_asks_for_every_scope_its_calls_need_and_no_more():
    needed = {scope for path in square_contract.SPEC["paths"].values()
              for operation in path.values() if isinstance(operation, dict)
              for requirement in operation.get("security") or []
              for scope in requirement.get("oauth2") or []}
    assert needed == set(SCOPES)


def test_a_seller_s_code_becomes_the_site_s_square_account_checked_and_renewed(bridge,
                                                                              square, clock):
    account = square_connect.connect(bridge.store, bridge.accounts, bridge.pos,
                                     bridge.square_oauth, SITE, allowed(bridge, square),
                                     REDIRECT)
    assert (account.pos_client, account.merchant_id, account.check_error) == (
        "square", square.merchant, None)
    settings = bridge.accounts.credentials(account)
    assert settings["POS_SQUARE_LOCATION_ID"] == square.location       # the main location
    assert settings["POS_SQUARE_ACCESS_TOKEN"] in square.access
    assert settings["POS_SQUARE_ACCESS_TOKEN"] not in (account.credentials or "")   # sealed
    [exchange] = square.calls("/oauth2/token")
    assert exchange["body"]["redirect_uri"] == REDIRECT

    # A week later (well before the 30 days), the job renews it: the new token is the one used.
    renewal = bridge.store.claim("test", 30)
    assert renewal is None                                   # not due yet
    clock.now += 7 * 86400
    renewal = bridge.store.claim("test", 30)
    assert renewal.kind == jobs.Kind.RENEW_SQUARE_TOKEN
    bridge.handlers[renewal.kind].run(renewal)
    bridge.store.finish(renewal, "done")
    renewed = bridge.store.get_account(account.id)
    fresh = bridge.accounts.credentials(renewed)["POS_SQUARE_ACCESS_TOKEN"]
    assert fresh != settings["POS_SQUARE_ACCESS_TOKEN"] and renewed.version == account.version + 1
    assert renewed.merchant_id == square.merchant and renewed.check_error is None
    assert square.calls("/v2/merchants/me")[-1]["authorization"] == f"Bearer {fresh}"
    clock.now += 7 * 86400 - 1
    assert bridge.store.claim("test", 30) is None            # the next: a week after this one
    clock.now += 1
    assert bridge.store.claim("test", 30).kind == jobs.Kind.RENEW_SQUARE_TOKEN


def test_a_renewal_square_refuses_says_connect_again(bridge, square, clock):
    account = square_connect.connect(bridge.store, bridge.accounts, bridge.pos,
                                     bridge.square_oauth, SITE, allowed(bridge, square),
                                     REDIRECT)
    square.refresh_tokens.clear()                            # revoked at Square meanwhile
    clock.now += 7 * 86400
    worker = bridge.worker(wait=lambda state: 0.0, poll_seconds=0.01)
    worker.drain()
    refused = bridge.store.get_account(account.id)
    assert "connect again" in refused.check_error
    clock.now += 2 * 3600
    assert bridge.store.claim("test", 30) is None    # not tried again: the owner connects again


def test_disconnecting_gives_the_tokens_back_to_square(bridge, square):
    account = square_connect.connect(bridge.store, bridge.accounts, bridge.pos,
                                     bridge.square_oauth, SITE, allowed(bridge, square),
                                     REDIRECT)
    token = bridge.accounts.credentials(account)["POS_SQUARE_ACCESS_TOKEN"]
    assert square_connect.disconnect(bridge.accounts, bridge.square_oauth, account)
    assert square.revoked == [token]
    assert square.calls("/oauth2/revoke")[0]["authorization"] == \
        f"Client {SquareServer.APP_SECRET}"


def test_a_pasted_token_is_not_revoked(bridge, square):
    account = bridge.accounts.save(SITE, "square", {"POS_SQUARE_ACCESS_TOKEN": "EAAA-pasted",
                                                    "POS_SQUARE_LOCATION_ID": "L-1"},
                                   clients=bridge.pos)
    assert not square_connect.disconnect(bridge.accounts, bridge.square_oauth, account)
    assert square.calls("/oauth2/revoke") == []


def test_a_seller_revoking_the_app_at_square_disconnects_their_account(bridge, square, clock):
    account = square_connect.connect(bridge.store, bridge.accounts, bridge.pos,
                                     bridge.square_oauth, SITE, allowed(bridge, square),
                                     REDIRECT)
    revoked_at = datetime.fromtimestamp(clock.now + 3600, timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")                               # an hour after the connection
    event = {"merchant_id": square.merchant, "type": "oauth.authorization.revoked",
             "event_id": "6a8f5f28-54a1-4eb0-a98a-3111513fd4fc", "created_at": revoked_at,
             "data": {"type": "revocation", "id": "bb1c4a2e-7d1e-4a44-b7de-a0d5b1e4b2a1",
                      "object": {"revocation": {"revoked_at": revoked_at,
                                                "revoker_type": "MERCHANT"}}}}
    assert square_contract.event_problems("OauthAuthorizationRevokedEvent", event) == []
    body = json.dumps(event).encode()
    headers = {"x-square-hmacsha256-signature": signature(KEY, NOTIFY, body)}
    assert callbacks.receive(bridge.store, bridge.pos, "square", headers, body) == 1
    gone = bridge.store.get_account(account.id)
    assert gone.status == "disconnected" and "revoked by the merchant" in gone.check_error
    [incident] = bridge.store.open_incidents(SITE)
    assert "no longer connected" in incident.subject

    # Connected again; then Square resends that old revocation: it undoes nothing.
    clock.now += 7200
    back = square_connect.connect(bridge.store, bridge.accounts, bridge.pos, bridge.square_oauth,
                                  SITE, allowed(bridge, square), REDIRECT)
    assert back.check_error is None          # the site's own earlier account is no one else's
    assert callbacks.receive(bridge.store, bridge.pos, "square", headers, body) == 1
    back = bridge.store.get_account(back.id)
    assert (back.status, back.check_error) == ("active", None)


def test_connecting_again_keeps_the_owner_s_settings_and_says_why_it_could_not(bridge, square):
    first = square_connect.connect(bridge.store, bridge.accounts, bridge.pos, bridge.square_oauth,
                                   SITE, allowed(bridge, square), REDIRECT)
    settings = bridge.accounts.credentials(first)
    bridge.accounts.save(SITE, "square", {**settings, "POS_SQUARE_FALLBACK_PHONE": "+12125550100",
                                          "POS_SQUARE_LOCATION_ID": "L-PIER"},
                         clients=bridge.pos)
    again = square_connect.connect(bridge.store, bridge.accounts, bridge.pos, bridge.square_oauth,
                                   SITE, allowed(bridge, square), REDIRECT)
    kept = bridge.accounts.credentials(again)
    assert again.id == first.id
    assert (kept["POS_SQUARE_FALLBACK_PHONE"], kept["POS_SQUARE_LOCATION_ID"]) == (
        "+12125550100", "L-PIER")                            # the owner's choices stay
    assert kept["POS_SQUARE_ACCESS_TOKEN"] != settings["POS_SQUARE_ACCESS_TOKEN"]

    with pytest.raises(square_connect.NotConnected, match="Square refused"):
        square_connect.connect(bridge.store, bridge.accounts, bridge.pos, bridge.square_oauth,
                               SITE, "sq0cgp-made-up", REDIRECT)


def test_a_seller_with_no_location_or_a_square_that_does_not_answer_connects_nothing(
        bridge, square):
    square.location = None
    with pytest.raises(square_connect.NotConnected, match="no location"):
        square_connect.connect(bridge.store, bridge.accounts, bridge.pos, bridge.square_oauth,
                               "site-new", allowed(bridge, square), REDIRECT)
    code = allowed(bridge, square)
    square.close()
    with pytest.raises(square_connect.NotConnected, match="did not answer"):
        square_connect.connect(bridge.store, bridge.accounts, bridge.pos, bridge.square_oauth,
                               "site-new", code, REDIRECT)
    assert bridge.store.account_for_instance("site-new") is None
