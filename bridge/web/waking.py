"""Waking an in-process worker (`bridge serve`) as soon as a receiver has stored something."""
from __future__ import annotations

from flask import current_app


def wake_worker() -> None:
    wake = current_app.extensions.get("bridge.wake")
    if wake is not None:
        wake()
