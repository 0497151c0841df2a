"""Where the data lives: private files, one clear line for a database that cannot be used, no
empty database made by mistake, and /healthz that notices a database refusing writes."""
import os
import stat
import subprocess
import sys
from urllib.parse import quote

import pytest

from bridge.bootstrap import bootstrap
from bridge.config import load_config
from bridge.storage import open_store
from bridge.web.app import create_app
from tests import postgres
from tests.builders import an_order


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_sqlite_database_and_its_wal_are_readable_by_the_owner_only(tmp_path, signer,
                                                                           make_bridge, env):
    path = tmp_path / "private" / "bridge.db"
    old = os.umask(0o022)
    try:
        bridge = make_bridge({**env, "DATABASE_URL": f"sqlite:///{path}"})
        client = create_app(bridge).test_client()
        assert client.post("/webhooks/wix", data=signer.order_webhook(an_order())).status_code == 200
    finally:
        os.umask(old)
    files = [path, path.with_name("bridge.db-wal"), path.with_name("bridge.db-shm")]
    assert all(f.exists() for f in files)
    assert [oct(mode(f)) for f in files] == [oct(0o600)] * 3


def bridge_cli(args, env, cwd):
    return subprocess.run([sys.executable, "-m", "bridge", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, env={"PATH": os.environ["PATH"], **env})


@pytest.mark.parametrize("url, said", [
    ("sqlite:///:memory:", "is not a file"),
    ("sqlite:///bridge.db?mode=ro", "options after ? (such as ?mode=ro) are not supported"),
    ("sqlite:///{tmp}", "is a folder, not a database file"),
    ("sqlite:////etc/passwd", "/etc/passwd cannot be used: file is not a database"),
])
@pytest.mark.slow
@pytest.mark.parametrize("command", [["migrate"], ["orders"]])
def test_an_unusable_database_path_stops_with_one_line_naming_database_url(
        tmp_path, public_pem, url, said, command):
    result = bridge_cli(command, {"DATABASE_URL": url.format(tmp=tmp_path),
                                  "WIX_PUBLIC_KEY": public_pem}, tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "DATABASE_URL" in result.stderr and said in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("command", [["orders"], ["show", "some-order"], ["worker", "--once"],
                                     ["statuses"]])
def test_a_command_run_from_another_folder_says_which_database_and_creates_none(
        tmp_path, public_pem, command):
    result = bridge_cli(command, {"WIX_PUBLIC_KEY": public_pem}, tmp_path)
    assert result.returncode == 2
    assert f"no database at {tmp_path / 'bridge.db'}" in result.stderr
    assert f"working folder, here {tmp_path}" in result.stderr
    assert not (tmp_path / "bridge.db").exists()


@pytest.mark.postgres
def test_health_answers_503_when_the_database_answers_but_refuses_writes(public_pem, caplog):
    with postgres.fresh_schema() as url:
        migrator = open_store(url)
        migrator.migrate()
        migrator.close()
        read_only = url.replace("options=", "options="
                                + quote("-cdefault_transaction_read_only=on "), 1)
        bridge = bootstrap(load_config({"DATABASE_URL": read_only, "WIX_PUBLIC_KEY": public_pem}))
        try:
            answer = create_app(bridge).test_client().get("/healthz")
        finally:
            bridge.store.close()
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "database_unavailable"
    assert "read-only transaction" in caplog.text and "Traceback" not in caplog.text


@pytest.mark.parametrize("path, says", [
    (":memory:", "is not a file"),
    ("file:bridge.db", "is not a file"),
    ("bridge.db?mode=ro", "options after ?"),
    ("{folder}", "is a folder, not a database file"),
])
def test_a_sqlite_url_that_is_not_one_file_stops_start_up_naming_database_url(tmp_path, path,
                                                                               says):
    from bridge.bootstrap import open_configured_store
    from bridge.config import ConfigError
    url = "sqlite:///" + path.format(folder=tmp_path)
    with pytest.raises(ConfigError, match=f"DATABASE_URL is malformed: .*{says}"):
        open_configured_store(load_config({"DATABASE_URL": url}))


def test_an_upgrade_keeps_every_order_and_names_it_by_its_site(tmp_path):
    """A database from before orders were keyed per site keeps its orders, their POS ids and
    the index that finds them, once `bridge migrate` has run."""
    import sqlite_utils

    from bridge.storage.schema import migrations
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    migrations.apply(old, stop_before="m014_orders_per_site")
    old.execute("INSERT INTO orders (wix_order_id, instance_id, state, snapshot, pos_client,"
                " pos_order_id, created_at, updated_at) VALUES ('wix-1', 'site-a', 'sent', '{}',"
                " 'webhook', 'P-1', 't', 't')")
    old.conn.commit()
    old.close()
    store = open_store(f"sqlite:///{path}")
    try:
        assert "m014_orders_per_site" in store.migrate()
        record = store.get_order("site-a", "wix-1")
        assert (record.state, record.pos_order_id) == ("sent", "P-1")
        assert store.find_order_by_pos_id("webhook", "P-1").wix_order_id == "wix-1"
        store.save_order(wix_order_id="wix-1", instance_id="site-b", state="queued", snapshot={})
        assert len(store.orders_with_id("wix-1")) == 2
    finally:
        store.close()


@pytest.mark.postgres
def test_an_upgrade_on_postgresql_keeps_every_order_and_names_it_by_its_site():
    import itertools

    import psycopg

    from bridge.storage.postgres import conninfo
    from bridge.storage.postgres_schema import MIGRATIONS
    with postgres.fresh_schema() as url:
        with psycopg.connect(conninfo(url), autocommit=True) as conn:
            conn.execute("CREATE TABLE bridge_migrations (name text PRIMARY KEY,"
                         " applied_at text NOT NULL)")
            before = itertools.takewhile(lambda m: m[0] != "pg010_orders_per_site", MIGRATIONS)
            for name, statements in before:
                for statement in statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO bridge_migrations VALUES (%s, 't')", [name])
            conn.execute("INSERT INTO orders (wix_order_id, instance_id, state, snapshot,"
                         " pos_client, pos_order_id, created_at, updated_at) VALUES ('wix-1',"
                         " 'site-a', 'sent', '{}', 'webhook', 'P-1', 't', 't')")
        store = open_store(url)
        try:
            assert store.migrate()[0] == "pg010_orders_per_site"  # then the shared ones
            assert store.get_order("site-a", "wix-1").pos_order_id == "P-1"
            store.save_order(wix_order_id="wix-1", instance_id="site-b", state="queued",
                             snapshot={})
            assert len(store.orders_with_id("wix-1")) == 2
        finally:
            store.close()
