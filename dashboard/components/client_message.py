"""The corridor rates as a message the house pastes to its clients: always in Spanish
(its clients' language), whatever language the operator reads the desk in. The words
live in the catalogs like every other string; only the locale is forced."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from babel import dates, numbers
from flask_babel import force_locale, gettext

from backend.market.rates import CorridorRate

LOCALE = "es"


def rate_text(value: Decimal, locale: str = LOCALE) -> str:
    """A rate with the decimals its size needs: 0,00891234 · 36,5123 · 1.234,56."""
    least = 8 if value < 1 else 4 if value < 100 else 2
    pattern = "#,##0." + "0" * least
    return numbers.format_decimal(value, format=pattern, locale=locale)


def client_message(rates: Sequence[CorridorRate], now: datetime) -> str:
    """One line per corridor with a live client rate; the others are left out."""
    with force_locale(LOCALE):
        stamp = dates.format_datetime(now, "dd/MM/yyyy HH:mm", tzinfo=dates.UTC, locale=LOCALE)
        lines = [gettext("Exchange rates, %(when)s UTC:", when=stamp)]
        for rate in rates:
            if rate.client_rate is None or rate.stale:
                continue
            lines.append(
                gettext(
                    "• %(source)s → %(target)s: 1 %(source)s = %(rate)s %(target)s",
                    source=rate.corridor.source,
                    target=rate.corridor.target,
                    rate=rate_text(rate.client_rate),
                )
            )
        if len(lines) == 1:
            return gettext("No rate can be quoted right now; ask us again in a few minutes.")
        lines.append(gettext("Rates change with the market; confirm before sending."))
    return "\n".join(lines)
