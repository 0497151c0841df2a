"""One restaurant can never touch another's, tried as a hostile owner would: with the dashboard of
their own site only, and whatever anyone can send to the public endpoints. Each test states what
users must get. Outside HTTP (Square, Wix) is mocked at the edge; the owners' POSes are loopback
servers. On SQLite and PostgreSQL."""
import base64
import hashlib
import hmac
import json
import random
import re
import uuid
from pathlib import Path

import pytest
import responses

from bridge.config import ConfigError, load_config
from bridge.credentials import Keyring
from bridge.pos.base import PosUnavailable
from bridge.pos.webhook import classify_answer
from bridge.service import legacy, statuses
from bridge.storage.port import Origin
from bridge.web.app import create_app
from bridge.wix import events as wix_events
from bridge.wix.sandbox import order_event
from tests.builders import INSTANCE, POS_SECRET, an_order, signed_callback
from tests.loopback import PosServer
from tests.sites import SECRET_KEY, add_site
from tests.web.test_dashboard import csrf_of, field_error, owner, wix_link

SQUARE = "https://square.test"
OPERATOR_TOKEN = "EAAA-the-operators-own-token"
SECRET_A = "whsec_" + "c2l0ZS1hLXNlY3JldC1mb3ItdGhlLXRlc3RzIQ=="
SECRET_B = "whsec_" + "c2l0ZS1iLXNlY3JldC1mb3ItdGhlLXRlc3RzIQ=="


@pytest.fixture
def operated(env, make_bridge):
    """An operator running Square for their own restaurant (the environment's POS), and letting
    other restaurants connect their own POS accounts through the dashboard."""
    return make_bridge({**env, "BRIDGE_SECRET_KEY": SECRET_KEY, "POS_CLIENT": "square",
                        "POS_SQUARE_ACCESS_TOKEN": OPERATOR_TOKEN, "POS_SQUARE_BASE_URL": SQUARE,
                        "POS_SQUARE_LOCATION_ID": "L-OPERATOR"})


def save_as_owner(bridge, site: str, form: dict) -> tuple[int, str]:
    client, csrf = owner(create_app(bridge), site)
    answer = client.post(f"/dashboard/sites/{site}/account", data={"csrf": csrf, **form})
    return answer.status_code, answer.text


def test_an_owner_cannot_point_square_elsewhere_or_borrow_the_operator_s_token(operated,
                                                                             mocked):
    """The owner's form has no field for where Square is; sending one anyway, with an empty
    token, is refused naming the missing token, and nothing is sent anywhere (the strict mock
    fails on any request)."""
    client, csrf = owner(create_app(operated), "site-evil")
    page = client.get("/dashboard/sites/site-evil/account?pos=square").text
    assert 'name="POS_SQUARE_ACCESS_TOKEN"' in page
    assert 'name="POS_SQUARE_BASE_URL"' not in page
    assert 'name="POS_SQUARE_WEBHOOK_SIGNATURE_KEY"' not in page
    answer = client.post("/dashboard/sites/site-evil/account", data={
        "csrf": csrf, "pos": "square", "POS_SQUARE_BASE_URL": "https://evil.example",
        "POS_SQUARE_ACCESS_TOKEN": "", "POS_SQUARE_LOCATION_ID": "L-EVIL"})
    assert answer.status_code == 422
    assert "“Access token” is missing" in answer.text      # named as the owner's form names it
    assert operated.store.account_for_instance("site-evil") is None


def test_an_account_s_client_gets_only_its_own_credentials_and_the_operator_s_api_address(
        operated, mocked):
    account = operated.accounts.save("site-a", "square", {
        "POS_SQUARE_ACCESS_TOKEN": "EAAA-site-a", "POS_SQUARE_LOCATION_ID": "L-A"},
        clients=operated.pos)
    mocked.get(f"{SQUARE}/v2/merchants/me", json={"merchant": {"id": "M-A", "country": "US"}},
               match=[responses.matchers.header_matcher({"Authorization": "Bearer EAAA-site-a"})])
    assert operated.accounts.check(account, operated.pos).merchant_id == "M-A"
    with pytest.raises(Exception, match="POS_SQUARE_BASE_URL is the operator's setting"):
        operated.accounts.save("site-a", "square", {
            "POS_SQUARE_ACCESS_TOKEN": "EAAA-site-a", "POS_SQUARE_LOCATION_ID": "L-A",
            "POS_SQUARE_BASE_URL": "https://evil.example"}, clients=operated.pos)


