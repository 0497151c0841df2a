"""Unwrap a verified Wix webhook: claims -> envelope -> domain event.

Wix nests JSON inside JSON strings twice, and older deliveries carry `...AsJson` strings where newer
ones carry objects; both forms are accepted, as Wix's SDK and REST types disagree. Pure functions.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

ORDER_CREATED = "wix.ecom.v1.order_created"
ORDER_APPROVED = "wix.ecom.v1.order_approved"
ORDER_UPDATED = "wix.ecom.v1.order_updated"
ORDER_CANCELED = "wix.ecom.v1.order_canceled"
APP_INSTALLED = "AppInstalled"
APP_REMOVED = "AppRemoved"

ORDER_EVENTS = frozenset({ORDER_CREATED, ORDER_APPROVED, ORDER_UPDATED, ORDER_CANCELED})
HANDLED_EVENTS = ORDER_EVENTS | {APP_INSTALLED, APP_REMOVED}

# body key -> (object key, JSON-string key) for each entity event body
_BODIES = {
    "createdEvent": ("entity", "entityAsJson"),
    "updatedEvent": ("currentEntity", "currentEntityAsJson"),
    "actionEvent": ("body", "bodyAsJson"),
    "deletedEvent": ("deletedEntity", "deletedEntityAsJson"),
}


class InvalidEnvelope(ValueError):
    """Verified, but not shaped like a Wix webhook envelope."""


@dataclass(frozen=True)
class WixEvent:
    id: str                # the domain event id (or a digest for non-entity events): the dedupe key
    event_type: str
    instance_id: str
    entity_id: str | None
    sequence: int | None   # entityEventSequence: higher is newer
    event_time: str | None
    payload: Mapping[str, Any]   # the unwrapped body: entity, action body or plain payload
    # The domain event as Wix sent it, when it came as JSON text: what gets stored, so the
    # receiver does not write the parsed body out again (payload_of reads it back).
    text: str | None = None

    @property
    def handled(self) -> bool:
        return self.event_type in HANDLED_EVENTS

    @property
    def order(self) -> Mapping[str, Any] | None:
        """The order an order event carries (action events wrap it in `order`)."""
        if self.event_type not in ORDER_EVENTS:
            return None
        order = self.payload.get("order") if "order" in self.payload else self.payload
        return order if isinstance(order, Mapping) else None

    @property
    def order_id(self) -> str | None:
        order = self.order
        return self.entity_id or (order.get("id") if order else None)


def event_from_claims(claims: Mapping[str, Any]) -> WixEvent:
    envelope = _json_object(claims.get("data"), "claims.data")
    event_type = envelope.get("eventType")
    instance_id = envelope.get("instanceId")
    if not isinstance(event_type, str) or not event_type:
        raise InvalidEnvelope("envelope has no eventType")
    if not isinstance(instance_id, str) or not instance_id:
        raise InvalidEnvelope("envelope has no instanceId")
    raw_data = envelope.get("data")
    data = _json_object(raw_data, "envelope.data")
    text = raw_data if isinstance(raw_data, str) else None
    if _is_entity_event(data):
        return _entity_event(event_type, instance_id, data, text)
    # No id of its own, and a re-install may come byte for byte as the first install: each
    # delivery is kept under an id of its own (the digest of what Wix signed, and a nonce), and
    # installs and removals are applied by the site's state (Instances.set_instance), so a resend
    # changes nothing. The signing time orders them (`event_time`).
    issued = claims.get("iat")
    issued = issued if isinstance(issued, (int, float)) and not isinstance(issued, bool) else None
    digest = hashlib.sha256(json.dumps({"envelope": envelope, "iat": issued},
                                       sort_keys=True).encode()).hexdigest()
    return WixEvent(id=f"{event_type}:{instance_id}:{digest[:16]}:{secrets.token_hex(8)}",
                    event_type=event_type,
                    instance_id=instance_id, entity_id=None, sequence=None,
                    event_time=_signed_at(issued), payload=data, text=text)


def _signed_at(issued: float | None) -> str | None:
    if issued is None:
        return None
    try:
        return datetime.fromtimestamp(issued, timezone.utc).isoformat(timespec="milliseconds")
    except (OverflowError, OSError, ValueError):
        return None


def payload_of(text: str) -> Mapping[str, Any]:
    """The unwrapped body of a domain event kept as text (`WixEvent.text`)."""
    data = _json_object(text, "stored event")
    return _body(data) if _is_entity_event(data) else data


def _is_entity_event(data: Mapping[str, Any]) -> bool:
    return "entityFqdn" in data or any(key in data for key in _BODIES)


def _entity_event(event_type: str, instance_id: str, data: Mapping[str, Any],
                  text: str | None) -> WixEvent:
    event_id = data.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise InvalidEnvelope("domain event has no id")
    entity_id = data.get("entityId")
    event = WixEvent(
        id=event_id,
        event_type=event_type,
        instance_id=instance_id,
        entity_id=entity_id if isinstance(entity_id, str) and entity_id else None,
        sequence=_sequence(data.get("entityEventSequence")),
        event_time=data.get("eventTime") if isinstance(data.get("eventTime"), str) else None,
        payload=_body(data),
        text=text,
    )
    _check_order_id(event)
    return event


def _check_order_id(event: WixEvent) -> None:
    """An order event names one order, by a non-empty string: its entityId, its order's id, or
    both alike. Anything else is refused before it is stored (never a list reaching the POS)."""
    order = event.order
    given = order.get("id") if order is not None and "id" in order else None
    if given is not None and (not isinstance(given, str) or not given):
        raise InvalidEnvelope("the order's id is not a string")
    if given is not None and event.entity_id is not None and given != event.entity_id:
        raise InvalidEnvelope("entityId and the order's id name two orders")


def _body(data: Mapping[str, Any]) -> Mapping[str, Any]:
    for body_key, (object_key, json_key) in _BODIES.items():
        body = data.get(body_key)
        if body is None:
            continue
        if not isinstance(body, Mapping):
            raise InvalidEnvelope(f"{body_key} is not an object")
        raw = body.get(object_key, body.get(json_key))
        return _json_object(raw, f"{body_key}.{object_key}") if raw is not None else {}
    return {}


def _json_object(raw: Any, what: str) -> dict[str, Any]:
    """An object, or a JSON string holding one (Wix uses both on the wire)."""
    if isinstance(raw, (str, bytes)):
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):
            raise InvalidEnvelope(f"{what} is not valid JSON") from None
    if not isinstance(raw, dict):
        raise InvalidEnvelope(f"{what} is not a JSON object")
    return raw


def _sequence(raw: Any) -> int | None:
    """entityEventSequence as a number; None when missing, not a number, or beyond what a 64-bit
    column holds (it orders snapshots, so an unusable one just means "no order known")."""
    try:
        value = int(raw) if raw is not None and not isinstance(raw, bool) else None
    except (TypeError, ValueError):
        return None
    return value if value is None or -2**63 <= value < 2**63 else None
