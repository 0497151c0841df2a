"""What both SQL adapters share: the statements that read the same on SQLite and PostgreSQL.

The SQL here keeps to what both engines take (`?` placeholders, which the PostgreSQL adapter
rewrites; `ON CONFLICT`; `RETURNING`), so one statement serves both and a fix is made once. What
really differs, each adapter does its own way: connections and transactions, claiming a job, the
inbox, migrations, and waking workers.
"""
from __future__ import annotations

from bridge.storage.catalog import CatalogSql
from bridge.storage.common import Result, SqlBase
from bridge.storage.events import INSERT_EVENT, EventsSql
from bridge.storage.jobs import FINISH_JOB, INSERT_JOB, JobsSql, job_from_row, job_row
from bridge.storage.orders import OrdersSql
from bridge.storage.retention import RetentionSql
from bridge.storage.sites import SitesSql

__all__ = ["FINISH_JOB", "INSERT_EVENT", "INSERT_JOB", "Result", "SqlStore", "job_from_row",
           "job_row"]


class SqlStore(EventsSql, JobsSql, OrdersSql, SitesSql, CatalogSql, RetentionSql, SqlBase):
    """Every area's statements, for an adapter to run: it provides `_execute`, transactions,
    migrations, claiming and the inbox's reading (SQLite and PostgreSQL differ there)."""
