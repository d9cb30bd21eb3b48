"""Hostile input gets a clear 4xx with a JSON message, never a 500, and changes nothing."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from backend.models import JournalEntry, Trade
from backend.resilience import Unavailable
from tests.unit.test_access import EXECUTE, PRICES, callback_body


def trades_count(desk) -> int:
    with desk.sessions() as session:
        return session.scalar(select(func.count()).select_from(Trade))


def post_trade(client, body, key="hostile"):
    return client.post("/api/v1/trades", json=body, headers={"Idempotency-Key": key})


@pytest.mark.parametrize(
    "body,status,message",
    [
        ({"opportunity_id": 2**31}, 404, "does not exist"),
        ({"opportunity_id": 10**26}, 404, "does not exist"),
        ({"opportunity_id": -1}, 404, "does not exist"),
        ({"opportunity_id": 1.5}, 422, "integer"),
        ({"opportunity_id": [1]}, 422, "integer"),
        ({"opportunity_id": 1, "size": "9" * 20_000}, 422, "not an amount of USD"),
        ({"opportunity_id": 1, "size": "1_000"}, 422, "not an amount of USD"),
        ({"opportunity_id": 1, "size": "1e-30"}, 422, "not an amount of USD"),
        ({"opportunity_id": 1, "size": 1e-30}, 422, "not an amount of USD"),
        ({"opportunity_id": 1, "size": "500.001"}, 422, "not an amount of USD"),
        ({"opportunity_id": 1, "size": "\u0665\u0660\u0660"}, 422, "not an amount of USD"),
        ({"opportunity_id": 1, "size": "\uff15\uff10\uff10"}, 422, "not an amount of USD"),
        ({"opportunity_id": 1, "size": "5"}, 422, "at least 10"),
        ({"opportunity_id": 1, "size": "2000000"}, 422, "at most"),
        ({"opportunity_id": 1, "size": "99999999"}, 422, "at most"),  # an amount, too big
        ({"opportunity_id": 1, "size": "999999999999.99"}, 422, "at most"),
        ({"opportunity_id": 1, "size": {"$gt": 0}}, 422, "number of USD"),
        ({"opportunity_id": 1, "surprise": 1}, 400, "unknown field"),
    ],
)
def test_bad_trade_requests_are_answered_with_a_reason(client, desk, body, status, message):
    r = post_trade(client, body)
    assert (r.status_code, r.is_json) == (status, True), r.text[:200]
    assert message in r.json["error"]
    assert trades_count(desk) == 0


@pytest.mark.parametrize(
    "raw,status",
    [
        ("[" * 100_000 + "]" * 100_000, 400),
        ('{"opportunity_id": ' + "9" * 20_000 + "}", 400),
        ("{not json", 400),
        ('"a string"', 400),
    ],
)
def test_malformed_json_bodies_get_400(client, desk, raw, status):
    r = client.post(
        "/api/v1/trades",
        data=raw,
        headers={"Idempotency-Key": "k", "Content-Type": "application/json"},
    )
    assert r.status_code == status and r.is_json
    assert trades_count(desk) == 0


def test_a_body_over_the_limit_gets_413_before_it_is_read(client, desk):
    r = post_trade(client, {"opportunity_id": 1, "pad": "x" * (desk.settings.max_request_bytes)})
    assert r.status_code == 413 and r.is_json


def test_an_oversized_idempotency_key_is_refused(client):
    r = post_trade(client, {"opportunity_id": 1}, key="k" * 10_000)
    assert r.status_code == 400 and "Idempotency-Key" in r.json["error"]


@pytest.mark.parametrize("trade_id", ["2147483648", "9" * 26, "-1", "abc"])
def test_trade_ids_beyond_the_database_are_404_json(client, trade_id):
    r = client.get(f"/api/v1/trades/{trade_id}")
    assert r.status_code == 404 and r.is_json


def test_unknown_api_paths_and_methods_answer_json(client):
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.is_json and "no such API route" in r.json["error"]
    r = client.post("/api/v1/prices", json={})
    assert r.status_code == 405 and r.is_json and "GET" in r.headers["Allow"]
    assert client.delete("/api/v1/trades").status_code == 405


def test_unknown_pages_are_404(client):
    r = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert r.status_code == 404 and "404" in r.text


MARKET = callback_body(
    "..depth-chart.figure...candle-chart.figure...methods-grid.rowData...ads-grid.rowData"
    "...market-age.children...market-age.color..",
    [
        {"id": "market-tick", "property": "n_intervals", "value": 1},
        {"id": "candle-range", "property": "value", "value": "60"},
        {"id": "market-push", "property": "data", "value": None},
    ],
    [{"id": "market-key", "property": "data", "value": "p2p:USDT/VES"}],
)


def with_value(body: dict, where: str, index: int, value) -> dict:
    items = [dict(item) for item in body[where]]
    items[index]["value"] = value
    return body | {where: items}


@pytest.mark.parametrize(
    "body,message",
    [
        ({}, '"output"'),
        ({"output": 7}, '"output"'),
        (callback_body("nobody.children", []), "unknown callback"),
        ({"output": "x" * 5000}, "unknown callback"),
        (with_value(EXECUTE, "state", 1, "a string, not the pending trade"), "pending trade"),
        (with_value(EXECUTE, "state", 1, {"opportunity_id": 1, "key": "k", "x": 1}), "fields"),
        (with_value(EXECUTE, "state", 0, ["500"]), "size"),
        (with_value(MARKET, "state", 0, {"market": "p2p:USDT/VES"}), "market"),
        (with_value(MARKET, "state", 0, "p2p:DOGE/XYZ"), "unknown market"),
        (with_value(MARKET, "inputs", 1, "9999"), "unknown range"),
        (with_value(PRICES, "inputs", 0, "7"), "ticket size"),
        (with_value(PRICES, "inputs", 1, ["Banesco"]), "payment method"),
        (MARKET | {"inputs": MARKET["inputs"][:1]}, "inputs do not match"),
        (MARKET | {"inputs": [{"id": "evil", "property": "value"}] * 2}, "inputs do not match"),
        (MARKET | {"outputs": "depth-chart.figure"}, "outputs do not match"),
        (MARKET | {"changedPropIds": [["nested"]]}, "changedPropIds"),
    ],
)
def test_malformed_callback_payloads_get_400(app, client, desk, body, message):
    r = client.post("/_dash-update-component", json=body)
    assert (r.status_code, r.is_json) == (400, True), r.text[:300]
    assert message in r.json["error"]
    assert trades_count(desk) == 0


def test_a_huge_callback_body_is_refused_and_never_logged(client, desk, caplog):
    caplog.set_level(logging.DEBUG)
    body = with_value(MARKET, "state", 0, "p2p:USDT/VES" + "x" * 10_000_000)
    r = client.post("/_dash-update-component", json=body)
    assert r.status_code == 413
    assert max((len(rec.getMessage()) for rec in caplog.records), default=0) < 5000


def test_a_market_the_desk_does_not_trade_has_no_page(client):
    r = client.get("/markets/p2p/DOGE-XYZ", headers={"Accept": "text/html"})
    assert r.status_code == 404
    assert client.get("/markets/p2p/USDT-VES", headers={"Accept": "text/html"}).status_code == 200


def test_the_candle_heading_names_the_candle_of_the_range_and_refuses_others(client):
    def title(minutes):
        body = callback_body(
            "candle-title.children", [{"id": "candle-range", "property": "value", "value": minutes}]
        )
        return client.post("/_dash-update-component", json=body)

    said = {m: title(m).json["response"]["candle-title"]["children"] for m in ("60", "1440")}
    assert said == {"60": "Mid price, 1-minute candles", "1440": "Mid price, 5-minute candles"}
    assert title("9999").status_code == 400 and "unknown range" in title("9999").json["error"]


def declared_body(app, prefix: str, values: dict) -> dict:
    """A well-formed body for the callback whose output starts with ``prefix``: every
    declared input and state present, the ones named in ``values`` set to them."""
    key = next(k for k in app.extensions["dash"].callback_map if k.startswith(prefix))
    spec = app.extensions["dash"].callback_map[key]

    def filled(items):
        return [
            {"id": i["id"], "property": i["property"], "value": values.get(i["id"])} for i in items
        ]

    return callback_body(key, filled(spec["inputs"]), filled(spec.get("state", [])))


@pytest.mark.parametrize(
    "prefix,values,message",
    [
        # Dash's page router: a location the browser never sends crashed it.
        (".._pages_content", {"_pages_location": None}, "pathname"),
        (".._pages_content", {"_pages_location": "x"}, "pathname"),
        (".._pages_content", {"_pages_location": ["/"]}, "pathname"),
        # Clientside callbacks have no server function: Dash raised a KeyError.
        ("trades-reloaded.data", {"trades-tick": 1}, "runs in the browser"),
        ("_pages_dummy.children", {"_pages_store": "x"}, "runs in the browser"),
        # A filter value of the wrong type was .strip()ped before it was checked.
        ("..trades-filter.data", {"trades-user": {"a": 1}}, "user has the wrong type"),
        # Ids beyond the 32-bit columns failed in the driver instead of finding nothing.
        ("..execute-status.children@", {"execute-trade": 2**70}, "unknown trade"),
        ("..execute-modal.is_open", {"opps-grid": {"value": 2**70}}, "unknown opportunity"),
        # A stored time too large for a float was subtracted from now: OverflowError.
        ("..trades-detail.children@", {"trades-acted": 10**400}, "acted is not a time"),
        ("..trades-detail.children@", {"trades-acted": float("nan")}, "acted is not a time"),
    ],
)
def test_callback_values_no_browser_sends_get_400(app, client, desk, prefix, values, message):
    r = client.post("/_dash-update-component", json=declared_body(app, prefix, values))
    assert (r.status_code, r.is_json) == (400, True), r.text[:300]
    assert message in r.json["error"]
    assert trades_count(desk) == 0


def test_a_selected_row_id_beyond_the_database_is_no_such_trade(app, client):
    body = declared_body(
        app, "..trades-detail.children...trades-shown", {"trades-grid": [{"id": 2**70}]}
    )
    r = client.post("/_dash-update-component", json=body)
    assert r.status_code == 200, r.text[:300]
    assert "does not exist" in r.text


@pytest.mark.parametrize(
    "path",
    [
        "/_dash-component-suites/../../../etc/passwd",
        "/_dash-component-suites/dash/..%2f..%2f..%2fbackend%2fconfig.py",
        "/_dash-component-suites/nope/x.js",
        "/_dash-component-suites/dash/not-a-bundle.js",
    ],
)
def test_an_asset_dash_does_not_serve_is_404_not_500(client, path):
    r = client.get(path)
    assert r.status_code == 404, r.text[:200]
    assert "root:" not in r.text and "Settings" not in r.text


def test_a_page_with_the_database_away_is_a_503_page_naming_it(client, desk, monkeypatch):
    """The error page rendered through Flask-Login's context processor, which looked the
    user up in the database again and made the 503 page itself a bare 500."""

    def away(*args, **kwargs):
        raise Unavailable("db", "database breaker open after repeated failures")

    monkeypatch.setattr(type(desk), "sessions", property(away))
    for path in ("/trades", "/login", "/"):
        r = client.get(path, headers={"Accept": "text/html", "Accept-Language": "es"})
        assert r.status_code == 503, (path, r.text[:200])
        assert "database" in r.text and 'lang="es"' in r.text


def admin_of(app):
    from tests.conftest import api_client

    return api_client(app, "admin")


def controls_now(desk) -> dict:
    from backend.trading import controls

    with desk.sessions() as session:
        return controls.as_strings(controls.load(session, desk.settings))


# PostgreSQL text cannot hold U+0000: psycopg raised DataError, a 500 (SQLite kept it).
@pytest.mark.parametrize(
    "send",
    [
        lambda app, c: admin_of(app).post("/api/v1/controls/pause", json={"reason": "a\x00b"}),
        lambda app, c: admin_of(app).post("/api/v1/controls", json={"x\x00": "1", "reason": "r"}),
        lambda app, c: c.get("/api/v1/trades?user=a%00b"),
        lambda app, c: c.get("/api/v1/trades/%00"),
        lambda app, c: post_trade(c, {"opportunity_id": 1}, key="k\x00"),
        lambda app, c: c.post(
            "/_dash-update-component", json=with_value(MARKET, "state", 0, "p2p:\x00")
        ),
        lambda app, c: app.test_client().post(
            "/login", data={"username": "a\x00", "password": "x"}
        ),
    ],
)
def test_a_nul_character_anywhere_is_a_400_that_changes_nothing(app, client, desk, send):
    before = controls_now(desk)
    r = send(app, client)
    assert r.status_code == 400, r.text[:300]
    assert "NUL" in r.text
    assert controls_now(desk) == before and trades_count(desk) == 0


@pytest.mark.parametrize("amount", ["٥٠٠", "۵۰۰", "1_000", "1e3", "NaN", "1e999"])
def test_amounts_are_plain_ascii_numbers(app, desk, amount):
    admin = admin_of(app)
    before = (controls_now(desk), admin.get("/api/v1/balances").json)
    deposit = {"account": "binance:USDT", "amount": amount, "reason": "r"}
    assert admin.post("/api/v1/balances/deposit", json=deposit).status_code == 422
    for key in ("max_trade_usd", "min_profit_usd", "floor:binance:USDT"):
        r = admin.post("/api/v1/controls", json={key: amount, "reason": "r"})
        assert r.status_code == 422 and "plain number" in r.json["error"], r.text[:200]
    margin = {"corridor": "COP->VES", "margin": amount, "reason": "r"}
    assert admin.post("/api/v1/rates/margins", json=margin).status_code == 422
    assert (controls_now(desk), admin.get("/api/v1/balances").json) == before


@pytest.mark.parametrize("raw", ["٥٠٠", "1_000", " ۱۲ "])
def test_a_ticket_amount_in_other_digits_is_not_a_number(raw):
    from backend.trading import tickets

    with pytest.raises(tickets.TicketError, match="is not a number"):
        tickets.amount(raw, "sold")


@pytest.mark.parametrize(
    "path,body",
    [
        ("/api/v1/balances/deposit", {"account": "binance:USDT", "amount": "5", "currency": "VES"}),
        ("/api/v1/balances/adjust", {"account": "binance:USDT", "ammount": "5"}),
        ("/api/v1/balances/transfer", {"from": "binance:spot:USDT", "amount": "1", "fee": "1"}),
        ("/api/v1/controls/pause", {"until": "tomorrow"}),
    ],
)
def test_a_money_or_switch_move_with_an_unknown_field_is_refused(app, desk, path, body):
    admin = admin_of(app)
    before = (controls_now(desk), admin.get("/api/v1/balances").json)
    r = admin.post(path, json=body | {"reason": "r"})
    assert r.status_code == 400 and "unknown field" in r.json["error"], r.text[:200]
    assert (controls_now(desk), admin.get("/api/v1/balances").json) == before


@pytest.mark.parametrize(
    "reason",
    [
        "refund\u202eevil",  # a right-to-left override turns the rest of the line around
        "ok\nadmin: approved by the owner",  # a second, forged line of the audit trail
        "\x1b[2Kcleared",  # a terminal escape that erases the line it is printed on
        "r" * 501,  # refused, never cut to fit
        "   ",
    ],
)
def test_every_recorded_reason_is_one_printable_line_or_refused(app, desk, reason):
    admin = admin_of(app)
    before = (controls_now(desk), admin.get("/api/v1/balances").json)
    moves = [
        ("/api/v1/balances/deposit", {"account": "binance:USDT", "amount": "5"}),
        ("/api/v1/balances/adjust", {"account": "binance:USDT", "amount": "-1"}),
        (
            "/api/v1/balances/transfer",
            {"from": "binance:USDT", "to": "binance:spot:USDT", "amount": "1"},
        ),
        ("/api/v1/controls/pause", {}),
        ("/api/v1/controls", {"max_trade_usd": "900"}),
        ("/api/v1/rates/margins", {"corridor": "COP->VES", "margin": "0.05"}),
    ]
    for path, body in moves:
        r = admin.post(path, json=body | {"reason": reason})
        assert r.status_code in (400, 422), (path, r.status_code, r.text[:200])
        assert "a reason of 1 to 500 printable characters on one line" in r.json["error"], path
    runner = app.test_cli_runner()
    for args in (
        ["balances", "deposit", "binance:USDT", "5", "--reason", reason],
        ["controls", "set", "max_trade_usd", "900", "--reason", reason],
        ["controls", "pause", "--reason", reason],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 2 and "printable characters" in result.output, args
    assert (controls_now(desk), admin.get("/api/v1/balances").json) == before


def test_a_reason_of_500_printable_characters_in_any_script_is_kept_whole(app, desk):
    reason = ("pago a Banesco — ñandú 支付 ✓ " * 20)[:500]
    r = admin_of(app).post(
        "/api/v1/balances/deposit",
        json={"account": "binance:USDT", "amount": "5", "reason": reason},
    )
    assert r.status_code == 200, r.text[:200]
    with desk.sessions() as session:
        kept = session.scalars(select(JournalEntry.reason).order_by(JournalEntry.id.desc())).first()
    assert kept == reason.strip()


@pytest.mark.parametrize("digits", ["%D9%A1", "%EF%BC%91", "%C2%B9"])  # ١, a full-width 1, ¹
def test_an_id_in_another_scripts_digits_is_no_route(client, desk, opportunity, digits):
    assert post_trade(client, {"opportunity_id": opportunity.id}).status_code == 201
    assert client.get("/api/v1/trades/1").status_code == 200
    r = client.get(f"/api/v1/trades/{digits}")
    assert r.status_code == 404 and r.is_json


@pytest.mark.parametrize(
    "send,status",
    [
        (lambda a, c: a.post("/api/v1/controls", json=[]), 400),
        (lambda a, c: a.post("/api/v1/controls", json={"max_trade_usd": "x", "reason": "r"}), 422),
        (lambda a, c: a.post("/api/v1/controls/pause", json=[]), 400),
        (lambda a, c: a.post("/api/v1/rates/margins", json={"corridor": 1}), 400),
        (lambda a, c: a.post("/api/v1/balances/deposit", json={"account": 1}), 422),
        (lambda a, c: a.post("/api/v1/balances/transfer", json=[]), 400),
        (lambda a, c: c.get("/api/v1/trades/123456"), 404),
        (lambda a, c: c.get("/api/v1/trades?status=nope"), 422),
    ],
)
def test_every_refusal_is_the_documented_error_body(app, client, desk, send, status):
    r = send(admin_of(app), client)
    assert r.status_code == status and r.json == {"error": r.json["error"], "status": status}


@pytest.mark.parametrize(
    "key,value",
    [
        ("floor:binance:USDT", "0.000000000000000001"),
        ("min_profit_usd", "0.0000001"),
        ("max_trade_usd", "100000000000000"),
    ],
)
def test_a_control_reads_back_as_it_can_be_sent_again(app, desk, key, value):
    """Shown with no exponent, so what the API shows is a value it accepts."""
    admin = admin_of(app)
    r = admin.post("/api/v1/controls", json={key: value, "reason": "r"})
    assert r.status_code == 200 and r.json["controls"][key] == value
    assert r.json["history"][0]["to"] == value
    again = admin.post("/api/v1/controls", json={key: r.json["controls"][key], "reason": "r"})
    assert again.status_code == 200
