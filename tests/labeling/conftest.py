"""Fixtures of the review, gold and audit tests: a reviewer, and a review queue."""

from __future__ import annotations

import pytest

from labeling.models import Role
from tests.labeling.test_review import make_project, suspects_in_review


@pytest.fixture
def reviewer(make_user):
    return make_user("rev@example.com", Role.reviewer)


@pytest.fixture
def queue(lead, annotator):
    """A project of 5 tasks: tasks 1 and 3 (0-based) carry wrong labels and are in review."""
    project = make_project(lead.user)
    ids = suspects_in_review(project, annotator, given=["pos", "neg", "pos", "neu", "neg"],
                             truth=["pos", "pos", "pos", "neg", "neg"])
    return project, ids
