"""PostgreSQL's schema history: named migrations, applied once each, in order
(`PostgresStore.migrate`), then the shared migrations (`migrations.py`), where every change goes
from now on.

Never edit one that has shipped. The tables mirror SQLite's (`schema.py`) column for column, so
the shared statements read the same on both; where PostgreSQL needs something SQLite does not,
the comment says why.
"""
from __future__ import annotations

from bridge.storage.migrations import for_engine as shared_migrations

MIGRATIONS: list[tuple[str, list[str]]] = [
    ("pg001_core", [
        """CREATE TABLE instances (
            instance_id text PRIMARY KEY,
            status text NOT NULL,
            installed_at text,
            removed_at text
        )""",
        # The inbox. PostgreSQL hands out `seq` before commit, so a reader can see seq 11
        # committed while seq 10 is still in flight: reading on from the highest seq taken would
        # skip 10 for good. Each event says instead whether it has been given its job (`taken`),
        # and a partial index keeps the untaken ones quick to find however many are stored.
        """CREATE TABLE events (
            seq bigserial NOT NULL,
            id text PRIMARY KEY,
            instance_id text NOT NULL,
            event_type text NOT NULL,
            entity_id text,
            order_id text,
            sequence bigint,
            event_time text,
            received_at text NOT NULL,
            payload text NOT NULL DEFAULT '',
            domain_event text,
            taken boolean NOT NULL DEFAULT false
        )""",
        # Wix's text is kept as it came, uncompressed: compressing every 7 KB event cost the
        # database CPU on the webhook's path, for disk that is cheap.
        "ALTER TABLE events ALTER COLUMN domain_event SET STORAGE EXTERNAL",
        "CREATE INDEX events_entity ON events (entity_id)",
        "CREATE INDEX events_untaken ON events (seq) WHERE NOT taken",
        """CREATE TABLE orders (
            wix_order_id text PRIMARY KEY,
            instance_id text NOT NULL,
            number text,
            state text NOT NULL,
            wix_status text,
            sequence bigint,
            snapshot text NOT NULL,
            pos_client text,
            pos_order_id text,
            last_error text,
            created_at text NOT NULL,
            updated_at text NOT NULL,
            pos_status text,
            wix_fulfillment_status text,
            wix_fulfillment_id text
        )""",
        "CREATE INDEX orders_state ON orders (state, updated_at)",
        "CREATE INDEX orders_updated ON orders (updated_at)",
        "CREATE UNIQUE INDEX orders_pos_id ON orders (pos_client, pos_order_id)"
        " WHERE pos_order_id IS NOT NULL",
        """CREATE TABLE jobs (
            id bigserial PRIMARY KEY,
            kind text NOT NULL,
            key text NOT NULL UNIQUE,
            lane text NOT NULL,
            instance_id text,
            order_id text,
            payload text,
            state text NOT NULL,
            attempts integer NOT NULL DEFAULT 0,
            not_before double precision NOT NULL,
            lease_until double precision,
            worker text,
            last_error text,
            created_at text NOT NULL,
            updated_at text NOT NULL
        )""",
        # Claiming looks only at open jobs; done ones pile up and must not slow it down.
        "CREATE INDEX jobs_open ON jobs (not_before, id) WHERE state IN ('pending', 'running')",
        "CREATE INDEX jobs_lane ON jobs (lane, id) WHERE state IN ('pending', 'running')",
        "CREATE INDEX jobs_order ON jobs (order_id)",
        "CREATE INDEX jobs_instance ON jobs (instance_id, kind) WHERE state = 'pending'",
        "CREATE INDEX jobs_failed ON jobs (state) WHERE state = 'failed'",
        """CREATE TABLE attempts (
            id bigserial PRIMARY KEY,
            job_id bigint NOT NULL REFERENCES jobs (id),
            order_id text,
            worker text,
            started_at text NOT NULL,
            finished_at text NOT NULL,
            outcome text NOT NULL,
            error text
        )""",
        # A queue: every job is updated three or four times and then never again, and every event
        # once. Vacuum after a fixed number of dead rows, not a share of the table: with the
        # default share (20 %) a table of 100,000 orders carried tens of thousands of dead
        # entries in the open-jobs index, and every claim walked them. Statistics kept young too.
        "ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0,"
        " autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.02)",
        "ALTER TABLE events SET (autovacuum_vacuum_scale_factor = 0,"
        " autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.02)",
        "CREATE INDEX attempts_job ON attempts (job_id)",
        "CREATE INDEX attempts_order ON attempts (order_id)",
        """CREATE TABLE status_updates (
            id bigserial PRIMARY KEY,
            pos_client text NOT NULL,
            pos_order_id text NOT NULL,
            status text NOT NULL,
            occurred_at text,
            callback_id text,
            received_at text NOT NULL,
            wix_order_id text,
            state text NOT NULL,
            note text,
            sequence bigint
        )""",
        "CREATE UNIQUE INDEX status_updates_callback ON status_updates (pos_client, callback_id)"
        " WHERE callback_id IS NOT NULL",
        "CREATE INDEX status_updates_pos ON status_updates (pos_client, pos_order_id, state)",
        "CREATE INDEX status_updates_order ON status_updates (wix_order_id)",
    ]),
    ("pg002_destinations", [
        # As SQLite's m006: the outside system a job calls, its circuit breaker, and the shared
        # pace of calls to rate-limited APIs.
        "ALTER TABLE jobs ADD COLUMN destination text",
        """CREATE TABLE breakers (
            destination text PRIMARY KEY,
            state text NOT NULL,
            failures integer NOT NULL,
            cooldown double precision,
            open_until double precision,
            opened_at text,
            last_error text,
            updated_at text NOT NULL
        )""",
        "CREATE TABLE pace (key text PRIMARY KEY, due double precision NOT NULL)",
    ]),
    ("pg003_instance_events_heartbeat_numbers", [
        # As SQLite's m007: when Wix signed the install or removal last applied, the row
        # /healthz writes, and orders found by their number.
        "ALTER TABLE instances ADD COLUMN changed_at text",
        "CREATE TABLE heartbeat (name text PRIMARY KEY, at text NOT NULL)",
        "CREATE INDEX orders_number ON orders (number)",
    ]),
    ("pg004_accounts", [
        # As SQLite's m008: each site's POS account, its location configurations and their
        # pairing, and the Wix id <-> POS id of every mapped thing.
        """CREATE TABLE accounts (
            id text PRIMARY KEY,
            instance_id text NOT NULL,
            pos_client text NOT NULL,
            status text NOT NULL,
            authorized boolean NOT NULL,
            merchant_id text,
            credentials text,
            version integer NOT NULL,
            checked_at text,
            check_error text,
            created_at text NOT NULL,
            updated_at text NOT NULL
        )""",
        "CREATE INDEX accounts_instance ON accounts (instance_id, status)",
        """CREATE TABLE configurations (
            id text PRIMARY KEY,
            instance_id text NOT NULL,
            account_id text,
            location_name text,
            wix_location_id text,
            pos_location_id text,
            enabled boolean NOT NULL,
            archived boolean NOT NULL,
            catalog_id text,
            error text,
            created_at text NOT NULL,
            updated_at text NOT NULL
        )""",
        "CREATE INDEX configurations_instance ON configurations (instance_id)",
        """CREATE TABLE identifiers (
            instance_id text NOT NULL,
            kind text NOT NULL,
            wix_id text NOT NULL,
            pos_id text NOT NULL,
            updated_at text NOT NULL,
            PRIMARY KEY (instance_id, kind, wix_id)
        )""",
        "CREATE INDEX identifiers_pos ON identifiers (instance_id, kind, pos_id)",
    ]),
    ("pg005_syncs", [
        # As SQLite's m009: catalog syncs, their log, and the owner's confirmation.
        """CREATE TABLE syncs (
            id bigserial PRIMARY KEY,
            instance_id text NOT NULL,
            configuration_id text NOT NULL,
            status text NOT NULL,
            started_at text,
            ended_at text,
            error text,
            error_code text,
            counts text,
            created_at text NOT NULL,
            updated_at text NOT NULL
        )""",
        "CREATE INDEX syncs_configuration ON syncs (configuration_id, id)",
        """CREATE TABLE sync_log (
            id bigserial PRIMARY KEY,
            sync_id bigint NOT NULL,
            at text NOT NULL,
            kind text,
            action text NOT NULL,
            pos_id text,
            wix_id text,
            note text
        )""",
        "CREATE INDEX sync_log_sync ON sync_log (sync_id, id)",
        "ALTER TABLE configurations ADD COLUMN sync_confirmed_at text",
    ]),
    ("pg006_imports", [
        # As SQLite's m010: orders taken at the POS, created in Wix by the bridge.
        """CREATE TABLE imports (
            id bigserial PRIMARY KEY,
            instance_id text NOT NULL,
            pos_client text NOT NULL,
            pos_order_id text NOT NULL,
            state text NOT NULL,
            wix_order_id text,
            pos_order text,
            error text,
            created_at text NOT NULL,
            updated_at text NOT NULL,
            UNIQUE (pos_client, pos_order_id)
        )""",
        "CREATE INDEX imports_instance ON imports (instance_id, pos_order_id)",
        "ALTER TABLE orders ADD COLUMN direction text",
    ]),
    ("pg007_legacy_endpoints", [
        # As SQLite's m011: each site's token for the original Restaurants POS webhook (its
        # SHA-256 only), and the channel each order came by.
        """CREATE TABLE legacy_endpoints (
            instance_id text PRIMARY KEY,
            token_hash text NOT NULL UNIQUE,
            currency text NOT NULL,
            created_at text NOT NULL
        )""",
        "ALTER TABLE orders ADD COLUMN origin text",
    ]),
    ("pg008_incidents", [
        # As SQLite's m012: what a site's owner is told of, once each, and where.
        """CREATE TABLE incidents (
            id bigserial PRIMARY KEY,
            instance_id text NOT NULL,
            kind text NOT NULL,
            key text NOT NULL,
            subject text NOT NULL,
            detail text,
            created_at text NOT NULL,
            notified_at text,
            UNIQUE (instance_id, kind, key)
        )""",
        "CREATE INDEX incidents_open ON incidents (instance_id, notified_at)",
        "ALTER TABLE instances ADD COLUMN notify_email text",
    ]),
    ("pg009_dashboard", [
        # As SQLite's m013: one site's orders, newest first, for its dashboard; the POS menus a
        # location syncs (NULL: all).
        "CREATE INDEX orders_site ON orders (instance_id, updated_at)",
        "ALTER TABLE configurations ADD COLUMN sync_menus text",
    ]),
    ("pg010_orders_per_site", [
        # As SQLite's m014: an order is its site's; the same Wix order id from two sites is two
        # orders.
        "ALTER TABLE orders DROP CONSTRAINT orders_pkey",
        "ALTER TABLE orders ADD PRIMARY KEY (instance_id, wix_order_id)",
        "CREATE INDEX orders_wix_id ON orders (wix_order_id)",
    ]),
]

# From here on the schema changes once for both engines (migrations.py).
MIGRATIONS += shared_migrations("postgres")
