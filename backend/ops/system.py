"""What the System page shows beside the health probes: each worker's last heartbeat,
where Grafana, Prometheus and RabbitMQ's management UI are, and which Grafana panels
to embed (``/d-solo/`` URLs, when GRAFANA_URL is set)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode, urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.models import Setting
from tasks.heartbeat import WORKER

ALIVE_SECONDS = 20.0  # beat sends a heartbeat every 5 s; the health probe allows 20 s

# (dashboard uid, panel id, what it shows): the panels an operator reads first.
PANELS = (
    ("p2p-system-overview", 7, "Health probes"),
    ("p2p-system-overview", 16, "Messages waiting per queue"),
    ("p2p-performance", 5, "Dash callback p95 latency"),
    ("p2p-business", 12, "Trades per minute by status"),
)
DASHBOARDS = ("p2p-system-overview", "p2p-performance", "p2p-business")


@dataclass(frozen=True)
class WorkerBeat:
    name: str
    at: datetime
    age_seconds: float
    alive: bool


def worker_beats(session: Session, now: datetime) -> list[WorkerBeat]:
    """Every worker that ever beat, newest first; alive if it beat in ALIVE_SECONDS."""
    rows = session.execute(
        select(Setting.key, Setting.value).where(Setting.key.startswith(WORKER))
    ).all()
    beats = []
    for key, value in rows:
        at = datetime.fromisoformat(value)
        age = max(0.0, (now - at).total_seconds())
        beats.append(WorkerBeat(key.removeprefix(WORKER), at, age, age <= ALIVE_SECONDS))
    return sorted(beats, key=lambda b: b.age_seconds)


def _base(url: str | None) -> str | None:
    """The URL without credentials or a trailing slash (links are shown to people)."""
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def links(settings: Settings) -> dict[str, str | None]:
    """Tool (``grafana:<uid>``, ``prometheus``, ``alerts``, ``rabbitmq``) -> the URL
    operators open next (None: not configured)."""
    grafana = _base(settings.grafana_url)
    found = {f"grafana:{uid}": grafana and f"{grafana}/d/{uid}" for uid in DASHBOARDS}
    found["prometheus"] = _base(settings.prometheus_url)
    found["alerts"] = found["prometheus"] and found["prometheus"] + "/alerts"
    found["rabbitmq"] = _base(settings.rabbitmq_ui_url)
    return found


def grafana_panels(settings: Settings, theme: str = "light") -> list[tuple[str, str]]:
    """(title, iframe URL) of the panels to embed; none without GRAFANA_URL."""
    grafana = _base(settings.grafana_url)
    if not grafana:
        return []
    query = {"orgId": 1, "theme": theme, "from": "now-1h", "to": "now", "refresh": "30s"}
    return [
        (title, f"{grafana}/d-solo/{uid}/_?{urlencode(query | {'panelId': panel})}")
        for uid, panel, title in PANELS
    ]
