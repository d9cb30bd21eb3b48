"""The per-app bundle every view and task reaches through ``current_desk()``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy.orm import Session, sessionmaker

from backend.cache import Cache, make_cache
from backend.config import Settings
from backend.db import session_factory


@dataclass
class Desk:
    settings: Settings
    cache: Cache = field(init=False)

    def __post_init__(self) -> None:
        self.cache = make_cache(self.settings.redis_url)

    @property
    def sessions(self) -> sessionmaker[Session]:
        """Built lazily, per process, so nothing connects at import or before a fork."""
        return session_factory(self.settings)

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)


def current_desk() -> Desk:
    return current_app.extensions["desk"]
