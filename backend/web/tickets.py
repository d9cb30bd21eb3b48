"""Operator tickets over JSON: list them, confirm what was done, or cancel.

Confirming and cancelling need the trader role; a confirmation puts the trade back on
the trading queue so the executor goes on with the next leg, and so does a cancellation
that unwinds the trade.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from backend.desk import current_desk
from backend.trading import outbox, tickets, trades
from backend.trading.quotes import fees_from
from backend.web.access import TRADER, VIEWER, access
from backend.web.auth import current_actor

bp = Blueprint("tickets", __name__, url_prefix="/api/v1/tickets")
STATUSES = (tickets.OPEN, tickets.CONFIRMED, tickets.CANCELLED)
CONFIRM_FIELDS = {"sold", "bought", "fee", "reference"}


@bp.errorhandler(tickets.TicketError)
def _refused(exc: tickets.TicketError):
    return jsonify(error=exc.message, status=exc.status), exc.status


def _body(allowed: set[str], required: set[str]) -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise tickets.TicketError(f"send a JSON object with {', '.join(sorted(required))}", 400)
    unknown, missing = set(body) - allowed, required - set(body)
    if unknown:
        raise tickets.TicketError(f"unknown field(s): {', '.join(sorted(unknown))[:200]}", 400)
    if missing:
        raise tickets.TicketError(f"missing field(s): {', '.join(sorted(missing))}", 400)
    return body


@bp.get("")
@access(VIEWER)
def list_tickets():
    """``?status=open|confirmed|cancelled``; newest first."""
    status = request.args.get("status")
    if status is not None and status not in STATUSES:
        raise tickets.TicketError(f"status must be one of {', '.join(STATUSES)}")
    desk = current_desk()
    with desk.sessions() as session:
        rows = tickets.listing(session, status)
        places = tickets.unwind_places(session, rows)
        return jsonify(tickets=[tickets.as_json(t, desk.now(), places.get(t.id)) for t in rows])


@bp.post(f"/<int(max={trades.MAX_ID}):ticket_id>/confirm")
@access(TRADER)
def confirm(ticket_id: int):
    """Body ``{"sold": "500000", "bought": "1520.1", "fee": "0", "reference": "..."}``."""
    body = _body(CONFIRM_FIELDS, CONFIRM_FIELDS - {"fee"})
    desk = current_desk()
    with desk.sessions.begin() as session:
        ticket = tickets.confirm(
            session,
            ticket_id,
            sold=body["sold"],
            bought=body["bought"],
            fee=body.get("fee", "0"),
            reference=body["reference"],
            actor=current_actor(),
            now=desk.now(),
            fees=fees_from(desk.settings),
        )
        trade_id, answer = ticket.trade_id, _one(session, ticket, desk.now())
    outbox.publish(current_app.extensions["celery"], desk, trade_id)
    return jsonify(answer)


@bp.post(f"/<int(max={trades.MAX_ID}):ticket_id>/cancel")
@access(TRADER)
def cancel(ticket_id: int):
    """Body ``{"reason": "advertiser did not answer"}``: the trade ends cancelled, or
    unwinds what its earlier legs bought."""
    body = _body({"reason"}, {"reason"})
    desk = current_desk()
    with desk.sessions.begin() as session:
        ticket = tickets.cancel(
            session, ticket_id, reason=body["reason"], actor=current_actor(), now=desk.now()
        )
        trade_id, answer = ticket.trade_id, _one(session, ticket, desk.now())
        unwinds = tickets.requeues(session, ticket)
    if unwinds:
        outbox.publish(current_app.extensions["celery"], desk, trade_id)
    return jsonify(answer)


def _one(session, ticket, now) -> dict:
    return tickets.as_json(ticket, now, tickets.unwind_places(session, [ticket]).get(ticket.id))
