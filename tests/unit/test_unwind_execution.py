"""A trade stopped halfway, unwound by the executor on paper; the sweeper never forgets it."""

from datetime import timedelta
from decimal import Decimal as D

from sqlalchemy import select

from backend.market import latest
from backend.models import JournalEntry, LiquidityTake, Opportunity, Posting, Trade, TradeLeg
from backend.trading import executor, ledger, legs, trade_days, trades
from backend.trading.execution import Fees, Leg, LegFill, fill_leg, with_transfer
from backend.trading.quotes import fees_from
from backend.trading.unwind import Step


def stopped_after_leg_1(client, desk, opportunity, key="u1") -> int:
    """A trade whose first leg (sell 1000 USDT for VES via Mercantil) filled, then stopped."""
    r = client.post(
        "/api/v1/trades",
        json={"opportunity_id": opportunity.id, "size": "1000"},
        headers={"Idempotency-Key": key},
    )
    trade_id = r.json["id"]
    fees = fees_from(desk.settings)
    now = desk.now()
    with desk.sessions.begin() as session:
        cycle = [Leg.from_dict(d) for d in session.get(Opportunity, opportunity.id).legs]
        book = latest.get(session, desk.cache, cycle[0].market)
        assert trades.claim(session, trade_id, "w0", now, 30)
        fill = with_transfer(
            fill_leg(cycle[0], book, D("1000"), fees.taker(cycle[0])), cycle[1], fees
        )
        legs.store(session, trade_id, 1, fill, cycle[1], now, actor="worker")
        assert trades.transition(
            session, trade_id, ("executing",), "unwinding", now, "leg 2 refused",
            actor="worker", owner="w0", lease_until=None,
        )  # fmt: skip
    return trade_id


def test_on_paper_the_unwind_fills_on_the_books_records_its_takes_and_balances(
    client, desk, opportunity
):
    trade_id = stopped_after_leg_1(client, desk, opportunity)
    assert (
        executor.execute(desk.sessions, desk.cache, desk.settings, trade_id, desk.now) == "unwound"
    )
    with desk.sessions() as session:
        trade = session.get(Trade, trade_id)
        rows = session.scalars(select(TradeLeg).where(TradeLeg.trade_id == trade_id)).all()
        assert [(r.seq, r.side, r.method, r.sell_currency, r.buy_currency) for r in rows] == [
            (1, "SELL", "Mercantil", "USDT", "VES"),
            (3, "BUY", "Banesco", "VES", "USDT"),  # paid from where the VES sat
        ]
        assert rows[1].sell_amount == rows[0].buy_amount  # no move: already at Banesco
        assert trade.profit_usd == rows[1].buy_amount - D("1000") == legs.profit(rows)
        assert ledger.check(session) + trade_days.drift(session) == []
        takes = session.scalars(select(LiquidityTake).where(LiquidityTake.side == "BUY")).all()
        assert sum(t.quantity for t in takes) > 0  # the next scan sees the asks taken
        # the day's realized profit (the daily loss limit reads it) counts the unwind
        assert executor.today(session, desk.now()).profit_usd == trade.profit_usd


def test_the_sweeper_sends_unwinding_trades_at_any_age_and_stranded_ones_every_5_minutes(
    app, client, desk, opportunity, monkeypatch
):
    from backend.trading import outbox
    from tasks.trading import sweep

    old, fresh, stuck = (stopped_after_leg_1(client, desk, opportunity, k) for k in "abc")
    long_ago = desk.now() - timedelta(minutes=6)
    with desk.sessions.begin() as session:
        for trade_id in (fresh, stuck):
            assert trades.transition(
                session, trade_id, ("unwinding",), "stranded", desk.now(), "books stale",
                actor="worker",
            )  # fmt: skip
        session.get(Trade, old).updated_at = long_ago
        session.get(Trade, stuck).updated_at = long_ago
    sent = []
    monkeypatch.setattr(outbox, "send", lambda celery, trade_id: sent.append(trade_id) or True)
    with app.app_context():
        sweep.run()
    assert sorted(sent) == sorted([old, stuck])
    with desk.sessions() as session:
        assert session.get(Trade, old).status == "unwinding"  # never failed blind
        assert trades.stranded(session) == [fresh, stuck]


def test_a_reverse_leg_moves_its_proceeds_to_where_the_next_one_pays_at_the_transfer_fee(
    client, desk, opportunity
):
    trade_id = stopped_after_leg_1(client, desk, opportunity, "move")
    sell = Leg("p2p:USDT/VES", "SELL", "Mercantil", "USDT", "VES")
    buy = Leg("p2p:USDT/VES", "BUY", "Banesco", "VES", "USDT")
    # held at binance:USDT already (where it pays from): nothing moves before it
    step = Step(4, sell, D("100"), buy, (sell, buy), D("100"), "binance:USDT")
    fill = LegFill(sell, D("330"), D("100"), D("33000"), D("0"), True)
    with desk.sessions.begin() as session:
        before = ledger.balances(session, {"bank:Banesco:VES", "fees:transfer:VES"})
        legs.store_reverse(
            session, trade_id, step, fill, Fees(transfer=D("0.0005")), desk.now(), actor="w"
        )
    with desk.sessions() as session:
        after = ledger.balances(session, {"bank:Banesco:VES", "fees:transfer:VES"})
        assert after["bank:Banesco:VES"] - before.get("bank:Banesco:VES", 0) == D("32983.50")
        assert after["fees:transfer:VES"] - before.get("fees:transfer:VES", 0) == D("16.50")
        row = session.scalars(select(TradeLeg).where(TradeLeg.seq == 4)).one()
        assert (row.buy_amount, row.fee) == (D("32983.50"), D("16.50"))


