"""Projects: create, edit, list, archive; members; a project's tasks.

A project holds a Label Studio XML label config and its parsed label schema
(:mod:`labeling.schema`), the routing settings (overlap, lease time, gold rate) and the
QC policy. Views, the REST API and the CLI all call these functions.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from labeling import comments, lifecycle, tally, users, webhooks, wire
from labeling.access import can, can_create_projects, project_role, require_project
from labeling.canonical import content_hash
from labeling.db import read_session, utcnow, write_session
from labeling.errors import Conflict, Forbidden, Invalid, NotFound
from labeling.jobs.qc_trigger import tasks_labeled
from labeling.limits import MAX_INT, check_text, has_lone_surrogate, is_id, task_data_problem
from labeling.models import (
    Annotation,
    AnnotationDraft,
    DatasetVersion,
    Lease,
    Membership,
    Prediction,
    Project,
    Role,
    Task,
    TaskState,
    User,
    prelabels_on,
)
from labeling.project_config import check_change, parse_config
from labeling.schema import schema_of, validate_task_data
from labeling.settings import get_settings
from labeling.storages.resolve import storage_filenames, url_resolver

SETTINGS_DEFAULT_MAX_OVERLAP = 5

# Project settings a lead may set, with their checks: name -> (type, minimum, maximum). Every
# number is bounded, so that no value can break a project for the others working in it.
SETTINGS: dict[str, tuple[type, float | None, float | None]] = {
    "description": (str, None, None),  # lengths: settings.max_description_chars
    "instructions": (str, None, None),  # and max_instructions_chars
    "overlap": (int, 1, 100),  # as the settings page's form
    "max_overlap": (int, 1, 100),
    "lease_seconds": (int, 10, 7 * 24 * 3600),
    "gold_rate": (float, 0, 1),
    "gold_min_items": (int, 0, 1_000_000),
    "gold_threshold": (float, 0, 1),
    "restricted": (bool, None, None),
    "show_instruction": (bool, None, None),  # Label Studio's: the instructions open before labelling
    "show_predictions": (bool, None, None),  # null: the default by overlap (models.prelabels_on)
    "uncertain_first": (bool, None, None),
    "qc_every": (int, 0, 1_000_000_000),
    "qc_target_precision": (float, 0.5, 0.99),  # null: as many flags as labels estimated wrong (quality.noise.lowest_flags)
}


def _shown(bound: float) -> str:
    return f"{bound:g}" if isinstance(bound, float) else f"{bound}"


def _text_limit(name: str) -> int:
    st = get_settings()
    return st.max_description_chars if name == "description" else st.max_instructions_chars


def check_title(title: str | None) -> str | None:
    """A title stripped, refused (Invalid) when empty, too long or not text; None passes."""
    if title is None:
        return None
    limit = get_settings().max_title_chars
    title = check_text(title, "title").strip()
    if not title:
        raise Invalid("a project needs a title", [{"field": "title", "detail": "required"}])
    if len(title) > limit:
        raise Invalid(f"the title is {len(title):,} characters long; the limit is {limit:,}",
                      [{"field": "title", "detail": f"longer than {limit:,} characters"}])
    return title


def check_settings(values: dict[str, Any]) -> dict[str, Any]:
    """Validate project settings; Invalid names each bad field."""
    clean, errors = {}, []
    for name, value in values.items():
        if name not in SETTINGS:
            errors.append({"field": name, "detail": f"unknown setting {name!r}"})
            continue
        if value is None and name in ("show_predictions", "qc_target_precision"):
            clean[name] = None
            continue
        kind, minimum, maximum = SETTINGS[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value) if abs(value) < 2**53 else math.inf
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            errors.append({"field": name, "detail": f"{name} must be {kind.__name__}, got {type(value).__name__}"})
            continue
        if kind is str:
            limit = _text_limit(name)
            if has_lone_surrogate(value):
                errors.append({"field": name, "detail": f"{name} holds a lone surrogate (like \\ud800), which is not text"})
                continue
            if len(value) > limit:
                errors.append({"field": name, "detail": f"{name} is {len(value):,} characters long; the limit is "
                                                        f"{limit:,} (LABELFAB_MAX_{name.upper()}_CHARS)"})
                continue
        if kind is float and not math.isfinite(value):
            errors.append({"field": name, "detail": f"{name} must be a finite number"})
            continue
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            errors.append({"field": name, "detail": f"{name} must be between {_shown(minimum)} and {_shown(maximum)}"})
            continue
        clean[name] = value
    if errors:
        raise Invalid("invalid project settings: " + "; ".join(e["detail"] for e in errors), errors)
    if "overlap" in clean and "max_overlap" not in clean:
        clean["max_overlap"] = max(clean["overlap"], SETTINGS_DEFAULT_MAX_OVERLAP)
    return clean


def create_project(user: User, *, title: str, label_config: str, **settings: Any) -> Project:
    """Create a project owned by ``user`` (a lead or admin)."""
    if not can_create_projects(user):
        raise Forbidden("only leads and admins may create projects")
    title = check_title(title or "")
    schema = parse_config(label_config)
    clean = check_settings(settings)
    with write_session() as s:
        project = Project(title=title, label_config=label_config, label_schema=schema.model_dump(),
                          created_by=user.id, **clean)
        s.add(project)
        s.flush()
        webhooks.emit(s, "PROJECT_CREATED", project.id, dict)
        return project


def get_project(project_id: int) -> Project:
    with read_session() as s:
        project = s.get(Project, project_id)
        if project is None:
            raise NotFound(f"project {project_id} not found")
        return project


def visible_projects(session: Session, user: User, *, include_archived: bool = False, title: str | None = None,
                     ids: list[int] | None = None) -> list[Project]:
    q = select(Project).order_by(Project.id.desc())
    if not include_archived:
        q = q.where(Project.archived_at.is_(None))
    if ids is not None:
        q = q.where(Project.id.in_(ids))
    wanted = title.casefold() if title else None  # any case, any script (SQLite's lower() is ASCII only)
    return [p for p in session.exec(q)
            if (wanted is None or wanted in p.title.casefold()) and project_role(session, user, p) is not None]


def project_counts(session: Session, project_ids: list[int], *, fold: bool = True) -> dict[int, dict[str, int]]:
    """Per project: tasks, tasks by state, tasks with a submitted annotation (Label Studio's
    ``num_tasks_with_annotations``, whatever their state), gold tasks (each holds one ground-truth
    answer: Label Studio's ``ground_truth_number``), submitted and skipped annotations (read from
    the tallies the database keeps, :func:`labeling.tally.task_counts`; ``fold`` as there),
    predictions (a grouped query), and its creator as Label Studio shows them (``created_by``)."""
    counts: dict[int, dict[str, Any]] = {pid: {"task_number": 0, "total_annotations_number": 0,
                                               "skipped_annotations_number": 0, "total_predictions_number": 0,
                                               "num_tasks_with_annotations": 0, "ground_truth_number": 0,
                                               "states": {}, "created_by": None}
                                         for pid in project_ids}
    if not project_ids:
        return counts
    for pid, creator in session.execute(select(Project.id, User).join(User, User.id == Project.created_by)
                                        .where(Project.id.in_(project_ids))):
        counts[pid]["created_by"] = wire.user_simple(creator)
    for pid, by_key in tally.task_counts(session.connection(), project_ids, fold=fold).items():
        c = counts[pid]
        for (state, gold), (n, _requeued, _wanted, annotated, n_annotations, n_skips) in by_key.items():
            c["states"][state] = c["states"].get(state, 0) + n
            c["task_number"] += n
            c["num_tasks_with_annotations"] += annotated
            c["ground_truth_number"] += n if gold else 0
            c["total_annotations_number"] += n_annotations
            c["skipped_annotations_number"] += n_skips
    rows = session.execute(
        select(Prediction.project_id, sa.func.count()).where(Prediction.project_id.in_(project_ids))
        .group_by(Prediction.project_id)
    )
    for pid, n in rows:
        counts[pid]["total_predictions_number"] = n
    return counts


def list_projects(user: User, *, include_archived: bool = False, title: str | None = None,
                  ids: list[int] | None = None) -> list[tuple[Project, dict]]:
    """The projects ``user`` can see, newest first, with their counts; ``title`` keeps those
    whose title contains it (any case, as Label Studio's ``?title=``), ``ids`` those ids."""
    with read_session() as s:
        projects = visible_projects(s, user, include_archived=include_archived, title=title, ids=ids)
        counts = project_counts(s, [p.id for p in projects])
        return [(p, counts[p.id]) for p in projects]


def project_view(project: Project, counts: dict | None = None) -> dict:
    """A project with Label Studio's field names (plus labelfab's own settings)."""
    counts = counts or {}
    states = counts.get("states", {})
    return {
        "id": project.id,
        "title": project.title,
        "description": project.description,
        "label_config": project.label_config,
        "expert_instruction": project.instructions,
        "show_instruction": project.show_instruction,
        "maximum_annotations": project.overlap,
        "overlap": project.overlap,
        "max_overlap": project.max_overlap,
        "lease_seconds": project.lease_seconds,
        "gold_rate": project.gold_rate,
        "gold_min_items": project.gold_min_items,
        "gold_threshold": project.gold_threshold,
        "restricted": project.restricted,
        "show_predictions": project.show_predictions,
        "show_collab_predictions": prelabels_on(project.show_predictions, project.overlap),
        "uncertain_first": project.uncertain_first,
        "qc_every": project.qc_every,
        "qc_policy": project.qc_policy,
        "qc_target_precision": project.qc_target_precision,
        "kind": schema_of(project).kind,
        "task_number": counts.get("task_number", 0),
        "total_annotations_number": counts.get("total_annotations_number", 0),
        "num_tasks_with_annotations": counts.get("num_tasks_with_annotations", 0),
        "states": states,
        "created_by": counts.get("created_by"),
        "created_at": project.created_at.isoformat(),
        "is_archived": project.archived_at is not None,
        **wire.PROJECT_LS_DEFAULTS,
        "sampling": "Uncertainty sampling" if project.uncertain_first else "Sequential sampling",
        "parsed_label_config": (parsed := wire.parsed_label_config(project.label_config)),
        "config_has_control_tags": len(parsed) > 0, "control_weights": wire.control_weights(parsed),
        "ground_truth_number": counts.get("ground_truth_number", 0),
        "useful_annotation_number": counts.get("total_annotations_number", 0),
        "skipped_annotations_number": counts.get("skipped_annotations_number", 0),
        "total_predictions_number": counts.get("total_predictions_number", 0),
        "finished_task_number": sum(n for st, n in states.items() if st not in ("open", "imported")),
    }


# --------------------------------------------------------------------------- editing projects

#: Roles a project membership can give.
MEMBER_ROLES = (Role.lead, Role.reviewer, Role.annotator)


def get_project_for(user: User, project_id: int, action: str = "view") -> tuple[Project, dict]:
    """A project the user may ``action`` in, with its counts (for the API and the pages)."""
    with read_session() as s:
        project = require_project(s, user, project_id, action)
        return project, project_counts(s, [project.id])[project.id]


def _overlap_moves(project: Project, old: int, new: int) -> list[tuple[TaskState, TaskState, tuple, dict]]:
    """The moves a change of overlap from ``old`` to ``new`` makes: ``(from, to, where, values)``.

    Tasks that wanted the old overlap want the new one (tasks whose target QC raised keep it);
    gold tasks keep their track. Raised: labeled tasks below it reopen, and so do tasks QC
    accepted (their final label, the annotators', is dropped until they are labeled again);
    tasks a reviewer decided, in review or excluded stay. Lowered: open tasks that now have
    enough annotations are labeled.
    """
    if old == new:
        return []
    base = (Task.project_id == project.id, Task.target_overlap == old, Task.is_gold.is_(False))
    not_reviewed = sa.or_(Task.final_source.is_(None), Task.final_source != "reviewer")
    return [
        (TaskState.labeled, TaskState.open, (*base, Task.n_annotations < new), {}),
        (TaskState.accepted, TaskState.open, (*base, Task.n_annotations < new, not_reviewed),
         {"final_label": sa.null(), "final_source": None}),
        (TaskState.open, TaskState.labeled, (*base, Task.n_annotations >= new), {}),
    ]


@dataclass
class OverlapChange:
    """What a change of overlap does: how many tasks reopen, and how many are labeled."""

    old: int
    new: int
    reopened: int = 0
    labeled: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"from_overlap": self.old, "to_overlap": self.new, "reopened": self.reopened, "labeled": self.labeled}

    def text(self) -> str:
        """One sentence for the settings page."""
        if self.old == self.new:
            return f"Overlap stays {self.new}."
        parts = []
        if self.reopened or self.new > self.old:
            parts.append(f"{self.reopened} task{'s' if self.reopened != 1 else ''} "
                         f"reopen{'s' if self.reopened == 1 else ''} for more annotators")
        if self.labeled or self.new < self.old:
            parts.append(f"{self.labeled} task{'s' if self.labeled != 1 else ''} "
                         f"{'has' if self.labeled == 1 else 'have'} enough annotations and move{'s' if self.labeled == 1 else ''} on")
        return f"Overlap {self.old} → {self.new}: " + "; ".join(parts) + "."


