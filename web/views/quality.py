"""The QC page of a project (``/projects/<id>/quality``): a Run QC button with the job's
progress (htmx), the newest run's summary (noise rate, model, CV accuracy, pred_probs source),
the suspect items with their reasons, worst first, the annotators' scores, the runs history,
and the automatic-QC settings."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, FloatField, IntegerField
from wtforms.validators import NumberRange, Optional

from labeling import projects
from labeling.errors import DomainError
from labeling.models import JobStatus
from quality import results
from quality.run.skeleton import start_qc
from web.api.params import int_arg
from web.views import project_access

bp = Blueprint("quality", __name__)

ISSUES_PER_PAGE = 50


class RunForm(FlaskForm):
    """The Run QC button: CSRF only."""


class QCSettingsForm(FlaskForm):
    qc_every = IntegerField("Run QC automatically after this many newly labeled tasks (0: never)",
                            validators=[NumberRange(min=0, max=10_000_000)])
    qc_target_precision = FloatField(
        "Flag wrong labels at this expected precision (0.5-0.99; empty: as many flags as labels estimated wrong)",
        validators=[Optional(), NumberRange(min=0.5, max=0.99)])
    uncertain_first = BooleanField("Serve the tasks the model is least sure about first (ActiveLab)")


def _int(name: str, default: int | None) -> int | None:
    return int_arg(name, default)


@bp.get("/projects/<int:project_id>/quality")
@login_required
def page(project_id: int):
    view = results.overview(current_user.user, project_id, run_id=_int("run", None),
                            kind=request.args.get("kind") or None, page=_int("page", 1), page_size=ISSUES_PER_PAGE)
    settings_form = QCSettingsForm(data={"qc_every": view["project"].qc_every,
                                         "qc_target_precision": view["project"].qc_target_precision,
                                         "uncertain_first": view["project"].uncertain_first})
    return render_template("quality/page.html", **view, run_form=RunForm(), settings_form=settings_form,
                           active_statuses=(JobStatus.queued, JobStatus.running))


@bp.post("/projects/<int:project_id>/quality/run")
@login_required
def run(project_id: int):
    if not RunForm().validate_on_submit():
        abort(400)
    job, created = start_qc(current_user.user, project_id)
    if request.headers.get("HX-Request"):
        return render_template("quality/_job.html", job=job, project_id=project_id, created=created,
                               active_statuses=(JobStatus.queued, JobStatus.running))
    flash("QC run started." if created else "A QC run of this project is already under way.", "success")
    return redirect(url_for("quality.page", project_id=project_id))


@bp.get("/projects/<int:project_id>/quality/jobs/<int:job_id>")
@login_required
def job(project_id: int, job_id: int):
    """The job's progress, polled by htmx; the page reloads once the job has finished."""
    found = results.qc_job(current_user.user, project_id, job_id)
    response = render_template("quality/_job.html", job=found, project_id=project_id, created=None,
                               active_statuses=(JobStatus.queued, JobStatus.running))
    headers = {}
    if request.headers.get("HX-Request") and found.status not in (JobStatus.queued, JobStatus.running):
        headers["HX-Refresh"] = "true"
    return response, 200, headers


@bp.post("/projects/<int:project_id>/quality/settings")
@login_required
@project_access("manage")
def settings(project_id: int):
    form = QCSettingsForm()
    if not form.validate_on_submit():
        flash("; ".join(e for errs in form.errors.values() for e in errs) or "invalid settings", "error")
        return redirect(url_for("quality.page", project_id=project_id))
    try:
        projects.update_project(current_user.user, project_id, qc_every=form.qc_every.data,
                                qc_target_precision=form.qc_target_precision.data,
                                uncertain_first=bool(form.uncertain_first.data))
    except DomainError as exc:
        flash(exc.detail, "error")
    else:
        flash("QC settings saved.", "success")
    return redirect(url_for("quality.page", project_id=project_id))
