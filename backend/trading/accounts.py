"""Where the house's money sits, by name: ``binance:USDT`` (Binance's funding wallet,
which P2P orders pay from and into), ``binance:spot:USDT`` (the spot wallet),
``bank:Banesco:VES`` (fiat paid or received through a P2P payment method),
``fees:<p2p|spot|transfer>:<CUR>``, ``equity:<CUR>`` (the owners' side of deposits and
withdrawals), ``market:<market>:<CUR>`` (the counterparties of fills).

Money moving between two of the house's accounts is a transfer: free between Binance's
wallets, at the transfer fee when a bank is on either side.
"""

from __future__ import annotations

import re

from backend.market.book import Market, Venue

ANY_METHOD = "Any"  # a P2P book whose ads name no payment method
HOUSE_KINDS = ("binance", "bank")
HOUSE = re.compile(r"(binance:(spot:)?[A-Z0-9]{2,10}|bank:[A-Za-z0-9_.\-]{1,40}:[A-Z0-9]{2,10})")


def house(market: str, method: str | None, currency: str) -> str:
    """The house account a leg on ``market`` pays ``currency`` from or receives it into."""
    m = Market.parse(market)
    if m.venue is Venue.SPOT:
        return f"binance:spot:{currency}"
    if currency == m.fiat:
        return f"bank:{method or ANY_METHOD}:{currency}"
    return f"binance:{currency}"


def transfer_costs(src: str, dst: str) -> bool:
    """A move between two house accounts pays the transfer fee when a bank is involved."""
    return src != dst and (src.startswith("bank:") or dst.startswith("bank:"))


def fees(venue: str, currency: str) -> str:
    return f"fees:{venue}:{currency}"


def equity(currency: str) -> str:
    return f"equity:{currency}"


def counterparty(market: str, currency: str) -> str:
    return f"market:{market}:{currency}"


def currency_of(name: str) -> str:
    return name.rsplit(":", 1)[-1]


def kind_of(name: str) -> str:
    kind = name.split(":", 1)[0]
    return "house" if kind in HOUSE_KINDS else kind


def parse_house(name: str) -> str:
    """An account an admin may move money in or out of; ValueError names the shapes."""
    if not isinstance(name, str) or not HOUSE.fullmatch(name):
        raise ValueError(
            f"account {str(name)[:70]!r} is not binance:<CUR>, binance:spot:<CUR> or "
            "bank:<Method>:<FIAT>, e.g. binance:USDT or bank:Banesco:VES"
        )
    return name
