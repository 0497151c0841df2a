"""Wix Restaurants menus, in memory: what the loopback WixServer answers for the menus API.

Keeps every entity with an id, a revision and a created date; refuses a stale revision as Wix
does; counts the calls by kind and operation; and can fail a call, or lose its answer after doing
it, to play Wix timing out mid-sync. Every request is first held to Wix's published
definitions (contract/wix.json: anything they refuse is a 400), and the bulk answers' result
keys and mask fields are read from the same file, not from what the bridge sends.
"""
from __future__ import annotations

import itertools
import threading
from collections import Counter
from datetime import datetime, timezone

from bridge.wix.menus import KINDS
from tests.wix_contract import CONTRACT, call_for, refusals, refused

_BY_BASE = {kind.base: kind for kind in KINDS}


def published(kind, path: str) -> tuple[str, str | None]:
    """(the result metadata key, the field mask key) of a bulk call, as the contract has them
    from the packages: menus answer `menuMetadata`, section updates `sectionMetadata`, the rest
    `itemMetadata`; variants name their mask `fieldMask`."""
    package, _, call = call_for("POST", path)
    types = CONTRACT["packages"][package]["types"]
    result = types[call["response"]]["fields"]["results"]["type"]["list"]["ref"]
    key = next(k for k in types[result]["fields"] if k.endswith("Metadata"))
    masks = call["fieldMasks"]
    return key, masks[0].rsplit(".", 1)[-1] if masks else None


class FakeMenus:
    def __init__(self):
        self.entities: dict[str, dict[str, dict]] = {k.name: {} for k in KINDS}
        self.calls: Counter[str] = Counter()      # "item.create" -> calls
        self.faults: list[tuple[str, str]] = []   # (operation, "fail" | "lose"), used in order
        self._ids = itertools.count(1)
        self.lock = threading.Lock()
        self.on_update = None                     # called with (kind, body) of each update

    def writes(self) -> int:
        return sum(n for op, n in self.calls.items() if not op.endswith(".query"))

    def visible(self, kind: str) -> list[dict]:
        return [e for e in self.entities[kind].values() if e.get("visible", True)]

    def handle(self, method: str, path: str, body: dict | None) -> tuple[int, dict] | None:
        kind = next((k for base, k in _BY_BASE.items() if path.startswith(base + "/")), None)
        if kind is None or method != "POST":
            return None
        rest = path[len(kind.base):]
        if rest == f"/{kind.plural}/query":
            operation = "query"
        elif rest == f"/bulk/{kind.plural}/create":
            operation = "create"
        elif rest == kind.update_path:
            operation = "update"
        else:
            return None
        described = call_for(method, path)
        problems = refusals(described[0], described[2], body or {}) if described else \
            [f"{path}: no such call in the published definitions"]
        if problems:
            return 400, refused(problems)
        with self.lock:
            name = f"{kind.name}.{operation}"
            self.calls[name] += 1
            fault = self.faults.pop(0)[1] if self.faults and self.faults[0][0] == name else None
            if fault == "fail":
                return 503, {"message": "unavailable"}
            answer = getattr(self, f"_{operation}")(kind, body or {})
            return (504, {"message": "timed out"}) if fault == "lose" else (200, answer)

    def _query(self, kind, body):
        query = body.get("query") or {}
        wanted = ((query.get("filter") or {}).get("id") or {}).get("$in")
        every = [e for e in self.entities[kind.name].values()
                 if wanted is None or e["id"] in wanted]
        paging = query.get("cursorPaging") or {}
        start = int(paging.get("cursor") or 0)
        limit = paging.get("limit") or 100
        page = every[start:start + limit]
        more = start + limit < len(every)
        return {kind.body_key: [dict(e) for e in page],
                "pagingMetadata": {"count": len(page), "hasNext": more,
                                   "cursors": {"next": str(start + limit) if more else None}}}

    def _create(self, kind, body):
        result_key, _ = published(kind, f"{kind.base}/bulk/{kind.plural}/create")
        results = []
        for n, entity in enumerate(body.get(kind.body_key) or []):
            wix_id = f"{kind.name}-{next(self._ids)}"
            self.entities[kind.name][wix_id] = {
                **entity, "id": wix_id, "revision": "1",
                "createdDate": datetime.now(timezone.utc).isoformat()}
            results.append({result_key: {"id": wix_id, "originalIndex": n, "success": True}})
        return {"results": results, "bulkActionMetadata": {"totalSuccesses": len(results)}}

    def _update(self, kind, body):
        if self.on_update:
            self.on_update((kind, body))
        result_key, mask_key = published(kind, kind.base + kind.update_path)
        results = []
        for n, masked in enumerate(body.get(kind.body_key) or []):
            mask = masked.get(mask_key) or ""   # its form was checked against the contract
            entity = next((v for k, v in masked.items() if k != mask_key), {})
            stored = self.entities[kind.name].get(entity.get("id"))
            if stored is None or stored["revision"] != entity.get("revision"):
                # The code of a stale revision is not published: an open point.
                results.append({result_key: {
                    "id": entity.get("id"), "originalIndex": n, "success": False,
                    "error": {"code": "REVISION_MISMATCH", "description": "stale revision"}}})
                continue
            for field in filter(None, mask.split(",")):
                stored[field] = entity.get(field)
            stored["revision"] = str(int(stored["revision"]) + 1)
            results.append({result_key: {"id": stored["id"], "originalIndex": n,
                                         "success": True}})
        return {"results": results}


