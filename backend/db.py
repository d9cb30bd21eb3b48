"""Engines and sessions, one pool per process, every wait on PostgreSQL bounded.

A pool must never cross a fork (gunicorn and Celery prefork both fork): the child
drops the parent's engines without closing their sockets and builds its own.

On PostgreSQL the server cancels a statement or lock wait that runs too long
(``statement_timeout``, ``lock_timeout``), TCP keepalives notice a peer that vanished,
and the pool gives up on a checkout after ``DB_POOL_TIMEOUT_SECONDS``. None of that helps
when the server (or the network in between) hangs: nobody answers. So the connection
itself stops waiting a little after the statement timeout and closes (its protocol state
is unknown), and a breaker in front of every checkout turns an outage into an immediate
``Unavailable("db")`` instead of one timeout per request, which is what frees the web's
threads while the database is away.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pybreaker
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    create_engine,
    event,
    insert,
    literal,
    text,
)
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from backend.config import Settings

_engines: dict[str, Engine] = {}
_autocommit: dict[Engine, Engine] = {}  # each engine's AUTOCOMMIT view (same pool)
_sessionmakers: dict[str, sessionmaker[Session]] = {}
CLIENT_GRACE_SECONDS = 2.0  # the server's own statement_timeout should answer first
# a connection checked back in this recently, its transaction ended cleanly, is not
# pinged again: a PostgreSQL restart takes longer, and should one fall in between, the
# statement fails, the pool drops the connection and the request or task is retried
FRESH_SECONDS = 0.25


def _forget_parent_engines() -> None:
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()
    _autocommit.clear()
    _sessionmakers.clear()


os.register_at_fork(after_in_child=_forget_parent_engines)


class BoundedConnection(psycopg.Connection):
    """psycopg's connection with a client-side deadline on every wait for the server."""

    wait_timeout: float | None = None

    def wait(self, gen, interval=0.1, timeout=None):
        try:
            bound = timeout if timeout is not None else self.wait_timeout
            return super().wait(gen, interval, bound)
        except psycopg.errors._WaitTimeout:
            self.pgconn.finish()  # mid-protocol: unusable; the pool sees it closed and drops it
            raise psycopg.OperationalError(
                f"PostgreSQL did not answer within {self.wait_timeout:g} s; connection closed"
            ) from None


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def connect_args(settings: Settings) -> dict:
    """libpq options: connect timeout, server-side statement and lock timeouts, keepalives."""
    options = (
        f"-c statement_timeout={int(settings.db_statement_timeout_seconds * 1000)}"
        f" -c lock_timeout={int(settings.db_lock_timeout_seconds * 1000)}"
    )
    return {
        "connect_timeout": settings.db_connect_timeout_seconds,
        "options": options,
        "keepalives": 1,
        "keepalives_idle": settings.db_keepalives_idle_seconds,
        "keepalives_interval": settings.db_keepalives_interval_seconds,
        "keepalives_count": settings.db_keepalives_count,
        "application_name": "p2p-exchange-desk",
    }


