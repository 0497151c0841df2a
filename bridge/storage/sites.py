"""Each site (Wix app instance): its install, its POS account, its location configurations,
the original Restaurants app's endpoint, and the incidents its owner is told of."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from bridge.storage.common import SqlBase, where_equal


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
    auto_sync: str | None = None   # how often it syncs on its own (AUTO_SYNC; None: never)


class Instances(Protocol):
    def set_instance(self, instance_id: str, status: str, *, at: str | None = None) -> bool:
        """Install or removal, signed at `at`, applied to the site's state: True when it
        changed it (see SitesSql.set_instance for the rules)."""

    def instance_status(self, instance_id: str) -> str | None: ...

    def installed_instances(self) -> list[str]: ...

    def set_time_zone(self, instance_id: str, time_zone: str | None) -> None:
        """The IANA name its owner reads times in (None: UTC)."""

    def time_zone(self, instance_id: str) -> str | None: ...


class Reconciliations(Protocol):
    def reconcile_cursor(self, instance_id: str, source: str) -> str | None:
        """Where the site's last reconciliation with `source` got to (None: never ran)."""

    def set_reconcile_cursor(self, instance_id: str, source: str, cursor: str | None) -> None:
        ...


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

    def set_auto_sync(self, configuration_id: str, every: str | None) -> None: ...

    def get_configuration(self, configuration_id: str) -> Configuration | None: ...

    def list_configurations(self, instance_id: str | None = None) -> list[Configuration]: ...

    def configuration_for_location(self, instance_id: str, wix_location_id: str | None
                                   ) -> Configuration | None:
        """The site's configuration for a business location: the one paired with it, or the
        site's only configuration when that one names no location."""


class LegacyEndpoints(Protocol):
    def set_legacy_endpoint(self, instance_id: str, token_hash: str, currency: str) -> None:
        """The site's one token (a new one replaces the old: rotation)."""

    def legacy_endpoint(self, token_hash: str) -> tuple[str, str] | None:
        """(site, currency) of a token's hash."""

    def site_legacy_endpoint(self, instance_id: str) -> tuple[str, str] | None:
        """(currency, when it was made) of the site's address, if it has one."""


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


_ACCOUNT_COLUMNS = ("id, instance_id, pos_client, status, authorized, merchant_id, credentials,"
                    " version, checked_at, check_error, created_at, updated_at")


_CONFIGURATION_COLUMNS = ("id, instance_id, account_id, location_name, wix_location_id,"
                          " pos_location_id, enabled, archived, catalog_id, error, created_at,"
                          " updated_at, sync_confirmed_at, sync_menus, auto_sync")


