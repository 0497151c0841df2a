"""Configuration an operator gets wrong: sandbox by accident, and settings spelt wrong."""
import logging

import pytest

from bridge.bootstrap import announce, bootstrap
from bridge.config import ConfigError, load_config
from bridge.web.app import create_app


def test_sandbox_with_a_real_pos_runs_only_when_the_operator_says_so(env):
    sandboxed = {k: v for k, v in env.items() if not k.startswith("WIX_")}
    with pytest.raises(ConfigError, match="BRIDGE_SANDBOX=1 to run the sandbox against this POS"):
        load_config(sandboxed)
    assert load_config({**sandboxed, "BRIDGE_SANDBOX": "1"}).sandbox
    assert load_config({**sandboxed, "POS_CLIENT": "demo"}).sandbox   # the demo POS is no risk


def test_settings_that_nothing_reads_are_named_at_start_up_and_in_healthz(env, make_bridge,
                                                                         caplog):
    typos = {"WIX_PUBLICKEY": "x", "POS_WEBHOK_URL": "x", "POS_WEBHOOK_SECRT": "x",
             "BRIDGE_WORKERS": "3", "POS_SQUARE_TOKEN": "x"}
    fine = {"POS_SQUARE_ACCESS_TOKEN": "x", "POS_DEMO_STEP_SECONDS": "1", "BRIDGE_TEST_X": "1",
            "POS_WEBHOOK_TIMEOUT": "5"}
    bridge = make_bridge({**env, **typos, **fine})
    with caplog.at_level(logging.WARNING):
        announce(bridge)
    (line,) = [r.getMessage() for r in caplog.records if "event=unknown_settings" in r.getMessage()]
    assert ("BRIDGE_WORKERS, POS_SQUARE_TOKEN, POS_WEBHOK_URL, POS_WEBHOOK_SECRT, WIX_PUBLICKEY"
            in line)
    assert not any(name in line for name in fine)
    warnings = create_app(bridge).test_client().get("/healthz").get_json()["warnings"]
    assert len(warnings) == 1 and "WIX_PUBLICKEY" in warnings[0]


def test_sandbox_mode_is_loud_in_healthz_and_the_log(tmp_path, caplog):
    bridge = bootstrap(load_config({"DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}"}))
    try:
        bridge.store.migrate()
        with caplog.at_level(logging.WARNING):
            announce(bridge)
        health = create_app(bridge).test_client().get("/healthz").get_json()
    finally:
        bridge.store.close()
    assert health["sandbox"] is True
    assert any("real Wix webhooks are refused" in w for w in health["warnings"])
    assert "event=sandbox_mode" in caplog.text


@pytest.mark.parametrize("environ, says", [
    ({"BRIDGE_SMTP_URL": "smtp://127.0.0.1:2525"}, "BRIDGE_MAIL_FROM is missing"),
    ({"BRIDGE_SMTP_URL": "http://mail.example", "BRIDGE_MAIL_FROM": "a@b.c"},
     "BRIDGE_SMTP_URL is malformed"),
    ({"BRIDGE_SMTP_URL": "smtp://u:hunter2@mail.example:port", "BRIDGE_MAIL_FROM": "a@b.c"},
     "BRIDGE_SMTP_URL is malformed: the port is not a number"),
])
def test_mail_settings_are_checked_and_never_echo_a_password(environ, says):
    with pytest.raises(ConfigError, match=says) as refused:
        load_config(environ)
    assert "hunter2" not in str(refused.value)


def test_a_dot_env_file_in_the_working_folder_is_read_and_the_environment_wins(tmp_path,
                                                                               monkeypatch):
    (tmp_path / ".env").write_text("LOG_LEVEL=debug\nPORT=9000\nBRIDGE_MAX_ATTEMPTS=\n")
    monkeypatch.chdir(tmp_path)
    for name in ("LOG_LEVEL", "BRIDGE_MAX_ATTEMPTS", "WIX_PUBLIC_KEY", "WIX_APP_ID",
                 "WIX_APP_SECRET", "POS_CLIENT", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORT", "8100")
    config = load_config()
    assert (config.log_level, config.port, config.max_attempts) == ("DEBUG", 8100, 12)
