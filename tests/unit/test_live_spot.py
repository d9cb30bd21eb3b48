"""Live spot legs against the local Binance stub: one order per leg, whatever happens."""

import logging
import time
from decimal import Decimal as D

import pytest

from backend.config import Settings
from backend.market.book import Market
from backend.trading.execution import Leg
from backend.trading.venues import LegOrder, LegRefused, choose
from backend.trading.venues.live_spot import (
    UNREADABLE,
    BinanceSpotTrader,
    LiveSpotVenue,
    OrderInDoubt,
    SpotOrder,
    SpotUnavailable,
    client_order_id,
    forget_throttling,
    to_leg_fill,
)
from tests.binance_spot_stub import SpotStub, Symbol

BUY_BTC = Leg("spot:BTC/USDT", "BUY", None, "USDT", "BTC")
SELL_BTC = Leg("spot:BTC/USDT", "SELL", None, "BTC", "USDT")


@pytest.fixture
def stub():
    book = Symbol(
        "BTC",
        "USDT",
        asks=[(D("60000"), D("0.001")), (D("60100"), D("1"))],
        bids=[(D("59900"), D("0.002")), (D("59800"), D("1"))],
    )
    with SpotStub(balances={"USDT": D("1000"), "BTC": D("0.01")}, symbols={"BTCUSDT": book}) as s:
        yield s


def settings_for(stub, **kw) -> Settings:
    values = dict(
        trading_mode="live",
        binance_trade_url=stub.url,
        binance_api_key=stub.api_key,
        binance_api_secret=stub.secret,
        live_order_timeout_seconds=0.5,
        http_retry_attempts=3,
        http_retry_backoff_seconds=0,
        http_retry_max_wait_seconds=2,
    )
    return Settings(**{**values, **kw})


def test_a_buy_leg_spends_quote_and_is_credited_the_base_net_of_binances_commission(stub):
    venue = LiveSpotVenue(settings_for(stub))
    fill = venue.fill(LegOrder(42, 2, BUY_BTC, D("120.457")))
    # quoteOrderQty 120.45 (cents, rounded down): 0.001 at 60000, then 60.45 / 60100 =
    # 0.0010058 cut to the 0.00001 step: 0.001 at 60100; 120.10 spent, 0.35 left unspent
    assert fill.sell_amount == D("120.10")
    assert fill.fee == D("0.00000100") * 2  # 0.1 % of each fill, in BTC
    assert fill.buy_amount == D("0.002") - D("0.000002")
    assert fill.complete and fill.price == D("60050")
    assert stub.balances == {"USDT": D("879.90"), "BTC": D("0.01") + fill.buy_amount}
    assert stub.placements == {"desk-42-2": 1}


def test_a_sell_leg_is_cut_to_the_lot_step_and_its_commission_is_in_the_quote(stub):
    venue = LiveSpotVenue(settings_for(stub))
    fill = venue.fill(LegOrder(7, 1, SELL_BTC, D("0.0030099")))
    assert fill.sell_amount == D("0.003")  # step 0.00001, rounded down
    proceeds = D("59900") * D("0.002") + D("59800") * D("0.001")  # 179.6
    assert fill.buy_amount + fill.fee == proceeds
    assert fill.fee == D("0.11980000") + D("0.05980000")  # 0.1 % of each fill
    assert stub.balances["USDT"] == D("1000") + proceeds - fill.fee


def test_the_client_order_id_is_derived_from_trade_and_leg():
    assert client_order_id("desk", 42, 2) == "desk-42-2"
    with pytest.raises(ValueError):
        client_order_id("no spaces", 1, 1)


def test_a_redelivered_leg_finds_its_order_instead_of_placing_it_again(stub):
    venue = LiveSpotVenue(settings_for(stub))
    first = venue.fill(LegOrder(9, 1, BUY_BTC, D("60")))
    again = venue.fill(LegOrder(9, 1, BUY_BTC, D("60")))
    assert again == first and stub.placements == {"desk-9-1": 1}
    assert again.fee == D("0.00000100")  # the commission comes back from myTrades


