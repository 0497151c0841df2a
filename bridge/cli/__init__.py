"""The `bridge` command. Each command is a thin layer over the library that does the work:
running the processes (`processes`), looking at and replaying orders (`orders`), and serving
many sites (`sites`)."""
from __future__ import annotations

import click

from bridge.cli import orders, processes, sites
from bridge.cli.common import setting_lines
from bridge.config import SETTINGS
from bridge.pos import registry


def _settings_help() -> str:
    """Every setting, the core's and each installed POS client's, as each declares it."""
    lines = ["\b", "Configuration (environment or .env):", *setting_lines(SETTINGS)]
    for client, settings in sorted(registry.declared_settings().items()):
        if settings:
            lines += ["\b", f"POS client {client} (POS_CLIENT={client}):",
                      *setting_lines(settings)]
    return "\n".join(lines)


class _Main(click.Group):
    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Built when help is asked for: listing the settings loads every POS client."""
        self.epilog = _settings_help()
        super().format_epilog(ctx, formatter)


@click.group(cls=_Main, context_settings={"max_content_width": 120,
                                          "help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wix-pos-bridge")
def main() -> None:
    """bridge: Wix Restaurants orders to your POS, and statuses back to Wix."""


for module in (processes, orders, sites):
    for command in module.COMMANDS:
        main.add_command(command)
