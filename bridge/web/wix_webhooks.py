"""`POST /webhooks/wix`: verify, store, answer. No POS or Wix call happens here.

Wix gives up on an answer after 1,250 ms, so the request only verifies the JWT and commits the
event in one transaction; the worker gives it its job and does the rest.
"""
from __future__ import annotations

import logging

from flask import Blueprint, current_app

from bridge import logs
from bridge.service import inbox
from bridge.wix.events import InvalidEnvelope
from bridge.wix.webhooks import BadSignature, NotAJwt
from bridge.web.errors import error_response, request_body
from bridge.web.waking import wake_worker

log = logging.getLogger(__name__)
blueprint = Blueprint("wix_webhooks", __name__)


@blueprint.post("/webhooks/wix")
def receive():
    bridge = current_app.extensions["bridge"]
    body = request_body(current_app.config["MAX_CONTENT_LENGTH"])
    try:
        event = bridge.verifier.event(body)
    except NotAJwt as error:
        logs.warning(log, "webhook_refused", reason="not_a_jwt", bytes=len(body))
        return error_response(400, "not_a_jwt", str(error))
    except BadSignature as error:
        logs.warning(log, "webhook_refused", reason="bad_signature", detail=str(error))
        return error_response(401, "bad_signature", "the webhook JWT does not verify with the "
                                                    "configured Wix public key")
    except InvalidEnvelope as error:
        logs.warning(log, "webhook_refused", reason="not_an_envelope", detail=str(error))
        return error_response(400, "not_an_envelope", str(error))
    if not event.handled:
        logs.info(log, "webhook_ignored", event_id=event.id, type=event.event_type,
                  instance_id=event.instance_id)
        return {}
    stored = inbox.record(bridge.store, event)
    logs.info(log, "webhook_received" if stored else "webhook_duplicate", event_id=event.id,
              type=event.event_type, instance_id=event.instance_id, order_id=event.order_id,
              sequence=event.sequence)
    if stored:
        wake_worker()
    return {}