def _count_overlap_change(s: Session, project: Project, new: int) -> OverlapChange:
    change = OverlapChange(project.overlap, new)
    for from_state, to_state, where, _ in _overlap_moves(project, project.overlap, new):
        n = s.execute(select(sa.func.count()).select_from(Task).where(*where, Task.state == from_state)).scalar_one()
        if to_state == TaskState.open:
            change.reopened += n
        else:
            change.labeled += n
    return change


def preview_overlap(user: User, project_id: int, new: int) -> OverlapChange:
    """What setting the project's overlap to ``new`` would do, without doing it (the settings
    page says it before saving)."""
    check_settings({"overlap": new})
    with read_session() as s:
        project = require_project(s, user, project_id, "manage")
        return _count_overlap_change(s, project, new)


def _apply_overlap(s: Session, user: User, project: Project, old: int, new: int) -> OverlapChange:
    """A new overlap: the moves of :func:`_overlap_moves`, each task with its TaskEvent."""
    change = OverlapChange(old, new)
    if old == new:
        return change
    now = utcnow()
    reason = f"overlap changed from {old} to {new}"
    for from_state, to_state, where, values in _overlap_moves(project, old, new):
        moved = lifecycle.move_where(s, where=where, from_state=from_state, to_state=to_state,
                                     cause=lifecycle.Cause.overlap, project_id=project.id, user_id=user.id,
                                     reason=reason, now=now, values={"target_overlap": new, **values})
        if to_state == TaskState.labeled:
            change.labeled += moved
            if moved:
                tasks_labeled(s.connection(), project.id, moved)  # counts toward automatic QC
        else:
            change.reopened += moved
    s.execute(sa.update(Task).where(Task.project_id == project.id, Task.target_overlap == old,
                                    Task.is_gold.is_(False)).values(target_overlap=new))
    return change