def test_an_order_accepted_then_stalled_is_found_by_its_client_id(stub):
    stub.fail_next("stall", "/api/v3/order", method="POST", seconds=1.5)
    trader = BinanceSpotTrader(settings_for(stub))
    started = time.monotonic()
    done = trader.market_order("desk-5-1", "BTCUSDT", "BUY", quote_qty=D("60"))
    assert time.monotonic() - started < 1.4  # the timeout, then a lookup; not the stall
    assert (done.status, done.executed_qty, stub.placements) == (
        "FILLED",
        D("0.001"),
        {"desk-5-1": 1},
    )


def test_an_order_reply_trickled_inside_the_read_timeout_is_cut_and_looked_up(stub):
    """A byte every 0.2 s stays inside the 0.5 s read timeout, which bounds each read,
    not the reply: the SDK's own session held the worker for the whole ~2 minute reply.
    The reply gets the connect and read timeouts added up (1 s), then the order is found
    by its client id."""
    stub.fail_next("trickle", "/api/v3/order", method="POST", seconds=0.2)
    trader = BinanceSpotTrader(settings_for(stub))
    started = time.monotonic()
    done = trader.market_order("desk-6-1", "BTCUSDT", "BUY", quote_qty=D("60"))
    assert time.monotonic() - started < 3  # 1 s for the reply, then a lookup
    assert (done.status, done.executed_qty, stub.placements) == (
        "FILLED",
        D("0.001"),
        {"desk-6-1": 1},
    )


def test_a_lookup_that_fails_is_in_doubt_and_nothing_is_placed(stub):
    stub.fail_next("error", "/api/v3/order", status=503, body={"code": -1001, "msg": "down"})
    trader = BinanceSpotTrader(settings_for(stub))
    # the lookup before placing is answered 503: it is not placed blind
    with pytest.raises(OrderInDoubt, match="could not be looked up"):
        trader.market_order("desk-6-1", "BTCUSDT", "BUY", quote_qty=D("60"))
    assert not stub.placements


def test_a_placement_answered_503_and_not_found_is_in_doubt(stub, monkeypatch):
    trader = BinanceSpotTrader(settings_for(stub))
    calls = []
    real = trader._call

    def flaky(name, **params):
        calls.append(name)
        if name == "new_order":
            from binance_common.errors import ServerError

            raise ServerError("Server error: 503", 503)
        return real(name, **params)

    monkeypatch.setattr(trader, "_call", flaky)
    with pytest.raises(OrderInDoubt):
        trader.market_order("desk-6-2", "BTCUSDT", "BUY", quote_qty=D("60"))
    # looked up at once, then again once its recvWindow has surely passed
    assert calls == ["get_order", "new_order", "get_order", "get_order"] and not stub.placements


def test_insufficient_balance_refuses_the_leg_with_binances_code(stub):
    venue = LiveSpotVenue(settings_for(stub))
    with pytest.raises(LegRefused, match="-2010"):
        venue.fill(LegOrder(3, 1, BUY_BTC, D("5000")))
    assert not stub.orders


def test_a_wrong_secret_is_refused_with_1022(stub):
    venue = LiveSpotVenue(settings_for(stub, binance_api_secret="wrong"))
    with pytest.raises(LegRefused, match="-1022"):
        venue.fill(LegOrder(3, 1, BUY_BTC, D("60")))


def test_a_clock_behind_the_recv_window_is_refused_with_1021(stub):
    stub.clock_skew_ms = 7000
    venue = LiveSpotVenue(settings_for(stub))
    with pytest.raises(LegRefused, match="-1021"):
        venue.fill(LegOrder(3, 1, BUY_BTC, D("60")))
    wide = LiveSpotVenue(settings_for(stub, binance_recv_window_ms=10000))
    assert wide.fill(LegOrder(3, 1, BUY_BTC, D("60"))).complete


@pytest.mark.parametrize("kind", ["429", "418"])
def test_throttling_waits_what_retry_after_says_then_goes_on(stub, kind):
    stub.fail_next(kind, seconds=1)
    trader = BinanceSpotTrader(settings_for(stub))
    started = time.monotonic()
    done = trader.market_order("desk-4-1", "BTCUSDT", "BUY", quote_qty=D("60"))
    assert time.monotonic() - started >= 1.0
    assert done.status == "FILLED" and stub.placements == {"desk-4-1": 1}


