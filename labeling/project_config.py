"""A project's label config: parse it, and check a new one against the project's tasks and labels.

:func:`check_change` is the one check behind Save (:func:`labeling.projects.edit_project`: the
settings page, ``PATCH /api/projects/ID``, the CLI) and behind the live check of the settings page
(:func:`check_label_config`: ``POST /api/projects/ID/validate`` and the preview), so that both
answer the same.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from labeling.access import require_project
from labeling.db import read_session
from labeling.errors import Invalid
from labeling.models import Annotation, Project, Task, User
from labeling.schema import (
    LabelConfigError,
    LabelSchema,
    check_config_change,
    collect_used_labels,
    parse_label_config,
    schema_of,
)

__all__ = ["check_change", "check_label_config", "essential", "parse_config"]


def parse_config(label_config: str) -> LabelSchema:
    """Parse a label config, turning refusals into an Invalid error that lists each problem."""
    try:
        return parse_label_config(label_config)
    except LabelConfigError as exc:
        raise Invalid(f"label config refused: {exc}", exc.errors) from None


def _missing_data_keys(s: Session, project_id: int, keys: set[str]) -> set[str]:
    """Of ``keys``, those that at least one task of the project lacks in its data."""
    missing = set()
    pg = s.get_bind().dialect.name == "postgresql"
    for key in sorted(keys):
        if pg:
            sql = "SELECT 1 FROM task WHERE project_id = :p AND (data -> :k) IS NULL LIMIT 1"
            params = {"p": project_id, "k": key}
        else:
            sql = "SELECT 1 FROM task WHERE project_id = :p AND json_type(data, :path) IS NULL LIMIT 1"
            params = {"p": project_id, "path": '$."' + key.replace('"', '\\"') + '"'}
        if s.execute(sa.text(sql), params).first() is not None:
            missing.add(key)
    return missing


def _used_labels(s: Session, project: Project, old: LabelSchema) -> tuple[dict[str, set[str]], dict[str, dict[str, str]]]:
    """Controls and labels used by the project's annotations and gold answers, and for each used
    label what uses it (``"annotations"``, else ``"gold answers"``), so that a refusal names the
    right thing.

    Predictions do not count, as in Label Studio (its project summary counts annotations and
    drafts only): a label only predictions use may go. The predictions keep their stored result;
    the annotate page pre-fills only the labels the config still has (ARCHITECTURE.md,
    Pre-labels)."""
    pid = project.id
    streams = (
        ("annotations", select(Annotation.result).where(Annotation.project_id == pid)),
        ("gold answers", select(Task.gold_answer).where(Task.project_id == pid, Task.is_gold.is_(True))),
    )
    used: dict[str, set[str]] = {}
    sources: dict[str, dict[str, str]] = {}
    for source, query in streams:
        rows = (r or [] for (r,) in s.execute(query.execution_options(yield_per=2000)))
        for control, labels in collect_used_labels(old, rows).items():
            used.setdefault(control, set()).update(labels)
            for label in labels:
                sources.setdefault(control, {}).setdefault(label, source)
    return used, sources


def check_change(s: Session, project: Project, label_config: str, new_schema: LabelSchema) -> None:
    """Refuse a new label config that would break the project's tasks and labels.

    The config unchanged, or no tasks yet: nothing to check. Otherwise it may only change in
    ways that keep the annotations and gold answers valid (predictions do not count, see
    :func:`_used_labels`), and only read data fields every task has.

    Raises
    ------
    Invalid
        Naming every reason (:func:`labeling.schema.check_config_change`).
    """
    if label_config == project.label_config:
        return
    old_schema = schema_of(project)
    has_tasks = s.execute(select(Task.id).where(Task.project_id == project.id).limit(1)).first() is not None
    if not has_tasks:
        return
    new_keys = new_schema.data_keys - old_schema.data_keys
    missing = _missing_data_keys(s, project.id, new_keys) if new_keys else set()
    try:
        used, sources = _used_labels(s, project, old_schema)
        check_config_change(old_schema, new_schema, used_labels=used, label_sources=sources,
                            task_keys=(new_schema.data_keys - missing) if missing else None)
    except LabelConfigError as exc:
        raise Invalid(f"label config change refused: {exc}", exc.errors) from None


def essential(schema: LabelSchema) -> tuple:
    """What a label config means for the data and the labels (Label Studio's "essential data"):
    the data fields read and every control's name, tag, target and labels."""
    return (sorted(schema.data_keys),
            sorted((c.name, c.tag, str(c.to_name), tuple(c.labels or ())) for c in schema.controls))


def check_label_config(user: User, project_id: int, label_config: str) -> bool:
    """Check a new label config for a project without saving it (Label Studio's ``POST
    /api/projects/ID/validate``; the settings page's live check): Invalid if it does not parse or
    Save would refuse it (:func:`check_change`, the same check); else whether its essential data
    (:func:`essential`) differs from the project's config."""
    new_schema = parse_config(label_config)
    with read_session() as s:
        project = require_project(s, user, project_id, "manage")
        check_change(s, project, label_config, new_schema)
        return essential(new_schema) != essential(schema_of(project))
