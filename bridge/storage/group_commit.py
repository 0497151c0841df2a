"""Group commit: concurrent writers share one transaction, and so one fsync and one lock handoff.

Under load the web process's threads all want SQLite's single write lock at once. Taking it in
turn costs each request a commit (an fsync with synchronous=FULL) plus a wait for the GIL while
holding the lock. Instead the first thread to arrive becomes the leader, writes everything queued
so far in one transaction, and wakes the others with their results; whoever arrives meanwhile is
in the next batch. Nobody is answered before their own row is committed.
"""
from __future__ import annotations

import threading
from typing import Callable, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Ticket(Generic[Item, Result]):
    __slots__ = ("item", "result", "error", "done")

    def __init__(self, item: Item):
        self.item = item
        self.result: Result | None = None
        self.error: BaseException | None = None
        self.done = False


class GroupCommit(Generic[Item, Result]):
    def __init__(self, write_batch: Callable[[list[Item]], list[Result]], max_batch: int = 128):
        self._write_batch = write_batch
        self._max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[_Ticket] = []
        self._leading = False

    def submit(self, item: Item) -> Result:
        """Write `item` (with whatever else is queued) and return its result once committed."""
        ticket: _Ticket = _Ticket(item)
        with self._cond:
            self._queue.append(ticket)
            while not ticket.done:
                if self._leading:
                    self._cond.wait()
                    continue
                self._leading = True
                batch, self._queue = self._queue[:self._max_batch], self._queue[self._max_batch:]
                self._cond.release()
                try:
                    self._write(batch)
                finally:
                    self._cond.acquire()
                    self._leading = False
                    self._cond.notify_all()
        if ticket.error is not None:
            raise ticket.error
        return ticket.result  # type: ignore[return-value]

    def _write(self, batch: list[_Ticket]) -> None:
        try:
            results = self._write_batch([t.item for t in batch])
        except BaseException as error:  # nobody in the batch was committed: all of them fail
            for ticket in batch:
                ticket.error, ticket.done = error, True
            return
        for ticket, result in zip(batch, results, strict=True):
            ticket.result, ticket.done = result, True
