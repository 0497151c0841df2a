"""`bridge accounts` and `bridge configurations`: what an operator does to serve another site,
with no credential ever printed."""
import json

import pytest

from bridge.credentials import Keyring
from tests.builders import WIX_URL
from tests.sites import SECRET_KEY

SITE = "site-a"
SECRET = "whsec_" + "Y2xpLXNpdGUtc2VjcmV0LWZvci10aGUtdGVzdHMh"


@pytest.fixture
def sites_cli(run):
    """The test configuration with a secret key, on a migrated database."""
    def invoke(*args, **overrides):
        return run(*args, **{"BRIDGE_SECRET_KEY": SECRET_KEY, **overrides})
    assert invoke("migrate").exit_code == 0
    return invoke


def add(sites_cli, *extra, **overrides):
    return sites_cli("accounts", "add", SITE, "--pos", "webhook", "--account-id", "acc-1",
                     "--set", "POS_WEBHOOK_URL=https://pos.example.com/orders",
                     "--settings-file", "-", *extra, input=f"POS_WEBHOOK_SECRET={SECRET}\n",
                     **overrides)


def test_an_account_is_added_from_stdin_and_listed_without_its_secrets(sites_cli):
    added = add(sites_cli, "--json")
    assert added.exit_code == 0, added.output
    row = json.loads(added.output)
    assert (row["id"], row["site"], row["pos"], row["status"]) == ("acc-1", SITE, "webhook",
                                                                   "active")
    assert row["authorized"] is True  # the webhook client has no check: taken as authorised
    assert row["settings"] == ["POS_WEBHOOK_SECRET", "POS_WEBHOOK_URL"]
    listed = sites_cli("accounts", "list")
    assert "acc-1" in listed.output and "POS_WEBHOOK_SECRET" in listed.output
    for output in (added.output, listed.output, sites_cli("accounts", "list", "--json").output):
        assert SECRET not in output and "pos.example.com" not in output


def test_credentials_replaced_are_a_new_version(sites_cli):
    add(sites_cli)
    again = add(sites_cli, "--json")
    assert json.loads(again.output)["version"] == 2


@pytest.mark.parametrize("args, overrides, says", [
    (("--set", "POS_SQUARE_ACCESS_TOKEN=x"), {}, "POS_SQUARE_ACCESS_TOKEN is not a setting of "
                                                 "the webhook client"),
    (("--set", "POS_WEBHOOK_URL=ftp://nope"), {}, "POS_WEBHOOK_URL"),
    (("--set", "NAME"), {}, "give NAME=VALUE"),
    ((), {"BRIDGE_SECRET_KEY": ""}, "BRIDGE_SECRET_KEY is missing"),
])
def test_a_bad_account_is_refused_with_one_line_and_nothing_stored(sites_cli, args, overrides,
                                                                   says):
    refused = add(sites_cli, *args, **overrides)
    assert refused.exit_code == 2 and says in refused.output, refused.output
    assert sites_cli("accounts", "list").output.strip() == "no accounts"


def test_start_up_commands_refuse_when_the_key_no_longer_opens_the_accounts(sites_cli):
    add(sites_cli)
    from bridge.credentials import new_key
    refused = sites_cli("worker", "--once", BRIDGE_SECRET_KEY=new_key())
    assert refused.exit_code == 2
    assert "BRIDGE_SECRET_KEY is malformed: account acc-1" in refused.output
    assert sites_cli("worker", "--once").exit_code == 0


def test_a_location_is_paired_and_its_status_follows(sites_cli):
    add(sites_cli)
    assert sites_cli("configurations", "add", "conf-1", "--site", SITE,
                     "--name", "Uptown").exit_code == 0
    pending = json.loads(sites_cli("configurations", "list", "--json").output)
    assert (pending["status"], pending["pos_location_id"]) == ("PENDING", None)
    paired = sites_cli("configurations", "pair", "conf-1", "--pos-location", "L-1",
                       "--wix-location", "loc-1")
    assert paired.exit_code == 0 and "READY" in paired.output
    row = json.loads(sites_cli("configurations", "list", "--site", SITE, "--json").output)
    assert (row["status"], row["pos_location_id"], row["wix_location_id"]) == ("READY", "L-1",
                                                                                "loc-1")
    assert sites_cli("configurations", "unpair", "conf-1").exit_code == 0
    assert "PENDING" in sites_cli("configurations", "list").output
    missing = sites_cli("configurations", "pair", "conf-x", "--pos-location", "L")
    assert missing.exit_code == 1 and "no configuration 'conf-x'" in missing.output


