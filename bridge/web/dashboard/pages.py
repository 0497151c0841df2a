"""The owner's dashboard: server-rendered pages over the services the CLI uses, one site at a time.

Every page is `/dashboard/sites/<site>/...`: the same pages serve an owner (their site only) and
the operator (any site). Forms post, then redirect back with a message (post/redirect/get); a form
with bad input is shown again, status 422, with the message beside the field.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   session, url_for)

from bridge import logs
from bridge.domain.failures import Cause
from bridge.domain.lifecycle import OrderState
from bridge.pos import base, registry
from bridge.pos.base import PosError
from bridge.service import (auto_sync, catalog, jobs, legacy, notifications, replay,
                            site_status, square_connect)
from bridge.service import configurations as wix_configurations
from bridge.service.accounts import AccountError
from bridge.storage.port import AccountState, BreakerState, Direction, ImportState, iso
from bridge.web.dashboard import access, glossary, views
from bridge.wix.port import WixError
from bridge.wix.instance import BadInstance

log = logging.getLogger(__name__)
blueprint = Blueprint("dashboard", __name__, url_prefix="/dashboard",
                      template_folder="../templates", static_folder="../static",
                      static_url_path="/static")

PAGE_ORDERS = 100    # orders a page lists, and how many more "Show more" adds
MAX_ORDERS = 2000    # beyond that, the CLI (`bridge orders --limit`) or the order's number


def _bridge():
    return current_app.extensions["bridge"]


@blueprint.after_request
def headers(response):
    return access.secure_headers(response, _bridge().config.frame_ancestors)


@blueprint.context_processor
def template_names() -> dict[str, Any]:
    viewer = access.viewer()
    site = (request.view_args or {}).get("site")
    mine = bool(site and viewer and viewer.may_see(site))
    zone = _bridge().store.time_zone(site) if mine else None
    return {"csrf_token": access.csrf_token, "viewer": viewer, "words": glossary,
            "operator_login": bool(_bridge().config.operator_password),
            "status": _status(site, zone) if mine else None, "zone": zone or "UTC",
            "failed_count": _failed_count(site) if mine else 0,
            "local": lambda at, with_date=True: views.local(at, zone, with_date=with_date),
            "fix_url": lambda fix: url_for(f".{_FIX_PAGES[fix]}", site=site),
            "customer_name": views.customer_name, "items_line": views.items_line,
            "money": views.money}


_FIX_PAGES = {"account": "account", "locations": "locations", "menus": "menus"}


def _status(site: str, zone: str | None) -> site_status.SiteStatus:
    """The strip on every page of a site (bridge/service/site_status.py)."""
    bridge = _bridge()
    return site_status.site_status(bridge.store, site, served=bridge.pos.serves,
                                   wix_connected=bridge.wix is not None, time_zone=zone,
                                   now=time.time())


def _failed_count(site: str) -> int:
    """For the badge beside Orders in the nav: failed orders and imports, up to a page."""
    store = _bridge().store
    return (len(store.list_orders(OrderState.FAILED.value, PAGE_ORDERS, instance_id=site))
            + len(store.list_imports(ImportState.FAILED.value, PAGE_ORDERS, instance_id=site)))


def _held(site: str) -> bool:
    """The site's POS is not answering: its queued orders are held, not merely on their way."""
    breaker = _bridge().store.breaker(jobs.pos_destination(site))
    return breaker is not None and breaker.state != BreakerState.CLOSED


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


def _page(template: str, site: str, status: int = 200, **values):
    return render_template(f"dashboard/{template}.html", site=site, **values), status


# -- entering -----------------------------------------------------------------------------

