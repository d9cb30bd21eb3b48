"""The banner over every page speaks the reader's language, as the page under it does."""

from __future__ import annotations

BANNER = {
    "output": "health-banner.children",
    "outputs": {"id": "health-banner", "property": "children"},
    "inputs": [{"id": "health-tick", "property": "n_intervals", "value": 1}],
    "changedPropIds": ["health-tick.n_intervals"],
}


def test_a_missing_worker_is_announced_in_spanish_to_a_spanish_reader(client):
    r = client.post("/_dash-update-component", json=BANNER, headers={"Accept-Language": "es"})
    assert r.status_code == 200, r.text[:300]
    assert "celery no responde (" in r.text  # no worker runs in the unit tests
    assert "los precios dejan de actualizarse y las operaciones no se ejecutarán." in r.text
    assert "is down" not in r.text


def test_a_paused_desk_says_so_over_every_page(client, desk):
    from backend.trading import controls

    assert "banner-paused" not in client.post("/_dash-update-component", json=BANNER).text
    with desk.sessions.begin() as session:
        controls.pause(session, True, actor="test-admin", now=desk.now(), reason="drill")
    r = client.post("/_dash-update-component", json=BANNER, headers={"Accept-Language": "es"})
    assert "banner-paused" in r.text and "interruptor de emergencia está activo" in r.text
