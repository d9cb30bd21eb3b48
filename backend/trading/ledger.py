"""The double-entry ledger: every movement of money is one journal entry whose postings
sum to zero in each currency, and a balance is the sum of an account's postings.

``fill_lines`` is pure (a trade's fills in, postings out); the rest reads and writes the
tables. A fill's entry is written in the fill's own transaction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext

from sqlalchemy import Integer, String, any_, bindparam, func, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from backend import db
from backend.market.book import Market
from backend.models import Account, JournalEntry, Posting
from backend.trading import accounts
from backend.trading.execution import LegFill

ZERO = Decimal("0")
# Digits kept when Python adds postings up: NUMERIC(38, 18) amounts, summed over any
# number of rows, fit with room; the default 28 would round a large amount's last places.
SUM_DIGITS = 60


@dataclass(frozen=True)
class Line:
    account: str
    amount: Decimal  # + into the account, - out of it

    @property
    def currency(self) -> str:
        return accounts.currency_of(self.account)


def plain(amount: Decimal) -> str:
    """An amount as people read it: no exponent, no trailing zeros."""
    return format(amount.normalize(), "f")


def leg_lines(f: LegFill, next_src: str | None = None) -> list[Line]:
    """Postings for one filled leg: the house pays the counterparty, receives the gross,
    pays the taker fee (and any commission taken in another asset, e.g. BNB), then moves
    the proceeds (less the transfer fee) to ``next_src``, the account the next leg pays
    from, when that is another account."""
    leg = f.leg
    venue = Market.parse(leg.market).venue.value
    taker = f.fee - f.transfer
    landed = f.buy_amount + f.transfer  # after the taker fee
    lines = [
        Line(f.src_account, -f.sell_amount),
        Line(accounts.counterparty(leg.market, leg.src), f.sell_amount),
        Line(accounts.counterparty(leg.market, leg.dst), -(landed + taker)),
        Line(accounts.fees(venue, leg.dst), taker),
        Line(f.dst_account, landed),
    ]
    for currency, amount in f.fees_elsewhere:  # paid from the house's own holding of it
        lines += [
            Line(accounts.house(leg.market, leg.method, currency), amount.copy_negate()),
            Line(accounts.fees(venue, currency), amount),
        ]
    if next_src is not None and next_src != f.dst_account:
        lines += [
            Line(f.dst_account, -landed),
            Line(accounts.fees("transfer", leg.dst), f.transfer),
            Line(next_src, f.buy_amount),
        ]
    return [line for line in lines if line.amount != 0]


def fill_lines(fills: list[LegFill]) -> list[Line]:
    """Postings for a filled cycle, leg by leg."""
    nexts = [f.src_account for f in fills[1:]] + [None]
    return [line for f, nxt in zip(fills, nexts, strict=True) for line in leg_lines(f, nxt)]


def imbalances(lines: list[Line]) -> dict[str, Decimal]:
    """Currency -> non-zero sum: empty when the lines balance."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    with localcontext(prec=SUM_DIGITS):
        for line in lines:
            sums[line.currency] += line.amount
    return {cur: total for cur, total in sums.items() if total != 0}


def house_flows(lines: list[Line]) -> dict[str, Decimal]:
    """Net change of the house's own accounts per currency: a trade's profit in the anchor."""
    flows: dict[str, Decimal] = defaultdict(Decimal)
    with localcontext(prec=SUM_DIGITS):
        for line in lines:
            if accounts.kind_of(line.account) == "house":
                flows[line.currency] += line.amount
    return dict(flows)


def ensure_accounts(session: Session, names: set[str], now: datetime) -> None:
    """Create the accounts that do not exist yet (concurrent creators do not collide)."""
    if not names:
        return
    rows = [_account(n, now) for n in sorted(names)]
    upsert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # rows as parameters, not in the statement: compiled once per process, not per fill;
    # RETURNING makes it one multi-row INSERT (see db.insert_rows)
    session.execute(upsert(Account).on_conflict_do_nothing().returning(Account.name), rows)