@dataclass
class ProjectEdit:
    """A changed project and what its new overlap did to its tasks (None: overlap not given)."""

    project: Project
    overlap_change: OverlapChange | None = None


def update_project(user: User, project_id: int, *, title: str | None = None, label_config: str | None = None,
                   **settings: Any) -> Project:
    """:func:`edit_project`, answering the project only."""
    return edit_project(user, project_id, title=title, label_config=label_config, **settings).project


def edit_project(user: User, project_id: int, *, title: str | None = None, label_config: str | None = None,
                 **settings: Any) -> ProjectEdit:
    """Change a project's title, settings or label config (leads of the project, admins); the
    one operation behind the settings page, ``PATCH /api/projects/ID`` and the CLI.

    A new overlap moves the tasks it concerns (:func:`_overlap_moves`), and the answer says how
    many reopened and how many were labeled.

    A new label config is parsed like a new one; if the project has annotations, predictions or
    gold answers, it may only change in ways that keep them valid (adding labels, say), and it
    may only read data fields every task has. Invalid names every reason otherwise.
    """
    clean = check_settings(settings)
    new_schema = parse_config(label_config) if label_config is not None else None
    title = check_title(title)
    with write_session() as s:
        project = require_project(s, user, project_id, "manage")
        if new_schema is not None and label_config != project.label_config:
            check_change(s, project, label_config, new_schema)
            project.label_config = label_config
            project.label_schema = new_schema.model_dump()
        if title is not None:
            project.title = title
        if "overlap" in clean and "max_overlap" not in settings:
            clean["max_overlap"] = max(clean["overlap"], project.max_overlap)
        if clean.get("max_overlap", project.max_overlap) < clean.get("overlap", project.overlap):
            raise Invalid("max_overlap must be at least overlap",
                          [{"field": "max_overlap", "detail": "must be at least overlap"}])
        old_overlap = project.overlap
        for name, value in clean.items():
            setattr(project, name, value)
        project.updated_at = utcnow()
        s.add(project)
        s.flush()
        change = _apply_overlap(s, user, project, old_overlap, clean["overlap"]) if "overlap" in clean else None
        webhooks.emit(s, "PROJECT_UPDATED", project.id, dict)
        return ProjectEdit(project, change)


