"""The callbacks behind Trades, Rates and Risk, posted as Dash's renderer posts them:
roles are checked on the server, a grid's request is validated, and a kill switch change
needs a reason."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from backend.models import Opportunity, TradeEvent
from backend.trading import controls
from dashboard.pages.trades import pnl_figure
from tests.conftest import api_client
from tests.factories import FIVE_TRADES, recorded_trade
from tests.unit.test_access import callback_body

SWITCH = "..risk-result.children...risk-tick.n_intervals...risk-reason.value.."


def pause(reason, button="risk-pause", ticks=3):
    return callback_body(
        SWITCH,
        [
            {"id": "risk-pause", "property": "n_clicks", "value": 1},
            {"id": "risk-resume", "property": "n_clicks", "value": None},
        ],
        [
            {"id": "risk-reason", "property": "value", "value": reason},
            {"id": "risk-tick", "property": "n_intervals", "value": ticks},
        ],
    ) | {"changedPropIds": [f"{button}.n_clicks"]}


def kill_switch(desk) -> bool:
    with desk.sessions() as session:
        return controls.load(session, desk.settings).kill_switch


@pytest.mark.parametrize("role", ["viewer", "trader"])
def test_only_an_admin_may_run_the_pause_callback(app, desk, role):
    r = api_client(app, role).post("/_dash-update-component", json=pause("drill"))
    assert r.status_code == 403 and "admin role" in r.json["error"]
    assert kill_switch(desk) is False


def test_an_admin_pauses_with_a_reason_and_is_refused_without_one(app, desk):
    admin = api_client(app, "admin")
    for bad in ("   ", "ok\u202e", "line one\nactor: someone else", "x" * 501):
        r = admin.post("/_dash-update-component", json=pause(bad))
        assert r.status_code == 200 and "Give a reason of 1 to 500 characters" in r.text
        assert kill_switch(desk) is False
    r = admin.post("/_dash-update-component", json=pause("bank outage"))
    assert r.status_code == 200 and "Trading paused." in r.text
    assert r.json["response"]["risk-reason"]["value"] == ""  # not the next change's reason
    assert kill_switch(desk) is True
    with desk.sessions() as session:
        change = controls.history(session, limit=1)[0]
    assert (change.actor, change.reason, change.new_value) == ("test-admin", "bank outage", "true")
    r = admin.post("/_dash-update-component", json=pause("again"))
    assert "already paused; nothing changed" in r.text and "risk-reason" not in r.json["response"]
    with desk.sessions() as session:
        assert len(controls.history(session, limit=10)) == 1


@pytest.mark.parametrize("ticks", [2**53, 2**70, -1])
def test_a_pause_whose_answer_could_not_be_sent_is_refused_before_it_changes_anything(
    app, desk, ticks
):
    """The callback answers the tick count + 1: one Dash cannot send back (past 2**53)
    is a 400 before the switch moves, not a 500 after it moved."""
    r = api_client(app, "admin").post("/_dash-update-component", json=pause("drill", ticks=ticks))
    assert r.status_code == 400 and "n_intervals" in r.text
    assert kill_switch(desk) is False


@pytest.mark.parametrize("trigger", ["{bad.n_clicks", '{"type": 1.n_clicks', "{"])
def test_a_trigger_dash_cannot_read_is_a_400(app, desk, trigger):
    body = pause("drill") | {"changedPropIds": [trigger]}
    r = api_client(app, "admin").post("/_dash-update-component", json=body)
    assert r.status_code == 400 and "changedPropIds" in r.text
    assert kill_switch(desk) is False


def reprice_body(app, pending, size="100"):
    key = next(k for k in app.extensions["dash"].callback_map if "legs-grid.rowData" in k)
    return callback_body(
        key,
        [
            {"id": "execute-size", "property": "value", "value": size},
            {"id": "execute-pending", "property": "data", "value": pending},
            {"id": "execute-recheck", "property": "n_intervals", "value": 1},
        ],
        [
            {"id": "execute-trade", "property": "data", "value": None},
            {"id": "execute-modal", "property": "is_open", "value": True},
        ],
    )


@pytest.mark.parametrize("opportunity_id", [2**70, 0, -5])
def test_the_dialog_reprices_no_opportunity_a_page_could_not_show(app, desk, opportunity_id):
    pending = {"opportunity_id": opportunity_id, "key": "k"}
    r = api_client(app, "trader").post("/_dash-update-component", json=reprice_body(app, pending))
    assert r.status_code == 400 and "opportunity" in r.text


@pytest.mark.parametrize(
    "lang,typed,says",
    [
        ("es", "50,5", "50,50 USD"),
        ("es", "1.250,50", "1.250,50 USD"),
        ("en", "1,250.50", "1,250.50 USD"),
        ("en", "50,5", "Type the size like 1,250.50."),
        ("es", "50,555", "Escriba el monto así: 1.250,50."),
    ],
)
def test_the_dialog_reads_the_size_in_the_readers_marks_and_shows_what_it_read(
    app, desk, opportunity, lang, typed, says
):
    pending = {"opportunity_id": opportunity.id, "key": "k"}
    r = api_client(app, "trader").post(
        "/_dash-update-component",
        json=reprice_body(app, pending, typed),
        headers={"Accept-Language": lang},
    )
    assert r.status_code == 200 and says in r.text


def test_an_open_dialog_sees_its_opportunity_go_and_the_kill_switch_and_disables_confirm(
    app, desk, opportunity
):
    """The dialog re-prices every 2 s while open: a row the scan has since expired, or a
    switch an admin has since pulled, no longer looks confirmable."""
    trader = api_client(app, "trader")
    body = reprice_body(app, {"opportunity_id": opportunity.id, "key": "k"})
    r = trader.post("/_dash-update-component", json=body)
    confirm = r.json["response"]["execute-confirm"]["disabled"]
    assert "execute-gone" not in r.text and confirm is False
    with desk.sessions.begin() as session:
        controls.pause(session, True, actor="test-admin", now=desk.now(), reason="drill")
    r = trader.post("/_dash-update-component", json=body)
    assert "execute-refusals" in r.text and r.json["response"]["execute-confirm"]["disabled"]
    with desk.sessions.begin() as session:
        session.get(Opportunity, opportunity.id).status = "expired"
    r = trader.post("/_dash-update-component", json=body)
    assert "execute-gone" in r.text and "the books moved" in r.text
    assert r.json["response"]["execute-confirm"]["disabled"] is True


def grid_request(start, end, sort=None, args=None):
    return callback_body(
        "trades-grid.getRowsResponse",
        [
            {
                "id": "trades-grid",
                "property": "getRowsRequest",
                "value": {"startRow": start, "endRow": end, "sortModel": sort or []},
            }
        ],
        [{"id": "trades-filter", "property": "data", "value": args or {}}],
    )


def test_the_grid_gets_one_block_sorted_and_filtered_on_the_server(app, desk):
    with desk.sessions.begin() as session:
        for spec in FIVE_TRADES:
            recorded_trade(session, **spec)
    viewer = api_client(app, "viewer")
    r = viewer.post(
        "/_dash-update-component",
        json=grid_request(0, 2, [{"colId": "size_usd", "sort": "asc"}], {"status": "filled"}),
    )
    block = r.json["response"]["trades-grid"]["getRowsResponse"]
    assert [row["id"] for row in block["rowData"]] == [4, 1]  # 300 then 500 USD
    assert "rowCount" not in block  # a full block: more may follow
    r = viewer.post("/_dash-update-component", json=grid_request(2, 4, args={"status": "filled"}))
    assert r.json["response"]["trades-grid"]["getRowsResponse"]["rowCount"] == 3


@pytest.mark.parametrize(
    "start,end,sort",
    [
        (0, 100_000, None),
        (-5, 10, None),
        ("0", 10, None),
        (0, 10, [{"colId": "password_hash", "sort": "asc"}]),
        (0, 10, "id"),
    ],
)
def test_a_grid_request_no_grid_would_send_is_a_400(app, start, end, sort):
    r = api_client(app, "viewer").post(
        "/_dash-update-component", json=grid_request(start, end, sort)
    )
    assert r.status_code == 400


@pytest.mark.parametrize("request_value,status", [(None, 204), ("rows please", 400), ([], 400)])
def test_the_grids_call_at_page_load_is_no_error_but_a_malformed_request_is(
    app, request_value, status
):
    """Dash calls the block callback at page load, before the grid asked for rows: that
    None is "nothing yet" (no update), not a malformed request (a 400 in the console)."""
    body = grid_request(0, 1)
    body["inputs"][0]["value"] = request_value
    r = api_client(app, "viewer").post("/_dash-update-component", json=body)
    assert r.status_code == status


def test_the_risk_page_shows_todays_use_of_the_daily_limits_and_each_account(app, desk):
    with desk.sessions.begin() as session:
        recorded_trade(session, at=desk.now(), size="1250", profit="-3.40")
    body = callback_body(
        "..risk-switch.children...risk-limits.children...risk-balances.children..."
        "risk-history.rowData..",
        [{"id": "risk-tick", "property": "n_intervals", "value": 1}],
    )
    r = api_client(app, "viewer").post("/_dash-update-component", json=body)
    text = r.get_data(as_text=True)
    assert "1,250.00 USD of 250,000.00 USD" in text  # traded today / MAX_DAILY_NOTIONAL_USD
    assert "3.40 USD of 500.00 USD" in text  # the day's loss / MAX_DAILY_LOSS_USD
    assert "binance:USDT" in text and "50,000.00 USDT" in text  # the seeded wallet


def rates_body(size):
    return callback_body(
        "..rates-grid.rowData...rates-message.children..",
        [
            {"id": "rates-size", "property": "value", "value": size},
            {"id": "rates-tick", "property": "n_intervals", "value": 1},
        ],
    )


def test_the_rates_board_lists_every_corridor_and_refuses_an_unoffered_size(app, desk):
    viewer = api_client(app, "viewer")
    r = viewer.post("/_dash-update-component", json=rates_body("500"))
    rows = r.json["response"]["rates-grid"]["rowData"]
    # written as the client message writes them (COP → VES); the API keeps COP->VES
    assert [row["corridor"] for row in rows] == [
        c.replace("->", " → ") for c in desk.settings.corridors
    ]
    assert {row["state_class"] for row in rows} == {"stale"}  # no books ingested here
    message = r.json["response"]["rates-message"]["children"]
    assert message.startswith("Ahora no podemos cotizar")  # nothing live to quote
    for size in ("501", "1e3", 500):
        assert viewer.post("/_dash-update-component", json=rates_body(size)).status_code == 400


def test_the_status_filter_offers_every_trade_status_each_with_a_translated_label():
    from backend.trading import trades
    from dashboard.pages import trades as page

    assert [o["value"] for o in page.status_options()] == list(trades.STATUSES)
    assert set(page.STATUS_LABELS) == set(trades.STATUSES)  # a new status needs its label


def test_the_grid_sorts_by_user_strategy_and_status_on_the_server(app, desk):
    from dashboard.pages import trades as page

    sortable = {c["field"] for c in page._columns() if c["sortable"]}
    assert {"requested_by", "strategy", "status"} <= sortable
    with desk.sessions.begin() as session:
        for spec in FIVE_TRADES:
            recorded_trade(session, **spec)
    viewer = api_client(app, "viewer")
    for column, expected in (
        ("requested_by", [4, 1, 3, 2, 5]),  # =cmd, ana, ana, ben, ben (ties: lower id first)
        ("status", [5, 1, 2, 4, 3]),
    ):
        r = viewer.post(
            "/_dash-update-component", json=grid_request(0, 10, [{"colId": column, "sort": "asc"}])
        )
        assert [
            row["id"] for row in r.json["response"]["trades-grid"]["getRowsResponse"]["rowData"]
        ] == expected


def page_json(app, pathname: str, search: str = "", lang: str = "en") -> str:
    """A page's layout as Dash's router answers it to a viewer."""
    body = callback_body(
        ".._pages_content.children..._pages_store.data..",
        [
            {"id": "_pages_location", "property": "pathname", "value": pathname},
            {"id": "_pages_location", "property": "search", "value": search},
        ],
    )
    r = api_client(app, "viewer").post(
        "/_dash-update-component", json=body, headers={"Accept-Language": lang}
    )
    assert r.status_code == 200, r.text[:300]
    return r.get_data(as_text=True)


def trades_page(app, search: str, lang: str = "en") -> str:
    return page_json(app, "/trades", search, lang)


def component(node: object, wanted: str) -> dict | None:
    """The component with id ``wanted`` in a layout's JSON (depth first), or None."""
    if isinstance(node, dict):
        if node.get("props", {}).get("id") == wanted:
            return node
        node = list(node.values())
    for child in node if isinstance(node, list) else ():
        if (found := component(child, wanted)) is not None:
            return found
    return None


