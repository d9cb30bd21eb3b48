"""A local Binance spot REST server for the tests, speaking Binance's wire format.

Binance is unreachable from here, so the live spot executor is tested against this: a real
HTTP server (werkzeug, one thread per request) on 127.0.0.1 that checks what Binance
checks on a signed (``TRADE``/``USER_DATA``) call and answers what Binance answers:

- ``X-MBX-APIKEY`` missing or unknown: 401 ``-2014`` / ``-2015``;
- HMAC-SHA256 of the total parameters (query string then body, ``signature`` excluded)
  with the secret, hex: else 400 ``-1022``;
- ``timestamp`` within ``recvWindow`` (default 5000 ms, at most 60000) of the server's
  clock and not more than 1 s ahead: else 400 ``-1021``;
- ``POST /api/v3/order`` MARKET by ``quantity`` or ``quoteOrderQty``: walks the stub's
  levels, charges the taker commission in the asset received (or a flat fee in
  ``commission_asset``, e.g. BNB, Binance's fee discount), answers ``FULL``
  (``fills`` with ``commission``/``commissionAsset``, ``executedQty``,
  ``cummulativeQuoteQty``); ``-2010`` on insufficient balance, ``-1013`` off the lot step;
  ``newClientOrderId`` is unique among *open* orders only, as on Binance, so a filled
  order's id can be reused: placing twice is the client's bug, and ``placements`` shows it;
- ``GET /api/v3/order`` by ``orderId`` or ``origClientOrderId``; ``-2013`` when unknown;
- ``GET /api/v3/myTrades?orderId=`` (each fill with its commission);
- ``GET /api/v3/account`` and ``GET /api/v3/time``;
- scripted failures for the next matching calls: 429 with ``Retry-After`` (``-1003``),
  418 (banned), ``stall``: the order is accepted and filled, then the reply is held
  past the client's timeout, and ``late``: the request reaches the matching engine only
  after ``seconds`` (then checked like any other, so past its ``recvWindow`` it is
  refused ``-1021`` and never placed); ``error``/``raw`` answer a JSON error or a raw
  page (an HTML 503, an empty body) instead, ``after=True`` once the order is done (Binance's
  "execution status unknown"); ``reshape`` answers the reply as ``edit`` rewrites it
  (extra fields, long decimals, no ``fills``, another status); ``slow``: the order is
  accepted but shows ``NEW``, unfilled, until ``seconds`` pass, and its reply is held
  that long; ``trickle``: done, then the reply is sent a byte every ``seconds``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from urllib.parse import parse_qsl

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

D = Decimal
MAX_RECV_WINDOW = 60_000
DEFAULT_RECV_WINDOW = 5_000
EIGHT = D("0.00000001")


class BinanceError(Exception):
    def __init__(self, status: int, code: int, msg: str, headers: dict | None = None):
        super().__init__(msg)
        self.status, self.code, self.msg, self.headers = status, code, msg, headers or {}


@dataclass
class Symbol:
    base: str
    quote: str
    asks: list[tuple[Decimal, Decimal]]  # (price, qty) best first
    bids: list[tuple[Decimal, Decimal]]
    step: Decimal = Decimal("0.00001")  # LOT_SIZE stepSize


@dataclass
class Fault:
    kind: str  # "429" | "418" | "stall" | "late" | "garble" | "error" | "raw" | "reshape" | "slow"
    path: str | None  # only calls to this path (None: any)
    seconds: float = 1.0  # Retry-After, or how long a stall holds the reply
    body: dict | None = None  # for "error": the JSON answered
    status: int = 400
    method: str | None = None  # only calls with this method (None: any)
    skip: int = 0  # let this many matching calls through first
    text: str = ""  # for "raw": the page answered
    content_type: str = "text/html"  # for "raw"
    after: bool = False  # for "error"/"raw": answer it once the call is done
    edit: Callable[[dict], object] | None = None  # for "reshape"


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass


def _fmt(value: Decimal) -> str:
    return format(value.quantize(EIGHT), "f")


@dataclass
class SpotStub:
    api_key: str = "stub-key"
    secret: str = "stub-secret"
    commission: Decimal = Decimal("0.001")
    commission_asset: str | None = None  # None: the asset received; "BNB": Binance's discount
    balances: dict[str, Decimal] = field(default_factory=dict)
    symbols: dict[str, Symbol] = field(default_factory=dict)
    clock_skew_ms: int = 0  # the server's clock minus the real one

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.orders: dict[int, dict] = {}
        self.trades: dict[int, list[dict]] = {}  # orderId -> its trades (myTrades)
        self.placements: dict[str, int] = defaultdict(int)  # newClientOrderId -> accepted
        self.requests: list[tuple[str, str]] = []  # (method, path) in arrival order
        self.faults: list[Fault] = []
        self.working: dict[int, float] = {}  # orderId -> when a "slow" order fills
        self._ids = itertools.count(1000)
        self._server = None

    # -- scripting -----------------------------------------------------------------
    def fail_next(self, kind: str, path: str | None = None, **kw) -> None:
        """Queue a fault for the next call to ``path`` (and ``method=``, if given):
        ``429``, ``418``, ``stall`` (answer after ``seconds``), ``late`` (arrive after
        ``seconds``), ``trickle`` (done, then answered a byte every ``seconds``),
        ``garble`` (done, then an HTML page instead of JSON) or ``error`` (``status``,
        ``body``); ``skip=N`` lets the first N matching calls through."""
        with self.lock:
            self.faults.append(Fault(kind, path, **kw))

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.clock_skew_ms

    # -- server --------------------------------------------------------------------
    def start(self) -> SpotStub:
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_Quiet)
        self._server.daemon_threads = True  # a stalled reply must not hold up stop()
        self._server.block_on_close = False
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> SpotStub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _app(self, environ, start_response):
        request = Request(environ)
        with self.lock:
            self.requests.append((request.method, request.path))
        try:
            fault = self._take_fault(request.method, request.path)
            kind = fault.kind if fault is not None else None
            answered_now = kind in ("429", "418", "error", "raw") and not fault.after
            if answered_now and kind == "raw":
                return self._raw(fault)(environ, start_response)
            if answered_now:
                raise self._fault_error(fault)
            if kind == "late":
                time.sleep(fault.seconds)  # held on the way in: the client gave up waiting
            body = self._route(request)
            if kind == "raw":  # done, then answered with a page
                return self._raw(fault)(environ, start_response)
            if kind == "error":  # done, then answered an error
                raise self._fault_error(fault)
            if kind == "reshape":
                body = fault.edit(body)
            if kind == "slow":
                with self.lock:
                    self.working[body["orderId"]] = time.monotonic() + fault.seconds
                body = {**body, **self._unfilled(body)}
            if kind in ("stall", "slow"):
                time.sleep(fault.seconds)  # accepted and done; the client has given up waiting
            if fault is not None and fault.kind == "garble":  # done, answered by a proxy page
                return Response("<html>502 Bad Gateway</html>", 200, content_type="text/html")(
                    environ, start_response
                )
            if kind == "trickle":  # done, answered a byte every ``seconds``
                text = json.dumps(body).encode()
                pieces = (time.sleep(fault.seconds) or text[i : i + 1] for i in range(len(text)))
                response = Response(pieces, 200, content_type="application/json")
                return response(environ, start_response)
            response = Response(json.dumps(body), 200, content_type="application/json")
        except BinanceError as exc:
            response = Response(
                json.dumps({"code": exc.code, "msg": exc.msg}),
                exc.status,
                headers=exc.headers,
                content_type="application/json;charset=UTF-8",
            )
        return response(environ, start_response)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for i, fault in enumerate(self.faults):
                if fault.path in (None, path) and fault.method in (None, method):
                    if fault.skip:
                        fault.skip -= 1
                        return None
                    return self.faults.pop(i)
        return None

    @staticmethod
    def _raw(fault: Fault) -> Response:
        return Response(fault.text, fault.status, content_type=fault.content_type)

    @staticmethod
    def _unfilled(order: dict) -> dict:
        """What a ``slow`` order shows while the matching engine still works on it."""
        return {
            "status": "NEW",
            "executedQty": _fmt(D(0)),
            "cummulativeQuoteQty": _fmt(D(0)),
            "fills": [],
        }

    def _filling(self, order_id: int) -> bool:
        return time.monotonic() < self.working.get(order_id, 0)

    @staticmethod
    def _fault_error(fault: Fault) -> BinanceError:
        retry = {"Retry-After": str(int(fault.seconds))}
        if fault.kind == "429":
            msg = "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute."
            return BinanceError(429, -1003, msg, retry)
        if fault.kind == "418":
            until = int(time.time() * 1000 + fault.seconds * 1000)
            return BinanceError(
                418, -1003, f"Way too many requests; IP banned until {until}.", retry
            )
        body = fault.body or {"code": -1000, "msg": "An unknown error occurred."}
        return BinanceError(fault.status, body.get("code"), body.get("msg"))

    def _route(self, request: Request) -> object:
        routes = {
            ("GET", "/api/v3/time"): lambda p: {"serverTime": self.now_ms()},
            ("GET", "/api/v3/account"): self._account,
            ("POST", "/api/v3/order"): self._new_order,
            ("GET", "/api/v3/order"): self._get_order,
            ("GET", "/api/v3/myTrades"): self._my_trades,
        }
        handler = routes.get((request.method, request.path))
        if handler is None:
            raise BinanceError(404, -1000, f"no route {request.method} {request.path}")
        if request.path == "/api/v3/time":
            return handler({})
        return handler(self._signed(request))

    # -- authentication ------------------------------------------------------------
    def _signed(self, request: Request) -> dict[str, str]:
        key = request.headers.get("X-MBX-APIKEY", "")
        if not key:
            raise BinanceError(401, -2014, "API-key format invalid.")
        if key != self.api_key:
            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        query = request.query_string.decode()
        body = request.get_data(as_text=True) if request.method != "GET" else ""
        params = dict(parse_qsl(query, keep_blank_values=True))
        params.update(parse_qsl(body, keep_blank_values=True))
        signature = params.pop("signature", "")
        # Binance's totalParams: the query string, then the body, simply concatenated
        total = _without_signature(query) + _without_signature(body)
        expected = hmac.new(self.secret.encode(), total.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature.lower(), expected):
            raise BinanceError(400, -1022, "Signature for this request is not valid.")
        try:
            timestamp = int(params["timestamp"])
            window = float(params.get("recvWindow", DEFAULT_RECV_WINDOW))
        except (KeyError, ValueError):
            raise BinanceError(
                400,
                -1102,
                "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
            ) from None
        if window > MAX_RECV_WINDOW:
            raise BinanceError(400, -1131, "recvWindow must be less than 60000")
        server = self.now_ms()
        if timestamp >= server + 1000 or server - timestamp > window:
            raise BinanceError(
                400, -1021, "Timestamp for this request is outside of the recvWindow."
            )
        return params

    # -- endpoints -----------------------------------------------------------------
    def _account(self, params: dict) -> dict:
        with self.lock:
            balances = [
                {"asset": a, "free": _fmt(v), "locked": "0.00000000"}
                for a, v in sorted(self.balances.items())
            ]
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "canTrade": True,
            "accountType": "SPOT",
            "updateTime": self.now_ms(),
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": 1,
        }

    def _symbol(self, params: dict) -> tuple[str, Symbol]:
        name = params.get("symbol", "")
        if name not in self.symbols:
            raise BinanceError(400, -1121, "Invalid symbol.")
        return name, self.symbols[name]

    def _new_order(self, params: dict) -> dict:
        name, sym = self._symbol(params)
        side, kind = params.get("side"), params.get("type")
        if side not in ("BUY", "SELL"):
            raise BinanceError(400, -1102, "Mandatory parameter 'side' was not sent.")
        if kind != "MARKET":
            raise BinanceError(400, -1116, "Invalid orderType.")
        quantity = D(params["quantity"]) if "quantity" in params else None
        quote_qty = D(params["quoteOrderQty"]) if "quoteOrderQty" in params else None
        if (quantity is None) == (quote_qty is None):
            raise BinanceError(400, -1106, "Parameter 'quoteOrderQty' sent when not required.")
        if quantity is not None and (quantity <= 0 or quantity % sym.step):
            raise BinanceError(400, -1013, "Filter failure: LOT_SIZE")
        client_id = params.get("newClientOrderId") or f"stub{next(self._ids)}"
        with self.lock:
            fills, filled = self._walk(sym, side, quantity, quote_qty)
            qty = sum((q for _, q in fills), D(0))
            quote = sum((p * q for p, q in fills), D(0)).quantize(EIGHT, ROUND_DOWN)
            pay, pay_amount = (sym.quote, quote) if side == "BUY" else (sym.base, qty)
            get_asset = sym.base if side == "BUY" else sym.quote
            if qty == 0 or self.balances.get(pay, D(0)) < pay_amount:
                raise BinanceError(
                    400, -2010, "Account has insufficient balance for requested action."
                )
            trade_fills = []
            for price, q in fills:
                got = q if side == "BUY" else (price * q).quantize(EIGHT, ROUND_DOWN)
                fee = (got * self.commission).quantize(EIGHT)
                if self.commission_asset:  # a flat fee in another asset, for the test to see
                    fee = self.commission
                trade_fills.append(
                    {
                        "price": _fmt(price),
                        "qty": _fmt(q),
                        "commission": _fmt(fee),
                        "commissionAsset": self.commission_asset or get_asset,
                        "tradeId": next(self._ids),
                    }
                )
            received = qty if side == "BUY" else quote
            commission = sum((D(f["commission"]) for f in trade_fills), D(0))
            self.balances[pay] = self.balances.get(pay, D(0)) - pay_amount
            fee_asset = self.commission_asset or get_asset
            self.balances[get_asset] = self.balances.get(get_asset, D(0)) + received
            self.balances[fee_asset] = self.balances.get(fee_asset, D(0)) - commission
            order_id = next(self._ids)
            now = self.now_ms()
            order = {
                "symbol": name,
                "orderId": order_id,
                "orderListId": -1,
                "clientOrderId": client_id,
                "price": "0.00000000",
                "origQty": _fmt(quantity if quantity is not None else qty),
                "executedQty": _fmt(qty),
                "cummulativeQuoteQty": _fmt(quote),
                "status": "FILLED" if filled else "EXPIRED",  # a market order past the book
                "timeInForce": "GTC",
                "type": "MARKET",
                "side": side,
                "workingTime": now,
                "selfTradePreventionMode": "EXPIRE_MAKER",
            }
            if quote_qty is not None:
                order["origQuoteOrderQty"] = _fmt(quote_qty)
            self.orders[order_id] = {**order, "time": now, "updateTime": now, "isWorking": True}
            self.trades[order_id] = [
                {
                    "symbol": name,
                    "id": f["tradeId"],
                    "orderId": order_id,
                    "orderListId": -1,
                    "price": f["price"],
                    "qty": f["qty"],
                    "quoteQty": _fmt(D(f["price"]) * D(f["qty"])),
                    "commission": f["commission"],
                    "commissionAsset": f["commissionAsset"],
                    "time": now,
                    "isBuyer": side == "BUY",
                    "isMaker": False,
                    "isBestMatch": True,
                }
                for f in trade_fills
            ]
            self.placements[client_id] += 1
        return {**order, "transactTime": now, "fills": trade_fills}

    @staticmethod
    def _walk(sym: Symbol, side: str, quantity: Decimal | None, quote_qty: Decimal | None):
        """The fills, and whether the order was done before the book ran out (Binance
        expires the rest of a market order it cannot fill)."""
        levels = sym.asks if side == "BUY" else sym.bids
        fills, left_qty, left_quote = [], quantity, quote_qty
        for price, available in levels:
            if left_qty is not None:
                take = min(available, left_qty)
            else:
                take = min(
                    available,
                    (left_quote / price / sym.step).to_integral_value(ROUND_DOWN) * sym.step,
                )
            if take <= 0:
                return fills, True
            fills.append((price, take))
            if left_qty is not None:
                left_qty -= take
                if left_qty == 0:
                    return fills, True
            else:
                left_quote -= price * take
        # the book ran out; a quote order whose rest buys no whole step at the last price is done
        return fills, left_qty is None and bool(levels) and left_quote < levels[-1][0] * sym.step

    def _get_order(self, params: dict) -> dict:
        name, _ = self._symbol(params)
        with self.lock:
            for order in self.orders.values():
                if order["symbol"] != name:
                    continue
                if str(order["orderId"]) == params.get("orderId") or (
                    "origClientOrderId" in params
                    and order["clientOrderId"] == params["origClientOrderId"]
                ):
                    if self._filling(order["orderId"]):
                        shown = {**order, **self._unfilled(order)}
                        return {k: v for k, v in shown.items() if k != "fills"}
                    return dict(order)
        raise BinanceError(400, -2013, "Order does not exist.")

    def _my_trades(self, params: dict) -> list[dict]:
        name, _ = self._symbol(params)
        with self.lock:
            if "orderId" in params:
                if self._filling(int(params["orderId"])):
                    return []
                return list(self.trades.get(int(params["orderId"]), []))
            return [t for ts in self.trades.values() for t in ts if t["symbol"] == name]


def _without_signature(part: str) -> str:
    return "&".join(p for p in part.split("&") if p and not p.startswith("signature="))
