"""What a site's POS and Wix share: the id mappings of their menus' entities, catalog syncs
with their logs, and orders taken at the POS on their way into Wix."""
from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from bridge.storage.common import SqlBase, where_equal


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

    def set_sync_items(self, sync_id: int, items: list[dict[str, Any]]) -> None:
        """What the POS's menu held when the sync read it (bridge.domain.menus.item_list)."""

    def sync_items(self, sync_id: int) -> list[dict[str, Any]] | None: ...

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


_IMPORT_COLUMNS = ("id, instance_id, pos_client, pos_order_id, state, wix_order_id, pos_order,"
                   " error, created_at, updated_at")


_SYNC_COLUMNS = ("id, instance_id, configuration_id, status, started_at, ended_at, error,"
                 " error_code, counts, created_at, updated_at")


class CatalogSql(SqlBase):
    """Identifier mappings, catalog syncs and imports."""

    def set_identifier(self, instance_id: str, kind: str, wix_id: str, pos_id: str) -> None:
        _, now = self._now()
        with self.transaction():
            self._execute("DELETE FROM identifiers WHERE instance_id = ? AND kind = ?"
                          " AND pos_id = ? AND wix_id <> ?", [instance_id, kind, pos_id, wix_id])
            self._execute("INSERT INTO identifiers (instance_id, kind, wix_id, pos_id, updated_at)"
                          " VALUES (?, ?, ?, ?, ?) ON CONFLICT (instance_id, kind, wix_id)"
                          " DO UPDATE SET pos_id = excluded.pos_id,"
                          " updated_at = excluded.updated_at",
                          [instance_id, kind, wix_id, pos_id, now])

    def pos_id(self, instance_id: str, kind: str, wix_id: str) -> str | None:
        row = self._execute("SELECT pos_id FROM identifiers"
                            " WHERE instance_id = ? AND kind = ? AND wix_id = ?",
                            [instance_id, kind, wix_id]).one()
        return row[0] if row else None

    def wix_id(self, instance_id: str, kind: str, pos_id: str) -> str | None:
        row = self._execute("SELECT wix_id FROM identifiers"
                            " WHERE instance_id = ? AND kind = ? AND pos_id = ? ORDER BY wix_id",
                            [instance_id, kind, pos_id]).one()
        return row[0] if row else None

    def identifiers(self, instance_id: str, kind: str) -> dict[str, str]:
        rows = self._execute("SELECT wix_id, pos_id FROM identifiers"
                             " WHERE instance_id = ? AND kind = ?", [instance_id, kind]).rows
        return dict(rows)

    @staticmethod
    def _import(row) -> Import:
        values = list(row)
        values[6] = json.loads(values[6]) if values[6] else None
        return Import(*values)

    def add_import(self, instance_id: str, pos_client: str, pos_order_id: str,
                   pos_order: dict[str, Any] | None) -> tuple[Import, bool]:
        _, now = self._now()
        with self.transaction():
            row = self._execute(
                "INSERT INTO imports (instance_id, pos_client, pos_order_id, state, pos_order,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                f" ON CONFLICT (pos_client, pos_order_id) DO NOTHING RETURNING {_IMPORT_COLUMNS}",
                [instance_id, pos_client, pos_order_id, ImportState.PENDING,
                 json.dumps(pos_order) if pos_order is not None else None, now, now]).one()
            if row is not None:
                return self._import(row), True
            row = self._execute(f"SELECT {_IMPORT_COLUMNS} FROM imports"
                                " WHERE pos_client = ? AND pos_order_id = ?",
                                [pos_client, pos_order_id]).one()
        return self._import(row), False

    def get_import(self, import_id: int) -> Import | None:
        row = self._execute(f"SELECT {_IMPORT_COLUMNS} FROM imports WHERE id = ?",
                            [import_id]).one()
        return self._import(row) if row else None

    def find_import(self, instance_id: str, pos_order_id: str) -> Import | None:
        row = self._execute(f"SELECT {_IMPORT_COLUMNS} FROM imports"
                            " WHERE instance_id = ? AND pos_order_id = ? ORDER BY id",
                            [instance_id, pos_order_id]).one()
        return self._import(row) if row else None

    def set_import(self, import_id: int, state: str, *, wix_order_id: str | None = None,
                   error: str | None = None, pos_order: dict[str, Any] | None = None) -> None:
        _, now = self._now()
        with self.transaction():
            self._execute("UPDATE imports SET state = ?, error = ?,"
                          " wix_order_id = coalesce(?, wix_order_id),"
                          " pos_order = coalesce(?, pos_order), updated_at = ? WHERE id = ?",
                          [state, error, wix_order_id,
                           json.dumps(pos_order) if pos_order is not None else None, now,
                           import_id])

    def list_imports(self, state: str | None = None, limit: int = 50, *,
                     instance_id: str | None = None) -> list[Import]:
        where, args = where_equal(state=state, instance_id=instance_id)
        rows = self._execute(f"SELECT {_IMPORT_COLUMNS} FROM imports {where}"
                             " ORDER BY updated_at DESC LIMIT ?", [*args, limit]).rows
        return [self._import(r) for r in rows]

    @staticmethod
    def _sync(row) -> Sync:
        values = list(row)
        values[8] = json.loads(values[8]) if values[8] else {}
        return Sync(*values)

    def start_sync(self, instance_id: str, configuration_id: str) -> tuple[Sync, bool]:
        _, now = self._now()
        with self.transaction():
            self.lock_keys(f"sync:{configuration_id}")
            row = self._execute(
                f"SELECT {_SYNC_COLUMNS} FROM syncs WHERE configuration_id = ?"
                " AND status IN (?, ?) ORDER BY id DESC",
                [configuration_id, SyncState.PENDING, SyncState.IN_PROGRESS]).one()
            if row is not None:
                return self._sync(row), False
            row = self._execute(
                "INSERT INTO syncs (instance_id, configuration_id, status, created_at, updated_at)"
                f" VALUES (?, ?, ?, ?, ?) RETURNING {_SYNC_COLUMNS}",
                [instance_id, configuration_id, SyncState.PENDING, now, now]).one()
        return self._sync(row), True

    def get_sync(self, sync_id: int) -> Sync | None:
        row = self._execute(f"SELECT {_SYNC_COLUMNS} FROM syncs WHERE id = ?", [sync_id]).one()
        return self._sync(row) if row else None

    def list_syncs(self, configuration_id: str | None = None, limit: int = 50) -> list[Sync]:
        where, args = where_equal(configuration_id=configuration_id)
        rows = self._execute(f"SELECT {_SYNC_COLUMNS} FROM syncs {where} ORDER BY id DESC"
                             " LIMIT ?", [*args, limit]).rows
        return [self._sync(r) for r in rows]

    def set_sync(self, sync_id: int, status: str, *, error: str | None = None,
                 code: str | None = None, counts: dict[str, int] | None = None) -> None:
        _, now = self._now()
        ended = status in (SyncState.SYNCED, SyncState.FAILED)
        with self.transaction():
            self._execute(
                "UPDATE syncs SET status = ?, error = ?, error_code = ?,"
                " counts = coalesce(?, counts),"
                " started_at = CASE WHEN ? AND started_at IS NULL THEN ? ELSE started_at END,"
                " ended_at = CASE WHEN ? THEN ? ELSE ended_at END, updated_at = ? WHERE id = ?",
                [status, error, code, json.dumps(counts) if counts is not None else None,
                 status == SyncState.IN_PROGRESS, now, ended, now, now, sync_id])

    def set_sync_items(self, sync_id: int, items: list[dict[str, Any]]) -> None:
        with self.transaction():
            self._execute("UPDATE syncs SET items = ? WHERE id = ?",
                          [json.dumps(items, separators=(",", ":")), sync_id])

    def sync_items(self, sync_id: int) -> list[dict[str, Any]] | None:
        row = self._execute("SELECT items FROM syncs WHERE id = ?", [sync_id]).one()
        return json.loads(row[0]) if row and row[0] else None

    def log_sync(self, sync_id: int, action: str, *, kind: str | None = None,
                 pos_id: str | None = None, wix_id: str | None = None,
                 note: str | None = None) -> None:
        _, now = self._now()
        with self.transaction():
            self._execute("INSERT INTO sync_log (sync_id, at, kind, action, pos_id, wix_id, note)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?)",
                          [sync_id, now, kind, action, pos_id, wix_id, note])

    def sync_log(self, sync_id: int) -> list[dict[str, Any]]:
        return self._execute("SELECT at, kind, action, pos_id, wix_id, note FROM sync_log"
                             " WHERE sync_id = ? ORDER BY id", [sync_id], named=True).dicts()

    def confirm_sync(self, configuration_id: str) -> None:
        _, now = self._now()
        with self.transaction():
            self._execute("UPDATE configurations SET sync_confirmed_at = coalesce("
                          "sync_confirmed_at, ?) WHERE id = ?", [now, configuration_id])

    def choose_sync_menus(self, configuration_id: str, menu_ids: list[str] | None) -> None:
        _, now = self._now()
        with self.transaction():
            self._execute("UPDATE configurations SET sync_menus = ?, updated_at = ? WHERE id = ?",
                          [None if menu_ids is None else json.dumps(sorted(set(menu_ids))), now,
                           configuration_id])
