"""The storage port: the records the service layer reads, and the narrow interfaces it uses.

Each area of storage keeps its records, its Protocols and its SQL together (`events`, `jobs`,
`orders`, `sites`, `catalog`); `Store` composes the areas' Protocols, with the transactions that
keep them consistent. Two adapters implement it: `sqlite.SqliteStore` (one machine, the embedded
default) and `postgres.PostgresStore` (many web and worker processes on many machines). Nothing
in storage knows Wix's payloads or what a job does: the service layer names job kinds, keys and
lanes, and hands the store the rule that gives each stored event its job (`EventJob`).
Services take the narrowest of these Protocols that serves them; this module names them all.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Callable, Protocol

from bridge.storage.common import SchemaOutOfDate, StorageError, StoreUnavailable, epoch, iso
from bridge.storage.catalog import (Identifiers, Import, ImportState, Imports, Sync, SyncState,
                                    Syncs)
from bridge.storage.events import EventJob, Inbox, StoredEvent
from bridge.storage.jobs import (Breaker, BreakerState, Breakers, Job, JobQueue, JobState,
                                 Metrics, NewJob, Outcome, Pace, Snapshot)
from bridge.storage.orders import (Direction, OrderRecord, Orders, Origin, StatusUpdate,
                                   StatusUpdates, UpdateState)
from bridge.storage.retention import Retention
from bridge.storage.sites import (Account, AccountState, Accounts, Configuration, Configurations,
                                  Incident, Incidents, Instances, LegacyEndpoints, Reconciliations)

__all__ = ["Account", "AccountState", "Accounts", "Breaker", "BreakerState", "Breakers",
           "Configuration", "Configurations", "Direction", "EventJob", "Identifiers", "Import",
           "ImportState", "Imports", "Inbox", "Incident", "Incidents", "Instances", "Job",
           "JobQueue", "JobState", "LegacyEndpoints", "Metrics", "NewJob", "OrderRecord",
           "Orders", "Origin", "Outcome", "Pace", "Reconciliations", "Retention",
           "SchemaOutOfDate", "Snapshot", "StatusUpdate", "StatusUpdates", "StorageError",
           "Store", "StoreUnavailable", "StoredEvent", "Sync", "SyncState", "Syncs",
           "Transactions", "UpdateState", "epoch", "iso"]


class Transactions(Protocol):
    def transaction(self) -> AbstractContextManager[None]:
        """All writes inside commit together or not at all; nested calls join the outer one."""

    def session(self) -> AbstractContextManager[None]:
        """Keep this thread on one connection for the block (a worker's job): fewer round
        trips where connections are pooled; nothing else changes."""

    def lock_keys(self, *keys: str) -> None:
        """Inside a transaction: lock these keys until it ends (waiting for any other open
        transaction holding one). For a read-then-write that must not interleave with another
        process's (where the database does not already run writers one by one)."""


class Store(Transactions, Inbox, JobQueue, Orders, StatusUpdates, Breakers, Pace, Instances,
            Reconciliations, Accounts, Configurations, Identifiers, Syncs, Imports,
            LegacyEndpoints, Metrics, Incidents, Retention, Protocol):
    """Everything the bridge keeps, and the transactions that keep it consistent."""

    def on_new_work(self, wake: Callable[[], None]) -> bool:
        """Call `wake` whenever any process stores work; False where the database cannot say
        (then a worker must poll)."""

    def heartbeat(self) -> None:
        """Commit a small write; StoreUnavailable when the database refuses writes."""

    def migrate(self) -> list[str]: ...

    def pending_migrations(self) -> list[str]: ...

    def check_schema(self) -> None: ...

    def close(self) -> None: ...
