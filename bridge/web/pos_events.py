"""`POST /pos/<client>/events`: a POS callback (a status change, or an order taken at the POS),
verified by its own client, then stored.

The answer comes once the change is stored; the Wix call happens in the worker.
"""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, request

from bridge import logs
from bridge.domain.imports import PosOrderCreated
from bridge.domain.statuses import StatusChange
from bridge.pos.base import CallbackRejected
from bridge.pos.registry import Site
from bridge.service import imports
from bridge.service.statuses import record_changes
from bridge.web.errors import error_response, request_body
from bridge.web.waking import wake_worker

log = logging.getLogger(__name__)
blueprint = Blueprint("pos_events", __name__)

_CODES = {400: "malformed_callback", 401: "bad_signature", 404: "no_such_client"}


@blueprint.post("/pos/<client>/events")
def receive(client: str):
    bridge = current_app.extensions["bridge"]
    sites = bridge.pos.for_callback(client)
    if not sites:
        logs.warning(log, "callback_refused", pos=client, reason="no_such_client")
        return error_response(404, "no_such_client",
                              f"no POS client {client!r} is configured here")
    body = request_body(current_app.config["MAX_CONTENT_LENGTH"])
    try:
        site, changes = _verified(sites, body)
    except CallbackRejected as error:
        code = _CODES.get(error.status, "callback_refused")
        logs.warning(log, "callback_refused", pos=client, reason=code, detail=str(error))
        return error_response(error.status, code, str(error))
    statuses = [c for c in changes if isinstance(c, StatusChange)]
    created = [c for c in changes if isinstance(c, PosOrderCreated)] + _never_seen(
        bridge.store, site, statuses)
    stored = record_changes(bridge.store, site.key, statuses)
    if created:
        stored += imports.record(bridge.store, site.key,
                                 site.account.instance_id if site.account else None, created,
                                 served=bridge.pos.serves)
    if stored:
        wake_worker()
    return {}


def _verified(sites: list[Site], body: bytes) -> tuple[Site, list[StatusChange]]:
    """The POS whose credentials verify the callback, and what it says. Each of a client's
    accounts has its own secret, so the one that verifies names the account; a refusal other
    than the signature's (a malformed body) is final."""
    refusal = None
    for site in sites:
        try:
            changes = site.client.parse_callback(request.headers, body)
        except CallbackRejected as error:
            if error.status != 401:
                raise
            refusal = refusal or error
            continue
        return _merchant_s(sites, changes) or site, changes
    raise refusal


def _never_seen(store, site: Site, statuses: list[StatusChange]) -> list[PosOrderCreated]:
    """A report about an order the bridge never heard of, from a POS it can fetch orders from
    (Square's order.updated may come before, or instead of, order.created): imported too. The
    import looks first: an order the bridge itself sent there is left alone."""
    if not callable(getattr(site.client, "fetch_order", None)):
        return []
    return [PosOrderCreated(c.pos_order_id, None, callback_id=None, merchant_id=c.merchant_id)
            for c in statuses if store.find_order_by_pos_id(site.key, c.pos_order_id) is None]


def _merchant_s(sites: list[Site], changes: list[StatusChange]) -> Site | None:
    """Accounts of one POS app may share its webhook secret (Square's signature key is the
    app's): then the merchant the report names tells whose it is."""
    merchants = {c.merchant_id for c in changes if c.merchant_id}
    if len(merchants) != 1:
        return None
    merchant = merchants.pop()
    return next((s for s in sites if s.account and s.account.merchant_id == merchant), None)
