"""Service tests call the services directly, on the in-memory store: a module opts in by
deriving its `bridge` fixture from `memory_bridge`. Wix and the POS stay outside the process, at
the HTTP edge; `webhook` and `pos_callback` do what the two routes do with a request's body."""
import time
import uuid

import pytest

from bridge.bootstrap import bootstrap
from bridge.config import load_config
from bridge.service import callbacks, inbox, jobs
from bridge.storage import open_store
from bridge.storage.memory import MemoryStore
from tests.builders import signed_callback


@pytest.fixture
def memory_bridge(env, wix_api):
    """A bridge wired from the test configuration on a fresh in-memory store; `clock`: the
    store's."""
    name = uuid.uuid4().hex

    def make(environ: dict[str, str] = env, *, clock=time.time, **wiring):
        store = open_store(f"memory://{name}", clock=clock, event_job=jobs.process_event)
        wired = bootstrap(load_config(environ), store=store, **{"wix": wix_api, **wiring})
        wired.store.migrate()
        return wired

    yield make
    MemoryStore(name).drop()


def webhook(bridge, token: str | bytes) -> bool:
    """What `POST /webhooks/wix` does with a body: verify, then store. False for a duplicate."""
    return inbox.record(bridge.store, bridge.verifier.event(
        token.encode() if isinstance(token, str) else token))


def pos_callback(bridge, status: str, pos_order_id: str = "pos-1", client: str = "webhook",
                 **signing) -> int:
    """What `POST /pos/<client>/events` does with a signed status callback: the number stored."""
    body, headers = signed_callback({"orderId": pos_order_id, "status": status}, **signing)
    return callbacks.receive(bridge.store, bridge.pos, client, headers, body)
