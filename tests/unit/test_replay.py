"""Recording what a source returns and replaying it as the ``replay`` source."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from backend.config import Settings
from backend.market import replay
from backend.market.book import Market
from backend.market.errors import EmptyBook
from backend.market.replay import Recorder, Replay
from backend.market.simulator import Simulator
from backend.market.sources import make_source

VES = Market.parse("p2p:USDT/VES")
COP = Market.parse("p2p:USDT/COP")
START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LATER = datetime(2027, 1, 1, tzinfo=UTC)


class Ticking:
    """A clock that moves one simulator bucket per call, so every book differs."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=2)
        return self.now


@pytest.fixture(autouse=True)
def _rewind():
    replay.rewind()
    yield
    replay.rewind()


def record(path, markets, rounds: int = 3) -> list:
    recorder = Recorder(Simulator(seed=3, clock=Ticking()), path)
    return [recorder.fetch(m) for _ in range(rounds) for m in markets]


def test_recorder_returns_the_book_unchanged_and_writes_one_line_per_fetch(tmp_path):
    path = tmp_path / "sub" / "session.jsonl"
    books = record(path, [VES], rounds=2)
    lines = [json.loads(line) for line in path.read_text().splitlines()]

    assert len(lines) == 2
    assert lines[0]["market"] == "p2p:USDT/VES" and lines[0]["source"] == "simulator"
    assert lines[0]["book"] == books[0].to_dict()


def test_replay_yields_each_markets_books_in_order_then_cycles(tmp_path):
    path = tmp_path / "session.jsonl"
    books = record(path, [VES, COP], rounds=3)
    ves = [b for b in books if b.market == VES]
    source = Replay(path, clock=lambda: LATER)

    replayed = [source.fetch(VES) for _ in range(4)]
    assert [b.asks for b in replayed] == [ves[0].asks, ves[1].asks, ves[2].asks, ves[0].asks]
    assert [b.bids for b in replayed[:3]] == [b.bids for b in ves]
    assert source.fetch(COP).asks == books[1].asks  # markets keep separate positions


def test_replayed_books_are_restamped_now_and_labelled_replay(tmp_path):
    path = tmp_path / "session.jsonl"
    record(path, [VES], rounds=1)
    book = Replay(path, clock=lambda: LATER).fetch(VES)
    assert book.fetched_at == LATER and book.source == "replay"


def test_position_survives_rebuilding_the_source(tmp_path):
    # The ingest task builds a new source for every poll.
    path = tmp_path / "session.jsonl"
    books = record(path, [VES], rounds=2)
    assert Replay(path).fetch(VES).asks == books[0].asks
    assert Replay(path).fetch(VES).asks == books[1].asks


def test_fetch_side_is_sorted_best_first(tmp_path):
    path = tmp_path / "session.jsonl"
    books = record(path, [VES], rounds=1)
    assert Replay(path).fetch_side(VES, "SELL") == books[0].sorted().bids


def test_unknown_market_and_missing_file_are_empty_books(tmp_path):
    path = tmp_path / "session.jsonl"
    record(path, [VES], rounds=1)
    with pytest.raises(EmptyBook, match="no book for p2p:USDT/COP"):
        Replay(path).fetch(COP)
    with pytest.raises(EmptyBook, match="cannot be read"):
        Replay(tmp_path / "absent.jsonl").fetch(VES)


def test_a_corrupt_line_is_skipped(tmp_path):
    path = tmp_path / "session.jsonl"
    books = record(path, [VES], rounds=2)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "{not json", '{"book": {"market": "x"}}', lines[1]]))
    source = Replay(path)
    assert [source.fetch(VES).asks for _ in range(3)] == [
        books[0].asks,
        books[1].asks,
        books[0].asks,
    ]


def test_a_changed_file_is_read_again(tmp_path):
    path = tmp_path / "session.jsonl"
    record(path, [VES], rounds=1)
    assert Replay(path).fetch(VES)
    record(path, [COP], rounds=1)
    assert Replay(path).fetch(COP).market == COP


def test_fetch_side_is_not_recorded(tmp_path):
    path = tmp_path / "session.jsonl"
    Recorder(Simulator(seed=3), path).fetch_side(VES, "BUY")
    assert not path.exists()


def test_a_failed_write_still_returns_the_book(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    book = Recorder(Simulator(seed=3), blocker / "session.jsonl").fetch(VES)
    assert book.asks


def test_make_source_selects_replay_and_wraps_others_in_a_recorder(tmp_path):
    path = tmp_path / "session.jsonl"
    base = {"_env_file": None, "redis_url": None}
    recording = make_source("simulator", Settings(**base, record_path=path))
    assert isinstance(recording, Recorder) and recording.name == "simulator"
    recording.fetch(VES)

    replaying = make_source("replay", Settings(**base, replay_path=path, record_path=path))
    assert isinstance(replaying, Replay)  # never re-recorded into its own input
    assert replaying.fetch(VES).source == "replay"

    with pytest.raises(ValueError, match="REPLAY_PATH"):
        make_source("replay", Settings(**base))
    with pytest.raises(ValueError, match="simulator, binance, replay"):
        make_source("nope", Settings(**base))
