"""Settings read once from the environment into one typed object.

Tests build their own ``Settings(...)`` and hand it to ``create_app``; nothing reads
``os.environ`` after start-up.
"""

from __future__ import annotations

import os
import secrets
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from limits import parse_many
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from backend.market.rates import Corridor

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"

DEFAULT_MARKETS = (
    "p2p:USDT/VES,p2p:USDT/COP,p2p:USDT/ARS,p2p:USDT/BRL,p2p:USDT/PEN,p2p:USDT/CLP,"
    "p2p:USDT/MXN,p2p:USDT/USD,p2p:BTC/VES,spot:BTC/USDT,spot:USDT/BRL"
)


MIN_SECRET_LENGTH = 16


def embedded_secret(directory: Path) -> str:
    """The embedded desk's own random key, made once and kept beside its database (0600):
    no two desks share one, so nobody can forge a session from a published default."""
    path = directory / "secret_key"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        draft = directory / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(draft, path)  # atomic: a process starting at the same time reads a whole key
        except FileExistsError:
            pass  # another process published its key first; everyone uses that one
        finally:
            draft.unlink()
    return path.read_text().strip()


def normalize_database_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` from users; always drive psycopg 3."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _per_fiat(value: object) -> object:
    """``"VES=Banesco|Mercantil,COP=Nequi"`` -> ``{"VES": "Banesco|Mercantil", "COP": "Nequi"}``."""
    if not isinstance(value, str):
        return value
    pairs = {}
    for item in _csv(value):
        fiat, sep, rest = item.partition("=")
        if not sep or not fiat.strip():
            raise ValueError(f"{item!r} is not of the form FIAT=value")
        pairs[fiat.strip().upper()] = rest.strip()
    return pairs


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=ROOT / ".env", extra="ignore")

    database_url: str = f"sqlite:///{VAR / 'desk.sqlite3'}"
    redis_url: str | None = None
    rabbitmq_url: str | None = None
    db_pool_size: int = 5
    db_max_overflow: int = 10
    # Every wait on PostgreSQL is bounded (see backend/db.py).
    db_connect_timeout_seconds: int = Field(3, ge=2)  # libpq counts whole seconds, 2 at least
    db_statement_timeout_seconds: float = Field(5.0, gt=0)
    db_lock_timeout_seconds: float = Field(2.0, gt=0)
    db_pool_timeout_seconds: float = Field(2.0, gt=0)  # waiting for a free pooled connection
    db_keepalives_idle_seconds: int = Field(10, ge=1)
    db_keepalives_interval_seconds: int = Field(3, ge=1)
    db_keepalives_count: int = Field(3, ge=1)
    db_breaker_fail_max: int = Field(3, ge=1)
    db_breaker_reset_timeout_seconds: float = Field(5.0, gt=0)
    # Redis: every key under one prefix (two desks may share a server); short timeouts and
    # a breaker, so a hung Redis costs one timeout and the desk reads the database at once.
    redis_prefix: str = "desk:"
    redis_timeout_seconds: float = Field(0.5, gt=0)
    redis_breaker_fail_max: int = Field(1, ge=1)
    redis_breaker_reset_timeout_seconds: float = Field(5.0, gt=0)
    # RabbitMQ's management API (http://user:pass@host:15672) for queue depths; without
    # it, depths are read over AMQP.
    rabbitmq_management_url: str | None = None
    # Health probes run in a background thread per process; answers are this fresh.
    health_refresh_seconds: float = Field(1.0, gt=0, le=2.0)
    # Logs: json for machines (the default), console for people (make run).
    log_format: Literal["json", "console"] = "json"
    log_level: str = "INFO"
    # OpenTelemetry traces go over OTLP/HTTP to this collector; unset: tracing off.
    otel_exporter_otlp_endpoint: str | None = None

    secret_key: str | None = None  # embedded: a random key kept beside the database
    worker_metrics_port: int | None = None  # a worker in its own container serves /metrics

    # Logins and the HTTP edge.
    secure_cookies: bool = False  # true when the desk is served over HTTPS
    proxy_fix_hops: int = Field(0, ge=0, le=5)  # reverse proxies whose X-Forwarded-* to trust
    session_hours: float = Field(12.0, gt=0, le=24 * 31)  # a session lasts a shift
    max_request_bytes: int = Field(1_000_000, ge=10_000)  # larger bodies get 413
    # A request body not in within this many seconds gets 408 (its thread is freed).
    body_read_timeout_seconds: float = Field(10.0, gt=0, le=300)
    login_rate_limit: str = "10/minute"  # failed logins per client address
    login_user_rate_limit: str = "5/minute"  # failed logins per user name
    trade_rate_limit: str = "30/minute"  # trade requests per user (API and UI together)
    metrics_token: str | None = None  # when set, /api/v1/metrics needs Bearer <it>
    grafana_url: str | None = None  # Grafana panels the pages may embed
    prometheus_url: str | None = None  # Prometheus as people's browsers reach it
    rabbitmq_ui_url: str | None = None  # RabbitMQ's management UI, for the System page
    # Pages listen for changes over server-sent events when Redis is configured; each open
    # stream holds an idle thread of the web process's stream lane (not one of its
    # WEB_THREADS) and a Redis connection, so a process serves at most this many (then
    # pages poll).
    push_max_streams: int = Field(16, ge=0, le=64)
    push_stream_seconds: float = Field(15.0, gt=0, le=300)  # then the browser reconnects

    markets: Annotated[list[str], NoDecode] = Field(default_factory=lambda: _csv(DEFAULT_MARKETS))
    market_source: str = "simulator"
    market_sources: Annotated[list[str], NoDecode] = Field(default_factory=list)
    simulator_seed: int = 7
    ingest_interval_seconds: float = 2.0
    stale_after_seconds: float = 10.0
    book_ttl_seconds: int = 60

    ticket_sizes_usd: Annotated[list[Decimal], NoDecode] = Field(
        default_factory=lambda: [Decimal(x) for x in ("100", "250", "500", "1000", "2500", "5000")]
    )
    default_ticket_usd: Decimal = Decimal("500")
    min_ticket_usd: Decimal = Field(Decimal("10"), gt=0)  # smaller trade requests are refused
    p2p_taker_fee: Decimal = Decimal("0")
    spot_taker_fee: Decimal = Decimal("0.001")
    transfer_fee: Decimal = Decimal("0.0005")
    paper_slippage: Decimal = Decimal("0.0005")
    opportunity_ttl_seconds: int = 20
    # A worker's claim on an executing trade; a redelivered message takes it over after.
    trade_lease_seconds: float = Field(15.0, gt=0)

    # Binance market data. Defaults talk to the real hosts; tests point them at
    # a local server.
    binance_p2p_url: str = "https://p2p.binance.com"
    binance_spot_url: str = "https://api.binance.com"
    p2p_book_depth: int = Field(20, ge=1, le=50)  # ads per side asked from Binance
    spot_book_depth: int = Field(20, ge=1, le=5000)  # levels per side (/api/v3/depth limit)
    spot_symbols: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["BTCUSDT", "USDTBRL", "USDTARS"]
    )
    # Which ads the desk can take. Per-fiat values: "VES=Banesco|Mercantil,COP=Nequi";
    # a fiat not listed (and the empty default) accepts every method / amount.
    payment_methods: Annotated[dict[str, tuple[str, ...]], NoDecode] = Field(default_factory=dict)
    p2p_trans_amount: Annotated[dict[str, Decimal], NoDecode] = Field(default_factory=dict)
    merchant_only: bool = False
    min_finish_rate: Decimal = Field(Decimal("0"), ge=0, le=1)
    min_month_orders: int = Field(0, ge=0)
    # Every outbound HTTP call: timeouts, bounded retries, breaker, shared token bucket.
    http_connect_timeout: float = Field(3.05, gt=0)
    http_read_timeout: float = Field(10.0, gt=0)
    http_retry_attempts: int = Field(3, ge=1, le=10)  # attempts in all, the first included
    http_retry_backoff_seconds: float = Field(0.5, ge=0)  # first backoff; doubles, jittered
    http_retry_max_wait_seconds: float = Field(10.0, ge=0)  # longer Retry-After: give up
    breaker_fail_max: int = Field(5, ge=1)
    breaker_reset_timeout_seconds: float = Field(30.0, gt=0)
    binance_p2p_rate_per_second: float = Field(10.0, gt=0)  # 9 markets x 2 sides / 2 s
    binance_spot_rate_per_second: float = Field(10.0, gt=0)
    http_rate_burst: int = Field(10, ge=1)
    http_rate_max_wait_seconds: float = Field(5.0, ge=0)
    # Replay a recorded JSONL session (source "replay"); record every fetched book.
    replay_path: Path | None = None
    record_path: Path | None = None

    # Corridors quoted on the rates board (client pays SOURCE, receives TARGET), and the
    # house's margin on a corridor until an operator sets its own (a fraction of the rate).
    corridors: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: _csv(
            "COP->VES,ARS->VES,PEN->VES,CLP->VES,BRL->VES,MXN->VES,USD->VES,VES->COP"
        )
    )
    corridor_margin: Decimal = Field(Decimal("0.02"), ge=0, lt=1)

    # Trading: "paper" fills every leg on the latest books; "live" sends spot legs to
    # Binance's signed REST API and turns P2P legs into operator tickets.
    trading_mode: Literal["paper", "live"] = "paper"
    # Where live spot orders go (Binance's spot testnet: https://testnet.binance.vision).
    binance_trade_url: str = "https://api.binance.com"
    binance_api_key: SecretStr | None = None  # never logged, never shown
    binance_api_secret: SecretStr | None = None
    binance_recv_window_ms: int = Field(5000, ge=1, le=60000)
    live_order_timeout_seconds: float = Field(5.0, gt=0, le=60)
    # newClientOrderId = PREFIX-TRADE-LEG: unique per desk sharing one Binance account.
    live_order_prefix: str = Field("desk", pattern=r"^[A-Za-z0-9_]{1,12}$")
    # LOT_SIZE step per spot symbol: sell quantities are cut down to it (less is dust).
    spot_lot_steps: Annotated[dict[str, Decimal], NoDecode] = Field(
        default_factory=lambda: {"BTCUSDT": Decimal("0.00001"), "USDTBRL": Decimal("0.1")}
    )
    # NOTIONAL/MIN_NOTIONAL per spot symbol, in its quote: a smaller order is never sent.
    spot_min_notionals: Annotated[dict[str, Decimal], NoDecode] = Field(
        default_factory=lambda: {"BTCUSDT": Decimal("5")}
    )
    # An operator ticket still open after this long raises the tickets alert.
    ticket_alert_seconds: float = Field(900.0, gt=0)

    # Defaults for the database-held settings (seeded once; operators change them in the DB).
    min_profit_usd: Decimal = Decimal("0.50")
    max_trade_usd: Decimal = Decimal("10000")
    max_daily_notional_usd: Decimal = Decimal("250000")
    max_daily_loss_usd: Decimal = Decimal("500")
    max_open_tickets: int = Field(10, ge=0)

    @field_validator("corridors")
    @classmethod
    def _corridors(cls, value: list[str]) -> list[str]:
        return [Corridor.parse(item).name for item in value]

    @field_validator(
        "markets", "market_sources", "ticket_sizes_usd", "spot_symbols", "corridors", mode="before"
    )
    @classmethod
    def _split_csv(cls, value: object) -> object:
        return _csv(value)

    @field_validator("payment_methods", mode="before")
    @classmethod
    def _split_methods(cls, value: object) -> object:
        pairs = _per_fiat(value)
        if isinstance(pairs, dict):
            return {
                fiat.upper(): tuple(m.strip() for m in str(methods).split("|") if m.strip())
                if isinstance(methods, str)
                else tuple(methods)
                for fiat, methods in pairs.items()
            }
        return pairs

    @field_validator("spot_lot_steps", "spot_min_notionals", mode="before")
    @classmethod
    def _split_steps(cls, value: object) -> object:
        return _per_fiat(value)

    @field_validator("p2p_trans_amount", mode="before")
    @classmethod
    def _split_amounts(cls, value: object) -> object:
        pairs = _per_fiat(value)
        return {k.upper(): v for k, v in pairs.items()} if isinstance(pairs, dict) else pairs

    @field_validator("login_rate_limit", "login_user_rate_limit", "trade_rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate such as 10/minute") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _normalize_db(cls, value: str) -> str:
        return normalize_database_url(value)

    @model_validator(mode="after")
    def _real_secret(self) -> Settings:
        if not self.embedded and not self.secret_key:
            raise ValueError(
                "SECRET_KEY must be set when DATABASE_URL is not the embedded SQLite demo"
            )
        if not self.embedded and len(self.secret_key) < MIN_SECRET_LENGTH:
            raise ValueError(f"SECRET_KEY must have at least {MIN_SECRET_LENGTH} characters")
        if not self.secret_key:
            self.secret_key = embedded_secret(self.embedded_dir)
        return self

    @model_validator(mode="after")
    def _lease_outlasts_recv_window(self) -> Settings:
        """A spot order in doubt is looked up again by the next claim once the lease
        lapses; "does not exist" is only final after recvWindow + 1 s (Binance refuses the
        request after that), so a shorter lease could let a second worker place it twice."""
        window = self.binance_recv_window_ms / 1000 + 1
        if self.trading_mode == "live" and self.trade_lease_seconds <= window:
            raise ValueError(
                f"TRADE_LEASE_SECONDS ({self.trade_lease_seconds:g}) must be longer than "
                f"BINANCE_RECV_WINDOW_MS / 1000 + 1 s ({window:g} s) in live trading: a "
                "spot order still in flight could be placed twice"
            )
        return self

    @property
    def embedded(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def embedded_dir(self) -> Path:
        """Where the embedded desk keeps its files: beside its SQLite database."""
        path = self.database_url.split("///", 1)[-1] if "///" in self.database_url else ""
        return Path(path).parent if self.embedded and path and path != ":memory:" else VAR

    @property
    def broker_url(self) -> str:
        """RabbitMQ when configured; else a SQLite queue file beside the embedded database."""
        if self.rabbitmq_url:
            return self.rabbitmq_url
        return f"sqla+sqlite:///{self.embedded_dir / 'broker.sqlite3'}"

    def source_for(self, market_key: str) -> str:
        """Per-market override ``p2p:USDT/VES=binance``, else the global source."""
        for item in self.market_sources:
            key, _, source = item.partition("=")
            if key == market_key:
                return source
        return self.market_source