def test_a_link_to_one_trade_opens_the_trades_page_on_its_detail(app, desk):
    with desk.sessions.begin() as session:
        for spec in FIVE_TRADES:
            recorded_trade(session, **spec)
    page = trades_page(app, "?trade=4")
    assert "trade-detail" in page and "Trade #4" in page
    assert "BTC\\u002fVES" in page and "BTC\\u002fUSDT spot" in page  # its legs, named
    assert "trade-detail" not in trades_page(app, "")  # no link: no detail yet


def test_a_trades_legs_and_trail_read_in_the_readers_words(app, desk):
    """As the rest of the desk names them: no wire codes (p2p:USDT/VES, SELL, filled)."""
    with desk.sessions.begin() as session:
        trade = recorded_trade(session, **FIVE_TRADES[0])
        session.add(
            TradeEvent(trade_id=trade.id, at=trade.created_at, from_status="queued",
                       to_status="filled", detail=None, actor="worker")
        )  # fmt: skip
    import json

    page = json.loads(trades_page(app, f"?trade={trade.id}", lang="es"))
    detail = json.dumps(component(page, "trade-detail"), separators=(",", ":"))
    assert "Operaci" in detail  # the detail itself
    for code in ('n":"p2p:', 'n":"spot:', 'n":"SELL"', 'n":"BUY"'):  # a cell's text
        assert code not in detail, code  # ledger accounts keep their names (market:p2p:…)
    assert "vender USDT" in detail or "comprar USDT" in detail
    assert "en cola \\u2192 completada" in detail


