"""JSON API beside the UI: prices, opportunities, trades, controls. Decimals travel as
strings. Every route names the least role it needs; scripts send a bearer token, the
browser its session (and then a CSRF token on writes).
"""

from __future__ import annotations

import functools
from pathlib import Path

import yaml
from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context
from flask_babel import gettext as _
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.attributes import set_committed_value

from backend.desk import current_desk
from backend.market import board, rates
from backend.models import Opportunity, Trade
from backend.resilience import Unavailable
from backend.trading import (
    balances,
    controls,
    ledger,
    opportunities,
    outbox,
    quotes,
    reasons,
    stranded,
    trade_days,
    trade_history,
    trades,
)
from backend.web.access import ADMIN, PUBLIC, TRADER, VIEWER, access
from backend.web.auth import current_actor, via
from backend.web.security import trade_wait_seconds

bp = Blueprint("api", __name__, url_prefix="/api/v1")
OPENAPI = Path(__file__).with_name("openapi.yaml")


def failure(message: str, status: int):
    """An error as every route answers one: ``{"error": ..., "status": N}``."""
    return jsonify(error=message, status=status), status


@bp.errorhandler(trades.TradeRequestError)
def _bad_request(exc: trades.TradeRequestError):
    response = jsonify(error=exc.message, status=exc.status)
    if exc.retry_after:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response, exc.status


@bp.errorhandler(trade_history.FilterError)
def _bad_filter(exc: trade_history.FilterError):
    return failure(str(exc), 422)


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
                "price_after_slippage": _text(trade_history.price_after_slippage(leg)),
            }
            for leg in row.legs
        ],
    }
    if with_events is not None:
        body["events"] = [
            {
                "at": e.at.isoformat(),
                "from": e.from_status,
                "to": e.to_status,
                "actor": e.actor,
                "detail": e.detail,
            }
            for e in with_events
        ]
    return body


def _text(value) -> str | None:
    return None if value is None else str(value)


@functools.cache
def openapi() -> dict:
    """The spec, with the trade statuses filled in from the one list of them."""
    spec = yaml.safe_load(OPENAPI.read_text())
    spec["components"]["parameters"]["Status"]["schema"]["enum"] = list(trades.STATUSES)
    return spec


@bp.get("/openapi.json")
@access(PUBLIC)
def openapi_json():
    """The contract of this API (OpenAPI 3), checked against the app by schemathesis."""
    return jsonify(openapi())


@bp.get("/prices")
@access(VIEWER)
def list_prices():
    """The boards as ingest stored them, plus age and staleness (no ORM, no re-encoding)."""
    desk = current_desk()
    found = board.lines_now(desk.engine, desk.settings, desk.now(), desk.boards)
    return Response(board.as_text(found), mimetype="application/json")


@bp.get("/rates")
@access(VIEWER)
def list_rates():
    """Corridor rates at ``?size=`` USD (the default ticket otherwise)."""
    desk = current_desk()
    raw = request.args.get("size")
    size = trades.parse_size(raw, desk.settings.min_ticket_usd) if raw else None
    if raw == "":  # given, but empty: to the opportunity's size "" means its own; here none
        raise trades.TradeRequestError(trades.SIZE_TYPE)
    with desk.sessions() as session:
        board = rates.board(
            session, desk.cache, desk.settings, desk.now(), size or desk.settings.default_ticket_usd
        )
    return jsonify(rates=[rates.as_json(r) for r in board])


@bp.post("/rates/margins")
@access(ADMIN)
def set_margin():
    """Body ``{"corridor": "COP->VES", "margin": "0.03", "reason": "..."}``: the house's
    margin on that corridor, recorded in the control history."""
    desk = current_desk()
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or set(body) != {"corridor", "margin", "reason"}:
        return failure('send {"corridor": "COP->VES", "margin": "0.03", "reason": "..."}', 400)
    corridor, margin, reason = body["corridor"], body["margin"], body["reason"]
    if not all(isinstance(v, str) and 0 < len(v.strip()) <= 500 for v in (corridor, margin)):
        return failure("corridor and margin are non-empty strings", 400)
    try:
        reason = reasons.clean(reason)
    except ValueError as exc:
        return failure(str(exc), 400)
    try:
        name = rates.Corridor.parse(corridor).name
        if name not in desk.settings.corridors:
            raise ValueError(f"{name} is not a configured corridor")
        with desk.sessions.begin() as session:
            controls.change(
                session,
                controls.MARGIN + name,
                margin,
                actor=current_actor(),
                now=desk.now(),
                reason=reason,
            )
    except ValueError as exc:
        return failure(str(exc)[:300], 422)
    return list_rates()


