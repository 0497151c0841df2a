"""The `bridge` command: clear one-line errors, and the commands operators use on orders."""
import json
import re
import subprocess
import sys

import pytest
import click
from click.testing import CliRunner

from bridge.cli import main
from bridge.service import jobs
from tests.builders import INSTANCE, POS_SECRET, POS_URL, accepted, an_order, pos_error


@pytest.fixture
def plain_env(tmp_path, public_pem) -> dict[str, str]:
    """A production-shaped configuration on a SQLite file: these tests stop before the database."""
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'bridge.db'}", "WIX_APP_ID": "app-id",
            "WIX_APP_SECRET": "app-secret", "WIX_PUBLIC_KEY": public_pem, "POS_CLIENT": "webhook",
            "POS_SITES": "*",
            "POS_WEBHOOK_URL": POS_URL, "POS_WEBHOOK_SECRET": POS_SECRET}


@pytest.mark.parametrize("overrides, named", [
    ({"WIX_PUBLIC_KEY": ""}, "WIX_PUBLIC_KEY is missing"),
    ({"WIX_PUBLIC_KEY": "not a key"}, "WIX_PUBLIC_KEY is malformed"),
    ({"WIX_APP_SECRET": ""}, "WIX_APP_SECRET is missing"),
    ({"POS_CLIENT": "nope"}, "POS_CLIENT is malformed"),
    ({"POS_WEBHOOK_URL": ""}, "POS_WEBHOOK_URL is missing"),
    ({"POS_WEBHOOK_SECRET": ""}, "POS_WEBHOOK_SECRET is missing"),
    ({"POS_WEBHOOK_STATUSES": "yes"}, "POS_WEBHOOK_STATUSES is malformed"),
    ({"POS_WEBHOOK_SECRET": "whsec_!!!"}, "POS_WEBHOOK_SECRET (secret 1) is malformed"),
    ({"POS_WEBHOOK_SECRET": "whsec_AA=="}, "POS_WEBHOOK_SECRET (secret 1) is too weak: 1 bytes"),
    ({"POS_WEBHOOK_SECRET": "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
     "POS_WEBHOOK_SECRET (secret 1) is malformed: expected whsec_"),
    ({"POS_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_c2hvcnQ="},
     "POS_WEBHOOK_SECRET (secret 2) is too weak: 5 bytes"),
    ({"DATABASE_URL": "mysql://db/bridge"}, "DATABASE_URL is malformed"),
    ({"DATABASE_URL": "memory://bridge"}, "DATABASE_URL is malformed"),  # tests' store only
    ({"DATABASE_URL": "postgres://db/bridge?nonsense=1"}, "DATABASE_URL is malformed"),
    ({"DATABASE_URL": "postgres://u:hunter2@127.0.0.1:1/bridge"}, "DATABASE_URL: PostgreSQL at "
                                                                  "postgres://u:***@127.0.0.1:1"),
    ({"DATABASE_URL": "postgres://u:hun@ter2@127.0.0.1:1/bridge"},
     "DATABASE_URL is malformed: the password holds an @ not written as %40"),
    ({"DATABASE_URL": "postgres://u:hunter2%zz@127.0.0.1:1/bridge"},
     "DATABASE_URL is malformed: invalid percent-encoded token (postgresql://u:***@"),
    ({"DATABASE_URL": "postgres://u@127.0.0.1:1/bridge?password=hunter2&sslmode=disable"},
     "DATABASE_URL: PostgreSQL at postgres://u@127.0.0.1:1/bridge?password=***"),
    ({"BRIDGE_PUBLIC_URL": "javascript://x"}, "BRIDGE_PUBLIC_URL is malformed"),
    ({"PORT": "eighty"}, "PORT is malformed"),
    ({"BRIDGE_MAX_ATTEMPTS": "0"}, "BRIDGE_MAX_ATTEMPTS is malformed"),
    ({"WIX_PUBLIC_KEY": "", "WIX_APP_ID": "", "WIX_APP_SECRET": ""},
     "WIX_PUBLIC_KEY is missing: without it the bridge runs in sandbox mode, where locally "
     "signed sample orders would reach POS_CLIENT=webhook"),
    ({"BRIDGE_SANDBOX": "1"}, "BRIDGE_SANDBOX is malformed: it asks for sandbox mode, but "
                              "WIX_PUBLIC_KEY is set"),
    ({"WIX_PUBLIC_KEY": "", "WIX_APP_ID": "", "WIX_APP_SECRET": "", "BRIDGE_SANDBOX": "maybe"},
     "BRIDGE_SANDBOX is malformed: 'maybe' is not 1 or 0"),
    ({"BRIDGE_LEASE_SECONDS": "15", "BRIDGE_ATTEMPT_DEADLINE": "20"},
     "BRIDGE_LEASE_SECONDS is malformed: 15 s must be longer than BRIDGE_ATTEMPT_DEADLINE"),
    ({"POS_WEBHOOK_TIMEOUT": "soon"}, "POS_WEBHOOK_TIMEOUT is malformed"),
    ({"WIX_APP_ID": "", "WIX_APP_SECRET": "app-secret"}, "WIX_APP_ID is missing: it is required "
                                                         "once WIX_APP_SECRET is set"),
    ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL is malformed: 'CHATTY'"),
    ({"BRIDGE_SQLITE_SYNCHRONOUS": "off"}, "BRIDGE_SQLITE_SYNCHRONOUS is malformed: 'OFF'"),
    ({"WIX_API_BASE": "ftp://wix"}, "WIX_API_BASE is malformed: 'ftp://wix' is not an http(s)"),
    ({"BRIDGE_SECRET_KEY": "short"}, "BRIDGE_SECRET_KEY is malformed: key 1 of 1 is neither"),
    ({"BRIDGE_TERMS_FILE": "no-such-terms.txt"}, "BRIDGE_TERMS_FILE is malformed"),
    ({"BRIDGE_OPERATOR_PASSWORD": "letmein"}, "BRIDGE_OPERATOR_PASSWORD is malformed: use at "
                                              "least 12 characters"),
    ({"BRIDGE_DASHBOARD_FRAME_ANCESTORS": "https://a.example;https://b.example"},
     "BRIDGE_DASHBOARD_FRAME_ANCESTORS is malformed: give origins separated by spaces"),
])
def test_a_bad_setting_stops_start_up_with_one_line_naming_it(plain_env, tmp_path, monkeypatch,
                                                             overrides, named):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["worker", "--once"], env={**plain_env, **overrides})
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert named in result.stderr and "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert "ter2" not in result.stderr + result.stdout


