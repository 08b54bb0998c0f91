"""Dataset pages: the versions of a project (with the Publish and Re-split buttons for leads), a
version's dataset card, the diff of two versions (its ids as a CSV download), and the export form
(a download of the clean export)."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Length, Optional, Regexp

from labeling import dataset_card, datasets, exports, jobs, projects, publish_job, splits
from labeling.db import read_session
from labeling.errors import Conflict, DomainError, NotFound
from labeling.models import TaskState
from labeling.schema import schema_of

bp = Blueprint("datasets", __name__)


class PublishForm(FlaskForm):
    note = TextAreaField("Note (shown on the dataset card)", validators=[Optional(), Length(max=10_000)])
    seed = StringField("Split seed", default="42", validators=[Regexp(r"^-?\d{1,18}$", message="a whole number")])
    split = StringField("Train, validation, test shares", default="80,10,10",
                        validators=[Regexp(r"^\s*[\d.]+\s*,\s*[\d.]+\s*,\s*[\d.]+\s*$", message="three numbers: 80,10,10")])


class ResplitForm(FlaskForm):
    seed = StringField("New split seed", validators=[Regexp(r"^-?\d{1,18}$", message="a whole number")])
    split = StringField("Train, validation, test shares", default="80,10,10",
                        validators=[Regexp(r"^\s*[\d.]+\s*,\s*[\d.]+\s*,\s*[\d.]+\s*$", message="three numbers: 80,10,10")])
    reason = StringField("Why (shown on the next dataset card)", validators=[Optional(), Length(max=2000)])


class ExportForm(FlaskForm):
    """The export form; it is sent with GET (a download), so it carries no CSRF token."""

    class Meta:
        csrf = False

    exportType = SelectField("Format", default="JSONL")  # noqa: N815 (Label Studio's parameter name)
    state = SelectMultipleField("Task states", default=[TaskState.accepted.value],
                                choices=[(s.value, s.value) for s in TaskState])
    label = SelectMultipleField("Only tasks with these labels (none: all)", choices=[])
    annotator = StringField("Only tasks this annotator labeled (email or id)", validators=[Optional()])
    since = StringField("Last change on or after (YYYY-MM-DD)", validators=[Optional()])
    until = StringField("Last change before (YYYY-MM-DD)", validators=[Optional()])
    media = SelectField("Images", choices=[("urls", "as URLs"), ("files", "as files (zip)")], default="urls")
    seed = StringField("Split seed", default="42")
    split = StringField("Train, validation, test shares", default="80,10,10")
    rows = SelectField("Rows (CSV, TSV, JSON Lines)", default="final",
                       choices=[("final", "final labels of accepted items"),
                                ("annotations", "one row per annotation")])
    gold = BooleanField("Gold tasks too, with their answers")
    csv_raw = BooleanField("CSV/TSV cells as they are (for pipelines: formulas are not neutralised)")


#: The other choice offered with nothing accepted: one row per annotation of the annotated tasks,
#: those with a submitted annotation whatever their state (sent back for more labels too; the
#: dashboard's "annotated"): every state, where a task without an annotation gives no row.
_EVERY_STATE = [s.value for s in TaskState]


def _user():
    return current_user.user


def _project(project_id: int):
    project, _ = projects.get_project_for(_user(), project_id, "view")
    return project


def _generation(project_id: int) -> dict | None:
    with read_session() as s:
        return splits.generation_view(splits.current_generation(s, project_id))


def _list_page(project_id: int, form: PublishForm, status: int = 200, resplit_form: ResplitForm | None = None):
    project = _project(project_id)
    versions = datasets.list_versions(project_id, _user())
    counts = exports.state_counts(project_id)
    job = _publish_job(project_id, request.args.get("job", type=int))
    return render_template("datasets/list.html", project=project, versions=versions, form=form, counts=counts,
                           generation=_generation(project_id), resplit_form=resplit_form or ResplitForm(),
                           job=job), status


def _publish_job(project_id: int, job_id: int | None) -> dict | None:
    """The project's publish job ``job_id`` as :func:`labeling.jobs.job_view` shows it (or None)."""
    if job_id is None:
        return None
    job = jobs.get_job(job_id)
    if job is None or job.project_id != project_id or job.kind != "publish":
        return None
    return jobs.job_view(job)


@bp.get("/projects/<int:project_id>/datasets/jobs/<int:job_id>")
@login_required
def publish_progress(project_id: int, job_id: int):
    """The publish job's progress (htmx polls it while the job runs); once the job has ended, a
    poll reloads the page, so the new version shows in the list."""
    project = _project(project_id)
    job = _publish_job(project_id, job_id)
    if job is None:
        raise NotFound(f"no publish job {job_id} in project {project_id}")
    headers = {}
    if request.headers.get("HX-Request") and job["status"] not in ("queued", "running"):
        headers["HX-Refresh"] = "true"
    return render_template("datasets/_publish_job.html", project=project, job=job), 200, headers


@bp.get("/projects/<int:project_id>/datasets")
@login_required
def index(project_id: int):
    return _list_page(project_id, PublishForm())


@bp.post("/projects/<int:project_id>/datasets")
@login_required
def publish(project_id: int):
    form = PublishForm()
    if not form.validate_on_submit():
        return _list_page(project_id, form, 400)
    try:
        # once a project has splits, its tasks keep them: the seed and shares apply to the first
        # publish only (then to a re-split)
        given = None if _generation(project_id) else exports.parse_splits(seed=form.seed.data, split=form.split.data)
        done = publish_job.request_publish(project_id, _user(), note=form.note.data or "", splits=given)
    except DomainError as exc:
        flash(exc.detail, "error")
        return _list_page(project_id, form, exc.status)
    if done.queued:  # a large project: the page follows the job
        flash("Publishing in the background: this page shows the progress.", "info")
        return redirect(url_for("datasets.index", project_id=project_id, job=done.job_id))
    version, created = done.version, done.created
    if created:
        flash(f"Published version {version.number}: {version.n_items} items.", "success")
    else:
        flash(f"Nothing changed since version {version.number}; no new version was made.", "info")
    return redirect(url_for("datasets.card", project_id=project_id, number=version.number))


