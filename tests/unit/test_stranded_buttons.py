"""The Trades page's buttons on a stranded trade: a trader retries its unwind, an admin
closes it holding with a reason. The callbacks run through the same guard and domain as
the API; whoever lacks the role is refused by the server, and a refusal changes nothing."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest
from dash._utils import split_callback_id

from backend.trading import trades
from tests.conftest import api_client
from tests.unit.test_stranded import state
from tests.unit.test_unwind_execution import stopped_after_leg_1

UPDATE = "/_dash-update-component"


def _key(app, *parts: str) -> str:
    return next(k for k in app.extensions["dash"].callback_map if all(p in k for p in parts))


def _pressed(kind: str, trade_id: int) -> dict:
    return {
        "inputs": [[{"id": {"type": kind, "trade": trade_id}, "property": "n_clicks", "value": 1}]],
        "changedPropIds": [
            json.dumps({"trade": trade_id, "type": kind}, separators=(",", ":")) + ".n_clicks"
        ],
    }


DETAIL = "..trades-detail.children...trades-shown.data.."  # the selection's callback


def detail_body(trade_id: int) -> dict:
    return {
        "output": DETAIL,
        "outputs": split_callback_id(DETAIL),
        "inputs": [{"id": "trades-grid", "property": "selectedRows", "value": [{"id": trade_id}]}],
        "changedPropIds": ["trades-grid.selectedRows"],
    }


def retry_body(app, trade_id: int) -> dict:
    key = _key(app, "trades-acted.data", "trades-action.children..")
    return {"output": key, "outputs": split_callback_id(key)} | _pressed("trade-retry", trade_id)


def open_body(app, trade_id: int) -> dict:
    key = _key(app, "close-modal.is_open..")
    body = {"output": key, "outputs": split_callback_id(key)} | _pressed("trade-close", trade_id)
    body["inputs"].append({"id": "close-cancel", "property": "n_clicks", "value": None})
    return body


def confirm_body(app, trade_id: int, reason: object) -> dict:
    key = _key(app, "close-problem.children@")
    return {
        "output": key,
        "outputs": split_callback_id(key),
        "inputs": [{"id": "close-confirm", "property": "n_clicks", "value": 1}],
        "state": [
            {"id": "close-reason", "property": "value", "value": reason},
            {"id": "close-trade", "property": "data", "value": trade_id},
        ],
        "changedPropIds": ["close-confirm.n_clicks"],
    }


def response(r) -> dict:
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    return r.json["response"]


def last_event(desk, trade_id: int):
    with desk.sessions() as session:
        return trades.events(session, trade_id)[-1]


# --- what each role sees -----------------------------------------------------------------


def test_each_role_sees_the_buttons_it_may_press_and_why_not_the_others(app, stranded_trade):
    def shown(role):
        r = api_client(app, role).post(UPDATE, json=detail_body(stranded_trade))
        return json.dumps(response(r)["trades-detail"])

    viewer = shown("viewer")
    assert '"trade-retry-off"' in viewer and '"trade-close-off"' in viewer
    assert "Retrying the unwind needs the trader role; your role is viewer." in viewer
    assert "Closing holding needs the admin role; your role is viewer." in viewer
    assert '"type": "trade-retry"' not in viewer  # no button a callback listens to

    trader = shown("trader")
    assert '"type": "trade-retry"' in trader and '"trade-close-off"' in trader
    assert "Closing holding needs the admin role; your role is trader." in trader
    assert "Retrying the unwind needs" not in trader

    admin = shown("admin")
    assert '"type": "trade-retry"' in admin and '"type": "trade-close"' in admin
    assert "trade-actions-why-not" not in admin


def test_a_trade_that_is_not_stranded_has_no_buttons(app, client, desk, opportunity):
    trade_id = stopped_after_leg_1(client, desk, opportunity)  # unwinding
    r = api_client(app, "admin").post(UPDATE, json=detail_body(trade_id))
    text = json.dumps(response(r)["trades-detail"])
    assert f"Trade #{trade_id}" in text and "trade-actions" not in text


# --- retry the unwind --------------------------------------------------------------------


def test_a_trader_retries_the_unwind_from_the_detail(app, desk, stranded_trade, sent):
    r = api_client(app, "trader").post(UPDATE, json=retry_body(app, stranded_trade))
    out = response(r)
    assert f"Trade #{stranded_trade}: unwind sent to the worker." in json.dumps(
        out["trades-action"]
    )
    assert sent == [stranded_trade]
    event = last_event(desk, stranded_trade)
    assert (event.actor, event.detail) == ("test-trader", "unwind retried by test-trader")
    assert "unwind retried by test-trader" in json.dumps(out["trades-detail"])  # re-rendered
    assert isinstance(out["trades-acted"]["data"], float)  # the grid re-reads its rows


def test_buttons_rendered_anew_run_the_callbacks_without_a_click_and_change_nothing(
    app, desk, stranded_trade, sent
):
    before = state(desk, stranded_trade)
    for body in (retry_body(app, stranded_trade), open_body(app, stranded_trade)):
        body["inputs"][0][0]["value"] = 0  # as Dash sends it when the detail shows them
        body["changedPropIds"] = []
        r = api_client(app, "admin").post(UPDATE, json=body)
        assert response(r) == {}  # nothing to update
    assert sent == []
    assert state(desk, stranded_trade) == before


def test_a_viewer_crafting_the_retry_callback_is_refused_and_nothing_changes(
    app, desk, stranded_trade, sent
):
    before = state(desk, stranded_trade)
    r = api_client(app, "viewer").post(UPDATE, json=retry_body(app, stranded_trade))
    assert r.status_code == 403
    assert sent == []
    assert state(desk, stranded_trade) == before


def test_retrying_what_is_no_longer_stranded_is_refused_and_changes_nothing(
    app, client, desk, opportunity, sent
):
    trade_id = stopped_after_leg_1(client, desk, opportunity)
    sent.clear()
    before = state(desk, trade_id)
    r = api_client(app, "trader").post(UPDATE, json=retry_body(app, trade_id))
    text = json.dumps(response(r)["trades-action"])
    assert f"Trade #{trade_id} is unwinding, no longer stranded: nothing was changed." in text
    assert sent == []
    assert state(desk, trade_id) == before


def test_a_broker_that_refuses_the_retry_is_named(app, desk, stranded_trade, monkeypatch):
    from backend.trading import outbox

    monkeypatch.setattr(outbox, "send", lambda celery, trade_id: False)
    r = api_client(app, "trader").post(UPDATE, json=retry_body(app, stranded_trade))
    assert "the sweeper tries again within 5 minutes" in json.dumps(response(r)["trades-action"])


# --- close holding -----------------------------------------------------------------------


def test_only_an_admin_opens_the_close_dialog(app, stranded_trade):
    for role in ("viewer", "trader"):
        r = api_client(app, role).post(UPDATE, json=open_body(app, stranded_trade))
        assert r.status_code == 403
    out = response(api_client(app, "admin").post(UPDATE, json=open_body(app, stranded_trade)))
    assert out["close-modal"]["is_open"] is True
    assert out["close-trade"]["data"] == stranded_trade
    assert out["close-title"]["children"] == (
        f"Close trade #{stranded_trade} holding what it bought"
    )


def test_an_admin_closes_it_with_a_reason_the_status_and_event_move(app, desk, stranded_trade):
    admin = api_client(app, "admin")
    out = response(admin.post(UPDATE, json=confirm_body(app, stranded_trade, " keep the VES ")))
    assert out["close-modal"]["is_open"] is False
    assert f"Trade #{stranded_trade} closed, profit -1,000.00 USD." in json.dumps(
        out["trades-action"]
    )
    assert state(desk, stranded_trade)[:2] == ("closed", D("-1000"))
    event = last_event(desk, stranded_trade)
    assert (event.from_status, event.to_status, event.actor) == ("stranded", "closed", "test-admin")
    assert event.detail == "closed holding by test-admin: keep the VES; profit -1000.00 USD"
    detail = json.dumps(out["trades-detail"])
    assert "trade-actions" not in detail  # closed: no buttons any more
    # pressed again (a second tab): refused, and it says what the trade is now
    again = response(admin.post(UPDATE, json=confirm_body(app, stranded_trade, "twice")))
    assert f"Trade #{stranded_trade} is closed, no longer stranded" in json.dumps(
        again["trades-action"]
    )
    assert last_event(desk, stranded_trade).detail == event.detail


@pytest.mark.parametrize("reason", [None, "", "   ", "x" * 501, "a\nb"])
def test_an_empty_or_too_long_reason_keeps_the_dialog_open_and_changes_nothing(
    app, desk, stranded_trade, reason
):
    before = state(desk, stranded_trade)
    r = api_client(app, "admin").post(UPDATE, json=confirm_body(app, stranded_trade, reason))
    out = response(r)
    assert "Give a reason of 1 to 500 characters, on one line." in json.dumps(out["close-problem"])
    assert "close-modal" not in out  # still open, to fix the reason
    assert state(desk, stranded_trade) == before


def test_a_reason_of_exactly_500_characters_closes_it(app, desk, stranded_trade):
    r = api_client(app, "admin").post(UPDATE, json=confirm_body(app, stranded_trade, "x" * 500))
    response(r)
    assert state(desk, stranded_trade)[0] == "closed"


@pytest.mark.parametrize("role", ["viewer", "trader"])
def test_a_crafted_close_by_a_non_admin_is_refused_and_nothing_changes(
    app, desk, stranded_trade, role
):
    before = state(desk, stranded_trade)
    r = api_client(app, role).post(UPDATE, json=confirm_body(app, stranded_trade, "keep it"))
    assert r.status_code == 403
    assert state(desk, stranded_trade) == before


def test_a_close_callback_no_dialog_would_send_is_a_400(app, desk, stranded_trade):
    before = state(desk, stranded_trade)
    admin = api_client(app, "admin")
    assert admin.post(UPDATE, json=confirm_body(app, "1", "keep")).status_code == 400
    assert admin.post(UPDATE, json=confirm_body(app, stranded_trade, 5)).status_code == 400
    assert admin.post(UPDATE, json=confirm_body(app, 2**63, "keep")).status_code == 400
    assert admin.post(UPDATE, json=retry_body(app, 2**63)).status_code == 400
    assert state(desk, stranded_trade) == before


def test_the_refusal_speaks_spanish(app, desk, stranded_trade):
    admin = api_client(app, "admin")
    body = confirm_body(app, stranded_trade, "")
    out = response(admin.post(UPDATE, json=body, headers={"Accept-Language": "es"}))
    assert "Indique un motivo de 1 a 500 caracteres, en una sola línea." in json.dumps(
        out["close-problem"], ensure_ascii=False
    )


# --- the page follows ---------------------------------------------------------------------


def follow_body(app, shown: dict | None, acted: float | None) -> dict:
    key = _key(app, "trades-shown.data@", "trades-action.children@")
    return {
        "output": key,
        "outputs": split_callback_id(key),
        "inputs": [
            {"id": "trades-push", "property": "data", "value": None},
            {"id": "trades-tick", "property": "n_intervals", "value": 3},
        ],
        "state": [
            {"id": "trades-shown", "property": "data", "value": shown},
            {"id": "trades-acted", "property": "data", "value": acted},
        ],
        "changedPropIds": ["trades-tick.n_intervals"],
    }


def updated(r) -> dict:
    """The outputs a callback changed (none: Dash answers 204)."""
    return {} if r.status_code == 204 else response(r)


def test_the_shown_detail_is_rendered_again_only_when_the_trade_changed(app, desk, stranded_trade):
    viewer = api_client(app, "viewer")
    r = viewer.post(UPDATE, json=detail_body(stranded_trade))
    shown = response(r)["trades-shown"]["data"]
    assert shown["id"] == stranded_trade and "stranded" in shown["version"]
    assert updated(viewer.post(UPDATE, json=follow_body(app, shown, None))) == {}  # the same

    r = api_client(app, "admin").post(UPDATE, json=confirm_body(app, stranded_trade, "keep it"))
    assert "closed" in json.dumps(response(r)["trades-action"])
    out = response(viewer.post(UPDATE, json=follow_body(app, shown, None)))
    assert '"closed"' in json.dumps(out["trades-detail"])  # its badge
    assert "closed" in out["trades-shown"]["data"]["version"]


def test_an_actions_notice_goes_once_nothing_is_stranded_and_it_was_read(app, desk, stranded_trade):
    viewer = api_client(app, "viewer")
    now = desk.now().timestamp()
    assert updated(viewer.post(UPDATE, json=follow_body(app, None, now - 60))) == {}

    api_client(app, "admin").post(UPDATE, json=confirm_body(app, stranded_trade, "keep it"))
    assert updated(viewer.post(UPDATE, json=follow_body(app, None, now))) == {}  # just shown
    out = response(viewer.post(UPDATE, json=follow_body(app, None, now - 60)))
    assert out["trades-action"]["children"] is None


@pytest.mark.parametrize(
    "shown,acted,status",
    [
        ({"id": 2**70, "version": "x"}, None, 200),  # beyond the column: no such trade
        ({"id": "1; drop", "version": "x"}, None, 204),  # not an id: nothing to follow
        ([1], None, 400),
        (None, "yesterday", 400),
    ],
)
def test_hostile_follow_values_are_answered_not_failed(app, shown, acted, status):
    r = api_client(app, "viewer").post(UPDATE, json=follow_body(app, shown, acted))
    assert r.status_code == status or (status == 204 and updated(r) == {}), r.text[:300]
    if status == 200:
        assert "does not exist" in r.text