def post(
    session: Session,
    kind: str,
    lines: list[Line],
    *,
    actor: str,
    now: datetime,
    trade_id: int | None = None,
    reason: str | None = None,
) -> JournalEntry:
    """Write one balanced entry; an unbalanced one raises ValueError and writes nothing."""
    if off := imbalances(lines):
        raise ValueError(f"entry does not balance: {off}")
    if session.get_bind().dialect.name == "postgresql":
        return _post_at_once(session, kind, lines, actor, now, trade_id, reason)
    ensure_accounts(session, {line.account for line in lines}, now)
    entry = session.scalars(
        insert(JournalEntry)
        .values(at=now, kind=kind, trade_id=trade_id, actor=actor, reason=reason)
        .returning(JournalEntry)
    ).one()
    db.insert_rows(
        session,
        Posting,
        [
            {
                "entry_id": entry.id,
                "trade_id": trade_id,
                "account": line.account,
                "currency": line.currency,
                "amount": line.amount,
                "at": now,
            }
            for line in lines
        ],
    )
    return entry


# PostgreSQL: the new accounts, the entry and its postings as one statement, one round
# trip instead of three, compiled once per process (the lines go as arrays). The
# postings' foreign keys are checked at the end of the statement, when the accounts and
# the entry its other parts insert are there; the postings' ids follow the lines' order.
# POST_CTES is also the tail of the paper fill's one write (``executor``).
POST_CTES = """
new_accounts AS (
    INSERT INTO accounts (name, currency, kind, created_at)
    SELECT name, currency, kind, :at
    FROM unnest(CAST(:names AS varchar[]), CAST(:name_currencies AS varchar[]),
                CAST(:kinds AS varchar[])) AS account(name, currency, kind)
    ON CONFLICT DO NOTHING
), entry AS (
    INSERT INTO journal_entries (at, kind, trade_id, actor, reason)
    VALUES (:at, :kind, :trade_id, :actor, :reason)
    RETURNING id, at, kind, trade_id, actor, reason
), posted AS (
    INSERT INTO postings (entry_id, trade_id, account, currency, amount, at)
    SELECT entry.id, entry.trade_id, line.account, line.currency, line.amount, entry.at
    FROM entry, unnest(CAST(:accounts AS varchar[]), CAST(:currencies AS varchar[]),
                       CAST(:amounts AS numeric[])) WITH ORDINALITY
                AS line(account, currency, amount, n)
    ORDER BY line.n
)
"""
POST_TYPES = (
    bindparam("at", type_=JournalEntry.__table__.c.at.type),
    bindparam("trade_id", type_=Integer()),
    bindparam("reason", type_=String()),
)
_POST = (
    text(f"WITH {POST_CTES} SELECT id, at, kind, trade_id, actor, reason FROM entry")
    .bindparams(*POST_TYPES)
    .columns(*JournalEntry.__table__.c)  # in the table's order: results typed as its columns
)


def post_params(kind, lines, actor, now, trade_id, reason) -> dict:
    """``POST_CTES``'s parameters for an entry of ``lines`` (checked to balance first)."""
    if off := imbalances(lines):
        raise ValueError(f"entry does not balance: {off}")
    names = sorted({line.account for line in lines})
    return {
        "names": names,
        "name_currencies": [accounts.currency_of(n) for n in names],
        "kinds": [accounts.kind_of(n) for n in names],
        "accounts": [line.account for line in lines],
        "currencies": [line.currency for line in lines],
        "amounts": [line.amount for line in lines],
        "at": now,
        "kind": kind,
        "trade_id": trade_id,
        "actor": actor,
        "reason": reason,
    }


def _post_at_once(session, kind, lines, actor, now, trade_id, reason) -> JournalEntry:
    params = post_params(kind, lines, actor, now, trade_id, reason)
    return session.scalars(select(JournalEntry).from_statement(_POST), params).one()


def _account(name: str, now: datetime) -> dict:
    return {
        "name": name,
        "currency": accounts.currency_of(name),
        "kind": accounts.kind_of(name),
        "created_at": now,
    }


def lock(session: Session, names: set[str]) -> None:
    """Hold the accounts about to be debited until the transaction ends (PostgreSQL), so
    two trades cannot both spend the same balance. SQLite serializes writers already.
    Read the balances in the next statement, never in this one: under READ COMMITTED a
    statement that waited for the lock keeps the snapshot it started with, and would not
    see the postings of the trade that held it."""
    if names and session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK, {"names": sorted(names)}).all()


