"""Hot single reads (the auth generation, the board's heads) run outside a transaction:
one round trip each on PostgreSQL, and the pooled connection goes back to transactions
for whoever checks it out next."""

import psycopg
from sqlalchemy import text

from backend import db

IDLE = psycopg.pq.TransactionStatus.IDLE


def test_a_single_read_opens_no_transaction(pg_engine):
    with db.outside_transactions(pg_engine) as connection:
        assert db.raw_rows(connection, "SELECT 41 + 1") == [(42,)]
        assert connection.connection.dbapi_connection.info.transaction_status == IDLE
    with pg_engine.connect() as connection:  # what the read saves: BEGIN and the ROLLBACK
        db.raw_rows(connection, "SELECT 1")
        assert connection.connection.dbapi_connection.info.transaction_status != IDLE


def test_the_connection_goes_back_to_transactions_after_a_single_read(pg_engine):
    with db.outside_transactions(pg_engine) as connection:
        first = db.raw_rows(connection, "SELECT pg_backend_pid()")[0][0]
    with pg_engine.connect() as connection:
        assert connection.scalar(text("SELECT pg_backend_pid()")) == first  # the same one
        connection.execute(text("CREATE TABLE left_uncommitted (id int)"))
        connection.rollback()
        assert connection.scalar(text("SELECT to_regclass('left_uncommitted')")) is None
