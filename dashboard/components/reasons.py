"""The executor's reasons to refuse a trade, in the reader's language.

``backend.trading.risk`` words them in English for logs, the API and the audit trail;
the pages show the same facts through the catalog. A reason of a shape not listed here
is shown as the executor wrote it.
"""

from __future__ import annotations

import re

from dashboard.i18n import _l

N = r"(-?[\d.]+)"
SHAPES = [
    (re.compile(r"kill switch is on"), _l("the kill switch is on")),
    (
        re.compile(rf"size {N} USD exceeds the {N} USD limit"),
        _l("size %(1)s USD exceeds the %(2)s USD limit per trade"),
    ),
    (
        re.compile(rf"daily notional {N} \+ {N} USD exceeds the {N} USD daily limit"),
        _l("today's %(1)s + %(2)s USD would exceed the %(3)s USD daily limit"),
    ),
    (
        re.compile(rf"realized loss today {N} USD reaches the {N} USD daily loss limit"),
        _l("today's realized loss of %(1)s USD reaches the %(2)s USD daily loss limit"),
    ),
    (re.compile(r"stale prices: (.+)"), _l("stale prices: %(1)s")),
    (re.compile(r"books cannot fill this size any more"), _l("the books cannot fill this size")),
    (
        re.compile(rf"profit at current books {N} USD is below the {N} USD minimum.*"),
        _l("profit at current books %(1)s USD is below the %(2)s USD minimum"),
    ),
    (
        re.compile(
            rf"insufficient balance: (\S+) holds {N} (\w+), the trade pays {N} from it "
            rf"\(floor {N}\)"
        ),
        _l("insufficient balance: %(1)s holds %(2)s %(3)s, the trade pays %(4)s (floor %(5)s)"),
    ),
]


def translate(reason: str) -> str:
    for shape, words in SHAPES:
        match = shape.fullmatch(reason)
        if match:
            groups = {str(i): g for i, g in enumerate(match.groups(), start=1)}
            return str(words) % groups
    return reason
