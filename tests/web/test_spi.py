"""The POS Integration SPI at /spi/pos/<call>: verification, lookups, and each call's answer.

Wix is played by tokens the tests sign with their own key; the site's POS is a loopback server.
"""
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from bridge.storage.port import AccountState
from tests.builders import INSTANCE
from tests.wix_contract import SPI, answer_refusals, spi_call
from tests.loopback import PosServer
from tests.sites import SECRET_KEY, add_site, spi_order, spi_token

OTHER_SITE = "site-other"


@pytest.fixture
def site_pos():
    server = PosServer("whsec_" + "c2l0ZS1hLXBvcy1zZWNyZXQtZm9yLXRlc3Rz")
    yield server
    server.close()


@pytest.fixture
def spi(env, make_bridge, site_pos, private_key):
    bridge = make_bridge({**env, "BRIDGE_SECRET_KEY": SECRET_KEY, "BRIDGE_SPI_DEADLINE": "2"})
    add_site(bridge, INSTANCE, site_pos, account_id="acc-1", configuration_id="conf-1",
             wix_location_id="loc-1")
    from bridge.web.app import create_app
    client = create_app(bridge).test_client()

    def call(name: str, request: dict, instance_id: str = INSTANCE, **token):
        answer = client.post(f"/spi/pos/{name}",
                             data=spi_token(private_key, request, instance_id, **token),
                             content_type="text/plain")
        if answer.status_code == 200:  # as the POS Integration spec types it (contract/wix.json)
            described = spi_call(SPI_CALLS[name])
            assert answer_refusals(SPI, described, answer.get_json()) == [], answer.get_json()
        return answer
    call.bridge = bridge
    call.client = client
    return call


NAMED = {"accountId": "acc-1", "configurationId": "conf-1"}
SPI_CALLS = {"account-ids": "ListAccountIds", "get-configuration-status": "GetConfigurationStatus",
             "sync-catalog": "SyncCatalog", "get-catalog-sync-status": "GetCatalogSyncStatus",
             "validate-order": "ValidateOrder", "create-order": "CreateOrder"}


def spi_errors(answer) -> list[dict]:
    """The errors as the service plugin answers them: `applicationError {code, data.errors}`,
    codes UPPERCASE, params a map of strings."""
    application = answer.get_json()["applicationError"]
    errors = application["data"]["errors"]
    assert application["code"] == errors[0]["code"] == errors[0]["code"].upper()
    assert all(isinstance(v, str) for e in errors for v in e["params"].values())
    return errors


def test_account_ids_lists_the_site_s_own_active_accounts(spi, site_pos):
    assert spi("account-ids", {}).get_json() == {"accountIds": ["acc-1"]}
    assert spi("account-ids", {}, OTHER_SITE).get_json() == {"accountIds": []}
    spi.bridge.store.set_account_status("acc-1", AccountState.DISCONNECTED)
    assert spi("account-ids", {}).get_json() == {"accountIds": []}


@pytest.mark.parametrize("token, why", [
    (dict(aud="another-app"), "for another app"),
    (dict(aud=None), "for no app"),
    (dict(iss="evil.example"), "not from wix.com"),
    (dict(iss=None), "no issuer"),
    (dict(expires_in=-3600), "expired"),
    (dict(expires_in=None), "never expires"),
    (dict(key="a-shared-secret-of-at-least-32-bytes!", algorithm="HS256"), "HS256"),
])
def test_a_token_wix_did_not_sign_for_this_app_is_refused_401(spi, token, why):
    answer = spi("account-ids", {}, **token)
    assert answer.status_code == 401, why
    assert answer.get_json()["error"]["code"] == "bad_token"


def test_a_token_signed_with_another_key_or_not_at_all_is_refused(spi):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert spi("account-ids", {}, key=stranger).status_code == 401
    unsigned = spi.client.post("/spi/pos/account-ids", data=spi_token(
        None, {}, INSTANCE, key="", algorithm="none"))
    assert unsigned.status_code == 401
    garbage = spi.client.post("/spi/pos/account-ids", data=b"hello")
    assert garbage.status_code == 400 and garbage.get_json()["error"]["code"] == "not_a_jwt"


