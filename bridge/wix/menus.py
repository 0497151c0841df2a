"""Wix Restaurants menus (menus, sections, items, modifier groups, modifiers, variants) over REST.

Every kind has the same calls under its own base: query with a cursor, bulk create and bulk
update of up to 100 (an update carries the entity's current `revision`; Wix refuses a stale one,
and names the fields it changes in a field mask, which the wire carries as one comma-separated
string, as @wix/sdk-runtime's `transformations/field-mask` writes it). A bulk answer reports
each entity on its own (`results[].<kind>Metadata {id, originalIndex, success, error}`, the key
per kind and call as each package names it: @wix/auto_sdk_restaurants_menus@1.0.82,
..._sections@1.0.74, ..._items@1.0.89, ..._item-modifier-groups@1.0.75,
..._item-modifiers@1.0.71, ..._item-variants@1.0.67), so one refused entity does not hide the
others' ids; a result that says no success is a failure.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from bridge.wix.port import Wix

BULK_LIMIT = 100
PAGE_LIMIT = 100


@dataclass(frozen=True)
class Kind:
    name: str            # the bridge's name, also the identifiers kind
    base: str
    plural: str          # path segment and body key
    body_key: str        # camelCase plural in bodies
    update_path: str     # the bulk update path (one kind spells it differently)
    created: str = "itemMetadata"   # a bulk create result's metadata key
    updated: str = "itemMetadata"   # a bulk update result's metadata key
    mask: str = "mask"              # a masked entity's field mask key


MODIFIER = Kind("modifier", "/restaurants/item-modifiers/v1", "modifiers", "modifiers",
                "/bulk/modifiers/update")
VARIANT = Kind("variant", "/restaurants/item-variants/v1", "variants", "variants",
               "/bulk/variants/update", mask="fieldMask")
MODIFIER_GROUP = Kind("modifier_group", "/restaurants/item-modifier-group/v1", "modifier-groups",
                      "modifierGroups", "/bulk/modifiers-groups/update")
ITEM = Kind("item", "/restaurants/menus-item/v1", "items", "items", "/bulk/items/update")
SECTION = Kind("section", "/restaurants/menus-section/v1", "sections", "sections",
               "/bulk/sections/update", updated="sectionMetadata")
MENU = Kind("menu", "/restaurants/menus-menu/v1", "menus", "menus", "/bulk/menus/update",
            created="menuMetadata", updated="menuMetadata")

# In the order a sync writes them: each refers only to kinds written before it.
KINDS = (MODIFIER, VARIANT, MODIFIER_GROUP, ITEM, SECTION, MENU)


@dataclass(frozen=True)
class Outcome:
    """One entity of a bulk call: its index in the request, its Wix id, or Wix's error."""
    index: int
    wix_id: str | None
    error: dict[str, Any] | None = None

    @property
    def stale(self) -> bool:
        code = str((self.error or {}).get("code", "")).upper()
        return "REVISION" in code or "CONFLICT" in code


class MenusApi:
    def __init__(self, wix: Wix):
        self.wix = wix

    def query(self, instance_id: str, kind: Kind, filter: dict[str, Any] | None = None
              ) -> Iterator[dict[str, Any]]:
        """Every entity of a kind (matching `filter`), a page at a time."""
        cursor = None
        while True:
            paging: dict[str, Any] = {"limit": PAGE_LIMIT}
            if cursor:
                paging["cursor"] = cursor
            query: dict[str, Any] = {"cursorPaging": paging}
            if filter and not cursor:
                query["filter"] = filter
            answer = self.wix.call("POST", f"{kind.base}/{kind.plural}/query", instance_id,
                                   {"query": query})
            yield from (e for e in answer.get(kind.body_key) or [] if isinstance(e, dict))
            meta = answer.get("pagingMetadata") or {}
            cursor = (meta.get("cursors") or {}).get("next")
            if not meta.get("hasNext") or not cursor:
                return

    def bulk_create(self, instance_id: str, kind: Kind, entities: list[dict[str, Any]]
                    ) -> list[Outcome]:
        assert len(entities) <= BULK_LIMIT
        answer = self.wix.call("POST", f"{kind.base}/bulk/{kind.plural}/create", instance_id,
                               {kind.body_key: entities, "returnEntity": False},
                               repeatable=False)
        return _outcomes(answer, kind.created)

    def bulk_update(self, instance_id: str, kind: Kind,
                    updates: list[tuple[dict[str, Any], list[str]]]) -> list[Outcome]:
        """`updates`: (the entity with its id and revision, the fields it changes)."""
        assert len(updates) <= BULK_LIMIT
        body_key = kind.body_key
        singular = {"modifierGroups": "modifierGroup"}.get(body_key, body_key[:-1])
        answer = self.wix.call("POST", kind.base + kind.update_path, instance_id,
                               {body_key: [{singular: entity, kind.mask: ",".join(mask)}
                                           for entity, mask in updates],
                                "returnEntity": False})
        return _outcomes(answer, kind.updated)


def _outcomes(answer: dict[str, Any], key: str) -> list[Outcome]:
    found = []
    for n, result in enumerate(answer.get("results") or []):
        meta = (result or {}).get(key) if isinstance(result, dict) else None
        meta = meta if isinstance(meta, dict) else {}
        index = meta.get("originalIndex", n)
        ok = meta.get("success") is True
        error = meta.get("error") if isinstance(meta.get("error"), dict) else None
        found.append(Outcome(index if isinstance(index, int) else n,
                             meta.get("id") if ok else None,
                             None if ok else (error or {"code": "NO_RESULT",
                                                        "description": f"no {key} said "
                                                                       "it succeeded"})))
    return found
