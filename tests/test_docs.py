"""The docs keep up with the code: every setting documented, CI running the README's command."""
import re
from pathlib import Path

import pytest

from bridge.config import SETTINGS
from bridge.pos import registry

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
DOCS = REPO / "docs"
CONFIGURATION = (DOCS / "configuration.md").read_text()
OPERATIONS = (DOCS / "operations.md").read_text()
POS_CLIENTS = (DOCS / "pos-clients.md").read_text()


@pytest.mark.parametrize("setting", [s.name for s in SETTINGS])
def test_every_setting_is_in_the_configuration_reference_and_env_example(setting):
    assert f"`{setting}`" in CONFIGURATION
    assert re.search(rf"^# {setting}=", (REPO / ".env.example").read_text(), re.MULTILINE)


POS_SETTINGS = [s for settings in registry.declared_settings().values() for s in settings or ()]


@pytest.mark.parametrize("setting", [s.name for s in POS_SETTINGS])
def test_every_pos_client_setting_is_in_the_reference_help_and_env_example(setting):
    """Each client declares its settings once (name, default, help); the docs must agree."""
    assert f"`{setting}`" in CONFIGURATION
    assert re.search(rf"^# {setting}=", (REPO / ".env.example").read_text(), re.MULTILINE)
    from click.testing import CliRunner
    from bridge.cli import main
    assert setting in CliRunner().invoke(main, ["--help"]).output


def test_every_built_in_client_declares_its_settings():
    declared = registry.declared_settings()
    assert {"demo", "webhook", "square"} <= set(declared)
    assert all(declared[c] for c in ("demo", "webhook", "square"))
    assert all(s.help for s in POS_SETTINGS)


def test_the_readme_has_exactly_two_set_up_commands_and_ci_runs_the_test_one():
    commands = re.findall(r"```sh\n(python3 -m venv[^\n]*)\n```", README)
    assert len(commands) == 2
    assert commands[0].endswith("bridge serve")
    assert commands[1] in (REPO / ".ci" / "run").read_text()


def test_every_cli_command_is_in_the_operations_page():
    from bridge.cli import main
    for name in main.commands:
        assert f"`bridge {name}" in OPERATIONS, name


def test_the_readme_is_short_and_every_page_it_names_exists():
    assert len(README.splitlines()) <= 250
    for page in set(re.findall(r"docs/[\w-]+\.md", README)):
        assert (REPO / page).is_file(), page


def test_no_page_keeps_a_dated_run_log():
    """Measurements are the latest figures and how to reproduce them; history is git's."""
    for page in [REPO / "README.md", *DOCS.glob("*.md")]:
        text = page.read_text()
        assert not re.search(r"\b(evening|morning|afternoon|yesterday|tried and not kept|"
                             r"latest runs|runs before)\b", text, re.IGNORECASE), page.name
        assert not re.search(r"\b20\d\d-\d\d-\d\d\b.*\b(run|runs|measured)\b", text), page.name


def test_the_procfile_names_the_interface_processes():
    procfile = (REPO / "Procfile").read_text()
    assert re.search(r"^web: bridge web$", procfile, re.MULTILINE)
    assert re.search(r"^worker: bridge worker$", procfile, re.MULTILINE)
    assert re.search(r"^release: bridge migrate$", procfile, re.MULTILINE)


def test_app_json_describes_every_setting_heroku_does_not_set_itself():
    import json
    app = json.loads((REPO / "app.json").read_text())
    for setting in SETTINGS:
        if setting.name == "PORT":  # the platform sets it
            continue
        assert setting.name in app["env"], setting.name
        assert app["env"][setting.name]["description"]
        assert isinstance(app["env"][setting.name]["required"], bool)
    assert {"web", "worker"} <= set(app["formation"])
    assert any(a["plan"].startswith("heroku-postgresql") for a in app["addons"])


def test_only_the_storage_adapters_speak_to_a_database():
    """The port keeps the rest of the bridge free of any database library."""
    offenders = []
    for path in (REPO / "bridge").rglob("*.py"):
        if path.parent.name == "storage":
            continue
        text = path.read_text()
        if re.search(r"^\s*(import|from)\s+(sqlite3|sqlite_utils|psycopg)", text, re.MULTILINE):
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def test_the_readme_s_order_example_has_the_fields_the_webhook_client_sends():
    import json

    from bridge.domain.orders import pos_order_from_wix, to_json
    from tests.builders import INSTANCE, an_order
    example = json.loads(re.search(r"ORDER being, for example:\n\n```json\n(.*?)\n```", POS_CLIENTS,
                                   re.DOTALL).group(1))
    sent = to_json(pos_order_from_wix(an_order(), INSTANCE))

    def shape(value):
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shape(value[0])] if value else []
        return None

    sent["fulfillment"]["address"] = None  # the example is a pickup; the builder's order too
    assert shape(example) == shape(sent)


def test_the_readme_s_menu_example_is_a_menu_the_bridge_reads_whole():
    import json

    from bridge.domain.menus import parse_catalog
    example = json.loads(re.search(r"MENU being the\s+menu keyed by.*?```json\n(.*?)\n```", POS_CLIENTS,
                                   re.DOTALL).group(1))
    catalog = parse_catalog(example)
    assert catalog.skipped == () and len(catalog.items) == 2


def test_the_readme_s_pos_order_example_is_an_order_the_bridge_imports():
    import json

    from bridge.domain.imports import parse_pos_order
    example = json.loads(re.search(r"POS_ORDER being the POS's own order.*?```json\n(.*?)\n```",
                                   POS_CLIENTS, re.DOTALL).group(1))
    order = parse_pos_order(example)
    assert order.pos_order_id == "T-1001" and str(order.total) == "13.02"


def test_every_docs_page_is_linked_from_the_readme_and_names_only_real_settings():
    known = {s.name for s in SETTINGS} | {s.name for s in POS_SETTINGS} | {
        "BRIDGE_TEST_POSTGRES_URL", "BRIDGE_TEST_POSTGRES", "BRIDGE_TEST_BROWSER"}  # the tests
    for page in (REPO / "docs").glob("*.md"):
        assert f"docs/{page.name}" in README, page.name
        named = set(re.findall(r"`((?:WIX|POS|BRIDGE)_[A-Z_]+)`", page.read_text()))
        assert named <= known, named - known
