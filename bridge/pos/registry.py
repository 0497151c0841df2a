"""Find POS clients by entry point name and build one per Wix app instance."""
from __future__ import annotations

import threading
from importlib.metadata import entry_points
from typing import Callable, Mapping

from bridge.config import Setting
from bridge.pos.base import PosClient, PosConfig, Report

GROUP = "bridge.pos_clients"

Factory = Callable[[PosConfig], PosClient]


class UnknownPosClient(LookupError):
    pass


def available() -> dict[str, Factory]:
    """Every installed POS client factory, by name (loaded lazily by `load`)."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}  # type: ignore[misc]


def declared_settings() -> dict[str, tuple[Setting, ...] | None]:
    """Each installed client's settings, by name, as its class lists them in `settings`
    (None when it lists none). Loads every client's module."""
    declared: dict[str, tuple[Setting, ...] | None] = {}
    for name, entry in available().items():
        try:
            factory = entry.load()  # type: ignore[attr-defined]
        except Exception:  # a broken plug-in is reported when it is chosen, not here
            declared[name] = None
            continue
        listed = getattr(getattr(factory, "__self__", factory), "settings", None)
        declared[name] = tuple(listed) if listed is not None else None
    return declared


def load(name: str) -> Factory:
    found = available()
    if name not in found:
        raise UnknownPosClient(f"no POS client {name!r} in entry point group {GROUP} "
                               f"(installed: {', '.join(sorted(found)) or 'none'})")
    return found[name].load()  # type: ignore[attr-defined]


class PosClients:
    """The POS client for each instance, built on first use by the configured factory.

    Today every instance shares the environment's settings; a per-instance account store can
    replace `settings_for` without the callers changing.
    """

    def __init__(self, name: str, factory: Factory, settings: Mapping[str, str],
                 report: Report | None = None):
        self.name = name
        self._factory = factory
        self._settings = dict(settings)
        self.report = report
        self._clients: dict[str | None, PosClient] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, name: str, settings: Mapping[str, str],
                      report: Report | None = None) -> "PosClients":
        return cls(name, load(name), settings, report)

    def settings_for(self, instance_id: str | None) -> Mapping[str, str]:
        return self._settings

    def for_instance(self, instance_id: str | None) -> PosClient:
        with self._lock:
            client = self._clients.get(instance_id)
            if client is None:
                client = self._factory(PosConfig(instance_id, self.settings_for(instance_id),
                                                 self.report))
                self._clients[instance_id] = client
            return client

    def check(self) -> None:
        """Build a client once so a misconfigured POS stops start-up, not the first order."""
        self._factory(PosConfig(None, self.settings_for(None)))
