"""`POST /webhooks/wix`: verify, store, answer. No POS or Wix call happens here.

Wix gives up on an answer after 1,250 ms, so the request only verifies the JWT and commits the
event in one transaction; the worker gives it its job and does the rest.

"""
from __future__ import annotations

import logging

from flask import Blueprint, current_app

from bridge import logs
from bridge.service import inbox
from bridge.wix.events import InvalidEnvelope, WixEvent
from bridge.wix.webhooks import BadSignature, NotAJwt, Verifier
from bridge.web.errors import ErrorAnswer, request_body
from bridge.web.waking import wake_worker

log = logging.getLogger(__name__)
blueprint = Blueprint("wix_webhooks", __name__)
PATH = "/webhooks/wix"


def screen(verifier: Verifier, body: bytes) -> WixEvent | ErrorAnswer | None:
    """The verified event to store; or the answer refusing the body; or None for an event the
    bridge does not handle (answered 200, kept nowhere). Each case is logged."""
    try:
        event = verifier.event(body)
    except NotAJwt as error:
        logs.warning(log, "webhook_refused", reason="not_a_jwt", bytes=len(body))
        return ErrorAnswer(400, "not_a_jwt", str(error))
    except BadSignature as error:
        logs.warning(log, "webhook_refused", reason="bad_signature", detail=str(error))
        return ErrorAnswer(401, "bad_signature", "the webhook JWT does not verify with the "
                                                 "configured Wix public key")
    except InvalidEnvelope as error:
        logs.warning(log, "webhook_refused", reason="not_an_envelope", detail=str(error))
        return ErrorAnswer(400, "not_an_envelope", str(error))
    if not event.handled:
        logs.info(log, "webhook_ignored", event_id=event.id, type=event.event_type,
                  instance_id=event.instance_id)
        return None
    return event


def _recorded(event: WixEvent, stored: bool) -> None:
    logs.info(log, "webhook_received" if stored else "webhook_duplicate", event_id=event.id,
              type=event.event_type, instance_id=event.instance_id, order_id=event.order_id,
              sequence=event.sequence)


@blueprint.post(PATH)
def receive():
    bridge = current_app.extensions["bridge"]
    event = screen(bridge.verifier, request_body(current_app.config["MAX_CONTENT_LENGTH"]))
    if isinstance(event, ErrorAnswer):
        return event.response()
    if event is not None:
        stored = inbox.record(bridge.store, event)
        _recorded(event, stored)
        if stored:
            wake_worker()
    return {}
