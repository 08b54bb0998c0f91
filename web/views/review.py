"""The QC queue in the browser: the review page, the audit page, annotators and the QC policy.

``/review/<project_id>``
    One suspect at a time (``web/static/review.js`` drives it over the REST API): the data,
    every annotator's label, the given/consensus and suggested labels, the reason and the score.
    Keys: K keep, R relabel (label picker pre-filled with the suggestion, number keys), X
    exclude (with a reason), G mark gold, U or Ctrl+Z undo.
    Span and box projects (``Labels``, ``RectangleLabels``): the task is shown in the labeling
    page's workspace (``annotate/_workspace.html``, ``annotate.js`` in mode ``review``) with the
    annotators' regions in their label colours; the reviewer edits them with the labeling
    page's widgets and keys (A applies QC's suggestion), R relabels with the edited regions
    (Enter confirms), G makes them the gold answer, K keeps the annotators' label, U undoes a
    decision and Ctrl+Z an edit.
``/review/<project_id>/audit``
    Leads: a sample of reviewers' decisions (or all of one reviewer) to confirm or overturn.
``/review/<project_id>/annotators``
    Leads: annotator quality, paused annotators and their Resume buttons.
``/review/<project_id>/policy``
    Leads: the QC policy form.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, IntegerField, SelectField, SelectMultipleField
from wtforms.validators import NumberRange, Optional

from labeling import audit as audits
from labeling import gold
from labeling.access import can, require_project
from labeling.db import read_session
from labeling.errors import DomainError, Invalid
from labeling.limits import bounded_int
from labeling.schema import LabelSchema, result_from_labels, schema_of
from quality import policy
from web.api.params import int_arg
from web.views import project_access
from web.views.annotate import page_config, workspace_context

bp = Blueprint("review", __name__)

#: Keys the review page keeps for its actions; label hotkeys equal to one of these are not used.
ACTION_KEYS = {"k", "r", "x", "g", "u", "z", "enter", "escape", "?"}
#: Control types whose suspects are edited in the labeling page's workspace (spans, boxes).
REGION_TYPES = {"labels", "rectanglelabels", "polygonlabels", "ellipselabels", "keypointlabels", "brushlabels"}
#: what the review page calls those regions ("Apply to the boxes")
REGION_NOUNS = {"labels": "spans", "rectanglelabels": "boxes", "polygonlabels": "polygons",
                "ellipselabels": "ellipses", "keypointlabels": "points", "brushlabels": "masks"}
#: ... where the review page also keeps A (apply QC's suggestion) from the label keys.
WORKSPACE_RESERVED = frozenset(ACTION_KEYS | {"a"})


def _user():
    return current_user.user


def _project(project_id: int, action: str):
    with read_session() as s:
        project = require_project(s, _user(), project_id, action)
        return project, can(s, _user(), project, "manage")


def label_keys(schema: LabelSchema) -> dict[str, str]:
    """Label -> key of the primary control's labels: its hotkeys where they are free, then 1-9, 0."""
    control = schema.primary_control
    used: set[str] = set()
    keys: dict[str, str] = {}
    for name in control.labels:
        key = (control.hotkeys.get(name) or "").strip().lower()
        if len(key) == 1 and key not in used and key not in ACTION_KEYS:
            keys[name] = key
            used.add(key)
    digits = iter(d for d in "1234567890" if d not in used)
    for name in control.labels:
        if name not in keys:
            digit = next(digits, None)
            if digit is None:
                break
            keys[name] = digit
            used.add(digit)
    return keys


# --------------------------------------------------------------------------- review page


@bp.get("/review/<int:project_id>")
@login_required
def page(project_id: int):
    project, is_lead = _project(project_id, "review")
    schema = schema_of(project)
    control = schema.primary_control
    regions = control.type in REGION_TYPES
    config = {
        "regions": regions,
        "project": {"id": project.id, "title": project.title},
        "control": {"name": control.name, "to_name": control.to_name, "type": control.type, "tag": control.tag,
                    "labels": control.labels, "choice": control.choice},
        "keys": label_keys(schema) if control.tag == "Choices" else {},
        "urls": {"next": f"/api/review/{project.id}/next", "decide": "/api/tasks/{task}/review",
                 "undo_task": "/api/tasks/{task}/review/undo", "undo_last": f"/api/projects/{project.id}/review/undo",
                 "gold": "/api/tasks/{task}/gold"},
    }
    workspace = workspace_context(schema, page_config(schema, mode="review", project=project,
                                                      reserved=WORKSPACE_RESERVED),
                                  project.instructions) if regions else {}
    return render_template("review/page.html", project=project, review_config=config, regions=regions,
                           region_noun=REGION_NOUNS.get(control.type, "regions"), is_lead=is_lead, active="queue",
                           **workspace)


# --------------------------------------------------------------------------- audit


class ActionForm(FlaskForm):
    """A button that posts: CSRF only."""


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    reviewer = SelectField("Reviewer", coerce=str, validators=[Optional()])
    sample = IntegerField("Sample size", default=20, validators=[Optional(), NumberRange(min=1, max=1000)])


def _labels_result(schema: LabelSchema, names: list[str]) -> list | None:
    if schema.primary_control.tag != "Choices":
        raise Invalid("pick the right label on the review page: this form sets labels of <Choices> only",
                      [{"row": None, "field": "label", "detail": "not a Choices project"}])
    try:
        return result_from_labels(schema, names)
    except ValueError as exc:
        raise Invalid(str(exc), [{"row": None, "field": "label", "detail": str(exc)}]) from None


