"""Orders, named by their site and Wix id, with their POS twin; and the status changes POSes
report for them."""
from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from bridge.storage.common import SqlBase, where_equal


class UpdateState(StrEnum):
    """Where a status change a POS reported stands."""
    UNMATCHED = "unmatched"  # its POS order id names no order the bridge knows (yet)
    QUEUED = "queued"        # a Wix update is pending
    SENT = "sent"            # Wix has it
    SKIPPED = "skipped"      # nothing to tell Wix (stale, backwards, or no change)
    FAILED = "failed"        # Wix refused it, or the app was removed (replayable)


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
    failure: str | None = None     # a failed order's Cause (bridge.domain.failures)


class Direction(StrEnum):
    EXPORTED = "exported"   # a Wix order the bridge sent to the POS
    IMPORTED = "imported"   # a POS order the bridge created in Wix


class Origin(StrEnum):
    ECOM = "ecom"           # a Wix eCommerce webhook
    SPI = "spi"             # the POS Integration SPI's Create Order
    LEGACY = "legacy"       # the original Restaurants app's POS webhook
    POS = "pos"             # taken at the POS (an import)


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
                        pos_order_id: str | None = None, failure: str | None = None) -> None:
        """`error` and `failure` (a Cause) are set as given: None clears them."""

    def count_orders(self, instance_id: str, created_since: str) -> dict[str, int]:
        """The site's orders created since then (an ISO time), by state."""

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

    def orders_in_the_kitchen(self, instance_id: str, created_after: str, limit: int = 1000
                              ) -> list[OrderRecord]:
        """The site's orders at a POS and not finished there (neither FULFILLED nor CANCELED),
        created after `created_after`, oldest first."""


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


_ORDER_COLUMNS = ("wix_order_id, instance_id, number, state, wix_status, sequence, snapshot,"
                  " pos_client, pos_order_id, last_error, created_at, updated_at, pos_status,"
                  " wix_fulfillment_status, wix_fulfillment_id, direction, origin, failure")


_UPDATE_COLUMNS = ("id, pos_client, pos_order_id, status, occurred_at, callback_id,"
                   " received_at, wix_order_id, state, note, sequence")