def archive_project(user: User, project_id: int, *, archived: bool = True) -> Project:
    """Archive a project (hidden from lists, no imports, no new work) or bring it back."""
    with write_session() as s:
        project = require_project(s, user, project_id, "manage")
        project.archived_at = utcnow() if archived else None
        project.updated_at = utcnow()
        s.add(project)
        s.flush()
        webhooks.emit(s, "PROJECT_UPDATED", project.id, dict)
        return project


def _delete_where(s: Session, key: str, ids: list[int], *, keep: set[str] = frozenset()) -> None:
    """Delete, dependents first, every row of every table that has column ``key`` in ``ids``,
    and the rows pointing at those through a foreign key (annotation versions, say)."""
    tables = list(reversed(SQLModel.metadata.sorted_tables))
    doomed = {t.name for t in tables if key in t.c and t.name not in keep}
    for table in tables:
        if table.name in keep:
            continue
        if key in table.c:
            s.execute(sa.delete(table).where(table.c[key].in_(ids)))
            continue
        for fk in table.foreign_keys:
            parent = fk.column.table
            if parent.name in doomed and parent.name != table.name:
                sub = select(parent.c.id).where(parent.c[key].in_(ids))
                s.execute(sa.delete(table).where(fk.parent.in_(sub)))


def delete_project(user: User, project_id: int, *, force: bool = False) -> None:
    """Delete a project and everything in it for good, as Label Studio's ``DELETE
    /api/projects/ID`` does: tasks, annotations, predictions, events, QC runs, members, export
    snapshots, dataset versions (leads of the project and admins), in one transaction; the files
    of its dataset versions and snapshots go once it has committed. Stored media stay: they are
    shared by content with other projects.

    A project with published dataset versions is refused (Conflict) unless ``force``: training
    pipelines may still pull them. Archiving (:func:`archive_project`) keeps everything.
    """
    with write_session() as s:
        require_project(s, user, project_id, "manage")
        # waits for imports into it (each holds the row FOR KEY SHARE: on PostgreSQL task.project_id
        # has no foreign key), so the tasks they commit are deleted below, never left behind
        s.execute(select(Project.id).where(Project.id == project_id).with_for_update())
        published = s.execute(select(DatasetVersion.number).where(DatasetVersion.project_id == project_id)
                              .order_by(DatasetVersion.number)).scalars().all()
        if published and not force:
            shown = ", ".join(f"v{n}" for n in published)
            raise Conflict(f"project {project_id} has published dataset versions ({shown}) that pipelines may "
                           "still pull: archive it instead, or delete it with force=true to delete them too",
                           [{"field": "force", "detail": f"{len(published)} published dataset version(s)"}])
        # to organisation webhooks (the project's own go with it), decided while its members exist
        webhooks.emit(s, "PROJECT_DELETED", project_id, lambda: {"project": webhooks.only_ids([project_id])[0]},
                      with_project=False)
        _delete_where(s, "project_id", [project_id], keep={"project"})
        tally.forget(s.connection(), project_id)
        s.execute(sa.delete(Project).where(Project.id == project_id))
    root = get_settings().shared_root
    for folder in (root / "datasets" / str(project_id), root / "exports" / str(project_id)):
        shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------- members


