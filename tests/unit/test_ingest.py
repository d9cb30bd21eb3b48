from backend.market import ingest, latest
from backend.market.book import Market
from backend.market.simulator import Simulator
from tests.conftest import embedded_settings, prepared_app
from tests.factories import NOW


def test_the_desk_keeps_only_ads_it_has_accounts_for_whatever_the_source(tmp_path):
    app = prepared_app(embedded_settings(tmp_path, payment_methods="VES=Banesco"))
    desk = app.extensions["desk"]
    market = Market.parse("p2p:USDT/VES")
    with desk.sessions.begin() as session:
        ingest.ingest(session, desk.cache, desk.settings, Simulator(clock=lambda: NOW), market, NOW)
    with desk.sessions() as session:
        book = latest.get(session, desk.cache, market.key)
    assert book.asks and book.bids
    assert {m for ad in (*book.asks, *book.bids) for m in ad.methods} == {"Banesco"}