def test_malformed_calls_are_400_and_unknown_names_404_naming_them(spi):
    as_string = spi("account-ids", {}, data='{"request": {}}')
    assert as_string.status_code == 400
    assert as_string.get_json()["error"]["code"] == "malformed_request"
    missing = spi("get-configuration-status", {"accountId": "acc-1"})
    assert missing.status_code == 400 and "configurationId" in missing.get_json()["error"]["message"]

    account = spi("get-configuration-status", {**NAMED, "accountId": "acc-nope"})
    assert account.status_code == 404
    assert account.get_json()["error"]["code"] == "unknown_account"
    assert "acc-nope" in account.get_json()["error"]["message"]
    assert spi_errors(account)[0]["params"] == {"accountId": "acc-nope"}
    configuration = spi("get-configuration-status", {**NAMED, "configurationId": "conf-nope"})
    assert configuration.status_code == 404 and "conf-nope" in configuration.get_data(as_text=True)
    # Another site's token never reaches this site's account.
    assert spi("get-configuration-status", NAMED, OTHER_SITE).status_code == 404
    assert spi.client.post("/spi/pos/no-such-call", data="x").status_code == 404


def test_configuration_status_follows_the_account_and_the_pairing(spi):
    store = spi.bridge.store
    assert spi("get-configuration-status", NAMED).get_json() == {"status": "READY"}

    store.pair_configuration("conf-1", pos_location_id=None)
    assert spi("get-configuration-status", NAMED).get_json() == {"status": "PENDING"}
    store.pair_configuration("conf-1", pos_location_id="LOC-1")

    store.set_configuration_error("conf-1", "the POS closed this location")
    answer = spi("get-configuration-status", NAMED).get_json()
    assert answer == {"status": "ERROR"}   # the spec's answer is the status alone
    store.set_configuration_error("conf-1", None)

    store.set_account_status("acc-1", AccountState.DISCONNECTED)
    assert spi("get-configuration-status", NAMED).get_json() == {"status": "NOT_STARTED"}


def test_create_order_twice_gives_one_pos_order_at_the_paired_location(spi, site_pos):
    request = {**NAMED, "order": spi_order(), "paidByPosGateway": False}
    first = spi("create-order", request)
    assert first.status_code == 200, first.get_json()
    assert first.get_json() == {"posOrderId": "P1", "posLocationId": "LOC-1"}
    again = spi("create-order", request)
    assert again.get_json() == first.get_json()

    assert len(site_pos.orders()) == 1
    sent = site_pos.orders()[0]
    assert sent["id"] == "wix-order-1" and sent["posLocationId"] == "LOC-1"
    modifier = sent["items"][0]["modifiers"][0]
    assert (modifier["id"], modifier["name"], modifier["group"]) == ("basil", "Extra basil",
                                                                     "Extras")
    assert sent["items"][0]["note"] == "well done" and sent["totals"]["total"] == "32.10"
    record = spi.bridge.store.get_order(INSTANCE, "wix-order-1")
    assert (record.state, record.pos_order_id, record.pos_client) == ("sent", "P1",
                                                                      "webhook@acc-1")


def test_create_order_with_the_pos_down_answers_an_error_and_stores_nothing(spi, site_pos):
    site_pos.close()
    answer = spi("create-order", {**NAMED, "order": spi_order("wix-order-2")})
    assert answer.status_code == 503
    assert spi_errors(answer)[0]["code"] == "POS_UNAVAILABLE"
    assert spi.bridge.store.get_order(INSTANCE, "wix-order-2") is None


def test_create_order_answers_before_the_deadline_when_the_pos_hangs(spi, site_pos):
    import threading
    import time
    release = threading.Event()
    site_pos.hold = lambda delivery: release.wait(10)
    started = time.monotonic()
    try:
        answer = spi("create-order", {**NAMED, "order": spi_order("wix-order-3")})
    finally:
        release.set()
    assert answer.status_code == 503
    assert time.monotonic() - started < 5  # BRIDGE_SPI_DEADLINE is 2 s here
    assert spi.bridge.store.get_order(INSTANCE, "wix-order-3") is None


