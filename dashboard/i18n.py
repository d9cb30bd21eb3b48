"""What every page imports to speak the user's language: ``_`` and locale-aware numbers
and dates (Babel's CLDR data, so 1,234.50 in English is 1.234,50 in Spanish).

Strings are marked with ``_`` (or ``_l`` where they are defined before any request) and
extracted into ``dashboard/translations`` with ``make i18n`` (see the Makefile).
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from decimal import Decimal

from babel import dates, numbers
from flask import has_request_context
from flask_babel import gettext, lazy_gettext, ngettext

from backend.web.locale import DEFAULT, current

_ = gettext
_l = lazy_gettext
__all__ = [
    "_",
    "_l",
    "date_axis",
    "decimal",
    "dropdown_labels",
    "locale",
    "ngettext",
    "read_amount",
    "separators",
    "time_of_day",
    "told",
    "typed_amount",
    "when",
]

ROLE_NAMES = {"viewer": _l("viewer"), "trader": _l("trader"), "admin": _l("admin")}


def dropdown_labels() -> dict[str, str]:
    """A dropdown's own words (its search box, its empty list), which Dash writes in English."""
    return {
        "search": _("Search"),
        "clear_search": _("Clear search"),
        "clear_selection": _("Clear selection"),
        "no_options_found": _("No options found"),
    }


def role_name(role: str) -> str:
    """A role as the reader's language names it (the header's badge, the refusals)."""
    return str(ROLE_NAMES.get(role, role))


def told(exc: Exception) -> str:
    """A domain error (``template`` marked N_, ``values``) in the reader's language; the
    API and the logs keep its English ``str``."""
    return _(exc.template).format(**{k: _shown(v) for k, v in exc.values.items()})


def _shown(value: object) -> object:
    """An amount in a message in the reader's marks, its places kept (at least 2 when it
    has any): "1.000.000", "0,50"; ids and counts (ints) stay as they are."""
    if not isinstance(value, Decimal) or not value.is_finite():
        return value
    places = max(0, -value.as_tuple().exponent)
    return decimal(value, min(2, places), max(2, places))


def locale() -> str:
    return current() if has_request_context() else DEFAULT


@functools.lru_cache(maxsize=8)
def _marks(code: str) -> dict[int, str]:
    """The locale's decimal and group marks (CLDR), as a str.translate table."""
    return {ord("."): numbers.get_decimal_symbol(code), ord(","): numbers.get_group_symbol(code)}


def decimal(value: Decimal | int | str, least: int, most: int | None = None) -> str:
    """``value`` with between ``least`` and ``most`` decimals (half-even), grouped by
    thousands, in the locale's marks. Python formats, Babel names the marks: a grid
    formats hundreds of numbers per refresh and Babel's pattern engine is 50× slower."""
    most = least if most is None else most
    text = f"{Decimal(value):,.{most}f}"
    if most > least:
        whole, _, fraction = text.partition(".")
        fraction = fraction[:least] + fraction[least:].rstrip("0")
        text = f"{whole}.{fraction}" if fraction else whole
    return text.translate(_marks(locale()))


def typed_amount(value: Decimal) -> str:
    """An amount as a person types it in this language: the decimal mark, no groups,
    cents only when there are some ("5000", "1250,50")."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
        whole, _, cents = text.partition(".")
        text = f"{whole}.{cents.ljust(2, '0')}" if cents else whole
    return text.translate({ord("."): numbers.get_decimal_symbol(locale())})


@functools.lru_cache(maxsize=8)
def _typed_patterns(code: str) -> tuple[re.Pattern, re.Pattern]:
    point, group = (re.escape(numbers.get_decimal_symbol(code)),
                    re.escape(numbers.get_group_symbol(code)))  # fmt: skip
    return (
        re.compile(rf"([0-9]+)(?:{point}([0-9]{{1,2}}))?", re.ASCII),
        re.compile(rf"([0-9]{{1,3}}(?:{group}[0-9]{{3}})+)(?:{point}([0-9]{{1,2}}))?", re.ASCII),
    )


def read_amount(text: str) -> str | None:
    """A typed amount in this language's marks -> ``"1250.50"``; None when it is neither
    that nor a plain ``1250.50``. In Spanish "50,5" is 50.50 and "12.500" twelve thousand
    five hundred: read as English, or by a number field, they became 505 and 12.50."""
    text = text.strip().replace("\u00a0", "").replace("\u202f", "")
    plain, grouped = _typed_patterns(locale())
    if found := grouped.fullmatch(text):  # groups first: "12.500" in Spanish
        whole = re.sub("[^0-9]", "", found[1])
    elif found := plain.fullmatch(text):
        whole = found[1]
    elif re.fullmatch(r"[0-9]+(\.[0-9]{1,2})?", text, re.ASCII):
        return text
    else:
        return None
    return f"{whole}.{found[2]}" if found[2] else whole


def separators() -> str:
    """Plotly's ``separators``: the locale's decimal mark, then its group mark."""
    here = locale()
    return numbers.get_decimal_symbol(here) + numbers.get_group_symbol(here)


def date_axis() -> dict:
    """A Plotly time axis's tick format: Plotly names months in English only ("Nov 29,
    2026"), so other languages get the date in digits, day first."""
    return {} if locale() == "en" else {"tickformat": "%H:%M<br>%d/%m/%Y"}


def when(value: datetime) -> str:
    """A timestamp for a trader: the locale's medium date and time, in UTC."""
    return dates.format_datetime(value, "medium", tzinfo=dates.UTC, locale=locale()) + " UTC"


def time_of_day(value: datetime) -> str:
    return dates.format_time(value, "medium", tzinfo=dates.UTC, locale=locale())
