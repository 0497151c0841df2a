"""The `webhook` POS client: a generic POS speaking HTTP + JSON, signed with Standard Webhooks.

Protocol (docs/pos-clients.md): `POST $POS_WEBHOOK_URL` with `{"order": ORDER}`, `{"cancel": {...}}`
or `{"menu": {...}}`;
answers as in the Wix Restaurants POS SPI. `classify_answer` is the one pure function that turns an
answer into a value or a typed error; `_post` is the one place that does I/O.
"""
from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime, timezone
from typing import Any, Mapping

import requests
from standardwebhooks import Webhook, WebhookVerificationError

from bridge.domain.imports import PosOrderCreated, parse_pos_order
from bridge.domain.orders import InvalidOrder, PosOrder, to_json
from bridge.domain.statuses import StatusChange, parse_status
from bridge import timeouts
from bridge.pos.base import (CallbackRejected, PosConfig, PosConfigurationError, PosRejected,
                             PosUnavailable, PosUnreachable, Setting, excerpt, read_timeout)

TIMEOUT_SECONDS = 10.0  # read timeout, POS_WEBHOOK_TIMEOUT
RETRYABLE_CODES = frozenset({"endpoint_down", "pos_error"})
PERMANENT_CODES = frozenset({"invalid_item_mapping", "cc_rejected"})


def classify_answer(status: int, body: bytes) -> dict[str, Any]:
    """The `value` of a successful answer; PosRejected or PosUnavailable otherwise."""
    try:
        answer = json.loads(body) if body else None
    except ValueError:
        answer = None
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        code = excerpt(answer["error"].get("code") or "", 40)
        description = excerpt(answer["error"].get("description") or "")
        message = f"POS answered {status} {code}: {description}".rstrip(": ")
        if code in PERMANENT_CODES:
            raise PosRejected(message, code)
        raise PosUnavailable(message, code or None)
    if 200 <= status < 300 and isinstance(answer, dict) and isinstance(answer.get("value"), dict):
        return answer["value"]
    raise PosUnavailable(f"POS answered {status} without a value or an error")


MIN_SECRET_BYTES = 24  # Standard Webhooks: 24 to 64 random bytes


def _secrets(raw: str | None) -> list[Webhook]:
    if not raw or not raw.split():
        raise PosConfigurationError("POS_WEBHOOK_SECRET is missing: the webhook client signs every "
                                    "order and verifies every callback")
    return [_secret(n, value) for n, value in enumerate(raw.split(), 1)]


def _secret(n: int, value: str) -> Webhook:
    """One secret: `whsec_` and the base64 of at least 24 random bytes, or start-up stops."""
    which = f"POS_WEBHOOK_SECRET (secret {n})"
    expected = (f"expected whsec_ followed by base64 of {MIN_SECRET_BYTES} to 64 random bytes, "
                "e.g. python -c \"import base64, secrets; print('whsec_' + "
                "base64.b64encode(secrets.token_bytes(32)).decode())\"")
    if not value.startswith("whsec_"):
        raise PosConfigurationError(f"{which} is malformed: {expected}")
    try:
        key = base64.b64decode(value[len("whsec_"):], validate=True)
    except (binascii.Error, ValueError):
        raise PosConfigurationError(f"{which} is malformed: {expected}") from None
    if len(key) < MIN_SECRET_BYTES:
        raise PosConfigurationError(f"{which} is too weak: {len(key)} bytes; {expected}")
    return Webhook(value)


