"""The inbox: every verified Wix webhook, stored before it is answered, until the worker
gives it its processing job."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from bridge.storage.common import SqlBase
from bridge.storage.jobs import INSERT_JOB, NewJob, job_row


@dataclass(frozen=True)
class StoredEvent:
    """A verified webhook as the inbox keeps it. `text` is the domain event's JSON as Wix sent it;
    `payload` the unwrapped body of an event stored before the text was kept (older SQLite rows)."""
    id: str
    instance_id: str
    event_type: str
    entity_id: str | None
    order_id: str | None
    sequence: int | None
    event_time: str | None
    text: str | None
    payload: str | None = None


# How a stored event becomes its processing job: (event id, instance id, order id) -> job.
EventJob = Callable[[str, str, "str | None"], NewJob]


class Inbox(Protocol):
    def record_event(self, event: StoredEvent) -> bool:
        """Durably store a verified webhook; False for a duplicate event id."""

    def get_event(self, event_id: str) -> StoredEvent | None: ...


# An event of `_event_row`; an event id already stored is not stored again.
INSERT_EVENT = ("INSERT INTO events (id, instance_id, event_type, entity_id, sequence,"
                " event_time, received_at, payload, domain_event, order_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")


_EVENT_COLUMNS = ("id, instance_id, event_type, entity_id, order_id, sequence, event_time,"
                  " domain_event, payload")


class EventsSql(SqlBase):
    """The inbox's statements (reading on from the last taken event is each adapter's own)."""

    def get_event(self, event_id: str) -> StoredEvent | None:
        row = self._execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE id = ?", [event_id]).one()
        if row is None:
            return None
        (id_, instance_id, event_type, entity_id, order_id, sequence, event_time, text,
         payload) = row
        return StoredEvent(id=id_, instance_id=instance_id, event_type=event_type,
                           entity_id=entity_id, order_id=order_id, sequence=sequence,
                           event_time=event_time, text=text, payload=payload or None)

    @staticmethod
    def _event_row(event: StoredEvent, now: str) -> tuple:
        return (event.id, event.instance_id, event.event_type, event.entity_id, event.sequence,
                event.event_time, now, event.payload or "", event.text, event.order_id)

    def _jobs_for_events(self, events: list[tuple[str, str, str | None]], epoch: float,
                         now: str) -> None:
        """Add the processing job of each newly taken (event id, instance id, order id)."""
        if self.event_job is None:
            raise RuntimeError("this store was opened without an event_job: it cannot claim")
        self._executemany(INSERT_JOB, [job_row(self.event_job(*event), epoch, now)
                                       for event in events])
