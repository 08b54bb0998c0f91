"""Exports and dataset versions over REST.

``GET /api/projects/ID/export?exportType=F`` streams a project's tasks with their final labels
(:func:`labeling.exports.export`): Label Studio's names (JSON, JSON_MIN, CSV, TSV, COCO, YOLO,
VOC, CONLL2003, COCO_WITH_IMAGES, YOLO_WITH_IMAGES) plus JSONL and PARQUET; filters ``state``
(default accepted; ``all``), ``label``, ``annotator``, ``since``, ``until``; ``seed`` and
``split`` (80,10,10) for the split column; ``media=urls|files``; ``csv_raw=true`` (CSV and TSV
cells as they are: by default text a spreadsheet would run as a formula gets a ``'`` in front,
OWASP's rule; the other formats are always as stored). Called exactly as Label Studio
is (none of those filters; ``download_all_tasks``, ``ids``, ``query`` allowed), it answers as Label
Studio does: every annotated task with all its annotations (:func:`labeling.exports.iter_ls_json`),
in JSON, or converted by Label Studio's converter to JSON_MIN, CSV, TSV, COCO, YOLO, VOC or
CONLL2003 (:func:`labeling.exports.snapshots.ls_export_file`, as a snapshot converts); ``gold=true`` adds the gold tasks with their answers
(``ground_truth`` on the annotation that gives it). With any of the clean export's arguments it is
the same file as the export page's and ``labelfab export``'s for the same choices, ``rows=final|
annotations`` (tabular formats: final labels of accepted items, or one row per annotation with
Label Studio's columns) and ``gold=true`` included. ``GET /api/projects/ID/export/formats`` lists formats.

Export snapshots (:mod:`labeling.exports.snapshots`), Label Studio's: ``POST/GET
/api/projects/ID/exports``, ``GET/DELETE .../exports/EID``, ``GET .../exports/EID/download?exportType=``.

Dataset versions (:mod:`labeling.datasets`): ``POST /api/projects/ID/datasets`` publishes
(``{"note", "seed", "split", "background"}``; 201, or 200 with the latest version when nothing
changed; a project above ``LABELFAB_PUBLISH_JOB_THRESHOLD`` accepted tasks, or ``background:
true``, is published by a job: 202 with the job, followed at ``GET /api/jobs/ID``),
``GET /api/projects/ID/datasets`` lists, ``GET .../datasets/VERSION`` (a number or ``latest``)
is the manifest, ``GET .../datasets/VERSION/download?format=jsonl|parquet|csv|json|coco|yolo|
voc|conll2003|media|card`` sends the stored file with its sha256 as ETag (``If-None-Match`` ->
304) and byte ranges (``Range`` -> 206, for resuming), and ``GET .../datasets/diff?from=1&to=2``
compares two versions (``&format=csv``: every changed id). A task keeps its split from version to
version; ``POST .../datasets/resplit`` (``{"seed", "split", "reason"}``) starts a new split
generation (:mod:`labeling.splits`), and ``seed``/``split`` on a publish must then match it. Listing and downloading is the ``pull`` right: leads and admins, or any
user who can view the project through a read-only token (``labelfab token create --scope read``).
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, send_file

from labeling import datasets, exports, jobs, publish_job, splits, wire
from labeling.errors import Invalid
from labeling.exports import snapshots
from web.api import api_user, bp, readable
from web.api import schemas as s
from web.api.describe import File, doc

TRUE = {"1", "true", "yes", "on"}
#: Query arguments of labelfab's clean export; without any, exportType=JSON answers as Label Studio.
CLEAN_ARGS = ("state", "label", "annotator", "since", "until", "seed", "split", "media", "rows")
LS_ARGS = ("download_all_tasks", "ids", "ids[]", "query")


def _dm_query():
    """``query``: a Data Manager query (labelfab's addition: the data manager exports every task
    that matches its filters, or its selection, through Label Studio's JSON export)."""
    from labeling.dm import filters

    raw = request.args.get("query")
    return filters.parse(raw) if raw not in (None, "") else None


def _ids() -> list[int] | None:
    values = [v for item in request.args.getlist("ids[]") + request.args.getlist("ids")
              for v in str(item).split(",") if v.strip()]
    if not values:
        return None
    try:
        return [int(v) for v in values]
    except ValueError:
        raise Invalid("ids must be task ids", [{"row": None, "field": "ids", "detail": "not a number"}]) from None


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"', "X-Accel-Buffering": "no"}


@bp.get("/projects/<int:project_id>/export")
@doc(query=s.ExportQuery, responses={200: (list[wire.ExportTask], File(('text/csv', 'text/tab-separated-values', 'application/x-ndjson', 'application/vnd.apache.parquet', 'application/zip', 'text/plain'), 'the export in the format asked'))}, tags=('export',))
def export(project_id: int):
    """A project's tasks with their final labels, streamed (Label Studio's export URL)."""
    kind = request.args.get("exportType") or request.args.get("export_type") or "JSON"
    args = request.args
    clean = any(args.get(name) not in (None, "") for name in CLEAN_ARGS)
    if kind.strip().upper() in snapshots.SNAPSHOT_FORMATS and not clean:
        chosen = {"download_all_tasks": (args.get("download_all_tasks") or "").lower() in TRUE, "ids": _ids(),
                  "include_gold": (args.get("gold") or "").lower() in TRUE, "query": _dm_query()}
        if kind.strip().upper() != "JSON":
            found = snapshots.ls_export_file(project_id, api_user().user, export_type=kind,
                                             csv_raw=exports.parse_flag(args.get("csv_raw"), "csv_raw"), **chosen)
            return Response(found, mimetype=found.mimetype, headers=_attachment(found.filename))
        chunks = exports.iter_ls_json(project_id, api_user().user, **chosen)
        return Response(chunks, mimetype="application/json", headers=_attachment(f"project-{project_id}.json"))
    if any(args.get(name) not in (None, "") for name in LS_ARGS):
        raise Invalid("download_all_tasks, ids and query go with Label Studio's JSON export only; use state, label, "
                      "annotator, since and until to choose tasks",
                      [{"row": None, "field": name, "detail": "not with these filters"}
                       for name in LS_ARGS if args.get(name)])
    filters = exports.parse_filters(state=args.getlist("state") or None, label=args.getlist("label") or None,
                                    annotator=args.get("annotator"), since=args.get("since"), until=args.get("until"),
                                    gold=(args.get("gold") or "").lower() in TRUE)
    # without seed and split: the project's splits (those its dataset versions keep)
    asked = any(args.get(name) not in (None, "") for name in ("seed", "split"))
    splits = exports.parse_splits(seed=args.get("seed"), split=args.get("split")) if asked else None
    result = exports.export(project_id, api_user().user, format=kind, filters=filters, splits=splits,
                            media=args.get("media"), base_url=request.host_url, scope=api_user().scope,
                            rows=args.get("rows") or "final",
                            csv_raw=exports.parse_flag(args.get("csv_raw"), "csv_raw"))
    return Response(result, mimetype=result.mimetype, headers=_attachment(result.filename))


@bp.get("/projects/<int:project_id>/export/formats")
@doc(responses={200: list[dict[str, Any]]}, tags=('export',))
def export_formats(project_id: int):
    """The export formats and whether each fits the project, as Label Studio lists them."""
    project = exports.export_project(project_id, api_user().user, scope=api_user().scope)
    return jsonify(exports.available_formats(project))


# --------------------------------------------------------------------------- export snapshots


def _snapshot_body() -> dict:
    body = _body()
    unknown = sorted(set(body) - SNAPSHOT_BODY_KEYS)
    if unknown:
        raise Invalid(f"unknown export field(s): {', '.join(unknown)}",
                      [{"row": None, "field": k, "detail": "unknown field"} for k in unknown])
    return body


#: Label Studio's export-create body; the read-only keys its serializer ignores are taken and ignored too.
SNAPSHOT_BODY_KEYS = {"title", "task_filter_options", "annotation_filter_options", "serialization_options",
                      "id", "status", "md5", "counters", "converted_formats", "created_by", "created_at",
                      "finished_at"}


@bp.post("/projects/<int:project_id>/exports")
@doc(body=s.SnapshotBody, responses={201: s.Snapshot}, tags=('export',))
def create_snapshot(project_id: int):
    """Create an export snapshot (Label Studio's body: ``title``, ``task_filter_options``,
    ``annotation_filter_options``, ``serialization_options``): the JSON export written now and
    kept; 201 with the snapshot, ``completed``."""
    body = _snapshot_body()
    snap = snapshots.create_snapshot(project_id, api_user().user, title=body.get("title"),
                                     task_filter_options=body.get("task_filter_options"),
                                     annotation_filter_options=body.get("annotation_filter_options"),
                                     serialization_options=body.get("serialization_options"),
                                     scope=api_user().scope)
    return jsonify(snapshots.snapshot_view(snap, api_user().user, created=True)), 201


@bp.get("/projects/<int:project_id>/exports")
@doc(summary="The project's export snapshots, newest first", responses={200: list[s.Snapshot]}, tags=('export',))
def list_snapshots(project_id: int):
    found = snapshots.list_snapshots(project_id, api_user().user, scope=api_user().scope)
    return jsonify([snapshots.snapshot_view(snap, creator) for snap, creator in found])


@bp.get("/projects/<int:project_id>/exports/<int:export_id>")
@doc(summary="One export snapshot", responses={200: s.Snapshot}, tags=('export',))
def get_snapshot(project_id: int, export_id: int):
    snap, creator = snapshots.get_snapshot(project_id, export_id, api_user().user, scope=api_user().scope)
    return jsonify(snapshots.snapshot_view(snap, creator))


@bp.delete("/projects/<int:project_id>/exports/<int:export_id>")
@doc(summary="Delete an export snapshot and its file", responses={204: None}, tags=('export',))
def delete_snapshot(project_id: int, export_id: int):
    snapshots.delete_snapshot(project_id, export_id, api_user().user, scope=api_user().scope)
    return "", 204


@bp.get("/projects/<int:project_id>/exports/<int:export_id>/download")
@doc(query=s.SnapshotDownloadQuery, responses={200: (list[wire.ExportTask], File(
    ('text/csv', 'text/tab-separated-values', 'application/zip'), 'the snapshot in the format asked'))},
    tags=('export',))
def download_snapshot(project_id: int, export_id: int):
    """A snapshot's file: its stored JSON, or (``exportType``) converted from it by Label Studio's
    converter (CSV and TSV cells a spreadsheet would run neutralised unless ``csv_raw=true``)."""
    kind = request.args.get("exportType") or request.args.get("export_type") or "JSON"
    found = snapshots.snapshot_file(project_id, export_id, api_user().user, export_type=kind,
                                    csv_raw=exports.parse_flag(request.args.get("csv_raw"), "csv_raw"),
                                    scope=api_user().scope)
    headers = _attachment(found.filename)
    headers["filename"] = found.filename  # Label Studio's header
    return Response(found, mimetype=found.mimetype, headers=headers)


# --------------------------------------------------------------------------- dataset versions


def _body() -> dict:
    if not request.data:
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid("send a JSON object", [{"row": None, "field": None, "detail": "the body must be a JSON object"}])
    return body


@bp.post("/projects/<int:project_id>/datasets")
@doc(body=s.PublishBody, responses={200: dict[str, Any], 201: dict[str, Any], 202: dict[str, Any]},
     tags=('datasets',))
def publish_dataset(project_id: int):
    """Publish a dataset version; 201 with its manifest, 200 if it equals the latest version, 202
    with the publish job for a large project."""
    body = _body()
    note = body.get("note") or ""
    if not isinstance(note, str):
        raise Invalid("note must be a string", [{"row": None, "field": "note", "detail": "not a string"}])
    background = body.get("background")
    if background is not None and not isinstance(background, bool):
        raise Invalid("background must be true or false", [{"row": None, "field": "background",
                                                             "detail": "not a boolean"}])
    done = publish_job.request_publish(project_id, api_user().user, note=note, splits=_splits(body),
                                       background=background)
    if done.queued:  # a large project: the job publishes it (as imports do)
        job = jobs.get_job(done.job_id)
        response = jsonify({"status": "queued", "job": done.job_id, "url": f"/api/jobs/{done.job_id}",
                            "job_status": jobs.job_view(job) if job else None})
        response.headers["Location"] = f"/api/jobs/{done.job_id}"
        return response, 202
    return jsonify(done.version.manifest), 201 if done.created else 200


def _splits(body: dict) -> exports.Splits | None:
    """The seed and shares of a body, or None when it gives neither."""
    if body.get("seed") in (None, "") and body.get("split") in (None, ""):
        return None
    split = body.get("split")
    if isinstance(split, list):
        split = ",".join(str(x) for x in split)
    return exports.parse_splits(seed=body.get("seed"), split=split)


@bp.post("/projects/<int:project_id>/datasets/resplit")
@doc(body=s.ResplitBody, responses={201: dict[str, Any]}, tags=('datasets',))
def resplit_datasets(project_id: int):
    """Start a new split generation (``seed``, ``split``, ``reason``): the next version places
    every task again; 201 with the generation."""
    body = _body()
    reason = body.get("reason") or ""
    if not isinstance(reason, str):
        raise Invalid("reason must be a string", [{"row": None, "field": "reason", "detail": "not a string"}])
    gen = splits.resplit(project_id, api_user().user, splits=_splits(body) or exports.Splits(), reason=reason)
    return jsonify(splits.generation_view(gen, email=api_user().user.email)), 201


@bp.get("/projects/<int:project_id>/datasets")
@readable
@doc(summary="The project's published dataset versions", responses={200: list[s.DatasetVersion]}, tags=('datasets',))
def list_datasets(project_id: int):
    found = datasets.list_versions(project_id, api_user().user, scope=api_user().scope)
    return jsonify([datasets.version_view(v) for v in found])


@bp.get("/projects/<int:project_id>/datasets/diff")
@readable
@doc(query=s.DiffQuery, responses={200: dict[str, Any]}, tags=('datasets',))
def diff_datasets(project_id: int):
    """``?from=A&to=B``: added, removed, relabeled and moved tasks (and examples of each);
    ``&format=csv``: every changed id, as a CSV download."""
    a, b = request.args.get("from"), request.args.get("to")
    if not a or not b:
        raise Invalid("give two versions: ?from=1&to=2",
                      [{"row": None, "field": name, "detail": "required"} for name, v in (("from", a), ("to", b))
                       if not v])
    if (request.args.get("format") or "json").lower() == "csv":
        name, lines = datasets.diff_csv(project_id, api_user().user, a, b, scope=api_user().scope)
        return Response(lines, mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return jsonify(datasets.diff(project_id, api_user().user, a, b, scope=api_user().scope))


@bp.get("/projects/<int:project_id>/datasets/<version>")
@readable
@doc(responses={200: dict[str, Any]}, tags=('datasets',))
def get_dataset(project_id: int, version: str):
    """A version's manifest: files and hashes, counts, splits, schema, QC summary, who, when."""
    return jsonify(datasets.get_version(project_id, api_user().user, version, scope=api_user().scope).manifest)


# a version's file as it is stored, in its format's media type (JSON: Label Studio's); a part of it
_MEDIA_TYPES = sorted({media for _, media, _ in datasets.VERSION_FORMATS.values()})
_VERSION_FILE = (list[wire.ExportTask], File(tuple(m for m in _MEDIA_TYPES if m != "application/json"),
                                             "the file in the format asked"))
_VERSION_PART = File(tuple(_MEDIA_TYPES), "the bytes of the Range asked")


@bp.get("/projects/<int:project_id>/datasets/<version>/download")
@readable
@doc(query=s.DownloadQuery, responses={200: _VERSION_FILE, 206: _VERSION_PART, 304: None}, tags=('datasets',))
def download_dataset(project_id: int, version: str):
    """A stored file of a version: ETag = its sha256, If-None-Match -> 304, Range -> 206."""
    found = datasets.version_file(project_id, api_user().user, version, request.args.get("format"),
                                  scope=api_user().scope)
    response = send_file(found.path, mimetype=found.media_type, as_attachment=True,
                         download_name=found.download_name, conditional=True, etag=found.sha256, max_age=0)
    response.headers["X-Content-SHA256"] = found.sha256
    response.headers["Cache-Control"] = "private, no-cache"
    return response
