"""Access decisions: what each route and callback needs, checked on the server.

Every Flask view and every Dash callback carries an explicit decision: ``PUBLIC`` or the
least role that may use it. Roles are ordered: an admin may do what a trader may, a
trader what a viewer may. A route without a decision is refused (fail closed), and a
test enumerates them all, so a route cannot be left open by forgetting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

PUBLIC = "public"
VIEWER, TRADER, ADMIN = ROLES = ("viewer", "trader", "admin")
LEVELS = (PUBLIC, *ROLES)

WHAT_ROLES_MAY = {
    VIEWER: "see every page, price, opportunity and trade",
    TRADER: "also execute trades and confirm operator tickets",
    ADMIN: "also change limits and the kill switch, and manage users",
}

F = TypeVar("F", bound=Callable)


def allowed(role: str | None, needed: str) -> bool:
    if needed == PUBLIC:
        return True
    if role not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(needed)


def access(level: str) -> Callable[[F], F]:
    """Mark a view with the least role it needs (or PUBLIC)."""
    if level not in LEVELS:
        raise ValueError(f"unknown access level {level!r}; one of {LEVELS}")

    def mark(view: F) -> F:
        view.access = level
        return view

    return mark


def decision(view: Callable | None) -> str | None:
    return getattr(view, "access", None)


def grant(app, endpoint: str, level: str, check: Callable | None = None) -> None:
    """Record the decision for a route registered by someone else (Dash, the exporter).
    ``check`` runs after the role check and may answer instead of the view."""
    if level not in LEVELS:
        raise ValueError(f"unknown access level {level!r}; one of {LEVELS}")
    app.extensions.setdefault("access", {})[endpoint] = (level, check)


def required(app, endpoint: str) -> tuple[str | None, Callable | None]:
    """The decision for ``endpoint``: granted, else marked on its view, else none."""
    granted = app.extensions.get("access", {}).get(endpoint)
    if granted:
        return granted
    return decision(app.view_functions.get(endpoint)), None