@pytest.mark.slow
def test_the_installed_command_stops_with_one_line_too(plain_env, tmp_path):
    """The same through the console script, as an operator runs it: no traceback on stderr."""
    process = subprocess.run([sys.executable, "-m", "bridge", "worker", "--once"],
                             env={"PATH": "/usr/bin:/bin", **plain_env, "PORT": "eighty"},
                             cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert process.returncode == 2
    assert process.stderr.strip() == "bridge: PORT is malformed: 'eighty' is not a number"


def test_a_secret_never_appears_in_an_error_line(plain_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    secret = "whsec_c2VjcmV0LXZhbHVlLXRoYXQtbXVzdC1ub3QtbGVhaw"
    result = CliRunner().invoke(main, ["worker", "--once"], env={
        **plain_env, "POS_WEBHOOK_SECRET": secret, "POS_WEBHOOK_URL": "ftp://nowhere"})
    assert result.exit_code == 2 and secret not in result.stderr + result.stdout


def test_migrate_is_safe_to_run_twice(run):
    first = run("migrate")
    assert first.exit_code == 0 and re.match(r"applied: (m|pg)001_core", first.output)
    again = run("migrate")
    assert again.exit_code == 0 and "up to date" in again.output


def test_a_worker_refuses_a_database_that_was_never_migrated(run):
    result = run("worker", "--once")
    assert result.exit_code == 2 and "run `bridge migrate`" in result.output


def test_orders_show_and_replay_an_order_that_failed(run, bridge, client, signer, worker, mocked):
    mocked.post(POS_URL, json=pos_error("invalid_item_mapping"))
    mocked.post(POS_URL, json=accepted("pos-42"))
    order = an_order(number="777")
    client.post("/webhooks/wix", data=signer.order_webhook(order))
    worker.drain()

    listed = run("orders", "--state", "failed")
    assert listed.exit_code == 0 and order["id"] in listed.output and "invalid_item_mapping" in listed.output
    assert order["id"] not in run("orders", "--state", "sent").output

    shown = json.loads(run("show", order["id"], "--json").output)
    assert shown["order"]["state"] == "failed"
    assert [e["event_type"] for e in shown["events"]] == ["wix.ecom.v1.order_created"]
    assert [a["outcome"] for a in shown["attempts"]] == ["done", "failed"]
    assert "invalid_item_mapping" in shown["attempts"][-1]["error"]

    replayed = run("replay", order["id"])
    assert replayed.exit_code == 0 and "replaying" in replayed.output
    worker.drain()
    assert bridge.store.get_order(INSTANCE, order["id"]).pos_order_id == "pos-42"
    assert run("replay", order["id"]).exit_code == 1  # nothing failed any more


def test_orders_and_show_say_when_a_site_s_pos_breaker_holds_an_order(run, bridge, client,
                                                                      signer, worker):
    order = an_order(number="778")
    client.post("/webhooks/wix", data=signer.order_webhook(order))
    worker.run_once()                                   # queued for the POS, not sent yet
    destination = jobs.pos_destination(bridge.store.get_order(INSTANCE, order["id"]).instance_id)
    for _ in range(5):
        bridge.store.count_breaker_failure(destination, "POS unreachable: ConnectionError")
    bridge.store.open_breaker(destination, 30)

    listed = run("orders")
    assert "queued" in listed.output and "POS not answering, orders held" in listed.output
    assert "5 failures in a row): POS unreachable: ConnectionError" in listed.output
    shown = json.loads(run("show", order["id"], "--json").output)
    assert "circuit breaker open" in shown["order"]["pos_held"]

    bridge.store.close_breaker(destination)
    assert "not answering" not in run("orders").output


def test_show_says_so_for_an_unknown_order(run):
    run("migrate")
    result = run("show", "no-such-order")
    assert result.exit_code == 1 and "no order no-such-order" in result.output


def test_statuses_lists_updates_and_replay_status_sends_a_failed_one_again(
        run, bridge, client, signer, worker, mocked):
    from tests.builders import WIX_URL, signed_callback
    mocked.post(POS_URL, json=accepted("pos-1"))
    order = an_order()
    client.post("/webhooks/wix", data=signer.order_webhook(order))
    worker.drain()
    mocked.post(f"{WIX_URL}/oauth2/token", json={"access_token": "t", "expires_in": 14400})
    mocked.get(f"{WIX_URL}/ecom/v1/fulfillments/orders/{order['id']}", json={
        "orderWithFulfillments": {"fulfillments": [
            {"id": "f-1", "lineItems": [{"id": order["lineItems"][0]["id"]}]}]}})
    url = f"{WIX_URL}/ecom/v1/fulfillments/f-1/orders/{order['id']}"
    mocked.patch(url, status=400, json={"message": "no", "details": {
        "applicationError": {"code": "BAD_STATE"}}})
    mocked.patch(url, json={})
    body, headers = signed_callback({"orderId": "pos-1", "status": "READY"})
    client.post("/pos/webhook/events", data=body, headers=headers)
    worker.drain()

    failed = [json.loads(line) for line in run("statuses", "--state", "failed", "--json")
              .output.splitlines()]
    assert [(u["status"], u["wix_order_id"]) for u in failed] == [("READY", order["id"])]
    assert "BAD_STATE" in failed[0]["note"]
    shown = json.loads(run("show", order["id"], "--json").output)
    assert shown["status_updates"][0]["state"] == "failed"
    assert [j["kind"] for j in shown["jobs"]] == ["process_event", "send_order", "wix_status"]

    assert run("replay", "--status", str(failed[0]["id"])).exit_code == 0
    worker.drain()
    assert "sent" in run("statuses").output
    assert run("replay", order["id"], "--job", "1").exit_code == 2  # one target at a time


def test_show_takes_the_order_number_that_orders_prints(run, bridge, client, signer, worker,
                                                        mocked):
    mocked.post(POS_URL, json=accepted("pos-1"))
    order = an_order(number="10777")
    client.post("/webhooks/wix", data=signer.order_webhook(order))
    worker.drain()
    for given in ("10777", "#10777"):
        shown = json.loads(run("show", given, "--json").output)
        assert shown["order"]["wix_order_id"] == order["id"]
    other_site = an_order(number="10777")  # every site numbers its own orders
    client.post("/webhooks/wix", data=signer.order_webhook(other_site, instance_id="site-2"))
    mocked.post(POS_URL, json=accepted("pos-2"))
    worker.drain()
    ambiguous = run("show", "#10777")
    assert ambiguous.exit_code == 1
    assert order["id"] in ambiguous.output and other_site["id"] in ambiguous.output


def test_a_limit_below_one_is_refused_not_taken_as_nothing(run):
    result = run("orders", "--limit", "0")
    assert result.exit_code == 2 and "--limit" in result.output


@pytest.mark.parametrize("args", [["-h"], ["accounts", "-h"], ["configurations", "add", "-h"],
                                  ["replay", "-h"]])
def test_h_asks_any_command_for_its_help_as_help_does(args):
    short = CliRunner().invoke(main, args)
    assert short.exit_code == 0 and short.output.startswith("Usage: ")
    assert short.output == CliRunner().invoke(main, [*args[:-1], "--help"]).output


def test_every_option_of_every_command_has_help():
    from bridge.cli import main
    for name, command in main.commands.items():
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"bridge {name} {param.opts[0]}"


def test_pos_list_names_each_installed_client_and_its_settings(run):
    listed = run("pos", "list")
    assert listed.exit_code == 0
    assert "webhook  (POS_CLIENT)" in listed.output   # the tests' configuration chooses it
    assert "POS_SQUARE_FALLBACK_PHONE" in listed.output and "POS_DEMO_STEP_SECONDS" in listed.output
    clients = [json.loads(line) for line in run("pos", "list", "--json").output.splitlines()]
    by_name = {c["name"]: c for c in clients}
    assert {"demo", "webhook", "square"} <= set(by_name)
    assert {"name": "POS_WEBHOOK_TIMEOUT", "default": "10",
            "help": "seconds to wait for the POS's answer (within BRIDGE_ATTEMPT_DEADLINE)"} in \
        by_name["webhook"]["settings"]


def test_show_prints_an_order_s_history_as_text(run, bridge, client, signer, worker, mocked):
    mocked.post(POS_URL, json=accepted("pos-7"))
    order = an_order(number="778")
    client.post("/webhooks/wix", data=signer.order_webhook(order))
    worker.drain()
    shown = run("show", "#778")
    assert shown.exit_code == 0
    lines = shown.output.splitlines()
    assert any(re.fullmatch(r" *pos_order_id: pos-7", line) for line in lines)
    assert "events:" in lines
    assert "attempts:" in lines and "import:" not in lines  # exported: no import section
    assert any(line.startswith("  job_id=") and "outcome=done" in line for line in lines)


def test_send_sample_posts_a_signed_order_that_a_sandbox_bridge_takes(run, env):
    import threading

    from werkzeug.serving import make_server

    from bridge.bootstrap import bootstrap
    from bridge.config import load_config
    from bridge.web.app import create_app
    sandbox = {"WIX_PUBLIC_KEY": "", "WIX_APP_ID": "", "WIX_APP_SECRET": "", "POS_CLIENT": "demo"}
    wired = bootstrap(load_config({**env, **sandbox}))
    wired.store.migrate()
    server = make_server("127.0.0.1", 0, create_app(wired), threaded=True)
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/webhooks/wix"
        sent = run("send-sample", "--url", url, "--status", "INITIALIZED", **sandbox)
        assert sent.exit_code == 0 and "HTTP 200" in sent.output
        number = re.search(r"sent order #(\d+)", sent.output).group(1)
        wired.worker(poll_seconds=0.01).drain()
        [stored] = wired.store.find_orders_by_number(number)
        assert stored.state == "received"  # not approved yet: kept, not sent
        nowhere = run("send-sample", "--url", "http://127.0.0.1:9/webhooks/wix", **sandbox)
        assert nowhere.exit_code == 1 and "could not reach" in nowhere.output
    finally:
        server.shutdown()
        wired.store.close()
    refused = run("send-sample")  # a production configuration has Wix's key
    assert refused.exit_code != 0 and "sandbox mode only" in refused.output