def test_a_webhook_account_without_its_own_secret_is_refused_naming_it(operated):
    pos = PosServer(SECRET_A)
    try:
        status, page = save_as_owner(operated, "site-a", {"pos": "webhook",
                                                          "POS_WEBHOOK_URL": "https://1.1.1.1/o"})
        assert status == 422 and "“Signing secret” is missing" in page
        assert operated.store.account_for_instance("site-a") is None
    finally:
        pos.close()


@pytest.mark.parametrize("url, why", [
    ("http://1.1.1.1/orders", "must be an https:// address"),
    ("https://127.0.0.1:5432/", "is not a public address"),
    ("https://169.254.169.254/latest/meta-data", "is not a public address"),
    ("https://10.0.0.7/", "is not a public address"),
    ("https://[::1]/", "is not a public address"),
    ("https://localhost/", "is not a public address"),
    ("https://bridge.internal/", "could not be found"),
])
def test_an_owner_s_pos_url_must_be_https_to_a_public_address(operated, url, why):
    secret = SECRET_A
    status, page = save_as_owner(operated, "site-a", {
        "pos": "webhook", "POS_WEBHOOK_URL": url, "POS_WEBHOOK_SECRET": secret})
    assert status == 422
    assert why in field_error(page, "POS_WEBHOOK_URL")
    assert operated.store.account_for_instance("site-a") is None


def test_the_operator_may_set_any_url(operated):
    secret = SECRET_A
    pos = PosServer(secret)
    try:
        operated.accounts.save("site-a", "webhook", {"POS_WEBHOOK_URL": pos.url,
                                                     "POS_WEBHOOK_SECRET": secret},
                               clients=operated.pos)  # the CLI's way: the operator's word
        assert operated.store.account_for_instance("site-a") is not None
    finally:
        pos.close()


def test_what_an_owner_s_endpoint_answers_reaches_them_only_as_a_short_plain_excerpt():
    body = ('{"error": {"code": "pos_error", "description": "<script>x</script>\\n'
            + "A" * 5000 + '"}}').encode()
    with pytest.raises(PosUnavailable) as refused:
        classify_answer(500, body)
    message = str(refused.value)
    assert "<" not in message and "\n" not in message
    assert len(message) < 260


def test_an_account_saved_with_a_setting_now_the_operator_s_waits_with_the_reason(
        operated, mocked):
    """An upgrade keeps every account's settings: one that holds an operator setting (saved
    before the split) is not silently changed, it shows why on the account."""
    sealed = Keyring.from_setting(SECRET_KEY).seal({
        "POS_SQUARE_ACCESS_TOKEN": "EAAA-old", "POS_SQUARE_LOCATION_ID": "L-OLD",
        "POS_SQUARE_BASE_URL": "https://old.example"})
    operated.store.save_account("acc-old", "site-old", "square", sealed)
    operated.check()
    account = operated.store.get_account("acc-old")
    assert "POS_SQUARE_BASE_URL is the operator's setting" in account.check_error
    assert not account.authorized

    # The owner saves it again from the dashboard: the old setting goes, the token stays.
    mocked.get(f"{SQUARE}/v2/merchants/me", json={"merchant": {"id": "M-OLD", "country": "US"}})
    status, _ = save_as_owner(operated, "site-old", {"pos": "square",
                                                     "POS_SQUARE_LOCATION_ID": "L-OLD"})
    assert status == 302
    assert operated.accounts.credentials(operated.store.account_for_instance("site-old")) == {
        "POS_SQUARE_ACCESS_TOKEN": "EAAA-old", "POS_SQUARE_LOCATION_ID": "L-OLD"}


# -- the environment's POS serves only the sites the operator names ---------------------------

