"""A site's POS account and its locations, at the service: one account a site, credentials the
POS refuses kept with the reason, keys rotated, and the status Wix is told, reason by reason.
The POS is Square on a mocked HTTP layer; on SQLite and PostgreSQL."""
import pytest

from bridge.credentials import Keyring, new_key
from bridge.domain.failures import Cause
from bridge.domain.orders import PosOrder
from bridge.service.accounts import (AccountError, ConfigurationStatus, SecretKeyMissing,
                                     SiteAccounts, StatusReport)
from bridge.storage.port import epoch, iso
from tests.sites import SECRET_KEY

SITE = "site-acc"
SQUARE = "https://square.test"
SQUARE_SETTINGS = {"POS_SQUARE_ACCESS_TOKEN": "token-1", "POS_SQUARE_LOCATION_ID": "L1"}


@pytest.fixture
def keyed(env, make_bridge):
    # Where Square is, is the operator's to say; the seller's token is the account's.
    return make_bridge({**env, "BRIDGE_SECRET_KEY": SECRET_KEY, "POS_SQUARE_BASE_URL": SQUARE})


def square_account(bridge, site=SITE, account_id="acc-sq"):
    return bridge.accounts.save(site, "square", SQUARE_SETTINGS, account_id=account_id,
                                clients=bridge.pos)


def test_a_site_has_one_account_and_an_account_one_site(keyed):
    square_account(keyed)
    with pytest.raises(AccountError, match="has account acc-sq already"):
        keyed.accounts.save(SITE, "demo", {}, account_id="acc-other", clients=keyed.pos)
    with pytest.raises(AccountError, match="belongs to site site-acc"):
        keyed.accounts.save("site-two", "demo", {}, account_id="acc-sq", clients=keyed.pos)
    assert [a.id for a in keyed.store.list_accounts()] == ["acc-sq"]


def test_credentials_the_pos_refuses_are_kept_with_its_reason(keyed, mocked):
    account = square_account(keyed)
    mocked.get(f"{SQUARE}/v2/merchants/me", status=401,
               json={"errors": [{"category": "AUTHENTICATION_ERROR", "code": "UNAUTHORIZED",
                                 "detail": "This request could not be authorized."}]})
    checked = keyed.accounts.check(account, keyed.pos)
    assert not checked.authorized and checked.check_error.startswith("the POS refused the "
                                                                     "credentials")
    assert "token-1" not in checked.check_error
    report = keyed.accounts.status(SITE, None, 0)
    assert report == StatusReport(ConfigurationStatus.ERROR, checked.check_error)

    mocked.get(f"{SQUARE}/v2/merchants/me", json={"merchant": {"id": "M-1", "country": "US"}})
    again = keyed.accounts.check(checked, keyed.pos)
    assert again.authorized and again.merchant_id == "M-1" and again.check_error is None


def test_the_status_wix_is_told_names_what_is_missing(keyed):
    account = square_account(keyed)
    store = keyed.store
    store.save_configuration("conf-1", SITE, account_id=account.id)
    configuration = store.get_configuration("conf-1")
    now = 1_900_000_000.0
    assert keyed.accounts.status(SITE, configuration, now).reason == \
        "the POS has not confirmed the account's credentials"
    store.record_account_check(account.id, error=None)
    assert keyed.accounts.status(SITE, configuration, now).reason == \
        "the location is not paired with a POS location"
    store.pair_configuration("conf-1", pos_location_id="L1")
    paired = store.get_configuration("conf-1")
    checked_at = store.get_account(account.id).checked_at
    assert keyed.accounts.status(SITE, paired, epoch(checked_at) + 60).status == \
        ConfigurationStatus.READY
    stale = keyed.accounts.status(SITE, paired, epoch(checked_at) + 25 * 3600)
    assert stale == StatusReport(ConfigurationStatus.PENDING,
                                 "the credentials were not checked in the last 24 hours")
    store.set_configuration_error("conf-1", "Wix archived the location")
    assert keyed.accounts.status(SITE, store.get_configuration("conf-1"), now) == \
        StatusReport(ConfigurationStatus.ERROR, "Wix archived the location")
    assert keyed.accounts.status("site-none", None, now).status == \
        ConfigurationStatus.NOT_STARTED


def test_an_order_for_a_disabled_or_unpaired_location_is_refused_naming_it(keyed):
    square_account(keyed)
    store = keyed.store
    store.save_configuration("conf-1", SITE, location_name="Harbour", enabled=False)
    store.pair_configuration("conf-1", pos_location_id="L1", wix_location_id="loc-1")
    order = PosOrder(id="o-1", number="1", instance_id=SITE, location_id="loc-1",
                     created_date=iso(0), currency="USD", note=None, customer=None,
                     fulfillment=None, items=())
    site = keyed.pos.site(SITE)
    with pytest.raises(AccountError, match=r"location loc-1 \(Harbour\) is disabled in Wix") as refused:
        keyed.accounts.route(site, order)
    assert refused.value.cause == Cause.LOCATION_DISABLED
    with pytest.raises(AccountError, match="conf-1 is not paired"):
        keyed.accounts.route_to(order, store.pair_configuration("conf-1", pos_location_id=None))


def test_resealing_needs_the_key_and_names_an_account_no_key_opens(keyed):
    square_account(keyed)
    with pytest.raises(SecretKeyMissing, match="BRIDGE_SECRET_KEY is missing"):
        SiteAccounts(keyed.store, None).reseal()
    with pytest.raises(SecretKeyMissing, match="account acc-sq"):
        SiteAccounts(keyed.store, Keyring([new_key()])).reseal()
    assert SiteAccounts(keyed.store, Keyring([new_key(), SECRET_KEY])).reseal() == 1
