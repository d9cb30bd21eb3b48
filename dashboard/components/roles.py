"""A role's name in the reader's language: the header badge and every "you are ..." say
"observador", not the code "viewer"."""

from __future__ import annotations

from dashboard.i18n import _l

ROLE_NAMES = {"viewer": _l("viewer"), "trader": _l("trader"), "admin": _l("admin")}


def role_name(role: str) -> str:
    return str(ROLE_NAMES.get(role, role))
