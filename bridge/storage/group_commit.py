"""Group commit: concurrent writers share one transaction, and so one fsync and one lock handoff.

Under load the web process's threads all want SQLite's single write lock at once. Taking it in
turn costs each request a commit (an fsync with synchronous=FULL) plus a wait for the GIL while
holding the lock. Instead the first thread to arrive becomes the leader, writes everything queued
so far in one transaction, and wakes the others with their results; whoever arrives meanwhile is
in the next batch. Nobody is answered before their own row is committed.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Callable, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Ticket(Generic[Item, Result]):
    __slots__ = ("item", "result", "error", "lead", "ready")

    def __init__(self, item: Item):
        self.item = item
        self.result: Result | None = None
        self.error: BaseException | None = None
        self.lead = False
        self.ready = threading.Event()  # set once committed, or once made the next leader


class GroupCommit(Generic[Item, Result]):
    """Each waiting thread is woken once, by its own ticket: when its batch is committed, or
    when it becomes the next leader. (With one shared condition every commit woke every waiter,
    most of them only to wait again: context switches the web process paid for under load.)"""

    def __init__(self, write_batch: Callable[[list[Item]], list[Result]], max_batch: int = 128):
        self._write_batch = write_batch
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: deque[_Ticket] = deque()
        self._leading = False

    def submit(self, item: Item) -> Result:
        """Write `item` (with whatever else is queued) and return its result once committed."""
        ticket: _Ticket = _Ticket(item)
        with self._lock:
            if self._leading:
                self._queue.append(ticket)
            else:
                self._leading = ticket.lead = True
        if not ticket.lead:
            ticket.ready.wait()
        if ticket.lead:
            self._lead(ticket)
        if ticket.error is not None:
            raise ticket.error
        return ticket.result  # type: ignore[return-value]

    def _lead(self, ticket: _Ticket) -> None:
        """Write this ticket and the ones queued behind it, wake them, hand the lead on."""
        with self._lock:
            batch = [ticket]
            while self._queue and len(batch) < self._max_batch:
                batch.append(self._queue.popleft())
        self._write(batch)
        for other in batch[1:]:
            other.ready.set()
        with self._lock:
            successor = self._queue.popleft() if self._queue else None
            if successor is None:
                self._leading = False
            else:
                successor.lead = True
        if successor is not None:
            successor.ready.set()

    def _write(self, batch: list[_Ticket]) -> None:
        try:
            results = self._write_batch([t.item for t in batch])
        except BaseException as error:  # nobody in the batch was committed: all of them fail
            for ticket in batch:
                ticket.error = error
            return
        for ticket, result in zip(batch, results, strict=True):
            ticket.result = result
