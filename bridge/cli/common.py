"""What every `bridge` command shares: configuration, a wired bridge or store closed with the
command, listings, and operator mistakes ending in one line."""
from __future__ import annotations

import functools
import json
import sys
from typing import Any

import click

from bridge import logs
from bridge.bootstrap import Bridge, bootstrap, open_configured_store
from bridge.config import Config, ConfigError, load_config
from bridge.storage.port import SchemaOutOfDate, Store, StoreUnavailable


def fail_cleanly(command):
    """Operator mistakes end in one clear line and exit 2, never a traceback."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (ConfigError, SchemaOutOfDate, FileNotFoundError) as error:
            click.echo(f"bridge: {error}", err=True)
            sys.exit(2)
        except StoreUnavailable as error:
            click.echo(f"bridge: DATABASE_URL: {error}", err=True)
            sys.exit(2)
    return wrapper


def configured() -> Config:
    config = load_config()
    logs.setup(config.log_level)
    return config


def closed_after_command(store: Store) -> Store:
    """Connections (and a pool's threads) end with the command, not whenever memory is freed."""
    click.get_current_context().call_on_close(store.close)
    return store


def wired(config: Config | None = None, **options) -> Bridge:
    bridge = bootstrap(config or configured(), **options)
    closed_after_command(bridge.store)
    return bridge


def emit(rows: list[dict[str, Any]], lines: list[str], as_json: bool, nothing: str) -> None:
    """A listing: one JSON object per row, or one human line per row."""
    for row, line in zip(rows, lines, strict=True):
        click.echo(json.dumps(row) if as_json else line)
    if not rows and not as_json:
        click.echo(nothing)


def migrated_store() -> Store:
    store = closed_after_command(open_configured_store(configured(), create=False))
    store.check_schema()
    return store


def setting_lines(settings) -> list[str]:
    """Settings as help lists them: name, what it is, its default."""
    return [f"  {s.name:<32} {s.help}" + (f" (default {s.default})" if s.default else "")
            for s in settings]
