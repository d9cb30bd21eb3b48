"""Where books come from, chosen per market by configuration.

``simulator`` (the embedded default), ``binance`` (P2P ad search; spot markets through the
spot API) and ``replay`` (a JSONL recording, ``REPLAY_PATH``). With ``RECORD_PATH`` set,
whatever the chosen source returns is also appended there, to be replayed later.
"""

from __future__ import annotations

from typing import Protocol

from backend.config import Settings
from backend.market.binance_p2p import BinanceP2P
from backend.market.book import Ad, Book, Market
from backend.market.replay import Recorder, Replay
from backend.market.simulator import Simulator

NAMES = ("simulator", "binance", "replay")


class Source(Protocol):
    name: str

    def fetch(self, market: Market) -> Book:
        """Both sides; may raise ``backend.market.errors.MarketDataError``."""
        ...

    def fetch_side(self, market: Market, taker_side: str) -> tuple[Ad, ...]:
        """Only what a taker on ``taker_side`` walks (BUY: asks), best first."""
        ...


def make_source(name: str, settings: Settings) -> Source:
    source: Source
    if name == "simulator":
        source = Simulator(seed=settings.simulator_seed)
    elif name == "binance":
        source = BinanceP2P(settings)
    elif name == "replay":
        if settings.replay_path is None:
            raise ValueError("source 'replay' needs REPLAY_PATH (a JSONL file of recorded books)")
        return Replay(settings.replay_path)  # never re-recorded: it would feed on itself
    else:
        raise ValueError(f"unknown market source {name!r}; expected one of: {', '.join(NAMES)}")
    if settings.record_path is not None:
        source = Recorder(source, settings.record_path)
    return source
