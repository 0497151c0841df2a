"""PostgreSQL for the tests: a schema of its own per test, on the server named by
BRIDGE_TEST_POSTGRES_URL (default: the local server, as CI and the project's machines have it).

Where no server answers, the PostgreSQL variants are skipped, saying how to run them; with
BRIDGE_TEST_POSTGRES=required (as `.ci/run` sets it) they fail instead, so CI cannot pass by
running nothing.
"""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import quote

import pytest

SERVER_URL = os.environ.get("BRIDGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRED = os.environ.get("BRIDGE_TEST_POSTGRES") == "required"
_unreachable: str | None = None


def _admin():
    import psycopg
    return psycopg.connect(SERVER_URL, autocommit=True, connect_timeout=3)


def with_schema(schema: str, server: str = SERVER_URL) -> str:
    """The server URL with every connection's search_path set to `schema`."""
    separator = "&" if "?" in server else "?"
    return f"{server}{separator}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A new, empty schema, dropped afterwards, so tests never see each other's rows."""
    global _unreachable
    if _unreachable is None:
        try:
            _admin().close()
            _unreachable = ""
        except Exception as error:  # noqa: BLE001 - any failure to connect means "no server"
            _unreachable = " ".join(str(error).split()) or type(error).__name__
    if _unreachable:
        message = (f"PostgreSQL not reachable at {SERVER_URL} ({_unreachable}); start it or set "
                   "BRIDGE_TEST_POSTGRES_URL to run the PostgreSQL tests")
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with _admin() as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_schema(schema)
    finally:
        _drop(schema)


def _drop(schema: str) -> None:
    """Drop the test's schema; a thread the test left behind (the demo kitchen reporting a last
    step) may still be writing to it, and the two can deadlock: try again."""
    import time

    import psycopg
    for attempt in range(10):
        try:
            with _admin() as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
            return
        except psycopg.errors.DeadlockDetected:
            time.sleep(0.1 * (attempt + 1))
    raise RuntimeError(f"could not drop test schema {schema}")


def summary(skipped_reports: list) -> str | None:
    """One line for the PostgreSQL variants skipped for want of a server, with how to run them."""
    skipped = [r for r in skipped_reports if "PostgreSQL not reachable" in str(r.longrepr)]
    if not skipped:
        return None
    return (f"{len(skipped)} PostgreSQL tests skipped: no server answers at {SERVER_URL} "
            f"({_unreachable}). Start PostgreSQL there, or point BRIDGE_TEST_POSTGRES_URL at "
            "one, to run them.")


def through_port(url: str, port: int) -> str:
    """The same database URL, reached through another loopback port (a proxy's)."""
    from urllib.parse import urlsplit, urlunsplit
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


def server_address() -> tuple[str, int]:
    from urllib.parse import urlsplit
    parts = urlsplit(SERVER_URL)
    return parts.hostname or "127.0.0.1", parts.port or 5432
