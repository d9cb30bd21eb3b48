"""Trades as a person uses it: find trades by filter in a history larger than one block,
open one to read its legs and audit trail, and download the filtered CSV."""

from __future__ import annotations

import csv
import io
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from backend.config import Settings
from backend.desk import Desk
from backend.models import TradeEvent
from tasks import heartbeat
from tests.browser.conftest import csp_violations, grid_rows, login, screenshot
from tests.browser.test_trader_flow import wait_until
from tests.conftest import web_only
from tests.factories import _at, recorded_trade

HISTORY = 260  # more than two of the grid's 100-row blocks


def loaded_ids(browser) -> list[str]:
    """Ids of the rows the grid holds (rendered or not), in grid order."""
    return browser.execute_script(
        "const ids = []; dash_ag_grid.getApi('trades-grid').forEachNode("
        "node => { if (node.data) ids.push(String(node.data.id)); }); return ids;"
    )


@pytest.fixture(scope="module")
def history_desk(tmp_path_factory):
    home = tmp_path_factory.mktemp("trades-desk")
    with web_only(home, users=[("viewer", "viewer")]) as (url, _tokens):
        desk = Desk(Settings(_env_file=None, database_url=f"sqlite:///{home / 'desk.sqlite3'}"))
        start = _at("2026-11-20 08:00")
        with desk.sessions.begin() as session:
            for i in range(HISTORY):
                trade = recorded_trade(
                    session,
                    at=start + timedelta(minutes=30 * i),
                    user="carla" if i % 13 == 0 else "ana",
                    status="rejected" if i % 10 == 9 else "filled",
                    profit=None if i % 10 == 9 else f"{i % 7}.25",
                )
                life = [
                    (None, "requested", trade.requested_by, "requested by " + trade.requested_by)
                ]
                life += [("requested", "queued", "outbox", "sent to the trading queue")]
                life += [("queued", "executing", "worker", "claimed by worker-1")]
                life += [
                    ("executing", "filled", "worker", f"paper fill, profit {trade.profit_usd} USD")
                    if trade.status == "filled"
                    else ("executing", "rejected", "worker", "daily notional limit reached")
                ]
                for step, (was, now, actor, detail) in enumerate(life):
                    session.add(
                        TradeEvent(
                            trade_id=trade.id,
                            at=trade.created_at + timedelta(milliseconds=40 * step),
                            from_status=was,
                            to_status=now,
                            detail=detail,
                            actor=actor,
                        )
                    )
        yield url, desk.sessions


def test_a_viewer_finds_trades_by_user_reads_one_and_downloads_the_csv(browser, history_desk):
    url, sessions = history_desk
    login(browser, url, "viewer", path="/trades")
    wait_until(
        browser,
        20,
        lambda b: len(list(grid_rows(b, "trades-grid").values())) >= 10,
        "the first rows",
    )
    assert grid_rows(browser, "trades-grid")["0"]["id"] == str(HISTORY)  # newest first
    wait_until(
        browser, 10, lambda b: "260" in b.find_element(By.ID, "trades-sums").text, "the totals"
    )

    user = browser.find_element(By.ID, "trades-user")
    user.send_keys("carla", Keys.ENTER)
    carla = [str(i + 1) for i in range(HISTORY) if i % 13 == 0][::-1]  # 20 trades
    wait_until(
        browser,
        15,
        lambda b: loaded_ids(b) == carla,
        "only carla's 20 trades",
    )
    assert browser.find_element(By.ID, "trades-sums").text.startswith("20 ")

    browser.find_element(By.CSS_SELECTOR, "#trades-grid .ag-row[row-index='0'] .ag-cell").click()
    detail = wait_until(
        browser, 10, lambda b: b.find_elements(By.ID, "trade-detail"), "the trade's detail"
    )[0]
    assert f"#{carla[0]}" in detail.text and "Banesco" in detail.text
    assert "carla" in browser.find_element(By.ID, "trade-events").text
    wait_until(  # below the grid, out of a laptop's window: scrolled into view
        browser,
        10,
        lambda b: b.execute_script(
            "const r = document.getElementById('trades-detail').getBoundingClientRect();"
            "return r.top > -2 && r.top < window.innerHeight / 2;"  # at the top, to a sub-pixel
        ),
        "the detail scrolled into view",
    )
    browser.execute_script("window.scrollTo(0, 0)")
    if os.environ.get("DESK_SCREENSHOTS"):  # no worker here: stand in for its heartbeat,
        with sessions.begin() as session:  # so the picture shows the page, not the banner
            heartbeat.record(session, datetime.now(UTC))
        time.sleep(5.5)  # the health banner's next refresh
        screenshot(browser, "trades")

    href = browser.find_element(By.ID, "trades-csv").get_attribute("href")
    assert "user=carla" in href
    text = browser.execute_async_script(  # the link, fetched with the browser's session
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => r.text()).then(done);",
        href,
    )
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["Trade", "Requested at (UTC)", "Requested by"]
    assert [r[0] for r in rows[1:]] == carla
    assert {r[2] for r in rows[1:]} == {"carla"}
    assert csp_violations(browser) == []


