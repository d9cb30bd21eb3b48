"""API tokens for scripts: random, shown once, stored as SHA-256, revocable at once.

A token is 256 random bits, so a plain SHA-256 is as safe to keep as a slow hash and lets
a request find its token with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import ApiToken
from backend.web import users

PREFIX = "desk_"
USE_RECORDED_EVERY = timedelta(minutes=1)  # last_used_at and the audit, not every call
DURATION = re.compile(r"(\d{1,5})([dhm])", re.ASCII)
UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h`` or ``90m``."""
    match = DURATION.fullmatch(text.strip())
    if not match or int(match.group(1)) == 0:
        raise users.UserError(f"{text!r} is not a duration like 30d, 12h or 90m")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


def create(
    session: Session,
    name: str,
    username: str,
    expires_in: timedelta | None,
    *,
    actor: str,
    now: datetime,
) -> str:
    """Store a new token and return it; this is the only time it exists in clear."""
    users.check_name(name)
    user = users.find(session, username)
    if user is None:
        raise users.UserError(f"no user named {username!r}")
    if session.scalar(select(ApiToken).where(ApiToken.name == name)) is not None:
        raise users.UserError(f"a token named {name!r} already exists")
    raw = PREFIX + secrets.token_urlsafe(32)
    expires_at = now + expires_in if expires_in else None
    session.add(
        ApiToken(
            name=name,
            user_id=user.id,
            token_hash=digest(raw),
            created_at=now,
            expires_at=expires_at,
        )
    )
    detail = f"token {name}" + (f", expires {expires_at.isoformat()}" if expires_at else "")
    users.record(session, "token_created", username, now, actor=actor, detail=detail)
    return raw


def revoke(session: Session, name: str, *, actor: str, now: datetime) -> ApiToken:
    token = session.scalar(select(ApiToken).where(ApiToken.name == name))
    if token is None:
        raise users.UserError(f"no token named {name!r}")
    if token.revoked_at is None:
        token.revoked_at = now
        users.record(
            session, "token_revoked", token.user.username, now, actor=actor, detail=f"token {name}"
        )
    return token


def resolve(session: Session, raw: str, now: datetime, ip: str | None = None) -> ApiToken | None:
    """The live token behind ``raw`` (not revoked, not expired, its user enabled), or None.
    Records its use at most once a minute."""
    if not raw.startswith(PREFIX) or len(raw) > 100:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(raw)))
    if (
        token is None
        or token.revoked_at is not None
        or (token.expires_at is not None and token.expires_at <= now)
        or token.user.disabled_at is not None
    ):
        return None
    if token.last_used_at is None or now - token.last_used_at >= USE_RECORDED_EVERY:
        token.last_used_at = now
        users.record(
            session, "token_used", token.user.username, now, ip=ip, detail=f"token {token.name}"
        )
    return token


def everyone(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.name)))
