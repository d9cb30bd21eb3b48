"""Pre-trade checks: pure data in, reasons to refuse out (an empty list means go).
Each reason names the limit and the numbers that broke it (templates in ``refusals``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from backend.trading import accounts
from backend.trading import refusals as reason
from backend.trading.controls import Controls


@dataclass(frozen=True)
class Day:
    """What the desk has done so far this UTC day."""

    notional_usd: Decimal = Decimal("0")  # sizes of filled trades
    profit_usd: Decimal = Decimal("0")  # their realized profit, losses negative

    @property
    def loss_usd(self) -> Decimal:
        return max(Decimal("0"), -self.profit_usd)


def refusals(
    controls: Controls,
    size_usd: Decimal,
    repriced_profit_usd: Decimal | None,
    stale_markets: list[str],
    day: Day = Day(),
) -> list[str]:
    reasons = []
    if controls.kill_switch:
        reasons.append(reason.KILL_SWITCH())
    if size_usd > controls.max_trade_usd:
        reasons.append(reason.MAX_TRADE(size=_plain(size_usd), limit=controls.max_trade_usd))
    if day.notional_usd + size_usd > controls.max_daily_notional_usd:
        reasons.append(
            reason.DAILY_NOTIONAL(
                today=_plain(day.notional_usd),
                size=_plain(size_usd),
                limit=controls.max_daily_notional_usd,
            )
        )
    if day.loss_usd >= controls.max_daily_loss_usd > 0 or (
        repriced_profit_usd is not None
        and day.loss_usd - min(repriced_profit_usd, Decimal("0")) > controls.max_daily_loss_usd
    ):
        reasons.append(
            reason.DAILY_LOSS(loss=f"{day.loss_usd:.2f}", limit=controls.max_daily_loss_usd)
        )
    if stale_markets:
        reasons.append(reason.STALE(markets=", ".join(sorted(stale_markets))))
    if repriced_profit_usd is None:
        reasons.append(reason.UNFILLABLE())
    elif repriced_profit_usd <= 0 or repriced_profit_usd < controls.min_profit_usd:
        reasons.append(
            reason.MIN_PROFIT(profit=f"{repriced_profit_usd:.2f}", limit=controls.min_profit_usd)
        )
    return reasons


def overdrafts(
    controls: Controls, held: dict[str, Decimal], lines: list[tuple[str, Decimal]]
) -> list[str]:
    """Reasons a trade would take a house account below its floor at any step: the desk
    never sells what it does not hold. ``lines`` are (account, signed amount) in order."""
    running: dict[str, Decimal] = defaultdict(Decimal, held)
    paid: dict[str, Decimal] = defaultdict(Decimal)
    short = set()
    for account, amount in lines:
        if accounts.kind_of(account) != "house":
            continue
        running[account] += amount
        if amount < 0:
            paid[account] -= amount
            if running[account] < controls.floor(account):
                short.add(account)
    return [
        reason.BALANCE(
            account=account,
            held=_plain(held.get(account, Decimal("0"))),
            currency=accounts.currency_of(account),
            paid=_plain(paid[account]),
            floor=_plain(controls.floor(account)),
        )
        for account in sorted(short)
    ]


def _plain(amount: Decimal) -> str:
    return format(amount.normalize(), "f")
