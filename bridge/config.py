"""Settings, declared once: name, default and help. Read from the environment and a `.env` file.

A missing or malformed setting raises ConfigError with one line naming it; the CLI prints that line
and exits, never a traceback. docs/configuration.md and .env.example list every setting (a test
checks it).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from bridge.credentials import Keyring, KeyringError
from bridge.mail import Mailer


@dataclass(frozen=True)
class Setting:
    """One setting. A POS client's settings say who sets them: `owner` ones a site's owner sets
    on the site's account (that restaurant's credentials); the others are the operator's alone
    (the environment), such as where the vendor's API is. `kind` is how a form asks for it:
    text, url, secret, number, or one of `choices` ((value, what an owner reads), ...); a
    `managed` one is an account's but set by the bridge itself (an OAuth token), never asked.
    `label` and `hint` are what the owner's form says; `help` is the operator's."""
    name: str
    default: str | None
    help: str
    owner: bool = False
    kind: str = "text"
    label: str = ""
    hint: str = ""
    choices: tuple[tuple[str, str], ...] = ()


SETTINGS: tuple[Setting, ...] = (
    Setting("WIX_APP_ID", None, "the Wix app's id, also its OAuth client id"),
    Setting("WIX_APP_SECRET", None, "the app's OAuth client secret"),
    Setting("WIX_PUBLIC_KEY", None,
            "PEM public key that verifies Wix webhook JWTs (PEM, \\n-escaped PEM, or base64 of it); "
            "unset together with WIX_APP_ID means sandbox mode"),
    Setting("WIX_API_BASE", "https://www.wixapis.com", "where Wix REST calls go"),
    Setting("DATABASE_URL", "sqlite:///bridge.db",
            "where state lives: sqlite:///relative/path, sqlite:////absolute/path, or "
            "postgres://user:password@host:port/database (postgresql:// too; sslmode=require "
            "unless the host is this machine or the URL says otherwise)"),
    Setting("POS_CLIENT", "demo", "name of the POS client, an entry point in bridge.pos_clients"),
    Setting("POS_SITES", None,
            "the sites (Wix instance ids, separated by commas or spaces) the environment's POS "
            "serves, or * for every site (a deployment for one restaurant). Required with any "
            "POS_CLIENT but demo; a site neither named nor with an account of its own waits for "
            "its owner to connect a POS"),
    Setting("PORT", "8000", "HTTP port"),
    Setting("LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR"),
    Setting("WEB_CONCURRENCY", "1", "gunicorn worker processes for the web process"),
    Setting("BRIDGE_MAX_ATTEMPTS", "12",
            "attempts at one piece of work (an order to the POS, ...) before it is marked failed"),
    Setting("BRIDGE_RETRY_MAX_SECONDS", "600", "longest wait between two attempts (backoff cap)"),
    Setting("BRIDGE_WORKER_CONCURRENCY", "32",
            "jobs one worker process runs at once (threads: most of their time is spent waiting "
            "for a POS); one order's jobs still run one at a time, in order"),
    Setting("BRIDGE_WORKERS_PER_DESTINATION", "4",
            "at most this many of a worker process's jobs call one site's POS at once: a POS "
            "that hangs holds no more, and the other sites keep flowing"),
    Setting("BRIDGE_CONNECT_TIMEOUT", "3.05",
            "seconds to wait for a POS or Wix to accept a connection"),
    Setting("BRIDGE_ATTEMPT_DEADLINE", "20",
            "seconds one attempt at a job may take, every call and in-process retry included; "
            "each POS client has its own read timeout within it (e.g. POS_WEBHOOK_TIMEOUT)"),
    Setting("BRIDGE_SPI_DEADLINE", "8",
            "seconds a POS Integration SPI call that reaches the POS (Create Order, Validate "
            "Order, a credentials check) may take: Wix gets an error answer rather than a late one"),
    Setting("BRIDGE_IMPORT_NOTIFY_BUYER", "0",
            "1: Wix emails the buyer about an order taken at the POS and imported into Wix "
            "(a walk-in customer usually has no need of it)"),
    Setting("BRIDGE_BREAKER_FAILURES", "5",
            "connection failures or timeouts in a row that open a site's POS circuit breaker: "
            "its orders then wait (uncounted, never failed) while one probe tries again"),
    Setting("BRIDGE_BREAKER_SECONDS", "30",
            "how long a circuit breaker stays open before its probe; doubles after each failed "
            "probe, up to ten times this (at least 5 minutes)"),
    Setting("BRIDGE_STOP_SECONDS", "25",
            "on SIGTERM, how long jobs in hand may run on; any still running are handed back "
            "for another worker (Heroku kills a process 30 s after SIGTERM)"),
    Setting("BRIDGE_LEASE_SECONDS", "60",
            "how long a worker holds claimed work; a killed worker's work is taken up after this. "
            "Longer than BRIDGE_ATTEMPT_DEADLINE"),
    Setting("BRIDGE_SANDBOX", None,
            "1: sandbox mode (no Wix key; locally signed samples accepted) with a POS other than "
            "demo, on purpose. Without it, a missing WIX_PUBLIC_KEY stops start-up unless "
            "POS_CLIENT is demo"),
    Setting("BRIDGE_SECRET_KEY", None,
            "Fernet key(s), or random secrets of 32+ characters, that encrypt each site's POS "
            "credentials in the database; several "
            "separated by spaces rotate (the first encrypts, any decrypts). Required once a site "
            "has an account (`bridge accounts new-key` makes one)"),
    Setting("BRIDGE_SMTP_URL", None,
            "where owners' notifications are mailed from: smtp://user:password@host:587 "
            "(STARTTLS when offered), smtps://...:465, or smtp://host:25; unset: none are sent"),
    Setting("BRIDGE_MAIL_FROM", None,
            "the From address of owners' notifications (required with BRIDGE_SMTP_URL)"),
    Setting("BRIDGE_NOTIFY_DIGEST_SECONDS", "60",
            "incidents of one site this close to the first are mailed together, as one digest"),
    Setting("BRIDGE_RECONCILE_SECONDS", "900",
            "every this many seconds each installed site's orders are searched in Wix and any "
            "whose webhook never came is taken (0: never; `bridge reconcile` runs it at once)"),
    Setting("BRIDGE_RECONCILE_MAX_AGE_HOURS", "24",
            "orders at the POS longer than this are no longer asked for their status"),
    Setting("BRIDGE_KEEP_CUSTOMER_DAYS", "30",
            "days the bodies of processed webhooks, and customers' details in finished orders, are "
            "kept (the orders' ids, states, items and totals stay); 0: forever"),
    Setting("BRIDGE_KEEP_HISTORY_DAYS", "90",
            "days finished jobs with their attempts, and POS reports that matched no order, are "
            "kept; 0: forever"),
    Setting("BRIDGE_METRICS_TOKEN", None,
            "turns GET /metrics (Prometheus text format) on: scrapers send Authorization: Bearer "
            "<this token>"),
    Setting("BRIDGE_OPERATOR_PASSWORD", None,
            "turns on the operator's login to the dashboard (/dashboard/login), which sees every "
            "site; unset: only owners, each from their Wix dashboard, see their own site"),
    Setting("BRIDGE_DASHBOARD_FRAME_ANCESTORS", "https://manage.wix.com https://*.wix.com",
            "the origins allowed to show the dashboard in a frame (its Content-Security-Policy "
            "frame-ancestors): Wix's dashboard"),
    Setting("BRIDGE_TERMS_FILE", None,
            "a text file with the terms, pricing and fees shown to owners on the dashboard's "
            "help page (unset: a line saying the operator has not published any)"),
    Setting("BRIDGE_PUBLIC_URL", None,
            "where the bridge is reached from the internet (https://<app>.herokuapp.com): the "
            "base of the addresses it gives owners (the original app's order URL); unset, the "
            "dashboard gives none"),
    Setting("BRIDGE_ALLOW_PRIVATE_URLS", "0",
            "1: a URL an owner sets on their POS account (the webhook client's) may be http and "
            "point at loopback or private addresses (tests, a sandbox). 0: https to a public "
            "address only; URLs the operator sets are never restricted"),
    Setting("BRIDGE_SQLITE_SYNCHRONOUS", "FULL",
            "SQLite only. FULL: an acknowledged webhook survives a power cut; NORMAL: faster, "
            "survives a process crash but may lose the last moments on a power cut"),
)

DEFAULTS = {s.name: s.default for s in SETTINGS}


class ConfigError(ValueError):
    """One line naming the setting that is missing or malformed."""


@dataclass(frozen=True)
class ServedSites:
    """The sites the environment's POS serves (POS_SITES): the ones named, or every site. It is
    the operator's POS: a site not named never reaches it, whatever it sends."""
    named: frozenset[str] = frozenset()
    every: bool = False

    def __contains__(self, instance_id: object) -> bool:
        return self.every or instance_id in self.named

    @classmethod
    def parse(cls, raw: str) -> "ServedSites":
        names = frozenset(raw.replace(",", " ").split())
        if names == {"*"}:
            return cls(every=True)
        if "*" in names:
            raise ConfigError("POS_SITES is malformed: * (every site) goes alone")
        return cls(named=names)