def test_disconnecting_tells_wix_then_stops_the_account(sites_cli, mocked):
    add(sites_cli)
    mocked.post(f"{WIX_URL}/oauth2/token", json={"access_token": "T", "expires_in": 14400})
    told = mocked.post(f"{WIX_URL}/restaurants/v1/pos-integration/accounts/acc-1/disconnect",
                       json={})
    result = sites_cli("accounts", "disconnect", "acc-1")
    assert result.exit_code == 0, result.output
    assert json.loads(told.calls[0].request.body) == {"appDefId": "app-id"}
    assert json.loads(sites_cli("accounts", "list", "--json").output)["status"] == "disconnected"


def test_wix_refusing_a_disconnection_changes_nothing(sites_cli, mocked):
    add(sites_cli)
    mocked.post(f"{WIX_URL}/oauth2/token", json={"access_token": "T", "expires_in": 14400})
    mocked.post(f"{WIX_URL}/restaurants/v1/pos-integration/accounts/acc-1/disconnect",
                status=404, json={"message": "no such account"})
    result = sites_cli("accounts", "disconnect", "acc-1")
    assert result.exit_code == 1 and "nothing changed" in result.output
    assert json.loads(sites_cli("accounts", "list", "--json").output)["status"] == "active"


def test_configurations_are_refreshed_from_wix(sites_cli, mocked):
    add(sites_cli)
    mocked.post(f"{WIX_URL}/oauth2/token", json={"access_token": "T", "expires_in": 14400})
    mocked.get(f"{WIX_URL}/restaurants/v1/pos-integration/configurations", json={
        "configurations": [{"id": "conf-9", "location": {"name": "Harbour"}, "enabled": True,
                            "catalogId": "cat-9"}]})
    result = sites_cli("configurations", "refresh", SITE)
    assert result.exit_code == 0 and "conf-9" in result.output and "Harbour" in result.output
    row = json.loads(sites_cli("configurations", "list", "--json").output)
    assert (row["account_id"], row["catalog_id"]) == ("acc-1", "cat-9")


def test_a_new_key_is_a_working_key_and_reseal_moves_accounts_to_it(sites_cli):
    key = sites_cli("accounts", "new-key").output.strip()
    assert Keyring([key]).open(Keyring([key]).seal({"a": "b"})) == {"a": "b"}
    add(sites_cli)
    both = f"{key} {SECRET_KEY}"
    assert sites_cli("accounts", "reseal", BRIDGE_SECRET_KEY=both).output.strip() == \
        "1 account(s) resealed"
    assert sites_cli("worker", "--once", BRIDGE_SECRET_KEY=key).exit_code == 0


def test_locations_say_when_a_client_cannot_list_them(sites_cli):
    add(sites_cli)
    result = sites_cli("accounts", "locations", "acc-1")
    assert result.exit_code == 1 and "cannot list POS locations" in result.output


def test_a_sync_is_queued_once_confirmed_run_by_the_worker_and_listed(sites_cli, mocked):
    sites_cli("accounts", "add", SITE, "--pos", "demo")
    sites_cli("configurations", "add", "conf-1", "--site", SITE)
    refused = sites_cli("sync", "conf-1")
    assert refused.exit_code == 2 and "--confirm" in refused.output
    queued = sites_cli("sync", "conf-1", "--confirm")
    assert queued.exit_code == 0 and "sync #1 of conf-1 queued" in queued.output
    assert "already PENDING" in sites_cli("sync", "conf-1").output

    created = iter(range(1, 1000))

    def bulk_create(request):
        body = json.loads(request.body)
        entities = next(v for k, v in body.items() if isinstance(v, list))
        key = "menuMetadata" if "/bulk/menus/" in request.url else "itemMetadata"  # as published
        return 200, {}, json.dumps({"results": [
            {key: {"id": f"w{next(created)}", "originalIndex": n, "success": True}}
            for n in range(len(entities))]})
    import re
    mocked.post(f"{WIX_URL}/oauth2/token", json={"access_token": "T", "expires_in": 14400})
    mocked.add_callback("POST", re.compile(rf"{WIX_URL}/restaurants/.*/query"),
                        callback=lambda r: (200, {}, json.dumps({})))
    mocked.add_callback("POST", re.compile(rf"{WIX_URL}/restaurants/.*/create"),
                        callback=bulk_create)
    assert sites_cli("worker", "--once").exit_code == 0
    row = json.loads(sites_cli("syncs", "--json").output)
    assert row["status"] == "SYNCED", row
    assert row["counts"]["item.created"] == 7          # the demo pizzeria
    log = sites_cli("syncs", "--log", "1").output
    assert "created" in log and "margherita" in log



