"""The site's POS account: choosing the POS, its settings in the owner's words, the credentials
check, disconnecting."""
from __future__ import annotations

import logging

from flask import flash, redirect, request, url_for

from bridge.pos import registry
from bridge.service import square_connect
from bridge.service import configurations as wix_configurations
from bridge.service.accounts import AccountError
from bridge.web.dashboard import access
from bridge.web.dashboard.blueprint import (blueprint, disconnect_and_say, page, site_account,
                                            the_bridge)

log = logging.getLogger(__name__)


def _client_fields(client: str) -> list:
    """The settings an owner sets for this POS in the form (the rest are the operator's, or
    set by the bridge: an OAuth token). With Square's OAuth on, its token is Square's to give."""
    fields = [s for s in registry.declared_settings().get(client) or ()
              if s.owner and s.kind != "managed"]
    if client == "square" and the_bridge().square_oauth is not None:
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
    bridge = the_bridge()
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
    return page("account", site, status, page_title="POS account", account=account,
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
    bridge = the_bridge()
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
    flash("Saved. " + _check_says(checked)
          + (" Your locations were paired with your previous POS: pair them again on the "
             "Locations page." if unpaired else ""))
    return redirect(url_for(".account", site=site))


@blueprint.post("/sites/<site>/account/check")
def check_account(site: str):
    access.require(site)
    bridge = the_bridge()
    current = site_account(site)
    flash(_check_says(bridge.accounts.check(current, bridge.pos)))
    return redirect(url_for(".account", site=site))


def _check_says(checked) -> str:
    """What the credentials check found, for the account's owner."""
    if checked.check_error:
        return f"Your POS did not accept the settings: {checked.check_error}"
    if checked.merchant_id:
        return "Your POS accepted the settings."
    return "This POS cannot be asked about its settings: it is first contacted when an order comes."


@blueprint.post("/sites/<site>/account/disconnect")
def disconnect_account(site: str):
    access.require(site)
    bridge = the_bridge()
    current = site_account(site)
    if request.form.get("confirm") != "yes":
        return _account_page(site, None, 422, errors={
            "disconnect": "Tick the box: no more orders will reach your POS."})
    given_back = square_connect.disconnect(bridge.accounts, bridge.square_oauth, current)
    disconnect_and_say(lambda: wix_configurations.disconnect_account(bridge.store, bridge.wix,
                                                              current.id),
                "Disconnected: no more orders go to this POS account."
                + (" Square took back this app's access." if given_back else ""))
    return redirect(url_for(".account", site=site))
