"""A POS client written for the port before sites had accounts still loads and works: it has no
`settings`, no credentials check, no locations, no order validation."""
import pytest

from bridge.domain.orders import pos_order_from_wix
from bridge.pos import base
from bridge.pos.registry import PosClients
from bridge.service import jobs
from bridge.service.accounts import SiteAccounts
from bridge.service.orders import SendOrder
from bridge.storage import open_store
from tests.builders import an_order
from tests.sites import SECRET_KEY


class OldStyleClient:
    """Only the four methods the port has always asked for."""
    name = "oldstyle"

    def __init__(self, config):
        self.url = config.settings.get("POS_OLDSTYLE_URL")
        self.sent = []

    def create_order(self, order, *, idempotency_key):
        self.sent.append((order, self.url))
        return f"OLD-{len(self.sent)}"

    def cancel_order(self, wix_order_id, pos_order_id, *, idempotency_key):
        pass

    def parse_callback(self, headers, body):
        return []

    def current_status(self, pos_order_id):
        return None


@pytest.fixture
def store(database_url):
    opened = open_store(database_url, pool_size=2, event_job=jobs.process_event)
    opened.migrate()
    yield opened
    opened.close()


def test_an_old_style_client_serves_a_site_with_an_account(store):
    from bridge.credentials import Keyring
    accounts = SiteAccounts(store, Keyring([SECRET_KEY]))
    clients = PosClients("oldstyle", OldStyleClient, {"POS_OLDSTYLE_URL": "env"},
                         accounts=accounts)
    account = accounts.save("site-a", "oldstyle", {"POS_OLDSTYLE_URL": "site-a's"},
                            clients=clients)
    assert accounts.check(account, clients).authorized  # nothing to ask: taken as authorised
    store.save_configuration("conf-a", "site-a")
    store.pair_configuration("conf-a", pos_location_id="L-A")

    client = clients.for_instance("site-a")
    assert base.list_locations(client) is None
    order = pos_order_from_wix(an_order(), "site-a")
    base.validate_order(client, order)  # accepts: it cannot say otherwise

    store.save_order(wix_order_id=order.id, instance_id="site-a", state="queued",
                     snapshot=an_order(id=order.id))
    store.enqueue(jobs.send_order(order.id, "site-a"))
    job = store.claim("w", 30)
    SendOrder(store, clients, accounts).run(job)
    sent, url = client.sent[0]
    assert url == "site-a's" and sent.pos_location_id == "L-A"
    assert store.get_order("site-a", order.id).pos_client == "oldstyle@" + account.id
