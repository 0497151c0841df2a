"""The webhook's one write to PostgreSQL, awaited in the web process's event loop.

A request thread that waits for the database gives up the interpreter lock and must take it back
when the answer comes: a handoff between threads, which costs some 60 µs of CPU on this
project's 2-core machines, and a stored webhook made several. The web process's event loop, which
reads every request anyway, can instead send the insert and read other requests until the answer
comes: no thread, no handoff. Same statement, same row, same notification as `record_event` on
the store; its own pool, bound to that loop.
"""
from __future__ import annotations

import asyncio

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from bridge.storage.port import StoredEvent, StoreUnavailable
from bridge.storage.postgres import (CHECKOUT_TIMEOUT_SECONDS, RECONNECT_SECONDS, UNAVAILABLE,
                                     PostgresStore, idle_too_long, kept_cursor, mark_returned)
from bridge.storage.sql import INSERT_EVENT


class AsyncPostgresInbox:
    def __init__(self, store: PostgresStore, connections: int):
        self._store = store
        self._pool = AsyncConnectionPool(
            store.conninfo, min_size=1, max_size=max(connections, 1), open=False,
            kwargs={"autocommit": True}, check=_check_if_idle,
            timeout=CHECKOUT_TIMEOUT_SECONDS, reconnect_timeout=RECONNECT_SECONDS,
            reconnect_failed=lambda pool: None, name="bridge-event-loop")
        self._opening: asyncio.Future | None = None
        self._insert = store._statement(INSERT_EVENT)

    async def record_event(self, event: StoredEvent) -> bool:
        _, now = self._store._now()
        row = self._store._event_row(event, now)
        try:
            conn = await self._connection()
            try:
                cursor = kept_cursor(conn)
                await cursor.execute(self._insert, row)
                stored = cursor.rowcount == 1
            finally:
                mark_returned(conn)
                await self._pool.putconn(conn)
        except UNAVAILABLE as error:
            raise StoreUnavailable(self._store._unavailable(error)) from None
        if stored:
            self._store._added_work()
        return stored

    async def close(self) -> None:
        if self._opening is not None:
            await self._opening
            await self._pool.close()

    async def _connection(self) -> psycopg.AsyncConnection:
        if self._opening is None:  # the first caller opens the pool; the others wait for it
            self._opening = asyncio.ensure_future(self._pool.open())
        if not self._opening.done():
            await self._opening
        try:
            return await self._pool.getconn()
        except PoolTimeout:
            raise StoreUnavailable(self._store._unavailable(await self._why_no_connection())
                                   ) from None

    async def _why_no_connection(self) -> Exception:
        """As the store's: the pool only says it waited in vain; one attempt says why."""
        try:
            await (await psycopg.AsyncConnection.connect(self._store.conninfo,
                                                         connect_timeout=2)).close()
        except psycopg.Error as error:
            return error
        return PoolTimeout("every connection of this event loop was busy for "
                           f"{self._pool.timeout:g} s")


async def _check_if_idle(conn: psycopg.AsyncConnection) -> None:
    """As the store's pool: a connection is checked only after sitting unused a while."""
    if idle_too_long(conn):
        await AsyncConnectionPool.check_connection(conn)
