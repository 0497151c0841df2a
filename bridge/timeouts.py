"""How long a call to another system (a POS, Wix) may take: every HTTP adapter asks here.

Three bounds, all settings: a short connect timeout (a host that does not answer is found out in
seconds), each client's own read timeout, and a deadline for a worker's whole attempt at a job,
however many calls and retries it makes inside. The worker opens the attempt; an adapter asks
`for_request(read)` before each call and gets the (connect, read) pair for `requests`, cut to
what is left of the deadline, or `DeadlineExceeded` once nothing is.

`requests` applies the read timeout to each wait for bytes, not to the whole answer: a server
that drips a byte every few seconds can outlast it. The attempt's lease (longer than the deadline,
a setting checked at start-up) is the bound of last resort.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

CONNECT_SECONDS = 3.05  # a little over TCP's 3 s retransmission window, as requests advises

_attempt: ContextVar[tuple[float, float, float] | None] = ContextVar("attempt", default=None)


class DeadlineExceeded(Exception):
    """The attempt's time is up: the call was not made."""


@contextmanager
def attempt(deadline_seconds: float, connect_seconds: float = CONNECT_SECONDS) -> Iterator[None]:
    """Calls made inside share one deadline."""
    token = _attempt.set((time.monotonic() + deadline_seconds, deadline_seconds,
                          connect_seconds))
    try:
        yield
    finally:
        _attempt.reset(token)


def for_request(read_seconds: float) -> tuple[float, float]:
    """(connect, read) timeouts for the next HTTP call."""
    current = _attempt.get()
    if current is None:
        return CONNECT_SECONDS, read_seconds
    deadline, total, connect = current
    left = deadline - time.monotonic()
    if left <= 0.05:
        raise DeadlineExceeded(f"the attempt's deadline of {total:g} s has passed")
    return min(connect, left), min(read_seconds, left)

