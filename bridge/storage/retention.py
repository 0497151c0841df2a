"""Retention: what the bridge stops keeping once it is old enough, a small batch at a time.

Each call finds one batch by reading (which waits for no writer), then changes it in one short
transaction, so a webhook never waits long behind a prune; partial indexes hold only what is
still to do. `count_*` say what a call would handle, for `bridge prune --dry-run`. What counts as a
customer's details inside an order is the service layer's to say (storage keeps the order's
snapshot as given): it reads the orders due for redaction and writes back what it keeps.
"""
from __future__ import annotations

import json
from typing import Protocol

from bridge.storage.common import SqlBase
from bridge.storage.orders import _ORDER_COLUMNS, OrderRecord

# An order that is finished with: at the POS (or never for it), canceled, and untouched since.
_FINISHED = "state IN ('sent', 'canceled', 'ignored')"
# An event whose processing job is done (or gone): its body is no longer needed.
_EVENT_DONE = ("NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.key = 'event:' || events.id"
               " AND jobs.state <> 'done')")


class Retention(Protocol):
    def blank_event_bodies(self, before: str, limit: int) -> int:
        """Drop the bodies of processed webhooks received before `before` (the row, its id and
        type stay: a resend is still a duplicate, `bridge show` still lists it)."""

    def count_event_bodies(self, before: str) -> int: ...

    def orders_to_redact(self, before: str, limit: int, *, instance_id: str | None = None
                         ) -> list[OrderRecord]:
        """Finished orders untouched since `before` and not redacted yet (with `instance_id`:
        every order of that site not redacted yet)."""

    def count_orders_to_redact(self, before: str, *, instance_id: str | None = None) -> int: ...

    def redact_orders(self, kept: list[tuple[str, str, dict]]) -> None:
        """(site, Wix order id, what is kept of its snapshot) for each, in one transaction."""

    def forget_import_bodies(self, before: str, limit: int) -> int:
        """Drop the POS's own order kept for imports done or failed before `before`."""

    def count_import_bodies(self, before: str) -> int: ...

    def delete_history(self, before: str, limit: int) -> int:
        """Delete jobs done before `before`, with their attempts: how many jobs."""

    def count_history(self, before: str) -> int: ...

    def delete_unmatched_reports(self, before: str, limit: int) -> int:
        """Delete POS reports received before `before` that never matched an order."""

    def count_unmatched_reports(self, before: str) -> int: ...

    def sites_removed_before(self, before: str) -> list[str]: ...


class RetentionSql(SqlBase):
    """Retention's statements: each kind is a `FROM ... WHERE ...` of what is due, counted for
    a dry run, or read a batch of ids at a time and changed by id in one short transaction."""

    def _ids(self, due: tuple[str, list], limit: int) -> list:
        where, args = due
        return [row[0] for row in self._execute(f"SELECT id {where} LIMIT ?",
                                                [*args, limit]).rows]

    def _count(self, due: tuple[str, list]) -> int:
        where, args = due
        return self._execute(f"SELECT count(*) {where}", args).one()[0]

    def _by_ids(self, statement: str, ids: list) -> int:
        """`statement ... IN (ids)` in one short transaction; the rows it changed."""
        if not ids:
            return 0
        with self.transaction():
            return self._execute(f"{statement} IN ({', '.join('?' * len(ids))})", ids).rowcount

    @staticmethod
    def _event_bodies(before: str) -> tuple[str, list]:
        return (f"FROM events WHERE (domain_event IS NOT NULL OR payload <> '')"
                f" AND received_at < ? AND {_EVENT_DONE}", [before])

    def blank_event_bodies(self, before: str, limit: int) -> int:
        return self._by_ids("UPDATE events SET domain_event = NULL, payload = '' WHERE id",
                            self._ids(self._event_bodies(before), limit))

    def count_event_bodies(self, before: str) -> int:
        return self._count(self._event_bodies(before))

    @staticmethod
    def _redactable(before: str, instance_id: str | None) -> tuple[str, list]:
        if instance_id:  # a removed site: every order of it
            return "FROM orders WHERE redacted_at IS NULL AND instance_id = ?", [instance_id]
        return (f"FROM orders WHERE redacted_at IS NULL AND {_FINISHED} AND updated_at < ?",
                [before])

    def orders_to_redact(self, before: str, limit: int, *, instance_id: str | None = None
                         ) -> list[OrderRecord]:
        where, args = self._redactable(before, instance_id)
        rows = self._execute(f"SELECT {_ORDER_COLUMNS} {where} ORDER BY updated_at LIMIT ?",
                             [*args, limit]).rows
        return [self._order(r) for r in rows]  # type: ignore[attr-defined]

    def count_orders_to_redact(self, before: str, *, instance_id: str | None = None) -> int:
        return self._count(self._redactable(before, instance_id))

    def redact_orders(self, kept: list[tuple[str, str, dict]]) -> None:
        """(site, Wix order id, what is kept of its snapshot) for each, in one transaction."""
        if not kept:
            return
        _, now = self._now()
        with self.transaction():
            for instance_id, wix_order_id, snapshot in kept:
                self._execute("UPDATE orders SET snapshot = ?, redacted_at = ?"
                              " WHERE instance_id = ? AND wix_order_id = ?",
                              [json.dumps(snapshot), now, instance_id, wix_order_id])

    @staticmethod
    def _import_bodies(before: str) -> tuple[str, list]:
        return ("FROM imports WHERE pos_order IS NOT NULL AND state IN ('done', 'failed')"
                " AND updated_at < ?", [before])

    def forget_import_bodies(self, before: str, limit: int) -> int:
        return self._by_ids("UPDATE imports SET pos_order = NULL WHERE id",
                            self._ids(self._import_bodies(before), limit))

    def count_import_bodies(self, before: str) -> int:
        return self._count(self._import_bodies(before))

    @staticmethod
    def _history(before: str) -> tuple[str, list]:
        return "FROM jobs WHERE state = 'done' AND updated_at < ?", [before]

    def delete_history(self, before: str, limit: int) -> int:
        ids = self._ids(self._history(before), limit)
        if not ids:
            return 0
        marks = ", ".join("?" * len(ids))
        with self.transaction():
            self._execute(f"DELETE FROM attempts WHERE job_id IN ({marks})", ids)
            return self._execute(f"DELETE FROM jobs WHERE id IN ({marks}) AND state = 'done'",
                                 ids).rowcount

    def count_history(self, before: str) -> int:
        return self._count(self._history(before))

    @staticmethod
    def _unmatched(before: str) -> tuple[str, list]:
        return "FROM status_updates WHERE state = 'unmatched' AND received_at < ?", [before]

    def delete_unmatched_reports(self, before: str, limit: int) -> int:
        return self._by_ids("DELETE FROM status_updates WHERE state = 'unmatched' AND id",
                            self._ids(self._unmatched(before), limit))

    def count_unmatched_reports(self, before: str) -> int:
        return self._count(self._unmatched(before))

    def sites_removed_before(self, before: str) -> list[str]:
        return [row[0] for row in self._execute(
            "SELECT instance_id FROM instances WHERE status = 'removed' AND removed_at < ?",
            [before]).rows]
