"""Models and migrations agree, and the migrations go down and up again, on this run's database."""

import pytest
import sqlalchemy as sa

from labeling import migrate


@pytest.mark.usefixtures("db_engine")
def test_alembic_check_models_match_migrations():
    migrate.check()  # raises if autogenerate would find a difference


def test_downgrade_to_base_and_upgrade_again(db_engine):
    migrate.downgrade("base")
    tables = set(sa.inspect(db_engine).get_table_names())
    assert tables <= {"alembic_version"}
    migrate.upgrade()
    tables = set(sa.inspect(db_engine).get_table_names())
    assert {"user", "project", "task", "annotation", "job", "lease", "task_event"} <= tables



def test_0024_gives_stored_imports_the_id_range_of_their_tasks(db_engine, lead):
    """Imports stored before migration 0024 get the range of their tasks' ids, which
    ``import_task_ids`` reads once ``ix_task_import_id`` is gone."""
    from sqlmodel import select

    from labeling import imports, projects
    from labeling.db import read_session
    from labeling.models import ImportBatch, Task
    from tests.labeling.test_importer import TEXT

    project = projects.create_project(lead.user, title="texts", label_config=TEXT)
    made = [imports.import_data(lead.user, project.id, body=[{"text": f"{n}-{i}"} for i in range(n)]).import_id
            for n in (3, 2)]
    migrate.downgrade("0023_task_hash_key")
    assert "first_task_id" not in {c["name"] for c in sa.inspect(db_engine).get_columns("import_batch")}
    migrate.upgrade()
    assert "ix_task_import_id" not in {i["name"] for i in sa.inspect(db_engine).get_indexes("task")}
    with read_session() as s:
        for batch_id in made:
            ids = list(s.exec(select(Task.id).where(Task.import_id == batch_id).order_by(Task.id)))
            batch = s.get(ImportBatch, batch_id)
            assert (batch.first_task_id, batch.last_task_id) == (ids[0], ids[-1])
            assert imports.import_task_ids(batch_id) == ids


def test_0028_counts_the_annotated_tasks_there_are_and_keeps_counting(db_engine, lead):
    """The tasks annotated before 0028 (also while 0021's triggers alone kept the tally) are in
    its new ``annotated``, and 0028's triggers count the next annotations."""
    from labeling import annotations, imports, projects, tally
    from tests.insights.test_tally import TEXT, choice, kept, recount

    project = projects.create_project(lead.user, title="texts", label_config=TEXT, overlap=2)
    ids = imports.import_data(lead.user, project.id, body=[{"text": f"t{i}"} for i in range(4)],
                              return_task_ids=True).task_ids
    for tid in ids[:2]:
        annotations.submit(tid, lead.user, result=choice("pos"), lead_time=1.0)
    before = recount(project.id)[0]
    migrate.downgrade("0027_user_custom_hotkeys")
    try:  # a task annotated under 0021's triggers alone (the models are ahead of 0027: no ORM write)
        with db_engine.begin() as conn:
            conn.execute(sa.text("UPDATE task SET n_annotations = 1 WHERE id = :id"), {"id": ids[2]})
    finally:
        migrate.upgrade()
    assert kept(project.id)[0] == recount(project.id)[0]
    with db_engine.connect() as conn:
        assert tally.annotated(tally.task_counts(conn, [project.id])[project.id]) == 3
    annotations.submit(ids[3], lead.user, result=choice("neg"), lead_time=1.0)  # and by 0028's
    assert kept(project.id)[0] == recount(project.id)[0]
    assert before[("open", False)][3] == 2


def test_0030_sums_the_annotations_and_skips_there_are_and_keeps_summing(db_engine, lead):
    """The annotations and skips counted on tasks before 0030 (also while 0028's triggers kept the
    tally) are in its new sums, and 0030's triggers sum the next ones."""
    from labeling import annotations, imports, projects
    from tests.insights.test_tally import TEXT, choice, kept, recount

    project = projects.create_project(lead.user, title="texts", label_config=TEXT, overlap=2)
    ids = imports.import_data(lead.user, project.id, body=[{"text": f"t{i}"} for i in range(4)],
                              return_task_ids=True).task_ids
    annotations.submit(ids[0], lead.user, result=choice("pos"), lead_time=1.0)
    migrate.downgrade("0029_annotation_draft_created_at")
    try:  # counted under 0028's triggers alone (the models are ahead of 0029: no ORM write)
        with db_engine.begin() as conn:
            conn.execute(sa.text("UPDATE task SET n_skips = 2 WHERE id = :id"), {"id": ids[1]})
            conn.execute(sa.text("UPDATE task SET n_annotations = 1 WHERE id = :id"), {"id": ids[2]})
    finally:
        migrate.upgrade()
    assert kept(project.id)[0] == recount(project.id)[0]
    annotations.submit(ids[3], lead.user, result=choice("neg"), lead_time=1.0)  # and by 0030's
    counts = kept(project.id)[0]
    assert counts == recount(project.id)[0]
    assert (sum(v[4] for v in counts.values()), sum(v[5] for v in counts.values())) == (3, 2)
