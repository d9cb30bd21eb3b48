"""The per-app bundle every view and task reaches through ``current_desk()``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from backend.cache import Cache, make_cache
from backend.config import Settings
from backend.db import get_engine, session_factory
from backend.market.board import Boards
from backend.market.sources import Source, make_source


@dataclass
class Desk:
    settings: Settings
    cache: Cache = field(init=False)
    _sources: dict[str, Source] = field(init=False, default_factory=dict)
    # The Prices boards this process has read, refreshed once per ingest.
    boards: Boards = field(init=False, default_factory=Boards)

    def __post_init__(self) -> None:
        self.cache = make_cache(self.settings)

    def source(self, name: str) -> Source:
        """One per process and name: HTTP pools and replay positions live across polls."""
        if name not in self._sources:
            self._sources[name] = make_source(name, self.settings)
        return self._sources[name]

    @property
    def engine(self) -> Engine:
        """For a read that needs no ORM session (those on every request)."""
        return get_engine(self.settings)

    @property
    def sessions(self) -> sessionmaker[Session]:
        """Built lazily, per process, so nothing connects at import or before a fork."""
        return session_factory(self.settings)

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)


def current_desk() -> Desk:
    return current_app.extensions["desk"]