def test_the_grid_never_receives_more_than_a_block_of_rows(browser, history_desk):
    login(browser, history_desk[0], "viewer", path="/trades")
    wait_until(
        browser,
        20,
        lambda b: len(list(grid_rows(b, "trades-grid").values())) >= 10,
        "the first rows",
    )
    assert 0 < len(loaded_ids(browser)) <= 100  # one block of the 260, not the history


def test_in_spanish_the_grid_totals_and_csv_speak_spanish(browser, history_desk):
    url, _sessions = history_desk
    login(browser, url, "viewer", path="/trades")
    browser.find_element(By.ID, "locale-es").click()
    wait_until(browser, 15, lambda b: b.find_element(By.TAG_NAME, "h1").text == "Operaciones", "ES")
    try:
        headers = browser.find_element(By.CSS_SELECTOR, "#trades-grid .ag-header").text
        assert "Solicitada (UTC)" in headers and "Ganancia" in headers
        wait_until(
            browser,
            10,
            lambda b: b.find_element(By.ID, "trades-sums").text.startswith("260 operaciones"),
            "the totals in Spanish",
        )
        sums = browser.find_element(By.ID, "trades-sums").text
        assert "234 realizadas: tamaño 117.000,00 USD" in sums, sums  # 234 filled × 500
        text = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0]).then(r => r.text()).then(done);",
            browser.find_element(By.ID, "trades-csv").get_attribute("href"),
        )
        assert text.splitlines()[0].startswith("Operación,Solicitada el (UTC),Solicitada por")
    finally:
        browser.find_element(By.ID, "locale-en").click()  # the choice sticks to the user
        wait_until(browser, 15, lambda b: b.find_element(By.TAG_NAME, "h1").text == "Trades", "EN")


