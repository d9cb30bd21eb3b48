"""Freshness in a real browser: from a price committed by ingest to the price on the
Prices board, with pushed updates (Redis) and with polling (the embedded default).

    .venv/bin/python -m bench.freshness [--loads 20] [--redis-url redis://127.0.0.1:6379/14]

For each mode it starts gunicorn as production does (no worker: this script is the only
ingester), opens the board in Chromium, and per page load commits one book whose best ask
is a price never shown before (``ingest.store`` and the announcement, as the ingest task
does), after a random 0–2 s pause so polling is caught at every phase. A MutationObserver
in the page stamps the moment the new price is drawn; the latency is that stamp minus the
commit's end (one machine, one clock).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MARKET = "p2p:USDT/VES"
MARKETS = "p2p:USDT/VES,p2p:USDT/COP"
PASSWORD = "bench password 123"
WATCH = """
window.__seen = null;
const want = arguments[0];
const grid = document.getElementById('prices-grid');
const found = () => Array.from(grid.querySelectorAll('[col-id="best_ask"]'))
  .some(c => c.innerText.trim() === want);
new MutationObserver((_, obs) => {
  if (window.__seen === null && found()) { window.__seen = Date.now(); obs.disconnect(); }
}).observe(grid, {subtree: true, childList: true, characterData: true});
"""


def book(ask: Decimal):
    from backend.market.book import Ad, Advertiser, Book, Market

    def ad(no: str, price: Decimal) -> Ad:
        return Ad(no, price, Decimal("5000"), advertiser=Advertiser("bench"), methods=("Banesco",))

    return Book(
        Market.parse(MARKET),
        (ad("a", ask),),
        (ad("b", Decimal("300")),),
        datetime.now(UTC),
        "bench",
    )


def run(mode: str, loads: int, redis_url: str | None, home: Path) -> list[float]:
    from backend import push
    from backend.cache import make_cache
    from backend.config import Settings
    from backend.db import session_factory
    from backend.market import ingest

    port = 19000 + os.getpid() % 1000 + (1 if mode == "push" else 0)
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "RABBITMQ_URL")} | {
        "DATABASE_URL": f"sqlite:///{home / f'{mode}.sqlite3'}",
        "PROMETHEUS_MULTIPROC_DIR": str(home / f"metrics-{mode}"),
        "PORT": str(port),
        "MARKETS": MARKETS,
        "MARKET_SOURCES": "",
    }
    if mode == "push":
        env |= {"REDIS_URL": redis_url, "REDIS_PREFIX": f"bench-{os.getpid()}:"}
    (home / f"metrics-{mode}").mkdir()
    for args, stdin in ((["db", "upgrade"], None), (["users", "create", "bench", "--role",
                        "viewer", "--password-stdin"], PASSWORD + "\n")):  # fmt: skip
        subprocess.run([sys.executable, "-m", "backend", *args], env=env, cwd=ROOT, check=True,
                       capture_output=True, input=stdin, text=True)  # fmt: skip
    settings = Settings(
        _env_file=None,
        database_url=env["DATABASE_URL"],
        redis_url=env.get("REDIS_URL"),
        redis_prefix=env.get("REDIS_PREFIX", "desk:"),
        markets=MARKETS,
    )
    sessions, cache = session_factory(settings), make_cache(settings)

    def commit(ask: Decimal) -> float:
        with sessions.begin() as session:
            ingest.store(session, cache, settings, book(ask), datetime.now(UTC))
        done = time.time()
        push.announce(cache, "prices", market=MARKET)
        return done

    commit(Decimal("320.00"))
    log = open(home / f"server-{mode}.log", "w")  # noqa: SIM115 (closed with the server)
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "--config", "backend/gunicorn_conf.py", "backend:create_app()"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    browser = None
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + "/login", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                sys.exit("the desk did not start")
            time.sleep(0.3)
        browser = chromium(home / f"chromium-{mode}")
        browser.get(base + "/login")
        browser.find_element(By.ID, "username").send_keys("bench")
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "login-submit").click()
        latencies = []
        for n in range(loads):
            browser.get(base + "/")
            WebDriverWait(browser, 20).until(
                lambda b: b.find_elements(By.CSS_SELECTOR, f'#prices-grid [row-id="{MARKET}"]')
            )
            time.sleep(1.0)  # the stream (if any) is open, the first poll is done
            ask = Decimal("400.00") + Decimal(n) + Decimal(random.randrange(100)) / 100
            shown = f"{ask:.2f} VES/USDT"
            browser.execute_script(WATCH, shown)
            time.sleep(random.uniform(0, 2))
            committed = commit(ask)
            try:
                WebDriverWait(browser, 10).until(lambda b: b.execute_script("return window.__seen"))
            except Exception:
                print(
                    browser.execute_script(
                        "return document.getElementById('prices-grid').innerText"
                    ),
                    shown,
                    browser.get_log("browser") if hasattr(browser, "get_log") else "",
                )
                raise
            seen = browser.execute_script("return window.__seen") / 1000
            latencies.append(seen - committed)
            print(f"{mode} load {n + 1}: {latencies[-1] * 1000:.0f} ms", file=sys.stderr)
        return latencies
    finally:
        if browser is not None:
            browser.quit()
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def chromium(profile: Path) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1366,900", f"--user-data-dir={profile}"):  # fmt: skip
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--modes", default="push,poll")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-freshness-"))
    results = {m: run(m, args.loads, args.redis_url, home) for m in args.modes.split(",")}
    print(f"{args.loads} page loads per mode; commit -> drawn in Chromium")
    print("| Mode | p50 | p95 | max |")
    print("|---|---|---|---|")
    for mode, values in results.items():
        print(
            f"| {mode} | {statistics.median(values) * 1000:.0f} ms | "
            f"{pct(values, 95) * 1000:.0f} ms | {max(values) * 1000:.0f} ms |"
        )


if __name__ == "__main__":
    main()
