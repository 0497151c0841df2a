"""Wiring: real adapters from configuration, in one place. Tests wire their own the same way."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from bridge import logs
from bridge.config import Config, ConfigError, unknown_settings
from bridge.pos import registry
from bridge.pos.base import PosConfigurationError
from bridge.pos.registry import PosClients, UnknownPosClient
from bridge.pos.square_oauth import SquareApp, SquareOAuth
from bridge.service import (auto_sync, catalog, configurations, imports, jobs, notifications,
                            orders, reconcile, retention, square_connect, statuses)
from bridge.service.accounts import SecretKeyMissing, SiteAccounts
from bridge.service.legacy import LegacyWebhook
from bridge.service.spi import PosIntegration
from bridge.service.breakers import Policy
from bridge.service.worker import (Bulkhead, Crew, Handler, Limits, Worker, default_wait,
                                   worker_name)
from bridge.storage import open_store
from bridge.storage.port import Store
from bridge.wix import sandbox
from bridge.wix import api as wix_api
from bridge.wix.api import Pace, WixApi
from bridge.wix.spi import SpiVerifier
from bridge.wix.webhooks import Verifier

log = logging.getLogger(__name__)
NOTIFIED_POLL_SECONDS = 1.0
# A worker's threads hold a database connection only for database work (milliseconds), never
# while they wait on a POS: this many serve any number of them.
WORKER_CONNECTIONS = 4


def worker_pool_size(config: Config) -> int:
    """The database connections a process's job workers need at most."""
    return min(config.worker_concurrency, WORKER_CONNECTIONS)


@dataclass
class Bridge:
    config: Config
    store: Store
    pos: PosClients
    public_key: RSAPublicKey
    wix: WixApi | None = None
    accounts: SiteAccounts | None = None
    verifier: Verifier = field(init=False)
    spi_verifier: SpiVerifier = field(init=False)
    spi: PosIntegration = field(init=False)
    legacy: LegacyWebhook = field(init=False)
    handlers: dict[str, Handler] = field(default_factory=dict)
    # Square's OAuth, when the operator set the Square application's ID and secret.
    square_oauth: SquareOAuth | None = None
    # What an operator must know about this configuration, by log event name: logged at start,
    # shown by /healthz.
    warnings: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.verifier = Verifier(self.public_key)
        if self.accounts is None:
            self.accounts = SiteAccounts(self.store, self.config.keyring,
                                         allow_private_urls=self.config.allow_private_urls)
        self.spi_verifier = SpiVerifier(self.verifier, self.config.wix_app_id)
        self.spi = PosIntegration(self.store, self.pos, self.accounts,
                                  deadline_seconds=self.config.spi_deadline,
                                  connect_seconds=self.config.connect_timeout, wix=self.wix)
        self.legacy = LegacyWebhook(self.store, self.pos, self.accounts,
                                    deadline_seconds=self.config.spi_deadline,
                                    connect_seconds=self.config.connect_timeout)

    def check(self) -> None:
        """Before serving: the schema is current, and every site's sealed POS credentials open
        with BRIDGE_SECRET_KEY. Raises ConfigError / SchemaOutOfDate with one line."""
        self.store.check_schema()
        try:
            self.accounts.check_accounts(self.pos)
        except SecretKeyMissing as error:
            raise ConfigError(str(error)) from None

    def worker(self, **overrides) -> Worker:
        return self.crew(1, **overrides).workers[0]

    def schedule_periodic(self) -> None:
        """A worker process starting: the periodic work there should be, queued once whoever
        queues it (reconciling, retention, the menu syncs owners set to repeat)."""
        reconcile.schedule_all(self.store, self.config.reconcile_seconds)
        retention.schedule(self.store)
        auto_sync.schedule_all(self.store)

    def crew(self, count: int | None = None, **overrides) -> Crew:
        """`count` job workers (default BRIDGE_WORKER_CONCURRENCY) for this process's threads.
        Each claims on its own, so while one waits for a POS the others go on; lanes keep one
        order's jobs one at a time, the bulkhead one site's share. One listener wakes the crew."""
        config = self.config
        limits = Limits(deadline_seconds=config.attempt_deadline,
                        connect_seconds=config.connect_timeout,
                        per_destination=config.workers_per_destination,
                        breaker=Policy(failures=config.breaker_failures,
                                       cooldown=config.breaker_seconds,
                                       max_cooldown=max(config.breaker_seconds * 10, 300.0),
                                       probe_hold=config.attempt_deadline + 10))
        options = dict(max_attempts=config.max_attempts, lease_seconds=config.lease_seconds,
                       wait=default_wait(config.retry_max_seconds), limits=limits)
        options.update(overrides)
        count = count or config.worker_concurrency
        base = options.pop("name", None) or worker_name()
        bulkhead = Bulkhead(options["limits"].per_destination)
        crew = Crew([Worker(self.store, self.handlers, name=base if count == 1 else f"{base}:{i}",
                            bulkhead=bulkhead, **options) for i in range(count)])
        if self.store.on_new_work(crew.wake) and "idle_poll_seconds" not in overrides:
            for worker in crew.workers:
                worker.idle_poll_seconds = NOTIFIED_POLL_SECONDS  # a backstop: NOTIFY wakes it
        return crew


def wix_pace(store: Store) -> Pace:
    """Wix's per-site limit, booked in the database: kept across every thread and process."""
    interval = 60 / wix_api.RATE_PER_MINUTE
    return lambda instance_id: store.reserve_call(f"wix:{instance_id}", interval,
                                                  wix_api.PACE_BURST)