class WebhookPos:
    name = "webhook"
    settings = (
        Setting("POS_WEBHOOK_URL", None, "where orders are POSTed (http or https)", owner=True,
                kind="url", label="Your POS's order address",
                hint="The https address your POS takes orders at; your POS's provider gives it."),
        Setting("POS_WEBHOOK_SECRET", None,
                "Standard Webhooks secret(s) (whsec_ and the base64 of 24 to 64 bytes), "
                "space-separated for rotation: the first signs, any verifies", owner=True,
                kind="secret", label="Signing secret",
                hint="Starts with whsec_; your POS's provider gives it. Kept encrypted, never "
                     "shown again."),
        Setting("POS_WEBHOOK_TIMEOUT", "10",
                "seconds to wait for the POS's answer (within BRIDGE_ATTEMPT_DEADLINE)",
                owner=True, kind="number", label="Seconds to wait for your POS",
                hint="How long your POS may take to accept an order."),
        Setting("POS_WEBHOOK_STATUSES", "0",
                "1: the POS answers status questions ({\"statuses\": {\"orderIds\"}}), so "
                "reconciling can ask it for the statuses whose callbacks never came", owner=True,
                label="Your POS answers status questions",
                hint="Only if your POS's provider says it does.",
                choices=(("0", "No"), ("1", "Yes"))),
    )

    def __init__(self, url: str, secrets: list[Webhook], session: requests.Session | None = None,
                 timeout: float = TIMEOUT_SECONDS, answers_statuses: bool = False):
        self.url = url
        self.timeout = timeout
        self.answers_statuses = answers_statuses
        self._signer = secrets[0]
        self._verifiers = secrets
        self._session = session or requests.Session()

    @classmethod
    def from_config(cls, config: PosConfig) -> "WebhookPos":
        url = (config.settings.get("POS_WEBHOOK_URL") or "").strip()
        if not url.startswith(("http://", "https://")):
            raise PosConfigurationError("POS_WEBHOOK_URL is missing or not an http(s) URL: the "
                                        "webhook client needs to know where to POST orders")
        statuses = (config.settings.get("POS_WEBHOOK_STATUSES") or "0").strip()
        if statuses not in ("0", "1"):
            raise PosConfigurationError(f"POS_WEBHOOK_STATUSES is malformed: {statuses!r} is "
                                        "not 1 or 0")
        return cls(url, _secrets(config.settings.get("POS_WEBHOOK_SECRET")),
                   timeout=read_timeout(config.settings, "POS_WEBHOOK_TIMEOUT", TIMEOUT_SECONDS),
                   answers_statuses=statuses == "1")

    def create_order(self, order: PosOrder, *, idempotency_key: str) -> str:
        value = self._post({"order": to_json(order)}, idempotency_key)
        pos_order_id = value.get("orderId")
        if not isinstance(pos_order_id, (str, int)) or pos_order_id == "":
            raise PosUnavailable("POS accepted the order but gave no orderId")
        return str(pos_order_id)

    def cancel_order(self, wix_order_id: str, pos_order_id: str, *, idempotency_key: str) -> None:
        self._post({"cancel": {"id": wix_order_id, "orderId": pos_order_id}}, idempotency_key)

    def fetch_menu(self, location_id: str | None) -> Mapping[str, Any]:
        """`{"menu": {"locationId"}}`, answered `{"value": {"menu": MENU}}`
        (docs/pos-clients.md)."""
        value = self._post({"menu": {"locationId": location_id}},
                           f"menu:{location_id or '-'}:{uuid.uuid4().hex}")
        menu = value.get("menu")
        if not isinstance(menu, dict):
            raise PosUnavailable("POS answered the menu request without a menu")
        return menu

    def _post(self, message: dict[str, Any], message_id: str) -> dict[str, Any]:
        body = json.dumps(message, separators=(",", ":"))
        now = datetime.now(timezone.utc)
        headers = {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._signer.sign(message_id, now, body),
        }
        try:
            response = self._session.post(self.url, data=body.encode(), headers=headers,
                                          timeout=timeouts.for_request(self.timeout))
        except requests.Timeout:
            raise PosUnreachable("POS did not answer in time") from None
        except requests.RequestException as error:
            raise PosUnreachable(f"POS unreachable: {type(error).__name__}") from None
        return classify_answer(response.status_code, response.content)

    def current_status(self, pos_order_id: str) -> StatusChange | None:
        return None  # its callbacks always carry the status

    def statuses_of(self, pos_order_ids: list[str]) -> list[StatusChange]:
        """`{"statuses": {"orderIds": [...]}}`, answered `{"value": {"orders": [{"orderId",
        "status", "occurredAt"}]}}`: only where the POS says it answers it
        (POS_WEBHOOK_STATUSES=1), since a POS that does not may take any message for an order."""
        if not self.answers_statuses or not pos_order_ids:
            return []
        value = self._post({"statuses": {"orderIds": pos_order_ids}},
                           f"statuses:{uuid.uuid4().hex}")
        changes = []
        for entry in value.get("orders") or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("orderId"), (str, int)):
                continue
            try:
                status = parse_status(entry.get("status"))
            except ValueError:
                continue  # one unreadable answer does not spoil the others
            occurred_at = entry.get("occurredAt")
            changes.append(StatusChange(str(entry["orderId"]), status,
                                        occurred_at if isinstance(occurred_at, str) else None))
        return changes

    def parse_callback(self, headers: Mapping[str, str], body: bytes
                       ) -> list[StatusChange | PosOrderCreated]:
        lowered = {k.lower(): v for k, v in headers.items()}
        if not any(self._verifies(v, body, lowered) for v in self._verifiers):
            raise CallbackRejected("signature, timestamp or webhook headers do not verify", 401)
        try:
            message = json.loads(body)
        except (ValueError, RecursionError):
            raise CallbackRejected("body is not JSON") from None
        if not isinstance(message, dict):
            raise CallbackRejected("body is not a JSON object")
        if "orderCreated" in message:
            return [self._order_created(message["orderCreated"], lowered.get("webhook-id"))]
        pos_order_id = message.get("orderId")
        if not isinstance(pos_order_id, (str, int)) or pos_order_id == "":
            raise CallbackRejected("orderId is missing")
        try:
            status = parse_status(message.get("status"))
        except ValueError as error:
            raise CallbackRejected(str(error)) from None
        occurred_at = message.get("occurredAt")
        return [StatusChange(str(pos_order_id), status,
                             occurred_at if isinstance(occurred_at, str) else None,
                             callback_id=lowered.get("webhook-id"))]

    @staticmethod
    def _order_created(order: Any, callback_id: str | None) -> PosOrderCreated:
        """An order taken at the POS, to import into Wix: checked whole before it is stored."""
        try:
            parsed = parse_pos_order(order)
        except InvalidOrder as error:
            raise CallbackRejected(f"orderCreated: {error}") from None
        return PosOrderCreated(parsed.pos_order_id, order, parsed.location_id, callback_id)

    @staticmethod
    def _verifies(verifier: Webhook, body: bytes, headers: dict[str, str]) -> bool:
        try:
            verifier.verify(body, headers, json_parse=False)
            return True
        except (WebhookVerificationError, ValueError, TypeError):
            return False
