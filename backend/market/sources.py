"""Where books come from, chosen per market by configuration."""

from __future__ import annotations

from typing import Protocol

from backend.config import Settings
from backend.market.book import Book, Market
from backend.market.simulator import Simulator


class Source(Protocol):
    name: str

    def fetch(self, market: Market) -> Book: ...


def make_source(name: str, settings: Settings) -> Source:
    if name == "simulator":
        return Simulator(seed=settings.simulator_seed)
    raise ValueError(f"unknown market source {name!r}; expected one of: simulator")