def test_pos_sites_is_required_with_a_real_pos_and_star_goes_alone(env):
    unnamed = {k: v for k, v in env.items() if k != "POS_SITES"}
    with pytest.raises(ConfigError, match="^POS_SITES is missing: name the sites"):
        load_config(unnamed)
    with pytest.raises(ConfigError, match=r"POS_SITES is malformed: \* \(every site\) goes alone"):
        load_config({**env, "POS_SITES": "site-a, *"})
    named = load_config({**env, "POS_SITES": "site-a, site-b site-c"}).pos_sites
    assert "site-b" in named and "site-d" not in named
    assert "anyone" in load_config({**unnamed, "POS_CLIENT": "demo"}).pos_sites


def test_a_stranger_s_order_never_reaches_the_operator_s_pos_and_goes_to_its_own_once_connected(
        env, make_bridge, signer, clock):
    operator_pos, own_pos = PosServer(POS_SECRET), PosServer(SECRET_A)
    try:
        bridge = make_bridge({**env, "POS_WEBHOOK_URL": operator_pos.url,
                              "POS_SITES": "site-operator", "BRIDGE_SECRET_KEY": SECRET_KEY})
        bridge.store.clock = clock
        client = create_app(bridge).test_client()
        mine, stranger = an_order(), an_order(businessLocation={"id": "loc-s"})
        for order, site in ((mine, "site-operator"), (stranger, "site-stranger")):
            assert client.post("/webhooks/wix", data=signer.order_webhook(
                order, instance_id=site)).status_code == 200
        worker = bridge.worker(wait=lambda state: 0.0, poll_seconds=0.01, max_attempts=3)
        worker.drain()
        assert [o["id"] for o in operator_pos.orders()] == [mine["id"]]
        waiting = bridge.store.get_order("site-stranger", stranger["id"])
        assert waiting.state == "queued"
        assert "waiting for the site's owner to connect a POS" in waiting.last_error
        [job] = [j for j in bridge.store.history("site-stranger", stranger["id"])["jobs"]
                 if j["kind"] == "send_order"]
        assert job["state"] == "pending" and job["attempts"] == 0  # waiting is no failure

        add_site(bridge, "site-stranger", own_pos, account_id="acc-s",
                 configuration_id="conf-s", wix_location_id="loc-s")
        clock.now += 61
        worker.drain()
        assert [o["id"] for o in own_pos.orders()] == [stranger["id"]]
        assert [o["id"] for o in operator_pos.orders()] == [mine["id"]]
        sent = bridge.store.get_order("site-stranger", stranger["id"])
        assert sent.state == "sent" and sent.last_error is None
        assert sent.pos_client == "webhook@acc-s"
    finally:
        operator_pos.close()
        own_pos.close()


# -- a callback belongs to the account whose key verified it ---------------------------------

SIGNATURE_KEY = "the-operators-square-app-signature-key"
NOTIFY = "https://bridge.example.com/pos/square/events"


@pytest.fixture
def square_sites(env, make_bridge, mocked):
    """The operator runs a `webhook` POS for their own site and the Square app's webhook
    subscription; sites A and C connected their own Square sellers (merchants M-A, M-C), each
    with an order at Square whose id is alike (SQ-1)."""
    bridge = make_bridge({**env, "BRIDGE_SECRET_KEY": SECRET_KEY, "POS_SITES": "site-operator",
                          "POS_SQUARE_BASE_URL": SQUARE,
                          "POS_SQUARE_WEBHOOK_SIGNATURE_KEY": SIGNATURE_KEY,
                          "POS_SQUARE_NOTIFICATION_URL": NOTIFY})
    for letter in "AC":
        token = f"EAAA-site-{letter}"
        mocked.get(f"{SQUARE}/v2/merchants/me",
                   json={"merchant": {"id": f"M-{letter}", "country": "US"}},
                   match=[responses.matchers.header_matcher({"Authorization": f"Bearer {token}"})])
        account = bridge.accounts.save(f"site-{letter}", "square", {
            "POS_SQUARE_ACCESS_TOKEN": token, "POS_SQUARE_LOCATION_ID": f"L-{letter}"},
            account_id=f"acc-{letter}", clients=bridge.pos)
        assert bridge.accounts.check(account, bridge.pos).merchant_id == f"M-{letter}"
        at_square(bridge, f"site-{letter}", f"wix-{letter}", f"square@acc-{letter}", "SQ-1")
    return bridge


