"""Hot single reads (the auth generation, the board's heads) run outside a transaction:
one round trip each on PostgreSQL, and the pooled connection goes back to transactions
for whoever checks it out next."""

import psycopg
import pytest
from sqlalchemy import text

from backend import db
from backend.config import Settings

IDLE = psycopg.pq.TransactionStatus.IDLE


@pytest.fixture
def engine(make_pg_database):
    settings = Settings(
        _env_file=None,
        database_url=make_pg_database(),
        secret_key="single-reads-tests-only",
        redis_url=None,
        rabbitmq_url=None,
    )
    engine = db.get_engine(settings)
    yield engine
    engine.dispose()


def test_a_single_read_opens_no_transaction(engine):
    with db.outside_transactions(engine) as connection:
        assert db.raw_rows(connection, "SELECT 41 + 1") == [(42,)]
        assert connection.connection.dbapi_connection.info.transaction_status == IDLE
    with engine.connect() as connection:  # what the read saves: BEGIN and the ROLLBACK
        db.raw_rows(connection, "SELECT 1")
        assert connection.connection.dbapi_connection.info.transaction_status != IDLE


def test_the_connection_goes_back_to_transactions_after_a_single_read(engine):
    with db.outside_transactions(engine) as connection:
        first = db.raw_rows(connection, "SELECT pg_backend_pid()")[0][0]
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT pg_backend_pid()")) == first  # the same one
        connection.execute(text("CREATE TABLE left_uncommitted (id int)"))
        connection.rollback()
        assert connection.scalar(text("SELECT to_regclass('left_uncommitted')")) is None