def on_a_menu(wix, item_ids: list[str], *, location: str | None = None,
              operation: str = "op-1") -> None:
    """What a sync leaves in Wix for imports to find: the items in a section of a visible menu
    (at `location`), and a Restaurants operation for it."""
    n = len(wix.menus.entities["menu"]) + 1
    wix.menus.entities["section"][f"sec-{n}"] = {"id": f"sec-{n}", "itemIds": list(item_ids)}
    wix.menus.entities["menu"][f"menu-{n}"] = {"id": f"menu-{n}", "businessLocationId": location,
                                               "sectionIds": [f"sec-{n}"]}
    if not any(o["id"] == operation for o in wix.operations):
        wix.operations.append({"id": operation, "businessLocationId": location,
                               "default": not wix.operations})


def a_menu(items: int = 6, sections: int = 2, groups: int = 2, modifiers_per_group: int = 3
           ) -> dict:
    """A POS menu in the bridge's JSON form: `items` items spread over `sections` sections, each
    item offering one of `groups` modifier groups; the first item priced by size (variants)."""
    modifiers = [{"id": f"mod-{g}-{m}", "name": f"Extra {g}-{m}", "inStock": True}
                 for g in range(groups) for m in range(modifiers_per_group)]
    return {
        "menus": [{"id": "dinner", "name": "Dinner", "description": "From 5 pm",
                   "sectionIds": [f"sec-{s}" for s in range(sections)]}],
        "sections": [{"id": f"sec-{s}", "name": f"Section {s}",
                      "itemIds": [f"item-{i}" for i in range(items) if i % sections == s]}
                     for s in range(sections)],
        "items": [{"id": f"item-{i}", "name": f"Dish {i}", "description": f"Dish number {i}",
                   **({"variants": [{"variantId": "small", "price": "9.50"},
                                    {"variantId": "large", "price": "13.25"}]} if i == 0
                      else {"price": f"{7 + i % 10}.{i % 4 * 25:02d}"}),
                   "modifierGroupIds": [f"group-{i % groups}"] if groups else [],
                   "inStock": True}
                  for i in range(items)],
        "modifierGroups": [{"id": f"group-{g}", "name": f"Extras {g}",
                            "modifiers": [{"modifierId": f"mod-{g}-{m}", "price": "1.00"}
                                          for m in range(modifiers_per_group)],
                            "required": False, "minSelections": 0,
                            "maxSelections": modifiers_per_group}
                           for g in range(groups)],
        "modifiers": modifiers,
        "variants": [{"id": "small", "name": "Small"}, {"id": "large", "name": "Large"}],
    }
