"""Who a bearer token or a session belongs to, remembered in process memory, so a request
does not pay an ORM session and two queries to learn again what the last one learned.

What a process remembers holds only for the auth generation it was read under. Every
change to a login or a token bumps that generation in the database (triggers, migration
0010, whatever made the change: CLI, API or hand-typed SQL), and every authenticated
request reads it first (one primary-key read on the driver's connection): a revoked
token, a disabled user, a new role or password is refused on the very next request, in
every process. A token is looked up again at least once a minute anyway, which records
its use for the audit.

A later migration that rebuilds ``users`` or ``api_tokens`` on SQLite (Alembic's batch
mode copies the table) must create the triggers again; tests/unit/test_credentials.py
fails if it does not.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from flask_login import UserMixin

from backend import db
from backend.models import User
from backend.web import tokens

MAX_AGE_SECONDS = tokens.USE_RECORDED_EVERY.total_seconds()
# On the driver's connection: SQLAlchemy's execution path costs four times this read,
# which every authenticated request makes (so it is in no db_queries_total count).
_GENERATION = "SELECT generation FROM auth_state WHERE id = 1"
_ABSENT = object()  # "not remembered", as opposed to a remembered "no such user"


@dataclass(frozen=True)
class DeskUser(UserMixin):
    id: int
    username: str
    role: str
    session_version: int
    locale: str | None = None

    @classmethod
    def of(cls, row: User) -> DeskUser:
        return cls(row.id, row.username, row.role, row.session_version, row.locale)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


@dataclass(frozen=True)
class TokenUser:
    user: DeskUser
    name: str
    expires_at: datetime | None


class Credentials:
    """One per app: tokens by SHA-256 and users by id, for the current generation only."""

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._tokens: dict[str, tuple[float, TokenUser]] = {}
        self._users: dict[int, tuple[float, DeskUser | None]] = {}

    def _current(self, desk) -> int | None:
        """The generation now; whatever was remembered under another one is forgotten.
        None (no row: a schema made without the migrations) means remember nothing."""
        with db.outside_transactions(desk.engine) as connection:  # the pool's checks
            rows = db.raw_rows(connection, _GENERATION)
        generation = rows[0][0] if rows else None
        with self._lock:
            if generation != self._generation:
                self._tokens.clear()
                self._users.clear()
                self._generation = generation
        return generation

    def _recall(self, table: dict, key):
        item = table.get(key)
        if item is None or self._clock() - item[0] >= MAX_AGE_SECONDS:
            return _ABSENT
        return item[1]

    def _keep(self, table: dict, key, value, generation: int | None) -> None:
        """Only under the generation it was read under: a row read before a change must
        not be remembered after a concurrent request has seen the change's generation."""
        with self._lock:
            if generation is not None and generation == self._generation:
                table[key] = (self._clock(), value)

    def token(self, desk, raw: str, now: datetime, ip: str | None) -> TokenUser | None:
        """The live token behind ``raw`` and its user, else None (see ``tokens.resolve``)."""
        key = tokens.digest(raw)
        generation = self._current(desk)
        known = self._recall(self._tokens, key)
        if known is not _ABSENT:
            return known if known.expires_at is None or known.expires_at > now else None
        with desk.sessions.begin() as db:
            token = tokens.resolve(db, raw, now, ip)
            found = token and TokenUser(DeskUser.of(token.user), token.name, token.expires_at)
        if found is not None:
            self._keep(self._tokens, key, found, generation)
        return found

    def user(self, desk, user_id: int, session_version: int) -> DeskUser | None:
        """The enabled user a session names, if the session is of their current version."""
        generation = self._current(desk)
        user = self._recall(self._users, user_id)
        if user is _ABSENT:
            with desk.sessions() as db:
                row = db.get(User, user_id)
                user = None if row is None or row.disabled_at is not None else DeskUser.of(row)
            self._keep(self._users, user_id, user, generation)
        return user if user is not None and user.session_version == session_version else None
