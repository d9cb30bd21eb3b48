"""The rates message the house pastes to clients: Spanish words and Spanish numbers even
for an operator reading the desk in English; only live rates are quoted."""

from datetime import UTC, datetime
from decimal import Decimal

from backend.market.rates import Corridor, CorridorRate
from dashboard.components.client_message import client_message

NOW = datetime(2026, 11, 28, 14, 5, tzinfo=UTC)


def rate(name: str, client: str | None, stale: bool = False) -> CorridorRate:
    value = None if client is None else Decimal(client)
    return CorridorRate(
        Corridor.parse(name),
        Decimal(500),
        Decimal("0.02"),
        value,
        value,
        None,
        None,
        1.0,
        stale,
        None,
    )


def test_the_message_is_spanish_for_an_english_reader_and_skips_stale_corridors(app):
    board = [
        rate("COP->VES", "0.09123456"),
        rate("USD->VES", "1234.5"),
        rate("ARS->VES", "0.3", stale=True),
        rate("PEN->VES", None),
    ]
    with app.test_request_context(headers={"Accept-Language": "en"}):
        text = client_message(board, NOW)
    assert text.splitlines() == [
        "Tasas de cambio, 28/11/2026 14:05 UTC:",
        "• COP → VES: 1 COP = 0,09123456 VES",
        "• USD → VES: 1 USD = 1.234,50 VES",
        "Las tasas cambian con el mercado; confirme antes de enviar.",
    ]


def test_with_nothing_to_quote_the_client_is_told_to_ask_again(app):
    with app.test_request_context():
        text = client_message([rate("COP->VES", "0.09", stale=True)], NOW)
    assert text.startswith("Ahora no podemos cotizar ninguna tasa")