@blueprint.get("/")
def enter():
    """Wix opens this in its iframe with `?instance=...`; a bookmark lands here too."""
    parameter = request.args.get("instance")
    if parameter:
        visitor, refused = _from_wix(parameter)
        if visitor is None:
            return render_template("dashboard/unknown.html", reason=refused), 401
        current = access.replaces_another(visitor)
        if current is not None:  # asked, in a form only this session can send
            logs.warning(log, "dashboard_switch_asked", current_site=current.site,
                         operator=current.operator, arriving_site=visitor.site)
            return render_template("dashboard/switch.html", current=current, arriving=visitor,
                                   instance=parameter, site=None)
        access.enter(visitor)
        return redirect(url_for(".overview", site=visitor.site))
    found = access.viewer()
    if found is None:
        return render_template("dashboard/unknown.html", reason=None), 401
    if found.operator:
        return redirect(url_for(".sites"))
    return redirect(url_for(".overview", site=found.site))


@blueprint.post("/switch")
def switch():
    """The viewer agreed to leave their open session for the site of Wix's link."""
    visitor, refused = _from_wix(request.form.get("instance", ""))
    if visitor is None:
        return render_template("dashboard/unknown.html", reason=refused), 401
    access.enter(visitor)
    return redirect(url_for(".overview", site=visitor.site))


def _from_wix(parameter: str) -> tuple[access.Viewer | None, str | None]:
    """Who Wix's signed link names, or why it was refused."""
    bridge = _bridge()
    try:
        return access.from_wix(parameter, bridge.config.wix_app_secret,
                               bridge.config.wix_app_id), None
    except BadInstance as error:
        logs.warning(log, "dashboard_instance_refused", reason=str(error))
        return None, str(error)


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    bridge = _bridge()
    if not bridge.config.operator_password:
        return render_template("dashboard/login.html", disabled=True), 404
    if request.method == "GET":
        return render_template("dashboard/login.html", disabled=False)
    wait = access.login_wait(bridge.store, request.remote_addr)
    if wait > 0:
        logs.warning(log, "operator_login_throttled", address=request.remote_addr)
        return render_template("dashboard/login.html", disabled=False, errors={
            "password": f"Too many tries: wait {int(wait) + 1} seconds."}), 429
    if not access.log_in(request.form.get("password", ""), bridge.config.operator_password):
        return render_template("dashboard/login.html", disabled=False,
                               errors={"password": "That is not the operator's password."}), 401
    return redirect(url_for(".sites"))


@blueprint.post("/logout")
def logout():
    access.log_out()
    return redirect(url_for(".enter"))


@blueprint.get("/sites")
def sites():
    found = access.viewer()
    if found is None or not found.operator:
        abort(401 if found is None else 404)
    store = _bridge().store
    every = store.list_accounts()
    active = {a.instance_id: a for a in every if a.status == AccountState.ACTIVE}  # newest last
    known = set(store.installed_instances()) | {a.instance_id for a in every}
    known.update(c.instance_id for c in store.list_configurations())
    rows = [{"site": s, "account": active.get(s),
             "failed": len(store.list_orders(OrderState.FAILED.value, PAGE_ORDERS,
                                             instance_id=s))} for s in sorted(known)]
    return render_template("dashboard/sites.html", rows=rows, site=None)


# -- one site -----------------------------------------------------------------------------

@blueprint.get("/sites/<site>/")
def overview(site: str):
    access.require(site)
    return _overview(site)


def _with_status(site: str) -> list:
    """The site's configurations, each with the status Wix is told of it."""
    bridge = _bridge()
    now = time.time()
    return [(c, bridge.accounts.status(site, c, now))
            for c in bridge.store.list_configurations(site)]