def member_view(membership: Membership, user: User) -> dict:
    return {"id": membership.id, "user": {"id": user.id, "email": user.email, "username": user.email,
                                          "first_name": user.name, "role": user.role, "is_active": user.is_active},
            "role": membership.role, "paused": membership.paused_at is not None,
            "paused_reason": membership.paused_reason, "created_at": membership.created_at.isoformat()}


def list_members(user: User, project_id: int) -> list[tuple[Membership, User]]:
    """Members of a project and their roles (its leads and admins see them)."""
    with read_session() as s:
        require_project(s, user, project_id, "manage")
        return [tuple(r) for r in s.execute(
            select(Membership, User).join(User, User.id == Membership.user_id)
            .where(Membership.project_id == project_id).order_by(Membership.id))]


def _find_user(s: Session, who: int | str) -> User:
    if isinstance(who, bool):
        who = None
    if isinstance(who, int) or (isinstance(who, str) and who.strip().isdigit()):
        found = s.get(User, int(who)) if is_id(str(who).strip()) else None
    elif isinstance(who, str) and who.strip():
        found = s.exec(select(User).where(User.email == who.strip().lower())).first()
    else:
        raise Invalid("give the member as a user id or an email", [{"field": "user", "detail": "required"}])
    if found is None:
        raise NotFound(f"no user {who}", [{"field": "user", "detail": f"no user {who}"}])
    return found


