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
``/projects/<project_id>/tasks/<task_id>``
    A task with every annotation (and prediction) side by side, read-only, for leads and
    reviewers.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import quote

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from labeling import annotations, limits, projects, users
from labeling.access import can_create_projects, require_project
from labeling.db import read_session
from labeling.errors import Forbidden, Invalid, NotFound
from labeling.models import prelabels_on
from labeling.schema import LabelSchema, gallery, schema_of
from labeling.schema.objects import text_of

bp = Blueprint("annotate", __name__)

# Keys the page keeps for itself; a label hotkey equal to one of these is not used.
RESERVED_KEYS = {"s", "t", "?", "/", "enter", "backspace", "escape", "arrowleft", "arrowright", "tab", " "}
SAMPLE_TEXT = (
    "Ada Lovelace met Charles Babbage in London in 1833. She later wrote the first published "
    "algorithm intended for his Analytical Engine, which the Science Museum still exhibits."
)


def keymap(schema: LabelSchema, reserved: frozenset[str] = frozenset()) -> dict[str, dict[str, str]]:
    """Label keys per control: configured hotkeys first, then 1-9 for the first labeled control.

    ``reserved``: further keys a page keeps for itself (the review page's decisions), on top of
    the labeling page's own.

    Returns
    -------
    dict of str to dict of str to str
        Control name -> label name -> key (lower case, one character or a named key).
    """
    used: set[str] = set()
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


def sample_data(schema: LabelSchema) -> dict[str, Any]:
    """Task data that fills every object of ``schema`` (text and a placeholder image)."""
    data: dict[str, Any] = {}
    for name, obj in schema.objects.items():
        data[obj.value_key] = SAMPLE_TEXT if obj.tag == "Text" else _sample_image(name)
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
    try:
        schema = projects.parse_config(xml)
    except Invalid as exc:
        errors = exc.errors or [{"detail": exc.detail}]
    ctx: dict[str, Any] = {"xml": xml, "errors": errors, "examples": examples, "schema": schema,
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


def _span_segments(text: str, items: list[dict]) -> list[dict]:
    """Split ``text`` at the span items' code-point offsets: [{"text", "labels"}] in order."""
    cuts = {0, len(text)}
    spans = []
    for item in items:
        value = item.get("value") or {}
        start, end = value.get("start"), value.get("end")
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
            spans.append((start, end, [str(x) for x in value.get("labels") or []]))
            cuts.update((start, end))
    points = sorted(cuts)
    segments = []
    for a, b in zip(points, points[1:], strict=False):
        labels = [lab for s, e, labs in spans if s <= a and b <= e for lab in labs]
        segments.append({"text": text[a:b], "labels": labels})
    return segments


def _pct(value: Any) -> str:
    number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
    return f"{min(max(number if math.isfinite(number) else 0.0, -1.0), 101.0):.3f}"


def result_view(schema: LabelSchema, data: dict, result: list[dict]) -> dict[str, Any]:
    """One annotation's result, prepared for the read-only view (text, never markup)."""
    out: dict[str, Any] = {"choices": [], "texts": [], "ratings": [], "spans": {}, "boxes": {}}
    span_items: dict[str, list[dict]] = {}
    for item in result if isinstance(result, list) else []:
        if not isinstance(item, dict):
            continue
        kind, value, name = item.get("type"), item.get("value") or {}, str(item.get("from_name", ""))
        if kind == "choices":
            out["choices"].append({"control": name, "labels": [str(x) for x in value.get("choices") or []]})
        elif kind == "textarea":
            out["texts"].append({"control": name, "text": "\n".join(str(x) for x in value.get("text") or [])})
        elif kind == "rating":
            out["ratings"].append({"control": name, "rating": value.get("rating")})
        elif kind in ("number", "datetime"):
            out["texts"].append({"control": name, "text": str(value.get(kind))})
        elif kind == "labels":
            span_items.setdefault(str(item.get("to_name", "")), []).append(item)
        elif kind == "rectanglelabels":
            out["boxes"].setdefault(str(item.get("to_name", "")), []).append({
                "labels": [str(x) for x in value.get("rectanglelabels") or []],
                "style": (f"left:{_pct(value.get('x'))}%;top:{_pct(value.get('y'))}%;"
                          f"width:{_pct(value.get('width'))}%;height:{_pct(value.get('height'))}%"),
            })
    for obj_name, items in span_items.items():
        obj = schema.objects.get(obj_name)
        text = text_of(data.get(obj.value_key)) if obj is not None else None
        if text is not None:
            out["spans"][obj_name] = _span_segments(text, items)
    return out


@bp.get("/projects/<int:project_id>/tasks/<int:task_id>")
@login_required
def task_view(project_id: int, task_id: int):
    """A task with all its annotations and predictions side by side (leads and reviewers)."""
    user = current_user.user
    with read_session() as s:
        project = require_project(s, user, project_id, "see_all")
    task = projects.get_task(user, task_id)
    if task["project"] != project_id:
        raise NotFound(f"task {task_id} not found in project {project_id}")
    schema = schema_of(project)
    authors: dict[int, str] = {}
    columns = []
    for ann in annotations.task_annotations(task_id, user):
        if ann.user_id not in authors:
            author = users.get_user(ann.user_id)
            authors[ann.user_id] = author.email if author is not None else f"user {ann.user_id}"
        columns.append({"kind": "annotation", "who": authors[ann.user_id], "id": ann.id,
                        "when": ann.updated_at.strftime("%Y-%m-%d %H:%M UTC"), "version": ann.version,
                        "skipped": ann.was_cancelled, "skip_reason": ann.skip_reason, "lead_time": ann.lead_time,
                        "view": result_view(schema, task["data"], ann.result)})
    for pred in task.get("predictions", []):
        columns.append({"kind": "prediction", "who": pred.get("model_version") or "model", "id": pred["id"],
                        "score": pred.get("score"), "when": (pred.get("created_at") or "")[:16].replace("T", " "),
                        "view": result_view(schema, task["data"], pred["result"])})
    return render_template("annotate/task.html", project=project, task=task, schema=schema, columns=columns)
