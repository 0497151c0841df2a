"""The storage port: the records the service layer reads, and the narrow interfaces it uses.

Two adapters implement it: `sqlite.SqliteStore` (one machine, the embedded default) and
`postgres.PostgresStore` (many web and worker processes on many machines). The records are plain
data; nothing here knows SQL, and nothing in storage knows Wix's payloads or what a job does: the
service layer names job kinds, keys and lanes, and hands the store the rule that gives each stored
event its job (`EventJob`).
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any, Callable, Collection, Protocol


class StorageError(Exception):
    """Base of what the store raises on purpose."""


class SchemaOutOfDate(StorageError):
    """The database lacks migrations this code needs: run `bridge migrate`."""


class StoreUnavailable(StorageError):
    """The database does not answer (down, restarting, unreachable): try again later.

    The message says why in words an operator can act on, and never holds a password."""


class JobState(StrEnum):
    PENDING = "pending"    # waiting until its not_before
    RUNNING = "running"    # claimed under a lease
    DONE = "done"
    FAILED = "failed"      # given up on; kept with its last error, replayable


class Outcome(StrEnum):
    """How an attempt at a job ended (`JobQueue.finish`)."""
    DONE = "done"          # -> done
    RETRY = "retry"        # -> pending after a delay, the attempt counted
    FAILED = "failed"      # -> failed
    WAIT = "wait"          # -> pending after a delay, the attempt handed back uncounted


class BreakerState(StrEnum):
    CLOSED = "closed"      # calls go
    OPEN = "open"          # the destination's jobs wait until open_until
    PROBING = "probing"    # one job is trying whether it answers again


class UpdateState(StrEnum):
    """Where a status change a POS reported stands."""
    UNMATCHED = "unmatched"  # its POS order id names no order the bridge knows (yet)
    QUEUED = "queued"        # a Wix update is pending
    SENT = "sent"            # Wix has it
    SKIPPED = "skipped"      # nothing to tell Wix (stale, backwards, or no change)
    FAILED = "failed"        # Wix refused it, or the app was removed (replayable)


@dataclass(frozen=True)
class StoredEvent:
    """A verified webhook as the inbox keeps it. `text` is the domain event's JSON as Wix sent it;
    `payload` the unwrapped body of an event stored before the text was kept (older SQLite rows)."""
    id: str
    instance_id: str
    event_type: str
    entity_id: str | None
    order_id: str | None
    sequence: int | None
    event_time: str | None
    text: str | None
    payload: str | None = None


@dataclass(frozen=True)
class NewJob:
    """A job to add. `key` makes adding idempotent; jobs sharing a `lane` run one at a time,
    in the order they were added. `destination`: the outside system the job calls (a site's
    POS account), whose share of the workers is bounded and whose circuit breaker it obeys;
    None for work that stays in the bridge."""
    kind: str
    key: str
    lane: str
    instance_id: str | None = None
    order_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    destination: str | None = None


# How a stored event becomes its processing job: (event id, instance id, order id) -> job.
EventJob = Callable[[str, str, "str | None"], NewJob]


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    key: str
    lane: str
    instance_id: str | None
    order_id: str | None
    payload: dict[str, Any]
    state: str
    attempts: int
    worker: str | None
    last_error: str | None
    destination: str | None = None


@dataclass(frozen=True)
class Breaker:
    """A destination's circuit breaker (`BreakerState`); `open_until` is in epoch seconds."""
    destination: str
    state: str
    failures: int                 # connection failures and timeouts in a row
    cooldown: float | None        # how long it stays open this time
    open_until: float | None
    opened_at: str | None
    last_error: str | None


@dataclass(frozen=True)
class OrderRecord:
    wix_order_id: str
    instance_id: str
    number: str | None
    state: str
    wix_status: str | None
    sequence: int | None
    snapshot: dict[str, Any]
    pos_client: str | None
    pos_order_id: str | None
    last_error: str | None
    created_at: str
    updated_at: str
    pos_status: str | None = None
    wix_fulfillment_status: str | None = None
    wix_fulfillment_id: str | None = None
    direction: str | None = None   # Direction; None on rows older than imports: exported
    origin: str | None = None      # Origin: the channel it came by (None: Wix eCommerce)


