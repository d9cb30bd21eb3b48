"""Spanish or English: the browser's preference until the user picks one, which then
follows them; numbers in each currency's precision and the locale's separators."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from dashboard import i18n
from dashboard.components import format
from tests.conftest import add_user
from tests.unit.test_login import csrf_cookie, csrf_from, log_in


@pytest.fixture
def trader(app, desk):
    add_user(desk, "tina", "trader")
    return app.test_client()


def signed_in(client):
    log_in(client, "tina")
    client.get("/trades")  # a signed-in page sets the CSRF cookie
    return client


def test_the_login_page_speaks_spanish_to_a_spanish_browser(anonymous):
    page = anonymous.get("/login", headers={"Accept-Language": "es-VE,es;q=0.9,en;q=0.5"})
    assert '<html lang="es"' in page.text
    assert "Usuario" in page.text and "Contraseña" in page.text
    english = anonymous.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "User name" in english.text and "Usuario" not in english.text


def test_a_wrong_password_is_explained_in_spanish(anonymous, desk):
    es = {"Accept-Language": "es"}
    token = csrf_from(anonymous.get("/login", headers=es).text)
    r = anonymous.post(
        "/login", data={"username": "nobody", "password": "x" * 12, "csrf_token": token}, headers=es
    )
    assert r.status_code == 401
    assert "Usuario o contraseña incorrectos" in r.text


def test_an_unknown_page_is_a_404_in_the_readers_language(trader):
    log_in(trader, "tina")
    r = trader.get("/no-such-page", headers={"Accept-Language": "es"})
    assert r.status_code == 404
    assert "Página no encontrada" in r.text and "no existe la página: /no-such-page" in r.text


def test_the_language_switch_sticks_to_the_user_over_the_browser(trader, desk):
    signed_in(trader)
    r = trader.post(
        "/locale",
        data={"locale": "es", "csrf_token": csrf_cookie(trader)},
        headers={"Referer": "http://localhost/trades"},
    )
    assert r.status_code == 302 and r.headers["Location"] == "/trades"
    page = trader.get("/no-such-page", headers={"Accept-Language": "en"})
    assert "Página no encontrada" in page.text
    # the desk's pages name their language too (the date picker's months follow it)
    assert '<html lang="es"' in trader.get("/trades", headers={"Accept-Language": "en"}).text
    trader.post("/locale", data={"locale": "en", "csrf_token": csrf_cookie(trader)})
    page = trader.get("/no-such-page", headers={"Accept-Language": "es"})
    assert "Page not found" in page.text
    assert '<html lang="en"' in trader.get("/trades", headers={"Accept-Language": "es"}).text


def test_an_unknown_language_is_refused_and_changes_nothing(trader):
    signed_in(trader)
    r = trader.post("/locale", data={"locale": "fr", "csrf_token": csrf_cookie(trader)})
    assert r.status_code == 400
    assert "Page not found" in trader.get("/x", headers={"Accept-Language": "en"}).text


def test_the_language_switch_needs_the_csrf_token(trader):
    signed_in(trader)
    assert trader.post("/locale", data={"locale": "es"}).status_code == 400


@pytest.mark.parametrize(
    ("value", "currency", "shown"),
    [
        ("0.000123456789", "BTC", "0.00012346 BTC"),
        ("1", "BTC", "1.00000000 BTC"),
        ("0.000312", "USDT", "0.000312 USDT"),
        ("1250.5", "USDT", "1,250.50 USDT"),
        ("12.3456789", "USDT", "12.345679 USDT"),
        ("1250.456", "VES", "1,250.46 VES"),
        ("-3.1", "USD", "-3.10 USD"),
    ],
)
def test_amounts_keep_their_currencys_precision_and_unit(app, value, currency, shown):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert format.amount(value, currency) == shown


def test_spanish_groups_and_decimals_the_spanish_way(app):
    with app.test_request_context(headers={"Accept-Language": "es"}):
        assert format.amount("1250.5", "VES") == "1.250,50 VES"
        assert format.amount("61250.5", "VES") == "61.250,50 VES"
        assert format.market_price("36.5", "p2p:USDT/VES") == "36,50 VES/USDT"


@pytest.mark.parametrize(
    "lang,typed,read",
    [
        ("es", "50,5", "50.5"),  # a number field had sent 505
        ("es", "12.500", "12500"),  # and this as 12.50
        ("es", "1.250,50", "1250.50"),
        ("es", "1000,50", "1000.50"),
        ("es", " 500 ", "500"),
        ("es", "50.5", "50.5"),  # a plain number reads in every language
        ("es", "1,250.50", None),
        ("es", "12,500", None),
        ("es", "1.25.0", None),
        ("en", "1,250.50", "1250.50"),
        ("en", "12,500", "12500"),
        ("en", "50,5", None),
        ("en", "12.500", None),  # no amount of USD has three decimals
        ("en", "\u0665\u0660", None),
        ("en", "1e3", None),
    ],
)
def test_a_typed_amount_is_read_in_the_readers_marks(app, lang, typed, read):
    with app.test_request_context(headers={"Accept-Language": lang}):
        assert i18n.read_amount(typed) == read


@pytest.mark.parametrize(
    "lang,amount,typed", [("es", "1250.5", "1250,50"), ("en", "1250.5", "1250.50"),
                          ("es", "5000.000000", "5000"), ("es", "0.01", "0,01")],
)  # fmt: skip
def test_an_amount_is_offered_as_it_is_typed_back(app, lang, amount, typed):
    with app.test_request_context(headers={"Accept-Language": lang}):
        assert i18n.typed_amount(D(amount)) == typed
        assert D(i18n.read_amount(typed)) == D(amount)


def test_small_prices_get_four_decimals_and_btc_quotes_eight(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert format.market_price("5.4321", "p2p:USDT/BRL") == "5.4321 BRL/USDT"
        assert format.market_price("0.0000152", "spot:ETH/BTC") == "0.00001520 BTC/ETH"
        assert format.market_price(None, "p2p:USDT/VES") == "—"


def test_the_grids_own_words_follow_the_language(app):
    from dashboard.components import grid

    with app.test_request_context(headers={"Accept-Language": "es"}):
        words = grid.grid("g", [], empty="Nada").dashGridOptions["localeText"]
        assert (words["page"], words["noRowsToShow"]) == ("Página", "Nada")
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert grid.grid("g", []).dashGridOptions["localeText"] == {"noRowsToShow": "—"}


@pytest.mark.parametrize(
    ("reason", "spanish"),
    [
        ("kill switch is on", "el interruptor de emergencia está activo"),
        ("stale prices: p2p:USDT/VES", "precios desactualizados: p2p:USDT/VES"),
        (
            "insufficient balance: binance:USDT holds 100 USDT, the trade pays 1000 from it "
            "(floor 0)",
            "saldo insuficiente: binance:USDT tiene 100 USDT, la operación paga 1000 (mínimo 0)",
        ),
        (
            "size 1000 USD exceeds the 999.99 USD limit; stale prices: p2p:USDT/COP",
            "el monto de 1000 USD supera el límite de 999.99 USD por operación; "
            "precios desactualizados: p2p:USDT/COP",
        ),
        ("a reason of a new shape", "a reason of a new shape"),
    ],
)
def test_the_executors_reasons_read_in_spanish(app, reason, spanish):
    from dashboard.components import reasons

    with app.test_request_context(headers={"Accept-Language": "es"}):
        assert reasons.translate(reason) == spanish


def test_depth_shows_the_currencys_fewest_decimals(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert format.depth("224757.967607", "USDT") == "224,757.97 USDT"
        assert format.depth("0.2393659212", "BTC") == "0.23936592 BTC"


def test_every_refusal_reads_back_and_has_spanish_with_the_same_values(app):
    """A reworded template is a new catalog entry: it fails here until translated."""
    import string

    from flask_babel import gettext

    from backend.trading import refusals

    fields = lambda text: {f for _, f, _, _ in string.Formatter().parse(text) if f}  # noqa: E731
    with app.test_request_context(headers={"Accept-Language": "es"}):
        for reason in refusals.ALL:
            values = {f: f"<{f}>" for f in fields(reason.template)}
            assert refusals.read(reason(**values)) == [(reason, values)]
            spanish = gettext(reason.template)
            assert spanish != reason.template, reason.template
            assert fields(spanish) == fields(reason.template), spanish


def test_the_spanish_catalog_translates_every_message():
    from pathlib import Path

    from babel.messages.pofile import read_po

    po = Path(__file__).parents[2] / "dashboard/translations/es/LC_MESSAGES/messages.po"
    with po.open("rb") as f:
        catalog = read_po(f)
    assert [m.id for m in catalog if m.id and not m.string] == []


def test_a_bad_size_filter_and_corridor_reason_read_in_spanish(app):
    """The API says them in English; a page shows the catalog's template, same values."""
    from backend.market import rates
    from backend.trading import trade_history, trades
    from dashboard.i18n import told
    from dashboard.pages.rates import reason_text

    with pytest.raises(trades.TradeRequestError) as size:
        trades.parse_size("2000000")
    with pytest.raises(trade_history.FilterError) as user:
        trade_history.TradeFilter.parse({"user": "x"})
    assert str(size.value) == "size must be at most 1000000 USD"
    with app.test_request_context(headers={"Accept-Language": "es"}):
        assert told(size.value) == "el monto debe ser como máximo 1.000.000 USD"  # its marks
        assert told(user.value).startswith("el usuario es un nombre de acceso")
        stale = rates.STALE_BOOKS(markets="p2p:USDT/COP")
        assert reason_text(stale) == "libros desactualizados: p2p:USDT/COP"
        assert reason_text("a venue's own words") == "a venue's own words"