@pytest.mark.parametrize(
    "search,says",
    [
        ("?trade=99", "Trade 99 does not exist"),
        ("?trade=abc", "is not a trade number"),
        ("?trade=0", "is not a trade number"),
        ("?trade=-1", "is not a trade number"),
        ("?trade=99999999999999999999", "is not a trade number"),
        ("?trade=1&trade=2", "is not a trade number"),
        ("?trade=%C2%B2", "is not a trade number"),  # a digit to str.isdigit, not to int
    ],
)
def test_a_link_to_a_trade_that_cannot_be_shown_says_why(app, desk, search, says):
    page = trades_page(app, search)
    assert says in page and 'trade-detail"' not in page


def test_one_trade_is_a_point_in_a_span_plotly_can_label(app):
    at = datetime(2026, 11, 28, 17, 42, 55, tzinfo=UTC)
    with app.test_request_context():
        fig = pnl_figure([(at, Decimal("13.01"))])
        two = pnl_figure([(at, Decimal("1")), (at.replace(hour=18), Decimal("2"))])
    assert fig.data[0].mode == "markers" and two.data[0].mode == "lines"
    assert [str(x)[:16] for x in fig.layout.xaxis.range] == ["2026-11-28 16:42", "2026-11-28 18:42"]


def test_time_axes_name_no_english_month_in_spanish(app):
    """Plotly writes "Nov 29, 2026" whatever the page's language: Spanish gets digits."""
    from backend.market.book import Market
    from dashboard.pages.market import candle_figure

    at = datetime(2026, 11, 28, 17, 42, 55, tzinfo=UTC)
    for language, expected in (("es", "%H:%M<br>%d/%m/%Y"), ("en", None)):
        with app.test_request_context(headers={"Accept-Language": language}):
            pnl = pnl_figure([(at, Decimal("1"))])
            candles = candle_figure([], Market.parse("p2p:USDT/VES"))
        assert pnl.layout.xaxis.tickformat == expected, language
        assert candles["layout"]["xaxis"].get("tickformat") == expected, language