def test_a_trader_confirms_the_operator_ticket_pinned_on_top(browser, tmp_path):
    from decimal import Decimal

    from backend import seed
    from backend.models import OperatorTicket, Opportunity
    from backend.trading import tickets
    from backend.trading.venues import LegOrder
    from tests.unit.test_tickets import FEES, SELL_USDT, ves_book

    with web_only(tmp_path, users=[("tina", "trader")]) as (url, _tokens):
        settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'desk.sqlite3'}")
        desk = Desk(settings)
        with desk.sessions.begin() as session:
            seed.seed(
                session, settings, datetime.now(UTC)
            )  # the house's wallets: the ticket releases USDT
            trade = recorded_trade(
                session, at=datetime.now(UTC), status=tickets.AWAITING, profit=None, markets=()
            )
            session.get(Opportunity, trade.opportunity_id).legs = [  # sell USDT, buy it back
                {"market": "p2p:USDT/VES", "side": "SELL", "method": "Mercantil", "src": "USDT",
                 "dst": "VES"},
                {"market": "p2p:USDT/VES", "side": "BUY", "method": "Banesco", "src": "VES",
                 "dst": "USDT"},
            ]  # fmt: skip
            order = LegOrder(trade.id, 1, SELL_USDT, Decimal("500"))
            ticket_id = tickets.open_ticket(
                session, order, ves_book(), FEES, datetime.now(UTC), None
            ).ticket_id
        login(browser, url, "tina", path="/trades")
        pinned = wait_until(
            browser, 15, lambda b: b.find_elements(By.ID, "tickets-open"), "the pinned ticket"
        )[0]
        assert "CambiosRich" in pinned.text and "release" in pinned.text

        def field(kind):
            return browser.find_element(By.XPATH, f"//input[contains(@id, '\"{kind}\"')]")

        field("ticket-sold").send_keys("500")
        field("ticket-bought").send_keys("164800")
        field("ticket-reference").send_keys("BN-42")
        browser.find_element(By.XPATH, "//button[contains(@id, '\"ticket-confirm\"')]").click()
        wait_until(browser, 15, lambda b: b.find_elements(By.ID, "tickets-done"), "confirmed")
        with desk.sessions() as session:
            ticket = session.get(OperatorTicket, ticket_id)
            assert (ticket.status, ticket.reference, ticket.closed_by) == (
                "confirmed",
                "BN-42",
                "tina",
            )
        assert not browser.find_elements(By.ID, "tickets-open")  # nothing left to confirm
        assert csp_violations(browser) == []


def overflow(browser, element_id: str) -> dict:
    """How far the element's scroll box and the page run past what they show (px)."""
    return browser.execute_script(
        "const e = document.getElementById(arguments[0]);"
        "const box = e.parentElement;"  # the table's scroll wrapper
        "const detail = document.getElementById('trade-detail').getBoundingClientRect();"
        "return {box: box.scrollWidth - box.clientWidth,"
        " table: e.getBoundingClientRect().right - detail.right,"
        " page: document.documentElement.scrollWidth - window.innerWidth};",
        element_id,
    )


def test_a_linked_trade_follows_its_status_and_its_legs_fit_the_window(browser, tmp_path):
    from decimal import Decimal

    from sqlalchemy import update

    from backend.models import Trade

    with web_only(tmp_path, users=[("viewer", "viewer")]) as (url, _tokens):
        desk = Desk(Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'desk.sqlite3'}"))
        with desk.sessions.begin() as session:
            trade_id = recorded_trade(
                session, at=datetime.now(UTC), status="queued", profit=None, size="10000"
            ).id
        login(browser, url, "viewer", path=f"/trades?trade={trade_id}")

        def badge(b):
            found = b.find_elements(By.CSS_SELECTOR, "#trade-detail .badge")
            return found[0].text if found else None

        wait_until(browser, 15, lambda b: badge(b) == "queued", "the linked trade, queued")
        with desk.sessions.begin() as session:  # the worker fills it meanwhile
            session.execute(
                update(Trade)
                .where(Trade.id == trade_id)
                .values(status="filled", profit_usd=Decimal("12.5"), updated_at=datetime.now(UTC))
            )
        wait_until(browser, 10, lambda b: badge(b) == "filled", "the detail following to filled")
        assert "12.50 USD" in browser.find_element(By.ID, "trade-detail").text
        try:
            for width in (1366, 390):
                browser.set_window_size(width, 900)
                time.sleep(0.5)
                seen = overflow(browser, "trade-legs")
                assert seen["box"] <= 0 and seen["table"] <= 1, f"{width} px: {seen}"
                assert seen["page"] <= 0, f"the page is wider than {width} px: {seen}"
        finally:
            browser.set_window_size(1440, 900)
