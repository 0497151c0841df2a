"""POS callbacks at the service, with no web layer: whose a callback is, and what it moves.
On the in-memory store; the POSes and Wix are loopback servers, as everywhere."""
import uuid

import pytest

from bridge.bootstrap import bootstrap
from bridge.config import load_config
from bridge.pos.base import CallbackRejected
from bridge.service import callbacks, inbox, jobs
from bridge.storage import open_store
from bridge.storage.memory import MemoryStore
from bridge.wix import events as wix_events
from bridge.wix.events import event_from_claims
from bridge.wix.sandbox import order_event
from tests.builders import an_order, signed_callback
from tests.loopback import PosServer
from tests.sites import SECRET_KEY, add_site


@pytest.fixture
def database_url(tmp_path):
    """The store is in memory: the configuration names a file that is never opened."""
    return f"sqlite:///{tmp_path / 'unused.db'}"


@pytest.fixture
def sites(env, wix):
    """Two sites, each with its own `webhook` POS and account, on the in-memory store."""
    name = uuid.uuid4().hex
    store = open_store(f"memory://{name}", event_job=jobs.process_event)
    bridge = bootstrap(load_config({**env, "WIX_API_BASE": wix.url, "POS_SITES": "site-env",
                                    "BRIDGE_SECRET_KEY": SECRET_KEY}), store=store)
    store.migrate()
    poses = [PosServer(f"whsec_{uuid.uuid4().hex.encode().hex()[:48]}") for _ in range(2)]
    for letter, pos in zip("ab", poses):
        add_site(bridge, f"site-{letter}", pos, account_id=f"acc-{letter}",
                 configuration_id=f"conf-{letter}", wix_location_id=f"loc-{letter}")
    yield bridge, poses
    for pos in poses:
        pos.close()
    MemoryStore(name).drop()


def sent_order(bridge, signer, site: str) -> tuple[dict, str]:
    """An order of `site`, sent to its POS: the order and its POS order id."""
    order = an_order(businessLocation={"id": f"loc-{site[-1]}", "name": "Downtown"})
    event = event_from_claims(signer.claims(order_event(order), wix_events.ORDER_CREATED, site))
    assert inbox.record(bridge.store, event)
    bridge.worker(wait=lambda state: 0.0, poll_seconds=0.01, max_attempts=2).drain()
    record = bridge.store.get_order(site, order["id"])
    assert record.state == "sent", record.last_error
    return order, record.pos_order_id


def test_a_callback_moves_only_the_order_of_the_site_whose_pos_signed_it(sites, signer):
    bridge, (pos_a, pos_b) = sites
    order_a, id_a = sent_order(bridge, signer, "site-a")
    order_b, id_b = sent_order(bridge, signer, "site-b")
    assert id_a == id_b                                    # both POSes number their orders alike
    body, headers = signed_callback({"orderId": id_a, "status": "READY"}, secret=pos_a.secret)
    assert callbacks.receive(bridge.store, bridge.pos, "webhook", headers, body) == 1
    [update] = bridge.store.list_status_updates()
    assert (update.pos_client, update.wix_order_id) == ("webhook@acc-a", order_a["id"])
    assert bridge.store.get_order("site-b", order_b["id"]).pos_status is None


@pytest.mark.parametrize("make, status", [
    (lambda: signed_callback({"orderId": "P1", "status": "READY"},
                             secret="whsec_" + "QUFB" * 8), 401),       # nobody's key
    (lambda: (b"not json", {}), 401),                                   # unsigned
])
def test_a_callback_no_site_s_key_verifies_is_refused_and_nothing_stored(sites, make, status):
    bridge, _ = sites
    body, headers = make()
    with pytest.raises(CallbackRejected) as refused:
        callbacks.receive(bridge.store, bridge.pos, "webhook", headers, body)
    assert refused.value.status == status
    assert bridge.store.list_status_updates() == []


def test_a_malformed_callback_signed_by_a_site_is_refused_as_such(sites):
    bridge, (pos_a, _) = sites
    body, headers = signed_callback({"status": "READY"}, secret=pos_a.secret)   # no orderId
    with pytest.raises(CallbackRejected) as refused:
        callbacks.receive(bridge.store, bridge.pos, "webhook", headers, body)
    assert refused.value.status == 400


def test_a_client_not_configured_here_is_named(sites):
    bridge, _ = sites
    with pytest.raises(callbacks.NoSuchClient, match="'acme'"):
        callbacks.receive(bridge.store, bridge.pos, "acme", {}, b"{}")