@dataclass(frozen=True)
class Config:
    database_url: str = field(repr=False)  # a PostgreSQL URL may hold a password
    pos_client: str
    wix_api_base: str
    pos_sites: ServedSites = ServedSites(every=True)
    wix_app_id: str | None = None
    wix_app_secret: str | None = field(default=None, repr=False)
    wix_public_key: RSAPublicKey | None = field(default=None, repr=False)
    port: int = 8000
    log_level: str = "INFO"
    web_concurrency: int = 1
    max_attempts: int = 12
    retry_max_seconds: float = 600.0
    lease_seconds: float = 60.0
    worker_concurrency: int = 32
    workers_per_destination: int = 4
    connect_timeout: float = 3.05
    attempt_deadline: float = 20.0
    spi_deadline: float = 8.0
    import_notify_buyer: bool = False
    breaker_failures: int = 5
    breaker_seconds: float = 30.0
    stop_seconds: float = 25.0
    sqlite_synchronous: str = "FULL"
    keyring: Keyring | None = field(default=None, repr=False)
    metrics_token: str | None = field(default=None, repr=False)
    mailer: Mailer | None = field(default=None, repr=False)
    operator_password: str | None = field(default=None, repr=False)
    frame_ancestors: str = "https://manage.wix.com https://*.wix.com"
    terms: str | None = None
    notify_digest_seconds: float = 60.0
    reconcile_seconds: float = 900.0
    reconcile_max_age_hours: float = 24.0
    keep_customer_days: float = 30.0
    keep_history_days: float = 90.0
    allow_private_urls: bool = False
    public_url: str | None = None
    pos_settings: Mapping[str, str] = field(default_factory=dict, repr=False)
    # Names of the WIX_/POS_/BRIDGE_ variables set, to point out the ones that are no setting.
    present: frozenset[str] = frozenset()

    @property
    def sandbox(self) -> bool:
        """No Wix app configured at all: webhooks are verified with a locally generated key."""
        return self.wix_public_key is None

    @property
    def wix_credentials(self) -> bool:
        return bool(self.wix_app_id and self.wix_app_secret)

    @property
    def database_path(self) -> Path | None:
        """The SQLite file, or None when the database is PostgreSQL."""
        return sqlite_path(self.database_url)

    @property
    def sandbox_key_path(self) -> Path:
        """Beside the SQLite file; in the working folder beside a PostgreSQL database."""
        path = self.database_path or Path("bridge.db")
        return path.with_name(path.stem + ".sandbox-key.pem")


