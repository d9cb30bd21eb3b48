"""Which ads the desk can actually take: pure functions over normalized ads.

Rules come from settings, per fiat: the payment methods the desk has accounts for, merchant
only, a minimum completion rate and monthly order count, and the fiat amount per order the
desk wants to trade. The default rules admit everything.

An admitted ad keeps only the methods the desk can pay with (an ad offering Payeer and
Advcash, to a desk with only Payeer, is a Payeer ad for us), so downstream code that
segments books by method never sees a leg the desk could not execute. The advertiser is
kept whole, for display. Matching of method names is case-insensitive.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from backend.config import Settings
from backend.market.book import Ad

ZERO = Decimal("0")


@dataclass(frozen=True)
class AdRules:
    methods: tuple[str, ...] = ()  # empty: any method
    merchant_only: bool = False
    min_finish_rate: Decimal = ZERO
    min_month_orders: int = 0
    amount: Decimal | None = None  # fiat per order; the ad's min/max must admit it

    @property
    def accept_all(self) -> bool:
        return self == AdRules()


def rules_for(settings: Settings, fiat: str) -> AdRules:
    return AdRules(
        methods=tuple(settings.payment_methods.get(fiat.upper(), ())),
        merchant_only=settings.merchant_only,
        min_finish_rate=settings.min_finish_rate,
        min_month_orders=settings.min_month_orders,
        amount=settings.p2p_trans_amount.get(fiat.upper()),
    )


def usable_methods(ad: Ad, rules: AdRules) -> tuple[str, ...]:
    """The ad's methods the desk can pay with (all of them when no method is configured)."""
    if not rules.methods:
        return ad.methods
    wanted = {m.casefold() for m in rules.methods}
    return tuple(m for m in ad.methods if m.casefold() in wanted)


def admits(ad: Ad, rules: AdRules) -> bool:
    if rules.methods and ad.methods and not usable_methods(ad, rules):
        return False
    who = ad.advertiser
    if rules.merchant_only and who.user_type != "merchant":
        return False
    if who.finish_rate < rules.min_finish_rate or who.month_orders < rules.min_month_orders:
        return False
    if rules.amount is not None:
        if rules.amount < ad.min_amount:
            return False
        if ad.max_amount is not None and rules.amount > ad.max_amount:
            return False
    return True


def apply(ads: tuple[Ad, ...], rules: AdRules) -> tuple[Ad, ...]:
    """Admitted ads, in the same order, each narrowed to its usable methods."""
    if rules.accept_all:
        return ads
    return tuple(replace(ad, methods=usable_methods(ad, rules)) for ad in ads if admits(ad, rules))
