"""Shared fixtures: a key pair the tests generate, signed webhooks, a fresh database, the app.

Every test that takes `database_url` (through `env`, `bridge`, `store`, ...) runs twice: on a
SQLite file and on a PostgreSQL schema of its own (see tests/postgres.py). Outside HTTP (the POS,
Wix) is mocked with a strict `responses` fixture or a real loopback server; our own code is never
patched.
"""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import responses as responses_lib
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bridge.bootstrap import bootstrap
from bridge.config import load_config
from bridge.storage.port import Store
from bridge.web.app import create_app
from bridge.wix.api import WixApi
from tests import postgres, square_contract, wix_contract
from tests.builders import POS_SECRET, POS_URL, WIX_URL, Signer
from tests.loopback import PosServer

SAMPLES = Path(__file__).resolve().parent / "samples"


def pytest_terminal_summary(terminalreporter):
    line = postgres.summary(terminalreporter.stats.get("skipped", []))
    if line:
        terminalreporter.write_line(line, yellow=True, bold=True)


_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Tests reach only this machine: a name that is not loopback fails to resolve, as it would
    offline, instead of asking a DNS server (a URL a strict `responses` mock does not catch)."""
    import socket
    resolve = socket.getaddrinfo

    def loopback(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name not in _LOOPBACK and name is not None:
            raise socket.gaierror(socket.EAI_NONAME, f"tests reach loopback only, not {name}")
        return resolve(host, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", loopback)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bridge.db'}"
        return
    with postgres.fresh_schema() as url:
        yield url


@pytest.fixture(scope="session")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def public_pem(private_key) -> str:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture(scope="session")
def signer(private_key) -> Signer:
    return Signer(private_key)


@pytest.fixture
def sample():
    def load(name: str) -> dict:
        return json.loads((SAMPLES / f"{name}.json").read_text())
    return load


@pytest.fixture
def env(database_url, public_pem) -> dict[str, str]:
    """A production-shaped configuration: real key, webhook POS at a mocked URL."""
    return {
        "DATABASE_URL": database_url,
        "WIX_APP_ID": "app-id", "WIX_APP_SECRET": "app-secret", "WIX_PUBLIC_KEY": public_pem,
        "POS_CLIENT": "webhook", "POS_WEBHOOK_URL": POS_URL, "POS_WEBHOOK_SECRET": POS_SECRET,
        "POS_SITES": "*", "WIX_API_BASE": WIX_URL,
        "BRIDGE_RECONCILE_SECONDS": "0",  # on in the tests of reconciling (service/test_reconcile)
    }


class Clock:
    """Time the tests move by hand; sleeping only records how long, and moves it on."""

    def __init__(self):
        self.now = 1_800_000_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def wix_api(clock) -> WixApi:
    return WixApi(WIX_URL, "app-id", "app-secret", clock=clock, sleep=clock.sleep)


@pytest.fixture
def make_bridge(wix_api):
    """Wire a bridge from a configuration (migrated, Wix client injected); closed afterwards."""
    built = []

    def make(environ: dict[str, str]):
        wired = bootstrap(load_config(environ), wix=wix_api, pool_size=5)
        wired.store.migrate()
        built.append(wired)
        return wired

    yield make
    for wired in built:
        wired.store.close()


@pytest.fixture
def bridge(env, make_bridge):
    return make_bridge(env)


@pytest.fixture
def store(bridge) -> Store:
    return bridge.store


@pytest.fixture
def client(bridge):
    return create_app(bridge).test_client()


@pytest.fixture
def worker(bridge):
    """A worker that retries at once (tenacity wait injected) and gives up after 3 attempts."""
    return bridge.worker(max_attempts=3, wait=lambda state: 0.0, poll_seconds=0.01)


@pytest.fixture
def wix():
    """Wix on loopback, handing each site a token of its own (`OAUTH2.<instance id>`), with the
    POS Connectivity API and menus (tests/wix_menus.py)."""
    from tests.loopback import WixServer
    server = WixServer(tokens_per_site=True)
    yield server
    server.close()
    assert server.breaches == [], "the Wix stand-in answered outside Wix's published definitions"


@pytest.fixture
def square():
    """Square on loopback (tests/loopback.py SquareServer): its OAuth and first calls, held to
    Square's published spec. tests/pos/test_pos_square.py names a bridge `square` instead."""
    from tests.loopback import SquareServer
    server = SquareServer()
    yield server
    server.close()
    assert server.breaches == [], "the Square stand-in answered outside Square's spec"


@pytest.fixture
def pos():
    """A real POS on loopback speaking the `webhook` protocol (tests/loopback.py)."""
    server = PosServer(POS_SECRET)
    yield server
    server.close()


@pytest.fixture
def run(env, tmp_path, monkeypatch):
    """Run a `bridge` command in-process with the test configuration as its environment;
    `input` is its standard input."""
    from click.testing import CliRunner

    from bridge.cli import main
    monkeypatch.chdir(tmp_path)
    for name in env:
        monkeypatch.delenv(name, raising=False)

    def invoke(*args, input: str | None = None, **overrides):
        return CliRunner().invoke(main, list(args), env={**env, **overrides}, input=input,
                                  catch_exceptions=False)
    return invoke


@pytest.fixture
def mocked():
    """Strict: an unexpected request fails, and so does a stub that was never called; and
    every request to Wix must be one Wix's published definitions allow (contract/wix.json),
    as the loopback Wix checks them, and every request to Square (at square.test), with the
    stub's answer, one Square's OpenAPI spec allows (contract/square.json)."""
    with responses_lib.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps
        for call in rsps.calls:
            if call.request.url.startswith(WIX_URL):
                assert wix_contract.problems_of(call.request, call.response) == [], \
                    call.request.url
            if urlsplit(call.request.url).hostname == square_contract.HOST:
                # A stub that is no JSON at all stands for a broken Square, on purpose.
                answer = call.response if isinstance(call.response, requests.Response) and \
                    "json" in call.response.headers.get("Content-Type", "") else None
                assert square_contract.problems(
                    call.request.method, call.request.url, call.request.headers,
                    call.request.body, answer.status_code if answer is not None else None,
                    answer.content if answer is not None else None) == []
