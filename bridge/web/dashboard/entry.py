"""Coming in: from Wix's signed link (an owner, one site), or the operator's login (every
site), and the operator's list of sites."""
from __future__ import annotations

import logging

from flask import abort, redirect, render_template, request, url_for

from bridge import logs
from bridge.domain.lifecycle import OrderState
from bridge.storage.port import AccountState
from bridge.web.dashboard import access
from bridge.web.dashboard.blueprint import PAGE_ORDERS, blueprint, the_bridge
from bridge.wix.instance import BadInstance

log = logging.getLogger(__name__)


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
    bridge = the_bridge()
    try:
        return access.from_wix(parameter, bridge.config.wix_app_secret,
                               bridge.config.wix_app_id), None
    except BadInstance as error:
        logs.warning(log, "dashboard_instance_refused", reason=str(error))
        return None, str(error)


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    bridge = the_bridge()
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
    store = the_bridge().store
    every = store.list_accounts()
    active = {a.instance_id: a for a in every if a.status == AccountState.ACTIVE}  # newest last
    known = set(store.installed_instances()) | {a.instance_id for a in every}
    known.update(c.instance_id for c in store.list_configurations())
    rows = [{"site": s, "account": active.get(s),
             "failed": len(store.list_orders(OrderState.FAILED.value, PAGE_ORDERS,
                                             instance_id=s))} for s in sorted(known)]
    return render_template("dashboard/sites.html", rows=rows, site=None)
