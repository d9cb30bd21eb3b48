"""The spot stub checks what Binance checks: signed wire calls only, Binance's error shapes."""

import hashlib
import hmac
import time
from decimal import Decimal as D
from urllib.parse import urlencode

import pytest
import requests

from tests.binance_spot_stub import SpotStub, Symbol


@pytest.fixture
def stub():
    book = Symbol("BTC", "USDT", asks=[(D("60000"), D("0.002"))], bids=[(D("59900"), D("1"))])
    with SpotStub(balances={"USDT": D("100")}, symbols={"BTCUSDT": book}) as s:
        yield s


def signed(stub, method, path, secret=None, key=None, timeout=5, **params):
    params.setdefault("timestamp", int(time.time() * 1000))
    query = urlencode(params)
    sig = hmac.new((secret or stub.secret).encode(), query.encode(), hashlib.sha256).hexdigest()
    return requests.request(
        method,
        f"{stub.url}{path}?{query}&signature={sig}",
        headers={"X-MBX-APIKEY": key if key is not None else stub.api_key},
        timeout=timeout,
    )


def test_a_bad_signature_is_refused_with_1022(stub):
    r = signed(stub, "GET", "/api/v3/account", secret="wrong")
    assert r.status_code == 400
    assert r.json() == {"code": -1022, "msg": "Signature for this request is not valid."}


def test_a_missing_or_unknown_api_key_is_refused(stub):
    assert signed(stub, "GET", "/api/v3/account", key="").json()["code"] == -2014
    assert signed(stub, "GET", "/api/v3/account", key="other").json()["code"] == -2015


def test_a_timestamp_outside_the_recv_window_is_refused_with_1021(stub):
    old = int(time.time() * 1000) - 6000
    assert signed(stub, "GET", "/api/v3/account", timestamp=old).json()["code"] == -1021
    ok = signed(stub, "GET", "/api/v3/account", timestamp=old, recvWindow=10000)
    assert ok.status_code == 200
    ahead = int(time.time() * 1000) + 2000
    assert signed(stub, "GET", "/api/v3/account", timestamp=ahead).json()["code"] == -1021


def test_a_market_buy_fills_in_full_with_commission_in_the_asset_received(stub):
    r = signed(
        stub,
        "POST",
        "/api/v3/order",
        symbol="BTCUSDT",
        side="BUY",
        type="MARKET",
        quantity="0.001",
        newClientOrderId="desk-7-1",
    )
    body = r.json()
    assert r.status_code == 200, body
    assert (body["executedQty"], body["cummulativeQuoteQty"]) == ("0.00100000", "60.00000000")
    assert body["fills"][0]["commission"] == "0.00000100"
    assert body["fills"][0]["commissionAsset"] == "BTC"
    assert stub.balances == {"USDT": D("40"), "BTC": D("0.000999")}
    found = signed(stub, "GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="desk-7-1")
    assert found.json()["orderId"] == body["orderId"]


def test_an_order_beyond_the_balance_is_refused_with_2010_and_changes_nothing(stub):
    r = signed(
        stub,
        "POST",
        "/api/v3/order",
        symbol="BTCUSDT",
        side="BUY",
        type="MARKET",
        quantity="0.002",
    )
    assert (r.status_code, r.json()["code"]) == (400, -2010)
    assert stub.balances == {"USDT": D("100")} and not stub.orders


def test_an_unknown_client_order_id_answers_2013(stub):
    r = signed(stub, "GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="nope")
    assert r.json() == {"code": -2013, "msg": "Order does not exist."}


@pytest.mark.parametrize("kind, status", [("429", 429), ("418", 418)])
def test_throttling_answers_carry_retry_after(stub, kind, status):
    stub.fail_next(kind, seconds=7)
    r = signed(stub, "GET", "/api/v3/account")
    assert (r.status_code, r.headers["Retry-After"], r.json()["code"]) == (status, "7", -1003)
    assert signed(stub, "GET", "/api/v3/account").status_code == 200


def test_a_stalled_order_is_filled_although_the_client_timed_out(stub):
    stub.fail_next("stall", "/api/v3/order", seconds=1.0)
    order = dict(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    with pytest.raises(requests.Timeout):
        signed(stub, "POST", "/api/v3/order", timeout=0.3, newClientOrderId="desk-8-1", **order)
    found = signed(stub, "GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="desk-8-1")
    assert found.json()["status"] == "FILLED" and stub.placements == {"desk-8-1": 1}