def test_a_retry_after_longer_than_allowed_gives_up_at_once(stub):
    stub.fail_next("429", seconds=30)
    trader = BinanceSpotTrader(settings_for(stub))
    started = time.monotonic()
    with pytest.raises(SpotUnavailable, match="retry after 30 s"):
        trader.market_order("desk-4-2", "BTCUSDT", "BUY", quote_qty=D("60"))
    assert time.monotonic() - started < 1 and not stub.placements


def test_live_mode_needs_both_keys(stub):
    with pytest.raises(LegRefused, match="BINANCE_API_KEY"):
        LiveSpotVenue(settings_for(stub, binance_api_secret=None))


def test_the_keys_are_never_logged_nor_shown(stub, caplog):
    settings = settings_for(stub, binance_api_key="KEY-abc123", binance_api_secret="SECRET-xyz789")
    caplog.set_level(logging.DEBUG)
    venue = LiveSpotVenue(settings)
    with pytest.raises(LegRefused) as refused:
        venue.fill(LegOrder(3, 1, BUY_BTC, D("60")))
    shown = caplog.text + str(refused.value) + repr(settings) + repr(venue.trader.client.__dict__)
    assert "KEY-abc123" not in shown and "SECRET-xyz789" not in shown
    assert "-2015" in str(refused.value)


def test_paper_mode_fills_everything_on_paper_and_live_splits_by_venue():
    paper, spot, p2p = object(), object(), object()
    p2p_leg = Leg("p2p:USDT/VES", "SELL", "Banesco", "USDT", "VES")
    assert choose("paper", BUY_BTC, paper=paper, spot=spot, p2p=p2p) is paper
    assert choose("live", BUY_BTC, paper=paper, spot=spot, p2p=p2p) is spot
    assert choose("live", p2p_leg, paper=paper, spot=spot, p2p=p2p) is p2p


def test_an_order_answered_with_an_unreadable_page_is_looked_up_not_placed_again(stub):
    stub.fail_next("garble", "/api/v3/order", method="POST")
    done = BinanceSpotTrader(settings_for(stub)).market_order(
        "desk-10-1", "BTCUSDT", "BUY", quote_qty=D("60")
    )
    assert (done.executed_qty, done.commissions) == (D("0.001"), {"BTC": D("0.000001")})
    assert stub.placements == {"desk-10-1": 1}


@pytest.mark.parametrize(
    "status, body, reason",
    [
        (400, {"code": -1013, "msg": "Filter failure: NOTIONAL"}, "-1013 Filter failure: NOTIONAL"),
        (400, {"code": -1013, "msg": "Filter failure: LOT_SIZE"}, "-1013 Filter failure: LOT_SIZE"),
        (400, {"code": -1013, "msg": "Filter failure: PRICE_FILTER"}, "PRICE_FILTER"),
        (
            400,
            {"code": -1111, "msg": "Parameter 'quoteOrderQty' has too much precision."},
            "-1111 Parameter 'quoteOrderQty' has too much precision.",
        ),
        (400, {"code": -1100, "msg": "Illegal characters found in parameter 'quantity'."}, "-1100"),
        (
            400,
            {"code": -2010, "msg": "Order would immediately match and take."},
            "-2010 Order would immediately match and take.",
        ),
        (400, {"code": -2010, "msg": "This action is disabled on this account."}, "disabled"),
        (403, "<html>403 Forbidden</html>", "forbidden"),  # the WAF: a page, no code
    ],
)
def test_definite_refusals_refuse_the_leg_with_binances_reason_and_place_nothing(
    stub, status, body, reason
):
    if isinstance(body, str):
        stub.fail_next("raw", "/api/v3/order", method="POST", status=status, text=body)
    else:
        stub.fail_next("error", "/api/v3/order", method="POST", status=status, body=body)
    with pytest.raises(LegRefused, match="Binance refused desk-11-1") as refused:
        LiveSpotVenue(settings_for(stub)).fill(LegOrder(11, 1, BUY_BTC, D("60")))
    assert reason in str(refused.value)
    assert not stub.placements
    assert stub.requests.count(("POST", "/api/v3/order")) == 1  # refused once, not retried


