"""The executor's reasons to refuse a trade, in the reader's language.

A stored refusal is read back against ``backend.trading.refusals``' templates and each
reason is shown as the catalog's translation of its template, filled with the same
values. Words no template made (a venue's message, an operator's note) are shown as
written.
"""

from __future__ import annotations

from backend.trading import refusals
from dashboard.i18n import _


def translate(text: str) -> str:
    return refusals.SEPARATOR.join(
        _(reason.template).format(**values) if reason else values
        for reason, values in refusals.read(text)
    )
