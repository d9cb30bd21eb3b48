"""The "why" an admin or operator gives for a change of money or controls.

It is kept on the audit trail and shown to the next reader as one line, so a control
character, a line break or a bidirectional mark (U+202E turns the rest of a line around)
is refused: each could forge, hide or reorder a line of the trail. Any script, accent,
symbol or emoji is fine. A reason too long is refused, never cut: what was typed is kept.
"""

from __future__ import annotations

import re

LIMIT = 500
# C0, DEL and C1 controls; the Arabic letter mark, LRM/RLM, line and paragraph
# separators, embeddings, overrides and isolates.
_REFUSED = r"\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069"
# What the OpenAPI Reason schema publishes (a test keeps the two the same).
PATTERN = rf"^[^{_REFUSED}]*[^\s{_REFUSED}][^{_REFUSED}]*$"
_ONE_LINE = re.compile(PATTERN)


def clean(raw: object) -> str:
    """The reason as kept (outer spaces trimmed); ValueError says what is wrong."""
    if (
        not isinstance(raw, str)
        or len(raw) > LIMIT
        or not _ONE_LINE.fullmatch(raw)
        or not _utf8(raw)
    ):
        raise ValueError(f"a reason of 1 to {LIMIT} printable characters on one line is required")
    return raw.strip()


def _utf8(raw: str) -> bool:
    """False for a lone surrogate ("\\ud800" in JSON): not text, and no database takes it."""
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