class Direction(StrEnum):
    EXPORTED = "exported"   # a Wix order the bridge sent to the POS
    IMPORTED = "imported"   # a POS order the bridge created in Wix


class Origin(StrEnum):
    ECOM = "ecom"           # a Wix eCommerce webhook
    SPI = "spi"             # the POS Integration SPI's Create Order
    LEGACY = "legacy"       # the original Restaurants app's POS webhook
    POS = "pos"             # taken at the POS (an import)


class ImportState(StrEnum):
    PENDING = "pending"     # reported by the POS; the Wix order is not made yet
    CREATING = "creating"   # the create call to Wix may have gone: search before another
    CREATED = "created"     # Wix has the order; its fulfillment may still be missing
    DONE = "done"
    FAILED = "failed"       # kept with the reason (an unmapped item, ...), replayable


@dataclass(frozen=True)
class Import:
    """An order taken at the POS, on its way into Wix."""
    id: int
    instance_id: str
    pos_client: str
    pos_order_id: str
    state: str
    wix_order_id: str | None
    pos_order: dict[str, Any] | None
    error: str | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class StatusUpdate:
    id: int
    pos_client: str
    pos_order_id: str
    status: str
    occurred_at: str | None
    callback_id: str | None
    received_at: str
    wix_order_id: str | None
    state: str
    note: str | None
    sequence: int | None = None


class AccountState(StrEnum):
    ACTIVE = "active"
    DISCONNECTED = "disconnected"   # kept for its history; no order goes to it


@dataclass(frozen=True)
class Account:
    """A site's account with its POS. `credentials` is the bridge's encrypted token (opaque to
    storage, never shown); `version` grows with each change of them, so clients built from an
    older version are rebuilt."""
    id: str
    instance_id: str
    pos_client: str
    status: str
    authorized: bool
    merchant_id: str | None
    credentials: str | None = field(repr=False)
    version: int
    checked_at: str | None
    check_error: str | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Configuration:
    """A Wix location configuration (Wix's id) and the POS location it is paired with."""
    id: str
    instance_id: str
    account_id: str | None
    location_name: str | None
    wix_location_id: str | None
    pos_location_id: str | None
    enabled: bool
    archived: bool
    catalog_id: str | None
    error: str | None
    created_at: str
    updated_at: str
    sync_confirmed_at: str | None = None  # the owner agreed a sync may hide the site's menus
    sync_menus: tuple[str, ...] | None = None  # the POS menus it syncs (None: every one)


class SyncState(StrEnum):
    """As Get Catalog Sync Status names them."""
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    SYNCED = "SYNCED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class Sync:
    """One catalog sync of a configuration: the POS's menu written to Wix."""
    id: int
    instance_id: str
    configuration_id: str
    status: str
    started_at: str | None
    ended_at: str | None
    error: str | None
    error_code: str | None
    counts: dict[str, int]
    created_at: str
    updated_at: str


def iso(epoch: float) -> str:
    """Every stored time: UTC, ISO 8601 to the millisecond, so text order is time order."""
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds")


def epoch(at: str) -> float:
    """A stored time (`iso`), or one of Wix's (`...Z`), in epoch seconds."""
    return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()


class Inbox(Protocol):
    def record_event(self, event: StoredEvent) -> bool:
        """Durably store a verified webhook; False for a duplicate event id."""

    def get_event(self, event_id: str) -> StoredEvent | None: ...


