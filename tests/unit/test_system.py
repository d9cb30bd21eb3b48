"""The System page's sources: worker heartbeats, links without credentials, and the
Grafana panels to embed only when GRAFANA_URL is set."""

from datetime import timedelta

from backend.ops import system
from tasks import heartbeat
from tests.conftest import embedded_settings


def test_each_worker_is_alive_only_while_its_heartbeat_is_recent(desk):
    now = desk.now()
    with desk.sessions.begin() as session:
        heartbeat.record(session, now - timedelta(seconds=3), "celery@web-1")
        heartbeat.record(session, now - timedelta(seconds=45), "celery@old")
    with desk.sessions() as session:
        beats = system.worker_beats(session, now)
    assert [(b.name, b.alive, round(b.age_seconds)) for b in beats] == [
        ("celery@web-1", True, 3),
        ("celery@old", False, 45),
    ]


def test_links_never_show_credentials_and_are_absent_when_not_configured(tmp_path):
    bare = system.links(embedded_settings(tmp_path))
    assert set(bare.values()) == {None}
    found = system.links(
        embedded_settings(
            tmp_path,
            grafana_url="http://admin:secret@grafana.local:3001/",
            prometheus_url="http://localhost:9090",
            rabbitmq_ui_url="http://desk:pw@localhost:15672/",
        )
    )
    assert found["grafana:p2p-system-overview"] == "http://grafana.local:3001/d/p2p-system-overview"
    assert found["alerts"] == "http://localhost:9090/alerts"
    assert found["rabbitmq"] == "http://localhost:15672"
    assert not any("secret" in url or "pw@" in url for url in found.values())


def test_grafana_panels_are_solo_urls_of_provisioned_dashboards(tmp_path):
    assert system.grafana_panels(embedded_settings(tmp_path)) == []
    panels = system.grafana_panels(embedded_settings(tmp_path, grafana_url="http://g:3001"))
    title, url = panels[0]
    assert title == "Health probes"
    assert url.startswith("http://g:3001/d-solo/p2p-system-overview/_?orgId=1&theme=light")
    assert url.endswith("panelId=7")


def test_the_csp_lets_the_browser_frame_grafana_only_when_configured(tmp_path):
    from tests.conftest import prepared_app

    app = prepared_app(embedded_settings(tmp_path, grafana_url="http://g:3001"))
    csp = app.test_client().get("/login").headers["Content-Security-Policy"]
    assert "frame-src 'self' http://g:3001" in csp


def test_every_embedded_panel_exists_in_the_provisioned_dashboards():
    import json
    from pathlib import Path

    boards = {}
    for path in Path("grafana/dashboards").glob("*.json"):
        board = json.loads(path.read_text())
        boards[board["uid"]] = {p["id"]: p["title"] for p in board["panels"]}
    for uid, panel, title in system.PANELS:
        assert boards[uid][panel].startswith(title), (uid, panel)
    assert set(system.DASHBOARDS) == set(boards)
