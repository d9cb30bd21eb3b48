"""The ledger: fills post balanced entries, balances are their sums, admins move money
with a reason, and ``ledger check`` names every mismatch."""

from decimal import Decimal

from sqlalchemy import select, update

from backend.models import Account, JournalEntry, Posting, Trade
from backend.trading import executor, ledger, trade_days
from backend.trading.execution import Leg, LegFill
from tests.conftest import api_client

D = Decimal
SEEDED = D("50000")  # the embedded demo's paper USDT


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def fill(client, desk, opportunity, size="1000", key="ledger-1"):
    r = client.post(
        "/api/v1/trades",
        json={"opportunity_id": opportunity.id, "size": size},
        headers={"Idempotency-Key": key},
    )
    status = executor.execute(desk.sessions, desk.cache, desk.settings, r.json["id"], desk.now)
    return r.json["id"], status


def postings(desk, trade_id):
    with desk.sessions() as session:
        rows = session.execute(
            select(Posting.account, Posting.amount)
            .where(Posting.trade_id == trade_id)
            .order_by(Posting.id)
        )
        return [(account, amount) for account, amount in rows]


def test_a_fill_posts_every_leg_fee_and_transfer_and_moves_balances_by_the_profit(
    client, desk, opportunity
):
    """Sell 1000 USDT at 330 (Mercantil), move the bolívares to Banesco (0.05 %), buy at
    320; the paper slippage is 0.05 % of each leg's proceeds, the P2P taker fee 0."""
    trade_id, status = fill(client, desk, opportunity)
    assert status == "filled"
    got = postings(desk, trade_id)
    # leg 1: 1000 x 330 = 330000.00 VES, less 0.05 % slippage = 329835.00
    # transfer Mercantil -> Banesco: 0.05 % = 164.9175, rounded up to 164.92
    # leg 2: 329670.08 / 320 = 1030.219 USDT, settled 1030.21, less slippage 1029.69
    assert got == [
        ("binance:USDT", D("-1000")),
        ("market:p2p:USDT/VES:USDT", D("1000")),
        ("market:p2p:USDT/VES:VES", D("-329835.00")),
        ("bank:Mercantil:VES", D("329835.00")),
        ("bank:Mercantil:VES", D("-329835.00")),
        ("fees:transfer:VES", D("164.92")),
        ("bank:Banesco:VES", D("329670.08")),
        ("bank:Banesco:VES", D("-329670.08")),
        ("market:p2p:USDT/VES:VES", D("329670.08")),
        ("market:p2p:USDT/VES:USDT", D("-1029.69")),
        ("binance:USDT", D("1029.69")),
    ]
    with desk.sessions() as session:
        assert session.get(Trade, trade_id).profit_usd == D("29.69")
        assert ledger.house_balances(session) == {
            "bank:Banesco:VES": D("0"),
            "bank:Mercantil:VES": D("0"),
            "binance:USDT": SEEDED + D("29.69"),
            "binance:spot:USDT": SEEDED,
        }
        assert ledger.check(session) + trade_days.drift(session) == []


def test_a_trade_larger_than_the_balance_is_refused_for_balance(app, client, desk, opportunity):
    assert run(app, "balances", "withdraw", "binance:USDT", "49900", "--reason", "t").exit_code == 0
    trade_id, status = fill(client, desk, opportunity, size="1000")
    assert status == "rejected"
    error = client.get(f"/api/v1/trades/{trade_id}").json["error"]
    assert error == (
        "insufficient balance: binance:USDT holds 100 USDT, the trade pays 1000 from it (floor 0)"
    )
    assert postings(desk, trade_id) == []


def test_a_floor_keeps_part_of_the_balance_out_of_reach(app, client, desk, opportunity):
    r = run(app, "controls", "set", "floor:binance:USDT", "49500", "--reason", "reserve")
    assert r.exit_code == 0, r.output
    _, status = fill(client, desk, opportunity, size="500", key="at-floor")
    assert status == "filled"  # 50000 - 500 = 49500 after the first leg: exactly the floor
    trade_id, status = fill(client, desk, opportunity, size="600", key="below-floor")
    assert status == "rejected"  # 50014.84 (the first trade's USDT came back) - 600 < 49500
    assert client.get(f"/api/v1/trades/{trade_id}").json["error"] == (
        "insufficient balance: binance:USDT holds 50014.84 USDT, the trade pays 600 "
        "from it (floor 49500)"
    )


