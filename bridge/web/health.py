"""`GET /healthz`: 200 when the database answers, 503 otherwise."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app

from bridge import logs
from bridge.storage.port import StoreUnavailable
from bridge.web.errors import error_response

log = logging.getLogger(__name__)
blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    bridge = current_app.extensions["bridge"]
    try:
        counts = bridge.store.job_counts()
    except StoreUnavailable as error:
        logs.error(log, "health_failed", reason=str(error))
        return error_response(503, "database_unavailable", "the database does not answer")
    return {"status": "ok", "database": "ok", "sandbox": bridge.config.sandbox,
            "pos_client": bridge.config.pos_client,
            "jobs": {"pending": counts.get("pending", 0), "running": counts.get("running", 0),
                     "failed": counts.get("failed", 0)}}