@bp.get("/opportunities")
@access(VIEWER)
def list_opportunities():
    desk = current_desk()
    with desk.sessions() as session:
        rows = opportunities.list_active(session, desk.now())
    return jsonify(opportunities=[opportunity_json(r) for r in rows])


@bp.post("/trades")
@access(TRADER)
def create_trade():
    desk = current_desk()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise trades.TradeRequestError(
            'send a JSON object: {"opportunity_id": 1, "size": "500"}', 400
        )
    unknown = set(body) - {"opportunity_id", "size"}
    if unknown:
        raise trades.TradeRequestError(f"unknown field(s): {', '.join(sorted(unknown))[:200]}", 400)
    wait = trade_wait_seconds(current_actor(), desk.settings.trade_rate_limit)
    if wait:
        raise trades.TradeRequestError(
            f"too many trade requests; try again in {wait} s", 429, retry_after=wait
        )
    now = desk.now()
    with desk.sessions.begin() as session:
        trade, created = trades.request_trade(
            session,
            opportunity_id=body.get("opportunity_id"),
            size=body.get("size"),
            key=request.headers.get("Idempotency-Key"),
            user=current_actor(),
            now=now,
            via=via(),
            min_size=desk.settings.min_ticket_usd,
            reprice=lambda legs, size: quotes.reprice(
                session, desk.cache, desk.settings, legs, size, now
            ),
            mode=desk.settings.trading_mode,
        )
        trade_id = trade.id
    if created and (queued_at := outbox.publish(current_app.extensions["celery"], desk, trade_id)):
        # the row as stored and then marked, no legs yet: answered without reading it back
        for key, value in (("status", "queued"), ("updated_at", queued_at), ("legs", [])):
            set_committed_value(trade, key, value)
        return jsonify(trade_json(trade)), 201
    try:
        with desk.sessions() as session:
            return jsonify(trade_json(session.get(Trade, trade_id))), 201 if created else 200
    except (SQLAlchemyError, Unavailable):
        if not created:
            raise
    # Stored (committed above), but the database went before it could be read back: a 503
    # told the trader to try again for a trade that was in fact stored and then filled.
    set_committed_value(trade, "legs", [])
    return jsonify(trade_json(trade)), 201


@bp.get("/trades")
@access(VIEWER)
def list_trades():
    """One sorted page of the history, filtered (see trade_history.TradeFilter)."""
    desk = current_desk()
    flt = trade_history.TradeFilter.parse(request.args)
    page = trade_history.Page.parse(request.args, default_limit=200)
    with desk.sessions() as session:
        rows = trade_history.page(session, flt, page)
        return jsonify(trades=[trade_json(t) for t in rows], offset=page.offset, limit=page.limit)


@bp.get("/trades/summary")
@access(VIEWER)
def trades_summary():
    """Totals of the filtered set and its cumulative realized profit over time."""
    desk = current_desk()
    flt = trade_history.TradeFilter.parse(request.args)
    with desk.sessions() as session:
        found = trade_history.summary(session, desk.cache, flt)
    sums, curve = found.totals, found.pnl
    return jsonify(
        count=sums.count,
        by_status=sums.by_status,
        size_usd=str(sums.size_usd),
        expected_profit_usd=str(sums.expected_profit_usd),
        profit_usd=str(sums.profit_usd),
        realized=sums.realized,
        realized_size_usd=str(sums.realized_size_usd),
        realized_expected_usd=str(sums.realized_expected_usd),
        pnl=[{"at": at.isoformat(), "profit_usd": str(total)} for at, total in curve],
    )