def test_admin_moves_are_entries_with_who_and_why(app, desk):
    assert (
        run(app, "balances", "deposit", "bank:Banesco:VES", "1000.50", "--reason", "seed").exit_code
        == 0
    )
    assert (
        run(app, "balances", "adjust", "bank:Banesco:VES", "-0.50", "--reason", "fee").exit_code
        == 0
    )
    refused = run(app, "balances", "withdraw", "bank:Banesco:VES", "1000.01", "--reason", "x")
    assert refused.exit_code != 0 and "holds 1000; cannot take out 1000.01" in refused.output
    bad = run(app, "balances", "deposit", "Banesco", "5", "--reason", "x")
    assert bad.exit_code != 0 and "not binance:<CUR>, binance:spot:<CUR> or bank:" in bad.output
    assert run(app, "balances", "deposit", "binance:USDT", "1e5", "--reason", "x").exit_code != 0
    shown = run(app, "balances", "show").output
    assert "bank:Banesco:VES" in shown and " 1000 VES" in shown
    with desk.sessions() as session:
        entries = session.scalars(select(JournalEntry).order_by(JournalEntry.id)).all()
        assert [(e.kind, e.reason) for e in entries][-2:] == [
            ("deposit", "seed"),
            ("adjust", "fee"),
        ]
        assert entries[-1].actor.startswith("cli:")
        assert ledger.balances(session, {"equity:VES"}) == {"equity:VES": D("-1000.00")}


def test_ledger_check_names_each_mismatch_and_exits_non_zero(app, client, desk, opportunity):
    trade_id, _ = fill(client, desk, opportunity)
    ok = run(app, "ledger", "check")
    assert ok.exit_code == 0 and "ledger ok" in ok.output
    with desk.sessions.begin() as session:
        session.execute(update(Trade).where(Trade.id == trade_id).values(profit_usd=D("30")))
        first = session.scalars(select(Posting).where(Posting.trade_id == trade_id)).first()
        first.amount = D("-999")
        entry = first.entry_id
    bad = run(app, "ledger", "check")
    assert bad.exit_code == 1
    assert f"entry {entry}: USDT postings sum to 1, not 0" in bad.output
    assert f"trade {trade_id}: USDT postings sum to 1, not 0" in bad.output
    assert f"trade {trade_id}: profit 30 USD but its legs' cash flows sum to 29.69" in bad.output
    assert f"trade {trade_id}: profit 30 USD but its postings move 30.69 USDT" in bad.output
    # the profit was changed behind the application's back: the daily totals say so too
    assert "market=*" in bad.output and "the trades add up to [1, 1, " in bad.output


def test_ledger_check_names_a_shortfall_as_well_as_an_excess(app, client, desk, opportunity):
    trade_id, _ = fill(client, desk, opportunity)
    with desk.sessions.begin() as session:
        first = session.scalars(select(Posting).where(Posting.trade_id == trade_id)).first()
        first.amount -= 1
        entry = first.entry_id
    bad = run(app, "ledger", "check")
    assert bad.exit_code == 1
    assert f"entry {entry}: USDT postings sum to -1, not 0" in bad.output


def test_balances_are_read_by_viewers_and_moved_by_admins_only(app):
    viewer, trader, admin = (api_client(app, role) for role in ("viewer", "trader", "admin"))
    body = viewer.get("/api/v1/balances").json
    assert body == {
        "balances": [
            {"account": "binance:USDT", "currency": "USDT", "balance": "50000"},
            {"account": "binance:spot:USDT", "currency": "USDT", "balance": "50000"},
        ]
    }
    move = {"account": "binance:BTC", "amount": "0.5", "reason": "cold wallet"}
    assert trader.post("/api/v1/balances/deposit", json=move).status_code == 403
    r = admin.post("/api/v1/balances/deposit", json=move)
    assert r.status_code == 200
    assert {"account": "binance:BTC", "currency": "BTC", "balance": "0.5"} in r.json["balances"]
    r = admin.post("/api/v1/balances/withdraw", json={**move, "amount": "0.6"})
    assert r.status_code == 409 and "cannot take out 0.6" in r.json["error"]
    r = admin.post("/api/v1/balances/deposit", json={**move, "reason": ""})
    assert r.status_code == 422 and "reason" in r.json["error"]


