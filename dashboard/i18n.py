"""What every page imports to speak the user's language: ``_`` and locale-aware numbers
and dates (Babel's CLDR data, so 1,234.50 in English is 1.234,50 in Spanish).

Strings are marked with ``_`` (or ``_l`` where they are defined before any request) and
extracted into ``dashboard/translations`` with ``make i18n`` (see the Makefile).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from babel import dates, numbers
from flask import has_request_context
from flask_babel import gettext, lazy_gettext, ngettext

from backend.web.locale import DEFAULT, current

_ = gettext
_l = lazy_gettext
__all__ = ["_", "_l", "decimal", "locale", "ngettext", "separators", "time_of_day", "when"]


def locale() -> str:
    return current() if has_request_context() else DEFAULT


def decimal(value: Decimal | int | str, least: int, most: int | None = None) -> str:
    """``value`` with between ``least`` and ``most`` decimals, grouped for the locale."""
    most = least if most is None else most
    pattern = "#,##0" + ("." + "0" * least + "#" * (most - least) if most else "")
    return numbers.format_decimal(Decimal(value), format=pattern, locale=locale())


def separators() -> str:
    """Plotly's ``separators``: the locale's decimal mark, then its group mark."""
    here = locale()
    return numbers.get_decimal_symbol(here) + numbers.get_group_symbol(here)


def when(value: datetime) -> str:
    """A timestamp for a trader: the locale's medium date and time, in UTC."""
    return dates.format_datetime(value, "medium", tzinfo=dates.UTC, locale=locale()) + " UTC"


def time_of_day(value: datetime) -> str:
    return dates.format_time(value, "medium", tzinfo=dates.UTC, locale=locale())