def open_configured_store(config: Config, *, pool_size: int = 1, create: bool = True) -> Store:
    """The configured database; raises ConfigError when DATABASE_URL cannot be read."""
    try:
        return open_store(config.database_url, synchronous=config.sqlite_synchronous,
                          pool_size=pool_size, event_job=jobs.process_event, create=create)
    except ValueError as error:
        raise ConfigError(f"DATABASE_URL is malformed: {error}") from None


def bootstrap(config: Config, *, store: Store | None = None, pos: PosClients | None = None,
              wix: WixApi | None = None, pool_size: int = 1, create: bool = True) -> Bridge:
    """Build everything from configuration. Raises ConfigError for what an operator must fix.

    `pool_size`: how many of this process's threads use the database at once. `create`: see
    `open_store`."""
    store = store or open_configured_store(config, pool_size=pool_size, create=create)
    accounts = SiteAccounts(store, config.keyring, allow_private_urls=config.allow_private_urls)
    if pos is None:
        def record(key, changes):
            statuses.record_changes(store, key, changes)

        def record_orders(key, instance_id, reports):
            imports.record(store, key, instance_id, reports, served=config.pos_sites)
        try:
            pos = PosClients.from_settings(config.pos_client, config.pos_settings, record,
                                           accounts=accounts, record_orders=record_orders,
                                           serves=config.pos_sites)
            pos.check()
        except UnknownPosClient as error:
            raise ConfigError(f"POS_CLIENT is malformed: {error}") from None
        except PosConfigurationError as error:  # a client's own configuration check
            raise ConfigError(str(error)) from None
    if config.wix_public_key is not None:
        public_key = config.wix_public_key
    else:
        public_key = sandbox.ensure_key(config.sandbox_key_path).public_key()
    if wix is None and config.wix_credentials:
        wix = WixApi(config.wix_api_base, config.wix_app_id, config.wix_app_secret,
                     pace=wix_pace(store))
    square_app = SquareApp.from_settings(config.pos_settings)
    bridge = Bridge(config, store, pos, public_key, wix, accounts,
                    square_oauth=SquareOAuth(square_app) if square_app else None,
                    warnings=startup_warnings(config))
    bridge.handlers.update({
        jobs.Kind.PROCESS_EVENT: orders.ProcessEvent(store, app_id=config.wix_app_id,
                                                     reconcile_seconds=config.reconcile_seconds),
        jobs.Kind.SEND_ORDER: orders.SendOrder(store, pos, accounts),
        jobs.Kind.CANCEL_ORDER: orders.CancelOrder(store, pos),
        jobs.Kind.WIX_STATUS: statuses.SyncStatus(store, wix, pos),
        jobs.Kind.LIST_CONFIGURATIONS: configurations.RefreshConfigurations(store, wix),
        jobs.Kind.SYNC_CATALOG: catalog.SyncCatalog(store, wix, pos, accounts),
        jobs.Kind.IMPORT_ORDER: imports.ImportOrder(store, wix, pos,
                                                    notify_buyer=config.import_notify_buyer),
        jobs.Kind.NOTIFY: notifications.Notify(store, config.mailer,
                                               digest_seconds=config.notify_digest_seconds),
        jobs.Kind.RECONCILE_WIX: reconcile.ReconcileWix(store, wix, config.reconcile_seconds),
        jobs.Kind.RECONCILE_POS: reconcile.ReconcilePos(store, pos, config.reconcile_seconds,
                                                        config.reconcile_max_age_hours * 3600),
        jobs.Kind.PRUNE: retention.Prune(store, retention_policy(config)),
        jobs.Kind.AUTO_SYNC: auto_sync.AutoSync(store),
        jobs.Kind.RENEW_SQUARE_TOKEN: square_connect.RenewSquareToken(store, accounts, pos,
                                                                      bridge.square_oauth),
    })
    return bridge


def retention_policy(config: Config) -> retention.Policy:
    return retention.Policy(customer_days=config.keep_customer_days,
                            history_days=config.keep_history_days)


def startup_warnings(config: Config) -> dict[str, str]:
    """What an operator must not miss, by log event name."""
    found = {}
    if config.sandbox:
        found["sandbox_mode"] = (
            f"no WIX_PUBLIC_KEY: real Wix webhooks are refused, and webhooks signed with the local "
            f"key {config.sandbox_key_path} are accepted (they reach POS_CLIENT="
            f"{config.pos_client}); `bridge send-sample` posts one")
    unknown = unknown_settings(config, registry.declared_settings())
    if unknown:
        found["unknown_settings"] = (f"no setting of the bridge or of an installed POS client is "
                                     f"named {', '.join(unknown)}: a typo?")
    return found


def announce(bridge: Bridge) -> None:
    """Say, once at start-up, what this process is connected to, and whether it is a sandbox."""
    config = bridge.config
    logs.info(log, "bridge_configured", database=bridge.store.describe(),
              pos_client=config.pos_client, wix_api=config.wix_api_base,
              wix_credentials="yes" if config.wix_credentials else "no")
    for event, note in bridge.warnings.items():
        logs.warning(log, event, note=note)
    if not config.wix_credentials:
        logs.warning(log, "wix_calls_disabled",
                     note="WIX_APP_ID/WIX_APP_SECRET not set: nothing is sent to Wix; "
                          "status updates wait for them")
