"""`POST /webhooks/wix`: verify, store, answer. No POS or Wix call happens here.

Wix gives up on an answer after 1,250 ms, so the request only verifies the JWT and commits the
event in one transaction; the worker gives it its job and does the rest.

Two ways to serve it, one answer: the Flask route (`receive`), from a request thread, and
`EventLoopReceiver`, which the web process puts in front of Flask where the store can be awaited
(PostgreSQL). There the insert is awaited in the event loop that read the request, and no thread
takes part: a request thread waiting for the database cost handoffs between threads that were
most of what storing a webhook cost the web process (see bridge/storage/postgres_async.py).
"""
from __future__ import annotations

import logging
from typing import Callable

from flask import Blueprint, current_app

from bridge import logs
from bridge.service import inbox
from bridge.storage.port import EventLoopInbox, StoreUnavailable
from bridge.wix.events import InvalidEnvelope, WixEvent
from bridge.wix.webhooks import BadSignature, NotAJwt, Verifier
from bridge.web.errors import ErrorAnswer, database_unavailable, request_body
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


class EventLoopReceiver:
    """The route, awaited in the web process's event loop (buffering.BufferedWsgi): the body
    comes whole and within the size limit; what it answers is what `receive` answers."""

    def __init__(self, verifier: Verifier, events: EventLoopInbox,
                 wake: Callable[[], None] | None = None):
        self._verifier = verifier
        self._events = events
        self._wake = wake  # as `wake_worker`: an in-process worker (`bridge serve`)

    async def __call__(self, body: bytes) -> tuple[int, bytes]:
        event = screen(self._verifier, body)
        if isinstance(event, ErrorAnswer):
            return event.status, event.document()
        if event is not None:
            try:
                stored = await inbox.record_in_event_loop(self._events, event)
            except StoreUnavailable as error:
                answer = database_unavailable(error)
                return answer.status, answer.document()
            _recorded(event, stored)
            if stored and self._wake is not None:
                self._wake()
        return 200, b"{}"

    async def close(self) -> None:
        await self._events.close()
