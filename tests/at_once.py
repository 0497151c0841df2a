"""Counting what runs at the same time: the tests that bound concurrency assert on it."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator


class AtOnce:
    """How many callers are inside `inside()` now, and the most there ever were together."""

    def __init__(self):
        self.now = 0
        self.most = 0
        self._lock = threading.Lock()

    @contextmanager
    def inside(self) -> Iterator[None]:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            yield
        finally:
            with self._lock:
                self.now -= 1
