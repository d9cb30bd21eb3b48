"""The embedded market: deterministic books shaped like Binance P2P replies.

A book is a pure function of (seed, market, time bucket), so every worker process
agrees on the same prices without sharing state. Now and then a dislocation pushes
one payment method's bids above another's asks (or P2P away from spot), which is what
the arbitrage scan exists to catch.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from backend.market.book import Ad, Advertiser, Book, Market, Venue


@dataclass(frozen=True)
class Profile:
    mid: Decimal  # fiat per asset
    spread: float  # best ask / best bid - 1
    scale: int  # price decimals
    methods: tuple[str, ...]


USDT = {
    "VES": Profile(Decimal("318.5"), 0.012, 2, ("Banesco", "Mercantil", "PagoMovil", "Provincial")),
    "COP": Profile(Decimal("3905"), 0.008, 2, ("Bancolombia", "Nequi", "Daviplata")),
    "ARS": Profile(Decimal("1452"), 0.010, 2, ("MercadoPago", "Brubank", "Uala")),
    "BRL": Profile(Decimal("5.47"), 0.004, 3, ("PIX", "BancoInter", "Nubank")),
    "PEN": Profile(Decimal("3.41"), 0.006, 3, ("BCP", "Yape", "Plin", "Interbank")),
    "CLP": Profile(Decimal("942"), 0.007, 2, ("BancoEstado", "Santander", "MACH")),
    "MXN": Profile(Decimal("18.42"), 0.005, 3, ("SPEI", "BBVA", "Banorte")),
    "USD": Profile(Decimal("1.002"), 0.004, 3, ("Zelle", "Wise", "AirTM")),
}
BTC_USDT = Decimal("96250")
SPOT = {
    ("BTC", "USDT"): Profile(BTC_USDT, 0.00002, 2, ()),
    ("USDT", "BRL"): Profile(Decimal("5.462"), 0.0004, 4, ()),
}
NICKS = (
    "CambiosRapidos",
    "DivisasYa",
    "ElTigreP2P",
    "Andes_FX",
    "MonedaSegura",
    "PanaCambios",
    "RioExchange",
    "Llanero",
    "CondorCash",
    "SurDivisas",
    "PagoFacil",
    "TucanTrade",
    "VerdeDolar",
    "NortePay",
    "ZonaCambio",
    "LaCasaFX",
)
ADS_PER_SIDE = 14
BUCKET_SECONDS = 2.0
DISLOCATION_SECONDS = 60


def _rng(*parts: object) -> random.Random:
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def profile_for(market: Market) -> Profile:
    if market.venue is Venue.SPOT:
        return SPOT[(market.asset, market.fiat)]
    if market.asset == "BTC":
        usdt = USDT[market.fiat]
        return Profile(usdt.mid * BTC_USDT, usdt.spread * 1.5, 0, usdt.methods)
    return USDT[market.fiat]


class Simulator:
    """``fetch(market)`` returns the book of the current two-second bucket."""

    name = "simulator"

    def __init__(self, seed: int = 7, clock=lambda: datetime.now(UTC)):
        self.seed = seed
        self.clock = clock

    def _drift(self, market: Market, t: float) -> float:
        """Smooth daily-ish wander plus per-bucket noise, all reproducible."""
        phase = _rng(self.seed, market.key, "phase").random() * 2 * math.pi
        noise = _rng(self.seed, market.key, int(t // BUCKET_SECONDS)).gauss(0, 0.0004)
        fiat_trend = 0.0
        if market.fiat in USDT or market.asset in USDT:
            fiat = market.fiat if market.fiat != "USDT" else market.asset
            fphase = _rng(self.seed, fiat, "fiat").random() * 2 * math.pi
            fiat_trend = 0.004 * math.sin(t / 900 + fphase)
        return fiat_trend + 0.002 * math.sin(t / 97 + phase) + noise

    def _dislocation(self, market: Market, t: float) -> tuple[str | None, float]:
        """In about 30 % of minutes, someone on one payment method bids far above the market.

        A minute outlives the few seconds between a scan and an execution, so what the desk
        lists is usually still there when a trader presses Execute.
        """
        window = int(t // DISLOCATION_SECONDS)
        rng = _rng(self.seed, market.key, "dislocation", window)
        if rng.random() > 0.3:
            return None, 0.0
        profile = profile_for(market)
        method = rng.choice(profile.methods) if profile.methods else None
        return method, profile.spread * rng.uniform(1.3, 2.5)

    def _mid(self, market: Market, t: float) -> float:
        return float(profile_for(market).mid) * (1 + self._drift(market, t))

    def fetch(self, market: Market) -> Book:
        now = self.clock()
        t = now.timestamp()
        if market.venue is Venue.SPOT:
            return self._spot_book(market, now, t)
        return self._p2p_book(market, now, t)

    def _spot_book(self, market: Market, now: datetime, t: float) -> Book:
        """A spot book moves every bucket; it tracks its P2P sibling through the fiat trend."""
        profile = profile_for(market)
        rng = _rng(self.seed, market.key, "levels", int(t // BUCKET_SECONDS))
        mid, quant = self._mid(market, t), Decimal(1).scaleb(-profile.scale)
        usd_per_asset = float(BTC_USDT) if market.asset == "BTC" else 1.0
        sides = {}
        for side, sign in (("asks", 1), ("bids", -1)):
            price, levels = mid * (1 + sign * profile.spread / 2), []
            for i in range(ADS_PER_SIDE):
                price *= 1 + sign * rng.uniform(0.00001, 0.0002)
                static = _rng(self.seed, market.key, side, i)
                levels.append(
                    self._ad(
                        market,
                        static,
                        Decimal(str(price)).quantize(quant),
                        (),
                        usd_per_asset,
                        f"{side[0]}{i:02d}",
                    )
                )
            sides[side] = tuple(levels)
        return Book(market, sides["asks"], sides["bids"], now, self.name).sorted()

    def _p2p_book(self, market: Market, now: datetime, t: float) -> Book:
        """Each ad keeps its price until its advertiser re-prices it (every 6 s to 2 min), as
        on Binance; so only a few ads change per poll and only those cost a stored row."""
        profile = profile_for(market)
        quant = Decimal(1).scaleb(-profile.scale)
        usd_per_asset = float(BTC_USDT) if market.asset == "BTC" else 1.0
        bucket = int(t // BUCKET_SECONDS)
        sides = {}
        for side, sign in (("asks", 1), ("bids", -1)):
            ads = []
            for i in range(ADS_PER_SIDE):
                static = _rng(self.seed, market.key, side, i)  # the ad itself
                period, phase = static.choice((3, 5, 10, 15, 30, 60)), static.randrange(60)
                epoch = (bucket + phase) // period
                t_priced = (epoch * period - phase) * BUCKET_SECONDS
                priced = _rng(self.seed, market.key, side, i, epoch)  # this version of it
                premium = profile.spread / 2 + static.uniform(0, 0.008) + priced.uniform(0, 0.002)
                price = self._mid(market, t_priced) * (1 + sign * premium)
                methods = self._methods(static, profile)
                hot_method, jump = self._dislocation(market, t_priced)
                if hot_method and side == "bids" and hot_method in methods:
                    price *= 1 + jump  # someone pays far above the market
                ads.append(
                    self._ad(
                        market,
                        priced,
                        Decimal(str(price)).quantize(quant),
                        methods,
                        usd_per_asset,
                        f"{side[0]}{i:02d}",
                        static,
                    )
                )
            sides[side] = tuple(ads)
        return Book(market, sides["asks"], sides["bids"], now, self.name).sorted()

    def fetch_side(self, market: Market, taker_side: str) -> tuple[Ad, ...]:
        return self.fetch(market).side(taker_side)

    @staticmethod
    def _methods(rng: random.Random, profile: Profile) -> tuple[str, ...]:
        if not profile.methods:
            return ()
        k = rng.randint(1, min(2, len(profile.methods)))
        return tuple(sorted(rng.sample(profile.methods, k)))

    def _ad(self, market, rng, price, methods, usd_per_asset, slot, identity=None) -> Ad:
        if market.venue is Venue.SPOT:
            qty = Decimal(str(round(rng.uniform(0.05, 3.0) * 100 / usd_per_asset * 100, 6)))
            return Ad(f"{market.symbol}-{slot}", price, qty, methods=())
        usd = rng.choice((300, 800, 1500, 3000, 6000, 12000)) * rng.uniform(0.6, 1.4)
        qty = Decimal(str(round(usd / usd_per_asset, 8 if market.asset == "BTC" else 2)))
        min_usd = rng.choice((10, 20, 50, 100, 200))
        max_usd = max(min_usd * 2, usd * rng.uniform(0.5, 1.2))
        who = identity or rng
        nick = NICKS[who.randrange(len(NICKS))]
        merchant = who.random() < 0.45
        fiat_per_usd = price / Decimal(str(usd_per_asset))
        return Ad(
            ad_no=f"SIM{market.asset}{market.fiat}{slot.upper()}",
            price=price,
            quantity=qty,
            min_amount=(min_usd * fiat_per_usd).quantize(Decimal("1")),
            max_amount=(Decimal(str(max_usd)) * fiat_per_usd).quantize(Decimal("1")),
            methods=methods,
            advertiser=Advertiser(
                nick=nick,
                user_type="merchant" if merchant else "user",
                month_orders=who.randint(15, 4000 if merchant else 400),
                finish_rate=Decimal(str(round(who.uniform(0.9, 1.0), 3))),
            ),
        )
