"""Verified Wix events in and out of the store's inbox.

The store keeps an event as text and plain fields; reading the Wix body back out of it is the Wix
adapter's business (`payload_of`), not storage's.
"""
from __future__ import annotations

import json

from bridge.storage.port import Inbox, StoredEvent
from bridge.wix.events import WixEvent, payload_of


def record(store: Inbox, event: WixEvent) -> bool:
    """Durably store a verified event; False for a duplicate event id."""
    return store.record_event(_stored(event))


def _stored(event: WixEvent) -> StoredEvent:
    return StoredEvent(
        id=event.id, instance_id=event.instance_id, event_type=event.event_type,
        entity_id=event.entity_id, order_id=event.order_id, sequence=event.sequence,
        event_time=event.event_time, text=event.text,
        payload=None if event.text is not None else json.dumps(event.payload,
                                                               separators=(",", ":")))


def load(store: Inbox, event_id: str) -> WixEvent | None:
    stored = store.get_event(event_id)
    if stored is None or (stored.text is None and not stored.payload):
        return None  # never stored, or its body dropped past its retention
    payload = payload_of(stored.text) if stored.text is not None else json.loads(stored.payload)
    return WixEvent(id=stored.id, event_type=stored.event_type, instance_id=stored.instance_id,
                    entity_id=stored.entity_id, sequence=stored.sequence,
                    event_time=stored.event_time, payload=payload, text=stored.text)
