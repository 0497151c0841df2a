"""A site's overview: what needs its owner, where problems are emailed, the time zone times are
shown in, the original Restaurants app's address; and the help page."""
from __future__ import annotations

import logging

from flask import flash, redirect, request, session, url_for

from bridge.domain.lifecycle import OrderState
from bridge.service import legacy, notifications
from bridge.storage.port import ImportState
from bridge.web.dashboard import access, views
from bridge.web.dashboard.blueprint import PAGE_ORDERS, blueprint, page, the_bridge

log = logging.getLogger(__name__)


@blueprint.get("/sites/<site>/")
def overview(site: str):
    access.require(site)
    return _overview(site)


def _overview(site: str, status: int = 200, **values):
    bridge = the_bridge()
    store = bridge.store
    return page("overview", site, status, page_title="Overview",
                 failed=store.list_orders(OrderState.FAILED.value, PAGE_ORDERS,
                                          instance_id=site),
                 failed_imports=store.list_imports(ImportState.FAILED.value, PAGE_ORDERS,
                                                   instance_id=site),
                 email=store.notify_email(site), installed=store.instance_status(site),
                 mail_on=bridge.config.mailer is not None, zones=views.time_zones(),
                 legacy=store.site_legacy_endpoint(site),
                 legacy_url=session.pop(_NEW_LEGACY_URL, None), **values)


@blueprint.post("/sites/<site>/notifications")
def set_notifications(site: str):
    access.require(site)
    email = request.form.get("email", "").strip()
    if email and ("@" not in email or any(c.isspace() for c in email) or len(email) > 254):
        return _overview(site, 422, errors={"email": f"{email!r} is not an email address."},
                         email_input=email)
    waiting = notifications.set_address(the_bridge().store, site, email or None)
    if the_bridge().config.mailer is None:
        flash("Saved, but this app does not send email yet: its provider has not set it up. "
              "The problems stay listed here.")
    else:
        flash((f"Notifications go to {email}." if email else "Notifications are off.")
              + (f" {waiting} waiting notice(s) will be sent." if waiting else ""))
    return redirect(url_for(".overview", site=site))


@blueprint.post("/sites/<site>/time-zone")
def set_time_zone(site: str):
    access.require(site)
    zone = request.form.get("time_zone", "").strip()
    if zone not in views.time_zones():
        return _overview(site, 422, errors={"time_zone": "Choose your time zone from the list, "
                                                         "e.g. America/New_York."})
    the_bridge().store.set_time_zone(site, zone)
    flash(f"Times are shown in {zone} now.")
    return redirect(url_for(".overview", site=site))


_NEW_LEGACY_URL = "new_legacy_url"


@blueprint.post("/sites/<site>/legacy-url")
def legacy_url(site: str):
    access.require(site)
    store = the_bridge().store
    currency = request.form.get("currency", "").strip().upper()
    errors = {}
    if not (len(currency) == 3 and currency.isalpha()):
        errors["currency"] = "Give the 3-letter currency code, e.g. USD."
    if store.site_legacy_endpoint(site) and request.form.get("confirm") != "yes":
        errors["legacy_confirm"] = ("Tick the box: the address you have now stops working, and "
                                    "the original app must be given the new one.")
    # The operator's configured address, never the request's Host or X-Forwarded-Proto (which
    # whoever sends the request writes).
    public_url = the_bridge().config.public_url
    if public_url is None:
        errors["currency"] = ("This app's provider has not finished setting it up (its public "
                              "address): ask them.")
    if errors:
        return _overview(site, 422, errors=errors, currency_input=currency)
    token = legacy.new_token(store, site, currency)
    # Shown once, on the page this redirects to (a reload of it makes no other): the session
    # carries it that far and no further.
    session[_NEW_LEGACY_URL] = f"{public_url}/legacy/{token}/orders"
    return redirect(url_for(".overview", site=site))



@blueprint.get("/sites/<site>/help")
def help_page(site: str):
    access.require(site)
    return page("help", site, terms=the_bridge().config.terms)
