"""The labeling page, its live preview for leads, and the read-only task view.

``/annotate/<project_id>``
    The keyboard-first labeling page. The page itself is a shell rendered from the project's
    label schema; ``web/static/annotate.js`` fetches tasks from the router over the REST API,
    drives Annotorious (boxes) and Recogito's text annotator (spans), and submits Label Studio
    result items.
``/projects/preview``
    GET: an editor for a Label Studio XML config with a live preview. POST (form field
    ``label_config``, optional ``data`` as task JSON): the labeling page rendered from that XML
    with sample data; with htmx (``HX-Request``) only the workspace fragment, so a project form
    can show it with ``hx-post="/projects/preview" hx-target=...``.
``/projects/<project_id>/tasks/<task_id>/edit`` and ``/projects/<project_id>/stream``
    Any task in the labeling workspace (mode ``review``) for leads and reviewers: correct an
    annotation (a new version), accept or exclude the task; a stream walks the tasks of a
    Data Manager filter or view with the review page's keys.
``/projects/<project_id>/tasks/<task_id>``
    A task's story for leads and reviewers: every annotation (and prediction) side by side
    with its versions, the final label and its source, QC findings, review decisions,
    comments and the time line.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import quote

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from labeling import limits, project_config, story, tasks
from labeling.access import can, can_create_projects, require_project
from labeling.db import read_session
from labeling.errors import Forbidden, Invalid, NotFound
from labeling.models import prelabels_on
from labeling.schema import LabelSchema, gallery, schema_of
from labeling.schema.timeseries import sample_series
from web.api.params import int_arg

bp = Blueprint("annotate", __name__)

# Keys the page keeps for itself; a label hotkey equal to one of these is not used (the first
# control's label gets a digit instead).
RESERVED_KEYS = {"s", "t", "?", "/", "enter", "backspace", "escape", "arrowleft", "arrowright", "tab", " "}
# The image tools' keys (annotate_tools.js), reserved on pages that have those tools: W the next
# tool (an image with several tools), B brush, E eraser, [ and ] the brush's size (an image with a brush).
TOOL_KEYS = {"w", "b", "e", "[", "]"}
_IMAGE_TOOLS = {"rectanglelabels": "rectangle", "rectangle": "rectangle", "polygonlabels": "polygon",
                "polygon": "polygon", "ellipselabels": "ellipse", "ellipse": "ellipse", "keypointlabels": "keypoint",
                "keypoint": "keypoint", "brushlabels": "brush", "brush": "brush"}


def tool_keys(schema: LabelSchema) -> set[str]:
    """The image tools' keys the page of ``schema`` uses (see :data:`TOOL_KEYS`), as
    annotate_tools.js gives them: ``w`` where an image has two tools or more, ``b``, ``e``, ``[``
    and ``]`` where an image has a brush."""
    tools: dict[str, set[str]] = {}
    for control in schema.controls:
        if control.type in _IMAGE_TOOLS:
            for name in control.targets:
                tools.setdefault(name, set()).add(_IMAGE_TOOLS[control.type])
    keys: set[str] = set()
    for found in tools.values():
        if "brush" in found:
            keys |= {"b", "e", "[", "]", "w"}  # brush and eraser: two tools already
        elif len(found) > 1:
            keys.add("w")
    return keys


#: Keys a page with a <Chat> keeps too: next and previous message, write, edit and delete one.
CHAT_KEYS = frozenset({"j", "k", "m", "e", "arrowdown", "arrowup", "delete"})
# ... and with a video (annotate_video.js): frames back and forward, keyframes, hiding a track.
VIDEO_KEYS = frozenset({",", ".", "<", ">", "k", "h"})
#: Keys a TimeSeries' chart keeps for itself: range, instant, zoom, cursor.
SERIES_KEYS = frozenset({"[", "]", ".", "+", "=", "-", "0", "home", "end"})
SAMPLE_TEXT = (
    "Ada Lovelace met Charles Babbage in London in 1833. She later wrote the first published "
    "algorithm intended for his Analytical Engine, which the Science Museum still exhibits."
)


def keymap(schema: LabelSchema, reserved: frozenset[str] = frozenset()) -> dict[str, dict[str, str]]:
    """Label keys per control: configured hotkeys first, then 1-9 for the first labeled control.

    ``reserved``: further keys a page keeps for itself (the review page's decisions), on top of
    the labeling page's own and the image tools' keys its images use (:func:`tool_keys`).

    Returns
    -------
    dict of str to dict of str to str
        Control name -> label name -> key (lower case, one character or a named key).
    """
    if any(o.tag == "Video" for o in schema.objects.values()):
        reserved = reserved | VIDEO_KEYS
    used: set[str] = set()
    reserved = frozenset(reserved | tool_keys(schema))
    if any(obj.tag == "Chat" for obj in schema.objects.values()):
        reserved = reserved | CHAT_KEYS  # a chat's own keys (annotate_chat.js)
    if any(o.tag == "TimeSeries" for o in schema.objects.values()):
        reserved = reserved | SERIES_KEYS  # the chart's own keys (annotate_timeseries.js)
    keys: dict[str, dict[str, str]] = {c.name: {} for c in schema.controls}
    for control in schema.controls:
        for label in control.labels:
            key = (control.hotkeys.get(label) or "").strip().lower()
            if key and key not in used and key not in RESERVED_KEYS and key not in reserved:
                keys[control.name][label] = key
                used.add(key)
    first = next((c for c in schema.controls if c.labels), None)
    if first is not None:
        digits = iter(d for d in "123456789" if d not in used and d not in reserved)
        for label in first.labels:
            if label in keys[first.name]:
                continue
            digit = next(digits, None)
            if digit is None:
                break
            keys[first.name][label] = digit
            used.add(digit)
    return keys


_COLOR = re.compile(r"^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20})$")


def colors(schema: LabelSchema) -> dict[str, dict[str, str]]:
    """Label colours per control, only those that are a plain ``#hex`` or a colour name."""
    return {c.name: {label: color for label, color in c.colors.items() if _COLOR.match(color.strip())}
            for c in schema.controls}


def notes_by_place(schema: LabelSchema) -> dict[str | None, list]:
    """The config's headers and literal texts by the object or control they come before
    (``None``: after the last one)."""
    places: dict[str | None, list] = {}
    for note in schema.notes:
        places.setdefault(note.before, []).append(note)
    return places


def workspace_context(schema: LabelSchema, config: dict, instructions: str = "") -> dict[str, Any]:
    """Template variables of ``annotate/_workspace.html``."""
    return {"schema": schema, "config": config, "keys": config["keys"], "colors": colors(schema),
            "has_filter": any(len(c.labels) > 9 for c in schema.controls), "instructions": instructions,
            "notes": notes_by_place(schema)}


def _sample_image(label: str) -> str:
    """A placeholder picture as a data: URL (the CSP allows data: images), for previews."""
    svg = (
        "<svg xmlns='http://www.w3.org/2000/svg' width='800' height='500' viewBox='0 0 800 500'>"
        "<rect width='800' height='500' fill='#dfe7f5'/>"
        "<circle cx='230' cy='210' r='110' fill='#7d9bd6'/>"
        "<rect x='420' y='150' width='260' height='210' rx='16' fill='#e5a46b'/>"
        "<path d='M0 420 L220 300 L420 430 L600 330 L800 440 L800 500 L0 500Z' fill='#8fbf8a'/>"
        f"<text x='24' y='480' font-family='sans-serif' font-size='22' fill='#23324f'>sample image: {label}</text>"
        "</svg>"
    )
    return "data:image/svg+xml;charset=utf-8," + quote(svg)


def _sample_pdf(label: str) -> str:
    """A one-page placeholder PDF as a data: URL, for previews (annotate_pdf.js reads data: URLs
    itself: nothing is fetched)."""
    text = "".join(c for c in f"sample document: {label}" if c.isalnum() or c in " :_-.")[:80]
    content = f"BT /F1 28 Tf 60 700 Td ({text}) Tj ET 0.5 0.6 0.85 rg 60 380 480 260 re f".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = b"%PDF-1.4\n", []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return "data:application/pdf;base64," + base64.b64encode(out).decode()


def sample_data(schema: LabelSchema) -> dict[str, Any]:
    """Task data that fills every object of ``schema`` (text, a placeholder image or PDF; no video or audio)."""
    data: dict[str, Any] = {}
    for name, obj in schema.objects.items():
        data[obj.value_key] = SAMPLE_TEXT if obj.tag in ("Text", "HyperText") else _sample_image(name)
        if obj.tag in ("Video", "Audio", "AudioPlus"):
            data[obj.value_key] = ""  # no sample video or audio ships: the preview shows the player without one
        if obj.tag == "Paragraphs":
            data[obj.value_key] = [{obj.name_key or "author": who, obj.text_key or "text": text} for who, text in
                                   (("Alice", "Hi, I would like to book a table for two."), ("Bot", "Sure, for when?"))]
        elif obj.tag == "Table":
            data[obj.value_key] = {"First name": "Ada", "Last name": "Lovelace", "Year": 1843}
        elif obj.tag == "Chat":
            data[obj.value_key] = [{"role": "user", "content": "How do I reset my password?"},
                                   {"role": "assistant", "content": "Open Settings, then Security, then Reset."}]
        elif obj.tag == "Pdf":
            data[obj.value_key] = _sample_pdf(name)
        elif obj.tag == "List":  # a Ranker's items
            data[obj.value_key] = [{"id": f"item{n}", "title": f"Item {n}", "body": SAMPLE_TEXT[:80]} for n in (1, 2, 3)]
    for control in schema.controls:
        if control.labels_key:
            data[control.labels_key] = ["Option A", "Option B", "Option C"]
    for note in schema.notes:
        if note.value_key:
            data.setdefault(note.value_key, f"Sample {note.value_key}")
    return data


def page_config(schema: LabelSchema, *, mode: str, project: Any = None, sample: dict | None = None,
                reserved: frozenset[str] = frozenset()) -> dict:
    """What annotate.js needs: the schema, keys, URLs, and in preview mode a sample task.

    ``mode``: ``annotate``, ``preview``, or ``review`` (the review page drives the workspace:
    it shows a suspect's regions to edit, and nothing is saved by the workspace itself).
    ``reserved``: keys the hosting page keeps (see :func:`keymap`)."""
    pid = project.id if project is not None else 0
    return {
        "mode": mode,
        "project": {
            "id": pid,
            "title": project.title if project is not None else "Preview",
            "show_predictions": prelabels_on(project.show_predictions, project.overlap) if project is not None else True,
            "lease_seconds": project.lease_seconds if project is not None else 600,
        },
        "user": {"id": current_user.id, "email": current_user.email},
        "schema": schema.model_dump(),
        "keys": keymap(schema, reserved),
        "urls": {
            "next": f"/api/annotate/{pid}/next",
            "previous": f"/api/annotate/{pid}/previous",
            "stats": f"/api/annotate/{pid}/stats",
            "submit": "/api/tasks/{task}/annotations",
            "annotation": "/api/annotations/{id}",
            "lease": "/api/tasks/{task}/lease",
        },
        "sample": {"id": 0, "data": sample, "predictions": []} if sample is not None else None,
        # a preview's TimeSeries plot a made-up series (there is no task to read one from)
        "series_samples": {name: sample_series(obj.series) for name, obj in schema.objects.items()
                           if obj.series is not None} if sample is not None else {},
    }


@bp.get("/annotate/<int:project_id>")
@login_required
def annotate(project_id: int):
    with read_session() as s:
        project = require_project(s, current_user.user, project_id, "annotate")
    schema = schema_of(project)
    config = page_config(schema, mode="annotate", project=project)
    return render_template("annotate/page.html", project=project,
                           **workspace_context(schema, config, project.instructions))


def _preview_input() -> tuple[str, dict | None]:
    xml = request.form.get("label_config", "")
    raw = (request.form.get("data") or "").strip()
    if not raw:
        return xml, None
    try:
        data = limits.loads(raw, what="sample task data", field="data")
    except json.JSONDecodeError as exc:
        raise Invalid(f"sample task data is not JSON: {exc}",
                      [{"field": "data", "detail": f"not JSON: {exc}"}]) from None
    if isinstance(data, dict) and isinstance(data.get("data"), dict):
        data = data["data"]  # a whole Label Studio task was pasted
    if not isinstance(data, dict):
        raise Invalid("sample task data must be a JSON object", [{"field": "data", "detail": "not an object"}])
    return xml, data


@bp.route("/projects/preview", methods=["GET", "POST"])
@login_required
def preview():
    if not can_create_projects(current_user.user):
        raise Forbidden("only leads and admins may preview label configs")
    examples = gallery()
    xml, data = (request.form.get("label_config", ""), None) if request.method == "GET" else _preview_input()
    xml = xml or request.args.get("label_config", "") or examples[0]["xml"]
    errors: list[dict] = []
    schema = None
    refused = False
    try:
        schema = project_config.parse_config(xml)
        project_id = request.form.get("project", "")
        if project_id.isdigit() and len(project_id) < 10:  # the settings page: what Save would refuse
            project_config.check_label_config(current_user.user, int(project_id), xml)
    except Invalid as exc:
        errors = exc.errors or [{"detail": exc.detail}]
        refused = schema is not None  # it parses, but the project's labels forbid it
    ctx: dict[str, Any] = {"xml": xml, "errors": errors, "examples": examples, "schema": schema, "refused": refused,
                           "data_json": json.dumps(data, indent=2, ensure_ascii=False) if data else ""}
    if schema is not None:
        sample = sample_data(schema)
        shown = schema.data_keys | {n.value_key for n in schema.notes if n.value_key}
        sample.update({k: v for k, v in (data or {}).items() if k in shown})
        ctx.update(workspace_context(schema, page_config(schema, mode="preview", sample=sample),
                                     "Instructions for annotators appear here."))
    # A refused config is a normal answer of the preview (shown in the page), hence 200.
    if request.headers.get("HX-Request"):
        return render_template("annotate/_preview_result.html", **ctx)
    return render_template("annotate/preview.html", **ctx)


def _story_in(project_id: int, task_id: int) -> dict:
    """The task's story for the current user, the task being one of the URL's project."""
    told = story.task_story(current_user.user, task_id)
    if told["task"]["project"] != project_id:
        raise NotFound(f"task {task_id} not found in project {project_id}")
    return told


@bp.get("/projects/<int:project_id>/tasks/<int:task_id>")
@login_required
def task_view(project_id: int, task_id: int):
    """A task's story (leads and reviewers): its data, every annotation side by side with its
    versions, predictions, the final label and its source, QC findings, review decisions,
    comments and every state change in time order (:func:`labeling.story.task_story`).

    Each annotation, prediction and the final label is shown in words (``label_text``) and
    through the labeling page's own widgets, read-only: a copy of the workspace in mode
    ``view`` per result (``task_story.js``, ``annotate_view.js``)."""
    from labeling.schema.hypertext import page_data

    user = current_user.user
    with read_session() as s:
        project = require_project(s, user, project_id, "see_all")
        may_review = can(s, user, project, "review")
    told = _story_in(project_id, task_id)
    schema = schema_of(project)
    task = told["task"]
    columns = []
    results: dict[str, list] = {}
    for ann in told["annotations"]:
        key = f"annotation-{ann['id']}"
        results[key] = ann["result"] if isinstance(ann["result"], list) else []
        columns.append({"kind": "annotation", "who": ann["author"] or f"user {ann['completed_by']}", "id": ann["id"],
                        "key": key, "when": _when(ann["updated_at"]), "version": ann["version"],
                        "skipped": ann["was_cancelled"], "skip_reason": ann["skip_reason"],
                        "lead_time": ann["lead_time"], "label": ann["versions"][-1]["label"] if ann["versions"] else "",
                        "has_result": bool(results[key]),
                        "versions": [{**v, "when": _when(v["at"])} for v in ann["versions"][:-1]]})
    for pred in told["predictions"]:
        key = f"prediction-{pred['id']}"
        results[key] = pred["result"] if isinstance(pred["result"], list) else []
        columns.append({"kind": "prediction", "who": pred["model_version"] or "model", "id": pred["id"], "key": key,
                        "score": pred["score"], "when": _when(pred["created_at"]), "label": pred["label"],
                        "has_result": bool(results[key])})
    final = told["final"]
    if isinstance(final["label"], list) and final["label"]:
        results["final"] = final["label"]
    views = {"task": {"id": task["id"], "data": page_data(schema, tasks.get_task(user, task_id)["data"]),
                      "predictions": []},
             "results": results}
    config = page_config(schema, mode="view", project=project)
    return render_template("annotate/task.html", project=project, task=task, columns=columns, story=told,
                           final=final, views=views, may_review=may_review, when=_when,
                           **workspace_context(schema, config))


def _when(iso: str | None) -> str:
    """An ISO time as the page shows it (minutes, UTC)."""
    return (iso or "")[:16].replace("T", " ") + (" UTC" if iso else "")


#: The editor's keys (the review page's: K accept, R save the edits, X exclude) and N (the next
#: annotation), J (the next task of the stream); label hotkeys equal to one of these are not used.
EDITOR_KEYS = frozenset({"k", "r", "x", "n", "j", "a", "g", "u", "z", "enter", "escape", "?"})


def _stream_query(project_id: int) -> tuple[Any, dict[str, str]]:
    """The Data Manager query a review stream walks (``?view=ID`` or ``?query=JSON``; none: every
    task), and the arguments that carry it to the next page."""
    from labeling.dm import filters, views

    view_id = int_arg("view", 0, minimum=0)
    if view_id:
        return views.view_params(current_user.user, project_id, view_id), {"view": str(view_id)}
    raw = request.args.get("query") or request.args.get("filter")
    if raw:
        return filters.parse(raw), {"query": raw}
    return filters.parse(None), {}


def _next_in_stream(project_id: int, after: int | None, query: Any) -> int | None:
    """The task of the stream's query that follows task ``after`` in the query's (or view's)
    ordering (None: its first), or None at the end."""
    from labeling.dm import table

    return table.next_task(current_user.user, project_id, query, after=after)


@bp.get("/projects/<int:project_id>/stream")
@login_required
def review_stream(project_id: int):
    """A review stream over any Data Manager filter (``?view=ID`` or ``?query=JSON``): the editor
    on its first task, each next one a key away (J)."""
    with read_session() as s:
        require_project(s, current_user.user, project_id, "review")
    query, args = _stream_query(project_id)
    first = _next_in_stream(project_id, None, query)
    if first is None:
        return render_template("annotate/stream_empty.html", project_id=project_id), 200
    return redirect(url_for("annotate.task_editor", project_id=project_id, task_id=first, **args))


@bp.get("/projects/<int:project_id>/tasks/<int:task_id>/edit")
@login_required
def task_editor(project_id: int, task_id: int):
    """Any task in the labeling workspace for leads and reviewers: each annotation with its
    author, one at a time, corrected with the labeling widgets (a new version of it, through
    ``PATCH /api/annotations/ID``), and the task accepted or excluded; in a stream, J goes on."""
    from labeling.schema.hypertext import page_data

    user = current_user.user
    with read_session() as s:
        project = require_project(s, user, project_id, "review")
        is_lead = can(s, user, project, "manage")
    told = _story_in(project_id, task_id)
    schema = schema_of(project)
    query, args = _stream_query(project_id)
    following = _next_in_stream(project_id, task_id, query) if args else None
    task = told["task"]
    editor = {
        "task": {"id": task["id"], "data": page_data(schema, tasks.get_task(user, task_id)["data"]),
                 "predictions": []},
        "state": task["state"],
        "is_lead": is_lead,
        "annotations": [{"id": a["id"], "author": a["author"] or f"user {a['completed_by']}",
                         "version": a["version"], "result": a["result"], "skipped": a["was_cancelled"]}
                        for a in told["annotations"]],
        "urls": {"annotation": "/api/annotations/{id}", "review": f"/api/tasks/{task_id}/review",
                 "act": f"/api/dm/actions?project={project_id}&id={{act}}",
                 "story": url_for("annotate.task_view", project_id=project_id, task_id=task_id),
                 "next": url_for("annotate.task_editor", project_id=project_id, task_id=following, **args)
                 if following else None},
    }
    config = page_config(schema, mode="review", project=project, reserved=EDITOR_KEYS)
    return render_template("annotate/editor.html", project=project, task=task, final=told["final"],
                           editor=editor, stream=bool(args),
                           workspace_hint="Correct the annotation shown with the label keys, as when labeling",
                           **workspace_context(schema, config, project.instructions))
