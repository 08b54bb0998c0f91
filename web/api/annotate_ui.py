"""Small endpoints of the labeling page (``web/static/annotate.js``), over the router's and the
annotations' domain functions.

``GET /api/annotate/ID/next[?exclude=TASK_ID]``
    The next task as ``{"task": <Label Studio task> | null, "lease": {...}, "counters": {...},
    "prefetch": true}``. Unlike Label Studio's ``/api/projects/ID/next`` it answers 200 with
    ``"task": null`` when nothing is left, so an empty queue is not an error in the browser
    console. With ``exclude`` (the task on screen) it leases the task after it ahead of time
    (:func:`labeling.router.serve_next`'s ``ahead_of``); ``"prefetch": true`` tells the page
    that it may.
``GET /api/annotate/ID/previous?before=ANNOTATION_ID``
    The caller's own most recent annotation in the project (before the given one) with its
    task, for going back to fix it: ``{"annotation": {...} | null, "task": {...}}``.
``GET /api/annotate/ID/stats?since=ISO``
    ``{"done_today", "remaining"}``; ``since`` is the start of the annotator's local day.
``GET /api/annotate/tasks/ID/series/NAME``
    The series the task's ``<TimeSeries name="NAME">`` plots, read on the server
    (:func:`labeling.series.task_series`: inline columns, or a CSV by URL through the outbound
    rules or from the media store): ``{"name", "x", "keys", "channels"}``.
``GET /api/annotate/csrf``
    A CSRF token for the current browser session: a page whose annotator logged in again in
    another tab refreshes its token with it before re-sending a waiting submit.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import jsonify, request
from flask_wtf.csrf import generate_csrf

from labeling import annotations, router, series
from labeling.errors import Invalid
from web.api import api_user, bp, changes_state
from web.api import schemas as s
from web.api.describe import doc
from web.api.params import int_arg


def _since() -> datetime | None:
    raw = request.args.get("since")
    if not raw:
        return None
    try:
        since = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if since.tzinfo:
            since.astimezone(UTC)  # OverflowError when out of range once in UTC
    except (ValueError, OverflowError):
        raise Invalid(f"since={raw!r} is not an ISO date-time", [{"field": "since", "detail": "not ISO 8601"}]) from None
    return since if since.tzinfo else since.replace(tzinfo=UTC)


def _int_arg(name: str) -> int | None:
    return int_arg(name, minimum=0)


def _counters(project_id: int) -> dict:
    return annotations.annotator_counters(api_user().user, project_id, since=_since())


@bp.get("/annotate/<int:project_id>/next")
@changes_state
@doc(summary="The labeling page's next task, 200 with task null when none is left", query=s.AnnotateNextQuery, responses={200: s.AnnotateNext}, tags=('labeling page',))
def annotate_next(project_id: int):
    task = router.serve_next(project_id, api_user().user, ahead_of=_int_arg("exclude"), for_page=True)
    lease = media = None
    if task is not None:
        lease = {"expires_at": task.get("lease_expires_at"), "seconds": task.get("lease_seconds")}
        media = task.pop("media", None)  # beside the task: the task keeps Label Studio's shape
    return jsonify({"task": task, "media": media, "lease": lease, "counters": _counters(project_id),
                    "prefetch": True})


@bp.get("/annotate/<int:project_id>/stats")
@doc(summary="The labeling page's counters: done today, remaining", query=s.AnnotateStatsQuery, responses={200: s.Counters}, tags=('labeling page',))
def annotate_stats(project_id: int):
    return jsonify(_counters(project_id))


@bp.get("/annotate/<int:project_id>/previous")
@doc(summary="The caller's previous annotation in the project, to go back and fix it", query=s.AnnotatePreviousQuery, responses={200: s.Previous}, tags=('labeling page',))
def annotate_previous(project_id: int):
    found = annotations.previous_own_annotation(api_user().user, project_id, before=_int_arg("before"))
    return jsonify(found or {"annotation": None, "task": None})


@bp.get("/annotate/csrf")
@doc(summary="A fresh CSRF token for the browser session", responses={200: s.CsrfToken}, tags=('labeling page',))
def annotate_csrf():
    return jsonify({"csrf_token": generate_csrf()})


@bp.get("/annotate/tasks/<int:task_id>/series/<object_name>")
@doc(summary="The data a task's TimeSeries plots (columns inline, or its CSV read by URL)", responses={200: s.TimeSeriesData}, tags=('labeling page',))
def annotate_series(task_id: int, object_name: str):
    return jsonify(series.task_series(api_user().user, task_id, object_name))
