"""A catalog sync that cannot be done says why: the POS refusing or not answering, a client
that cannot send menus, Wix refusing, no Wix credentials."""
import pytest

from bridge.bootstrap import bootstrap
from bridge.config import load_config
from bridge.service import catalog
from tests.builders import POS_URL, pos_error
from tests.wix_menus import a_menu

SITE = "site-faults"


@pytest.fixture
def wired(env, wix):
    def build(**settings):
        bridge = bootstrap(load_config({**env, "WIX_API_BASE": wix.url, **settings}),
                           pool_size=2)
        bridge.store.migrate()
        bridge.store.save_configuration("conf-f", SITE, location_name="Harbour")
        bridge.store.confirm_sync("conf-f")
        built.append(bridge)
        return bridge
    built = []
    yield build
    for bridge in built:
        bridge.store.close()


def run_sync(bridge, attempts=3):
    sync, _ = catalog.start(bridge.store, bridge.store.get_configuration("conf-f"))
    bridge.worker(max_attempts=attempts, wait=lambda state: 0.0, poll_seconds=0.01).drain()
    return bridge.store.get_sync(sync.id)


def test_the_pos_refusing_the_menu_request_fails_the_sync_and_tells_the_owner(wired, mocked):
    mocked.add_passthru("http://127.0.0.1")
    mocked.post(POS_URL, json=pos_error("invalid_item_mapping"))
    bridge = wired()
    sync = run_sync(bridge)
    assert (sync.status, sync.error_code) == ("FAILED", "SYNC_ERROR")
    assert "refused the menu request" in sync.error
    [incident] = bridge.store.open_incidents(SITE)
    assert incident.subject == "The menu sync for Harbour failed (SYNC_ERROR)"


def test_a_pos_that_does_not_answer_is_tried_again(wired, mocked, wix):
    mocked.add_passthru("http://127.0.0.1")
    mocked.post(POS_URL, json=pos_error("endpoint_down"))
    mocked.post(POS_URL, json={"value": {"menu": a_menu(items=2, sections=1, groups=0)}})
    sync = run_sync(wired())
    assert sync.status == "SYNCED" and len(wix.menus.entities["item"]) == 2


def test_a_client_that_cannot_send_menus_fails_the_sync_unsupported(env, wix):
    from bridge.config import ServedSites
    from bridge.pos.registry import PosClients
    from tests.pos.test_pos_port_compat import OldStyleClient
    bridge = bootstrap(load_config({**env, "WIX_API_BASE": wix.url}), pool_size=2,
                       pos=PosClients("oldstyle", OldStyleClient, {},
                                      serves=ServedSites(every=True)))
    bridge.store.migrate()
    bridge.store.save_configuration("conf-f", SITE)
    bridge.store.confirm_sync("conf-f")
    sync = run_sync(bridge)
    bridge.store.close()
    assert (sync.status, sync.error_code) == ("FAILED", "UNSUPPORTED")
    assert wix.menus.writes() == 0


def test_wix_refusing_a_write_fails_the_sync_with_its_code(wired, mocked, wix):
    mocked.add_passthru("http://127.0.0.1")
    mocked.post(POS_URL, json={"value": {"menu": a_menu(items=2, sections=1, groups=0)}})
    original = wix.menus.handle

    def refuse_items(method, path, body):
        if "bulk/items/create" in path:
            return 400, {"message": "item limit reached"}
        return original(method, path, body)
    wix.menus.handle = refuse_items
    sync = run_sync(wired())
    assert (sync.status, sync.error_code) == ("FAILED", "WIX_REJECTED")


def test_without_wix_credentials_the_sync_waits(env, mocked):
    bridge = bootstrap(load_config({k: v for k, v in env.items()
                                    if k not in ("WIX_APP_ID", "WIX_APP_SECRET")}), pool_size=2)
    bridge.store.migrate()
    bridge.store.save_configuration("conf-f", SITE)
    bridge.store.confirm_sync("conf-f")
    sync, _ = catalog.start(bridge.store, bridge.store.get_configuration("conf-f"))
    bridge.worker(wait=lambda state: 0.0, poll_seconds=0.01).run_once()
    assert bridge.store.get_sync(sync.id).status == "PENDING"
    assert bridge.store.job_counts() == {"pending": 1}
    bridge.store.close()