UNKNOWN_1007 = {
    "code": -1007,
    "msg": "Timeout waiting for response from backend server. Send status unknown; "
    "execution status unknown.",
}
UNKNOWN_1006 = {
    "code": -1006,
    "msg": "An unexpected response was received from the message bus. Execution status unknown.",
}
STATUS_UNKNOWN = [
    dict(kind="error", status=400, body=UNKNOWN_1007),
    dict(kind="error", status=408, body=UNKNOWN_1007),
    dict(kind="error", status=503, body=UNKNOWN_1007),
    dict(kind="error", status=400, body=UNKNOWN_1006),
    dict(kind="error", status=409, body={"code": -2026, "msg": "Order was canceled or expired."}),
    dict(kind="raw", status=503, text="<html><body>503 Service Unavailable</body></html>"),
    dict(kind="raw", status=503, text=""),
    dict(kind="raw", status=502, text="upstream connect error", content_type="text/plain"),
    dict(kind="raw", status=504, text="", content_type="application/json"),
    dict(
        kind="raw",
        status=200,
        text='{"symbol":"BTCUSDT","orderId":',
        content_type="application/json",
    ),
]


@pytest.mark.parametrize("fault", STATUS_UNKNOWN)
def test_an_order_whose_execution_status_is_unknown_is_found_by_its_client_id(stub, fault):
    """Binance placed it, then answered "status unknown": looked up, booked, never resent."""
    stub.fail_next(path="/api/v3/order", method="POST", after=True, **fault)
    fill = LiveSpotVenue(settings_for(stub)).fill(LegOrder(16, 1, BUY_BTC, D("60")))
    assert (fill.complete, fill.sell_amount, fill.buy_amount) == (True, D("60"), D("0.000999"))
    assert stub.placements == {"desk-16-1": 1}


@pytest.mark.parametrize("fault", STATUS_UNKNOWN[:2] + STATUS_UNKNOWN[5:7])
def test_an_order_whose_status_is_unknown_and_absent_is_in_doubt_never_refused(stub, fault):
    """Never placed: in doubt until its recvWindow has passed, then placed once."""
    stub.fail_next(path="/api/v3/order", method="POST", **fault)
    venue = LiveSpotVenue(settings_for(stub, binance_recv_window_ms=500))
    with pytest.raises(OrderInDoubt, match="past its recvWindow"):
        venue.fill(LegOrder(17, 1, BUY_BTC, D("60")))
    assert not stub.placements
    assert venue.fill(LegOrder(17, 1, BUY_BTC, D("60"), resent=True)).complete
    assert stub.placements == {"desk-17-1": 1}


@pytest.mark.parametrize("body", [UNKNOWN_1007, UNKNOWN_1006])
def test_a_lookup_whose_status_is_unknown_is_in_doubt_and_places_nothing(stub, body):
    stub.fail_next("error", "/api/v3/order", method="GET", status=400, body=body)
    with pytest.raises(OrderInDoubt, match=str(body["code"])):
        LiveSpotVenue(settings_for(stub)).fill(LegOrder(18, 1, BUY_BTC, D("60")))
    assert not stub.placements


def test_a_duplicate_order_answer_is_looked_up_not_refused(stub):
    stub.fail_next(
        "error", "/api/v3/order", method="POST", after=True,
        body={"code": -2010, "msg": "Duplicate order sent."},
    )  # fmt: skip
    fill = LiveSpotVenue(settings_for(stub)).fill(LegOrder(19, 1, BUY_BTC, D("60")))
    assert fill.complete and stub.placements == {"desk-19-1": 1}


def test_a_reply_with_unknown_fields_and_long_decimals_reads_exactly(stub):
    def edit(body):
        return body | {
            "executedQty": "0.00100000000000000000",
            "cummulativeQuoteQty": "60.000000000000000001",
            "someNewField": {"nested": [1, 2]},
            "preventedMatchId": 3,
            "fills": [f | {"qty": "0.0010000000000", "tradeGroup": "x"} for f in body["fills"]],
        }

    stub.fail_next("reshape", "/api/v3/order", method="POST", edit=edit)
    done = BinanceSpotTrader(settings_for(stub)).market_order(
        "desk-20-1", "BTCUSDT", "BUY", quote_qty=D("60")
    )
    assert (done.executed_qty, done.quote_qty) == (D("0.001"), D("60.000000000000000001"))
    assert done.price == D("60000.000000000000001")
    assert done.commissions == {"BTC": D("0.000001")} and stub.placements == {"desk-20-1": 1}


