"""Endpoints of the review page (``web/static/review.js``), over :mod:`labeling.review`.

``GET /api/review/ID/next``
    The next suspect, leased to the caller, as ``{"item": <review item> | null, "project": ID}``
    (the item as ``GET /api/projects/ID/review/next`` gives it). Unlike that REST endpoint, which
    answers 404 when the queue holds nothing (as Label Studio's next does), it answers 200 with
    ``"item": null``, so that an empty queue is not an error in the browser console (the
    annotation page does the same, :mod:`web.api.annotate_ui`).
"""

from __future__ import annotations

from flask import jsonify

from labeling import review
from web.api import api_user, bp, changes_state
from web.api import schemas as s
from web.api.describe import doc


@bp.get("/review/<int:project_id>/next")
@changes_state
@doc(summary="The review page's next suspect, 200 with item null when none is left", responses={200: s.ReviewUiNext}, tags=('review page',))
def review_ui_next(project_id: int):
    return jsonify({"item": review.next_suspect(project_id, api_user().user), "project": project_id})