def set_member(user: User, project_id: int, *, member: int | str, role: str = Role.annotator) -> tuple[Membership, User]:
    """Add a member to a project, or change their role (leads of the project, admins)."""
    if role not in MEMBER_ROLES:
        raise Invalid(f"unknown project role {role!r} (choose from {', '.join(MEMBER_ROLES)})",
                      [{"field": "role", "detail": f"choose from {', '.join(MEMBER_ROLES)}"}])
    with write_session() as s:
        require_project(s, user, project_id, "manage")
        target = _find_user(s, member)
        membership = s.exec(select(Membership).where(Membership.project_id == project_id,
                                                     Membership.user_id == target.id)).first()
        by_id = not (isinstance(member, str) and not member.strip().isdigit())
        if membership is None and by_id and user.role != Role.admin and target.id != user.id:
            # a lead adds people by the email they know; an id would tell them anyone's email
            raise NotFound(f"no user {member}", [{"field": "user", "detail": "add a new member by email"}])
        if membership is None:
            membership = Membership(project_id=project_id, user_id=target.id, role=role)
        else:
            membership.role = role
        s.add(membership)
        s.flush()
        return membership, target


def remove_member(user: User, project_id: int, member_user_id: int) -> None:
    with write_session() as s:
        require_project(s, user, project_id, "manage")
        res = s.execute(sa.delete(Membership).where(Membership.project_id == project_id,
                                                    Membership.user_id == member_user_id))
        if res.rowcount == 0:
            raise NotFound(f"user {member_user_id} is not a member of project {project_id}")


# --------------------------------------------------------------------------- tasks

TASK_PAGE_MAX = 1000


@dataclass
class TaskPage:
    tasks: list[Task]
    total: int
    page: int
    page_size: int
    total_annotations: int = 0
    total_predictions: int = 0
    predictions: dict[int, int] | None = None
    results: dict[int, tuple[list[dict], list[dict]]] | None = None  # task id -> (annotations, predictions)
    gold: bool = False  # the caller may see which tasks are gold and their answers (leads, admins)
    urls: Callable[[Any, int], Any] | None = None  # task data as sent: s3:// URIs as proxy URLs (storages.resolve)
    comments: dict[int, dict] | None = None  # task id -> Label Studio's comment keys (comments.counts)
    files: dict[int, str] | None = None  # task id -> the storage object it came from (storage_filename)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def task_filters(project_id: int, *, state: str | None = None, search: str | None = None) -> list:
    conds: list = [Task.project_id == project_id]
    if state:
        if state not in TaskState.__members__ and state != "gold":
            raise Invalid(f"unknown task state {state!r} (choose from {', '.join(TaskState)}, gold)",
                          [{"field": "state", "detail": "unknown state"}])
        conds.append(Task.is_gold.is_(True) if state == "gold" else Task.state == state)
    search = check_text((search or "").strip(), "search", max_chars=get_settings().max_search_chars)
    if search.startswith("#") and is_id(search[1:]):  # "#123": the task with that id
        conds.append(Task.id == int(search[1:]))
    elif search:
        pattern = f"%{_escape_like(search.lower())}%"
        alternatives = [sa.func.lower(sa.cast(Task.data, sa.Text)).like(pattern, escape="\\"),
                        sa.func.lower(Task.file_name).like(pattern, escape="\\")]
        if is_id(search):
            alternatives.append(Task.id == int(search))
        conds.append(sa.or_(*alternatives))
    return conds