def test_a_reply_with_no_fills_takes_its_commission_from_my_trades(stub):
    stub.fail_next("reshape", "/api/v3/order", method="POST", edit=lambda b: b | {"fills": []})
    fill = LiveSpotVenue(settings_for(stub)).fill(LegOrder(21, 1, BUY_BTC, D("60")))
    # not booked commission-free: the fee 0.000001 BTC comes from myTrades
    assert (fill.fee, fill.buy_amount, fill.price) == (D("0.000001"), D("0.000999"), D("60000"))
    assert stub.placements == {"desk-21-1": 1}


def test_fills_not_yet_in_my_trades_leave_the_order_in_doubt(stub):
    stub.fail_next("reshape", "/api/v3/order", method="POST", edit=lambda b: b | {"fills": []})
    # the lookup after the reply finds the order, but myTrades has not caught up yet
    stub.fail_next("reshape", "/api/v3/myTrades", edit=lambda trades: [])
    venue = LiveSpotVenue(settings_for(stub))
    with pytest.raises(OrderInDoubt, match="fills add up to 0"):
        venue.fill(LegOrder(22, 1, BUY_BTC, D("60")))
    assert venue.fill(LegOrder(22, 1, BUY_BTC, D("60"), resent=True)).fee == D("0.000001")
    assert stub.placements == {"desk-22-1": 1}


def test_a_partially_filled_reply_is_looked_up_until_done(stub):
    def partly(body):
        return body | {"status": "PARTIALLY_FILLED"}

    stub.fail_next("reshape", "/api/v3/order", method="POST", edit=partly)
    fill = LiveSpotVenue(settings_for(stub)).fill(LegOrder(23, 1, BUY_BTC, D("60")))
    assert fill.complete and stub.placements == {"desk-23-1": 1}


@pytest.mark.parametrize("status", ["EXPIRED_IN_MATCH", "EXPIRED", "REJECTED", "CANCELED"])
def test_an_order_done_with_nothing_filled_refuses_the_leg(stub, status):
    def nothing(body):
        zero = "0.00000000"
        return body | {"status": status, "executedQty": zero, "cummulativeQuoteQty": zero,
                       "fills": []}  # fmt: skip

    stub.fail_next("reshape", "/api/v3/order", method="POST", edit=nothing)
    with pytest.raises(LegRefused, match=f"filled nothing of desk-24-1: order {status}"):
        LiveSpotVenue(settings_for(stub)).fill(LegOrder(24, 1, BUY_BTC, D("60")))


def test_a_slow_order_is_in_doubt_while_it_works_then_found_filled(stub):
    """Accepted, matched only after the HTTP timeout: never placed twice, booked when done."""
    stub.fail_next("slow", "/api/v3/order", method="POST", seconds=1.5)
    venue = LiveSpotVenue(settings_for(stub))
    with pytest.raises(OrderInDoubt, match="is NEW at Binance"):
        venue.fill(LegOrder(25, 1, BUY_BTC, D("60")))
    time.sleep(1.1)
    fill = venue.fill(LegOrder(25, 1, BUY_BTC, D("60"), resent=True))
    assert fill.complete and fill.buy_amount == D("0.000999")
    assert stub.placements == {"desk-25-1": 1}


@pytest.mark.parametrize("kind", ["429", "418"])
def test_a_long_retry_after_stops_every_call_until_it_has_passed(stub, kind):
    stub.fail_next(kind, seconds=30)
    trader = BinanceSpotTrader(settings_for(stub))
    with pytest.raises(SpotUnavailable, match="retry after 30 s"):
        trader.market_order("desk-26-1", "BTCUSDT", "BUY", quote_qty=D("60"))
    sent = len(stub.requests)
    again = LiveSpotVenue(settings_for(stub))  # another venue, same Binance
    with pytest.raises(SpotUnavailable, match="no calls for 30 s more"):
        again.fill(LegOrder(26, 1, BUY_BTC, D("60"), resent=True))
    assert len(stub.requests) == sent and not stub.placements