@bp.get("/trades/export.csv")
@access(VIEWER)
def export_trades():
    """The filtered set as CSV, streamed row batch by row batch (any size, flat memory)."""
    desk = current_desk()
    flt = trade_history.TradeFilter.parse(request.args)
    page = trade_history.Page.parse(request.args)
    headers = export_headers()

    def rows():
        with desk.sessions() as session:
            yield from trade_history.export_csv(session, flt, page, headers)

    stamp = desk.now().strftime("%Y%m%dT%H%M%SZ")
    return Response(
        stream_with_context(rows()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="trades-{stamp}.csv"'},
    )


def export_headers() -> list[str]:
    """The CSV's column titles in the reader's language."""
    return [
        _("Trade"),
        _("Requested at (UTC)"),
        _("Requested by"),
        _("Strategy"),
        _("Mode"),
        _("Status"),
        _("Size USD"),
        _("Expected profit USD"),
        _("Profit USD"),
        _("Route"),
        _("Error"),
    ]


@bp.get(f"/trades/<int(max={trades.MAX_ID}):trade_id>")
@access(VIEWER)
def get_trade(trade_id: int):
    desk = current_desk()
    with desk.sessions() as session:
        trade = session.get(Trade, trade_id)
        if trade is None:
            return failure(f"trade {trade_id} does not exist", 404)
        body = trade_json(trade, trades.events(session, trade_id))
        body["postings"] = [
            {
                "at": p.at.isoformat(),
                "account": p.account,
                "currency": p.currency,
                "amount": ledger.plain(p.amount),
            }
            for p in trade_history.postings(session, trade_id)
        ]
        return jsonify(body)


@bp.post(f"/trades/<int(max={trades.MAX_ID}):trade_id>/retry-unwind")
@access(TRADER)
def retry_unwind(trade_id: int):
    """A stranded trade goes back to the worker now, not at the sweeper's next pass."""
    desk = current_desk()
    with desk.sessions.begin() as session:
        stranded.retry(session, trade_id, actor=current_actor(), now=desk.now())
    if not outbox.send(current_app.extensions["celery"], trade_id):
        raise trades.TradeRequestError(
            f"the trading queue would not take trade {trade_id}; the sweeper tries again "
            "within 5 minutes",
            503,
        )
    return get_trade(trade_id)


@bp.post(f"/trades/<int(max={trades.MAX_ID}):trade_id>/close")
@access(ADMIN)
def close_stranded(trade_id: int):
    """Body ``{"reason": "..."}``: the desk keeps what the stranded trade's legs bought."""
    desk = current_desk()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise trades.TradeRequestError('send a JSON object: {"reason": "..."}', 400)
    unknown = set(body) - {"reason"}
    if unknown:
        raise trades.TradeRequestError(f"unknown field(s): {', '.join(sorted(unknown))[:200]}", 400)
    stranded.close_now(
        desk.sessions, trade_id, reason=body.get("reason"), actor=current_actor(), now=desk.now()
    )
    return get_trade(trade_id)


@bp.get("/controls")
@access(VIEWER)
def get_controls():
    desk = current_desk()
    with desk.sessions() as session:
        now = controls.load(session, desk.settings)
        changes = controls.history(session, limit=50)
    return jsonify(
        controls=controls.as_strings(now),
        history=[
            {
                "at": c.at.isoformat(),
                "key": c.key,
                "from": c.old_value,
                "to": c.new_value,
                "actor": c.actor,
                "reason": c.reason,
            }
            for c in changes
        ],
    )


@bp.post("/controls")
@access(ADMIN)
def set_controls():
    """Body ``{"kill_switch": true, "reason": "bank outage"}`` (amounts as strings): every
    worker obeys it on its next trade. A bad value changes nothing, the others included."""
    desk = current_desk()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return failure('send a JSON object: {"kill_switch": true, "reason": "..."}', 400)
    try:
        reason = reasons.clean(body.pop("reason", None))
    except ValueError as exc:
        return failure(str(exc), 400)
    if not body:
        return failure(f"name a control to change: {', '.join(controls.VALIDATORS)}", 400)
    try:
        with desk.sessions.begin() as session:
            for key, value in body.items():
                if key not in controls.VALIDATORS and not key.startswith(controls.FLOOR):
                    raise ValueError(f"unknown control {key[:64]!r}")  # margins: own route
                kind = bool if key in controls.FLAGS else str
                if type(value) is not kind or (kind is str and len(value) > 64):
                    raise ValueError(
                        f"{key[:64]} must be "
                        + ("true or false" if kind is bool else "a string of at most 64 characters")
                    )
                controls.change(
                    session,
                    key[:64],
                    str(value).lower(),
                    actor=current_actor(),
                    now=desk.now(),
                    reason=reason,
                )
    except ValueError as exc:
        return failure(str(exc)[:300], 422)
    return get_controls()


def _unknown(body: dict, allowed: set[str]):
    """A 400 naming fields the route does not read: ignoring a misspelt one (``"ammount"``,
    ``"currency"``) would move money on a guess."""
    unknown = set(body) - allowed
    if unknown:
        return failure(f"unknown field(s): {', '.join(sorted(unknown))[:200]}", 400)
    return None


def _reason(body: dict) -> str:
    return reasons.clean(body.get("reason"))


@bp.post("/controls/pause")
@access(ADMIN)
def pause_trading():
    """The kill switch on: every new trade is refused at its next check."""
    return _switch(True)


@bp.post("/controls/resume")
@access(ADMIN)
def resume_trading():
    return _switch(False)


def _switch(on: bool):
    """Body ``{"reason": "..."}``, kept with who and when."""
    desk = current_desk()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return failure('send a JSON object: {"reason": "..."}', 400)
    if refused := _unknown(body, {"reason"}):
        return refused
    try:
        reason = _reason(body)
    except ValueError as exc:
        return failure(str(exc), 400)
    with desk.sessions.begin() as session:
        controls.pause(session, on, actor=current_actor(), now=desk.now(),
                       reason=reason)  # fmt: skip
    return get_controls()


def balances_json(session) -> dict:
    """Balances as plain decimal strings (PostgreSQL's NUMERIC(38,18) scale dropped)."""
    rows = balances.show(session)
    return {"balances": [{**row, "balance": ledger.plain(row["balance"])} for row in rows]}


@bp.get("/balances")
@access(VIEWER)
def get_balances():
    """What the house holds per account: the sums of the ledger's postings."""
    desk = current_desk()
    with desk.sessions() as session:
        return jsonify(balances_json(session))


@bp.post("/balances/deposit")
@access(ADMIN)
def deposit():
    return _move("deposit")


@bp.post("/balances/withdraw")
@access(ADMIN)
def withdraw():
    return _move("withdraw")


@bp.post("/balances/adjust")
@access(ADMIN)
def adjust():
    return _move("adjust")


@bp.post("/balances/transfer")
@access(ADMIN)
def transfer():
    """Body ``{"from": "binance:spot:USDT", "to": "binance:USDT", "amount": "5000",
    "reason": "..."}``: one entry between two house accounts of one currency."""
    desk = current_desk()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return failure('send a JSON object: {"from", "to", "amount", "reason"}', 400)
    if refused := _unknown(body, {"from", "to", "amount", "reason"}):
        return refused
    fields = [body.get(k) for k in ("from", "to", "amount")]
    if not all(isinstance(v, str) for v in fields):
        return failure("from, to and amount are strings", 422)
    try:
        reason = _reason(body)
        with desk.sessions.begin() as session:
            balances.transfer(session, *fields, actor=current_actor(), reason=reason,
                              now=desk.now())  # fmt: skip
    except ValueError as exc:
        return failure(str(exc)[:300], 409 if isinstance(exc, balances.Refused) else 422)
    with desk.sessions() as session:
        return jsonify(balances_json(session))


def _move(kind: str):
    """Body ``{"account": "binance:USDT", "amount": "1000", "reason": "..."}``: one
    journal entry against the owners' equity, recorded with who and why."""
    desk = current_desk()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return failure('send a JSON object: {"account", "amount", "reason"}', 400)
    if refused := _unknown(body, {"account", "amount", "reason"}):
        return refused
    account, amount = body.get("account"), body.get("amount")
    if not isinstance(account, str) or not isinstance(amount, str):
        return failure('account and amount are strings, e.g. "1000.50"', 422)
    try:
        reason = _reason(body)
        with desk.sessions.begin() as session:
            balances.move(session, kind, account, amount, actor=current_actor(),
                          reason=reason, now=desk.now())  # fmt: skip
    except ValueError as exc:
        return failure(str(exc)[:300], 409 if isinstance(exc, balances.Refused) else 422)
    with desk.sessions() as session:
        return jsonify(balances_json(session))


@bp.get("/ledger/check")
@access(VIEWER)
def check_ledger():
    """Every mismatch between profits, legs and postings, or between the history's daily
    totals and its trades; ``ok`` when there is none."""
    desk = current_desk()
    with desk.sessions() as session:
        problems = ledger.check(session) + trade_days.drift(session)
    return jsonify(ok=not problems, problems=problems)