def read_environment(environ: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")
                     ) -> dict[str, str]:
    """The process environment over a `.env` file in the working folder (the environment wins)."""
    values: dict[str, str] = {}
    if dotenv is not None and dotenv.is_file():
        from dotenv import dotenv_values
        values.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return values


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    env = read_environment(environ, dotenv=Path(".env") if environ is None else None)

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or DEFAULTS[name]

    public_key = None
    if get("WIX_PUBLIC_KEY"):
        from bridge.wix.webhooks import load_public_key
        try:
            public_key = load_public_key(get("WIX_PUBLIC_KEY"))
        except ValueError as error:
            raise ConfigError(f"WIX_PUBLIC_KEY is malformed: {error}") from None
    elif get("WIX_APP_ID"):
        raise ConfigError("WIX_PUBLIC_KEY is missing: it is required once WIX_APP_ID is set "
                          "(webhooks are never accepted unverified)")
    if get("WIX_APP_ID") and not get("WIX_APP_SECRET"):
        raise ConfigError("WIX_APP_SECRET is missing: it is required once WIX_APP_ID is set")
    if get("WIX_APP_SECRET") and not get("WIX_APP_ID"):
        raise ConfigError("WIX_APP_ID is missing: it is required once WIX_APP_SECRET is set")

    sandbox_on_purpose = _flag("BRIDGE_SANDBOX", get("BRIDGE_SANDBOX"))
    if sandbox_on_purpose and public_key is not None:
        raise ConfigError("BRIDGE_SANDBOX is malformed: it asks for sandbox mode, but "
                          "WIX_PUBLIC_KEY is set (production); unset one of them")
    if public_key is None and get("POS_CLIENT") != "demo" and not sandbox_on_purpose:
        raise ConfigError(
            f"WIX_PUBLIC_KEY is missing: without it the bridge runs in sandbox mode, where "
            f"locally signed sample orders would reach POS_CLIENT={get('POS_CLIENT')} and real "
            f"Wix webhooks are refused. Set WIX_PUBLIC_KEY (with WIX_APP_ID and WIX_APP_SECRET), "
            f"or BRIDGE_SANDBOX=1 to run the sandbox against this POS on purpose")

    if get("POS_SITES"):
        pos_sites = ServedSites.parse(get("POS_SITES"))
    elif get("POS_CLIENT") == "demo":
        pos_sites = ServedSites(every=True)  # the demo kitchen: nothing reaches a real POS
    else:
        raise ConfigError(
            f"POS_SITES is missing: name the sites (Wix instance ids) POS_CLIENT="
            f"{get('POS_CLIENT')} serves, or * for every site (a deployment for one "
            "restaurant); other sites connect their own POS")

    log_level = get("LOG_LEVEL").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"LOG_LEVEL is malformed: {log_level!r} is not DEBUG, INFO, WARNING or ERROR")
    synchronous = get("BRIDGE_SQLITE_SYNCHRONOUS").upper()
    if synchronous not in ("FULL", "NORMAL"):
        raise ConfigError(f"BRIDGE_SQLITE_SYNCHRONOUS is malformed: {synchronous!r} is not FULL "
                          "or NORMAL")
    api_base = get("WIX_API_BASE").rstrip("/")
    if not api_base.startswith(("http://", "https://")):
        raise ConfigError(f"WIX_API_BASE is malformed: {api_base!r} is not an http(s) URL")

    lease = _number("BRIDGE_LEASE_SECONDS", get("BRIDGE_LEASE_SECONDS"), float, 1, 3600)
    deadline = _number("BRIDGE_ATTEMPT_DEADLINE", get("BRIDGE_ATTEMPT_DEADLINE"), float, 0.1,
                       600)
    if lease <= deadline:
        raise ConfigError(f"BRIDGE_LEASE_SECONDS is malformed: {lease:g} s must be longer than "
                          f"BRIDGE_ATTEMPT_DEADLINE ({deadline:g} s), or a job still running "
                          "could be taken up by another worker")

    try:
        keyring = Keyring.from_setting(get("BRIDGE_SECRET_KEY"))
    except KeyringError as error:
        raise ConfigError(f"BRIDGE_SECRET_KEY is malformed: {error}") from None

    mailer = None
    if get("BRIDGE_SMTP_URL"):
        if not get("BRIDGE_MAIL_FROM"):
            raise ConfigError("BRIDGE_MAIL_FROM is missing: it is required once BRIDGE_SMTP_URL "
                              "is set (the From address of owners' notifications)")
        try:
            mailer = Mailer.from_url(get("BRIDGE_SMTP_URL"), get("BRIDGE_MAIL_FROM"))
        except ValueError as error:
            raise ConfigError(f"BRIDGE_SMTP_URL is malformed: {error}") from None

    terms = None
    if get("BRIDGE_TERMS_FILE"):
        try:
            terms = Path(get("BRIDGE_TERMS_FILE")).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"BRIDGE_TERMS_FILE is malformed: {error}") from None
    if get("BRIDGE_OPERATOR_PASSWORD") and len(get("BRIDGE_OPERATOR_PASSWORD")) < 12:
        raise ConfigError("BRIDGE_OPERATOR_PASSWORD is malformed: use at least 12 characters "
                          "(it opens every site's dashboard)")
    ancestors = get("BRIDGE_DASHBOARD_FRAME_ANCESTORS")
    if any(c in ancestors for c in ";,\r\n"):
        raise ConfigError("BRIDGE_DASHBOARD_FRAME_ANCESTORS is malformed: give origins "
                          "separated by spaces")

    return Config(
        database_url=database_url(get("DATABASE_URL")),
        pos_client=get("POS_CLIENT"),
        pos_sites=pos_sites,
        wix_api_base=api_base,
        wix_app_id=get("WIX_APP_ID"),
        wix_app_secret=get("WIX_APP_SECRET"),
        wix_public_key=public_key,
        port=_number("PORT", get("PORT"), int, 1, 65535),
        log_level=log_level,
        web_concurrency=_number("WEB_CONCURRENCY", get("WEB_CONCURRENCY"), int, 1, 64),
        max_attempts=_number("BRIDGE_MAX_ATTEMPTS", get("BRIDGE_MAX_ATTEMPTS"), int, 1, 1000),
        retry_max_seconds=_number("BRIDGE_RETRY_MAX_SECONDS", get("BRIDGE_RETRY_MAX_SECONDS"),
                                  float, 0, 86400),
        lease_seconds=lease,
        worker_concurrency=_number("BRIDGE_WORKER_CONCURRENCY", get("BRIDGE_WORKER_CONCURRENCY"),
                                   int, 1, 128),
        workers_per_destination=_number("BRIDGE_WORKERS_PER_DESTINATION",
                                        get("BRIDGE_WORKERS_PER_DESTINATION"), int, 1, 128),
        connect_timeout=_number("BRIDGE_CONNECT_TIMEOUT", get("BRIDGE_CONNECT_TIMEOUT"), float,
                                0.1, 60),
        attempt_deadline=deadline,
        import_notify_buyer=_flag("BRIDGE_IMPORT_NOTIFY_BUYER", get("BRIDGE_IMPORT_NOTIFY_BUYER")),
        spi_deadline=_number("BRIDGE_SPI_DEADLINE", get("BRIDGE_SPI_DEADLINE"), float, 0.5, 60),
        breaker_failures=_number("BRIDGE_BREAKER_FAILURES", get("BRIDGE_BREAKER_FAILURES"), int,
                                 1, 1000),
        breaker_seconds=_number("BRIDGE_BREAKER_SECONDS", get("BRIDGE_BREAKER_SECONDS"), float,
                                1, 86400),
        stop_seconds=_number("BRIDGE_STOP_SECONDS", get("BRIDGE_STOP_SECONDS"), float, 0, 600),
        sqlite_synchronous=synchronous,
        keyring=keyring,
        metrics_token=get("BRIDGE_METRICS_TOKEN"),
        mailer=mailer,
        operator_password=get("BRIDGE_OPERATOR_PASSWORD"),
        frame_ancestors=ancestors,
        terms=terms,
        notify_digest_seconds=_number("BRIDGE_NOTIFY_DIGEST_SECONDS",
                                      get("BRIDGE_NOTIFY_DIGEST_SECONDS"), float, 0, 86400),
        reconcile_seconds=_reconcile_seconds(get("BRIDGE_RECONCILE_SECONDS")),
        reconcile_max_age_hours=_number("BRIDGE_RECONCILE_MAX_AGE_HOURS",
                                        get("BRIDGE_RECONCILE_MAX_AGE_HOURS"), float, 1, 24 * 30),
        keep_customer_days=_number("BRIDGE_KEEP_CUSTOMER_DAYS", get("BRIDGE_KEEP_CUSTOMER_DAYS"),
                                   float, 0, 3650),
        keep_history_days=_number("BRIDGE_KEEP_HISTORY_DAYS", get("BRIDGE_KEEP_HISTORY_DAYS"),
                                  float, 0, 3650),
        allow_private_urls=_flag("BRIDGE_ALLOW_PRIVATE_URLS", get("BRIDGE_ALLOW_PRIVATE_URLS")),
        public_url=_public_url(get("BRIDGE_PUBLIC_URL")),
        pos_settings={k: v for k, v in env.items() if k.startswith("POS_")},
        present=frozenset(k for k, v in env.items() if k.startswith(_OURS) and v.strip()),
    )