class OrdersSql(SqlBase):
    """Orders, their status updates and their history."""

    @staticmethod
    def _order(row) -> OrderRecord:
        values = list(row)
        values[6] = json.loads(values[6])
        return OrderRecord(*values)

    def get_order(self, instance_id: str, wix_order_id: str) -> OrderRecord | None:
        row = self._execute(f"SELECT {_ORDER_COLUMNS} FROM orders"
                            " WHERE instance_id = ? AND wix_order_id = ?",
                            [instance_id, wix_order_id]).one()
        return self._order(row) if row else None

    def orders_with_id(self, wix_order_id: str) -> list[OrderRecord]:
        rows = self._execute(f"SELECT {_ORDER_COLUMNS} FROM orders WHERE wix_order_id = ?"
                             " ORDER BY created_at", [wix_order_id]).rows
        return [self._order(r) for r in rows]

    def find_order_by_pos_id(self, pos_client: str, pos_order_id: str) -> OrderRecord | None:
        row = self._execute(f"SELECT {_ORDER_COLUMNS} FROM orders"
                            " WHERE pos_client = ? AND pos_order_id = ?",
                            [pos_client, pos_order_id]).one()
        return self._order(row) if row else None

    def find_orders_by_number(self, number: str) -> list[OrderRecord]:
        """Orders with this number, on any site (each site numbers its own orders)."""
        rows = self._execute(f"SELECT {_ORDER_COLUMNS} FROM orders WHERE number = ?"
                             " ORDER BY created_at", [number]).rows
        return [self._order(r) for r in rows]

    def save_order(self, *, wix_order_id: str, instance_id: str, state: str,
                   snapshot: dict[str, Any] | None = None, wix_status: str | None = None,
                   sequence: int | None = None, number: str | None = None,
                   direction: str | None = None, origin: str | None = None) -> None:
        """Insert or update an order; the snapshot is replaced only when given."""
        _, now = self._now()
        fresh = snapshot is not None
        with self.transaction():
            self._execute(
                "INSERT INTO orders (wix_order_id, instance_id, number, state, wix_status, sequence,"
                " snapshot, created_at, updated_at, direction, origin)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (instance_id, wix_order_id) DO UPDATE SET state = excluded.state,"
                "   number = coalesce(excluded.number, orders.number),"
                "   direction = coalesce(excluded.direction, orders.direction),"
                "   origin = coalesce(orders.origin, excluded.origin),"
                "   wix_status = coalesce(excluded.wix_status, orders.wix_status),"
                "   sequence = CASE WHEN ? THEN excluded.sequence ELSE orders.sequence END,"
                "   snapshot = CASE WHEN ? THEN excluded.snapshot ELSE orders.snapshot END,"
                "   updated_at = excluded.updated_at",
                [wix_order_id, instance_id, number, state, wix_status, sequence,
                 json.dumps(snapshot or {}), now, now, direction, origin, fresh, fresh])

    def set_order_state(self, instance_id: str, wix_order_id: str, state: str, *,
                        error: str | None = None, pos_client: str | None = None,
                        pos_order_id: str | None = None, failure: str | None = None) -> None:
        _, now = self._now()
        with self.transaction():
            self._execute("UPDATE orders SET state = ?, last_error = ?, failure = ?,"
                          " pos_client = coalesce(?, pos_client),"
                          " pos_order_id = coalesce(?, pos_order_id), updated_at = ?"
                          " WHERE instance_id = ? AND wix_order_id = ?",
                          [state, error, failure, pos_client, pos_order_id, now, instance_id,
                           wix_order_id])

    def count_orders(self, instance_id: str, created_since: str) -> dict[str, int]:
        rows = self._execute("SELECT state, count(*) FROM orders WHERE instance_id = ?"
                             " AND created_at >= ? GROUP BY state",
                             [instance_id, created_since]).rows
        return {state: count for state, count in rows}

    def set_order_statuses(self, instance_id: str, wix_order_id: str, *,
                           pos_status: str | None = None,
                           wix_fulfillment_status: str | None = None,
                           wix_fulfillment_id: str | None = None,
                           forget_fulfillment: bool = False) -> None:
        """Record what the POS reported and what Wix was told; None leaves a column as it is."""
        _, now = self._now()
        with self.transaction():
            self._execute("UPDATE orders SET pos_status = coalesce(?, pos_status),"
                          " wix_fulfillment_status = coalesce(?, wix_fulfillment_status),"
                          " wix_fulfillment_id = CASE WHEN ? THEN NULL"
                          "   ELSE coalesce(?, wix_fulfillment_id) END,"
                          " updated_at = ? WHERE instance_id = ? AND wix_order_id = ?",
                          [pos_status, wix_fulfillment_status, forget_fulfillment,
                           wix_fulfillment_id, now, instance_id, wix_order_id])

    def list_orders(self, state: str | None = None, limit: int = 50, *,
                    instance_id: str | None = None, direction: str | None = None
                    ) -> list[OrderRecord]:
        where, args = where_equal(state=state, instance_id=instance_id)
        if direction is not None:  # rows older than imports have none: they were exported
            where += (" AND " if where else "WHERE ") + "coalesce(direction, ?) = ?"
            args += [Direction.EXPORTED.value, direction]
        rows = self._execute(f"SELECT {_ORDER_COLUMNS} FROM orders {where}"
                             " ORDER BY updated_at DESC LIMIT ?", [*args, limit]).rows
        return [self._order(r) for r in rows]

    def orders_in_the_kitchen(self, instance_id: str, created_after: str, limit: int = 1000
                              ) -> list[OrderRecord]:
        rows = self._execute(
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE instance_id = ? AND state = 'sent'"
            " AND pos_order_id IS NOT NULL AND coalesce(pos_status, '') NOT IN"
            " ('FULFILLED', 'CANCELED') AND created_at > ? ORDER BY created_at LIMIT ?",
            [instance_id, created_after, limit]).rows
        return [self._order(r) for r in rows]

    def add_status_update(self, pos_client: str, pos_order_id: str, status: str,
                          occurred_at: str | None, callback_id: str | None,
                          sequence: int | None = None) -> int | None:
        """Store a reported status change; None when the same callback was stored before."""
        _, now = self._now()
        with self.transaction():
            row = self._execute(
                "INSERT INTO status_updates (pos_client, pos_order_id, status, occurred_at,"
                " callback_id, received_at, state, sequence)"
                " VALUES (?, ?, ?, ?, ?, ?, 'unmatched', ?) ON CONFLICT DO NOTHING RETURNING id",
                [pos_client, pos_order_id, status, occurred_at, callback_id, now, sequence]).one()
            return row[0] if row else None

    def newest_status_sequence(self, pos_client: str, pos_order_id: str) -> int | None:
        """The highest sequence reported so far for a POS order (stale reports are below it)."""
        row = self._execute("SELECT max(sequence) FROM status_updates"
                            " WHERE pos_client = ? AND pos_order_id = ? AND state != 'failed'",
                            [pos_client, pos_order_id]).one()
        return row[0] if row else None

    def get_status_update(self, update_id: int) -> StatusUpdate | None:
        row = self._execute(f"SELECT {_UPDATE_COLUMNS} FROM status_updates WHERE id = ?",
                            [update_id]).one()
        return StatusUpdate(*row) if row else None

    def unmatched_status_updates(self, pos_client: str, pos_order_id: str) -> list[StatusUpdate]:
        rows = self._execute(f"SELECT {_UPDATE_COLUMNS} FROM status_updates"
                             " WHERE pos_client = ? AND pos_order_id = ? AND state = 'unmatched'"
                             " ORDER BY id", [pos_client, pos_order_id]).rows
        return [StatusUpdate(*r) for r in rows]

    def set_status_update(self, update_id: int, state: str, *, note: str | None = None,
                          wix_order_id: str | None = None, status: str | None = None) -> None:
        with self.transaction():
            self._execute("UPDATE status_updates SET state = ?, note = ?,"
                          " wix_order_id = coalesce(?, wix_order_id), status = coalesce(?, status)"
                          " WHERE id = ?", [state, note, wix_order_id, status, update_id])

    def list_status_updates(self, state: str | None = None, limit: int = 50
                            ) -> list[StatusUpdate]:
        where, args = where_equal(state=state)
        rows = self._execute(f"SELECT {_UPDATE_COLUMNS} FROM status_updates {where}"
                             " ORDER BY id DESC LIMIT ?", [*args, limit]).rows
        return [StatusUpdate(*r) for r in rows]

    def history(self, instance_id: str, wix_order_id: str) -> dict[str, list[dict[str, Any]]]:
        """Everything recorded about one order of a site, oldest first, for `bridge show`."""
        def rows(sql: str) -> list[dict[str, Any]]:
            return self._execute(sql, [instance_id, wix_order_id], named=True).dicts()

        return {
            "events": rows("SELECT id, event_type, sequence, event_time, received_at FROM events"
                           " WHERE instance_id = ? AND entity_id = ?"
                           f" ORDER BY received_at, {self._EVENT_ORDER}"),
            "jobs": rows("SELECT id, kind, state, attempts, last_error, created_at, updated_at"
                         " FROM jobs WHERE instance_id = ? AND order_id = ? ORDER BY id"),
            "attempts": rows("SELECT a.job_id, a.worker, a.started_at, a.finished_at, a.outcome,"
                             " a.error FROM attempts AS a JOIN jobs AS j ON j.id = a.job_id"
                             " WHERE j.instance_id = ? AND a.order_id = ? ORDER BY a.id"),
            # A POS order id is one order's under its POS's key: the reports matched to it.
            "status_updates": rows("SELECT u.id, u.status, u.sequence, u.occurred_at,"
                                   " u.received_at, u.state, u.note"
                                   " FROM status_updates AS u JOIN orders AS o"
                                   " ON o.pos_client = u.pos_client"
                                   " AND o.wix_order_id = u.wix_order_id"
                                   " WHERE o.instance_id = ? AND o.wix_order_id = ?"
                                   " ORDER BY u.id"),
            # An order taken at the POS: its import, and the attempts that brought it into Wix.
            "import": rows("SELECT id, pos_client, pos_order_id, state, error, created_at,"
                           " updated_at FROM imports WHERE instance_id = ? AND wix_order_id = ?"
                           " ORDER BY id"),
            "import_attempts": rows(
                "SELECT a.job_id, a.worker, a.started_at, a.finished_at, a.outcome, a.error"
                " FROM attempts AS a JOIN jobs AS j ON j.id = a.job_id"
                " JOIN imports AS i ON j.key = 'import:' || i.id"
                " WHERE i.instance_id = ? AND i.wix_order_id = ? ORDER BY a.id"),
        }