def test_a_refusal_names_the_role_in_the_readers_language(app):
    from dashboard.components.stranded_actions import why_not_close
    from dashboard.pages.opportunities import why_not

    with app.test_request_context(headers={"Accept-Language": "es"}):
        assert why_not("viewer", False).endswith("su rol es observador.")
        assert why_not_close("trader").endswith("su rol es operador.")


def test_the_control_history_names_each_control_and_shows_its_values_with_units(app, desk):
    admin = api_client(app, "admin")
    for body in (
        {"max_trade_usd": "900", "reason": "smaller tickets"},
        {"floor:bank:Banesco:VES": "250000", "reason": "keep for payroll"},
        {"kill_switch": True, "reason": "bank outage"},
    ):
        assert admin.post("/api/v1/controls", json=body).status_code == 200
    margin = {"corridor": "COP->VES", "margin": "0.03", "reason": "Monday"}
    assert admin.post("/api/v1/rates/margins", json=margin).status_code == 200
    body = callback_body(
        "..risk-switch.children...risk-limits.children...risk-balances.children..."
        "risk-history.rowData..",
        [{"id": "risk-tick", "property": "n_intervals", "value": 1}],
    )
    rows = api_client(app, "viewer").post("/_dash-update-component", json=body).json
    history = rows["response"]["risk-history"]["rowData"]
    assert [(r["key"], r["old"], r["new"]) for r in history] == [
        ("Margin on COP → VES", "", "3.00 %"),
        ("Kill switch", "Trading active", "Trading paused"),
        ("Floor of bank:Banesco:VES", "", "250,000.00 VES"),
        ("Maximum trade size", "10,000.00 USD", "900.00 USD"),
    ]
    spanish = api_client(app, "viewer").post(
        "/_dash-update-component", json=body, headers={"Accept-Language": "es"}
    )
    assert spanish.json["response"]["risk-history"]["rowData"][0]["key"] == "Margen en COP → VES"