@bp.post("/projects/<int:project_id>/datasets/resplit")
@login_required
def resplit(project_id: int):
    form = ResplitForm()
    if not form.validate_on_submit():
        return _list_page(project_id, PublishForm(), 400, resplit_form=form)
    try:
        gen = splits.resplit(project_id, _user(), splits=exports.parse_splits(seed=form.seed.data, split=form.split.data),
                             reason=form.reason.data or "")
    except DomainError as exc:
        flash(exc.detail, "error")
        return _list_page(project_id, PublishForm(), exc.status, resplit_form=form)
    flash(f"Split generation {gen.number} started: the next version places every item again.", "success")
    return redirect(url_for("datasets.index", project_id=project_id))


@bp.get("/projects/<int:project_id>/datasets/<int:number>")
@login_required
def card(project_id: int, number: int):
    project = _project(project_id)
    version = datasets.get_version(project_id, _user(), number)
    return render_template("datasets/card.html", project=project, version=version, m=version.manifest,
                           formats=datasets.VERSION_FORMATS, split_text=dataset_card.split_text(version.manifest["split"]),
                           excluded_text=dataset_card.excluded_text(version.manifest["qc"]))


@bp.get("/projects/<int:project_id>/datasets/diff")
@login_required
def diff(project_id: int):
    project = _project(project_id)
    versions = datasets.list_versions(project_id, _user())
    a, b = request.args.get("from"), request.args.get("to")
    if (not a or not b) and len(versions) >= 2:
        a, b = str(versions[1].number), str(versions[0].number)
    if a and b and request.args.get("format") == "csv":
        name, lines = datasets.diff_csv(project_id, _user(), a, b)
        return Response(lines, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})
    result = datasets.diff(project_id, _user(), a, b) if a and b else None
    return render_template("datasets/diff.html", project=project, versions=versions, result=result, a=a, b=b)


@bp.get("/projects/<int:project_id>/export")
@login_required
def export(project_id: int):
    """The export form; submitted (it has exportType), the download itself (the same file as
    ``GET /api/projects/ID/export`` and ``labelfab export`` give for the same choices)."""
    project = exports.export_project(project_id, _user())
    schema = schema_of(project)
    counts = exports.state_counts(project_id)
    annotated = exports.annotated_tasks(project_id)
    form = ExportForm(request.args)
    form.exportType.choices = [(f["name"], f["title"]) for f in exports.available_formats(project)
                               if not f["disabled"]]
    form.label.choices = [(name, name) for c in schema.controls for name in c.labels]
    other = None  # with nothing to export as asked, the choice that has something
    generation = _generation(project_id)
    if "exportType" in request.args and form.validate():
        try:
            filters = exports.parse_filters(state=form.state.data or None, label=form.label.data or None,
                                            annotator=form.annotator.data, since=form.since.data,
                                            until=form.until.data, gold=form.gold.data)
            # once a version is published its splits are kept: the export writes them (the seed
            # and shares apply before the first publish; a re-split changes them)
            splits = None if generation else exports.parse_splits(seed=form.seed.data, split=form.split.data)
            media = form.media.data if any(o.tag == "Image" for o in schema.objects.values()) else None
            result = exports.export(project_id, _user(), format=form.exportType.data, filters=filters,
                                    splits=splits, media=media, base_url=request.host_url, rows=form.rows.data,
                                    csv_raw=form.csv_raw.data)
        except DomainError as exc:
            status = exc.status
            if isinstance(exc, Conflict) and annotated:
                other = _other_choice(request.args, form)
                flash(f"{exc.detail.split(';')[0]}. There are annotated tasks: the choice below exports them.", "info")
            else:
                flash(exc.detail, "error")
        else:
            return Response(result, mimetype=result.mimetype,
                            headers={"Content-Disposition": f'attachment; filename="{result.filename}"'})
    else:
        status = 200 if "exportType" not in request.args else 400
        if "exportType" not in request.args and not counts.get(TaskState.accepted.value) and annotated:
            # nothing accepted yet: the form starts on what can be exported
            form.rows.data, form.state.data = "annotations", _EVERY_STATE
            other = _other_choice({"exportType": "CSV"}, form)
    has_images = any(o.tag == "Image" for o in schema.objects.values())
    return render_template("datasets/export.html", project=project, form=form, has_images=has_images,
                           counts=counts, annotated=annotated, other=other, generation=generation), status


def _other_choice(args, form: ExportForm) -> str:
    """The export URL of the other choice: one row per annotation of every annotated task (a
    tabular format), or Label Studio's JSON of them."""
    fmt = args.get("exportType") or "CSV"
    if fmt.upper() not in ("CSV", "TSV", "JSONL", "JSON"):
        fmt = "CSV"
    query = {"exportType": fmt, "rows": "annotations", "state": _EVERY_STATE, "seed": form.seed.data or "42",
             "split": form.split.data or "80,10,10"}
    if form.gold.data:
        query["gold"] = "y"
    if form.csv_raw.data:
        query["csv_raw"] = "y"
    return url_for("datasets.export", project_id=request.view_args["project_id"], **query)
