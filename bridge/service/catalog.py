"""Catalog sync: a configuration's POS menu written to Wix Restaurants menus, as durable work.

Sync Catalog (SPI) or `bridge sync` starts one (one open per configuration); a `sync_catalog` job
does it in the worker. Each kind is written in an order where references already exist
(modifiers, variants, groups, items, sections, menus), matched to Wix's entities through the
identifiers table (kind, Wix id <-> POS id). An entity is created once, updated only where the
fields the POS owns differ (with Wix's current revision; a stale one is read again), and hidden
when it vanished from the POS. So a second sync of an unchanged menu writes nothing, and a sync
cut short (Wix down, the worker killed) resumes where it was: what was created is mapped the
moment Wix answers, and a create whose answer was lost is found again (an item by its external
reference, another entity by its name among those this sync created) instead of made twice.
"""
from __future__ import annotations

import logging
from collections import Counter
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

from bridge import logs
from bridge.domain.menus import Catalog, InvalidCatalog, Menu, item_list, parse_catalog
from bridge.pos import base
from bridge.pos.base import PosError, PosRejected, PosUnavailable
from bridge.pos.registry import NoPosForSite, PosClients
from bridge.service import incidents, jobs
from bridge.service.accounts import SiteAccounts
from bridge.service.outcomes import Fail, Retry, no_wix, pos_answers, wix_answers
from bridge.storage.port import Configuration, Job, Store, Sync, SyncState, epoch
from bridge.wix import menus as wix_menus
from bridge.wix.port import Wix, WixRejected
from bridge.wix.menus import BULK_LIMIT, KINDS, Kind, MenusApi

log = logging.getLogger(__name__)
NO_CREDENTIALS_RECHECK_SECONDS = 300
STALE_RETRIES = 3


class SyncRefused(Exception):
    """A sync that cannot start: `code` names why (the SPI's and the CLI's answer)."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


def start(store: Store, configuration: Configuration) -> tuple[Sync, bool]:
    """Queue a sync of the configuration, or answer the one still open (False)."""
    if configuration.sync_confirmed_at is None:
        raise SyncRefused(
            f"the first sync of configuration {configuration.id} hides the menus already on "
            "the site for its location: the owner must confirm it first (`bridge sync "
            f"{configuration.id} --confirm`)", "CONFIRMATION_REQUIRED")
    with store.transaction():
        sync, new = store.start_sync(configuration.instance_id, configuration.id)
        if new:
            store.enqueue(jobs.sync_catalog(sync.id, configuration.instance_id, configuration.id))
    logs.info(log, "catalog_sync_queued" if new else "catalog_sync_already_open",
              sync=sync.id, configuration=configuration.id)
    return sync, new


def confirm(store: Store, configuration: Configuration) -> None:
    if configuration.sync_confirmed_at is None:
        store.confirm_sync(configuration.id)
        logs.warning(log, "catalog_sync_confirmed", configuration=configuration.id,
                     note="the owner agreed that syncing hides the menus already on the site "
                          "for this location")


class MenusUnavailable(Exception):
    """The POS's menus cannot be listed now: the message says why, in the owner's words."""


def pos_menus(pos: PosClients, configuration: Configuration) -> list[Menu]:
    """The POS's menus for the configuration's location, for the owner to choose from."""
    try:
        site = pos.site(configuration.instance_id)
    except NoPosForSite:
        raise MenusUnavailable("connect your POS first") from None
    try:
        raw = base.fetch_menu(site.client, configuration.pos_location_id)
    except PosError as error:
        raise MenusUnavailable(f"your POS did not send its menu: {error}") from None
    if raw is None:
        raise MenusUnavailable(f"the {site.key} POS client cannot send its menu")
    try:
        return list(parse_catalog(raw).menus)
    except InvalidCatalog as error:
        raise MenusUnavailable(str(error)) from None


# The bridge's reason codes -> SyncFailed.Code, whose values the POS Integration spec
# (wix-rest-docs all/all-apis/point-of-sale-integration.service.json) lists: NONE, OTHER,
# SYSTEM_ERROR, ACCOUNT_NOT_FOUND, ACCOUNT_NOT_AUTHORIZED, LOCATION_NOT_FOUND,
# ACCOUNT_NOT_CONNECTED, ACCOUNT_CONFIGURATION, OVERLOADED_MENU. The bridge's own code goes in
# `params` for whoever reads further.
SYNC_FAILED_CODES = {"UNSUPPORTED": "ACCOUNT_CONFIGURATION", "SYNC_ERROR": "SYSTEM_ERROR",
                     "WIX_REJECTED": "OTHER", "INVALID_MENU": "OTHER", "EMPTY_MENU": "OTHER"}


def status(store: Store, configuration_id: str, now: float) -> dict[str, Any]:
    """Get Catalog Sync Status's answer, from the newest sync."""
    syncs = store.list_syncs(configuration_id, limit=1)
    if not syncs:
        return {"status": "UNKNOWN"}
    sync = syncs[0]
    answer: dict[str, Any] = {"status": sync.status}
    if sync.status in (SyncState.PENDING, SyncState.IN_PROGRESS):
        since = epoch(sync.started_at or sync.created_at)
        answer["inProgress"] = {"elapsedSeconds": max(0, int(now - since))}
    elif sync.status == SyncState.SYNCED:
        answer["synced"] = {"lastSyncDate": sync.ended_at}
    else:
        answer["failed"] = {"reason": sync.error,
                            "code": SYNC_FAILED_CODES.get(sync.error_code or "", "OTHER"),
                            "params": {"bridgeCode": sync.error_code or ""},
                            **({"lastSyncDate": sync.ended_at} if sync.ended_at else {})}
    return answer


