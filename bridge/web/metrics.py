"""`GET /metrics`: the operator's metrics (Prometheus text format), behind a bearer token.

Off (404) unless BRIDGE_METRICS_TOKEN is set: the counts say how busy each restaurant is, which
is no one else's business.
"""
from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Response, current_app, request

from bridge import logs
from bridge.service.metrics import exposition
from bridge.web.errors import error_response

log = logging.getLogger(__name__)
blueprint = Blueprint("metrics", __name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@blueprint.get("/metrics")
def metrics():
    bridge = current_app.extensions["bridge"]
    token = bridge.config.metrics_token
    if not token:
        return error_response(404, "metrics_disabled",
                              "metrics are off: set BRIDGE_METRICS_TOKEN to turn them on")
    if not bears(token):
        logs.warning(log, "metrics_refused", reason="bad_token")
        return error_response(401, "bad_token", "send Authorization: Bearer <BRIDGE_METRICS_TOKEN>")
    body = exposition(bridge.store.snapshot(), bridge.store.breakers(), bridge.store.clock())
    return Response(body, content_type=CONTENT_TYPE)


def bears(token: str | None) -> bool:
    """The request carries the operator's token: `Authorization: Bearer <token>`."""
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())
