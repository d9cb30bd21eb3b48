"""Pre-trade checks: pure data in, reasons to refuse out (an empty list means go)."""

from __future__ import annotations

from decimal import Decimal

from backend.trading.controls import Controls


def refusals(
    controls: Controls,
    size_usd: Decimal,
    repriced_profit_usd: Decimal | None,
    stale_markets: list[str],
) -> list[str]:
    reasons = []
    if controls.kill_switch:
        reasons.append("kill switch is on")
    if size_usd > controls.max_trade_usd:
        reasons.append(f"size {size_usd} USD exceeds the {controls.max_trade_usd} USD limit")
    if stale_markets:
        reasons.append("stale prices: " + ", ".join(sorted(stale_markets)))
    if repriced_profit_usd is None:
        reasons.append("books cannot fill this size any more")
    elif repriced_profit_usd < controls.min_profit_usd:
        reasons.append(
            f"profit at current books {repriced_profit_usd:.2f} USD is below the "
            f"{controls.min_profit_usd} USD minimum"
        )
    return reasons
