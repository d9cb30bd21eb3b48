"""Label sets known in advance, created at 0 when a process starts.

A counter is born at its first increment, so a panel or alert on trades, retries or
price updates reads "No data" until something happens, and ``rate()`` cannot see the
first event. Markets, strategies, upstreams and task names are known up front: every
process creates their series at 0 (which never overwrites what another process wrote).
"""

from __future__ import annotations

from collections.abc import Iterable

from backend.config import Settings
from backend.market.book import Market
from backend.ops import metrics
from backend.ops.metrics import zero
from backend.trading.opportunities import STRATEGIES
from backend.trading.unwind import CLOSED, UNWOUND

UPSTREAMS = ("binance_p2p", "binance_spot", "db", "redis")
MODES = ("paper", "live")
# The final statuses a trade is counted in; a stranded one is not final (the
# trades_stranded gauge shows it) and is counted when it ends.
TRADE_STATUSES = ("filled", "rejected", "failed", "cancelled", UNWOUND, CLOSED)
TASK_STATES = ("SUCCESS", "FAILURE", "RETRY")


def zero_desk(settings: Settings) -> None:
    markets = [Market.parse(key) for key in settings.markets]
    zero(
        metrics.PRICE_UPDATES,
        ({"asset": m.asset, "fiat": m.fiat, "source": settings.source_for(m.key)} for m in markets),
    )
    zero(
        metrics.TRADES_EXECUTED,
        (
            {"strategy": s, "mode": mode, "status": status}
            for s in STRATEGIES
            for mode in MODES
            for status in TRADE_STATUSES
        ),
    )
    zero(metrics.TRADE_PROFIT, ({"strategy": s} for s in STRATEGIES))
    zero(metrics.CIRCUIT_BREAKER_FAILURES, ({"upstream": u} for u in UPSTREAMS))
    zero(metrics.CIRCUIT_BREAKER_OPENS, ({"upstream": u} for u in UPSTREAMS))
    zero(metrics.CACHE_HITS, [{"cache": "latest_book"}])
    zero(metrics.CACHE_MISSES, [{"cache": "latest_book"}])


def zero_tasks(task_names: Iterable[str]) -> None:
    names = list(task_names)
    zero(metrics.CELERY_TASKS, ({"task": t, "state": s} for t in names for s in TASK_STATES))
    zero(metrics.CELERY_TASK_RETRIES, ({"task": t} for t in names))
    zero(metrics.CELERY_TASK_DURATION, ({"task": t} for t in names))
    zero(metrics.CELERY_TASKS_ACTIVE, ({"task": t} for t in names))