class JobQueue(Protocol):
    clock: Callable[[], float]

    def enqueue(self, job: NewJob, *, delay: float = 0.0) -> bool:
        """Add a job unless one with the same key exists; True when added."""

    def claim(self, worker: str, lease_seconds: float, *, avoid: Collection[str] = ()
              ) -> Job | None:
        """Take the oldest ready job whose lane has nothing earlier still open, under a lease.
        Jobs bound for a destination in `avoid`, or whose breaker is open, are left waiting."""

    def get_job(self, job_id: int) -> Job | None: ...

    def finish(self, job: Job, outcome: str, *, error: str | None = None, delay: float = 0.0,
               started: float | None = None) -> bool:
        """`done`, `retry`, `failed` or `wait`; False when the lease was lost."""

    def release(self, job: Job) -> bool:
        """Hand a claimed job back, uncounted; False when this worker no longer held it."""

    def replay(self, *, order: tuple[str, str] | None = None, job_id: int | None = None,
               key: str | None = None) -> list[int]:
        """Failed jobs back in the queue: an order's (`order`: its site and Wix id), one by id,
        or one by key."""

    def fail_pending_jobs(self, instance_id: str, kind: str, reason: str) -> list[Job]: ...

    def job_counts(self) -> dict[str, int]: ...


class Orders(Protocol):
    """An order is named by its site and its Wix order id, everywhere: the same id from two
    sites is two orders, and no lookup by id alone can reach another site's."""

    def get_order(self, instance_id: str, wix_order_id: str) -> OrderRecord | None: ...

    def orders_with_id(self, wix_order_id: str) -> list[OrderRecord]:
        """The operator's look-up (the CLI): the orders with this id on any site."""

    def find_order_by_pos_id(self, pos_client: str, pos_order_id: str) -> OrderRecord | None: ...

    def find_orders_by_number(self, number: str) -> list[OrderRecord]: ...

    def save_order(self, *, wix_order_id: str, instance_id: str, state: str,
                   snapshot: dict[str, Any] | None = None, wix_status: str | None = None,
                   sequence: int | None = None, number: str | None = None,
                   direction: str | None = None, origin: str | None = None) -> None: ...

    def set_order_state(self, instance_id: str, wix_order_id: str, state: str, *,
                        error: str | None = None, pos_client: str | None = None,
                        pos_order_id: str | None = None) -> None: ...

    def set_order_statuses(self, instance_id: str, wix_order_id: str, *,
                           pos_status: str | None = None,
                           wix_fulfillment_status: str | None = None,
                           wix_fulfillment_id: str | None = None,
                           forget_fulfillment: bool = False) -> None: ...

    def list_orders(self, state: str | None = None, limit: int = 50, *,
                    instance_id: str | None = None, direction: str | None = None
                    ) -> list[OrderRecord]:
        """Newest change first; `instance_id`: one site's only; `direction`: a Direction."""

    def history(self, instance_id: str, wix_order_id: str) -> dict[str, list[dict[str, Any]]]: ...


class StatusUpdates(Protocol):
    def add_status_update(self, pos_client: str, pos_order_id: str, status: str,
                          occurred_at: str | None, callback_id: str | None,
                          sequence: int | None = None) -> int | None: ...

    def newest_status_sequence(self, pos_client: str, pos_order_id: str) -> int | None: ...

    def get_status_update(self, update_id: int) -> StatusUpdate | None: ...

    def unmatched_status_updates(self, pos_client: str, pos_order_id: str
                                 ) -> list[StatusUpdate]: ...

    def set_status_update(self, update_id: int, state: str, *, note: str | None = None,
                          wix_order_id: str | None = None, status: str | None = None) -> None: ...

    def list_status_updates(self, state: str | None = None, limit: int = 50
                            ) -> list[StatusUpdate]: ...


class Breakers(Protocol):
    def breaker(self, destination: str) -> Breaker | None: ...

    def count_breaker_failure(self, destination: str, error: str) -> Breaker:
        """One more connection failure or timeout in a row; the breaker as it is now."""

    def open_breaker(self, destination: str, cooldown: float) -> None: ...

    def take_probe(self, destination: str, hold_seconds: float) -> bool:
        """Of the workers finding an open breaker's time up, True for the one that may try the
        destination again; the others are held off for `hold_seconds` (the probe's deadline)."""

    def close_breaker(self, destination: str) -> None: ...

    def breakers(self) -> list[Breaker]:
        """Every breaker not plainly closed (open, probing, or counting failures)."""


class Pace(Protocol):
    def reserve_call(self, key: str, interval: float, burst: int) -> float:
        """Book the next call to a rate-limited API (one each `interval` seconds, up to `burst`
        at once), shared by every process on this database; the seconds to wait before it."""


