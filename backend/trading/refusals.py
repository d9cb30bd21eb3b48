"""Why the desk refuses a trade: one template per reason.

Formatted in English, a template is what the logs, the API and the audit trail say. The
pages read a stored reason back against the same templates and show the catalog's
translation of the template with the same values, so a reason cannot drift from its
translation: rewording one changes the catalog entry it is looked up by (and a test fails
until the Spanish is written).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from string import Formatter

SEPARATOR = "; "  # between the reasons of one refusal, as stored in ``trades.error``


def N_(template: str) -> str:
    """Marks a template for the catalog (``pybabel extract -k N_``); translated where shown."""
    return template


@dataclass(frozen=True)
class Reason:
    template: str

    def __call__(self, **values: object) -> str:
        return self.template.format(**values)

    @property
    def pattern(self) -> re.Pattern:
        """The template with each ``{field}`` free: what reads a formatted reason back."""
        parts = []
        for text, field, _spec, _conv in Formatter().parse(self.template):
            parts.append(re.escape(text))
            if field is not None:
                parts.append(f"(?P<{field}>.+?)")
        return re.compile("".join(parts))

    def read(self, text: str) -> dict[str, str] | None:
        match = self.pattern.fullmatch(text)
        return match.groupdict() if match else None


KILL_SWITCH = Reason(N_("kill switch is on"))
MAX_TRADE = Reason(N_("size {size} USD exceeds the {limit} USD limit"))
DAILY_NOTIONAL = Reason(
    N_("daily notional {today} + {size} USD exceeds the {limit} USD daily limit")
)
DAILY_LOSS = Reason(N_("realized loss today {loss} USD reaches the {limit} USD daily loss limit"))
STALE = Reason(N_("stale prices: {markets}"))
UNFILLABLE = Reason(N_("books cannot fill this size any more"))
MIN_PROFIT = Reason(
    N_(
        "profit at current books {profit} USD is below the {limit} USD minimum "
        "(and must be above zero)"
    )
)
BALANCE = Reason(
    N_(
        "insufficient balance: {account} holds {held} {currency}, "
        "the trade pays {paid} from it (floor {floor})"
    )
)
OPEN_TICKETS = Reason(N_("max open operator tickets ({limit}) reached"))
MIN_NOTIONAL = Reason(
    N_("spot order of {notional} {quote} is under the {symbol} minimum of {minimum}: not sent")
)

ALL = (
    KILL_SWITCH,
    MAX_TRADE,
    DAILY_NOTIONAL,
    DAILY_LOSS,
    STALE,
    UNFILLABLE,
    MIN_PROFIT,
    BALANCE,
    OPEN_TICKETS,
    MIN_NOTIONAL,
)


def read(text: str) -> list[tuple[Reason | None, dict[str, str] | str]]:
    """Each reason of a stored refusal with its values, or ``(None, text)`` for one no
    template made (a venue's own words, an operator's note)."""
    found: list[tuple[Reason | None, dict[str, str] | str]] = []
    for part in text.split(SEPARATOR) if text else []:
        for reason in ALL:
            values = reason.read(part)
            if values is not None:
                found.append((reason, values))
                break
        else:
            found.append((None, part))
    return found