def test_a_failed_import_is_listed_with_its_reason_and_replayed(sites_cli, env):
    from bridge.domain.imports import PosOrderCreated
    from bridge.service import imports
    from bridge.storage import open_store
    store = open_store(env["DATABASE_URL"], create=False)
    order = {"orderId": "T-7", "items": [{"itemId": "cake", "name": "Cake", "quantity": 1,
                                          "price": "5.00"}], "totals": {"total": "5.00"}}
    imports.record(store, "webhook", SITE, [PosOrderCreated("T-7", order)])
    assert sites_cli("worker", "--once").exit_code == 0   # fails before any call to Wix
    row = json.loads(sites_cli("imports", "--state", "failed", "--json").output)
    assert (row["pos_order_id"], row["site"]) == ("T-7", SITE)
    assert "Cake (cake)" in row["error"]
    store.set_identifier(SITE, "item", "wix-cake", "cake")
    store.close()
    replayed = sites_cli("replay", "--import", str(row["id"]))
    assert replayed.exit_code == 0 and "replaying job(s)" in replayed.output
    assert json.loads(sites_cli("imports", "--json").output)["state"] == "creating"


def test_a_configuration_is_disconnected_at_wix_and_unpaired(sites_cli, mocked):
    add(sites_cli)
    sites_cli("configurations", "add", "conf-1", "--site", SITE)
    sites_cli("configurations", "pair", "conf-1", "--pos-location", "L-1")
    mocked.post(f"{WIX_URL}/oauth2/token", json={"access_token": "T", "expires_in": 14400})
    told = mocked.post(f"{WIX_URL}/restaurants/v1/pos-integration/configurations/conf-1/"
                       "disconnect", json={})
    result = sites_cli("configurations", "disconnect", "conf-1")
    assert result.exit_code == 0 and told.call_count == 1
    row = json.loads(sites_cli("configurations", "list", "--json").output)
    assert (row["pos_location_id"], row["enabled"]) == (None, False)
    assert sites_cli("configurations", "disconnect", "conf-x").exit_code == 1
    assert sites_cli("configurations", "unpair", "conf-x").exit_code == 1


def test_the_demo_lists_its_locations_and_a_site_gets_an_address(sites_cli):
    sites_cli("accounts", "add", SITE, "--pos", "demo", "--account-id", "acc-d")
    listed = sites_cli("accounts", "locations", "acc-d", "--json")
    assert json.loads(listed.output) == {"id": "demo-kitchen", "name": "The demo kitchen"}
    assert sites_cli("accounts", "check", "acc-nope").exit_code == 1
    assert sites_cli("notify-email", SITE).output.strip() == "none"
    assert sites_cli("notify-email", SITE, "not-an-address").exit_code == 2
    assert "to owner@x.example" in sites_cli("notify-email", SITE, "owner@x.example").output
    assert sites_cli("notify-email", SITE).output.strip() == "owner@x.example"
    assert "off" in sites_cli("notify-email", SITE, "--off").output


def test_a_legacy_url_is_printed_once_and_a_bad_currency_refused(sites_cli):
    url = sites_cli("legacy-url", SITE, "--base-url", "https://bridge.example").output.strip()
    assert url.startswith("https://bridge.example/legacy/") and url.endswith("/orders")
    assert len(url.split("/")[-2]) >= 40
    assert sites_cli("legacy-url", SITE, "--currency", "dollars").exit_code == 2


def test_the_menus_a_location_syncs_are_listed_from_the_pos_and_chosen(sites_cli):
    sites_cli("accounts", "add", SITE, "--pos", "demo", "--account-id", "acc-d")
    sites_cli("configurations", "add", "conf-d", "--site", SITE)
    listed = sites_cli("configurations", "menus", "conf-d")
    assert listed.exit_code == 0, listed.output
    first = listed.output.splitlines()[0]
    assert first.startswith("* ") and "(every menu syncs)" in listed.output
    menu_id = first.split()[1]
    chosen = sites_cli("configurations", "menus", "conf-d", menu_id)
    assert chosen.exit_code == 0 and menu_id in chosen.output
    row = json.loads(sites_cli("configurations", "list", "--json").output)
    assert row["sync_menus"] == [menu_id]
    assert sites_cli("configurations", "menus", "conf-d", menu_id, "--all").exit_code == 2
    assert sites_cli("configurations", "menus", "conf-d", "--all").exit_code == 0
    assert json.loads(sites_cli("configurations", "list", "--json").output)["sync_menus"] is None


