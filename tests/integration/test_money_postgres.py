"""The money paths' unit tests again, on PostgreSQL. A fill, the day's sums the limits
read, a ledger entry, the balances, a request's price and a trade's moves each take a
branch of their own there (one statement instead of several), which the unit tests on
SQLite never reach. Each test imported here is the SQLite one, run on a fresh PostgreSQL
database: both branches answer to the same figures, worked out by hand."""

import pytest

from backend.config import Settings
from tests.conftest import prepared_app
from tests.unit.conftest import _fresh_upstreams, opportunity  # noqa: F401 (fixtures)
from tests.unit.test_lease import (  # noqa: F401 (run here on PostgreSQL)
    test_an_attempt_that_lost_its_claim_cannot_move_the_trade,
    test_the_attempt_that_lost_its_claim_commits_nothing,
)
from tests.unit.test_ledger import (  # noqa: F401 (run here on PostgreSQL)
    test_a_fill_posts_every_leg_fee_and_transfer_and_moves_balances_by_the_profit,
    test_a_floor_keeps_part_of_the_balance_out_of_reach,
    test_a_trade_larger_than_the_balance_is_refused_for_balance,
    test_admin_moves_are_entries_with_who_and_why,
    test_every_accounts_balance_reads_as_when_asked_for_by_name,
)
from tests.unit.test_limits import (  # noqa: F401 (run here on PostgreSQL)
    test_a_trade_requested_before_midnight_and_filled_after_counts_in_the_new_day,
    test_only_trades_filled_since_midnight_utc_count,
    test_the_days_realized_loss_refuses_the_next_trade_at_its_limit,
    test_the_loss_of_a_trade_unwound_or_closed_today_counts_and_an_unsettled_ones_does_not,
    test_the_notional_limit_crossed_mid_day_refuses_until_the_next_day,
)
from tests.unit.test_money import (  # noqa: F401 (run here on PostgreSQL)
    test_a_book_exactly_as_old_as_the_limit_is_still_trusted_for_a_trade,
    test_a_requested_size_is_priced_on_what_fills_left_and_never_on_a_failing_book,
    test_a_requested_size_on_a_stale_book_has_no_price,
    test_a_take_counts_against_its_book_read_beside_a_newer_one,
    test_each_limit_refuses_with_its_numbers,
    test_the_same_trade_fills_exactly_at_the_limits,
)
from tests.unit.test_trades import (  # noqa: F401 (run here on PostgreSQL)
    test_a_request_is_stored_with_its_audit_row_naming_who_asked_and_how,
)
from tests.unit.test_trading_day import (  # noqa: F401 (run here on PostgreSQL)
    test_a_simulated_session_keeps_the_ledger_sound,
)


@pytest.fixture
def settings(pg_settings) -> Settings:
    """The unit tests' desk (tests/conftest.py), on a fresh PostgreSQL database."""
    return pg_settings


@pytest.fixture
def app(settings):
    """With the embedded demo's paper balances, which the figures above start from."""
    return prepared_app(settings, paper=True)