def at_square(bridge, site, wix_order_id, pos_key, pos_order_id):
    bridge.store.save_order(wix_order_id=wix_order_id, instance_id=site, state="sent",
                            snapshot={})
    bridge.store.set_order_state(site, wix_order_id, "sent", pos_client=pos_key,
                                 pos_order_id=pos_order_id)


def square_post(bridge, event: dict, key: str = SIGNATURE_KEY):
    body = json.dumps(event).encode()
    digest = hmac.new(key.encode(), NOTIFY.encode() + body, hashlib.sha256).digest()
    return create_app(bridge).test_client().post("/pos/square/events", data=body, headers={
        "x-square-hmacsha256-signature": base64.b64encode(digest).decode(),
        "content-type": "application/json"})


def canceled(merchant: str, order_id: str = "SQ-1") -> dict:
    return {"merchant_id": merchant, "type": "order.fulfillment.updated",
            "event_id": str(uuid.uuid4()), "data": {"type": "order", "id": order_id, "object": {
                "order_fulfillment_updated": {
                    "order_id": order_id, "version": 3, "state": "OPEN",
                    "updated_at": "2026-11-20T18:10:00Z",
                    "fulfillment_update": [{"fulfillment_uid": "F1", "old_state": "PROPOSED",
                                            "new_state": "CANCELED"}]}}}}


def matched(bridge) -> dict[str, str]:
    """Wix order id -> the status a callback queued for it."""
    return {u.wix_order_id: u.status for u in bridge.store.list_status_updates()
            if u.wix_order_id}


def test_owners_cannot_set_square_s_signature_key_or_notification_url(square_sites):
    for name in ("POS_SQUARE_WEBHOOK_SIGNATURE_KEY", "POS_SQUARE_NOTIFICATION_URL"):
        with pytest.raises(Exception, match=f"{name} is the operator's setting"):
            square_sites.accounts.save("site-A", "square", {
                "POS_SQUARE_ACCESS_TOKEN": "EAAA-site-A", "POS_SQUARE_LOCATION_ID": "L-A",
                name: "https://evil.example/x"}, clients=square_sites.pos)


def test_a_square_event_moves_only_the_orders_of_the_merchant_it_names(square_sites):
    assert square_post(square_sites, canceled("M-C")).status_code == 200
    assert matched(square_sites) == {"wix-C": "CANCELED"}


def test_an_event_signed_with_any_key_but_the_operator_s_is_refused(square_sites):
    answer = square_post(square_sites, canceled("M-C"), key="site-A's-own-key")
    assert answer.status_code == 401
    assert square_sites.store.list_status_updates() == []


def test_an_event_for_a_merchant_no_account_has_is_kept_unclaimed_and_moves_nothing(
        square_sites, caplog):
    assert square_post(square_sites, canceled("M-STRANGER")).status_code == 200
    assert matched(square_sites) == {}
    [kept] = square_sites.store.list_status_updates()
    assert kept.pos_client == "square#unclaimed" and kept.state == "unmatched"
    assert "event=callback_unclaimed pos=square merchant=M-STRANGER" in caplog.text
    assert square_sites.store.list_imports() == []


def test_one_merchant_serves_one_site(square_sites, mocked):
    """A second site connecting a seller already connected elsewhere is refused: the events
    could not say whose they are."""
    mocked.get(f"{SQUARE}/v2/merchants/me", json={"merchant": {"id": "M-C", "country": "US"}},
               match=[responses.matchers.header_matcher({"Authorization": "Bearer EAAA-copy"})])
    account = square_sites.accounts.save("site-copy", "square", {
        "POS_SQUARE_ACCESS_TOKEN": "EAAA-copy", "POS_SQUARE_LOCATION_ID": "L-C"},
        clients=square_sites.pos)
    checked = square_sites.accounts.check(account, square_sites.pos)
    assert not checked.authorized and checked.merchant_id is None
    assert "connected to another site's account already" in checked.check_error
    assert square_post(square_sites, canceled("M-C")).status_code == 200
    assert matched(square_sites) == {"wix-C": "CANCELED"}


