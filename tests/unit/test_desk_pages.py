"""The callbacks behind Trades, Rates and Risk, posted as Dash's renderer posts them:
roles are checked on the server, a grid's request is validated, and a kill switch change
needs a reason."""

from __future__ import annotations

import pytest

from backend.trading import controls
from tests.conftest import api_client
from tests.factories import FIVE_TRADES, recorded_trade
from tests.unit.test_access import callback_body

SWITCH = "..risk-result.children...risk-tick.n_intervals.."


def pause(reason, button="risk-pause"):
    return callback_body(
        SWITCH,
        [
            {"id": "risk-pause", "property": "n_clicks", "value": 1},
            {"id": "risk-resume", "property": "n_clicks", "value": None},
        ],
        [
            {"id": "risk-reason", "property": "value", "value": reason},
            {"id": "risk-tick", "property": "n_intervals", "value": 3},
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
    r = admin.post("/_dash-update-component", json=pause("   "))
    assert r.status_code == 200 and "Say why" in r.text
    assert kill_switch(desk) is False
    r = admin.post("/_dash-update-component", json=pause("bank outage"))
    assert r.status_code == 200 and "Trading paused." in r.text
    assert kill_switch(desk) is True
    with desk.sessions() as session:
        change = controls.history(session, limit=1)[0]
    assert (change.actor, change.reason, change.new_value) == ("test-admin", "bank outage", "true")


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
    assert [row["corridor"] for row in rows] == desk.settings.corridors
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
