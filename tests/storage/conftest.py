"""The storage contract runs on every adapter: SQLite, PostgreSQL, and the in-memory store."""
import uuid

import pytest

from tests import postgres


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "memory"])
def database_url(request, tmp_path) -> str:
    """A fresh, empty database: a SQLite file, a PostgreSQL schema, or a named in-memory one,
    each gone afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bridge.db'}"
    elif request.param == "memory":
        name = uuid.uuid4().hex
        yield f"memory://{name}"
        from bridge.storage.memory import MemoryStore
        MemoryStore(name).drop()
    else:
        with postgres.fresh_schema() as url:
            yield url
