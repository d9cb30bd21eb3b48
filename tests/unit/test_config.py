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
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(_env_file=None, database_url="postgresql://u@h/db", secret_key="change-me")
    settings = Settings(_env_file=None, database_url="postgresql://u@h/db", secret_key="s" * 32)
    assert not settings.embedded and settings.secret_key == "s" * 32


def test_each_embedded_desk_makes_its_own_secret_once(tmp_path):
    first = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'a' / 'desk.sqlite3'}")
    again = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'a' / 'desk.sqlite3'}")
    other = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'b' / 'desk.sqlite3'}")
    assert len(first.secret_key) == 64 and first.secret_key == again.secret_key
    assert other.secret_key != first.secret_key
    assert (tmp_path / "a" / "secret_key").stat().st_mode & 0o777 == 0o600


def test_the_embedded_demo_needs_nothing(tmp_path):
    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    assert settings.embedded and settings.broker_url.startswith("sqla+")


@pytest.mark.parametrize("rate", ["lots", "10/fortnight", ""])
def test_a_rate_limit_that_is_not_a_rate_is_refused(rate):
    with pytest.raises(ValidationError, match="is not a rate"):
        Settings(_env_file=None, trade_rate_limit=rate)


def test_lists_and_per_market_sources_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("TICKET_SIZES_USD", "100, 250")
    monkeypatch.setenv("MARKET_SOURCES", "p2p:USDT/VES=binance")
    settings = Settings(_env_file=None)
    assert [str(x) for x in settings.ticket_sizes_usd] == ["100", "250"]
    assert settings.source_for("p2p:USDT/VES") == "binance"
    assert settings.source_for("p2p:USDT/COP") == "simulator"


def test_live_trading_refuses_a_lease_not_longer_than_the_recv_window_and_its_second(
    monkeypatch, tmp_path
):
    db = f"sqlite:///{tmp_path / 'desk.sqlite3'}"
    monkeypatch.setenv("TRADING_MODE", "live")
    monkeypatch.setenv("BINANCE_RECV_WINDOW_MS", "14000")
    monkeypatch.setenv("TRADE_LEASE_SECONDS", "15")  # 14 s + 1 s: not longer
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, database_url=db)
    assert (
        "TRADE_LEASE_SECONDS (15) must be longer than BINANCE_RECV_WINDOW_MS / 1000 + 1 s "
        "(15 s) in live trading: a spot order still in flight could be placed twice"
    ) in str(refused.value)
    monkeypatch.setenv("TRADE_LEASE_SECONDS", "15.001")
    assert Settings(_env_file=None, database_url=db).trade_lease_seconds == 15.001
    monkeypatch.setenv("TRADE_LEASE_SECONDS", "2.5")
    monkeypatch.setenv("BINANCE_RECV_WINDOW_MS", "1000")
    assert Settings(_env_file=None, database_url=db).trade_lease_seconds == 2.5  # 1 s + 1 s
    monkeypatch.setenv("TRADING_MODE", "paper")  # no signed calls: any lease
    monkeypatch.setenv("BINANCE_RECV_WINDOW_MS", "60000")
    assert Settings(_env_file=None, database_url=db).trade_lease_seconds == 2.5
