"""Play a recorded session through the desk's own scan, risk checks and paper executor.

A recording (``RECORD_PATH``, see ``market.replay``) is replayed in recorded order at full
speed into a throwaway SQLite database: each book is ingested as ``tasks.market`` does,
the scan runs once per half ingest interval of recorded time (the debounce
``tasks.market`` applies), every opportunity it lists is requested once at its own size,
and the request is executed by ``executor.execute`` when the playback reaches its time
plus ``latency_seconds`` (0: at once, on the books it was found on). The clock the desk
reads is the recording's, so staleness and expiry behave as they did live.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from backend import db, migrate, seed
from backend.config import Settings
from backend.desk import Desk
from backend.market import ingest, replay
from backend.models import Trade
from backend.trading import executor, opportunities, trades

ZERO = Decimal("0")
NUMBER = re.compile(r"-?\d[\d.,]*")


@dataclass
class Report:
    books: int = 0
    scans: int = 0
    opportunities: int = 0
    trades: int = 0
    fills: int = 0
    rejected: int = 0
    failures: int = 0
    unexecuted: int = 0  # requested too close to the recording's end to be executed
    rejections: dict[str, int] = field(default_factory=dict)  # reason (numbers as N) -> count
    profit_by_strategy: dict[str, Decimal] = field(default_factory=dict)
    profit_usd: Decimal = ZERO
    max_drawdown_usd: Decimal = ZERO
    first: datetime | None = None
    last: datetime | None = None

    def as_json(self) -> dict:
        return {
            "books": self.books,
            "scans": self.scans,
            "opportunities": self.opportunities,
            "trades": self.trades,
            "fills": self.fills,
            "rejected": self.rejected,
            "failures": self.failures,
            "unexecuted": self.unexecuted,
            "rejections": dict(sorted(self.rejections.items())),
            "profit_by_strategy": {k: str(v) for k, v in sorted(self.profit_by_strategy.items())},
            "profit_usd": str(self.profit_usd),
            "max_drawdown_usd": str(self.max_drawdown_usd),
            "from": self.first.isoformat() if self.first else None,
            "to": self.last.isoformat() if self.last else None,
        }


def max_drawdown(profits: Iterable[Decimal]) -> Decimal:
    """Largest fall of cumulative profit from its running peak (which starts at 0)."""
    total = peak = worst = ZERO
    for profit in profits:
        total += profit
        peak = max(peak, total)
        worst = max(worst, peak - total)
    return worst


def reason_key(reason: str) -> str:
    """``profit at current books 0.12 USD is below the 0.50 USD minimum`` -> numbers as N."""
    return NUMBER.sub("N", reason.strip())


def reason_keys(error: str | None) -> list[str]:
    """Each reason a refusal names (the risk check joins them with "; "), as a key."""
    return [reason_key(r) for r in (error or "").split("; ") if r.strip()]


class PlaybackDesk(Desk):
    """The desk with the recording's clock."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.at: datetime | None = None

    def now(self) -> datetime:  # type: ignore[override]
        return self.at


def run(path: Path, settings: Settings, latency_seconds: float = 0.0) -> Report:
    played = sorted(replay.lines(Path(path)), key=lambda item: item[0])
    markets = sorted({book.market.key for _, book in played})
    with tempfile.TemporaryDirectory(prefix="backtest-") as tmp:
        config = settings.model_copy(
            update={
                "database_url": f"sqlite:///{tmp}/backtest.sqlite3",
                "redis_url": None,
                "rabbitmq_url": None,
                "markets": markets,
                "trading_mode": "paper",
            }
        )
        try:
            return _play(played, config, timedelta(seconds=latency_seconds))
        finally:
            engine = db._engines.pop(config.database_url, None)
            if engine is not None:
                engine.dispose()


def _play(played: list, settings: Settings, latency: timedelta) -> Report:
    from tasks.arbitrage import scan  # the task's own code, run in this process

    migrate.upgrade(settings)
    desk = PlaybackDesk(settings)
    with desk.sessions.begin() as session:
        seed.seed(session, settings, played[0][0] if played else None, paper=True)
    app = Flask(__name__)
    app.extensions["desk"] = desk
    report = Report()
    debounce = timedelta(seconds=settings.ingest_interval_seconds / 2)
    last_scan: datetime | None = None
    requested: set[int] = set()
    due: list[tuple[datetime, int]] = []
    for at, book in played:
        desk.at = at
        report.first = report.first or at
        report.last = at
        with desk.sessions.begin() as session:
            ingest.store(session, desk.cache, settings, book, at)
        report.books += 1
        _execute_due(desk, due, at)
        if last_scan is None or at - last_scan >= debounce:
            last_scan = at
            with app.app_context():
                scan.run()
            report.scans += 1
            with desk.sessions.begin() as session:
                for opp in opportunities.list_active(session, at):
                    if opp.id in requested:
                        continue
                    requested.add(opp.id)
                    trade, _ = trades.request_trade(
                        session,
                        opportunity_id=opp.id,
                        size=None,
                        key=f"backtest-{opp.id}",
                        user="backtest",
                        now=at,
                        via="backtest",
                    )
                    session.flush()
                    due.append((at + latency, trade.id))
            _execute_due(desk, due, at)
    report.opportunities, report.unexecuted = len(requested), len(due)
    _summarize(desk, report)
    return report


def _execute_due(desk: PlaybackDesk, due: list[tuple[datetime, int]], at: datetime) -> None:
    ready = [item for item in due if item[0] <= at]
    for item in ready:
        due.remove(item)
        executor.execute(desk.sessions, desk.cache, desk.settings, item[1], desk.now)


def _summarize(desk: PlaybackDesk, report: Report) -> None:
    rejections: Counter[str] = Counter()
    by_strategy: dict[str, Decimal] = defaultdict(Decimal)
    profits = []
    with desk.sessions() as session:
        rows = session.scalars(select(Trade).order_by(Trade.updated_at, Trade.id)).all()
    for trade in rows:
        report.trades += 1
        if trade.status == "filled":
            report.fills += 1
            by_strategy[trade.strategy] += trade.profit_usd
            profits.append(trade.profit_usd)
        elif trade.status == "rejected":
            report.rejected += 1
            rejections.update(reason_keys(trade.error))
        elif trade.status == "failed":
            report.failures += 1
    report.rejections = dict(rejections)
    report.profit_by_strategy = dict(by_strategy)
    report.profit_usd = sum(profits, ZERO)
    report.max_drawdown_usd = max_drawdown(profits)
