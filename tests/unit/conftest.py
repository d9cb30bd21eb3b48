"""Every unit test starts with no upstream state (breakers, token buckets, sessions)."""

import pytest

from backend import resilience


@pytest.fixture(autouse=True)
def _fresh_upstreams():
    resilience.reset()
    yield
    resilience.reset()