class Instances(Protocol):
    def set_instance(self, instance_id: str, status: str, *, at: str | None = None) -> bool:
        """Install or removal, signed at `at`: False when an event signed later is recorded."""

    def instance_status(self, instance_id: str) -> str | None: ...

    def installed_instances(self) -> list[str]: ...


class Accounts(Protocol):
    def save_account(self, account_id: str, instance_id: str, pos_client: str,
                     credentials: str | None) -> Account:
        """Add an account, or give an existing one new credentials (its version grows, its
        authorisation is asked again); it is active afterwards."""

    def get_account(self, account_id: str) -> Account | None: ...

    def account_for_instance(self, instance_id: str) -> Account | None:
        """The site's active account (Wix has one per site)."""

    def list_accounts(self, instance_id: str | None = None) -> list[Account]: ...

    def record_account_check(self, account_id: str, *, error: str | None,
                             merchant_id: str | None = None) -> None:
        """The POS answered a credentials check: authorised when `error` is None."""

    def set_account_status(self, account_id: str, status: str) -> None: ...

    def reseal_account(self, account_id: str, credentials: str) -> None:
        """The same credentials sealed under another key: nothing else changes."""


class Configurations(Protocol):
    def save_configuration(self, configuration_id: str, instance_id: str, *,
                           location_name: str | None = None, enabled: bool = True,
                           archived: bool = False, catalog_id: str | None = None,
                           account_id: str | None = None) -> Configuration:
        """Insert or refresh what Wix says of a configuration; its pairing is left as it is."""

    def pair_configuration(self, configuration_id: str, *, pos_location_id: str | None,
                           wix_location_id: str | None = None) -> Configuration | None:
        """Pair with a POS location (None unpairs); `wix_location_id` None keeps the one set."""

    def set_configuration_error(self, configuration_id: str, error: str | None) -> None: ...

    def get_configuration(self, configuration_id: str) -> Configuration | None: ...

    def list_configurations(self, instance_id: str | None = None) -> list[Configuration]: ...

    def configuration_for_location(self, instance_id: str, wix_location_id: str | None
                                   ) -> Configuration | None:
        """The site's configuration for a business location: the one paired with it, or the
        site's only configuration when that one names no location."""


class Imports(Protocol):
    def add_import(self, instance_id: str, pos_client: str, pos_order_id: str,
                   pos_order: dict[str, Any] | None) -> tuple[Import, bool]:
        """Record a POS order to import; the one recorded before (False) for a repeat."""

    def get_import(self, import_id: int) -> Import | None: ...

    def find_import(self, instance_id: str, pos_order_id: str) -> Import | None:
        """The site's import of a POS order (how Wix's echo of an import is recognised)."""

    def set_import(self, import_id: int, state: str, *, wix_order_id: str | None = None,
                   error: str | None = None, pos_order: dict[str, Any] | None = None) -> None:
        ...

    def list_imports(self, state: str | None = None, limit: int = 50, *,
                     instance_id: str | None = None) -> list[Import]: ...


class LegacyEndpoints(Protocol):
    def set_legacy_endpoint(self, instance_id: str, token_hash: str, currency: str) -> None:
        """The site's one token (a new one replaces the old: rotation)."""

    def legacy_endpoint(self, token_hash: str) -> tuple[str, str] | None:
        """(site, currency) of a token's hash."""


class Syncs(Protocol):
    def start_sync(self, instance_id: str, configuration_id: str) -> tuple[Sync, bool]:
        """A new pending sync, or the one still open for the configuration (False)."""

    def get_sync(self, sync_id: int) -> Sync | None: ...

    def list_syncs(self, configuration_id: str | None = None, limit: int = 50) -> list[Sync]:
        """Newest first."""

    def set_sync(self, sync_id: int, status: str, *, error: str | None = None,
                 code: str | None = None, counts: dict[str, int] | None = None) -> None:
        """Moving to IN_PROGRESS stamps the start (once); SYNCED or FAILED the end."""

    def log_sync(self, sync_id: int, action: str, *, kind: str | None = None,
                 pos_id: str | None = None, wix_id: str | None = None,
                 note: str | None = None) -> None: ...

    def sync_log(self, sync_id: int) -> list[dict[str, Any]]: ...

    def confirm_sync(self, configuration_id: str) -> None: ...

    def choose_sync_menus(self, configuration_id: str, menu_ids: list[str] | None) -> None:
        """The POS menus the configuration's syncs write (None: every one, new ones too)."""