# Fields an update never sends: a menu's location is set once, at creation (Wix's "About
# Business Locations").
SET_AT_CREATION = frozenset({"businessLocationId"})


def _updatable(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k not in SET_AT_CREATION}


class SyncCatalog:
    """The `sync_catalog` job: fetch the menu from the site's POS, write it to Wix."""

    def __init__(self, store: Store, wix: Wix | None, pos: PosClients,
                 accounts: SiteAccounts):
        self.store = store
        self.wix = wix
        self.pos = pos
        self.accounts = accounts

    def run(self, job: Job) -> None:
        sync = self.store.get_sync(job.payload["sync_id"])
        configuration = self.store.get_configuration(job.payload["configuration_id"])
        if sync is None or configuration is None:
            raise Fail("the sync or its configuration is not stored")
        if sync.status in (SyncState.SYNCED, SyncState.FAILED):
            return
        if self.wix is None:
            raise no_wix(NO_CREDENTIALS_RECHECK_SECONDS)
        self.store.set_sync(sync.id, SyncState.IN_PROGRESS)
        sync = self.store.get_sync(sync.id)
        with pos_answers():
            site = self.pos.site(configuration.instance_id)
        try:
            raw = base.fetch_menu(site.client, configuration.pos_location_id)
        except PosRejected as error:
            raise Fail(f"the POS refused the menu request: {error}") from None
        except PosUnavailable as error:
            raise Retry(f"the POS did not send its menu: {error}") from None
        if raw is None:
            self._failed(sync, f"the {site.key} POS client cannot send its menu", "UNSUPPORTED")
            return
        try:
            catalog = parse_catalog(raw)
            if configuration.sync_menus is not None:
                catalog = catalog.only(configuration.sync_menus)
        except InvalidCatalog as error:
            self._failed(sync, str(error), error.code)
            return
        self.store.set_sync_items(sync.id, item_list(catalog))
        for reason in catalog.skipped:
            self.store.log_sync(sync.id, "skipped", note=reason)
        try:
            with wix_answers("; the sync resumes where it was"):
                counts = Writer(self.store, MenusApi(self.wix), sync,
                                configuration).write(catalog)
        except WixRejected as error:
            self._failed(sync, f"Wix refused a menu write: {error}", "WIX_REJECTED")
            return
        counts["skipped"] = len(catalog.skipped)
        self.store.set_sync(sync.id, SyncState.SYNCED, counts=counts)
        logs.info(log, "catalog_synced", sync=sync.id, configuration=configuration.id,
                  **{k.replace(".", "_"): v for k, v in counts.items()})

    def _failed(self, sync: Sync, reason: str, code: str) -> None:
        self.store.set_sync(sync.id, SyncState.FAILED, error=reason, code=code)
        self.store.log_sync(sync.id, "failed", note=reason)
        configuration = self.store.get_configuration(sync.configuration_id)
        where = (configuration.location_name if configuration and configuration.location_name
                 else sync.configuration_id)
        incidents.incident(self.store, sync.instance_id,
                               incidents.IncidentKind.SYNC_FAILED, f"sync:{sync.id}",
                               f"The menu sync for {where} failed ({code})", reason)
        logs.warning(log, "catalog_sync_failed", sync=sync.id, code=code, reason=reason)

    def failed(self, job: Job, reason: str, cause: str | None = None) -> None:
        sync = self.store.get_sync(job.payload["sync_id"])
        if sync is not None and sync.status not in (SyncState.SYNCED, SyncState.FAILED):
            self._failed(sync, reason, "SYNC_ERROR")