@pytest.mark.parametrize(
    "kind, status, body",
    [
        (
            "error",
            400,
            {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."},
        ),
        ("error", 403, None),  # the WAF
        ("error", 404, None),
        ("error", 502, None),
        ("429", 429, None),
    ],
)
def test_a_lookup_error_after_a_timeout_leaves_the_leg_in_doubt_never_refused(
    stub, kind, status, body
):
    """The placement's answer was lost; the lookup's error says nothing about the order."""
    stub.fail_next("stall", "/api/v3/order", method="POST", seconds=1.0)
    # the lookup before placing goes through; the one after the timeout fails
    stub.fail_next(
        kind, "/api/v3/order", method="GET", skip=1, status=status, body=body, seconds=30
    )
    venue = LiveSpotVenue(settings_for(stub))
    with pytest.raises((OrderInDoubt, SpotUnavailable)):
        venue.fill(LegOrder(12, 1, BUY_BTC, D("60")))
    time.sleep(1.0)  # the stalled reply is over
    # the next attempt: its lookup fails the same way: still in doubt, nothing placed
    stub.fail_next(kind, "/api/v3/order", method="GET", status=status, body=body, seconds=30)
    with pytest.raises((OrderInDoubt, SpotUnavailable)):
        venue.fill(LegOrder(12, 1, BUY_BTC, D("60"), resent=True))
    assert stub.placements == {"desk-12-1": 1}
    forget_throttling()  # its Retry-After is over (a 429 left the second one unsent)
    stub.faults.clear()
    # once Binance answers, the order is found, not placed again
    again = venue.fill(LegOrder(12, 1, BUY_BTC, D("60"), resent=True))
    assert again.complete and again.buy_amount == D("0.000999")
    assert stub.placements == {"desk-12-1": 1}


def test_no_order_nor_throttled_retry_of_it_leaves_past_its_send_by(stub):
    """Past ``send_by`` the worker's claim could lapse and another attempt place the
    order: a throttled order is not tried again then, and the leg is in doubt."""
    stub.fail_next("429", "/api/v3/order", method="POST", seconds=1)
    venue = LiveSpotVenue(settings_for(stub))
    late = LegOrder(31, 1, BUY_BTC, D("60"), send_by=time.monotonic() + 0.5)
    with pytest.raises(OrderInDoubt, match="new_order not sent"):
        venue.fill(late)
    assert stub.requests.count(("POST", "/api/v3/order")) == 1 and not stub.placements
    past = LegOrder(31, 1, BUY_BTC, D("60"), resent=True, send_by=time.monotonic())
    with pytest.raises(OrderInDoubt, match="new_order not sent"):
        venue.fill(past)  # looked up, not placed
    assert stub.requests.count(("POST", "/api/v3/order")) == 1 and not stub.placements
    assert venue.fill(LegOrder(31, 1, BUY_BTC, D("60"), resent=True)).complete
    assert stub.placements == {"desk-31-1": 1}


def test_order_does_not_exist_is_believed_only_past_the_recv_window(stub):
    """A request held on the way in lands after the client's timeout, within its window."""
    stub.fail_next("late", "/api/v3/order", method="POST", seconds=0.8)
    trader = BinanceSpotTrader(settings_for(stub, binance_recv_window_ms=1000))
    started = time.monotonic()
    done = trader.market_order("desk-13-1", "BTCUSDT", "BUY", quote_qty=D("60"), resent=False)
    # the first lookup (at 0.5 s) was told -2013; the order existed by the second one
    assert time.monotonic() - started >= 2.0  # recvWindow 1 s + 1 s of clock tolerance
    assert done.status == "FILLED" and stub.placements == {"desk-13-1": 1}


def test_a_request_lost_past_its_recv_window_is_placed_once_by_the_next_attempt(stub):
    stub.fail_next("late", "/api/v3/order", method="POST", seconds=1.5)
    venue = LiveSpotVenue(settings_for(stub, binance_recv_window_ms=1000))
    with pytest.raises(OrderInDoubt, match="not at Binance past its recvWindow"):
        venue.fill(LegOrder(14, 1, BUY_BTC, D("60")))
    time.sleep(0.2)
    assert not stub.placements  # it arrived past its window: refused -1021, never placed
    done = venue.fill(LegOrder(14, 1, BUY_BTC, D("60"), resent=True))
    assert done.complete and stub.placements == {"desk-14-1": 1}


def test_a_resent_leg_whose_lookup_is_refused_stays_in_doubt(stub):
    """Only a leg never sent before may take a 4xx on its lookup as Binance's no."""
    stub.clock_skew_ms = 7000
    venue = LiveSpotVenue(settings_for(stub))
    with pytest.raises(OrderInDoubt, match="-1021"):
        venue.fill(LegOrder(15, 1, BUY_BTC, D("60"), resent=True))
    with pytest.raises(LegRefused, match="-1021"):
        venue.fill(LegOrder(15, 1, BUY_BTC, D("60")))
    assert not stub.placements


def test_a_market_order_the_book_cannot_fill_expires_and_its_leg_is_short(stub):
    venue = LiveSpotVenue(settings_for(stub))
    fill = venue.fill(LegOrder(8, 1, SELL_BTC, D("0.005")))  # the bids hold 0.002 + 1 ...
    assert fill.complete  # ... enough: FILLED
    stub.symbols["BTCUSDT"].bids[:] = [(D("59900"), D("0.002"))]
    short = venue.fill(LegOrder(9, 1, SELL_BTC, D("0.005")))
    # Binance fills 0.002 and expires the rest of a market order: the leg is not complete
    assert (short.sell_amount, short.complete) == (D("0.002"), False)


FILLED = {
    "clientOrderId": "desk-1-1",
    "orderId": 7,
    "symbol": "BTCUSDT",
    "side": "BUY",
    "status": "FILLED",
    "executedQty": "0.001",
    "cummulativeQuoteQty": "60",
    "fills": [{"qty": "0.001", "commission": "0.000001", "commissionAsset": "BTC"}],
}


@pytest.mark.parametrize(
    "reply",
    [
        [FILLED],  # not an object: used to raise AttributeError, past the lookup
        "FILLED",
        None,
        FILLED | {"executedQty": "NaN"},
        FILLED | {"cummulativeQuoteQty": "-60"},
        FILLED | {"executedQty": "Infinity"},
        FILLED | {"fills": [{"qty": "0.001", "commission": "NaN", "commissionAsset": "BTC"}]},
        FILLED | {"fills": []},  # executed, but no fill to take its commission from
        FILLED | {"fills": [{"qty": "0.0005", "commission": "0", "commissionAsset": "BTC"}]},
        FILLED | {"executedQty": None},
        {k: v for k, v in FILLED.items() if k != "orderId"},
        FILLED | {"cummulativeQuoteQty": "0.00000000"},  # 0.001 BTC for nothing: price 0
        FILLED | {"executedQty": "0", "fills": []},  # 60 USDT spent on nothing
    ],
)
def test_a_reply_of_an_unknown_shape_is_unreadable_never_a_wrong_fill(reply):
    with pytest.raises(UNREADABLE):
        SpotOrder.from_reply(reply)


@pytest.mark.parametrize(
    "leg, amount, booked",
    [
        (BUY_BTC, D("60"), (D("60000"), D("60"), D("0.000999"))),
        (SELL_BTC, D("0.001"), (D("59900"), D("0.001"), D("59.8401"))),
    ],
)
def test_a_reply_that_spent_or_got_nothing_for_its_fill_is_looked_up_not_booked(
    stub, leg, amount, booked
):
    """executedQty > 0 beside cummulativeQuoteQty "0.00000000": booked as it came, a buy
    cost nothing (price 0) and a sell's proceeds went negative once its commission was
    taken. The order is looked up instead, and booked as Binance holds it: (price, sold,
    bought)."""
    zero = {"cummulativeQuoteQty": "0.00000000"}
    stub.fail_next("reshape", "/api/v3/order", method="POST", edit=lambda b: b | zero)
    fill = LiveSpotVenue(settings_for(stub)).fill(LegOrder(30, 1, leg, amount))
    assert (fill.price, fill.sell_amount, fill.buy_amount) == booked
    assert stub.placements == {"desk-30-1": 1}


def test_a_well_formed_reply_reads_exactly():
    done = SpotOrder.from_reply(FILLED)
    assert (done.executed_qty, done.quote_qty, done.price) == (D("0.001"), D("60"), D("60000"))
    assert done.commissions == {"BTC": D("0.000001")}


def test_a_commission_paid_in_bnb_is_not_taken_from_the_legs_proceeds():
    """0.001 BTC bought for 60 USDT, the commission in BNB: the leg got all 0.001 BTC and
    the BNB is a fee of its own, paid from the house's BNB."""
    bnb = [{"qty": "0.001", "commission": "0.00005", "commissionAsset": "BNB"}]
    done = SpotOrder.from_reply(FILLED | {"fills": bnb})
    fill = to_leg_fill(LegOrder(1, 1, BUY_BTC, D("60")), Market.parse(BUY_BTC.market), done)
    assert (fill.sell_amount, fill.buy_amount, fill.fee) == (D("60"), D("0.001"), D(0))
    assert fill.fees_elsewhere == (("BNB", D("0.00005")),)
    own = to_leg_fill(
        LegOrder(1, 1, BUY_BTC, D("60")), Market.parse(BUY_BTC.market), SpotOrder.from_reply(FILLED)
    )
    assert (own.buy_amount, own.fee, own.fees_elsewhere) == (D("0.000999"), D("0.000001"), ())


def test_a_commission_charged_on_what_the_leg_paid_is_part_of_what_it_paid():
    """A commission in the asset spent (USDT for a BTC buy) left the house's USDT too: the
    leg paid 60.06, so its cash flows, and the profit made of them, count it."""
    paid = [{"qty": "0.001", "commission": "0.06", "commissionAsset": "USDT"}]
    done = SpotOrder.from_reply(FILLED | {"fills": paid})
    fill = to_leg_fill(LegOrder(1, 1, BUY_BTC, D("60")), Market.parse(BUY_BTC.market), done)
    assert (fill.sell_amount, fill.buy_amount, fill.fee) == (D("60.06"), D("0.001"), D(0))
    assert fill.fees_elsewhere == ()


MIN_NOTIONAL_CASES = [
    # quoteOrderQty cut to the cent: 4.99 USDT
    (BUY_BTC, D("4.999"), None, "spot order of 4.99 USDT is under the BTCUSDT minimum of 5"),
    # 0.0000899 cut to the 0.00001 lot: 0.00008 BTC at the best bid 60000 = 4.8 USDT
    (SELL_BTC, D("0.0000899"), D("60000"), "spot order of 4.8 USDT is under the BTCUSDT minimum"),
]


@pytest.mark.parametrize("leg, amount, price, said", MIN_NOTIONAL_CASES)
def test_an_order_under_the_min_notional_is_refused_before_it_is_sent(
    stub, leg, amount, price, said
):
    venue = LiveSpotVenue(settings_for(stub))
    with pytest.raises(LegRefused, match=said) as refused:
        venue.fill(LegOrder(27, 1, leg, amount, price=price))
    assert str(refused.value).endswith(": not sent")
    assert not stub.requests  # not even looked up: Binance would answer -1013 NOTIONAL


@pytest.mark.parametrize(
    "leg, amount, price",
    [
        (BUY_BTC, D("5.001"), None),  # 5.00 USDT
        (SELL_BTC, D("0.00009"), D("59900")),  # 5.391 USDT at the best bid
        (SELL_BTC, D("0.00008"), None),  # no book price: Binance's filter decides
    ],
)
def test_an_order_at_or_over_the_min_notional_or_unpriced_is_sent(stub, leg, amount, price):
    LiveSpotVenue(settings_for(stub)).fill(LegOrder(28, 1, leg, amount, price=price))
    (order,) = stub.orders.values()
    sent = order.get("origQuoteOrderQty", order["origQty"])
    assert D(sent) == amount.quantize(D("0.01") if leg is BUY_BTC else D("0.00001"), "ROUND_DOWN")
    assert stub.placements == {"desk-28-1": 1}


def test_a_resent_order_under_the_min_notional_is_still_looked_up(stub):
    """An earlier attempt may have placed it (the minimum was lower then): find it."""
    LiveSpotVenue(settings_for(stub, spot_min_notionals={})).fill(LegOrder(29, 1, BUY_BTC, D("3")))
    again = LiveSpotVenue(settings_for(stub)).fill(LegOrder(29, 1, BUY_BTC, D("3"), resent=True))
    assert (again.sell_amount, again.complete) == (D("3"), True)
    assert stub.placements == {"desk-29-1": 1}
