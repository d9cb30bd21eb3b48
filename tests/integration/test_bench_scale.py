"""bench/scale.py runs end to end at a tiny size: every request it times answers 200 (it
checks), its table has a row per request and size, and it drops its databases."""

import re
import sys

import psycopg

from bench import scale
from tests.conftest import SERVICES

ADMIN = SERVICES["postgres"].replace("postgresql+psycopg", "postgresql")


def test_the_history_scale_benchmark_runs_at_a_tiny_size(monkeypatch, capsys):
    made = []
    create = scale.database

    def database(*args):
        url, filled = create(*args)
        made.append(url.rsplit("/", 1)[1])
        return url, filled

    monkeypatch.setattr(scale, "database", database)
    argv = ["bench.scale", "--admin-url", ADMIN, "--sizes", "1100,2200", "--repeat", "2"]
    monkeypatch.setattr(sys, "argv", argv)
    scale.main()
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 14, rows  # the header, then a row per request timed
    assert any(r.startswith("| p2p:USDT/VES: refresh, candles 24 h | ") for r in rows)
    assert rows[-1].startswith("| ingest one poll (p2p:USDT/VES) | ")
    assert re.search(r"^1,100 ticks: [45] one-minute candles of p2p:USDT/VES in 24 h$", out, re.M)
    with psycopg.connect(ADMIN) as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)", (made,))
        assert len(made) == 2 and left.fetchall() == []