@bp.route("/review/<int:project_id>/audit", methods=["GET", "POST"])
@login_required
def audit(project_id: int):
    project, _ = _project(project_id, "manage")
    schema = schema_of(project)
    if request.method == "POST":
        form = ActionForm()
        if not form.validate_on_submit():
            flash("The form expired; reload the page and try again.", "error")
        else:
            verdict = request.form.get("verdict", "")
            names = [n for n in request.form.getlist("label") if n]
            try:
                decision_id = bounded_int(request.form.get("decision", ""), "decision", minimum=0)
            except Invalid:
                decision_id = 0
            try:
                result = _labels_result(schema, names) if verdict == "relabel" else None
                row = audits.audit(decision_id, _user(), verdict=verdict, result=result,
                                   reason=request.form.get("reason", ""))
                flash(f"Decision {row.overturns_id} {'confirmed' if verdict == 'confirm' else 'overturned: ' + verdict}.",
                      "success")
            except DomainError as exc:
                flash(exc.detail, "error")
        return redirect(url_for("review.audit", project_id=project_id, **request.args))
    reviewers = {d["reviewer"]: d["reviewer_email"]
                 for d in audits.list_decisions(project_id, _user(), limit=1000) if d["level"] == 1}
    filters = AuditFilterForm(request.args)
    filters.reviewer.choices = [("", "any reviewer (random sample)")] + [
        (str(uid), email or str(uid)) for uid, email in sorted(reviewers.items(), key=lambda x: x[1] or "")]
    reviewer_id = int_arg("reviewer", minimum=0)
    sample = int_arg("sample", minimum=0)
    if reviewer_id is None and not sample:
        sample = 20
    decisions = audits.audit_queue(project_id, _user(), reviewer_id=reviewer_id, sample=sample or None,
                                   seed=int_arg("seed"))
    return render_template("review/audit.html", project=project, decisions=decisions, filters=filters,
                           action_form=ActionForm(), labels=schema.primary_control.labels,
                           choices=schema.primary_control.tag == "Choices",
                           multiple=schema.primary_control.choice == "multiple", is_lead=True, active="audit")


# --------------------------------------------------------------------------- annotators


@bp.get("/review/<int:project_id>/annotators")
@login_required
def annotators(project_id: int):
    project, _ = _project(project_id, "manage")
    rows = gold.annotator_quality(project_id, _user())
    return render_template("review/annotators.html", project=project, rows=rows, action_form=ActionForm(),
                           is_lead=True, active="annotators")


@bp.post("/review/<int:project_id>/annotators/<int:user_id>/resume")
@login_required
@project_access("manage")
def resume(project_id: int, user_id: int):
    form = ActionForm()
    if not form.validate_on_submit():
        flash("The form expired; reload the page and try again.", "error")
    else:
        try:
            gold.resume(project_id, _user(), user_id)
            flash("Resumed: the annotator gets tasks again.", "success")
        except DomainError as exc:
            flash(exc.detail, "error")
    return redirect(url_for("review.annotators", project_id=project_id))


# --------------------------------------------------------------------------- policy


class PolicyForm(FlaskForm):
    suspect = SelectField("What makes a suspect", choices=[
        ("flagged", "flagged by cleanlab"), ("threshold", "score below a threshold"),
        ("worst_share", "the worst share of each run"), ("budget", "a review budget (items per run)")])
    threshold = DecimalField("Score threshold (0-1)", places=None, validators=[NumberRange(min=0, max=1)])
    worst_share = DecimalField("Worst share (0-1)", places=None, validators=[NumberRange(min=0, max=1)])
    budget = IntegerField("Review budget (items per run)", validators=[NumberRange(min=0)])
    kinds = SelectMultipleField("Issue kinds that count", choices=[(k, k.replace("_", " ")) for k in policy.ISSUE_KINDS])
    route = SelectField("Where suspects go", choices=[("review", "to the review queue"),
                                                      ("relabel", "to more annotators")])
    relabel_k = IntegerField("More annotators per relabeled suspect", validators=[NumberRange(min=1, max=50)])
    dynamic_overlap = BooleanField("Low agreement: one more annotator (up to the project's maximum overlap)")
    min_agreement = DecimalField("Least agreement (0-1)", places=None, validators=[NumberRange(min=0, max=1)])


@bp.route("/review/<int:project_id>/policy", methods=["GET", "POST"])
@login_required
def policy_settings(project_id: int):
    project, _ = _project(project_id, "manage")
    current = policy.get_policy(project_id, _user())
    form = PolicyForm(data=current)
    if form.validate_on_submit():
        values = {name: getattr(form, name).data for name in policy.DEFAULTS}
        for name in ("threshold", "worst_share", "min_agreement"):
            values[name] = float(values[name])
        try:
            policy.set_policy(project_id, _user(), values)
            flash("QC policy saved; the next QC run applies it.", "success")
            return redirect(url_for("review.policy_settings", project_id=project_id))
        except DomainError as exc:
            for err in exc.errors:
                field = getattr(form, err.get("field") or "", None)
                if field is not None:
                    field.errors = [*field.errors, err["detail"]]
            if not exc.errors:
                flash(exc.detail, "error")
    return render_template("review/policy.html", project=project, form=form, is_lead=True, active="policy",
                           max_overlap=project.max_overlap)
