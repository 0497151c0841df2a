"""POS orders into Wix: an order taken at the POS becomes a Wix order, exactly once.

`record` stores what the POS reported (from a callback, or in-process) and queues an
`import_order` job; the job maps the order (items and modifiers through the catalog sync's
identifiers, the POS location through the pairing, the location's Restaurants operation), then
creates it in Wix. Create Order has no idempotency key, so the import is marked `creating` (and
committed) before the call, and an import found in that state searches Wix by its external id
before creating again: a timeout or a crash between Wix's answer and the commit never makes a
second Wix order. Wix then sends the import back as `order_created`: `own_import` tells the
event handler, which must never send it to the POS.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

from bridge import logs
from bridge.config import ServedSites
from bridge.domain.imports import (OTHER_PLATFORM, PosOrderCreated, UnmappedItem,
                                   check_mapped, parse_pos_order, wix_order_body)
from bridge.domain.orders import InvalidOrder, restaurant_items
from bridge.pos import base
from bridge.pos.base import PosRejected, PosUnavailable
from bridge.pos.registry import NoPosForSite, PosClients
from bridge.service import incidents, jobs, statuses
from bridge.service.accounts import ITEM
from bridge.service.outcomes import NO_WIX, Fail, Retry, no_wix, wix_answers
from bridge.storage.port import Direction, Import, ImportState, Job, Store
from bridge.wix import fulfillments
from bridge.wix import menus as wix_menus
from bridge.wix.port import Wix, WixRejected
from bridge.wix.menus import MenusApi

log = logging.getLogger(__name__)
NO_CREDENTIALS_RECHECK_SECONDS = 60
UNKNOWN_SITE = ""  # an import no site could be found for: kept, failed, visible


def record(store: Store, pos_key: str, instance_id: str | None,
           reports: list[PosOrderCreated], *, served: ServedSites = ServedSites()
           ) -> list[int]:
    """Store reported POS orders and queue their imports; a repeated report is stored once.
    `instance_id`: the site of the account whose POS reported them; None for the environment's
    POS, which imports only into a site it serves (`served`)."""
    queued = []
    with store.transaction():
        for report in reports:
            site = (instance_id or site_for_location(store, report.location_id, served)
                    or UNKNOWN_SITE)
            imported, new = store.add_import(site, pos_key, report.pos_order_id,
                                             dict(report.order) if report.order else None)
            if not new:
                logs.info(log, "pos_order_repeated", pos=pos_key,
                          pos_order_id=report.pos_order_id, import_id=imported.id)
                continue
            store.enqueue(jobs.import_order(imported.id, site))
            queued.append(imported.id)
            logs.info(log, "pos_order_reported", pos=pos_key, pos_order_id=report.pos_order_id,
                      import_id=imported.id, instance_id=site or None)
    return queued


def site_for_location(store: Store, pos_location_id: str | None, served: ServedSites
                      ) -> str | None:
    """The site of an order the environment's POS took, among the sites it serves: the one whose
    configuration is paired with the order's POS location, else the only one named, else the
    only installed site (a deployment for one restaurant)."""
    if pos_location_id:
        sites = {c.instance_id for c in store.list_configurations()
                 if c.pos_location_id == pos_location_id and c.instance_id in served}
        if len(sites) == 1:
            return sites.pop()
    if len(served.named) == 1:
        return next(iter(served.named))
    installed = [i for i in store.installed_instances() if i in served]
    return installed[0] if len(installed) == 1 else None


def own_import(store: Store, instance_id: str, order: Mapping[str, Any],
               app_id: str | None) -> Import | bool:
    """Whether a Wix order is one the bridge created from a POS order: its import, or True
    when only Wix's own marks say so (created by this app, from another platform)."""
    channel = order.get("channelInfo") or {}
    external = channel.get("externalOrderId")
    if external and channel.get("type") == OTHER_PLATFORM:
        found = store.find_import(instance_id, str(external))
        if found is not None:
            return found
    created_by = (order.get("createdBy") or {}).get("appId")
    return bool(app_id) and created_by == app_id and channel.get("type") == OTHER_PLATFORM