class SitesSql(SqlBase):
    """Sites, their accounts, configurations, endpoints and incidents."""

    def set_instance(self, instance_id: str, status: str, *, at: str | None = None) -> bool:
        """Apply an install or removal signed at `at` to the site's state; True when it changed.

        By state, not by envelope: the same status again changes nothing (a resend); an install
        of a removed site always installs (a re-install may come byte for byte as the first,
        signed before the removal: it then counts from now); a removal signed before the latest
        install is a resend arriving late, and ignored."""
        _, now = self._now()
        column = "installed_at" if status == "installed" else "removed_at"
        with self.transaction():
            row = self._execute("SELECT status, changed_at FROM instances"
                                " WHERE instance_id = ?", [instance_id]).one()
            if row is None:
                self._execute(f"INSERT INTO instances (instance_id, status, {column}, changed_at)"
                              f" VALUES (?, ?, ?, ?)", [instance_id, status, now, at or now])
                return True
            current, changed = row
            if current == status:
                return False
            if status == "removed" and at and changed and at < changed:
                return False
            since = at if at and (not changed or at >= changed) else now
            self._execute(f"UPDATE instances SET status = ?, {column} = ?, changed_at = ?"
                          f" WHERE instance_id = ?", [status, now, since, instance_id])
            return True

    def reconcile_cursor(self, instance_id: str, source: str) -> str | None:
        row = self._execute("SELECT cursor FROM reconciliations WHERE instance_id = ?"
                            " AND source = ?", [instance_id, source]).one()
        return row[0] if row else None

    def set_reconcile_cursor(self, instance_id: str, source: str, cursor: str | None) -> None:
        _, now = self._now()
        self._execute("INSERT INTO reconciliations (instance_id, source, cursor, ran_at)"
                      " VALUES (?, ?, ?, ?) ON CONFLICT (instance_id, source)"
                      " DO UPDATE SET cursor = excluded.cursor, ran_at = excluded.ran_at",
                      [instance_id, source, cursor, now])

    def instance_status(self, instance_id: str) -> str | None:
        row = self._execute("SELECT status FROM instances WHERE instance_id = ?",
                            [instance_id]).one()
        return row[0] if row else None

    def installed_instances(self) -> list[str]:
        rows = self._execute("SELECT instance_id FROM instances WHERE status = 'installed'"
                             " ORDER BY instance_id").rows
        return [r[0] for r in rows]

    @staticmethod
    def _account(row) -> Account:
        values = list(row)
        values[4] = bool(values[4])
        return Account(*values)

    def save_account(self, account_id: str, instance_id: str, pos_client: str,
                     credentials: str | None) -> Account:
        _, now = self._now()
        with self.transaction():
            row = self._execute(
                "INSERT INTO accounts (id, instance_id, pos_client, status, authorized,"
                " credentials, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET pos_client = excluded.pos_client,"
                "   status = excluded.status, authorized = excluded.authorized,"
                "   credentials = excluded.credentials, version = accounts.version + 1,"
                "   checked_at = NULL, check_error = NULL, updated_at = excluded.updated_at"
                f" RETURNING {_ACCOUNT_COLUMNS}",
                [account_id, instance_id, pos_client, AccountState.ACTIVE, False, credentials,
                 now, now]).one()
        return self._account(row)

    def get_account(self, account_id: str) -> Account | None:
        row = self._execute(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE id = ?",
                            [account_id]).one()
        return self._account(row) if row else None

    def account_for_instance(self, instance_id: str) -> Account | None:
        row = self._execute(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts"
                            " WHERE instance_id = ? AND status = ? ORDER BY created_at DESC",
                            [instance_id, AccountState.ACTIVE]).one()
        return self._account(row) if row else None

    def list_accounts(self, instance_id: str | None = None) -> list[Account]:
        where, args = where_equal(instance_id=instance_id)
        rows = self._execute(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts {where}"
                             " ORDER BY instance_id, created_at", args).rows
        return [self._account(r) for r in rows]

    def record_account_check(self, account_id: str, *, error: str | None,
                             merchant_id: str | None = None) -> None:
        _, now = self._now()
        with self.transaction():
            self._execute("UPDATE accounts SET authorized = ?, check_error = ?, checked_at = ?,"
                          " merchant_id = coalesce(?, merchant_id), updated_at = ? WHERE id = ?",
                          [error is None, error, now, merchant_id, now, account_id])

    def set_account_status(self, account_id: str, status: str) -> None:
        _, now = self._now()
        with self.transaction():
            self._execute("UPDATE accounts SET status = ?, updated_at = ? WHERE id = ?",
                          [status, now, account_id])

    def reseal_account(self, account_id: str, credentials: str) -> None:
        with self.transaction():
            self._execute("UPDATE accounts SET credentials = ? WHERE id = ?",
                          [credentials, account_id])

    @staticmethod
    def _configuration(row) -> Configuration:
        values = list(row)
        values[6], values[7] = bool(values[6]), bool(values[7])
        values[13] = tuple(json.loads(values[13])) if values[13] is not None else None
        return Configuration(*values)

    def save_configuration(self, configuration_id: str, instance_id: str, *,
                           location_name: str | None = None, enabled: bool = True,
                           archived: bool = False, catalog_id: str | None = None,
                           account_id: str | None = None) -> Configuration:
        _, now = self._now()
        with self.transaction():
            row = self._execute(
                "INSERT INTO configurations (id, instance_id, account_id, location_name, enabled,"
                " archived, catalog_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET"
                "   account_id = coalesce(excluded.account_id, configurations.account_id),"
                "   location_name = coalesce(excluded.location_name, configurations.location_name),"
                "   enabled = excluded.enabled, archived = excluded.archived,"
                "   catalog_id = coalesce(excluded.catalog_id, configurations.catalog_id),"
                "   updated_at = excluded.updated_at"
                f" RETURNING {_CONFIGURATION_COLUMNS}",
                [configuration_id, instance_id, account_id, location_name, enabled, archived,
                 catalog_id, now, now]).one()
        return self._configuration(row)

    def pair_configuration(self, configuration_id: str, *, pos_location_id: str | None,
                           wix_location_id: str | None = None) -> Configuration | None:
        _, now = self._now()
        with self.transaction():
            row = self._execute(
                "UPDATE configurations SET pos_location_id = ?,"
                " wix_location_id = coalesce(?, wix_location_id), error = NULL, updated_at = ?"
                f" WHERE id = ? RETURNING {_CONFIGURATION_COLUMNS}",
                [pos_location_id, wix_location_id, now, configuration_id]).one()
        return self._configuration(row) if row else None

    def set_auto_sync(self, configuration_id: str, every: str | None) -> None:
        _, now = self._now()
        with self.transaction():
            self._execute("UPDATE configurations SET auto_sync = ?, updated_at = ? WHERE id = ?",
                          [every, now, configuration_id])

    def set_configuration_error(self, configuration_id: str, error: str | None) -> None:
        _, now = self._now()
        with self.transaction():
            self._execute("UPDATE configurations SET error = ?, updated_at = ? WHERE id = ?",
                          [error, now, configuration_id])

    def get_configuration(self, configuration_id: str) -> Configuration | None:
        row = self._execute(f"SELECT {_CONFIGURATION_COLUMNS} FROM configurations WHERE id = ?",
                            [configuration_id]).one()
        return self._configuration(row) if row else None

    def list_configurations(self, instance_id: str | None = None) -> list[Configuration]:
        where, args = where_equal(instance_id=instance_id)
        rows = self._execute(f"SELECT {_CONFIGURATION_COLUMNS} FROM configurations {where}"
                             " ORDER BY instance_id, created_at, id", args).rows
        return [self._configuration(r) for r in rows]

    def configuration_for_location(self, instance_id: str, wix_location_id: str | None
                                   ) -> Configuration | None:
        live = [c for c in self.list_configurations(instance_id) if not c.archived]
        exact = next((c for c in live if wix_location_id
                      and c.wix_location_id == wix_location_id), None)
        if exact is not None:
            return exact
        # A site with one location: its configuration, unless it names another location.
        if len(live) == 1 and (not wix_location_id or not live[0].wix_location_id):
            return live[0]
        return None

    def record_incident(self, instance_id: str, kind: str, key: str, subject: str,
                        detail: str | None) -> int | None:
        _, now = self._now()
        with self.transaction():
            row = self._execute(
                "INSERT INTO incidents (instance_id, kind, key, subject, detail, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (instance_id, kind, key) DO NOTHING"
                " RETURNING id", [instance_id, kind, key, subject, detail, now]).one()
        return row[0] if row else None

    def open_incidents(self, instance_id: str) -> list[Incident]:
        rows = self._execute("SELECT id, instance_id, kind, key, subject, detail, created_at,"
                             " notified_at FROM incidents WHERE instance_id = ?"
                             " AND notified_at IS NULL ORDER BY id", [instance_id]).rows
        return [Incident(*row) for row in rows]

    def mark_notified(self, incident_ids: list[int]) -> None:
        _, now = self._now()
        with self.transaction():
            self._executemany("UPDATE incidents SET notified_at = ? WHERE id = ?",
                              [(now, i) for i in incident_ids])

    def set_notify_email(self, instance_id: str, email: str | None) -> None:
        with self.transaction():
            # A site not installed yet is kept as 'unknown' until its install arrives.
            self._execute("INSERT INTO instances (instance_id, status, notify_email)"
                          " VALUES (?, 'unknown', ?) ON CONFLICT (instance_id)"
                          " DO UPDATE SET notify_email = excluded.notify_email",
                          [instance_id, email])

    def notify_email(self, instance_id: str) -> str | None:
        row = self._execute("SELECT notify_email FROM instances WHERE instance_id = ?",
                            [instance_id]).one()
        return row[0] if row else None

    def set_time_zone(self, instance_id: str, time_zone: str | None) -> None:
        with self.transaction():
            self._execute("INSERT INTO instances (instance_id, status, time_zone)"
                          " VALUES (?, 'unknown', ?) ON CONFLICT (instance_id)"
                          " DO UPDATE SET time_zone = excluded.time_zone",
                          [instance_id, time_zone])

    def time_zone(self, instance_id: str) -> str | None:
        row = self._execute("SELECT time_zone FROM instances WHERE instance_id = ?",
                            [instance_id]).one()
        return row[0] if row else None

    def set_legacy_endpoint(self, instance_id: str, token_hash: str, currency: str) -> None:
        _, now = self._now()
        with self.transaction():
            self._execute("INSERT INTO legacy_endpoints (instance_id, token_hash, currency,"
                          " created_at) VALUES (?, ?, ?, ?) ON CONFLICT (instance_id) DO UPDATE"
                          " SET token_hash = excluded.token_hash, currency = excluded.currency,"
                          " created_at = excluded.created_at",
                          [instance_id, token_hash, currency, now])

    def legacy_endpoint(self, token_hash: str) -> tuple[str, str] | None:
        row = self._execute("SELECT instance_id, currency FROM legacy_endpoints"
                            " WHERE token_hash = ?", [token_hash]).one()
        return (row[0], row[1]) if row else None

    def site_legacy_endpoint(self, instance_id: str) -> tuple[str, str] | None:
        row = self._execute("SELECT currency, created_at FROM legacy_endpoints"
                            " WHERE instance_id = ?", [instance_id]).one()
        return (row[0], row[1]) if row else None