_OURS = ("WIX_", "POS_", "BRIDGE_")


def unknown_settings(config: Config, pos_settings: Mapping[str, tuple[Setting, ...] | None]
                     ) -> list[str]:
    """Variables named like the bridge's that no setting reads: most likely typos (WIX_PUBLICKEY
    leaves the bridge in sandbox mode). `pos_settings`: each installed POS client's settings, by
    client name; None for a client that does not list them (any POS_<NAME>_... is then its)."""
    known = {s.name for s in SETTINGS}
    unknown = []
    for name in sorted(config.present):
        if name in known or name.startswith("BRIDGE_TEST_"):  # the test suite's own
            continue
        owner = next((c for c in pos_settings if name.startswith(f"POS_{c.upper()}_")), None)
        declared = pos_settings.get(owner) if owner else ()
        if owner is not None and (declared is None or name in {s.name for s in declared}):
            continue
        unknown.append(name)
    return unknown


def _public_url(raw: str | None) -> str | None:
    """An http(s) address with a host and nothing after its path: the base of addresses."""
    if not raw:
        return None
    from urllib.parse import urlsplit
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
            or parts.fragment or parts.username:
        raise ConfigError(f"BRIDGE_PUBLIC_URL is malformed: {raw!r} is not an http(s) address "
                          "like https://bridge.example.com")
    return raw.rstrip("/")