def test_create_order_for_an_unpaired_location_is_refused_naming_it(spi, site_pos):
    spi.bridge.store.pair_configuration("conf-1", pos_location_id=None)
    answer = spi("create-order", {**NAMED, "order": spi_order()})
    assert answer.status_code == 409
    assert "conf-1" in answer.get_json()["error"]["message"]
    assert site_pos.orders() == []
    bad = spi("create-order", {**NAMED, "order": {"id": "x", "lineItems": []}})
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_order"


def test_validate_order_checks_mapped_items_and_answers_a_status(spi):
    assert spi("validate-order", {**NAMED, "order": spi_order()}).get_json() == {
        "posOrderStatus": "VALID"}
    spi.bridge.store.set_identifier(INSTANCE, "item", "dish-2", "POS-ITEM-2")
    answer = spi("validate-order", {**NAMED, "order": spi_order()})
    assert answer.status_code == 422 and "dish-1" in answer.get_json()["error"]["message"]
    spi.bridge.store.set_identifier(INSTANCE, "item", "dish-1", "POS-ITEM-1")
    assert spi("validate-order", {**NAMED, "order": spi_order()}).status_code == 200


def test_catalog_calls_before_any_sync_and_before_the_owner_confirmed(spi):
    assert spi("get-catalog-sync-status", NAMED).get_json() == {"status": "UNKNOWN"}
    refused = spi("sync-catalog", NAMED)
    assert refused.status_code == 409
    assert spi_errors(refused)[0]["code"] == "CONFIRMATION_REQUIRED"
    assert spi("get-catalog-sync-status", NAMED).get_json() == {"status": "UNKNOWN"}


def test_without_an_app_id_no_call_is_trusted_and_the_answer_says_why(make_bridge, env,
                                                                      private_key):
    from bridge.web.app import create_app
    sandbox = make_bridge({k: v for k, v in env.items()
                           if k not in ("WIX_APP_ID", "WIX_APP_SECRET", "WIX_PUBLIC_KEY")}
                          | {"BRIDGE_SANDBOX": "1"})
    answer = create_app(sandbox).test_client().post(
        "/spi/pos/account-ids", data=spi_token(private_key, {}, INSTANCE))
    assert answer.status_code == 401
    assert answer.get_json()["error"]["code"] == "spi_not_configured"
    assert "WIX_APP_ID" in answer.get_json()["error"]["message"]


def test_create_order_the_pos_refuses_is_422_with_its_code_and_stores_nothing(spi, site_pos):
    site_pos.refuse = "invalid_item_mapping"
    answer = spi("create-order", {**NAMED, "order": spi_order("wix-order-4")})
    assert answer.status_code == 422
    error = spi_errors(answer)[0]
    assert error["code"] == "INVALID_ITEM_MAPPING" and "the POS refused the order" in \
        error["message"] and error["params"] == {"orderId": "wix-order-4"}
    assert spi.bridge.store.get_order(INSTANCE, "wix-order-4") is None


def test_a_disconnected_account_takes_no_order_and_is_not_checked_again(spi, site_pos):
    spi.bridge.store.set_account_status("acc-1", AccountState.DISCONNECTED)
    answer = spi("create-order", {**NAMED, "order": spi_order("wix-order-5")})
    assert answer.status_code == 409
    assert spi_errors(answer)[0] == {"code": "ACCOUNT_DISCONNECTED",
                                              "message": "account acc-1 is disconnected",
                                              "params": {"accountId": "acc-1"}}
    status = spi("get-configuration-status", NAMED)
    assert status.status_code == 200 and site_pos.deliveries == []



def test_what_is_kept_of_an_spi_order_is_the_pos_order_not_its_payments_or_extras(
        spi, site_pos, database_url):
    from tests.web.test_legacy import CARD_NUMBER, _everything_stored
    order = {**spi_order("wix-order-9"), "extra": {"card": CARD_NUMBER},
             "payments": [{"type": "CREDIT", "amount": "32.10",
                           "card": {"number": CARD_NUMBER, "cvv": "123"}}]}
    answer = spi("create-order", {**NAMED, "order": order, "paidByPosGateway": False})
    assert answer.status_code == 200
    assert CARD_NUMBER not in _everything_stored(spi.bridge.store, database_url)
    kept = spi.bridge.store.get_order(INSTANCE, "wix-order-9").snapshot
    assert list(kept) == ["posOrder"] and kept["posOrder"]["totals"]["total"] == "32.10"
