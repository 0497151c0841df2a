"""The site's locations: each paired with a POS location, unpaired, disconnected, refreshed
from Wix or added by hand."""
from __future__ import annotations

import logging
import time

from flask import flash, redirect, request, url_for

from bridge import logs
from bridge.domain.failures import Cause
from bridge.domain.lifecycle import OrderState
from bridge.pos import base
from bridge.pos.base import PosError
from bridge.service import replay
from bridge.service import configurations as wix_configurations
from bridge.service.accounts import AccountError
from bridge.web.dashboard import access
from bridge.web.dashboard.blueprint import (MAX_ORDERS, blueprint, disconnect_and_say, page,
                                            site_configuration, the_bridge)
from bridge.wix.port import WixError

log = logging.getLogger(__name__)


def _with_status(site: str) -> list:
    """The site's configurations, each with the status Wix is told of it."""
    bridge = the_bridge()
    now = time.time()
    return [(c, bridge.accounts.status(site, c, now))
            for c in bridge.store.list_configurations(site)]



def _pos_locations(account_):
    """The POS's locations to choose from, None when they must be typed, and why."""
    if account_ is None:
        return None, None
    bridge = the_bridge()
    try:
        found = base.list_locations(bridge.pos.of_account(bridge.accounts.pos_account(account_))
                                    .client)
    except (PosError, AccountError) as error:
        return None, f"Your POS did not list its locations ({error}): type the location's id."
    return found, None


def _locations_page(site: str, status: int = 200, **values):
    bridge = the_bridge()
    account_ = bridge.store.account_for_instance(site)
    choices, note = _pos_locations(account_)
    return page("locations", site, status, rows=_with_status(site), choices=choices,
                 note=note, account=account_, can_ask_wix=bridge.wix is not None, **values)


@blueprint.get("/sites/<site>/locations")
def locations(site: str):
    access.require(site)
    return _locations_page(site)


@blueprint.post("/sites/<site>/locations/refresh")
def refresh_locations(site: str):
    access.require(site)
    bridge = the_bridge()
    if bridge.wix is None:
        flash("This app cannot reach Wix yet: its provider has to finish setting it up. Until "
              "then it cannot ask Wix for your locations.")
    else:
        try:
            listed = wix_configurations.refresh(bridge.store, bridge.wix, site)
        except WixError as error:
            flash(f"Wix did not list your locations: {error}")
        else:
            flash(f"Wix lists {len(listed)} location(s).")
    return redirect(url_for(".locations", site=site))


@blueprint.post("/sites/<site>/locations/add")
def add_location(site: str):
    access.require(site)
    store = the_bridge().store
    configuration_id = request.form.get("configuration", "").strip()
    name = request.form.get("name", "").strip() or None
    existing = store.get_configuration(configuration_id) if configuration_id else None
    if not configuration_id or (existing is not None and existing.instance_id != site):
        return _locations_page(site, 422, errors={
            "configuration": "Give the configuration id Wix shows for this location."
            if not configuration_id else "That id belongs to another site."},
            added={"configuration": configuration_id, "name": name or ""})
    account_ = store.account_for_instance(site)
    store.save_configuration(configuration_id, site, location_name=name,
                             account_id=account_.id if account_ else None)
    flash(f"Location {name or configuration_id} added.")
    return redirect(url_for(".locations", site=site))


@blueprint.post("/sites/<site>/locations/<configuration_id>/pair")
def pair(site: str, configuration_id: str):
    access.require(site)
    site_configuration(site, configuration_id)
    pos_location = request.form.get("pos_location", "").strip()
    wix_location = request.form.get("wix_location", "").strip() or None
    choices, _ = _pos_locations(the_bridge().store.account_for_instance(site))
    error = None
    if not pos_location:
        error = "Choose the POS location this location's orders go to."
    elif choices is not None and pos_location not in {c.id for c in choices}:
        error = f"Your POS has no location {pos_location!r}."
    if error:
        return _locations_page(site, 422, errors={f"pos_location:{configuration_id}": error})
    store = the_bridge().store
    store.pair_configuration(configuration_id, pos_location_id=pos_location,
                             wix_location_id=wix_location)
    logs.info(log, "configuration_paired", configuration=configuration_id,
              pos_location=pos_location)
    # The orders that failed for want of a pairing go again: those of this location are sent,
    # those of a location still unpaired fail again with the same cause.
    waiting = [o for o in store.list_orders(OrderState.FAILED.value, MAX_ORDERS, instance_id=site)
               if o.failure == Cause.NOT_PAIRED]
    for order_ in waiting:
        replay.replay(store, order=(site, order_.wix_order_id))
    flash("Paired: this location's orders go to that POS location."
          + (f" {len(waiting)} order(s) that waited for a pairing are sent again."
             if waiting else ""))
    return redirect(url_for(".locations", site=site))


@blueprint.post("/sites/<site>/locations/<configuration_id>/unpair")
def unpair(site: str, configuration_id: str):
    access.require(site)
    site_configuration(site, configuration_id)
    if request.form.get("confirm") != "yes":
        return _locations_page(site, 422, errors={
            f"unpair:{configuration_id}": "Tick the box: this location's orders will fail "
                                          "until it is paired again."})
    the_bridge().store.pair_configuration(configuration_id, pos_location_id=None)
    flash("Unpaired: this location's orders fail until it is paired again.")
    return redirect(url_for(".locations", site=site))


@blueprint.post("/sites/<site>/locations/<configuration_id>/disconnect")
def disconnect_location(site: str, configuration_id: str):
    access.require(site)
    bridge = the_bridge()
    configuration = site_configuration(site, configuration_id)
    if request.form.get("confirm") != "yes":
        return _locations_page(site, 422, errors={
            f"disconnect:{configuration_id}": "Tick the box: this location's orders will no "
                                              "longer reach your POS."})
    disconnect_and_say(lambda: wix_configurations.disconnect_configuration(bridge.store, bridge.wix,
                                                                    configuration),
                "Disconnected: this location's orders no longer reach your POS.")
    return redirect(url_for(".locations", site=site))
