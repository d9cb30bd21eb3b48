"""Record what a source returns to JSONL, and replay it later as the ``replay`` source.

One line per fetched book: ``{"recorded_at", "market", "source", "book": Book.to_dict()}``.
Lines are appended with one ``write`` each, so workers recording into one file interleave
whole lines. Only whole books are recorded (``fetch``); ``fetch_side`` is passed through
unrecorded, because half a book would replay as a book whose other side is empty.

Replay hands out each market's recorded books in file order and starts over after the
last. A replayed book is restamped: ``fetched_at`` becomes now and ``source`` becomes
``replay``, so the desk treats it as fresh (not stale, ticks on today's charts) and
nobody mistakes it for live Binance data. The position in the file is kept per process
(sources are rebuilt for every ingest task, positions are not); several worker processes
each walk the recording on their own. The file is re-read when it changes.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from backend.market.book import Ad, Book, Market
from backend.market.errors import EmptyBook
from backend.ops import metrics

log = logging.getLogger(__name__)

_LOCK = threading.Lock()
_LOADED: dict[Path, tuple[tuple[int, int], dict[str, list[Book]]]] = {}
_CURSORS: dict[tuple[Path, str], int] = defaultdict(int)


def record_line(book: Book, source: str, now: datetime) -> str:
    return (
        json.dumps(
            {
                "recorded_at": now.isoformat(),
                "market": book.market.key,
                "source": source,
                "book": book.to_dict(),
            }
        )
        + "\n"
    )


def lines(path: Path) -> Iterator[tuple[datetime, Book]]:
    """(recorded_at, book) per readable line, in file order; bad lines skipped and counted."""
    with path.open(encoding="utf-8") as text:
        for number, line in enumerate(text, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                book = Book.from_dict(item["book"])
                at = datetime.fromisoformat(item.get("recorded_at") or book.fetched_at.isoformat())
            except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
                log.warning(
                    "replay %s line %d skipped: %s: %s", path, number, type(exc).__name__, exc
                )
                metrics.BAD_REPLIES.labels(
                    upstream="replay", scope="reply", reason="bad_line"
                ).inc()
                continue
            yield (at if at.tzinfo else at.replace(tzinfo=UTC)), book


def load(path: Path) -> dict[str, list[Book]]:
    """Books per market key, in file order."""
    books: dict[str, list[Book]] = defaultdict(list)
    for _, book in lines(path):
        books[book.market.key].append(book)
    return dict(books)


def _books(path: Path) -> dict[str, list[Book]]:
    try:
        stat = path.stat()
    except OSError as exc:
        raise EmptyBook(f"replay file {path} cannot be read: {exc.strerror}") from None
    version = (stat.st_mtime_ns, stat.st_size)
    with _LOCK:
        cached = _LOADED.get(path)
        if cached is None or cached[0] != version:
            cached = _LOADED[path] = (version, load(path))
        return cached[1]


class Replay:
    """Source ``replay``: recorded books of each market, in order, cycling."""

    name = "replay"

    def __init__(self, path: Path, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.path = Path(path)
        self.clock = clock

    def fetch(self, market: Market) -> Book:
        recorded = _books(self.path).get(market.key)
        if not recorded:
            raise EmptyBook(f"replay file {self.path} has no book for {market.key}")
        with _LOCK:
            position = _CURSORS[(self.path, market.key)]
            _CURSORS[(self.path, market.key)] = position + 1
        book = recorded[position % len(recorded)]
        return replace(book, fetched_at=self.clock(), source=self.name).sorted()

    def fetch_side(self, market: Market, taker_side: str) -> tuple[Ad, ...]:
        return self.fetch(market).side(taker_side)


def rewind(path: Path | None = None) -> None:
    """Start every market (of one file, or of all) from the first recorded book again."""
    with _LOCK:
        for key in [k for k in _CURSORS if path is None or k[0] == Path(path)]:
            del _CURSORS[key]


class Recorder:
    """Wraps a source; appends every book it fetches to ``path``, then returns it unchanged.

    A failed write is logged and the book still returned: recording must never cost the
    desk its prices.
    """

    def __init__(
        self, source, path: Path, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.source = source
        self.name = source.name
        self.path = Path(path)
        self.clock = clock

    def fetch(self, market: Market) -> Book:
        book = self.source.fetch(market)
        line = record_line(book, self.name, self.clock())
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line)
        except OSError as exc:
            log.warning("recording %s to %s failed: %s", market.key, self.path, exc)
        return book

    def fetch_side(self, market: Market, taker_side: str) -> tuple[Ad, ...]:
        return self.source.fetch_side(market, taker_side)