def list_tasks(user: User, project_id: int, *, state: str | None = None, search: str | None = None,
               page: int = 1, page_size: int = 100, with_results: bool = False,
               where: Sequence[Any] = (), order_by: Sequence[Any] = (), gold_query: bool = False,
               resolve_uri: bool = True) -> TaskPage:
    """A page of a project's tasks, oldest first, filtered by state and by text in their data.

    ``with_results`` adds every task's annotations and predictions (Label Studio's
    ``fields=all``), read in two queries for the page. Only leads and admins may ask for the
    gold tasks (``state="gold"``); the page's ``gold`` says whether the caller may see the gold
    flag and answer of its tasks. ``where`` and ``order_by`` are more clauses over :class:`Task` (a Data
    Manager query, :mod:`labeling.dm.filters`); ``gold_query`` says they filter or sort by whether
    tasks are gold, which only leads and admins may. ``resolve_uri`` false (Label Studio's
    ``resolve_uri=false``) gives the data as stored: ``s3://`` URIs of import storages unsigned.
    """
    if page < 1 or page_size < 1:
        raise Invalid("page and page_size must be at least 1", [{"field": "page", "detail": "must be >= 1"}])
    page_size = min(page_size, TASK_PAGE_MAX)
    if (page - 1) * page_size > MAX_INT:
        raise Invalid(f"page {page} is out of range", [{"field": "page", "detail": "out of range"}])
    with read_session() as s:
        project = require_project(s, user, project_id, "see_all")
        sees_gold = can(s, user, project, "see_gold")
        if (state == "gold" or gold_query) and not sees_gold:
            raise Forbidden(f"only the leads of project {project_id} may list its gold tasks")
        conds = [*task_filters(project_id, state=state, search=search), *where]
        total = s.execute(select(sa.func.count()).select_from(Task).where(*conds)).scalar_one()
        totals = s.execute(select(sa.func.coalesce(sa.func.sum(Task.n_annotations), 0)).where(*conds)).scalar_one()
        tasks = list(s.exec(select(Task).where(*conds).order_by(*(order_by or [Task.id]))
                            .offset((page - 1) * page_size).limit(page_size)))
        ids = [t.id for t in tasks]
        preds = dict(s.execute(select(Prediction.task_id, sa.func.count()).where(Prediction.task_id.in_(ids))
                               .group_by(Prediction.task_id)).all()) if ids else {}
        n_preds = s.execute(select(sa.func.count()).select_from(Prediction)
                            .where(Prediction.project_id == project_id,
                                   Prediction.task_id.in_(select(Task.id).where(*conds)))).scalar_one()
        results = None
        if with_results:
            results = {i: ([], []) for i in ids}
            if ids:
                found = list(s.exec(select(Annotation).where(Annotation.task_id.in_(ids)).order_by(Annotation.id)))
                for a, shown in zip(found, _named(s, found), strict=True):
                    results[a.task_id][0].append(shown)
                for p in s.exec(select(Prediction).where(Prediction.task_id.in_(ids)).order_by(Prediction.id)):
                    results[p.task_id][1].append(wire.prediction_json(p))
        return TaskPage(tasks, total, page, page_size, int(totals), n_preds, preds, results, gold=sees_gold,
                        urls=url_resolver(s, project_id) if resolve_uri else None, comments=comments.counts(s, ids),
                        files=storage_filenames(s, ids))


def _named(s: Session, annotations: list[Annotation]) -> list[dict]:
    """Annotations as Label Studio's JSON with their ``created_username`` (one query for the
    authors, in ``s``'s transaction)."""
    names = users.usernames((a.user_id for a in annotations), conn=s)
    return [wire.annotation_json(a, names=names) for a in annotations]


def task_for_user(s: Session, user: User, task_id: int, action: str) -> tuple[Task, Project, bool]:
    """The one rule for who sees a task: the task, its project, and whether ``user`` sees every
    annotation (and draft) there (``access`` action ``see_all``: reviewers, leads, admins).

    ``action`` "view": a user who sees everything in the project, or an annotator on a task they
    hold (a lease) or labelled (an annotation or skip of theirs); any other action is checked
    on the project (``access.require_project``).

    Raises
    ------
    NotFound
        No such task, or one the user may not see (one answer for both).
    Forbidden
        The user may see the task but not do ``action``.
    """
    task = s.get(Task, task_id)
    if task is None:
        raise NotFound(f"task {task_id} not found")
    project = require_project(s, user, task.project_id, "view")
    privileged = can(s, user, project, "see_all")
    if action == "view" and not privileged:
        mine = s.execute(select(Annotation.id).where(Annotation.task_id == task_id, Annotation.user_id == user.id)
                         .union_all(select(Lease.id).where(Lease.task_id == task_id, Lease.user_id == user.id))
                         .limit(1)).first()
        if mine is None:
            raise NotFound(f"task {task_id} not found")
    elif action != "view":
        require_project(s, user, task.project_id, action)
    return task, project, privileged


