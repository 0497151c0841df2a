"""The original Wix Restaurants app's POS webhook: Wix pushes each order and needs the
POS order id back within 10 seconds.

The protocol has no signature, so each site has its own URL with a long random token; only the
token's SHA-256 is stored, and a request is matched by it (no comparison that leaks by timing).
The order goes through the site's POS client at once, within BRIDGE_SPI_DEADLINE, with one
idempotency key per site and order: when the POS is too slow the answer is
`endpoint_down`, and when Wix submits the order again the POS is asked again with the same key, so
it answers with the order it made (a POS honouring keys makes one). Card data reaches a POS client
only if it says it takes it (`accepts_cards`), and is never stored, logged or answered.
"""
from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from bridge import logs, timeouts
from bridge.domain.legacy_orders import UnknownItem, pos_order_from_legacy
from bridge.domain.lifecycle import OrderState
from bridge.domain.orders import InvalidOrder, PosOrder, stored_form
from bridge.pos.base import PosRejected, PosUnavailable
from bridge.pos.registry import NoPosForSite, PosClients
from bridge.service import statuses
from bridge.service.accounts import AccountError, SiteAccounts
from bridge.storage.port import LegacyEndpoints, Origin, Store

log = logging.getLogger(__name__)
TOKEN_BYTES = 32
CODES = ("endpoint_down", "invalid_item_mapping", "cc_rejected", "pos_error")


def new_token(store: LegacyEndpoints, instance_id: str, currency: str) -> str:
    """A new URL token for the site (the old one stops working). Shown once, never stored."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    store.set_legacy_endpoint(instance_id, token_hash(token), currency.upper())
    logs.info(log, "legacy_endpoint_issued", instance_id=instance_id, currency=currency.upper())
    return token


def idempotency_key(instance_id: str, order_id: str) -> str:
    """The same for every submission of one order, and the site's own: an order id in this
    protocol is whatever the sender wrote, so another site's id must never find its POS order
    (two sites served by one POS)."""
    return f"legacy:{instance_id}:{order_id}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class LegacyError(Exception):
    """An answer in the protocol's error form: one of its four codes, and why."""
    status: int
    code: str
    description: str


class LegacyWebhook:
    def __init__(self, store: Store, pos: PosClients, accounts: SiteAccounts, *,
                 deadline_seconds: float, connect_seconds: float = timeouts.CONNECT_SECONDS):
        self.store = store
        self.pos = pos
        self.accounts = accounts
        self.deadline = deadline_seconds
        self.connect = connect_seconds

    def site(self, token: str) -> tuple[str, str] | None:
        """(site, currency) for a URL token, or None."""
        return self.store.legacy_endpoint(token_hash(token))

    def submit(self, instance_id: str, currency: str, body: bytes) -> dict[str, Any]:
        try:
            message = json.loads(body)
        except (ValueError, RecursionError):
            raise LegacyError(400, "pos_error", "the body is not JSON") from None
        try:
            order = pos_order_from_legacy(message, instance_id, currency)
        except UnknownItem as error:
            raise LegacyError(400, "invalid_item_mapping", str(error)) from None
        except InvalidOrder as error:
            raise LegacyError(400, "pos_error", str(error)) from None
        known = self.store.get_order(instance_id, order.id)
        if known is not None and known.pos_order_id:
            logs.info(log, "legacy_order_repeated", order_id=order.id,
                      pos_order_id=known.pos_order_id)
            return {"value": {"orderId": known.pos_order_id}}
        try:
            site = self.pos.site(instance_id)
        except NoPosForSite:
            raise LegacyError(503, "pos_error", "the restaurant has not connected its POS "
                                                "yet") from None
        try:
            order = self.accounts.route(site, order)
        except AccountError as error:
            raise LegacyError(503, "pos_error", str(error)) from None
        cards = message.get("cards") if isinstance(message, dict) else None
        pos_order_id = self._send(site, order, cards, stored_form(order))
        logs.info(log, "legacy_order_sent", order_id=order.id, pos=site.key,
                  pos_order_id=pos_order_id, items=len(order.items))
        return {"value": {"orderId": pos_order_id}}

    def _send(self, site, order: PosOrder, cards: Any, kept: dict[str, Any]) -> str:
        key = idempotency_key(order.instance_id, order.id)
        if cards and not getattr(site.client, "accepts_cards", False):
            raise LegacyError(402, "cc_rejected", "card payments are not handled by this POS: "
                                                  "it does not take card data")
        try:
            with timeouts.attempt(self.deadline, self.connect):
                if cards:
                    pos_order_id = site.client.create_order_with_cards(
                        order, cards, idempotency_key=key)
                else:
                    pos_order_id = site.client.create_order(order, idempotency_key=key)
        except PosRejected as error:
            code = error.code if error.code in CODES else "pos_error"
            self._record(order, kept, site.key, None, f"the POS refused it: {error}")
            raise LegacyError(422, code, f"the POS refused the order: {error}") from None
        except (PosUnavailable, timeouts.DeadlineExceeded) as error:
            self._record(order, kept, site.key, None, f"the POS did not answer in time "
                         f"({error}); Wix may submit it again, and gets the same order")
            raise LegacyError(503, "endpoint_down", "the POS did not answer in time") from None
        self._record(order, kept, site.key, pos_order_id, None)
        return pos_order_id

    def _record(self, order: PosOrder, kept: dict[str, Any], pos_key: str,
                pos_order_id: str | None, error: str | None) -> None:
        """Visible like every order: sent with its POS id, or failed with the reason."""
        if pos_order_id:
            statuses.record_at_pos(self.store, wix_order_id=order.id,
                                   instance_id=order.instance_id, pos_key=pos_key,
                                   pos_order_id=pos_order_id, snapshot=kept,
                                   origin=Origin.LEGACY)
            return
        with self.store.transaction():
            self.store.save_order(wix_order_id=order.id, instance_id=order.instance_id,
                                  state=OrderState.FAILED.value, snapshot=kept,
                                  origin=Origin.LEGACY)
            self.store.set_order_state(order.instance_id, order.id, OrderState.FAILED.value,
                                       error=error)
