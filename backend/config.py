"""Settings read once from the environment into one typed object.

Tests build their own ``Settings(...)`` and hand it to ``create_app``; nothing reads
``os.environ`` after start-up.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"

DEFAULT_MARKETS = (
    "p2p:USDT/VES,p2p:USDT/COP,p2p:USDT/ARS,p2p:USDT/BRL,p2p:USDT/PEN,p2p:USDT/CLP,"
    "p2p:USDT/MXN,p2p:USDT/USD,p2p:BTC/VES,spot:BTC/USDT,spot:USDT/BRL"
)


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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=ROOT / ".env", extra="ignore")

    database_url: str = f"sqlite:///{VAR / 'desk.sqlite3'}"
    redis_url: str | None = None
    rabbitmq_url: str | None = None
    db_pool_size: int = 5
    db_max_overflow: int = 10

    secret_key: str = "embedded-demo-only"
    api_enabled: bool | None = None  # default: on for the embedded demo only

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
    p2p_taker_fee: Decimal = Decimal("0")
    spot_taker_fee: Decimal = Decimal("0.001")
    transfer_fee: Decimal = Decimal("0.0005")
    paper_slippage: Decimal = Decimal("0.0005")
    opportunity_ttl_seconds: int = 20

    # Defaults for the database-held settings (seeded once; operators change them in the DB).
    min_profit_usd: Decimal = Decimal("0.50")
    max_trade_usd: Decimal = Decimal("10000")

    @field_validator("markets", "market_sources", "ticket_sizes_usd", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        return _csv(value)

    @field_validator("database_url")
    @classmethod
    def _normalize_db(cls, value: str) -> str:
        return normalize_database_url(value)

    @property
    def embedded(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def api_open(self) -> bool:
        return self.embedded if self.api_enabled is None else self.api_enabled

    @property
    def broker_url(self) -> str:
        return self.rabbitmq_url or f"sqla+sqlite:///{VAR / 'broker.sqlite3'}"

    def source_for(self, market_key: str) -> str:
        """Per-market override ``p2p:USDT/VES=binance``, else the global source."""
        for item in self.market_sources:
            key, _, source = item.partition("=")
            if key == market_key:
                return source
        return self.market_source
