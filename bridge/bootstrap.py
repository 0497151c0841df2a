"""Wiring: real adapters from configuration, in one place. Tests wire their own the same way."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from bridge import logs
from bridge.config import Config, ConfigError
from bridge.pos.registry import PosClients, UnknownPosClient
from bridge.service import jobs, orders, statuses
from bridge.service.worker import Handler, Worker, default_wait, worker_name
from bridge.storage import open_store
from bridge.storage.port import Store
from bridge.wix import sandbox
from bridge.wix.api import WixApi
from bridge.wix.webhooks import Verifier

log = logging.getLogger(__name__)
NOTIFIED_POLL_SECONDS = 1.0


@dataclass
class Bridge:
    config: Config
    store: Store
    pos: PosClients
    public_key: RSAPublicKey
    wix: WixApi | None = None
    verifier: Verifier = field(init=False)
    handlers: dict[str, Handler] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.verifier = Verifier(self.public_key)

    def worker(self, **overrides) -> Worker:
        return self.workers(1, **overrides)[0]

    def workers(self, count: int | None = None, **overrides) -> list[Worker]:
        """`count` job workers (default BRIDGE_WORKER_CONCURRENCY) for this process's threads.
        Each claims on its own, so while one waits for a POS the others go on; lanes keep one
        order's jobs one at a time. One listener wakes them all."""
        options = dict(max_attempts=self.config.max_attempts,
                       lease_seconds=self.config.lease_seconds,
                       wait=default_wait(self.config.retry_max_seconds))
        options.update(overrides)
        count = count or self.config.worker_concurrency
        base = options.pop("name", None) or worker_name()
        crew = [Worker(self.store, self.handlers, name=base if count == 1 else f"{base}:{i}",
                       **options) for i in range(count)]

        def wake_all() -> None:
            for worker in crew:
                worker.wake.set()

        if self.store.on_new_work(wake_all) and "idle_poll_seconds" not in overrides:
            for worker in crew:
                worker.idle_poll_seconds = NOTIFIED_POLL_SECONDS  # a backstop: NOTIFY wakes it
        return crew


def open_configured_store(config: Config, *, pool_size: int = 1) -> Store:
    """The configured database; raises ConfigError when DATABASE_URL cannot be read."""
    try:
        return open_store(config.database_url, synchronous=config.sqlite_synchronous,
                          pool_size=pool_size, event_job=jobs.process_event)
    except ValueError as error:
        raise ConfigError(f"DATABASE_URL is malformed: {error}") from None


def bootstrap(config: Config, *, store: Store | None = None, pos: PosClients | None = None,
              wix: WixApi | None = None, pool_size: int = 1) -> Bridge:
    """Build everything from configuration. Raises ConfigError for what an operator must fix.

    `pool_size`: how many of this process's threads use the database at once."""
    store = store or open_configured_store(config, pool_size=pool_size)
    if pos is None:
        def report(changes):
            statuses.record_changes(store, config.pos_client, changes)
        try:
            pos = PosClients.from_settings(config.pos_client, config.pos_settings, report)
            pos.check()
        except UnknownPosClient as error:
            raise ConfigError(f"POS_CLIENT is malformed: {error}") from None
        except ValueError as error:  # a client's own configuration check
            raise ConfigError(str(error)) from None
    if config.wix_public_key is not None:
        public_key = config.wix_public_key
    else:
        public_key = sandbox.ensure_key(config.sandbox_key_path).public_key()
    if wix is None and config.wix_credentials:
        wix = WixApi(config.wix_api_base, config.wix_app_id, config.wix_app_secret)
    bridge = Bridge(config, store, pos, public_key, wix)
    bridge.handlers.update({
        jobs.Kind.PROCESS_EVENT: orders.ProcessEvent(store),
        jobs.Kind.SEND_ORDER: orders.SendOrder(store, pos),
        jobs.Kind.CANCEL_ORDER: orders.CancelOrder(store, pos),
        jobs.Kind.WIX_STATUS: statuses.SyncStatus(store, wix, pos),
    })
    return bridge


def announce(bridge: Bridge) -> None:
    """Say, once at start-up, what this process is connected to, and whether it is a sandbox."""
    config = bridge.config
    logs.info(log, "bridge_configured", database=bridge.store.describe(),
              pos_client=config.pos_client, wix_api=config.wix_api_base,
              wix_credentials="yes" if config.wix_credentials else "no")
    if config.sandbox:
        logs.warning(log, "sandbox_mode", key=str(config.sandbox_key_path),
                     note="no WIX_PUBLIC_KEY set: webhooks must be signed with this local key; "
                          "use `bridge send-sample` to post a signed sample order")
    if not config.wix_credentials:
        logs.warning(log, "wix_calls_disabled",
                     note="WIX_APP_ID/WIX_APP_SECRET not set: nothing is sent to Wix; "
                          "status updates wait for them")
