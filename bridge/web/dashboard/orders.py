"""The site's orders, with their contents and what to do about a failed one; sending failed
work again."""
from __future__ import annotations

import logging
from typing import Any

from flask import flash, redirect, request, url_for

from bridge import logs
from bridge.domain.lifecycle import OrderState
from bridge.service import replay
from bridge.storage.port import Direction, ImportState
from bridge.web.dashboard import access, glossary, views
from bridge.web.dashboard.blueprint import (MAX_ORDERS, PAGE_ORDERS, blueprint, held, of_site, page,
                                            the_bridge)

log = logging.getLogger(__name__)


REFRESH_SECONDS = 20   # how often the orders list reloads itself

# An order state's filter, applied to orders taken at the POS that are not in Wix yet.
_IMPORTS_LIKE = {None: None, "failed": {ImportState.FAILED},
                 "queued": {ImportState.PENDING, ImportState.CREATING, ImportState.CREATED}}


@blueprint.get("/sites/<site>/orders")
def orders(site: str):
    access.require(site)
    store = the_bridge().store
    state = request.args.get("state") or None
    state = state if state in {s.value for s in OrderState} else None
    direction = request.args.get("direction") or None
    direction = direction if direction in {d.value for d in Direction} else None
    number = request.args.get("number", "").strip().lstrip("#")
    shown = request.args.get("shown", type=int) or PAGE_ORDERS
    shown = min(max(shown, PAGE_ORDERS), MAX_ORDERS)
    if number:  # each site numbers its own orders; another site's of the same number is not here
        found = [o for o in store.find_orders_by_number(number) if o.instance_id == site]
    else:
        found = store.list_orders(state, shown, instance_id=site, direction=direction)
    is_held = held(site)
    rows = [(o, views.contents(o), views.owner_state(o, held=is_held)) for o in found]
    import_states = _IMPORTS_LIKE.get(state, set())
    imports = [i for i in store.list_imports(None, PAGE_ORDERS, instance_id=site)
               if i.state != ImportState.DONE and i.wix_order_id is None
               and direction != Direction.EXPORTED
               and (import_states is None or i.state in import_states)
               and (not number or i.pos_order_id == number)]
    more = (url_for(".orders", site=site, state=state or "", direction=direction or "",
                    shown=shown + PAGE_ORDERS)
            if not number and len(found) == shown and shown < MAX_ORDERS else None)
    return page("orders", site, page_title="Orders", rows=rows, state=state,
                 direction=direction, number=number, states=[s.value for s in OrderState],
                 imports=imports, more=more, refresh=REFRESH_SECONDS,
                 any_failed=any(o.state == OrderState.FAILED for o in found)
                 or bool(store.list_orders(OrderState.FAILED.value, 1, instance_id=site)))


@blueprint.post("/sites/<site>/orders/replay-failed")
def replay_failed(site: str):
    """Every failed order of the site, and every failed import, sent again at once."""
    access.require(site)
    store = the_bridge().store
    failed = store.list_orders(OrderState.FAILED.value, MAX_ORDERS, instance_id=site)
    steps = sum(len(replay.replay(store, order=(site, o.wix_order_id))) for o in failed)
    imports = store.list_imports(ImportState.FAILED.value, MAX_ORDERS, instance_id=site)
    steps += sum(len(replay.replay(store, import_id=i.id)) for i in imports)
    logs.info(log, "dashboard_replay_failed", instance_id=site, orders=len(failed),
              imports=len(imports), jobs=steps)
    flash(f"Sent again: {len(failed)} order(s) and {len(imports)} order(s) taken at your POS."
          if failed or imports else "Nothing to send again: no order has failed.")
    return redirect(url_for(".orders", site=site))


def _site_order(site: str, wix_order_id: str):
    return of_site(the_bridge().store.get_order(site, wix_order_id), site)


@blueprint.get("/sites/<site>/orders/<wix_order_id>")
def order(site: str, wix_order_id: str):
    access.require(site)
    found = _site_order(site, wix_order_id)
    history = the_bridge().store.history(site, wix_order_id)
    failed_jobs = [j for j in history["jobs"] if j["state"] == "failed"]
    return page("order", site, page_title=f"Order {found.number or found.wix_order_id}",
                 order=found, form=views.contents(found),
                 owner_state=views.owner_state(found, held=held(site)), history=history,
                 timeline=_timeline(history), replayable=bool(failed_jobs)
                 or any(i["state"] == ImportState.FAILED for i in history["import"]))


def _timeline(history: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Everything recorded about an order, in one list, oldest first, in the owner's words."""
    kinds = {j["id"]: j["kind"] for j in history["jobs"]}
    rows = [{"at": e["received_at"], "what": f"Wix said: {e['event_type'].rsplit('.', 1)[-1]}"}
            for e in history["events"]]
    rows += [{"at": a["started_at"], "what": glossary.STEPS.get(kinds.get(a["job_id"], ""),
                                                                  "A step"),
              "result": a["outcome"] or "running", "error": a["error"]}
             for a in history["attempts"]]
    rows += [{"at": u["received_at"], "what": f"Your POS said: {u['status']}",
              "result": u["state"], "error": u["note"]} for u in history["status_updates"]]
    rows += [{"at": i["created_at"], "what": f"Taken at your POS ({i['pos_order_id']})",
              "result": i["state"], "error": i["error"]} for i in history["import"]]
    rows += [{"at": a["started_at"], "what": glossary.STEPS["import_order"],
              "result": a["outcome"] or "running", "error": a["error"]}
             for a in history["import_attempts"]]
    return sorted(rows, key=lambda row: row["at"] or "")


@blueprint.post("/sites/<site>/orders/<wix_order_id>/replay")
def replay_order(site: str, wix_order_id: str):
    access.require(site)
    _site_order(site, wix_order_id)
    store = the_bridge().store
    ids = replay.replay(store, order=(site, wix_order_id))
    for row in store.history(site, wix_order_id)["import"]:
        if row["state"] == ImportState.FAILED:
            ids += replay.replay(store, import_id=row["id"])
    logs.info(log, "dashboard_replay", order=wix_order_id, jobs=len(ids))
    flash(f"Replayed: {len(ids)} step(s) queued again." if ids
          else "Nothing to replay: no step of this order failed.")
    return redirect(url_for(".order", site=site, wix_order_id=wix_order_id))


@blueprint.post("/sites/<site>/imports/<int:import_id>/replay")
def replay_import(site: str, import_id: int):
    access.require(site)
    store = the_bridge().store
    found = of_site(store.get_import(import_id), site)
    ids = replay.replay(store, import_id=import_id)
    flash(f"Replayed: the POS order {found.pos_order_id} is being added to Wix again." if ids
          else "Nothing to replay: it has not failed.")
    return redirect(url_for(".orders", site=site))
