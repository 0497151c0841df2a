"""The store's contract for the provider's data, on both adapters: accounts, configurations and
their pairing, identifiers."""
import pytest

from bridge.storage import open_store
from bridge.storage.port import AccountState


@pytest.fixture
def store(database_url):
    opened = open_store(database_url, pool_size=2)
    opened.migrate()
    yield opened
    opened.close()


def test_an_account_is_added_then_given_new_credentials_which_asks_the_pos_again(store):
    added = store.save_account("acc-1", "site-a", "webhook", "token-1")
    assert (added.version, added.authorized, added.status) == (1, False, AccountState.ACTIVE)
    store.record_account_check("acc-1", error=None, merchant_id="M-1")
    checked = store.get_account("acc-1")
    assert checked.authorized and checked.merchant_id == "M-1" and checked.checked_at

    rotated = store.save_account("acc-1", "site-a", "webhook", "token-2")
    assert rotated.version == 2 and rotated.credentials == "token-2"
    assert not rotated.authorized and rotated.checked_at is None
    assert rotated.merchant_id == "M-1"  # the POS's id for the account does not change


def test_a_failed_check_keeps_its_reason_and_a_site_has_one_active_account(store):
    store.save_account("acc-1", "site-a", "webhook", None)
    store.save_account("acc-2", "site-b", "demo", None)
    store.record_account_check("acc-1", error="401 from the POS")
    assert store.get_account("acc-1").check_error == "401 from the POS"
    assert store.account_for_instance("site-a").id == "acc-1"
    store.set_account_status("acc-1", AccountState.DISCONNECTED)
    assert store.account_for_instance("site-a") is None
    assert [a.id for a in store.list_accounts()] == ["acc-1", "acc-2"]
    assert [a.id for a in store.list_accounts("site-b")] == ["acc-2"]
    assert store.get_account("nope") is None


def test_a_configuration_refreshed_from_wix_keeps_its_pairing(store):
    store.save_configuration("conf-1", "site-a", location_name="Downtown", catalog_id="cat-1")
    paired = store.pair_configuration("conf-1", pos_location_id="L-9", wix_location_id="loc-1")
    assert (paired.pos_location_id, paired.wix_location_id) == ("L-9", "loc-1")

    again = store.save_configuration("conf-1", "site-a", location_name="Downtown (new)",
                                     enabled=False)
    assert again.pos_location_id == "L-9" and again.wix_location_id == "loc-1"
    assert again.location_name == "Downtown (new)" and again.enabled is False
    assert again.catalog_id == "cat-1"
    assert store.pair_configuration("missing", pos_location_id="L") is None


def test_an_order_location_picks_its_configuration(store):
    store.save_configuration("conf-1", "site-a")
    assert store.configuration_for_location("site-a", None).id == "conf-1"  # the only one
    assert store.configuration_for_location("site-a", "loc-1").id == "conf-1"  # names none
    store.save_configuration("conf-2", "site-a")
    store.pair_configuration("conf-2", pos_location_id="L-2", wix_location_id="loc-2")
    assert store.configuration_for_location("site-a", None) is None  # which one? none
    assert store.configuration_for_location("site-a", "loc-2").id == "conf-2"
    assert store.configuration_for_location("site-a", "loc-other") is None
    assert store.configuration_for_location("site-b", "loc-2") is None
    store.set_configuration_error("conf-2", "the POS location is closed")
    assert store.get_configuration("conf-2").error == "the POS location is closed"
    store.pair_configuration("conf-2", pos_location_id="L-3")
    assert store.get_configuration("conf-2").error is None  # pairing again clears it


def test_identifiers_map_both_ways_per_site_and_kind(store):
    store.set_identifier("site-a", "item", "wix-item-0", "pos-2")
    store.set_identifier("site-a", "item", "wix-item-1", "pos-1")
    store.set_identifier("site-a", "item", "wix-item-1", "pos-2")  # remapped; wix-item-0 gone
    store.set_identifier("site-a", "modifier", "wix-item-1", "pos-m")
    store.set_identifier("site-b", "item", "wix-item-1", "pos-b")
    assert store.pos_id("site-a", "item", "wix-item-1") == "pos-2"
    assert store.wix_id("site-a", "item", "pos-2") == "wix-item-1"
    assert store.wix_id("site-a", "item", "pos-1") is None
    assert store.identifiers("site-a", "item") == {"wix-item-1": "pos-2"}
    assert store.identifiers("site-b", "item") == {"wix-item-1": "pos-b"}