@pytest.fixture
def webhook_sites(env, make_bridge):
    """Sites A and B with their own `webhook` POSes on loopback (accounts acc-A, acc-B), and
    site C on the operator's POS: every POS numbers its orders alike."""
    poses = {"A": PosServer(SECRET_A), "B": PosServer(SECRET_B)}
    bridge = make_bridge({**env, "BRIDGE_SECRET_KEY": SECRET_KEY, "POS_SITES": "site-C"})
    for letter, pos in poses.items():
        add_site(bridge, f"site-{letter}", pos, account_id=f"acc-{letter}",
                 configuration_id=f"conf-{letter}", wix_location_id=f"loc-{letter}")
    bridge.poses = poses
    bridge.signers = {"A": (SECRET_A, "webhook@acc-A"), "B": (SECRET_B, "webhook@acc-B"),
                      "C": (POS_SECRET, "webhook")}  # each site's key, and its POS's key
    yield bridge
    for pos in poses.values():
        pos.close()


def test_a_webhook_callback_moves_only_the_orders_of_the_account_whose_secret_signed_it(
        webhook_sites):
    bridge = webhook_sites
    for letter, (_, key) in bridge.signers.items():
        at_square(bridge, f"site-{letter}", f"wix-{letter}", key, "P1")
    client = create_app(bridge).test_client()
    for letter, (secret, _) in bridge.signers.items():
        body, headers = signed_callback({"orderId": "P1", "status": "READY"}, secret=secret)
        assert client.post("/pos/webhook/events", data=body, headers=headers).status_code == 200
        assert bridge.store.list_status_updates()[0].wix_order_id == f"wix-{letter}"
    assert sorted(matched(bridge)) == ["wix-A", "wix-B", "wix-C"]


@pytest.mark.parametrize("seed", range(4))
def test_no_order_ever_moves_for_a_callback_another_site_s_key_verified(webhook_sites, seed):
    """Random interleavings of orders reaching the POSes (ids alike across sites) and callbacks
    signed by each site's key naming any of those ids: every status a callback queues is for an
    order of the site whose key signed it."""
    bridge = webhook_sites
    client = create_app(bridge).test_client()
    rng = random.Random(seed)
    placed: set[tuple[str, str]] = set()
    for step in range(50):
        letter = rng.choice("ABC")
        secret, key = bridge.signers[letter]
        pos_order_id = rng.choice(["P1", "P2", "P3"])
        if rng.random() < 0.3 and (key, pos_order_id) not in placed:
            placed.add((key, pos_order_id))  # an order of this site reaches its POS
            statuses.record_at_pos(bridge.store, wix_order_id=f"wix-{letter}-{step}",
                                   instance_id=f"site-{letter}", pos_key=key,
                                   pos_order_id=pos_order_id, snapshot={}, origin=Origin.SPI)
            continue
        body, headers = signed_callback(
            {"orderId": pos_order_id, "status": rng.choice(["ACCEPTED", "READY"])},
            secret=secret, msg_id=f"{letter}-{step}")
        assert client.post("/pos/webhook/events", data=body, headers=headers).status_code == 200
    updates = bridge.store.list_status_updates(limit=1000)
    assert updates and any(u.wix_order_id for u in updates)
    for update in updates:
        if update.wix_order_id:
            signer = update.callback_id.split("-")[0]
            [order] = bridge.store.orders_with_id(update.wix_order_id)
            assert order.instance_id == f"site-{signer}"


# -- orders are scoped to their site everywhere ---------------------------------------------