def _flag(name: str, raw: str | None) -> bool:
    if raw is None or raw.lower() in ("0", "false", "no", "off"):
        return False
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} is malformed: {raw!r} is not 1 or 0")


_SQLITE = "sqlite:///"
POSTGRES_SCHEMES = ("postgres://", "postgresql://")


def database_url(url: str) -> str:
    """Check the URL's form; the storage adapter reads the rest. Never echoes a password."""
    if url.startswith(_SQLITE) and len(url) > len(_SQLITE):
        return url
    if url.startswith(POSTGRES_SCHEMES) and len(url.split("://", 1)[1]) > 0:
        return url
    scheme = f"the scheme {url.split('://', 1)[0]}://" if "://" in url else "the value"
    raise ConfigError(f"DATABASE_URL is malformed: {scheme} is not sqlite:///path, "
                      "postgres://... or postgresql://...")


def sqlite_path(url: str) -> Path | None:
    """`sqlite:///relative/path` or `sqlite:////absolute/path`, as SQLAlchemy spells them."""
    return Path(url[len(_SQLITE):]) if url.startswith(_SQLITE) else None


def _reconcile_seconds(raw: str) -> float:
    """0 (off), or a period of a minute to a day: Wix allows 200 calls a minute per site."""
    value = _number("BRIDGE_RECONCILE_SECONDS", raw, float, 0, 86400)
    if 0 < value < 60:
        raise ConfigError(f"BRIDGE_RECONCILE_SECONDS is malformed: {raw} is under 60 (0 is off)")
    return value


def _number(name: str, raw: str, kind: type, low: float, high: float):
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} is malformed: {raw!r} is not a number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} is malformed: {raw} is not between {low} and {high}")
    return value
