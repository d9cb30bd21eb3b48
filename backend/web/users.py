"""Desk logins: names, roles and argon2 password hashes; every change is audited.

A password is never stored, logged or echoed: only its argon2id hash is kept. Disabling a
user, changing their role or password, or their logging out bumps ``session_version`` and
so ends every session they had open.
"""

from __future__ import annotations

import re
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from backend.models import AuthEvent, User
from backend.web.access import ADMIN, ROLES

HASHER = PasswordHasher()  # argon2id with the library's recommended parameters
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{1,63}")
# Verified when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = HASHER.hash("not-a-real-password")


class UserError(ValueError):
    """A refused change, with a message fit for the operator."""


def check_name(username: str) -> str:
    if not isinstance(username, str) or not NAME.fullmatch(username):
        raise UserError(
            "a user name is 2 to 64 letters, digits or . _ @ - and starts with a letter or digit"
        )
    return username


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; one of: {', '.join(ROLES)}")
    return role


def check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"a password has at most {MAX_PASSWORD_LENGTH} characters")
    return password


def record(
    session: Session,
    kind: str,
    username: str,
    now: datetime,
    *,
    actor: str | None = None,
    ip: str | None = None,
    detail: str | None = None,
) -> None:
    session.add(
        AuthEvent(at=now, kind=kind, username=username[:64], actor=actor, ip=ip, detail=detail)
    )


def find(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def _get(session: Session, username: str) -> User:
    user = find(session, username)
    if user is None:
        raise UserError(f"no user named {username!r}")
    return user


def create(
    session: Session, username: str, role: str, password: str, *, actor: str, now: datetime
) -> User:
    check_name(username)
    check_role(role)
    check_password(password)
    if find(session, username) is not None:
        raise UserError(f"user {username!r} already exists")
    user = User(
        username=username,
        role=role,
        password_hash=HASHER.hash(password),
        created_at=now,
        session_version=1,
    )
    session.add(user)
    session.flush()
    record(session, "user_created", username, now, actor=actor, detail=f"role {role}")
    return user


def set_role(session: Session, username: str, role: str, *, actor: str, now: datetime) -> User:
    user = _get(session, username)
    old = user.role
    user.role = check_role(role)
    user.session_version += 1
    record(session, "role_changed", username, now, actor=actor, detail=f"{old} -> {role}")
    return user


def set_password(
    session: Session, username: str, password: str, *, actor: str, now: datetime
) -> User:
    user = _get(session, username)
    user.password_hash = HASHER.hash(check_password(password))
    user.session_version += 1
    record(session, "password_changed", username, now, actor=actor)
    return user


def log_out(session: Session, user_id: int, now: datetime, *, ip: str | None) -> None:
    """Ends every session of the user, on the server: the session cookie is signed, not
    stored, so a copy taken before the log out (or an answer still under way) would
    otherwise stay valid until it expires."""
    user = session.get(User, user_id)
    if user is not None:
        user.session_version += 1
        record(session, "logout", user.username, now, ip=ip)


def set_disabled(
    session: Session, username: str, disabled: bool, *, actor: str, now: datetime
) -> User:
    user = _get(session, username)
    user.disabled_at = now if disabled else None
    user.session_version += 1
    record(session, "user_disabled" if disabled else "user_enabled", username, now, actor=actor)
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The enabled user these credentials belong to, else None (same cost either way)."""
    user = find(session, username) if isinstance(username, str) else None
    if user is None or not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        _verify(_DUMMY_HASH, password if isinstance(password, str) else "")
        return None
    if not _verify(user.password_hash, password) or user.disabled_at is not None:
        return None
    legacy = not user.password_hash.startswith("$argon2")  # made by an earlier desk (werkzeug)
    if legacy or HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = HASHER.hash(password)
    return user


def _verify(stored: str, password: str) -> bool:
    if not stored.startswith("$argon2"):
        return check_password_hash(stored, password)
    try:
        return HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def everyone(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def admins_exist(session: Session) -> bool:
    return bool(
        session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == ADMIN, User.disabled_at.is_(None))
        )
    )


def set_locale(session: Session, username: str, locale: str | None) -> User:
    """The UI language this user chose; None goes back to the browser's preference."""
    user = _get(session, username)
    user.locale = locale
    return user
