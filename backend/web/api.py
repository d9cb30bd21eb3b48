"""JSON API beside the UI: prices, opportunities, trades. Decimals travel as strings.

Until logins arrive the API is open only where ``api_open`` says so (the embedded demo
by default; API_ENABLED=true elsewhere).
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from backend.desk import current_desk
from backend.market import prices
from backend.market.latest import errors as latest_errors
from backend.models import Opportunity, Trade
from backend.trading import opportunities, outbox, trades

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _gate():
    if not current_desk().settings.api_open:
        return jsonify(error="the JSON API is disabled here; set API_ENABLED=true to open it"), 403
    return None


@bp.errorhandler(trades.TradeRequestError)
def _bad_request(exc: trades.TradeRequestError):
    return jsonify(error=exc.message), exc.status


def opportunity_json(row: Opportunity) -> dict:
    return {
        "id": row.id,
        "strategy": row.strategy,
        "legs": row.legs,
        "size_usd": str(row.size_usd),
        "profit_usd": str(row.profit_usd),
        "profit_bps": str(row.profit_bps),
        "status": row.status,
        "first_seen": row.first_seen.isoformat(),
        "last_seen": row.last_seen.isoformat(),
        "expires_at": row.expires_at.isoformat(),
    }


def trade_json(row: Trade, with_events: list | None = None) -> dict:
    body = {
        "id": row.id,
        "opportunity_id": row.opportunity_id,
        "status": row.status,
        "strategy": row.strategy,
        "mode": row.mode,
        "requested_by": row.requested_by,
        "size_usd": str(row.size_usd),
        "expected_profit_usd": str(row.expected_profit_usd),
        "profit_usd": None if row.profit_usd is None else str(row.profit_usd),
        "error": row.error,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "legs": [
            {
                "seq": leg.seq,
                "market": leg.market,
                "side": leg.side,
                "method": leg.method,
                "price": str(leg.price),
                "sell_currency": leg.sell_currency,
                "sell_amount": str(leg.sell_amount),
                "buy_currency": leg.buy_currency,
                "buy_amount": str(leg.buy_amount),
                "fee": str(leg.fee),
            }
            for leg in row.legs
        ],
    }
    if with_events is not None:
        body["events"] = [
            {"at": e.at.isoformat(), "from": e.from_status, "to": e.to_status, "detail": e.detail}
            for e in with_events
        ]
    return body


@bp.get("/prices")
def list_prices():
    desk = current_desk()
    with desk.sessions() as session:
        refs = prices.references(session, desk.cache, desk.settings, desk.now())
        errors = latest_errors(session)
    return jsonify(prices=[prices.as_json(k, ref, errors.get(k)) for k, ref in refs.items()])


@bp.get("/opportunities")
def list_opportunities():
    desk = current_desk()
    with desk.sessions() as session:
        rows = opportunities.list_active(session, desk.now())
    return jsonify(opportunities=[opportunity_json(r) for r in rows])


@bp.post("/trades")
def create_trade():
    desk = current_desk()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise trades.TradeRequestError(
            'send a JSON object: {"opportunity_id": 1, "size": "500"}', 400
        )
    with desk.sessions.begin() as session:
        trade, created = trades.request_trade(
            session,
            opportunity_id=body.get("opportunity_id"),
            size=body.get("size"),
            key=request.headers.get("Idempotency-Key"),
            user="api",
            now=desk.now(),
        )
        trade_id = trade.id
    if created:
        outbox.publish(current_app.extensions["celery"], desk, trade_id)
    with desk.sessions() as session:
        return jsonify(trade_json(session.get(Trade, trade_id))), 201 if created else 200


@bp.get("/trades")
def list_trades():
    desk = current_desk()
    with desk.sessions() as session:
        return jsonify(trades=[trade_json(t) for t in trades.recent(session)])


@bp.get("/trades/<int:trade_id>")
def get_trade(trade_id: int):
    desk = current_desk()
    with desk.sessions() as session:
        trade = session.get(Trade, trade_id)
        if trade is None:
            return jsonify(error=f"trade {trade_id} does not exist"), 404
        return jsonify(trade_json(trade, trades.events(session, trade_id)))