def _postgresql_engine(settings: Settings) -> Engine:
    from backend.resilience import Unavailable, make_breaker

    engine = create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        connect_args=connect_args(settings),
    )
    breaker = make_breaker(
        "db",
        settings,
        fail_max=settings.db_breaker_fail_max,
        reset_timeout=settings.db_breaker_reset_timeout_seconds,
    )
    wait_timeout = settings.db_statement_timeout_seconds + CLIENT_GRACE_SECONDS
    ping_timeout = settings.db_connect_timeout_seconds  # SELECT 1 answers at once, or never

    @event.listens_for(engine, "do_connect")
    def _connect(dialect, conn_rec, cargs, cparams):
        try:
            with breaker.calling():
                conn = BoundedConnection.connect(*cargs, **cparams)
        except pybreaker.CircuitBreakerError:
            raise Unavailable("db", "database breaker open after repeated failures") from None
        conn.wait_timeout = wait_timeout
        return conn

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_conn, record):
        if dbapi_conn is not None and not dbapi_conn.closed:
            record.info["checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn, record, proxy):
        """Pessimistic disconnect handling, with the breaker counting every ping; none
        for a connection that answered a moment ago (see FRESH_SECONDS) while the breaker
        is closed: one round trip less for each further checkout of a request or task."""
        checked_in = record.info.pop("checked_in", None)
        if (
            checked_in is not None
            and time.monotonic() - checked_in < FRESH_SECONDS
            and breaker.current_state == pybreaker.STATE_CLOSED
        ):
            return
        saved, dbapi_conn.wait_timeout = dbapi_conn.wait_timeout, ping_timeout
        try:
            with breaker.calling():
                _select_1(dbapi_conn)
        except pybreaker.CircuitBreakerError:
            raise Unavailable("db", "database breaker open after repeated failures") from None
        except psycopg.Error as exc:
            raise DisconnectionError(str(exc)) from exc  # the pool retries on a new connection
        finally:
            dbapi_conn.wait_timeout = saved

    return engine


def _select_1(conn: BoundedConnection) -> None:
    """The ping, leaving no transaction open: whoever checked the connection out starts
    their own, or reads outside any (``outside_transactions``)."""
    autocommit, conn.autocommit = conn.autocommit, True
    conn.execute("SELECT 1")
    conn.autocommit = autocommit  # after a failure the pool throws the connection away


def get_engine(settings: Settings) -> Engine:
    """The process's engine for this URL (the first settings seen for a URL win)."""
    url = settings.database_url
    engine = _engines.get(url)
    if engine is None:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = _postgresql_engine(settings)
        from backend.ops import db_metrics

        db_metrics.instrument(engine)
        _engines[url] = engine
    return engine


@contextmanager
def unbounded(connection: Connection) -> Iterator[Connection]:
    """Lift the timeouts for one long job (migrations) in ``connection``'s transaction."""
    if connection.dialect.name != "postgresql":
        yield connection
        return
    dbapi = connection.connection.dbapi_connection
    saved = dbapi.wait_timeout
    dbapi.wait_timeout = None
    connection.exec_driver_sql("SET LOCAL statement_timeout = 0")  # ends with the transaction
    connection.exec_driver_sql("SET LOCAL lock_timeout = 0")
    try:
        yield connection
    finally:
        dbapi.wait_timeout = saved


def commit_without_waiting(session: Session) -> None:
    """Let this transaction's commit return before its WAL reaches the disk (PostgreSQL's
    ``synchronous_commit`` off for this transaction alone; others see it at once).

    For a write a database crash may lose at no cost: one that is done again anyway (a
    claim: the task runs again) or that the next durable commit carries to the disk with
    it (WAL is written in order, so a later durable commit makes this one durable too).
    On this machine a commit that waits for the disk costs 3 to 4 ms, more than the rest
    of a claim. Never for money: fills and ledger entries wait for the disk."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit = off"))


def among(column: ColumnElement, values: tuple) -> ColumnElement[bool]:
    """``column IN (values)`` for a statement built once: the values are bound one by one
    in the compiled statement, where SQLAlchemy's ``in_`` sends a list that it renders into
    the SQL again at every execution."""
    return column.in_([literal(v, column.type) for v in values])


def insert_rows(session: Session, model: type, rows: list[dict]) -> None:
    """Write ``rows`` of ``model`` in one round trip, in their order. Asking for the new
    ids back is what makes SQLAlchemy send them as one multi-row INSERT (its
    "insertmanyvalues"); without RETURNING, psycopg pipelines one INSERT per row and waits
    three times instead of once."""
    if rows:
        session.execute(insert(model).returning(model.id, sort_by_parameter_order=True), rows)


def raw_rows(connection: Connection, sql: str) -> list[tuple]:
    """``sql``'s rows read on the driver's own cursor: for a hot read that SQLAlchemy's
    statement handling would cost more than (the auth generation, the board's heads).
    A driver error is raised as SQLAlchemy would raise it, so an outage is still a 503."""
    dbapi = connection.dialect.loaded_dbapi
    try:
        cursor = connection.connection.cursor()
        cursor.execute(sql)
        rows = cursor.fetchall()
        cursor.close()
    except dbapi.Error as exc:
        raise DBAPIError.instance(sql, None, exc, dbapi.Error) from exc
    return rows


@contextmanager
def outside_transactions(engine: Engine) -> Iterator[Connection]:
    """A connection for single reads, each its own statement (autocommit): on PostgreSQL a
    hot read costs one round trip, where a transaction adds its BEGIN and the pool's
    ROLLBACK at check-in. Only for reads that need no snapshot shared with another.
    SQLite's driver begins no transaction for a read anyway, and switching it costs a
    PRAGMA each way."""
    view = _autocommit.get(engine)
    if view is None:
        postgresql = engine.dialect.name == "postgresql"
        view = engine.execution_options(isolation_level="AUTOCOMMIT") if postgresql else engine
        _autocommit[engine] = view
    with view.connect() as connection:
        yield connection


@contextmanager
def one_connection(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose transactions (``session.begin()``, one after the other) all run on
    one pooled connection: checked out, and pinged, once instead of once each."""
    with sessions.kw["bind"].connect() as connection, sessions(bind=connection) as session:
        yield session


def session_factory(settings: Settings) -> sessionmaker[Session]:
    """The process's sessionmaker for the URL's engine, built once: each sessionmaker is a
    new ``Session`` subclass, and the first session of a class sets up its event dispatch
    again (about 0.5 ms of CPU, twice in a trade request and once in its fill)."""
    engine = get_engine(settings)
    maker = _sessionmakers.get(settings.database_url)
    if maker is None or maker.kw["bind"] is not engine:  # a test may have swapped the engine
        maker = _sessionmakers[settings.database_url] = sessionmaker(engine, expire_on_commit=False)
    return maker
