"""Who is looking at the dashboard, and what they may see.

An owner arrives from the site's Wix dashboard, in Wix's iframe, with the signed `instance`
parameter (`bridge.wix.instance`): their session is bound to that one site. The operator (the
integrator running the bridge) logs in with BRIDGE_OPERATOR_PASSWORD and sees every site.

Sessions are Flask's signed cookie, keyed from BRIDGE_SECRET_KEY. Inside Wix's iframe the
bridge is a third party, so the cookie is `Secure; SameSite=None; Partitioned` (CHIPS): browsers
that block third-party cookies still keep a partitioned one, for this page inside Wix only.
Every form carries the session's CSRF token; every page says where it may be framed.
"""
from __future__ import annotations

import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, abort, current_app, request, session

from bridge import logs
from bridge.wix import instance as wix_instance

log = logging.getLogger(__name__)

SESSION_HOURS = 12
# Operator logins: this many tries in a burst from one address, then one a minute.
LOGIN_BURST = 5
LOGIN_INTERVAL_SECONDS = 60.0


@dataclass(frozen=True)
class Viewer:
    site: str | None        # the one site an owner sees; None for the operator
    operator: bool
    user: str | None = None

    def may_see(self, instance_id: str) -> bool:
        return self.operator or self.site == instance_id


def configure(app: Flask, secret: bytes | None) -> None:
    """Sessions need a secret: without BRIDGE_SECRET_KEY the dashboard says so and shows
    nothing (it would also have nowhere to seal the credentials its forms take)."""
    app.secret_key = secret
    app.config.update(SESSION_COOKIE_NAME="bridge_dashboard", SESSION_COOKIE_SECURE=True,
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="None",
                      SESSION_COOKIE_PARTITIONED=True, SESSION_COOKIE_PATH="/dashboard",
                      PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS))


def viewer() -> Viewer | None:
    if not current_app.secret_key:
        return None
    if session.get("operator"):
        return Viewer(None, True, "operator")
    if session.get("site"):
        return Viewer(session["site"], False, session.get("user"))
    return None


def require(instance_id: str) -> Viewer:
    """The viewer, when they may see this site; otherwise the page does not exist for them
    (404: another site's id says nothing, not even that it exists)."""
    found = viewer()
    if found is None:
        abort(401)
    if not found.may_see(instance_id):
        logs.warning(log, "dashboard_refused", viewer_site=found.site, asked_site=instance_id)
        abort(404)
    return found


def _start(**values) -> None:
    session.clear()
    session.permanent = True
    session.update(values, csrf=secrets.token_urlsafe(32))


def from_wix(parameter: str, secret: str | None, app_id: str | None) -> Viewer:
    """Who Wix's signed dashboard link names; the session is not touched. Raises BadInstance
    with a reason to show and log."""
    if not secret:
        raise wix_instance.BadInstance("WIX_APP_SECRET is not set: the bridge cannot verify "
                                       "Wix's dashboard links")
    visitor = wix_instance.verify(parameter, secret, time.time(), app_id=app_id)
    return Viewer(visitor.instance_id, False, visitor.user_id)


def replaces_another(arriving: Viewer) -> Viewer | None:
    """The open session a link would replace, if it is someone else's (the operator's, another
    site's or another user's). Any page on the web can make a browser follow a link signed for
    the attacker's own site; such a link must not silently swap an open session for theirs."""
    current = viewer()
    if current is None or current == arriving:
        return None
    return current


def enter(arriving: Viewer) -> None:
    _start(site=arriving.site, user=arriving.user)
    logs.info(log, "dashboard_entered", instance_id=arriving.site, user=arriving.user)


def log_in(password: str, configured: str | None) -> bool:
    if not configured or not hmac.compare_digest(password.encode(), configured.encode()):
        logs.warning(log, "operator_login_refused", address=request.remote_addr)
        return False
    _start(operator=True)
    logs.info(log, "operator_logged_in", address=request.remote_addr)
    return True


def log_out() -> None:
    session.clear()


def login_wait(store, address: str | None) -> float:
    """Seconds this address must wait before another login try (0: try now)."""
    return store.reserve_call(f"login:{address or '-'}", LOGIN_INTERVAL_SECONDS, LOGIN_BURST)


def csrf_token() -> str:
    return session.get("csrf", "")


def check_csrf() -> None:
    """Every form post carries the session's token: another site cannot post in its name."""
    given = request.form.get("csrf", "")
    expected = session.get("csrf")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        logs.warning(log, "dashboard_csrf_refused", path=request.path)
        abort(403)


def secure_headers(response, frame_ancestors: str):
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        f"form-action 'self'; base-uri 'none'; frame-ancestors 'self' {frame_ancestors}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response
