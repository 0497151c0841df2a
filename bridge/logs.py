"""One structured line per thing that happened: `event=order_sent order_id=... pos_order_id=...`.

logfmt, because platform log routers (Heroku, Render, Fly) and grep both read it. Callers pass ids
and reasons only, never tokens, secrets or order payloads.
"""
from __future__ import annotations

import logging
import re
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


# Quoted: what would split a value (space, quote, =) or a line; escaped: every control character
# (CR, NUL, ...) and Unicode line break, so that input from outside can neither break a log line
# nor forge a second one.
_QUOTE = re.compile(r'[\s"=\\\x00-\x1f\x7f\x85\u2028\u2029]')
_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f\x85\u2028\u2029]')
_NAMED = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match) -> str:
    char = match.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100
                                else f"\\u{ord(char):04x}")


def _value(value: object) -> str:
    text = str(value)
    if text == "" or _QUOTE.search(text):
        return '"' + _ESCAPE.sub(_escaped, text) + '"'
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