class Identifiers(Protocol):
    def set_identifier(self, instance_id: str, kind: str, wix_id: str, pos_id: str) -> None:
        """Map a Wix id and a POS id, one to one: an older Wix id for the POS id is forgotten
        (the entity was made again), and the Wix id's older POS id replaced."""

    def pos_id(self, instance_id: str, kind: str, wix_id: str) -> str | None: ...

    def wix_id(self, instance_id: str, kind: str, pos_id: str) -> str | None: ...

    def identifiers(self, instance_id: str, kind: str) -> dict[str, str]:
        """Every mapping of a kind for a site: Wix id -> POS id."""


@dataclass(frozen=True)
class Incident:
    """Something a site's owner must hear of, told once."""
    id: int
    instance_id: str
    kind: str
    key: str
    subject: str
    detail: str | None
    created_at: str
    notified_at: str | None


class Incidents(Protocol):
    def record_incident(self, instance_id: str, kind: str, key: str, subject: str,
                        detail: str | None) -> int | None:
        """The new incident's id; None when the same one (site, kind, key) is recorded."""

    def open_incidents(self, instance_id: str) -> list[Incident]:
        """The site's incidents not told yet, oldest first."""

    def mark_notified(self, incident_ids: list[int]) -> None: ...

    def set_notify_email(self, instance_id: str, email: str | None) -> None: ...

    def notify_email(self, instance_id: str) -> str | None: ...


@dataclass(frozen=True)
class Snapshot:
    """Counts for the operator's metrics, read in one go (`Store.snapshot`)."""
    events: int                                            # every verified webhook stored
    orders: dict[tuple[str, str], int]                     # (state, direction) -> orders
    jobs: dict[tuple[str, str], int]                       # (kind, state) -> open or failed jobs
    oldest_pending: dict[str, str]                         # kind -> oldest pending job's creation
    attempts: dict[tuple[str, str], int]                   # (kind, outcome) -> attempts ever
    recent_attempts: list[tuple[str, str, str]]            # (kind, started, finished), newest
    imports: dict[str, int]
    syncs: dict[str, int]
    status_updates: dict[str, int]


class Metrics(Protocol):
    def snapshot(self, recent: int = 1000) -> Snapshot:
        """Counts by state, and the last `recent` attempts' times (for call latencies)."""


class Store(Inbox, JobQueue, Orders, StatusUpdates, Breakers, Pace, Instances, Accounts,
            Configurations, Identifiers, Syncs, Imports, LegacyEndpoints, Metrics, Incidents,
            Protocol):
    """Everything the bridge keeps, and the transactions that keep it consistent."""

    def transaction(self) -> AbstractContextManager[None]:
        """All writes inside commit together or not at all; nested calls join the outer one."""

    def session(self) -> AbstractContextManager[None]:
        """Keep this thread on one connection for the block (a worker's job): fewer round
        trips where connections are pooled; nothing else changes."""

    def lock_keys(self, *keys: str) -> None:
        """Inside a transaction: lock these keys until it ends (waiting for any other open
        transaction holding one). For a read-then-write that must not interleave with another
        process's (where the database does not already run writers one by one)."""

    def on_new_work(self, wake: Callable[[], None]) -> bool:
        """Call `wake` whenever any process stores work; False where the database cannot say
        (then a worker must poll)."""

    def heartbeat(self) -> None:
        """Commit a small write; StoreUnavailable when the database refuses writes."""

    def migrate(self) -> list[str]: ...

    def pending_migrations(self) -> list[str]: ...

    def check_schema(self) -> None: ...

    def close(self) -> None: ...