class ImportOrder:
    """The `import_order` job."""

    def __init__(self, store: Store, wix: Wix | None, pos: PosClients, *,
                 notify_buyer: bool = False):
        self.store = store
        self.wix = wix
        self.pos = pos
        self.notify_buyer = notify_buyer

    def run(self, job: Job) -> None:
        imported = self.store.get_import(job.payload["import_id"])
        if imported is None:
            raise Fail(f"import {job.payload['import_id']} is not stored")
        if imported.state == ImportState.DONE:
            return
        if not imported.instance_id:
            raise Fail("no site could be told for this POS order: pair its POS location with "
                       "a site's configuration (`bridge configurations pair`), then replay")
        if self.store.instance_status(imported.instance_id) == "removed":
            raise Fail(statuses.APP_REMOVED)
        if self.wix is None:
            self.store.set_import(imported.id, imported.state, error=NO_WIX)  # `bridge imports`
            raise no_wix(NO_CREDENTIALS_RECHECK_SECONDS)
        raw = imported.pos_order or self._fetch(imported)
        if raw is None:
            return
        try:
            order = parse_pos_order(raw)
        except InvalidOrder as error:
            raise Fail(f"the POS order cannot be imported: {error}") from None
        mapped = self.store.find_order_by_pos_id(imported.pos_client, imported.pos_order_id)
        if mapped is not None and mapped.direction != Direction.IMPORTED:
            self._done(imported, "the bridge's own export: not imported")
            return
        try:
            with wix_answers("; Wix is searched before another create"):
                wix_order = self._in_wix(imported, order)
        except UnmappedItem as error:
            raise Fail(str(error)) from None
        except WixRejected as error:
            raise Fail(f"Wix refused the order: {error}") from None
        self._done(imported, None, wix_order)

    def _fetch(self, imported: Import) -> dict[str, Any] | None:
        try:
            client = self.pos.holding(imported.pos_client, imported.instance_id).client
            raw = base.fetch_order(client, imported.pos_order_id)
        except NoPosForSite as error:
            raise Fail(str(error)) from None
        except PosRejected as error:
            raise Fail(f"the POS would not give the order: {error}") from None
        except PosUnavailable as error:
            raise Retry(f"the POS did not give the order: {error}") from None
        except base.NotAnImport as error:
            self._done(imported, str(error))
            return None
        if raw is None:
            raise Fail("the POS client cannot fetch its orders (fetch_order): the report must "
                       "carry the order")
        self.store.set_import(imported.id, imported.state, pos_order=dict(raw))
        return dict(raw)

    def _in_wix(self, imported: Import, order) -> dict[str, Any]:
        """The Wix order: found again if an earlier create went through, else created."""
        instance_id = imported.instance_id
        try:
            configured = base.item_map(self.pos.holding(imported.pos_client, instance_id).client)
        except NoPosForSite as error:
            raise Fail(str(error)) from None
        items = {**_pos_to_wix(configured), **_pos_to_wix(self.store.identifiers(instance_id,
                                                                                 ITEM))}
        check_mapped(order, items)   # before anything is asked of Wix
        wix_order = None
        if imported.wix_order_id or imported.state != ImportState.PENDING:
            wix_order = self.wix.find_order_by_external_id(instance_id, imported.pos_order_id)
            if wix_order is not None:
                logs.info(log, "import_found_again", import_id=imported.id,
                          order_id=wix_order["id"])
        if wix_order is None:
            body = self._body(imported, order, items)
            self.store.set_import(imported.id, ImportState.CREATING)
            wix_order = self.wix.create_order(instance_id, body)
        with self.store.transaction():
            self.store.set_import(imported.id, ImportState.CREATED, wix_order_id=wix_order["id"])
            statuses.record_at_pos(
                self.store, wix_order_id=wix_order["id"], instance_id=instance_id,
                pos_key=imported.pos_client, pos_order_id=imported.pos_order_id,
                snapshot=wix_order, wix_status=wix_order.get("status"),
                number=str(wix_order["number"]) if wix_order.get("number") else None,
                direction=Direction.IMPORTED)
        self._pending_fulfillment(instance_id, wix_order)
        return wix_order

    def _body(self, imported: Import, order, items: Mapping[str, str]) -> dict[str, Any]:
        instance_id = imported.instance_id
        configuration = next((c for c in self.store.list_configurations(instance_id)
                              if order.location_id and c.pos_location_id == order.location_id),
                             None) or self.store.configuration_for_location(instance_id, None)
        location = configuration.wix_location_id if configuration else None
        return wix_order_body(
            order, items=items, placements=self._placements(instance_id, location),
            business_location_id=location, operation_id=self._operation(instance_id, location),
            notify_buyer=self.notify_buyer)

    def _placements(self, instance_id: str, location: str | None
                    ) -> dict[str, tuple[str, str]]:
        """Wix item id -> (menu id, section id) of the visible menus, those of the order's
        location first: where the restaurant's orders board files each line."""
        menus = MenusApi(self.wix)
        sections = {s["id"]: s for s in menus.query(instance_id, wix_menus.SECTION)
                    if s.get("id") and s.get("visible", True)}
        found: dict[str, tuple[str, str]] = {}
        every = [m for m in menus.query(instance_id, wix_menus.MENU) if m.get("visible", True)]
        here = [m for m in every if location and m.get("businessLocationId") == location]
        for menu in here + [m for m in every if m not in here]:
            for section_id in menu.get("sectionIds") or []:
                for item_id in (sections.get(section_id) or {}).get("itemIds") or []:
                    found.setdefault(item_id, (menu["id"], section_id))
        return found

    def _operation(self, instance_id: str, location: str | None) -> str | None:
        """The Restaurants operation of the location (or the site's default)."""
        operations = self.wix.list_operations(instance_id)
        here = [o for o in operations if location and o.get("businessLocationId") == location]
        chosen = here or [o for o in operations if o.get("default")] or operations[:1]
        return chosen[0].get("id") if chosen else None

    def _pending_fulfillment(self, instance_id: str, wix_order: dict[str, Any]) -> None:
        """Wix Restaurants makes a `Pending` fulfillment for an import by itself (Wix's
        Restaurants sample flows); if it did not, the bridge does, so statuses have one to move."""
        if self.wix.list_fulfillments(instance_id, wix_order["id"]):
            return
        items = restaurant_items(wix_order)
        self.wix.create_fulfillment(instance_id, wix_order["id"],
                                    fulfillments.pending_body(items))

    def _done(self, imported: Import, note: str | None,
              wix_order: dict[str, Any] | None = None) -> None:
        self.store.set_import(imported.id, ImportState.DONE, error=note)
        logs.info(log, "pos_order_imported" if wix_order else "pos_order_not_imported",
                  import_id=imported.id, pos_order_id=imported.pos_order_id,
                  order_id=wix_order["id"] if wix_order else None, note=note)

    def failed(self, job: Job, reason: str, cause: str | None = None) -> None:
        imported = self.store.get_import(job.payload["import_id"])
        if imported is not None and imported.state != ImportState.DONE:
            self.store.set_import(imported.id, ImportState.FAILED, error=reason)
            incidents.incident(self.store, imported.instance_id,
                               incidents.IncidentKind.ORDER_FAILED,
                               f"import:{imported.id}",
                               f"An order taken at your POS ({imported.pos_order_id}) "
                               "could not be added to Wix", reason)


def _pos_to_wix(identifiers: Mapping[str, str]) -> dict[str, str]:
    return {pos: wix for wix, pos in identifiers.items()}