def test_the_original_app_s_url_of_one_site_never_reaches_another_site_s_order(webhook_sites):
    """Site A posts site B's order id to its own URL: it gets an order of its own (sent to its
    own POS under its own key), never B's POS order id, and B's order is untouched."""
    bridge, pos_a, pos_b = webhook_sites, *webhook_sites.poses.values()
    sample = json.loads((Path(__file__).parents[1] / "samples" /
                         "legacy_pos_spi_order.json").read_text())
    client = create_app(bridge).test_client()
    tokens = {letter: legacy.new_token(bridge.store, f"site-{letter}", "USD") for letter in "AB"}
    assert client.post(f"/legacy/{tokens['B']}/orders", json=sample).get_json() == {
        "value": {"orderId": "P1"}}
    answer = client.post(f"/legacy/{tokens['A']}/orders", json=sample)
    assert answer.status_code == 200  # A's own POS numbered it; nothing of B's is answered
    assert answer.get_json() == {"value": {"orderId": pos_a.accepted[pos_a.deliveries[0]["id"]]}}
    [sent_a], [sent_b] = pos_a.orders(), pos_b.orders()
    assert sent_a["instanceId"] == "site-A" and sent_b["instanceId"] == "site-B"
    assert pos_a.deliveries[0]["id"] != pos_b.deliveries[0]["id"]  # idempotency keys
    order_id = sample["order"]["id"]
    a = bridge.store.get_order("site-A", order_id)
    b = bridge.store.get_order("site-B", order_id)
    assert (a.pos_client, b.pos_client) == ("webhook@acc-A", "webhook@acc-B")


# -- malformed input gets a clear 4xx, never a 500, and fails once ---------------------------

@pytest.mark.parametrize("entity_id, order_id", [
    (["a", "b"], ["a", "b"]),          # a list for both
    ("wix-1", ["wix-1"]),              # a string entityId, a list order.id
    ("wix-1", "wix-2"),                # two orders named
])
def test_a_signed_webhook_naming_no_single_order_is_refused_and_nothing_stored(
        client, store, signer, entity_id, order_id):
    order = {**an_order(), "id": order_id}
    event = {**order_event({**order, "id": "x"}), "entityId": entity_id}
    event["createdEvent"] = {"entity": order}
    answer = client.post("/webhooks/wix", data=signer.token(event, wix_events.ORDER_CREATED))
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "not_an_envelope"
    assert store.job_counts() == {}


def test_an_event_whose_line_items_are_garbage_fails_once_visibly(client, store, signer, worker):
    order = {**an_order(), "lineItems": "zz"}
    assert client.post("/webhooks/wix", data=signer.order_webhook(order)).status_code == 200
    worker.drain()
    [job] = store.history(INSTANCE, order["id"])["jobs"]
    assert (job["kind"], job["state"], job["attempts"]) == ("process_event", "failed", 1)
    assert "lineItems is not a list of line items" in job["last_error"]


# -- a link signed for someone else's site never swaps an open dashboard session ------------

def test_an_attacker_s_own_signed_link_does_not_replace_an_open_session(env, make_bridge):
    """Another page can make the browser follow a dashboard link signed for the attacker's own
    site. The owner of site A stays in site A unless they say otherwise, in a form only their
    session can send; the same site's link just renews the session."""
    bridge = make_bridge({**env, "BRIDGE_SECRET_KEY": SECRET_KEY})
    app = create_app(bridge)
    client, _ = owner(app, "site-A")
    assert client.get(wix_link("site-A")).status_code == 302   # the same owner, again

    asked = client.get(wix_link("site-attacker"))
    assert asked.status_code == 200 and "Open another restaurant?" in asked.text
    assert client.get("/dashboard/sites/site-A/").status_code == 200   # still site A
    assert client.get("/dashboard/sites/site-attacker/").status_code == 404

    instance = re.search(r'name="instance" value="([^"]+)"', asked.text).group(1)
    forged = client.post("/dashboard/switch", data={"csrf": "not-the-session-s",
                                                    "instance": instance})
    assert forged.status_code == 403
    assert client.get("/dashboard/sites/site-A/").status_code == 200

    agreed = client.post("/dashboard/switch", data={"csrf": csrf_of(asked.text),
                                                    "instance": instance})
    assert agreed.status_code == 302
    assert client.get("/dashboard/sites/site-attacker/").status_code == 200
    assert client.get("/dashboard/sites/site-A/").status_code == 404
