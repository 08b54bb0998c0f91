"""Fixtures of the dashboard tests: an empty statistics cache around each test, and the world."""

from __future__ import annotations

import pytest

from insights import cache
from tests.insights.world import World


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear_cache()
    yield
    cache.clear_cache()


@pytest.fixture
def world(lead, make_user):
    return World(lead, [make_user(f"a{i}@example.com") for i in (1, 2, 3)])
