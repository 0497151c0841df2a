"""SQLite's schema history, as named migrations applied once each (sqlite-utils `Migrations`),
then the shared migrations (`migrations.py`), where every change goes from now on.

Never edit one that has shipped. `bridge migrate` applies them. Every table keeps the Wix app
instance id, so one bridge can serve many sites.
"""
from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from bridge.storage.migrations import for_engine as shared_migrations

migrations = Migrations("bridge")


@migrations()
def m001_core(db: Database) -> None:
    db.execute("""
        CREATE TABLE instances (
            instance_id TEXT PRIMARY KEY,
            status TEXT NOT NULL,              -- installed | removed
            installed_at TEXT,
            removed_at TEXT
        )""")
    # Every handled Wix webhook as it was verified: the inbox, and the audit trail.
    db.execute("""
        CREATE TABLE events (
            id TEXT PRIMARY KEY,               -- Wix domain event id: duplicates stop here
            instance_id TEXT NOT NULL,
            event_type TEXT NOT NULL,
            entity_id TEXT,
            sequence INTEGER,
            event_time TEXT,
            received_at TEXT NOT NULL,
            payload TEXT NOT NULL              -- the unwrapped body (JSON)
        )""")
    db.execute("CREATE INDEX events_entity ON events (entity_id)")
    # One row per Wix order: its state in the bridge and its POS twin.
    db.execute("""
        CREATE TABLE orders (
            wix_order_id TEXT PRIMARY KEY,
            instance_id TEXT NOT NULL,
            number TEXT,
            state TEXT NOT NULL,
            wix_status TEXT,
            sequence INTEGER,                  -- newest entityEventSequence applied to snapshot
            snapshot TEXT NOT NULL,            -- newest Wix order seen (JSON)
            pos_client TEXT,
            pos_order_id TEXT,
            last_error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX orders_state ON orders (state, updated_at)")
    db.execute("CREATE UNIQUE INDEX orders_pos_id ON orders (pos_client, pos_order_id)"
               " WHERE pos_order_id IS NOT NULL")
    # Durable work: each row is one thing to do (process an event, send an order, ...).
    # `key` makes enqueueing idempotent; jobs sharing a `lane` run one at a time, in id order.
    db.execute("""
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            key TEXT NOT NULL UNIQUE,
            lane TEXT NOT NULL,
            instance_id TEXT,
            order_id TEXT,
            payload TEXT,
            state TEXT NOT NULL,               -- pending | running | done | failed
            attempts INTEGER NOT NULL DEFAULT 0,
            not_before REAL NOT NULL,          -- epoch seconds
            lease_until REAL,
            worker TEXT,
            last_error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX jobs_ready ON jobs (state, not_before)")
    db.execute("CREATE INDEX jobs_lane ON jobs (lane, state)")
    db.execute("CREATE INDEX jobs_order ON jobs (order_id)")
    # Every attempt at a job, kept for `bridge show`.
    db.execute("""
        CREATE TABLE attempts (
            id INTEGER PRIMARY KEY,
            job_id INTEGER NOT NULL REFERENCES jobs (id),
            order_id TEXT,
            worker TEXT,
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            outcome TEXT NOT NULL,             -- done | retry | failed
            error TEXT
        )""")
    db.execute("CREATE INDEX attempts_job ON attempts (job_id)")
    db.execute("CREATE INDEX attempts_order ON attempts (order_id)")


@migrations()
def m002_statuses(db: Database) -> None:
    # What the POS last reported, what Wix was last told, and the Wix fulfillment that carries it.
    db.execute("ALTER TABLE orders ADD COLUMN pos_status TEXT")
    db.execute("ALTER TABLE orders ADD COLUMN wix_fulfillment_status TEXT")
    db.execute("ALTER TABLE orders ADD COLUMN wix_fulfillment_id TEXT")
    # Every status change a POS reported, kept even before the order it names is known.
    db.execute("""
        CREATE TABLE status_updates (
            id INTEGER PRIMARY KEY,
            pos_client TEXT NOT NULL,
            pos_order_id TEXT NOT NULL,
            status TEXT NOT NULL,
            occurred_at TEXT,
            callback_id TEXT,                  -- the POS's id for the callback: duplicates stop here
            received_at TEXT NOT NULL,
            wix_order_id TEXT,                 -- null while the POS order id is not mapped yet
            state TEXT NOT NULL,               -- unmatched | queued | sent | skipped | failed
            note TEXT
        )""")
    db.execute("CREATE UNIQUE INDEX status_updates_callback ON status_updates (pos_client, callback_id)"
               " WHERE callback_id IS NOT NULL")
    db.execute("CREATE INDEX status_updates_pos ON status_updates (pos_client, pos_order_id, state)")
    db.execute("CREATE INDEX status_updates_order ON status_updates (wix_order_id)")


@migrations()
def m003_status_sequence(db: Database) -> None:
    # The POS's own ordering of its reports (Square's order version), to drop stale ones.
    db.execute("ALTER TABLE status_updates ADD COLUMN sequence INTEGER")


@migrations()
def m004_inbox(db: Database) -> None:
    # The receiver stores only the event; the worker turns events into `process_event` jobs in
    # the order they were stored, reading on from the last rowid it took (events are never
    # deleted, and SQLite commits writers one at a time, so rowids only grow).
    db.execute("ALTER TABLE events ADD COLUMN order_id TEXT")  # the order whose lane it joins
    db.execute("CREATE TABLE inbox (name TEXT PRIMARY KEY, last_rowid INTEGER NOT NULL)")
    # Events stored before this migration were given their jobs by the receiver.
    db.execute("INSERT INTO inbox (name, last_rowid)"
               " SELECT 'events', coalesce(max(rowid), 0) FROM events")


@migrations()
def m005_event_text(db: Database) -> None:
    # The domain event exactly as Wix sent it (JSON text), kept instead of the parsed body written
    # out again: `payload` is then '' and the body is read back from this column.
    db.execute("ALTER TABLE events ADD COLUMN domain_event TEXT")


@migrations()
def m006_destinations(db: Database) -> None:
    # The outside system a job calls (a site's POS account): its share of a worker is bounded,
    # and its circuit breaker holds its jobs while it does not answer. Jobs queued before this
    # migration have none and run as before.
    db.execute("ALTER TABLE jobs ADD COLUMN destination TEXT")
    db.execute("""
        CREATE TABLE breakers (
            destination TEXT PRIMARY KEY,
            state TEXT NOT NULL,               -- closed | open | probing
            failures INTEGER NOT NULL,         -- connection failures and timeouts in a row
            cooldown REAL,                     -- seconds it stays open this time
            open_until REAL,                   -- epoch seconds; its jobs wait until then
            opened_at TEXT,
            last_error TEXT,
            updated_at TEXT NOT NULL
        )""")
    # When the next call to a rate-limited API (Wix's, per site) may go: every process shares it.
    db.execute("CREATE TABLE pace (key TEXT PRIMARY KEY, due REAL NOT NULL)")


@migrations()
def m007_instance_events_heartbeat_numbers(db: Database) -> None:
    # When Wix signed the install or removal last applied: a resend arriving late cannot undo a
    # later one.
    db.execute("ALTER TABLE instances ADD COLUMN changed_at TEXT")
    # /healthz writes here: a database that answers but refuses writes (disk full) is not ok.
    db.execute("CREATE TABLE heartbeat (name TEXT PRIMARY KEY, at TEXT NOT NULL)")
    # `bridge show 10042`: operators name orders by the number the site shows.
    db.execute("CREATE INDEX orders_number ON orders (number)")


@migrations()
def m008_accounts(db: Database) -> None:
    # One bridge, many restaurants: each site's account with its POS (credentials encrypted by
    # the bridge, opaque here), each Wix location configuration and the POS location it is
    # paired with, and the Wix id <-> POS id of every mapped thing (location, item, modifier...).
    db.execute("""
        CREATE TABLE accounts (
            id TEXT PRIMARY KEY,
            instance_id TEXT NOT NULL,
            pos_client TEXT NOT NULL,          -- entry point name of its POS client
            status TEXT NOT NULL,              -- active | disconnected
            authorized INTEGER NOT NULL,       -- the POS accepted its credentials
            merchant_id TEXT,                  -- the POS's own id for the account
            credentials TEXT,                  -- encrypted; never logged or answered
            version INTEGER NOT NULL,          -- grows with every change of credentials
            checked_at TEXT,                   -- last credentials check the POS answered
            check_error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX accounts_instance ON accounts (instance_id, status)")
    db.execute("""
        CREATE TABLE configurations (
            id TEXT PRIMARY KEY,               -- Wix's location configuration id
            instance_id TEXT NOT NULL,
            account_id TEXT,
            location_name TEXT,
            wix_location_id TEXT,              -- the business location its orders name
            pos_location_id TEXT,              -- paired: where its orders go at the POS
            enabled INTEGER NOT NULL,
            archived INTEGER NOT NULL,
            catalog_id TEXT,
            error TEXT,                        -- why it is in ERROR, kept until cleared
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX configurations_instance ON configurations (instance_id)")
    db.execute("""
        CREATE TABLE identifiers (
            instance_id TEXT NOT NULL,
            kind TEXT NOT NULL,                -- location | item | modifier | ...
            wix_id TEXT NOT NULL,
            pos_id TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (instance_id, kind, wix_id)
        )""")
    db.execute("CREATE INDEX identifiers_pos ON identifiers (instance_id, kind, pos_id)")


@migrations()
def m009_syncs(db: Database) -> None:
    # Catalog syncs (a POS menu written to Wix), one open at a time per configuration, and the
    # log of what each changed. The owner's confirmation that a first sync may hide the menus
    # already on the site is kept on the configuration.
    db.execute("""
        CREATE TABLE syncs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            instance_id TEXT NOT NULL,
            configuration_id TEXT NOT NULL,
            status TEXT NOT NULL,              -- PENDING | IN_PROGRESS | SYNCED | FAILED
            started_at TEXT,
            ended_at TEXT,
            error TEXT,
            error_code TEXT,
            counts TEXT,                       -- JSON: writes by kind and action
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX syncs_configuration ON syncs (configuration_id, id)")
    db.execute("""
        CREATE TABLE sync_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            sync_id INTEGER NOT NULL,
            at TEXT NOT NULL,
            kind TEXT,                         -- item | section | menu | ...
            action TEXT NOT NULL,              -- created | updated | hidden | adopted | skipped | ...
            pos_id TEXT,
            wix_id TEXT,
            note TEXT
        )""")
    db.execute("CREATE INDEX sync_log_sync ON sync_log (sync_id, id)")
    db.execute("ALTER TABLE configurations ADD COLUMN sync_confirmed_at TEXT")


@migrations()
def m010_imports(db: Database) -> None:
    # Orders taken at the POS, created in Wix by the bridge: written before the Wix call, so a
    # crash between Wix's answer and the commit is found again (by the external id), never
    # created twice. Orders get their direction (NULL: exported, as every older row).
    db.execute("""
        CREATE TABLE imports (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            instance_id TEXT NOT NULL,
            pos_client TEXT NOT NULL,          -- the POS's key (client, or client@account)
            pos_order_id TEXT NOT NULL,
            state TEXT NOT NULL,               -- pending | creating | created | done | failed
            wix_order_id TEXT,
            pos_order TEXT,                    -- the POS's order (JSON), once known
            error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (pos_client, pos_order_id)
        )""")
    db.execute("CREATE INDEX imports_instance ON imports (instance_id, pos_order_id)")
    db.execute("ALTER TABLE orders ADD COLUMN direction TEXT")


@migrations()
def m011_legacy_endpoints(db: Database) -> None:
    # The original Restaurants app's POS webhook has no signature: each site's URL carries a long
    # random token, of which only the SHA-256 is kept. Orders record the channel they came by.
    db.execute("""
        CREATE TABLE legacy_endpoints (
            instance_id TEXT PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            currency TEXT NOT NULL,            -- not in the old orders: the restaurant's
            created_at TEXT NOT NULL
        )""")
    db.execute("ALTER TABLE orders ADD COLUMN origin TEXT")


@migrations()
def m012_incidents(db: Database) -> None:
    # What a site's owner must hear of (an order failed for good, a sync failed, the POS not
    # answering, the app removed with orders pending): one row per incident, mailed once.
    db.execute("""
        CREATE TABLE incidents (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            instance_id TEXT NOT NULL,
            kind TEXT NOT NULL,                -- order_failed | sync_failed | pos_unreachable | ...
            key TEXT NOT NULL,                 -- what it is about: one incident each
            subject TEXT NOT NULL,
            detail TEXT,
            created_at TEXT NOT NULL,
            notified_at TEXT,
            UNIQUE (instance_id, kind, key)
        )""")
    db.execute("CREATE INDEX incidents_open ON incidents (instance_id, notified_at)")
    db.execute("ALTER TABLE instances ADD COLUMN notify_email TEXT")


@migrations()
def m013_dashboard(db: Database) -> None:
    # The owner's dashboard lists one site's orders, newest first, and lets the owner choose
    # which of the POS's menus a location syncs (a JSON list of POS menu ids; NULL: all).
    db.execute("CREATE INDEX orders_site ON orders (instance_id, updated_at)")
    db.execute("ALTER TABLE configurations ADD COLUMN sync_menus TEXT")


@migrations()
def m014_orders_per_site(db: Database) -> None:
    # An order is its site's: the same Wix order id from two sites is two orders (an id is only
    # as trustworthy as the channel it came by, and the original app's is an owner's URL).
    db["orders"].transform(pk=("instance_id", "wix_order_id"), not_null={"wix_order_id"})
    db.execute("CREATE INDEX orders_wix_id ON orders (wix_order_id)")


def _shared(steps: list[str]):
    def apply(db: Database) -> None:
        for statement in steps:
            db.execute(statement)
    return apply


# From here on the schema changes once for both engines (migrations.py).
for _name, _steps in shared_migrations("sqlite"):
    migrations(name=_name)(_shared(_steps))
