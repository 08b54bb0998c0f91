"""The outbox (labeling.jobs.outbox): a job is inserted in its caller's transaction and its
message is sent once that transaction has committed; a rolled-back transaction sends nothing.
Every kind goes through it (imports, thumbnails, QC)."""

from __future__ import annotations

import dramatiq
import pytest
import sqlalchemy as sa

from labeling import imports, jobs, projects
from labeling.db import read_session, write_session
from labeling.jobs.broker import broker
from labeling.models import ImportBatch, Job, JobStatus
from labeling.settings import get_settings

pytestmark = pytest.mark.broker

TEXT = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"""


class Sent(dramatiq.Middleware):
    """Records the job id of every message the broker enqueues (they are still delivered)."""

    def __init__(self):
        self.ids: list[int] = []

    def after_enqueue(self, broker, message, delay):
        self.ids.append(message.args[0])


@pytest.fixture
def sent():
    recorder = Sent()
    broker.add_middleware(recorder)
    yield recorder.ids
    broker.middleware.remove(recorder)


def row(job_id: int) -> Job | None:
    with read_session() as s:
        return s.get(Job, job_id)


def test_a_job_is_sent_only_once_its_transaction_has_committed(sent):
    with write_session() as s:
        job_id = jobs.enqueue("thumbnails", session=s)
        assert sent == []  # inside the transaction nothing is sent...
        assert row(job_id) is None  # ...and no worker could see the job yet
    assert sent == [job_id]
    assert row(job_id).status == JobStatus.queued and row(job_id).queue == "default"


def test_a_rolled_back_transaction_leaves_no_job_and_sends_nothing(sent):
    with pytest.raises(RuntimeError), write_session() as s:
        job_id = jobs.enqueue("thumbnails", session=s)
        raise RuntimeError("the work that asked for the job failed")
    assert row(job_id) is None
    assert sent == []
    later = jobs.enqueue("thumbnails")  # the pooled connection carries nothing over
    assert sent == [later]


def test_without_a_session_the_job_is_committed_and_sent_before_enqueue_returns(sent):
    job_id = jobs.enqueue("qc", payload={"trigger": "manual"})
    assert sent == [job_id]
    assert row(job_id).queue == "quality"


def test_jobs_of_several_kinds_in_one_transaction_are_sent_together_after_it(sent, lead):
    project = projects.create_project(lead.user, title="outbox", label_config=TEXT)
    with write_session() as s:
        ids = [jobs.enqueue(kind, project_id=project.id, session=s) for kind in ("thumbnails", "qc", "import")]
        assert sent == []
    assert sent == ids
    with read_session() as s:
        assert s.execute(sa.select(Job.kind, Job.queue).where(Job.id.in_(ids)).order_by(Job.id)).all() == [
            ("thumbnails", "default"), ("qc", "quality"), ("import", "default")]


def test_a_background_import_writes_its_batch_and_job_in_one_transaction(sent, lead):
    project = projects.create_project(lead.user, title="outbox import", label_config=TEXT)
    result = imports.import_data(lead.user, project.id, body=[{"text": "a"}, {"text": "b"}], background=True)
    assert result.status == "queued" and sent == [result.job_id]
    with read_session() as s:
        batch = s.get(ImportBatch, result.import_id)
        job = s.get(Job, result.job_id)
    assert (batch.status, batch.job_id) == ("queued", job.id)
    assert job.kind == "import" and job.payload["batch_id"] == batch.id and job.created_by == lead.id
    jobs.execute(job.id)  # as the worker would: the import runs and its staged body is removed
    assert jobs.get_job(job.id).status == JobStatus.done
    assert not any((get_settings().data_dir / "imports").iterdir())


def test_an_unknown_kind_is_refused_before_anything_is_written(sent):
    with pytest.raises(KeyError, match="no job kind 'nope'"):
        jobs.enqueue("nope")
    with read_session() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Job)).scalar_one() == 0
    assert sent == []