def test_pause_and_resume_record_who_when_and_why(app, client, desk, opportunity):
    admin = api_client(app, "admin")
    r = admin.post("/api/v1/controls/pause", json={"reason": "bank outage"})
    assert r.status_code == 200 and r.json["controls"]["kill_switch"] == "true"
    assert r.json["history"][0]["actor"] == "test-admin"
    assert r.json["history"][0]["reason"] == "bank outage"
    _, status = fill(client, desk, opportunity)
    assert status == "rejected"
    assert admin.post("/api/v1/controls/pause", json={}).status_code == 400
    assert run(app, "controls", "resume", "--reason", "bank back").exit_code == 0
    history = admin.get("/api/v1/controls").json["history"]
    assert (history[0]["to"], history[0]["reason"]) == ("false", "bank back")
    assert client.post("/api/v1/controls/resume", json={"reason": "x"}).status_code == 403


def test_postings_of_every_entry_balance_per_currency():
    lines = ledger.deposit_lines("bank:Banesco:VES", D("10"))
    assert ledger.imbalances(lines) == {}
    assert ledger.imbalances([*lines, ledger.Line("binance:USDT", D("1"))]) == {"USDT": D("1")}


def test_proceeds_already_where_the_next_leg_pays_from_are_not_moved():
    """Sell at 330 and buy back at 320 through the same bank: no transfer postings."""
    sell = LegFill(
        Leg("p2p:USDT/VES", "SELL", "Banesco", "USDT", "VES"),
        D(330), D(100), D(33000), D(0), True,
    )  # fmt: skip
    buy = LegFill(
        Leg("p2p:USDT/VES", "BUY", "Banesco", "VES", "USDT"),
        D(320), D(33000), D("103.12"), D(0), True,
    )  # fmt: skip
    assert [(line.account, line.amount) for line in ledger.fill_lines([sell, buy])] == [
        ("binance:USDT", D(-100)),
        ("market:p2p:USDT/VES:USDT", D(100)),
        ("market:p2p:USDT/VES:VES", D(-33000)),
        ("bank:Banesco:VES", D(33000)),
        ("bank:Banesco:VES", D(-33000)),
        ("market:p2p:USDT/VES:VES", D(33000)),
        ("market:p2p:USDT/VES:USDT", D("-103.12")),
        ("binance:USDT", D("103.12")),
    ]


def test_an_admin_moves_money_between_the_wallets(app, desk):
    admin = api_client(app, "admin")
    move = {"from": "binance:spot:USDT", "to": "binance:USDT", "amount": "5000", "reason": "r"}
    r = admin.post("/api/v1/balances/transfer", json=move)
    assert r.status_code == 200
    assert [b["balance"] for b in r.json["balances"]] == ["55000", "45000"]
    r = admin.post("/api/v1/balances/transfer", json={**move, "amount": "45000.01"})
    assert r.status_code == 409 and "cannot take out 45000.01" in r.json["error"]
    r = admin.post("/api/v1/balances/transfer", json={**move, "to": "binance:BTC"})
    assert r.status_code == 409 and "one currency" in r.json["error"]
    r = admin.post("/api/v1/balances/transfer", json={**move, "to": "binance:spot:USDT"})
    assert r.status_code == 409 and "two different accounts" in r.json["error"]
    r = admin.post("/api/v1/balances/transfer", json={**move, "amount": "45000"})
    assert r.status_code == 200  # all it holds, to the cent
    assert [b["balance"] for b in r.json["balances"]] == ["100000", "0"]
    cli = run(
        app, "balances", "transfer", "binance:USDT", "binance:spot:USDT", "1", "--reason", "x"
    )
    assert cli.exit_code == 0, cli.output
    with desk.sessions() as session:
        assert ledger.balances(session, {"binance:USDT"}) == {"binance:USDT": D("99999")}


