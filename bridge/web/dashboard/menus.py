"""The site's menus: the items each location's last sync read, its problems, which POS menus
sync, Sync now and the automatic sync, each sync's log."""
from __future__ import annotations

import logging

from flask import flash, redirect, request, url_for

from bridge import logs
from bridge.service import auto_sync, catalog
from bridge.service.accounts import AccountError
from bridge.storage.port import iso
from bridge.web.dashboard import access, glossary, views
from bridge.web.dashboard.blueprint import blueprint, of_site, page, site_configuration, the_bridge

log = logging.getLogger(__name__)


@blueprint.get("/sites/<site>/menus")
def menus(site: str):
    access.require(site)
    return _menus_page(site)


def _menus_page(site: str, status: int = 200, **values):
    store = the_bridge().store
    rows = []
    for configuration in store.list_configurations(site):
        syncs = store.list_syncs(configuration.id, limit=5)
        read = next((s for s in syncs if store.sync_items(s.id) is not None), None)
        rows.append({
            "configuration": configuration, "syncs": syncs,
            "items": store.sync_items(read.id) if read else None, "read": read,
            # What the last sync left out, and why: up front, not only in its log.
            "problems": [row["note"] for row in store.sync_log(syncs[0].id)
                         if row["action"] in ("skipped", "failed") and row["note"]]
            if syncs else []})
    return page("menus", site, status, page_title="Menus", rows=rows,
                 every=auto_sync.EVERY, has_account=store.account_for_instance(site) is not None,
                 **values)


@blueprint.post("/sites/<site>/menus/<configuration_id>/auto-sync")
def set_auto_sync(site: str, configuration_id: str):
    access.require(site)
    configuration = site_configuration(site, configuration_id)
    every = request.form.get("every") or None
    if every is not None and every not in auto_sync.EVERY:
        return _menus_page(site, 422, errors={f"every:{configuration_id}": "Choose how often."})
    at = auto_sync.set_every(the_bridge().store, configuration, every)
    zone = the_bridge().store.time_zone(site)
    flash(f"Your menu syncs on its own {auto_sync.EVERY[every]}; next at "
          f"{views.local(iso(at), zone)}." if every and at else
          "Your menu syncs only when you press Sync now.")
    return redirect(url_for(".menus", site=site))


@blueprint.post("/sites/<site>/menus/<configuration_id>/sync")
def sync_menu(site: str, configuration_id: str):
    access.require(site)
    store = the_bridge().store
    configuration = site_configuration(site, configuration_id)
    if configuration.sync_confirmed_at is None:
        if request.form.get("confirm") != "yes":
            return _menus_page(site, 422, errors={f"confirm:{configuration_id}": glossary
                                                  .ERROR_CODES["CONFIRMATION_REQUIRED"]})
        catalog.confirm(store, configuration)
        configuration = store.get_configuration(configuration_id)
    queued, new = catalog.start(store, configuration)  # confirmed: it is not refused
    flash(f"Sync #{queued.id} started." if new else
          f"Sync #{queued.id} is already {queued.status.lower().replace('_', ' ')}.")
    return redirect(url_for(".menus", site=site))


def _choose_page(site: str, configuration, status: int = 200, **values):
    try:
        offered, note = catalog.pos_menus(the_bridge().pos, configuration), None
    except (catalog.MenusUnavailable, AccountError) as error:
        offered, note = [], str(error)
    return page("choose", site, status, configuration=configuration, offered=offered,
                 note=note, **values)


@blueprint.get("/sites/<site>/menus/<configuration_id>/choose")
def choose_menus(site: str, configuration_id: str):
    access.require(site)
    return _choose_page(site, site_configuration(site, configuration_id))


@blueprint.post("/sites/<site>/menus/<configuration_id>/choose")
def save_menu_choice(site: str, configuration_id: str):
    access.require(site)
    configuration = site_configuration(site, configuration_id)
    chosen = [m for m in request.form.getlist("menu") if m.strip()]
    if request.form.get("which") != "all" and not chosen:
        return _choose_page(site, configuration, 422, errors={
            "menu": "Tick at least one menu, or choose every menu."})
    menu_ids = None if request.form.get("which") == "all" else chosen
    the_bridge().store.choose_sync_menus(configuration_id, menu_ids)
    logs.info(log, "sync_menus_chosen", configuration=configuration_id,
              menus=",".join(menu_ids) if menu_ids is not None else "all")
    flash("Saved: the next sync writes " + ("every menu of your POS." if menu_ids is None
                                            else f"{len(menu_ids)} chosen menu(s)."))
    return redirect(url_for(".menus", site=site))


@blueprint.get("/sites/<site>/menus/syncs/<int:sync_id>")
def sync_log(site: str, sync_id: int):
    access.require(site)
    store = the_bridge().store
    found = of_site(store.get_sync(sync_id), site)
    return page("sync", site, sync=found, log=store.sync_log(sync_id))