def get_task(user: User, task_id: int, *, data_manager: bool = True, resolve_uri: bool = True) -> dict:
    """One task with its annotations and predictions, as the caller may see them.

    Leads and reviewers see every annotation and the workflow keys; only leads and admins see
    whether the task is gold and its answer (``is_gold``, ``gold_answer``). An annotator sees a
    task they hold or labeled, with their own annotation only, and predictions when the project
    shows them and no one else has labelled the task (ARCHITECTURE.md, Pre-labels).
    ``resolve_uri`` false: the data as stored, as :func:`list_tasks` gives it.
    """
    with read_session() as s:
        task, project, privileged = task_for_user(s, user, task_id, "view")
        q = select(Annotation).where(Annotation.task_id == task_id).order_by(Annotation.id)
        if not privileged:
            q = q.where(Annotation.user_id == user.id)
        annotations = _named(s, list(s.exec(q)))
        shown = privileged or (prelabels_on(project.show_predictions, project.overlap) and s.exec(
            select(Annotation.id).where(Annotation.task_id == task_id, Annotation.user_id != user.id,
                                        Annotation.was_cancelled == sa.false()).limit(1)).first() is None)
        predictions = list(s.exec(select(Prediction).where(Prediction.task_id == task_id).order_by(Prediction.id))) \
            if shown else []
        out = wire.task_json(task, annotations=annotations, predictions=predictions, private=privileged,
                             gold=privileged and can(s, user, project, "see_gold"),
                             urls=url_resolver(s, project.id) if resolve_uri else None,
                             comments=(comments.counts(s, [task_id]).get(task_id) or comments.empty_counts())
                             if privileged else None)
        if data_manager:  # Label Studio's GET /api/tasks/ID; its create answer has none of them
            out.update(wire.dm_task_keys(out["annotations"], out["predictions"]))
            # the object an import storage made the task from (Label Studio's get_storage_filename)
            out["storage_filename"] = storage_filenames(s, [task_id]).get(task_id)
            # Label Studio's: the caller's own drafts; whether the task has a draft one may see
            mine = list(s.exec(select(AnnotationDraft).where(AnnotationDraft.task_id == task_id,
                                                             AnnotationDraft.user_id == user.id)
                               .order_by(AnnotationDraft.id)))
            out["drafts"] = [wire.draft_json(d, user) for d in mine]
            out["draft_exists"] = bool(mine) or (privileged and s.exec(
                select(AnnotationDraft.id).where(AnnotationDraft.task_id == task_id).limit(1)).first() is not None)
        return out


def update_task(user: User, task_id: int, *, data: dict | None = None, meta: dict | None = None,
                priority: float | None = None) -> dict:
    """Change a task's data, meta or priority (leads, admins); data is checked against the config.

    Data that the label config shows cannot change once the task has annotations (spans and
    boxes refer to it); other fields can.
    """
    with write_session() as s:
        task, project, _ = task_for_user(s, user, task_id, "manage")
        if data is not None:
            if not isinstance(data, dict) or not data:
                raise Invalid("data must be a non-empty object", [{"field": "data", "detail": "must be an object"}])
            problem = task_data_problem(data)
            if problem is not None:
                detail = f"task data {problem}" if problem.startswith(("has ", "is ")) else f"task data: {problem}"
                raise Invalid(detail, [{"row": None, "field": "data", "detail": detail}])
            schema = schema_of(project)
            problems = validate_task_data(schema, data)
            if problems:
                raise Invalid(f"task data refused: {problems[0]}",
                              [{"row": None, "field": "data", "detail": p} for p in problems])
            has_annotations = s.execute(select(Annotation.id).where(Annotation.task_id == task_id).limit(1)).first()
            changed = [k for k in sorted(schema.data_keys) if data.get(k) != (task.data or {}).get(k)]
            if has_annotations is not None and changed:
                raise Conflict(f"task {task_id} has annotations; its field(s) {changed} that the label config "
                               "shows cannot change")
            task.data = data
            task.content_hash = content_hash(data)
        if meta is not None:
            if not isinstance(meta, dict):
                raise Invalid("meta must be an object", [{"field": "meta", "detail": "must be an object"}])
            task.meta = meta
        if priority is not None:
            if isinstance(priority, bool) or not isinstance(priority, int | float) or not math.isfinite(priority):
                raise Invalid("priority must be a number", [{"field": "priority", "detail": "must be a number"}])
            task.priority = float(priority)
        task.updated_at = utcnow()
        s.add(task)
        s.flush()
        return wire.task_json(  # Label Studio's answer: the task with its annotations and predictions
            task, annotations=_named(s, list(s.exec(select(Annotation).where(Annotation.task_id == task_id)
                                                    .order_by(Annotation.id)))),
            predictions=s.exec(select(Prediction).where(Prediction.task_id == task_id).order_by(Prediction.id)),
            private=True, gold=True, comments=comments.counts(s, [task_id]).get(task_id) or comments.empty_counts())


def delete_task(user: User, task_id: int) -> None:
    """Delete a task and what hangs on it (annotations and their history, predictions, events)."""
    with write_session() as s:
        task, _, _ = task_for_user(s, user, task_id, "manage")
        project_id = task.project_id
        _delete_where(s, "task_id", [task_id], keep={"task"})
        s.execute(sa.delete(Task).where(Task.id == task_id))
        webhooks.emit(s, "TASKS_DELETED", project_id, lambda: {"tasks": webhooks.only_ids([task_id])})
