"""The schema's changes, written once for both engines.

Each migration is a list of statements in the SQL both engines take; where one engine needs a
statement of its own, `Only(sqlite=..., postgres=...)` says so, here and nowhere else. `bridge
migrate` applies them once each, in order, after the engine's history: `schema.py` (SQLite) and
`postgres_schema.py` (PostgreSQL) built the tables up to the first of these and are never
changed again. Add a new migration at the end; never edit one that has shipped.
tests/storage/test_schema_parity.py holds the two engines to one schema.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Engine = Literal["sqlite", "postgres"]


@dataclass(frozen=True)
class Only:
    """A statement for one engine (or each engine its own)."""
    sqlite: str | None = None
    postgres: str | None = None


MIGRATIONS: list[tuple[str, list[str | Only]]] = [
    # Claiming looks only at open jobs, so done ones piling up never slow it; failed jobs and a
    # site's pending ones are found without a scan; the orders list sorts by its index.
    # PostgreSQL has had these indexes from its first migration, SQLite had others.
    ("s001_open_jobs_indexes", [
        Only(sqlite="DROP INDEX IF EXISTS jobs_ready"),
        Only(sqlite="DROP INDEX IF EXISTS jobs_lane"),
        "CREATE INDEX IF NOT EXISTS jobs_open ON jobs (not_before, id)"
        " WHERE state IN ('pending', 'running')",
        "CREATE INDEX IF NOT EXISTS jobs_lane ON jobs (lane, id)"
        " WHERE state IN ('pending', 'running')",
        "CREATE INDEX IF NOT EXISTS jobs_instance ON jobs (instance_id, kind)"
        " WHERE state = 'pending'",
        "CREATE INDEX IF NOT EXISTS jobs_failed ON jobs (state) WHERE state = 'failed'",
        "CREATE INDEX IF NOT EXISTS orders_updated ON orders (updated_at)",
    ]),
    # Where each site's reconciliation with an outside system got to: Wix's orders are searched
    # from `cursor` (an updatedDate) on, so a webhook that never came is still taken.
    ("s002_reconciliations", [
        "CREATE TABLE reconciliations ("
        " instance_id text NOT NULL,"
        " source text NOT NULL,"
        " cursor text,"
        " ran_at text NOT NULL,"
        " PRIMARY KEY (instance_id, source))",
    ]),
    # When an order's customer details were dropped (retention.py): it is not read again.
    ("s003_redacted_orders", [
        "ALTER TABLE orders ADD COLUMN redacted_at text",
        # What retention still has to visit, found without walking what it has done.
        "CREATE INDEX IF NOT EXISTS orders_unredacted ON orders (updated_at)"
        " WHERE redacted_at IS NULL",
        "CREATE INDEX IF NOT EXISTS events_with_body ON events (received_at)"
        " WHERE domain_event IS NOT NULL OR payload <> ''",
        "CREATE INDEX IF NOT EXISTS jobs_done ON jobs (updated_at) WHERE state = 'done'",
    ]),
    # Why a failed order failed, as a cause its owner can act on (bridge.domain.failures);
    # the site's time zone, for the times its owner reads; a site's orders of today, counted.
    ("s004_owner_view", [
        "ALTER TABLE orders ADD COLUMN failure text",
        "ALTER TABLE instances ADD COLUMN time_zone text",
        "CREATE INDEX IF NOT EXISTS orders_site_created ON orders (instance_id, created_at)",
    ]),
    # What each sync found on the POS's menu, item by item (the Menus page lists it), and the
    # automatic sync its owner chose for a location (bridge.service.catalog.AutoSync).
    ("s005_menu_items_and_auto_sync", [
        "ALTER TABLE syncs ADD COLUMN items text",
        "ALTER TABLE configurations ADD COLUMN auto_sync text",
    ]),
]


def statements(engine: Engine, steps: list[str | Only]) -> list[str]:
    """A migration's statements as `engine` runs them."""
    out = []
    for step in steps:
        text = getattr(step, engine) if isinstance(step, Only) else step
        if text:
            out.append(text)
    return out


def for_engine(engine: Engine) -> list[tuple[str, list[str]]]:
    """Every shared migration, named, with its statements for `engine`."""
    return [(name, statements(engine, steps)) for name, steps in MIGRATIONS]
