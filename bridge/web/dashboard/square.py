"""Connect with Square: the owner's button sends them to Square's authorize page, in a tab of its
own (Square's pages refuse to be framed, and Wix shows the dashboard in a frame); Square sends
their browser back to the callback here, which needs no dashboard session (that tab has none:
the session's cookie belongs to Wix's frame). The `state` Square carries there and back is
signed for one site and lasts 15 minutes: a callback can only ever connect the site whose
owner pressed the button.
"""
from __future__ import annotations

import logging
import secrets

from flask import abort, current_app, redirect, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from bridge import logs
from bridge.service import square_connect
from bridge.web.dashboard import access
from bridge.web.dashboard.pages import blueprint

log = logging.getLogger(__name__)
STATE_SECONDS = 15 * 60
CALLBACK = "/square/callback"


def _bridge():
    return current_app.extensions["bridge"]


def _states() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_bridge().config.keyring.derive("square-oauth-state"),
                                  salt="square-connect")


def _redirect_uri() -> str:
    """Where Square sends the seller back: the operator's public address, never the request's
    Host (whoever sends a request writes that). Registered at Square as the app's redirect URL."""
    return f"{_bridge().config.public_url}/dashboard{CALLBACK}"


@blueprint.post("/sites/<site>/square/connect")
def square_connect_start(site: str):
    access.require(site)
    bridge = _bridge()
    if bridge.square_oauth is None or bridge.config.public_url is None:
        abort(404)
    state = _states().dumps({"site": site, "nonce": secrets.token_urlsafe(8)})
    logs.info(log, "square_connect_started", instance_id=site)
    return redirect(bridge.square_oauth.authorize_url(state, _redirect_uri()), code=303)


@blueprint.get(CALLBACK)
def square_connect_callback():
    bridge = _bridge()
    if bridge.square_oauth is None or bridge.config.public_url is None:
        abort(404)
    try:
        site = _states().loads(request.args.get("state", ""), max_age=STATE_SECONDS)["site"]
    except (BadSignature, KeyError, TypeError):
        logs.warning(log, "square_connect_refused", reason="bad or expired state")
        return _answer(400, "This link has expired or is not ours. Go back to your Wix "
                            "dashboard and press Connect with Square again.")
    if request.args.get("error"):
        logs.info(log, "square_connect_declined", instance_id=site,
                  error=request.args.get("error"))
        return _answer(200, "Square was not connected: access was not allowed. You can close "
                            "this tab; press Connect with Square again whenever you like.")
    code = request.args.get("code", "")
    if not code:
        return _answer(400, "Square sent no authorization code. Press Connect with Square "
                            "again.")
    try:
        account = square_connect.connect(bridge.store, bridge.accounts, bridge.pos,
                                         bridge.square_oauth, site, code, _redirect_uri())
    except square_connect.NotConnected as error:
        logs.warning(log, "square_connect_failed", instance_id=site, reason=str(error))
        return _answer(502, f"Square was not connected: {error}")
    if account.check_error:
        return _answer(200, f"Square is connected, but needs attention: {account.check_error}")
    return _answer(200, "Square is connected: your orders go to your Square account now. "
                        "Close this tab and go back to your Wix dashboard.", connected=True)


def _answer(status: int, message: str, *, connected: bool = False):
    return render_template("dashboard/square_connected.html", message=message,
                           connected=connected, site=None,
                           page_title="Square connected" if connected else "Square"), status
