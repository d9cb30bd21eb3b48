"""The balance gauges follow the ledger, and name the accounts below their floor."""

from __future__ import annotations

from backend.ops import metrics
from backend.trading import balances, controls


def gauge(metric, account: str, currency: str) -> float:
    return metric.labels(account=account, currency=currency)._value.get()


def test_the_watch_task_publishes_each_house_balance_and_floor(app, desk):
    from tasks.balances import watch

    with app.app_context():
        assert watch.run() == []
    assert gauge(metrics.ACCOUNT_BALANCE, "binance:USDT", "USDT") == 50000.0
    now = desk.now()
    with desk.sessions.begin() as session:
        balances.move(
            session, "withdraw", "binance:USDT", "49000.25", actor="t", reason="payout", now=now
        )
        controls.change(session, "floor:binance:USDT", "1000.50", actor="t", now=now)
    with app.app_context():
        assert watch.run() == ["binance:USDT"]
    assert gauge(metrics.ACCOUNT_BALANCE, "binance:USDT", "USDT") == 999.75
    assert gauge(metrics.ACCOUNT_FLOOR, "binance:USDT", "USDT") == 1000.5
