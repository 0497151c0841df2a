"""`GET /healthz`: 200 when the database answers and takes a write, 503 otherwise; with the work
waiting, every POS whose circuit breaker is open (the bridge is fine; that POS is not answering),
and what the operator must not miss (sandbox mode, misspelt settings).

Anyone may ask it: which sites' POSes are failing, and what they answered, is the operator's to
know, shown only with `Authorization: Bearer <BRIDGE_METRICS_TOKEN>`."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app

from bridge import logs
from bridge.storage.port import Breaker, JobState, StoreUnavailable, iso
from bridge.web.errors import error_response
from bridge.web.metrics import bears

log = logging.getLogger(__name__)
blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    bridge = current_app.extensions["bridge"]
    try:
        counts = bridge.store.job_counts()
        breakers = bridge.store.breakers()
        bridge.store.heartbeat()
    except StoreUnavailable as error:
        logs.error(log, "health_failed", reason=str(error))
        return error_response(503, "database_unavailable",
                              "the database does not answer, or refuses writes")
    return {"status": "ok", "database": "ok", "sandbox": bridge.config.sandbox,
            "warnings": list(bridge.warnings.values()),
            "pos_client": bridge.config.pos_client,
            "jobs": {state: counts.get(state, 0)
                     for state in (JobState.PENDING, JobState.RUNNING, JobState.FAILED)},
            "breakers": [breaker_json(b, detail=bears(bridge.config.metrics_token))
                         for b in breakers]}


def breaker_json(breaker: Breaker, *, detail: bool) -> dict:
    shown = {"state": breaker.state, "failures": breaker.failures,
             "opened_at": breaker.opened_at,
             "retry_at": iso(breaker.open_until) if breaker.open_until else None}
    if detail:  # the site it is about, and what its POS answered
        shown.update(destination=breaker.destination, last_error=breaker.last_error)
    return shown
