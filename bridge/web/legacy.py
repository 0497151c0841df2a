"""`POST /legacy/<token>/orders`: the original Wix Restaurants app's POS webhook for one site.

The token is the only credential (the protocol has none): an unknown one answers 404 and stores
nothing. Answers are the protocol's: `{"value": {"orderId"}}`, or `{"error": {"code",
"description"}}` (with the bridge's `message` too). The body is never logged: it may carry cards.
"""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify

from bridge import logs
from bridge.service.legacy import LegacyError
from bridge.web.errors import request_body

log = logging.getLogger(__name__)
blueprint = Blueprint("legacy", __name__)


@blueprint.post("/legacy/<token>/orders")
def submit(token: str):
    bridge = current_app.extensions["bridge"]
    site = bridge.legacy.site(token)
    if site is None:
        logs.warning(log, "legacy_refused", reason="unknown_token")
        return _error(LegacyError(404, "pos_error", "no site has this URL"))
    body = request_body(current_app.config["MAX_CONTENT_LENGTH"])
    try:
        return bridge.legacy.submit(*site, body)
    except LegacyError as error:
        logs.warning(log, "legacy_order_refused", instance_id=site[0], code=error.code,
                     status=error.status, detail=error.description)
        return _error(error)


def _error(error: LegacyError):
    response = jsonify({"error": {"code": error.code, "description": error.description,
                                  "message": error.description}})
    response.status_code = error.status
    return response