def balances(session: Session, names: set[str] | None = None) -> dict[str, Decimal]:
    """Account -> sum of its postings (every account, or those in ``names``)."""
    if names is not None and session.get_bind().dialect.name == "postgresql":
        # one round trip: each named account, 0 with no postings
        return dict(session.execute(_BALANCES, {"names": sorted(names)}).all())
    where = () if names is None else (Posting.account.in_(names),)
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            select(Posting.account, func.sum(Posting.amount))
            .where(*where)
            .group_by(Posting.account)
        )
        totals = {name: total for name, total in rows}
    else:  # SQLite keeps money as text: sum it exactly here
        totals: dict[str, Decimal] = defaultdict(Decimal)
        rows = session.execute(select(Posting.account, Posting.amount).where(*where))
        with localcontext(prec=SUM_DIGITS):
            for name, amount in rows:
                totals[name] += amount
    known = (
        set(session.scalars(select(Account.name).where(Account.name.in_(names))))
        if names
        else set()
    )
    return {**{n: ZERO for n in known}, **totals}


# PostgreSQL, a fill's two reads of its paying accounts: built once per process, on the
# tables (no ORM entity to set up per call), the names as one array (no IN list to render
# again at each execution)
_account_c, _posting_c = Account.__table__.c, Posting.__table__.c
_NAMED = _account_c.name == any_(bindparam("names", type_=ARRAY(String)))
_LOCK = select(_account_c.name).where(_NAMED).order_by(_account_c.name).with_for_update()
_BALANCES = (
    select(_account_c.name, func.coalesce(func.sum(_posting_c.amount), ZERO))
    .outerjoin(Posting.__table__, _posting_c.account == _account_c.name)
    .where(_NAMED)
    .group_by(_account_c.name)
)


def house_balances(session: Session) -> dict[str, Decimal]:
    names = set(session.scalars(select(Account.name).where(Account.kind == "house")))
    return dict(sorted(balances(session, names).items())) if names else {}


def deposit_lines(account: str, amount: Decimal) -> list[Line]:
    """Money the owners bring in (negative: take out), against their equity account."""
    equity = accounts.equity(accounts.currency_of(account))
    return [Line(account, amount), Line(equity, amount.copy_negate())]  # exact, unrounded


def check(session: Session) -> list[str]:
    """Every mismatch in the ledger, one sentence each; empty when it is sound.

    Per entry, and per trade, the postings of each currency sum to zero; per filled (or
    unwound, or closed holding) trade the profit equals the legs' cash flows in the anchor,
    and so does the house's net in its postings.
    """
    from backend.models import Trade, TradeLeg
    from backend.trading.execution import ANCHOR
    from backend.trading.unwind import CLOSED, UNWOUND

    problems = []
    per_entry: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    per_trade: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    house: dict[int, Decimal] = defaultdict(Decimal)
    rows = session.execute(
        select(
            Posting.entry_id, Posting.trade_id, Posting.account, Posting.currency, Posting.amount
        )
    )
    with localcontext(prec=SUM_DIGITS):
        for entry_id, trade_id, account, currency, amount in rows:
            per_entry[(entry_id, currency)] += amount
            if trade_id is not None:
                per_trade[(trade_id, currency)] += amount
                if currency == ANCHOR and accounts.kind_of(account) == "house":
                    house[trade_id] += amount
    for sums, label in ((per_entry, "entry"), (per_trade, "trade")):
        for (number, currency), total in sorted(sums.items()):
            if total != 0:
                problems.append(
                    f"{label} {number}: {currency} postings sum to {plain(total)}, not 0"
                )
    flows: dict[int, Decimal] = defaultdict(Decimal)
    legs = session.execute(
        select(
            TradeLeg.trade_id,
            TradeLeg.sell_currency,
            TradeLeg.sell_amount,
            TradeLeg.buy_currency,
            TradeLeg.buy_amount,
        )
    )
    with localcontext(prec=SUM_DIGITS):
        for trade_id, sell_cur, sell, buy_cur, buy in legs:
            flows[trade_id] += (buy if buy_cur == ANCHOR else 0) - (
                sell if sell_cur == ANCHOR else 0
            )
    for trade_id, profit in session.execute(
        select(Trade.id, Trade.profit_usd)
        .where(Trade.status.in_(("filled", UNWOUND, CLOSED)))
        .order_by(Trade.id)
    ):
        if profit != flows.get(trade_id, ZERO):
            problems.append(
                f"trade {trade_id}: profit {plain(profit)} USD but its legs' cash flows sum to "
                f"{plain(flows.get(trade_id, ZERO))}"
            )
        if profit != house.get(trade_id, ZERO):
            problems.append(
                f"trade {trade_id}: profit {plain(profit)} USD but its postings move "
                f"{plain(house.get(trade_id, ZERO))} {ANCHOR} into the house's accounts"
            )
    return problems
