"""QC over REST: start a run, list runs, read a run's label issues.

``POST /api/projects/ID/qc`` -> 202 ``{"job": {...}}`` (the running job if one is already
queued or running); ``GET /api/projects/ID/qc/runs``; ``GET /api/projects/ID/qc/runs/RID``
(with annotator scores); ``GET /api/projects/ID/label-issues`` (the newest successful run, or
``?run=RID``; ``?kind=label|outlier|near_duplicate|...`` (every kind of ``quality.policy.ISSUE_KINDS``); ``?all=1`` includes items that are not
issues; ``?page=&page_size=``), worst first. The job itself: ``GET /api/jobs/ID``.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from labeling import jobs
from labeling.errors import Invalid, NotFound
from quality import results
from quality.run import skeleton
from web.api import api_user, bp, readable
from web.api import schemas as s
from web.api.describe import doc
from web.api.params import int_arg


@bp.post("/projects/<int:project_id>/qc")
@doc(summary="Start a QC run (a job); the running one if one is queued or running", body=dict[str, Any], responses={202: s.QcStarted}, tags=('quality',))
def start_qc(project_id: int):
    body = request.get_json(silent=True) if request.content_length else None
    if body is not None and not isinstance(body, dict):
        raise Invalid("send a JSON object (or nothing)", [{"row": None, "field": None, "detail": "not an object"}])
    job, created = skeleton.start_qc(api_user().user, project_id, options=body or {})
    response = jsonify({"job": jobs.job_view(job), "created": created})
    response.status_code = 202
    response.headers["Location"] = f"/api/jobs/{job.id}"
    return response


@bp.get("/projects/<int:project_id>/qc/runs")
@readable
@doc(summary="The project's QC runs, newest first", query=s.QcRunsQuery, responses={200: list[s.QcRun]}, tags=('quality',))
def qc_runs(project_id: int):
    limit = int_arg("limit", 50)
    return jsonify([results.run_view(r) for r in results.list_runs(api_user().user, project_id, limit=limit)])


@bp.get("/projects/<int:project_id>/qc/runs/<int:run_id>")
@readable
@doc(summary="One QC run with annotator scores", responses={200: s.QcRun}, tags=('quality',))
def qc_run(project_id: int, run_id: int):
    run, annotators = results.get_run(api_user().user, project_id, run_id)
    if run is None:
        raise NotFound(f"QC run {run_id} not found")
    return jsonify(results.run_view(run, annotators=annotators))


@bp.get("/projects/<int:project_id>/label-issues")
@readable
@doc(summary="Label issues of a QC run, worst first", query=s.LabelIssuesQuery, responses={200: list[s.LabelIssue]}, tags=('quality',))
def label_issues(project_id: int):
    include_all = (request.args.get("all") or "").strip().lower() in ("1", "true", "yes")
    run, rows, total = results.label_issues(
        api_user().user, project_id, run_id=int_arg("run", None), kind=request.args.get("kind") or None,
        include_all=include_all, page=int_arg("page", 1), page_size=int_arg("page_size", 100))
    response = jsonify([results.issue_view(r) for r in rows])
    response.headers["X-Total-Count"] = str(total)
    if run is not None:
        response.headers["X-QC-Run"] = str(run.id)
    return response
