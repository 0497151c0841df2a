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
        site, changes = _attributed(client, sites, body)
    except CallbackRejected as error:
        code = _CODES.get(error.status, "callback_refused")
        logs.warning(log, "callback_refused", pos=client, reason=code, detail=str(error))
        return error_response(error.status, code, str(error))
    statuses = [c for c in changes if isinstance(c, StatusChange)]
    if site is None:  # verified, but about a merchant no account here has: kept, never applied
        merchants = sorted({c.merchant_id for c in changes if c.merchant_id})
        logs.warning(log, "callback_unclaimed", pos=client, merchant=",".join(merchants),
                     changes=len(changes))
        if record_changes(bridge.store, unclaimed_key(client), statuses):
            wake_worker()
        return {}
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


def unclaimed_key(client: str) -> str:
    """Where reports no account claims are kept: under no POS's key, so they match no order."""
    return f"{client}#unclaimed"


def _attributed(client: str, sites: list[Site], body: bytes
                ) -> tuple[Site | None, list[StatusChange | PosOrderCreated]]:
    """The POS a callback belongs to, and what it says. A callback belongs to the account whose
    own key verifies it; where one app-level key signs every seller's events (Square: the
    operator's signature key, so every account of the client verifies alike), to the one
    account of the merchant the event names, else to the environment's POS of that client,
    else to none (None: kept as unclaimed). A key that verifies for several accounts, with no
    merchant to tell them apart, is refused. A refusal other than the signature's (a malformed
    body) is final."""
    verified: list[tuple[Site, list]] = []
    refusal = None
    for site in sites:
        try:
            verified.append((site, site.client.parse_callback(request.headers, body)))
        except CallbackRejected as error:
            if error.status != 401:
                raise
            refusal = refusal or error
    if not verified:
        raise refusal
    changes = verified[0][1]
    merchants = {c.merchant_id for c in changes if c.merchant_id}
    if merchants:
        if len(merchants) > 1:
            raise CallbackRejected("the callback names more than one merchant")
        merchant = merchants.pop()
        owners = [s for s, _ in verified if s.account and s.account.merchant_id == merchant]
        if len(owners) == 1:
            return owners[0], changes
        environment = next((s for s, _ in verified if s.account is None), None)
        return (environment if not owners else None), changes
    if len(verified) > 1:
        raise CallbackRejected(f"the signature verifies for {len(verified)} of the "
                               f"{client} accounts: it cannot say whose callback this is", 401)
    return verified[0]


def _never_seen(store, site: Site, statuses: list[StatusChange]) -> list[PosOrderCreated]:
    """A report about an order the bridge never heard of, from a POS it can fetch orders from
    (Square's order.updated may come before, or instead of, order.created): imported too. The
    import looks first: an order the bridge itself sent there is left alone."""
    if not callable(getattr(site.client, "fetch_order", None)):
        return []
    return [PosOrderCreated(c.pos_order_id, None, callback_id=None, merchant_id=c.merchant_id)
            for c in statuses if store.find_order_by_pos_id(site.key, c.pos_order_id) is None]
