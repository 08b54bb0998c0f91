"""Projects: create, edit, list, archive; members (a project's tasks: :mod:`labeling.tasks`).

A project holds a Label Studio XML label config and its parsed label schema
(:mod:`labeling.schema`), the routing settings (overlap, lease time, gold rate) and the
QC policy. Views, the REST API and the CLI all call these functions.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from labeling import lifecycle, tally, webhooks, wire
from labeling.access import can_create_projects, project_role, require_project
from labeling.db import read_session, utcnow, write_session
from labeling.errors import Conflict, Forbidden, Invalid, NotFound
from labeling.jobs.qc_trigger import tasks_labeled
from labeling.limits import check_text, has_lone_surrogate, is_id
from labeling.models import (
    DatasetVersion,
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
from labeling.schema import schema_of
from labeling.settings import get_settings
from labeling.tasks import delete_where

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
        delete_where(s, "project_id", [project_id], keep={"project"})
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
