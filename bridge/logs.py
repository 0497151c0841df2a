"""One structured line per thing that happened: `event=order_sent order_id=... pos_order_id=...`.

logfmt, because platform log routers (Heroku, Render, Fly) and grep both read it. Callers pass ids
and reasons only, never tokens, secrets or order payloads.
"""
from __future__ import annotations

import logging
import sys

_configured = False


def setup(level: str = "INFO") -> None:
    global _configured
    root = logging.getLogger()
    root.setLevel(level)
    if not _configured:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(
            "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"))
        root.addHandler(handler)
        # The pool would log each reconnection attempt while the database is down; the bridge
        # says it once, in its own words (event=worker_waiting_for_database, health_failed).
        logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
        _configured = True


def _value(value: object) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' "=\n\t'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def fields(event: str, **values: object) -> str:
    parts = [f"event={event}"]
    parts += [f"{k}={_value(v)}" for k, v in values.items() if v is not None]
    return " ".join(parts)


def _log(logger: logging.Logger, level: int, event: str, values: dict[str, object]) -> None:
    # The line is built only when it will be written: the receiver logs every webhook, and
    # formatting one costs about as much as parsing its envelope.
    if logger.isEnabledFor(level):
        logger.log(level, "%s", fields(event, **values))


def info(logger: logging.Logger, event: str, **values: object) -> None:
    _log(logger, logging.INFO, event, values)


def warning(logger: logging.Logger, event: str, **values: object) -> None:
    _log(logger, logging.WARNING, event, values)


def error(logger: logging.Logger, event: str, **values: object) -> None:
    _log(logger, logging.ERROR, event, values)