class Writer:
    """Writes one catalog for one configuration; every write is recorded as it lands."""

    def __init__(self, store: Store, menus: MenusApi, sync: Sync, configuration: Configuration):
        self.store = store
        self.menus = menus
        self.sync = sync
        self.configuration = configuration
        self.instance_id = configuration.instance_id
        self.ids: dict[str, dict[str, str]] = {}     # kind -> POS id -> Wix id
        self.counts: Counter[str] = Counter()

    def write(self, catalog: Catalog) -> dict[str, int]:
        first = not any(s.status == SyncState.SYNCED
                        for s in self.store.list_syncs(self.configuration.id, limit=100))
        for kind in KINDS:
            self._kind(kind, dict(self._desired(kind, catalog)))
        if first:
            self._hide_menus_not_ours()
        return dict(self.counts)

    # -- what the POS says each entity is ---------------------------------------------------

    def _desired(self, kind: Kind, catalog: Catalog) -> Iterable[tuple[str, dict[str, Any]]]:
        ids = self.ids
        if kind is wix_menus.MODIFIER:
            for m in catalog.modifiers:
                yield m.pos_id, {"name": m.name, "inStock": m.in_stock}
        elif kind is wix_menus.VARIANT:
            for v in catalog.variants:
                yield v.pos_id, {"name": v.name}
        elif kind is wix_menus.MODIFIER_GROUP:
            for g in catalog.modifier_groups:
                rule: dict[str, Any] = {"required": g.required, "minSelections": g.min_selections}
                if g.max_selections is not None:
                    rule["maxSelections"] = g.max_selections
                yield g.pos_id, {"name": g.name, "rule": rule, "modifiers": [
                    {"id": ids["modifier"][c.modifier_id], "preSelected": c.preselected,
                     "additionalChargeInfo": {"additionalCharge": _money(c.price)}}
                    for c in g.choices if c.modifier_id in ids["modifier"]]}
        elif kind is wix_menus.ITEM:
            for i in catalog.items:
                fields: dict[str, Any] = {
                    "name": i.name, "visible": i.visible,
                    "modifierGroups": [{"id": g} for g in self._refs("modifier_group",
                                                                       i.modifier_group_ids)],
                    "orderSettings": {"inStock": i.in_stock}}
                if i.price is not None:
                    fields["priceInfo"] = {"price": _money(i.price)}
                else:
                    fields["priceVariants"] = {"variants": [
                        {"variantId": ids["variant"][v], "priceInfo": {"price": _money(p)}}
                        for v, p in i.variant_prices if v in ids["variant"]]}
                if i.description:
                    fields["description"] = i.description
                yield i.pos_id, fields
        elif kind is wix_menus.SECTION:
            for s in catalog.sections:
                fields = {"name": s.name, "visible": True,
                          "itemIds": self._refs("item", s.item_ids)}
                if s.description:
                    fields["description"] = s.description
                yield s.pos_id, fields
        elif kind is wix_menus.MENU:
            for m in catalog.menus:
                fields = {"name": m.name, "visible": True,
                          "sectionIds": self._refs("section", m.section_ids)}
                if m.description:
                    fields["description"] = m.description
                if self.configuration.wix_location_id:
                    fields["businessLocationId"] = self.configuration.wix_location_id
                # Each configuration (location) has its own menus; the rest is shared.
                yield f"{self.configuration.id}/{m.pos_id}", fields

    def _refs(self, kind: str, pos_ids: Iterable[str]) -> list[str]:
        """The Wix ids of entities written before (one Wix refused is left out)."""
        mapped = self.ids[kind]
        return [mapped[p] for p in pos_ids if p in mapped]

    # -- writing a kind ---------------------------------------------------------------------

    def _kind(self, kind: Kind, desired: dict[str, dict[str, Any]]) -> None:
        mapped = {pos: wix for wix, pos in self.store.identifiers(self.instance_id,
                                                                  kind.name).items()}
        existing = {e["id"]: e for e in self.menus.query(self.instance_id, kind) if e.get("id")}
        missing = [p for p in desired if mapped.get(p) not in existing]
        if missing:
            for pos_id, wix_id in self._found_again(kind, missing, mapped, existing,
                                                    desired).items():
                mapped[pos_id] = wix_id
        creates = [p for p in desired if mapped.get(p) not in existing]
        for chunk in _chunks(creates):
            outcomes = self.menus.bulk_create(self.instance_id, kind,
                                              [desired[p] for p in chunk])
            with self.store.transaction():
                for outcome in outcomes:
                    pos_id = chunk[outcome.index]
                    if outcome.wix_id:
                        self.store.set_identifier(self.instance_id, kind.name, outcome.wix_id,
                                                  pos_id)
                        mapped[pos_id] = outcome.wix_id
                        self._log(kind, "created", pos_id, outcome.wix_id)
                    else:
                        self._log(kind, "refused", pos_id, None, _error(outcome.error))
        updates = [(p, desired[p]) for p in desired
                   if mapped.get(p) in existing   # what was just created is not in it
                   and _changed(_updatable(desired[p]), existing[mapped[p]])]
        vanished = [(p, w) for p, w in mapped.items() if p not in desired and w in existing
                    and self._owned(kind, p)]
        hides = [(p, _hidden(kind)) for p, w in vanished
                 if _hidden(kind) and _changed(_hidden(kind), existing[w])]
        self._update(kind, [(p, f, "updated") for p, f in updates]
                     + [(p, f, "hidden") for p, f in hides], mapped, existing)
        self.ids[kind.name] = {p: w for p, w in mapped.items() if p in desired}

    def _owned(self, kind: Kind, pos_id: str) -> bool:
        """Menus belong to one configuration; everything else to the site."""
        return kind is not wix_menus.MENU or pos_id.startswith(f"{self.configuration.id}/")

    def _update(self, kind: Kind, writes: list[tuple[str, dict[str, Any], str]],
                mapped: dict[str, str], existing: dict[str, dict[str, Any]]) -> None:
        for attempt in range(STALE_RETRIES):
            stale = []
            for chunk in _chunks(writes):
                updates = []
                for pos_id, fields, _ in chunk:
                    current = existing[mapped[pos_id]]
                    mask = sorted(k for k in _updatable(fields)
                                  if _changed({k: fields[k]}, current))
                    updates.append(({**{k: fields[k] for k in mask}, "id": current["id"],
                                     "revision": current.get("revision")}, mask))
                outcomes = self.menus.bulk_update(self.instance_id, kind, updates)
                with self.store.transaction():
                    for outcome in outcomes:
                        pos_id, _, action = chunk[outcome.index]
                        if outcome.error is None:
                            self._log(kind, action, pos_id, mapped[pos_id])
                        elif outcome.stale and attempt + 1 < STALE_RETRIES:
                            stale.append(chunk[outcome.index])
                        else:
                            self._log(kind, "refused", pos_id, mapped[pos_id],
                                      _error(outcome.error))
            if not stale:
                return
            # Someone changed them since they were read: read them again, and write once more.
            wanted = [mapped[p] for p, _, _ in stale]
            for entity in self.menus.query(self.instance_id, kind, {"id": {"$in": wanted}}):
                existing[entity["id"]] = entity
            writes = stale
            self.counts[f"{kind.name}.stale"] += len(stale)

    def _found_again(self, kind: Kind, missing: list[str], mapped: dict[str, str],
                     existing: dict[str, dict[str, Any]], desired: dict[str, dict[str, Any]]
                     ) -> dict[str, str]:
        """Entities this sync created whose answer was lost, known by their name among those
        created since the sync started and mapped to nothing. (Wix's `externalReferenceInfo`
        is internal, absent from the public types: the bridge's identifiers table is the one
        record of which POS entity a Wix entity is.)"""
        taken = set(mapped.values())
        since = self.sync.started_at
        found: dict[str, str] = {}
        by_name: dict[str, list[str]] = {}
        for wix_id, entity in existing.items():
            if wix_id not in taken and since and _created_since(entity, since):
                by_name.setdefault(entity.get("name"), []).append(wix_id)
        for pos_id in missing:
            candidates = by_name.get(desired[pos_id].get("name"))
            if candidates:
                found[pos_id] = candidates.pop(0)
        with self.store.transaction():
            for pos_id, wix_id in found.items():
                self.store.set_identifier(self.instance_id, kind.name, wix_id, pos_id)
                self._log(kind, "found_again", pos_id, wix_id,
                          "created before its answer was lost; not created twice")
        return found

    def _hide_menus_not_ours(self) -> None:
        """Syncing takes the location's menus over: the ones already there are hidden (the
        owner confirmed it before the first sync)."""
        ours = set(self.store.identifiers(self.instance_id, "menu"))
        location = self.configuration.wix_location_id
        hides = []
        for menu in self.menus.query(self.instance_id, wix_menus.MENU):
            if menu.get("id") in ours or menu.get("visible") is False:
                continue
            if location and menu.get("businessLocationId") not in (None, location):
                continue
            hides.append(({"id": menu["id"], "revision": menu.get("revision"),
                           "visible": False}, ["visible"]))
        for chunk in _chunks(hides):
            self.menus.bulk_update(self.instance_id, wix_menus.MENU, chunk)
            with self.store.transaction():
                for entity, _ in chunk:
                    self._log(wix_menus.MENU, "hidden", None, entity["id"],
                              "on the site before the first sync")

    def _log(self, kind: Kind, action: str, pos_id: str | None, wix_id: str | None,
             note: str | None = None) -> None:
        self.counts[f"{kind.name}.{action}"] += 1
        self.store.log_sync(self.sync.id, action, kind=kind.name, pos_id=pos_id, wix_id=wix_id,
                            note=note)


