"""Connect with Square: the owner's account page links to Square's authorize page, opened in a
tab of its own (Square's pages refuse to be framed, and Wix shows the dashboard in a frame);
Square sends that tab back to the callback here, which needs no dashboard session (the tab has
none: the session's cookie belongs to Wix's frame). The `state` in the link is signed for the
one site whose owner's page showed it, and lasts 15 minutes: a callback can only ever connect
that site.
"""
from __future__ import annotations

import logging
import secrets

from flask import abort, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from bridge import logs
from bridge.service import square_connect
from bridge.web.dashboard import access
from bridge.web.dashboard.blueprint import blueprint, the_bridge

log = logging.getLogger(__name__)
STATE_SECONDS = 15 * 60
CALLBACK = "/square/callback"


def _states() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(the_bridge().config.keyring.derive("square-oauth-state"),
                                  salt="square-connect")


def _redirect_uri() -> str:
    """Where Square sends the seller back: the operator's public address, never the request's
    Host (whoever sends a request writes that). Registered at Square as the app's redirect URL."""
    return f"{the_bridge().config.public_url}/dashboard{CALLBACK}"


@blueprint.context_processor
def square_links():
    return {"square_connect_url": connect_url}


def connect_url(site: str) -> str:
    """Square's authorize page for this site's owner (only ever put on their own page)."""
    access.require(site)
    state = _states().dumps({"site": site, "nonce": secrets.token_urlsafe(8)})
    return the_bridge().square_oauth.authorize_url(state, _redirect_uri())


@blueprint.get(CALLBACK)
def square_connect_callback():
    bridge = the_bridge()
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
