"""The dashboard's blueprint and what its pages share: the bridge they serve, how a page is
answered (its headers, the status strip and names every template has, the error pages), and
the look-ups that keep each thing to its own site.

Every page is `/dashboard/sites/<site>/...`: the same pages serve an owner (their site only) and
the operator (any site). Forms post, then redirect back with a message (post/redirect/get); a form
with bad input is shown again, status 422, with every message beside its field.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from flask import Blueprint, abort, current_app, flash, render_template, request, url_for

from bridge.domain.lifecycle import OrderState
from bridge.service import site_status
from bridge.storage.port import ImportState
from bridge.web.dashboard import access, glossary, views
from bridge.wix.port import WixError

log = logging.getLogger(__name__)

blueprint = Blueprint("dashboard", __name__, url_prefix="/dashboard",
                      template_folder="../templates", static_folder="../static",
                      static_url_path="/static")

PAGE_ORDERS = 100    # orders a page lists, and how many more "Show more" adds
MAX_ORDERS = 2000    # beyond that, the CLI (`bridge orders --limit`) or the order's number


def the_bridge():
    """The bridge this app serves (bridge.bootstrap.Bridge)."""
    return current_app.extensions["bridge"]


@blueprint.after_request
def headers(response):
    return access.secure_headers(response, the_bridge().config.frame_ancestors)


@blueprint.context_processor
def template_names() -> dict[str, Any]:
    viewer = access.viewer()
    site = (request.view_args or {}).get("site")
    mine = bool(site and viewer and viewer.may_see(site))
    zone = the_bridge().store.time_zone(site) if mine else None
    return {"csrf_token": access.csrf_token, "viewer": viewer, "words": glossary,
            "operator_login": bool(the_bridge().config.operator_password),
            "status": _status(site, zone) if mine else None, "zone": zone or "UTC",
            "failed_count": _failed_count(site) if mine else 0,
            "local": lambda at, with_date=True: views.local(at, zone, with_date=with_date),
            "fix_url": lambda fix: url_for(f".{_FIX_PAGES[fix]}", site=site),
            "customer_name": views.customer_name, "items_line": views.items_line,
            "money": views.money}


_FIX_PAGES = {"account": "account", "locations": "locations", "menus": "menus"}


def _status(site: str, zone: str | None) -> site_status.SiteStatus:
    """The strip on every page of a site (bridge/service/site_status.py)."""
    bridge = the_bridge()
    return site_status.site_status(bridge.store, site, served=bridge.pos.serves,
                                   wix_connected=bridge.wix is not None, time_zone=zone,
                                   now=time.time())


def _failed_count(site: str) -> int:
    """For the badge beside Orders in the nav: failed orders and imports, up to a page."""
    store = the_bridge().store
    return (len(store.list_orders(OrderState.FAILED.value, PAGE_ORDERS, instance_id=site))
            + len(store.list_imports(ImportState.FAILED.value, PAGE_ORDERS, instance_id=site)))


def held(site: str) -> bool:
    """The site's POS is not answering: its queued orders are held, not merely on their way."""
    return site_status.holding(the_bridge().store, site) is not None


@blueprint.before_request
def guard():
    if not current_app.secret_key:
        return render_template("dashboard/off.html"), 503
    if request.method == "POST" and request.endpoint != "dashboard.login":
        access.check_csrf()
    return None


_ERRORS = {
    401: ("Open this page from your Wix dashboard",
          "Your session ended or never started: open the app again from your site's dashboard."),
    403: ("The form expired", "Go back, reload the page and send the form again."),
    404: ("Not found", "There is no such page, or it is not yours to see."),
}


@blueprint.errorhandler(401)
@blueprint.errorhandler(403)
@blueprint.errorhandler(404)
def error_page(error):
    title, message = _ERRORS[error.code]
    return render_template("dashboard/error.html", title=title, message=message,
                           site=None), error.code


def page(template: str, site: str, status: int = 200, **values):
    return render_template(f"dashboard/{template}.html", site=site, **values), status


def of_site(found, site: str):
    """`found` when it is this site's; otherwise 404, as for one that does not exist."""
    if found is None or found.instance_id != site:
        abort(404)
    return found


def site_configuration(site: str, configuration_id: str):
    return of_site(the_bridge().store.get_configuration(configuration_id), site)


def site_account(site: str):
    found = the_bridge().store.account_for_instance(site)
    if found is None:
        abort(404)
    return found


def disconnect_and_say(disconnect, done: str) -> None:
    """Wix is told first: when it refuses, nothing changed, and the page says so."""
    try:
        disconnect()
    except WixError as error:
        flash(f"Wix refused the disconnection; nothing changed: {error}")
        return
    flash(done + (" Wix was told." if the_bridge().wix else
                  " (This app cannot reach Wix yet, so Wix was not told.)"))