def _overview(site: str, status: int = 200, **values):
    bridge = _bridge()
    store = bridge.store
    return _page("overview", site, status, page_title="Overview",
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
    waiting = notifications.set_address(_bridge().store, site, email or None)
    if _bridge().config.mailer is None:
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
    _bridge().store.set_time_zone(site, zone)
    flash(f"Times are shown in {zone} now.")
    return redirect(url_for(".overview", site=site))


_NEW_LEGACY_URL = "new_legacy_url"


@blueprint.post("/sites/<site>/legacy-url")
def legacy_url(site: str):
    access.require(site)
    store = _bridge().store
    currency = request.form.get("currency", "").strip().upper()
    errors = {}
    if not (len(currency) == 3 and currency.isalpha()):
        errors["currency"] = "Give the 3-letter currency code, e.g. USD."
    if store.site_legacy_endpoint(site) and request.form.get("confirm") != "yes":
        errors["legacy_confirm"] = ("Tick the box: the address you have now stops working, and "
                                    "the original app must be given the new one.")
    # The operator's configured address, never the request's Host or X-Forwarded-Proto (which
    # whoever sends the request writes).
    public_url = _bridge().config.public_url
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


# -- the POS account ----------------------------------------------------------------------

def _client_fields(client: str) -> list:
    """The settings an owner sets for this POS in the form (the rest are the operator's, or
    set by the bridge: an OAuth token). With Square's OAuth on, its token is Square's to give."""
    fields = [s for s in registry.declared_settings().get(client) or ()
              if s.owner and s.kind != "managed"]
    if client == "square" and _bridge().square_oauth is not None:
        fields = [s for s in fields if s.name != "POS_SQUARE_ACCESS_TOKEN"]
    return fields


def _account_names(client: str) -> set[str]:
    """Every setting an account of this POS holds: the form's and the bridge's own."""
    return {s.name for s in registry.declared_settings().get(client) or () if s.owner}


def _in_owner_words(message: str, fields: list) -> str:
    """A setting's name in a message becomes the label its owner sees beside the field."""
    for field in fields:
        if field.label:
            message = message.replace(field.name, f"“{field.label}”")
    return message


def _account_page(site: str, client: str | None, status: int = 200, **values):
    bridge = _bridge()
    account = bridge.store.account_for_instance(site)
    clients = sorted(registry.available())
    if client not in clients:  # the site's own, else the one this bridge runs by default
        client = account.pos_client if account else bridge.pos.name
    stored: dict[str, str] = {}
    if account is not None and account.pos_client == client:
        try:
            stored = dict(bridge.accounts.credentials(account))
        except AccountError:
            stored = {}
    fields = _client_fields(client) if client else []
    # What the form shows in each field: what was typed (after a refusal), else what is set;
    # never a secret, which is only ever said to be set.
    typed = values.pop("typed", {})
    shown = {f.name: typed.get(f.name, stored.get(f.name, "")) for f in fields
             if f.kind != "secret"}
    oauth = client == "square" and bridge.square_oauth is not None
    return _page("account", site, status, page_title="POS account", account=account,
                 clients=clients, client=client, fields=fields, stored=set(stored),
                 shown=shown, square_oauth=oauth,
                 square_connected=oauth and bool(stored.get(square_connect.REFRESH)),
                 can_connect=bridge.config.public_url is not None, **values)


@blueprint.get("/sites/<site>/account")
def account(site: str):
    access.require(site)
    return _account_page(site, request.args.get("pos"))


@blueprint.post("/sites/<site>/account")
def save_account(site: str):
    access.require(site)
    bridge = _bridge()
    client = request.form.get("pos", "")
    if client not in registry.available():
        return _account_page(site, None, 422, errors={"pos": "Choose your POS."})
    fields = _client_fields(client)
    names = [s.name for s in fields]
    typed = {n: request.form.get(n, "").strip() for n in names}
    given = {n: v for n, v in typed.items() if v}
    refused = {"typed": typed}
    problems = bridge.accounts.problems(client, given, by_owner=True)
    if problems:
        return _account_page(site, client, 422, errors={
            n: _in_owner_words(m, fields) for n, m in problems.items()}, **refused)
    current = bridge.store.account_for_instance(site)
    unpaired = current is not None and current.pos_client != client and any(
        c.pos_location_id for c in bridge.store.list_configurations(site))
    kept: dict[str, str] = {}
    if current is not None and current.pos_client == client:
        try:
            # Empty fields keep what was set; a setting owners no longer set is dropped.
            kept = {k: v for k, v in bridge.accounts.credentials(current).items()
                    if k in _account_names(client)}
        except AccountError as error:
            return _account_page(site, client, 422, errors={"form": str(error)}, **refused)
    try:
        saved = bridge.accounts.save(site, client, {**kept, **given}, clients=bridge.pos,
                                     by_owner=True)
    except AccountError as error:
        field = next((n for n in names if n in str(error)), "form")
        return _account_page(site, client, 422, errors={
            field: _in_owner_words(str(error), fields)}, **refused)
    checked = bridge.accounts.check(saved, bridge.pos)
    flash("Saved. " + (f"Your POS did not accept them: {checked.check_error}"
                       if checked.check_error else
                       "Your POS accepted them." if checked.merchant_id else
                       "Your POS is first asked when an order comes.")
          + (" Your locations were paired with your previous POS: pair them again on the "
             "Locations page." if unpaired else ""))
    return redirect(url_for(".account", site=site))


def _site_account(site: str):
    found = _bridge().store.account_for_instance(site)
    if found is None:
        abort(404)
    return found


@blueprint.post("/sites/<site>/account/check")
def check_account(site: str):
    access.require(site)
    bridge = _bridge()
    current = _site_account(site)
    checked = bridge.accounts.check(current, bridge.pos)
    flash(f"Your POS did not accept the settings: {checked.check_error}"
          if checked.check_error else "Your POS accepted the settings." if checked.merchant_id
          else "This POS cannot be asked about its settings: it is first contacted when an "
               "order comes.")
    return redirect(url_for(".account", site=site))


@blueprint.post("/sites/<site>/account/disconnect")
def disconnect_account(site: str):
    access.require(site)
    bridge = _bridge()
    current = _site_account(site)
    if request.form.get("confirm") != "yes":
        return _account_page(site, None, 422, errors={
            "disconnect": "Tick the box: no more orders will reach your POS."})
    given_back = square_connect.disconnect(bridge.accounts, bridge.square_oauth, current)
    _disconnect(lambda: wix_configurations.disconnect_account(bridge.store, bridge.wix,
                                                              current.id),
                "Disconnected: no more orders go to this POS account."
                + (" Square took back this app's access." if given_back else ""))
    return redirect(url_for(".account", site=site))


def _disconnect(disconnect, done: str) -> None:
    """Wix is told first: when it refuses, nothing changed, and the page says so."""
    try:
        disconnect()
    except WixError as error:
        flash(f"Wix refused the disconnection; nothing changed: {error}")
        return
    flash(done + (" Wix was told." if _bridge().wix else
                  " (This app cannot reach Wix yet, so Wix was not told.)"))


# -- locations ----------------------------------------------------------------------------

def _pos_locations(account_):
    """The POS's locations to choose from, None when they must be typed, and why."""
    if account_ is None:
        return None, None
    bridge = _bridge()
    try:
        found = base.list_locations(bridge.pos.of_account(bridge.accounts.pos_account(account_))
                                    .client)
    except (PosError, AccountError) as error:
        return None, f"Your POS did not list its locations ({error}): type the location's id."
    return found, None


def _locations_page(site: str, status: int = 200, **values):
    bridge = _bridge()
    account_ = bridge.store.account_for_instance(site)
    choices, note = _pos_locations(account_)
    return _page("locations", site, status, rows=_with_status(site), choices=choices,
                 note=note, account=account_, can_ask_wix=bridge.wix is not None, **values)


def _of_site(found, site: str):
    """`found` when it is this site's; otherwise 404, as for one that does not exist."""
    if found is None or found.instance_id != site:
        abort(404)
    return found


def _site_configuration(site: str, configuration_id: str):
    return _of_site(_bridge().store.get_configuration(configuration_id), site)


@blueprint.get("/sites/<site>/locations")
def locations(site: str):
    access.require(site)
    return _locations_page(site)


@blueprint.post("/sites/<site>/locations/refresh")
def refresh_locations(site: str):
    access.require(site)
    bridge = _bridge()
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
    store = _bridge().store
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
    _site_configuration(site, configuration_id)
    pos_location = request.form.get("pos_location", "").strip()
    wix_location = request.form.get("wix_location", "").strip() or None
    choices, _ = _pos_locations(_bridge().store.account_for_instance(site))
    error = None
    if not pos_location:
        error = "Choose the POS location this location's orders go to."
    elif choices is not None and pos_location not in {c.id for c in choices}:
        error = f"Your POS has no location {pos_location!r}."
    if error:
        return _locations_page(site, 422, errors={f"pos_location:{configuration_id}": error})
    store = _bridge().store
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
    _site_configuration(site, configuration_id)
    _bridge().store.pair_configuration(configuration_id, pos_location_id=None)
    flash("Unpaired: this location's orders go nowhere until it is paired again.")
    return redirect(url_for(".locations", site=site))


@blueprint.post("/sites/<site>/locations/<configuration_id>/disconnect")
def disconnect_location(site: str, configuration_id: str):
    access.require(site)
    bridge = _bridge()
    configuration = _site_configuration(site, configuration_id)
    if request.form.get("confirm") != "yes":
        return _locations_page(site, 422, errors={
            f"disconnect:{configuration_id}": "Tick the box: this location's orders will no "
                                              "longer reach your POS."})
    _disconnect(lambda: wix_configurations.disconnect_configuration(bridge.store, bridge.wix,
                                                                    configuration),
                "Disconnected: this location's orders no longer reach your POS.")
    return redirect(url_for(".locations", site=site))


# -- menus --------------------------------------------------------------------------------

@blueprint.get("/sites/<site>/menus")
def menus(site: str):
    access.require(site)
    return _menus_page(site)


def _menus_page(site: str, status: int = 200, **values):
    store = _bridge().store
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
    return _page("menus", site, status, page_title="Menus", rows=rows,
                 every=auto_sync.EVERY, has_account=store.account_for_instance(site) is not None,
                 **values)


@blueprint.post("/sites/<site>/menus/<configuration_id>/auto-sync")
def set_auto_sync(site: str, configuration_id: str):
    access.require(site)
    configuration = _site_configuration(site, configuration_id)
    every = request.form.get("every") or None
    if every is not None and every not in auto_sync.EVERY:
        return _menus_page(site, 422, errors={f"every:{configuration_id}": "Choose how often."})
    at = auto_sync.set_every(_bridge().store, configuration, every)
    zone = _bridge().store.time_zone(site)
    flash(f"Your menu syncs on its own {auto_sync.EVERY[every]}; next at "
          f"{views.local(iso(at), zone)}." if every and at else
          "Your menu syncs only when you press Sync now.")
    return redirect(url_for(".menus", site=site))


@blueprint.post("/sites/<site>/menus/<configuration_id>/sync")
def sync_menu(site: str, configuration_id: str):
    access.require(site)
    store = _bridge().store
    configuration = _site_configuration(site, configuration_id)
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
        offered, note = catalog.pos_menus(_bridge().pos, configuration), None
    except (catalog.MenusUnavailable, AccountError) as error:
        offered, note = [], str(error)
    return _page("choose", site, status, configuration=configuration, offered=offered,
                 note=note, **values)


@blueprint.get("/sites/<site>/menus/<configuration_id>/choose")
def choose_menus(site: str, configuration_id: str):
    access.require(site)
    return _choose_page(site, _site_configuration(site, configuration_id))


@blueprint.post("/sites/<site>/menus/<configuration_id>/choose")
def save_menu_choice(site: str, configuration_id: str):
    access.require(site)
    configuration = _site_configuration(site, configuration_id)
    chosen = [m for m in request.form.getlist("menu") if m.strip()]
    if request.form.get("which") != "all" and not chosen:
        return _choose_page(site, configuration, 422, errors={
            "menu": "Tick at least one menu, or choose every menu."})
    menu_ids = None if request.form.get("which") == "all" else chosen
    _bridge().store.choose_sync_menus(configuration_id, menu_ids)
    logs.info(log, "sync_menus_chosen", configuration=configuration_id,
              menus=",".join(menu_ids) if menu_ids is not None else "all")
    flash("Saved: the next sync writes " + ("every menu of your POS." if menu_ids is None
                                            else f"{len(menu_ids)} chosen menu(s)."))
    return redirect(url_for(".menus", site=site))


@blueprint.get("/sites/<site>/menus/syncs/<int:sync_id>")
def sync_log(site: str, sync_id: int):
    access.require(site)
    store = _bridge().store
    found = _of_site(store.get_sync(sync_id), site)
    return _page("sync", site, sync=found, log=store.sync_log(sync_id))


# -- orders -------------------------------------------------------------------------------

REFRESH_SECONDS = 20   # how often the orders list reloads itself

# An order state's filter, applied to orders taken at the POS that are not in Wix yet.
_IMPORTS_LIKE = {None: None, "failed": {ImportState.FAILED},
                 "queued": {ImportState.PENDING, ImportState.CREATING, ImportState.CREATED}}


@blueprint.get("/sites/<site>/orders")
def orders(site: str):
    access.require(site)
    store = _bridge().store
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
    held = _held(site)
    rows = [(o, views.contents(o), views.owner_state(o, held=held)) for o in found]
    import_states = _IMPORTS_LIKE.get(state, set())
    imports = [i for i in store.list_imports(None, PAGE_ORDERS, instance_id=site)
               if i.state != ImportState.DONE and i.wix_order_id is None
               and direction != Direction.EXPORTED
               and (import_states is None or i.state in import_states)
               and (not number or i.pos_order_id == number)]
    more = (url_for(".orders", site=site, state=state or "", direction=direction or "",
                    shown=shown + PAGE_ORDERS)
            if not number and len(found) == shown and shown < MAX_ORDERS else None)
    return _page("orders", site, page_title="Orders", rows=rows, state=state,
                 direction=direction, number=number, states=[s.value for s in OrderState],
                 imports=imports, more=more, refresh=REFRESH_SECONDS,
                 any_failed=any(o.state == OrderState.FAILED for o in found)
                 or bool(store.list_orders(OrderState.FAILED.value, 1, instance_id=site)))


@blueprint.post("/sites/<site>/orders/replay-failed")
def replay_failed(site: str):
    """Every failed order of the site, and every failed import, sent again at once."""
    access.require(site)
    store = _bridge().store
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
    return _of_site(_bridge().store.get_order(site, wix_order_id), site)


@blueprint.get("/sites/<site>/orders/<wix_order_id>")
def order(site: str, wix_order_id: str):
    access.require(site)
    found = _site_order(site, wix_order_id)
    history = _bridge().store.history(site, wix_order_id)
    failed_jobs = [j for j in history["jobs"] if j["state"] == "failed"]
    return _page("order", site, page_title=f"Order {found.number or found.wix_order_id}",
                 order=found, form=views.contents(found),
                 owner_state=views.owner_state(found, held=_held(site)), history=history,
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
    store = _bridge().store
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
    store = _bridge().store
    found = _of_site(store.get_import(import_id), site)
    ids = replay.replay(store, import_id=import_id)
    flash(f"Replayed: the POS order {found.pos_order_id} is being added to Wix again." if ids
          else "Nothing to replay: it has not failed.")
    return redirect(url_for(".orders", site=site))


@blueprint.get("/sites/<site>/help")
def help_page(site: str):
    access.require(site)
    return _page("help", site, terms=_bridge().config.terms)