def test_a_withdrawal_may_take_all_an_account_holds_and_no_move_is_zero(app, desk):
    admin = api_client(app, "admin")
    move = {"account": "binance:USDT", "reason": "r"}

    def post(kind, amount):
        return admin.post(f"/api/v1/balances/{kind}", json={**move, "amount": amount})

    r = post("withdraw", "50000")
    assert r.status_code == 200
    assert r.json["balances"][0] == {"account": "binance:USDT", "currency": "USDT", "balance": "0"}
    assert post("withdraw", "0.01").status_code == 409
    for kind, amount, said in [
        ("deposit", "0", "a deposit takes an amount above zero"),
        ("withdraw", "-5", "a withdraw takes an amount above zero"),
        ("adjust", "0.00", "an adjustment of zero changes nothing"),
        ("deposit", "0." + "0" * 18 + "1", "is not a plain number"),  # 19 decimal places
    ]:
        r = post(kind, amount)
        assert r.status_code == 422 and said in r.json["error"], (kind, amount, r.json)
    with desk.sessions() as session:
        assert ledger.balances(session, {"binance:USDT"}) == {"binance:USDT": D("0")}


def test_the_spot_taker_fee_is_posted_to_the_spot_fees_and_the_bank_transfer_to_transfer_fees():
    """Sell 1000 USDT for 5550 BRL by PIX, move them to the spot wallet (2.78 transfer fee),
    buy 1017.83 USDT on spot and pay 1.02 of it as the spot taker fee."""
    sell = LegFill(
        Leg("p2p:USDT/BRL", "SELL", "PIX", "USDT", "BRL"),
        D("5.55"), D(1000), D("5547.22"), D("2.78"), True, transfer=D("2.78"),
    )  # fmt: skip
    buy = LegFill(
        Leg("spot:USDT/BRL", "BUY", None, "BRL", "USDT"),
        D("5.45"), D("5547.22"), D("1016.81"), D("1.02"), True,
    )  # fmt: skip
    assert [(line.account, line.amount) for line in ledger.fill_lines([sell, buy])] == [
        ("binance:USDT", D(-1000)),
        ("market:p2p:USDT/BRL:USDT", D(1000)),
        ("market:p2p:USDT/BRL:BRL", D("-5550.00")),
        ("bank:PIX:BRL", D("5550.00")),
        ("bank:PIX:BRL", D("-5550.00")),
        ("fees:transfer:BRL", D("2.78")),
        ("binance:spot:BRL", D("5547.22")),
        ("binance:spot:BRL", D("-5547.22")),
        ("market:spot:USDT/BRL:BRL", D("5547.22")),
        ("market:spot:USDT/BRL:USDT", D("-1017.83")),
        ("fees:spot:USDT", D("1.02")),
        ("binance:spot:USDT", D("1016.81")),
    ]


def test_the_largest_amount_the_api_takes_is_posted_and_added_up_to_its_last_place(app, desk):
    """30 digits (12 whole, 18 decimal places) are more than Decimal's default 28: the
    equity side and the sums must not round them, or an entry stops balancing."""
    admin = api_client(app, "admin")
    huge = "999999999999.999999999999999999"
    move = {"account": "binance:USDT", "amount": huge, "reason": "r"}
    r = admin.post("/api/v1/balances/deposit", json=move)
    assert r.status_code == 200, r.json
    with desk.sessions() as session:
        held = ledger.balances(session, {"binance:USDT"})
        assert held == {"binance:USDT": D("1000000049999.999999999999999999")}  # 50000 + huge
        amounts = session.scalars(select(Posting.amount).order_by(Posting.id.desc()).limit(2))
        assert sorted(amounts) == [D("-" + huge), D(huge)]
        assert ledger.check(session) == []
    r = admin.post("/api/v1/balances/withdraw", json=move | {"amount": huge})
    assert r.status_code == 200 and r.json["balances"][0]["balance"] == "50000"
    with desk.sessions() as session:
        assert ledger.check(session) == []


def test_every_accounts_balance_reads_as_when_asked_for_by_name(client, desk, opportunity):
    """``balances`` of every account and of the accounts named take two queries of their
    own on PostgreSQL; both are the postings' sums. The counterparty took 1000 USDT and
    gave 1029.69 back, 329835.00 VES and took 329670.08 (as the fill above)."""
    fill(client, desk, opportunity)
    with desk.sessions() as session:
        every = ledger.balances(session)
        assert every == ledger.balances(session, set(session.scalars(select(Account.name))))
    assert every["market:p2p:USDT/VES:USDT"] == D("-29.69")
    assert every["market:p2p:USDT/VES:VES"] == D("-164.92")
    assert every["binance:USDT"] == SEEDED + D("29.69")
