"""Fixtures of the labelfab-client tests: a project with accepted tasks to publish, and a
training pipeline's read-only token."""

from __future__ import annotations

import shutil

import pytest

from labeling import projects, users
from labeling.models import Role
from labeling.settings import get_settings
from tests.labeling.test_exports import accept, make_project, task_ids, text_task


@pytest.fixture(autouse=True)
def no_stored_versions():
    yield
    shutil.rmtree(get_settings().data_dir / "datasets", ignore_errors=True)


@pytest.fixture
def project(lead):
    """Twelve text tasks, nine of them accepted."""
    pid = make_project(lead.user, [text_task(i, ["pos", "neg", "neu"][i % 3]) for i in range(12)])
    accept(pid, task_ids(pid)[:9])
    return pid


@pytest.fixture
def pipeline(make_user, lead, project):
    """A training pipeline: a lead of the project with a read-only token."""
    actor = make_user("pipeline@example.com", Role.lead)
    projects.set_member(lead.user, project, member=actor.email, role=Role.lead)
    actor.read_token = users.create_token(actor.id, name="pipeline", scope="read")
    actor.read_headers = {"Authorization": f"Token {actor.read_token}"}
    return actor
