"""Operator tickets pinned on the Trades page: everyone sees what to do on Binance, only
a trader confirms or cancels, and a confirmation settles the leg through the tickets
module (the trade is requested again)."""

from __future__ import annotations

import json

import pytest

from backend.models import OperatorTicket, Trade
from tests.conftest import api_client
from tests.unit.test_tickets import awaiting_trade, open_sell  # noqa: F401 (fixture)


def refresh_body():
    return {
        "output": "..tickets-panel.children...tickets-shown.data..",
        "outputs": [
            {"id": "tickets-panel", "property": "children"},
            {"id": "tickets-shown", "property": "data"},
        ],
        "inputs": [
            {"id": "trades-push", "property": "data", "value": None},
            {"id": "trades-tick", "property": "n_intervals", "value": 1},
        ],
        "state": [{"id": "tickets-shown", "property": "data", "value": []}],
        "changedPropIds": ["trades-tick.n_intervals"],
    }


def act_body(app, ticket_id: int, button: str, **fields):
    key = next(k for k in app.extensions["dash"].callback_map if "tickets-result.children" in k)
    from dash._utils import split_callback_id

    def entries(kind, value=None):
        return [{"id": {"type": kind, "ticket": ticket_id}, "property": "value", "value": value}]

    trigger = {"type": f"ticket-{button}", "ticket": ticket_id}
    return {
        "output": key,
        "outputs": split_callback_id(key),
        "inputs": [
            [
                {
                    "id": {"type": "ticket-confirm", "ticket": ticket_id},
                    "property": "n_clicks",
                    "value": 1 if button == "confirm" else None,
                }
            ],
            [
                {
                    "id": {"type": "ticket-cancel", "ticket": ticket_id},
                    "property": "n_clicks",
                    "value": 1 if button == "cancel" else None,
                }
            ],
        ],
        "state": [
            entries(f"ticket-{name}", fields.get(name))
            for name in ("sold", "bought", "fee", "reference", "reason")
        ],
        "changedPropIds": [
            json.dumps(trigger, sort_keys=True, separators=(",", ":")) + ".n_clicks"
        ],
    }


def ticket_status(desk, ticket_id):
    with desk.sessions() as session:
        return session.get(OperatorTicket, ticket_id).status


def test_everyone_sees_the_open_ticket_and_what_to_do(app, desk, awaiting_trade):  # noqa: F811
    open_sell(desk, awaiting_trade)
    r = api_client(app, "viewer").post("/_dash-update-component", json=refresh_body())
    text = r.get_data(as_text=True)
    assert "Operator tickets awaiting confirmation (1)" in text
    assert "CambiosRich" in text and "release" in text
    assert "A trader confirms this ticket." in text  # a viewer gets no form


def test_a_trader_confirms_what_was_done_and_the_trade_goes_on(app, desk, awaiting_trade):  # noqa: F811
    ticket_id = open_sell(desk, awaiting_trade).ticket_id
    trader = api_client(app, "trader")
    body = act_body(app, ticket_id, "confirm", sold="500", bought="164800", reference="BN-9")
    r = trader.post("/_dash-update-component", json=body)
    assert r.status_code == 200 and "confirmed; the trade goes on" in r.get_data(as_text=True)
    assert ticket_status(desk, ticket_id) == "confirmed"
    with desk.sessions() as session:
        assert session.get(Trade, awaiting_trade).status in ("requested", "queued")


def test_a_bad_confirmation_says_why_and_changes_nothing(app, desk, awaiting_trade):  # noqa: F811
    ticket_id = open_sell(desk, awaiting_trade).ticket_id
    body = act_body(app, ticket_id, "confirm", sold="lots", bought="1", reference="x")
    r = api_client(app, "trader").post("/_dash-update-component", json=body)
    assert r.status_code == 200 and "sold" in r.get_data(as_text=True)
    assert ticket_status(desk, ticket_id) == "open"


def test_a_viewer_cannot_confirm_through_a_hand_made_callback(app, desk, awaiting_trade):  # noqa: F811
    ticket_id = open_sell(desk, awaiting_trade).ticket_id
    body = act_body(app, ticket_id, "cancel", reason="no answer")
    r = api_client(app, "viewer").post("/_dash-update-component", json=body)
    assert r.status_code == 403
    assert ticket_status(desk, ticket_id) == "open"
    r = api_client(app, "trader").post("/_dash-update-component", json=body)
    assert "cancelled" in r.get_data(as_text=True)
    assert ticket_status(desk, ticket_id) == "cancelled"


def _one_click_not_a_list(body):
    body["inputs"][0] = body["inputs"][0][0]


def _state_id_a_string(body):
    body["state"][0][0]["id"] = "ticket-sold"


def _state_id_other_keys(body):
    body["state"][0][0]["id"] = {"type": "ticket-sold"}


@pytest.mark.parametrize("spoil", [_one_click_not_a_list, _state_id_a_string, _state_id_other_keys])
def test_a_ticket_callback_no_panel_would_send_is_a_400(app, desk, awaiting_trade, spoil):  # noqa: F811
    """Every ticket's buttons and fields arrive as lists of pattern ids (``ALL``); anything
    else is refused before the callback reads it."""
    ticket_id = open_sell(desk, awaiting_trade).ticket_id
    body = act_body(app, ticket_id, "cancel", reason="no answer")
    spoil(body)
    r = api_client(app, "trader").post("/_dash-update-component", json=body)
    assert r.status_code == 400 and "declared" in r.get_data(as_text=True)
    assert ticket_status(desk, ticket_id) == "open"
