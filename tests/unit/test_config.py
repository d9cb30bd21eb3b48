import pytest
from pydantic import ValidationError

from backend.config import Settings, normalize_database_url


@pytest.mark.parametrize(
    "given",
    [
        "postgres://u@h/db",
        "postgresql://u@h/db",
        "postgresql+psycopg2://u@h/db",
        "postgresql+psycopg://u@h/db",
    ],
)
def test_every_postgres_spelling_is_driven_with_psycopg3(given):
    assert normalize_database_url(given) == "postgresql+psycopg://u@h/db"


def test_production_refuses_the_demo_secret():
    with pytest.raises(ValidationError, match="SECRET_KEY must be set"):
        Settings(_env_file=None, database_url="postgresql://u@h/db")
    assert (
        Settings(_env_file=None, database_url="postgresql://u@h/db", secret_key="s").api_open
        is False
    )


def test_the_embedded_demo_needs_nothing_and_opens_its_api():
    settings = Settings(_env_file=None)
    assert settings.embedded and settings.api_open and settings.broker_url.startswith("sqla+")


def test_lists_and_per_market_sources_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("TICKET_SIZES_USD", "100, 250")
    monkeypatch.setenv("MARKET_SOURCES", "p2p:USDT/VES=binance")
    settings = Settings(_env_file=None)
    assert [str(x) for x in settings.ticket_sizes_usd] == ["100", "250"]
    assert settings.source_for("p2p:USDT/VES") == "binance"
    assert settings.source_for("p2p:USDT/COP") == "simulator"
