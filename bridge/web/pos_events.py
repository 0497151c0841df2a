"""`POST /pos/<client>/events`: a POS callback, answered once it is stored
(bridge.service.callbacks says whose it is and stores it)."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, request

from bridge import logs
from bridge.pos.base import CallbackRejected
from bridge.service import callbacks
from bridge.web.errors import error_response, request_body
from bridge.web.waking import wake_worker

log = logging.getLogger(__name__)
blueprint = Blueprint("pos_events", __name__)

_CODES = {400: "malformed_callback", 401: "bad_signature", 404: "no_such_client"}


@blueprint.post("/pos/<client>/events")
def receive(client: str):
    bridge = current_app.extensions["bridge"]
    if not bridge.pos.for_callback(client):  # before reading a body nobody will verify
        logs.warning(log, "callback_refused", pos=client, reason="no_such_client")
        return error_response(404, "no_such_client",
                              f"no POS client {client!r} is configured here")
    body = request_body(current_app.config["MAX_CONTENT_LENGTH"])
    try:
        stored = callbacks.receive(bridge.store, bridge.pos, client, request.headers, body)
    except CallbackRejected as error:
        code = _CODES.get(error.status, "callback_refused")
        logs.warning(log, "callback_refused", pos=client, reason=code, detail=str(error))
        return error_response(error.status, code, str(error))
    if stored:
        wake_worker()
    return {}