def transfer_postings(client, desk, opportunity, step, fill) -> list[tuple]:
    """The transfer entry's postings when ``fill`` of reverse ``step`` is stored on a
    trade stopped after leg 1, smallest amount first."""
    trade_id = stopped_after_leg_1(client, desk, opportunity, f"move-{step.amount}")
    with desk.sessions.begin() as session:
        legs.store_reverse(session, trade_id, step, fill, Fees(), desk.now(), actor="w")
    with desk.sessions() as session:
        moved = session.execute(
            select(Posting.account, Posting.amount)
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .where(JournalEntry.trade_id == trade_id, JournalEntry.kind == "transfer")
            .order_by(Posting.amount)
        ).all()
    return [tuple(m) for m in moved]


def test_a_move_between_banks_without_a_transfer_fee_posts_no_zero_fee_line(
    client, desk, opportunity
):
    buy = Leg("p2p:USDT/VES", "BUY", "Banesco", "VES", "USDT")
    # held at Mercantil, paid from Banesco: it moves, and the fee of the move is zero
    step = Step(4, buy, D("33000"), None, (buy,), D("33000"), "bank:Mercantil:VES")
    fill = LegFill(buy, D("330"), D("33000"), D("100"), D("0"), True)
    assert transfer_postings(client, desk, opportunity, step, fill) == [
        ("bank:Mercantil:VES", D("-33000")),
        ("bank:Banesco:VES", D("33000")),
    ]


def test_a_stopped_trade_holding_only_dust_ends_unwound_and_names_it_never_stranded(
    client, desk, opportunity
):
    r = client.post(
        "/api/v1/trades",
        json={"opportunity_id": opportunity.id, "size": "1000"},
        headers={"Idempotency-Key": "dust"},
    )
    trade_id, now = r.json["id"], desk.now()
    sell = Leg("p2p:USDT/VES", "SELL", "Mercantil", "USDT", "VES")
    buy = Leg("p2p:USDT/VES", "BUY", "Banesco", "VES", "USDT")
    with desk.sessions.begin() as session:  # leg 1 landed 0.004 VES: under the cent
        assert trades.claim(session, trade_id, "w0", now, 30)
        fill = LegFill(sell, D("0.4"), D("0.01"), D("0.004"), D("0"), True)
        legs.store(session, trade_id, 1, fill, buy, now, actor="worker")
        assert trades.transition(
            session, trade_id, ("executing",), "unwinding", now, "leg 2 refused",
            actor="worker", owner="w0", lease_until=None,
        )  # fmt: skip
    assert executor.execute(desk.sessions, desk.cache, desk.settings, trade_id, desk.now) == (
        "unwound"
    )
    with desk.sessions() as session:
        trade = session.get(Trade, trade_id)
        assert trade.profit_usd == D("-0.01")
        last = trades.events(session, trade_id)[-1]
        assert last.detail == (
            "unwound back to USDT, profit -0.01 USD; dust 0.004 VES left at bank:Banesco:VES"
        )
        assert ledger.check(session) + trade_days.drift(session) == []


def test_a_paper_unwind_leg_pays_the_taker_fee_and_the_paper_slippage(client, desk, opportunity):
    """The reverse leg costs what a forward leg would (P2P takers pay no fee on Binance):
    its exact amounts, recomputed."""
    assert desk.settings.paper_slippage > 0
    trade_id = stopped_after_leg_1(client, desk, opportunity)
    with desk.sessions() as session:  # the books the unwind will walk
        first = session.scalars(select(TradeLeg).where(TradeLeg.trade_id == trade_id)).one()
        reverse = Leg("p2p:USDT/VES", "BUY", "Banesco", "VES", "USDT")
        book = latest.get(session, desk.cache, reverse.market)
    fees = fees_from(desk.settings)
    slippage = desk.settings.paper_slippage
    want = fill_leg(reverse, book, first.buy_amount, fees.taker(reverse), slippage)
    done = executor.execute(desk.sessions, desk.cache, desk.settings, trade_id, desk.now)
    assert done == "unwound"
    with desk.sessions() as session:
        kept = session.scalars(
            select(TradeLeg).where(TradeLeg.trade_id == trade_id, TradeLeg.seq == 3)
        ).one()
    assert (kept.sell_amount, kept.buy_amount, kept.fee) == (
        want.sell_amount, want.buy_amount, want.fee
    )  # fmt: skip
    assert want.buy_amount < fill_leg(reverse, book, first.buy_amount, D(0)).buy_amount


def test_a_move_between_banks_posts_its_transfer_fee(client, desk, opportunity):
    buy = Leg("p2p:USDT/VES", "BUY", "Banesco", "VES", "USDT")
    # 33000 VES held at Mercantil, moved to Banesco at 0.05 %: 16.50 fee, 32983.50 arrive
    step = Step(4, buy, D("32983.50"), None, (buy,), D("33000"), "bank:Mercantil:VES", D("16.50"))
    fill = LegFill(buy, D("330"), D("32983.50"), D("99.95"), D("0"), True)
    assert transfer_postings(client, desk, opportunity, step, fill) == [
        ("bank:Mercantil:VES", D("-33000")),
        ("fees:transfer:VES", D("16.50")),
        ("bank:Banesco:VES", D("32983.50")),
    ]