def _hidden(kind: Kind) -> dict[str, Any] | None:
    """How a vanished entity is hidden (kept, so orders that name it still map)."""
    if kind in (wix_menus.ITEM, wix_menus.SECTION, wix_menus.MENU):
        return {"visible": False}
    if kind is wix_menus.MODIFIER:
        return {"inStock": False}
    return None  # groups and variants: nothing shows them once nothing refers to them


def _changed(desired: dict[str, Any], current: dict[str, Any]) -> bool:
    return not _matches(desired, current)


def _matches(desired: Any, current: Any) -> bool:
    """Whether Wix already has what the POS says. Only the fields the bridge writes count (Wix
    adds its own: dates, its app id in a reference), and "7.5" and "7.50" are one price."""
    if isinstance(desired, dict):
        return isinstance(current, dict) and all(
            _matches(value, current.get(key)) for key, value in desired.items()
            if value is not None)
    if isinstance(desired, list):
        return (isinstance(current, list) and len(desired) == len(current)
                and all(_matches(d, c) for d, c in zip(desired, current)))
    return _scalar(desired) == _scalar(current)


def _scalar(value: Any) -> Any:
    if isinstance(value, str) and value[:1].isdigit():
        try:
            return Decimal(value).normalize()
        except InvalidOperation:
            return value
    return value


def _money(amount: Decimal) -> str:
    return format(amount, "f")


def _chunks(entries: list) -> Iterable[list]:
    for start in range(0, len(entries), BULK_LIMIT):
        yield entries[start:start + BULK_LIMIT]


def _error(error: dict[str, Any] | None) -> str:
    error = error or {}
    return f"{error.get('code', 'UNKNOWN')}: {error.get('description', '')}".strip(": ")


def _created_since(entity: dict[str, Any], since: str) -> bool:
    created = entity.get("createdDate")
    try:
        return bool(created) and epoch(str(created)) >= epoch(since) - 5
    except ValueError:
        return False