def test_a_check_the_pos_refuses_exits_non_zero_and_a_silent_pos_s_locations_fail(
        sites_cli, mocked):
    nowhere = {"POS_SQUARE_BASE_URL": "http://127.0.0.1:9"}  # the operator's: where Square is
    sites_cli("accounts", "add", SITE, "--pos", "square", "--account-id", "acc-sq", "--no-check",
              "--set", "POS_SQUARE_ACCESS_TOKEN=bad-token",
              "--set", "POS_SQUARE_LOCATION_ID=L1", **nowhere)
    checked = sites_cli("accounts", "check", "acc-sq", "--json", **nowhere)
    assert checked.exit_code == 1
    assert "did not answer the credentials check" in json.loads(checked.output)["check_error"]
    listed = sites_cli("accounts", "locations", "acc-sq", **nowhere)
    assert listed.exit_code == 1 and "the POS did not list its locations" in listed.output
    assert "bad-token" not in checked.output + listed.output


def test_listing_accounts_without_the_key_names_no_settings(sites_cli):
    add(sites_cli)
    listed = sites_cli("accounts", "list", "--json", BRIDGE_SECRET_KEY="")
    assert listed.exit_code == 0 and json.loads(listed.output)["settings"] is None


def test_refreshing_configurations_says_what_wix_answered(sites_cli, mocked):
    assert sites_cli("configurations", "refresh", SITE, WIX_APP_ID="", WIX_APP_SECRET="",
                     WIX_PUBLIC_KEY="").exit_code == 2
    mocked.post(f"{WIX_URL}/oauth2/token", json={"access_token": "T", "expires_in": 14400})
    listing = mocked.get(f"{WIX_URL}/restaurants/v1/pos-integration/configurations",
                         json={"configurations": []})
    empty = sites_cli("configurations", "refresh", SITE)
    assert empty.exit_code == 0 and "Wix lists no configurations" in empty.output
    listing.status = 500
    listing.body = '{"message": "down"}'
    failed = sites_cli("configurations", "refresh", SITE)
    assert failed.exit_code == 1 and "Wix did not list the configurations" in failed.output


def test_a_configuration_of_another_site_is_not_taken_and_a_refused_disconnect_keeps_it(
        sites_cli, mocked):
    sites_cli("configurations", "add", "conf-1", "--site", SITE)
    taken = sites_cli("configurations", "add", "conf-1", "--site", "site-b")
    assert taken.exit_code == 2 and "belongs to site site-a" in taken.output
    sites_cli("configurations", "pair", "conf-1", "--pos-location", "L1")
    mocked.post(f"{WIX_URL}/oauth2/token", json={"access_token": "T", "expires_in": 14400})
    mocked.post(f"{WIX_URL}/restaurants/v1/pos-integration/configurations/conf-1/disconnect",
                status=403, json={"message": "not yours"})
    refused = sites_cli("configurations", "disconnect", "conf-1")
    assert refused.exit_code == 1 and "nothing changed" in refused.output
    row = json.loads(sites_cli("configurations", "list", "--json").output)
    assert row["pos_location_id"] == "L1" and row["enabled"] is True


def test_a_sync_without_the_owner_s_word_is_refused_and_an_unknown_log_named(sites_cli):
    sites_cli("configurations", "add", "conf-1", "--site", SITE)
    refused = sites_cli("sync", "conf-1")
    assert refused.exit_code == 2 and "must confirm it first" in refused.output
    unknown = sites_cli("syncs", "--log", "99")
    assert unknown.exit_code == 1 and "no sync #99" in unknown.output


def test_menus_of_a_pos_that_cannot_send_them_are_refused_saying_so(sites_cli):
    add(sites_cli, "--no-check")
    sites_cli("configurations", "add", "conf-1", "--site", SITE)
    listed = sites_cli("configurations", "menus", "conf-1")
    assert listed.exit_code == 1 and "did not send its menu" in listed.output
