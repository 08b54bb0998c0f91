"""Projects, import, tasks and members over REST, answering with Label Studio's field names.

``POST/GET/PATCH/DELETE /api/projects[/ID]`` (``?title=`` filters the list; DELETE deletes,
``PATCH {"is_archived": true}`` archives), ``POST /api/projects/validate`` and
``/api/projects/ID/validate``, ``POST /api/tasks`` (one task),
``POST /api/projects/ID/import`` (a JSON body or multipart files), ``GET
/api/projects/ID/imports/IID``, ``GET /api/tasks?project=ID``, ``GET/PATCH/DELETE
/api/tasks/ID``, ``GET/POST /api/projects/ID/members``, ``DELETE
/api/projects/ID/members/UID`` and ``GET /api/label-configs``.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request, url_for

from labeling import comments, imports, invites, project_config, projects, tasks, users, wire
from labeling.access import can_create_projects
from labeling.dm import actions as dm_actions
from labeling.dm import filters as dm_filters
from labeling.dm import views as dm_views
from labeling.errors import Forbidden, Invalid, NotFound
from labeling.limits import MAX_ID
from labeling.schema import gallery
from web.api import accepts_uploads, api_user, bp, readable
from web.api import schemas as s
from web.api.describe import File, doc
from web.api.invites import invite_answer, refusal
from web.api.params import int_arg, json_body

# Label Studio's names for labelfab's settings.
LS_NAMES = {"maximum_annotations": "overlap", "expert_instruction": "instructions",
            "show_collab_predictions": "show_predictions"}
# Label Studio project fields labelfab accepts and ignores (it has no such setting).
LS_IGNORED = {
    "sampling", "show_skip_button", "enable_empty_annotation", "show_annotation_history",
    "color", "is_published", "model_version", "evaluate_predictions_automatically",
    "reveal_preannotations_interactively", "min_annotations_to_start_training",
    "control_weights", "organization", "workspace", "is_draft", "created_by", "skip_queue", "pinned_at",
    "show_ground_truth_first", "show_overlap_first", "overlap_cohort_percentage", "task_data_login",
    "task_data_password", "id", "task_number", "created_at", "total_annotations_number",
    "num_tasks_with_annotations", "kind", "states", "maximum_annotations_per_task", "annotator_evaluation_enabled",
    "custom_script", "comment_classification_config", "description_short", "members", "is_archived_by",
    "qc_policy",  # shown by GET, changed through the QC policy's own endpoint
    "overlap_change",  # what a PATCH of the overlap did, in its answer
    # Label Studio's read-only keys a GET answers with (wire.Project)
    "useful_annotation_number", "ground_truth_number", "skipped_annotations_number", "total_predictions_number",
    "finished_task_number", "start_training_on_annotation_update", "parsed_label_config", "config_has_control_tags",
    "config_suitable_for_bulk_annotation", "queue_total", "queue_done", "state",
}
TRUE = {"1", "true", "yes", "on"}
TITLE_FILTER_MAX = 255
IDS_MAX = 1000


def _ids_arg(name: str) -> list[int] | None:
    """``?ids=1,2,3`` (Label Studio's ``BaseInFilter``), bounded."""
    raw = request.args.get(name)
    if raw is None or not raw.strip():
        return None
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if len(parts) > IDS_MAX or not all(p.isdigit() and len(p) < 19 for p in parts):
        raise Invalid(f"{name} must be at most {IDS_MAX} comma-separated ids",
                      [{"field": name, "detail": "comma-separated ids"}])
    return [int(p) for p in parts]


def _flag(name: str, default: bool = False) -> bool:
    value = request.args.get(name)
    return default if value is None else value.strip().lower() in TRUE


def _project_fields(body: dict, *, creating: bool) -> tuple[dict, dict]:
    """Split a Label Studio project body into (title/label_config, settings)."""
    main, settings, unknown = {}, {}, []
    for key, value in body.items():
        if key in ("title", "label_config"):
            main[key] = value
        elif key in LS_NAMES:
            if not (key == "show_collab_predictions" and "show_predictions" in body):  # labelfab's own key wins
                settings[LS_NAMES[key]] = value
        elif key in projects.SETTINGS:
            settings[key] = value
        elif key == "is_archived" and not creating:
            main[key] = value
        elif key not in LS_IGNORED:
            unknown.append(key)
    if unknown:
        raise Invalid(f"unknown project field(s): {', '.join(sorted(unknown))}",
                      [{"field": k, "detail": "unknown field"} for k in sorted(unknown)])
    for key in ("title", "label_config"):
        if key in main and not isinstance(main[key], str):
            raise Invalid(f"{key} must be a string", [{"field": key, "detail": "must be a string"}])
    if "description" in settings and settings["description"] is None:
        settings["description"] = ""
    return main, settings


# --------------------------------------------------------------------------- projects


@bp.get("/projects")
@readable
@doc(summary="Projects the caller can see, paginated", query=s.ProjectsQuery, responses={200: wire.ProjectList}, tags=('projects',))
def list_projects():
    page, page_size = int_arg("page", 1), min(max(int_arg("page_size", 100), 1), 1000)
    title = request.args.get("title") or None
    if title is not None and len(title) > TITLE_FILTER_MAX:
        raise Invalid(f"title is at most {TITLE_FILTER_MAX} characters",
                      [{"field": "title", "detail": f"longer than {TITLE_FILTER_MAX} characters"}])
    ids = _ids_arg("ids")
    rows = projects.list_projects(api_user().user, include_archived=_flag("include_archived"), title=title, ids=ids)
    start = (max(page, 1) - 1) * page_size
    chunk = rows[start:start + page_size]
    more = start + page_size < len(rows)
    kept = {k: v for k, v in request.args.items() if k in ("title", "ids", "include_archived")}
    return jsonify({"count": len(rows),
                    "next": url_for("api.list_projects", page=page + 1, page_size=page_size, **kept) if more else None,
                    "previous": (url_for("api.list_projects", page=page - 1, page_size=page_size, **kept)
                                 if page > 1 else None),
                    "results": [projects.project_view(p, c) for p, c in chunk]})


@bp.post("/projects")
@doc(summary="Create a project from a Label Studio label config", body=s.ProjectBody, responses={201: wire.Project}, tags=('projects',))
def create_project():
    main, settings = _project_fields(json_body(), creating=True)
    if "label_config" not in main:
        raise Invalid("a project needs a label_config (Label Studio XML)",
                      [{"field": "label_config", "detail": "required"}])
    project = projects.create_project(api_user().user, title=main.get("title", ""),
                                      label_config=main["label_config"], **settings)
    project, counts = projects.get_project_for(api_user().user, project.id)
    return jsonify(projects.project_view(project, counts)), 201


@bp.post("/projects/validate")
@doc(body=s.LabelConfigBody, responses={200: s.ConfigCheck}, tags=('projects',))
def validate_config():
    """Check a label config without saving it (the create page's live check; Label Studio's route):
    for those who may create projects."""
    if not can_create_projects(api_user().user):
        raise Forbidden("only leads and admins may validate label configs")
    body = json_body()
    config = body.get("label_config")
    if not isinstance(config, str) or not config.strip():
        raise Invalid("send {\"label_config\": \"<View>...</View>\"}", [{"field": "label_config", "detail": "required"}])
    schema = project_config.parse_config(config)
    return jsonify({"ok": True, "kind": schema.kind, "data_keys": sorted(schema.data_keys),
                    "controls": [{"name": c.name, "tag": c.tag, "to_name": c.to_name, "labels": c.labels,
                                  "choice": c.choice} for c in schema.controls]})


@bp.get("/label-configs")
@readable
@doc(responses={200: list[dict[str, Any]]}, tags=('projects',))
def label_configs():
    """The gallery of ready label configs."""
    return jsonify(gallery())


@bp.get("/projects/<int:project_id>")
@readable
@doc(summary="One project with its counts", responses={200: wire.Project}, tags=('projects',))
def get_project(project_id: int):
    project, counts = projects.get_project_for(api_user().user, project_id)
    return jsonify(projects.project_view(project, counts))


@bp.route("/projects/<int:project_id>", methods=["PATCH", "PUT"])
@doc(summary="Change a project's settings, label config, or archive it", body=s.ProjectBody, responses={200: wire.Project}, tags=('projects',))
def update_project(project_id: int):
    main, settings = _project_fields(json_body(), creating=False)
    user = api_user().user
    archived = main.pop("is_archived", None)
    change = None
    if main or settings:
        change = projects.edit_project(user, project_id, **main, **settings).overlap_change
    if archived is not None:
        if not isinstance(archived, bool):
            raise Invalid("is_archived must be true or false", [{"field": "is_archived", "detail": "must be a boolean"}])
        projects.archive_project(user, project_id, archived=archived)
    project, counts = projects.get_project_for(user, project_id)
    view = projects.project_view(project, counts)
    if change is not None:  # maximum_annotations or overlap given: what it did to the tasks
        view["overlap_change"] = change.as_dict()
    return jsonify(view)


@bp.delete("/projects/<int:project_id>")
@doc(query=s.DeleteProjectQuery, responses={204: None}, tags=('projects',))
def delete_project(project_id: int):
    """Delete the project and everything in it (Label Studio's meaning; leads of the project,
    admins); 409 while it has published dataset versions, unless ``?force=true``. To keep it
    but hide it, archive it: ``PATCH {"is_archived": true}``."""
    projects.delete_project(api_user().user, project_id, force=_flag("force"))
    return "", 204


@bp.post("/projects/<int:project_id>/validate")
@doc(body=s.LabelConfigBody, responses={200: s.ConfigValidation}, tags=('projects',))
def validate_project_config(project_id: int):
    """Check a new label config for this project without saving it (Label Studio's route): 400
    if it is invalid or its tasks and labels forbid the change; else whether its essential
    data (fields read, controls, labels) changed."""
    config = json_body().get("label_config")
    if not isinstance(config, str) or not config.strip():
        raise Invalid("Label config is not set or is empty", [{"field": "label_config", "detail": "required"}])
    changed = project_config.check_label_config(api_user().user, project_id, config)
    return jsonify({"config_essential_data_has_changed": changed})


# --------------------------------------------------------------------------- import


@bp.post("/projects/<int:project_id>/import")
@doc(query=s.ImportQuery, body=(list[s.ImportTask], File(('multipart/form-data',), 'files: JSON, CSV, TSV, JSONL, Parquet, images, zip')), responses={201: wire.ImportReport, 202: wire.ImportReport}, tags=('import',))
@accepts_uploads
def import_tasks(project_id: int):
    """Import tasks: a JSON body (Label Studio tasks, or flat objects) or multipart files.

    Query: ``skip_invalid``, ``dedupe``, ``return_task_ids``, ``background`` (true/false; by
    default large imports run as a job and answer 202 with the import and job ids), ``user_map``
    (``7=ann@example.com,8=...``: another instance's user ids as emails).
    """
    background = request.args.get("background")
    options = dict(skip_invalid=_flag("skip_invalid"), dedupe=_flag("dedupe"),
                   return_task_ids=_flag("return_task_ids"),
                   background=None if background is None else background.strip().lower() in TRUE,
                   user_map=imports.parse_user_map(request.args.get("user_map")))
    user = api_user().user
    if request.mimetype == "multipart/form-data" or request.files:
        uploads = ((f.filename or key, f.stream) for key, f in request.files.items(multi=True))
        with imports.received_files(uploads) as files:  # JSON Lines and Parquet stay on disk
            result = imports.import_data(user, project_id, files=files, **options)
    else:
        # the bytes as received: parsed once, and kept as they are if the import runs as a job
        result = imports.import_data(user, project_id, body=request.get_data(cache=False), **options)
    response = result.as_dict()
    if result.status == "queued":
        response["url"] = url_for("api.get_import", project_id=project_id, import_id=result.import_id)
        return jsonify(response), 202
    return jsonify(response), 201


@bp.get("/projects/<int:project_id>/imports/<int:import_id>")
@doc(summary="An import's status, counts and errors (and its job)", query=s.ImportStatusQuery, responses={200: wire.ProjectImport}, tags=('import',))
def get_import(project_id: int, import_id: int):
    batch, job = imports.get_import(api_user().user, project_id, import_id)
    task_ids = imports.import_task_ids(import_id) if batch.status == "done" and _flag("return_task_ids", True) else None
    return jsonify(imports.import_view(batch, job, task_ids=task_ids))


# --------------------------------------------------------------------------- tasks


def _task_page(project_id: int) -> tasks.TaskPage:
    user = api_user().user
    view_id = int_arg("view", 0)
    if view_id:
        query = dm_views.view_params(user, project_id, view_id)
    else:
        query = dm_filters.parse(request.args.get("query"), selected_items=request.args.get("selectedItems"))
    return tasks.list_tasks(user, project_id, state=request.args.get("state"),
                               search=request.args.get("search") or request.args.get("q"),
                               page=int_arg("page", 1), page_size=int_arg("page_size", 100),
                               with_results=request.args.get("fields") == "all",
                               where=dm_filters.where(query), order_by=dm_filters.order_by(query),
                               gold_query=bool(dm_filters.columns_used(query) & set(dm_filters.GOLD_COLUMNS)),
                               resolve_uri=_flag("resolve_uri", True))


def _task_list_views(page: tasks.TaskPage) -> list[dict]:
    out = []
    for t in page.tasks:
        anns, preds = page.results.get(t.id, ([], [])) if page.results is not None else (None, None)
        out.append({**wire.task_json(t, annotations=anns, predictions=preds,
                                     n_predictions=(page.predictions or {}).get(t.id, 0), private=True,
                                     gold=page.gold, urls=page.urls,
                                     comments=(page.comments or {}).get(t.id) or comments.empty_counts()),
                    "storage_filename": (page.files or {}).get(t.id)})
    return out


@bp.get("/tasks")
@readable
@doc(query=s.TasksQuery, responses={200: wire.TaskList}, tags=('tasks',))
def list_tasks():
    """Tasks of a project, paginated (``project``, ``page``, ``page_size``, ``state``, ``search``),
    filtered and ordered by a Data Manager ``query`` or ``view`` as Label Studio does (a ``view``
    alone names its project)."""
    project_id = int_arg("project", 0)
    view_id = int_arg("view", 0)
    if not project_id and view_id:  # Label Studio's: the view's project
        project_id = dm_views.get_view(api_user().user, view_id).project_id
    if not project_id:  # Label Studio's answer, word for word
        raise NotFound("Neither project nor view id specified")
    page = _task_page(project_id)
    return jsonify({"tasks": _task_list_views(page), "total": page.total,
                    "total_annotations": page.total_annotations, "total_predictions": page.total_predictions,
                    "page": page.page, "page_size": page.page_size})


@bp.post("/tasks")
@doc(summary="Create one task (Label Studio's body: project, data, meta)", body=s.NewTaskBody,
     responses={201: wire.Task}, tags=('tasks',))
def create_task():
    """One task, imported by the importer (the same checks, limits and URL rules as an import):
    ``{"project": ID, "data": {...}}``; 201 with the task."""
    body = json_body()
    unknown = sorted(set(body) - NEW_TASK_FIELDS)
    if unknown:
        raise Invalid(f"unknown task field(s): {', '.join(unknown)}",
                      [{"field": k, "detail": "unknown field"} for k in unknown])
    project_id = body.get("project")
    if isinstance(project_id, bool) or not isinstance(project_id, int) or not 0 < project_id <= MAX_ID:
        raise Invalid("a task needs \"project\": the project id", [{"field": "project", "detail": "required"}])
    if not isinstance(body.get("data"), dict):
        raise Invalid("a task needs \"data\": an object of its fields", [{"field": "data", "detail": "required"}])
    row = {k: v for k, v in body.items() if k != "project"}
    result = imports.import_data(api_user().user, project_id, body=[row], return_task_ids=True, background=False)
    return jsonify(tasks.get_task(api_user().user, result.task_ids[0], data_manager=False)), 201


#: The keys of Label Studio's task body that a new task takes.
NEW_TASK_FIELDS = {"project", "data", "meta", "annotations", "predictions"}


@bp.get("/projects/<int:project_id>/tasks")
@readable
@doc(query=s.ProjectTasksQuery, responses={200: list[wire.Task]}, tags=('tasks',))
def list_project_tasks(project_id: int):
    """Label Studio's older list form: a plain JSON list of one page of tasks."""
    return jsonify(_task_list_views(_task_page(project_id)))


@bp.delete("/projects/<int:project_id>/tasks")
@doc(responses={204: None}, tags=('tasks',))
def delete_all_tasks(project_id: int):
    """Delete every task of the project, with its annotations and predictions (Label Studio's
    route, the SDK's ``tasks.delete_all_tasks``; leads of the project, admins)."""
    dm_actions.delete_all_tasks(api_user().user, project_id)
    return "", 204


@bp.get("/tasks/<int:task_id>")
@readable
@doc(summary="One task with the annotations and predictions the caller may see", query=s.TaskQuery,
     responses={200: wire.Task}, tags=('tasks',))
def get_task(task_id: int):
    return jsonify(tasks.get_task(api_user().user, task_id, resolve_uri=_flag("resolve_uri", True)))


@bp.route("/tasks/<int:task_id>", methods=["PATCH", "PUT"])
@doc(summary="Change a task's data, meta or priority (leads)", body=s.TaskBody, responses={200: wire.Task}, tags=('tasks',))
def update_task(task_id: int):
    body = json_body()
    unknown = sorted(set(body) - {"data", "meta", "priority", "project", "id"})
    if unknown:
        raise Invalid(f"unknown task field(s): {', '.join(unknown)} (data, meta and priority can change)",
                      [{"field": k, "detail": "unknown or read-only field"} for k in unknown])
    view = tasks.update_task(api_user().user, task_id, data=body.get("data"), meta=body.get("meta"),
                                priority=body.get("priority"))
    return jsonify(view)


@bp.delete("/tasks/<int:task_id>")
@doc(summary="Delete a task and what hangs on it (leads)", responses={204: None}, tags=('tasks',))
def delete_task(task_id: int):
    tasks.delete_task(api_user().user, task_id)
    return "", 204


# --------------------------------------------------------------------------- members


@bp.get("/projects/<int:project_id>/members")
@doc(summary="A project's members and their roles", responses={200: list[s.Member]}, tags=('projects',))
def list_members(project_id: int):
    return jsonify([projects.member_view(m, u) for m, u in projects.list_members(api_user().user, project_id)])


@bp.route("/projects/<int:project_id>/members", methods=["POST", "PATCH"])
@doc(summary="Add a member or change their role; an email no account has is invited (an account without a "
             "password and a one-time link, in `invite`), as the Members page does",
     body=s.MemberBody, responses={200: s.AddedMember, 201: s.AddedMember}, tags=('projects',))
def set_member(project_id: int):
    body = json_body()
    who = body.get("user", body.get("user_id", body.get("email")))
    role = body.get("role", "annotator")
    if not isinstance(role, str):
        raise Invalid("role must be a string", [{"field": "role", "detail": "must be a string"}])
    try:
        added = invites.add_member(api_user().user, project_id, member=who, role=role)
    except users.UserError as exc:
        raise refusal(exc) from None
    out = {**projects.member_view(added.membership, added.user),
           "invite": invite_answer(added.invited) if added.invited else None}
    return jsonify(out), 201 if request.method == "POST" else 200


@bp.delete("/projects/<int:project_id>/members")
@doc(summary="Remove a member: ?user=UID, or a body {\"user\": UID} (Label Studio's form)", query=s.MemberQuery,
     responses={204: None}, tags=('projects',))
def remove_member_by_query(project_id: int):
    user_id = int_arg("user", None, minimum=1)
    if user_id is None:
        body = request.get_json(silent=True)
        value = body.get("user") if isinstance(body, dict) else None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
            raise Invalid("give the member: ?user=UID", [{"field": "user", "detail": "required"}])
        user_id = value
    projects.remove_member(api_user().user, project_id, user_id)
    return "", 204


@bp.delete("/projects/<int:project_id>/members/<int:user_id>")
@doc(summary="Remove a member from a project", responses={204: None}, tags=('projects',))
def remove_member(project_id: int, user_id: int):
    projects.remove_member(api_user().user, project_id, user_id)
    return "", 204

