"""``labelfab qc``, ``labelfab review`` and ``labelfab policy``: QC runs and their suspects, the
review queue and a project's QC policy, through the same domain functions as the REST API and
the pages."""

from __future__ import annotations

import json
import sys

import click

from labeling.errors import DomainError
from labeling.models import JobStatus
from labeling.schema import schema_of
from quality.kinds import ISSUE_KINDS
from web.cli_common import acting_user, domain_fail, fail


@click.group("qc")
def qc_group():
    """Quality control: run QC on a project, list its runs and its suspect items."""


@qc_group.command("run")
@click.argument("project_id", type=int)
@click.option("--wait", is_flag=True, help="show progress until the run ends; exit status 1 if it failed")
@click.option("--as", "as_email", help="act as this user (default: the first admin)")
def qc_run(project_id: int, wait: bool, as_email: str | None):
    """Start a QC run of a project (a 'qc' job); prints the job id alone on the last line.

    With the in-process (stub) broker nothing else would run the job, so the command runs it
    itself, showing its progress, as with --wait.
    """
    from labeling.jobs import broker

    job, created = _start_qc(project_id, as_email)
    if not (wait or broker.is_stub()):
        click.echo(job.id)
        return
    current = _follow_qc(job, created)
    click.echo(f"{current.status}: {current.message}")
    if current.status == JobStatus.failed:
        raise SystemExit(1)
    click.echo(job.id)


def _start_qc(project_id: int, as_email: str | None):
    from quality.run.skeleton import start_qc

    try:
        job, created = start_qc(acting_user(as_email), project_id)
    except DomainError as exc:
        fail(exc.detail)
    click.echo(f"QC job {job.id} {'started' if created else 'was already under way'} for project {project_id}")
    return job, created


def _follow_qc(job, created: bool, *, run_here: bool = False):
    """Show a QC job's progress until it ends; the job. It runs in this process when the stub
    broker has no other worker, or with ``run_here`` (the claim is atomic: a worker that takes
    the job's message first runs it, and this process waits)."""
    import threading
    import time

    from tqdm import tqdm

    from labeling import jobs
    from labeling.jobs import broker

    if (broker.is_stub() or run_here) and created:
        threading.Thread(target=jobs.execute, args=(job.id,), daemon=True, name=f"qc-job-{job.id}").start()
    bar = tqdm(total=100, desc="QC", unit="%", file=sys.stderr, dynamic_ncols=True,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} {postfix}")
    while True:
        current = jobs.get_job(job.id)
        if current is None:
            bar.close()
            fail(f"job {job.id} disappeared (was the project deleted?)")
        bar.n = round(current.progress * 100)
        bar.set_postfix_str((current.message or "")[:60], refresh=False)
        bar.refresh()
        if current.status in (JobStatus.done, JobStatus.failed):
            break
        time.sleep(0.3)
    bar.close()
    if current.status == JobStatus.done and (current.result or {}).get("status") == "fanned_out":
        click.echo(f"{current.status}: {current.message}")
        current = _follow_fan_out(current.result["batch"], run_here=broker.is_stub())
    return current


def _follow_fan_out(batch_id: int, *, run_here: bool):
    """A fanned-out QC run to its end: its fold jobs and gather, run in this process with the
    in-process broker (nothing else would), else waited for; the gather job at its end."""
    import time

    from labeling import jobs
    from labeling.models import JobStatus
    from quality.run.fanout import pending_jobs

    while True:
        folds, gather = pending_jobs(batch_id)
        if run_here:
            for job_id in [*folds, *([gather] if gather else [])]:
                click.echo(f"running job {job_id}", err=True)
                jobs.execute(job_id)
        current = jobs.get_job(gather) if gather else None
        if current is not None and current.status in (JobStatus.done, JobStatus.failed):
            return current
        if any(j.status == JobStatus.failed for j in map(jobs.get_job, folds)):
            fail(f"a fold job of QC batch {batch_id} failed")
        time.sleep(0.5)


@qc_group.command("agreement")
@click.argument("project_id", type=int)
@click.option("--as", "as_email", help="act as this user (default: the first admin)")
def qc_agreement(project_id: int, as_email: str | None):
    """Run QC now and show the annotators' agreement per control (rankings, pairwise picks,
    taxonomy paths, HTML and dialogue spans, relations); a QC run sends the tasks whose
    annotators disagree to review, as every run does."""
    from quality import results

    job, created = _start_qc(project_id, as_email)
    current = _follow_qc(job, created, run_here=True)
    if current.status == JobStatus.failed:
        fail(current.message or "the QC run failed")
    done = current.result or {}
    policy = done.get("policy") or {}
    controls = results.agreement_controls(acting_user(as_email), project_id, done.get("run"))
    figures = ", ".join(f"{c['control']} {c['metric']} {c['mean']:.2f} ({c['n_disagree']} of {c['n_tasks']} apart)"
                        for c in controls) or "nothing to measure"
    click.echo(f"QC run {done.get('run')}: {sum(c['n_tasks'] for c in controls[:1])} tasks compared; "
               f"{policy.get('disagree', 0)} sent to review for disagreeing; mean agreement: {figures}")


@qc_group.command("runs")
@click.argument("project_id", type=int)
@click.option("--as", "as_email", help="act as this user (default: the first admin)")
def qc_runs(project_id: int, as_email: str | None):
    """List a project's QC runs, newest first."""
    from quality import results

    try:
        runs = results.list_runs(acting_user(as_email), project_id)
    except DomainError as exc:
        fail(exc.detail)
    for r in runs:
        noise = f"{r.noise_rate:.1%}" if r.noise_rate is not None else "-"
        acc = f"{r.cv_accuracy:.1%}" if r.cv_accuracy is not None else "-"
        click.echo(f"{r.id}\t{r.created_at:%Y-%m-%d %H:%M}\t{r.status}\t{r.n_items} items\t{r.n_issues} issues\t"
                   f"noise {noise}\t{r.model_name or '-'} (CV accuracy {acc}, {r.pred_probs_source or '-'})")


@qc_group.command("issues")
@click.argument("project_id", type=int)
@click.option("--run", "run_id", type=int, help="a run id (default: the newest successful run)")
@click.option("--kind", type=click.Choice(ISSUE_KINDS), help="only findings of this kind")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--as", "as_email", help="act as this user (default: the first admin)")
def qc_issues(project_id: int, run_id: int | None, kind: str | None, limit: int, as_email: str | None):
    """List the findings of a QC run, worst first (task, kind, given, suggested, score, reason):
    label issues, outliers, near duplicates...; the QC policy's kinds say which become suspects."""
    from quality import results

    try:
        run, rows, total = results.label_issues(acting_user(as_email), project_id, run_id=run_id, kind=kind,
                                                page_size=max(1, min(limit, 1000)))
    except DomainError as exc:
        fail(exc.detail)
    if run is None:
        fail(f"project {project_id} has no successful QC run yet; start one with 'labelfab qc run {project_id}'")
    counts = "" if kind else ", ".join(f"{n} {k}" for k, n in results.issue_counts(
        acting_user(as_email), project_id, run).items())
    click.echo(f"run {run.id}: {total} finding(s)" + (f" ({counts})" if counts else ""))
    for r in rows:
        v = results.issue_view(r)
        click.echo(f"{v['task']}\t{v['kind']}\t{results.shown(v['given'])}\t{results.shown(v['suggested'])}\t"
                   f"{v['score']:.3f}\t{v['reason']}")


@click.group("review")
def review_group():
    """The QC review queue: take the next suspect, decide on it (keep, relabel, exclude)."""


def _shown(value) -> str:
    """Task data for a terminal: JSON, so control characters come out escaped, never raw."""
    return json.dumps(value, ensure_ascii=False)


@review_group.command("next")
@click.argument("project_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="print the suspect as JSON (null when none is left)")
@click.option("--as", "as_email", help="act as this user (default: the first admin)")
def review_next(project_id: int, as_json: bool, as_email: str | None):
    """Lease the next suspect of a project's review queue to you and show it: the data, every
    annotator's label, the given, consensus and suggested labels, the reason and the score.

    Asking again shows the same suspect (and renews its lease) until you decide on it.
    """
    from labeling import review

    try:
        item = review.next_suspect(project_id, acting_user(as_email))
    except DomainError as exc:
        domain_fail(exc)
    if as_json:
        click.echo(json.dumps(item, ensure_ascii=False))
        return
    if item is None:
        click.echo(f"no suspects left to review in project {project_id}")
        return
    task = item["task"]
    key = item["object"]["key"]
    data = task["data"].get(key) if key and isinstance(task["data"], dict) and key in task["data"] else task["data"]
    given = item["given"]
    click.echo(f"task {task['id']} ({item['remaining']} in the queue; leased to you until {item['lease_expires_at']})")
    click.echo(f"data:      {_shown(data)}")
    if given["tied"]:
        click.echo("given:     annotators tied (" + " / ".join(x["label"] or "(none)" for x in given["tied"])
                   + "): keep is refused; relabel to pick one")
    else:
        click.echo(f"given:     {given['label'] or '(none)'}" + (f" ({given['source']}, by the annotators)"
                                                                  if given["source"] else ""))
    click.echo(f"consensus: {item['consensus']['label'] + ' (QC model-weighted, not a person)' if item['consensus'] else '-'}")
    click.echo(f"suggested: {item['suggested']['label'] + ' (QC model)' if item['suggested'] else '-'}")
    score = f"{item['score']:.3f}" if isinstance(item["score"], int | float) else "-"
    click.echo(f"score:     {score}" + (f" ({item['issue']['kind']} issue)" if item["issue"] else ""))
    click.echo(f"reason:    {_shown(item['reason'] or '-')}")
    if item["issue"]:
        click.echo(f"queued by: QC run {item['issue']['run']}")
    if item.get("cleared"):
        click.echo(f"cleared:   QC run {item['cleared']['run']} no longer flags it (it would leave the queue; "
                   "you hold it)")
    click.echo(f"annotators ({len(item['annotations'])}):")
    for a in item["annotations"]:
        seconds = f"{a['lead_time']:.1f}s" if isinstance(a["lead_time"], int | float) else "-"
        click.echo(f"  {a['email'] or 'user ' + str(a['user'])}\t{a['label']}\t{seconds}")
    click.echo(f"decide with: labelfab review decide {task['id']} keep|relabel|exclude [--label L] [--reason R]")


@review_group.command("decide")
@click.argument("task_id", type=int)
@click.argument("decision", type=click.Choice(["keep", "relabel", "exclude"]))
@click.option("--label", "labels", multiple=True,
              help="relabel: the right label (a name of the config's choices; repeat for multiple choice)")
@click.option("--result", "result_json", help="relabel: the right label as Label Studio result items (JSON)")
@click.option("--reason", default="", help="why (required for exclude)")
@click.option("--as", "as_email", help="act as this user (default: the first admin)")
def review_decide(task_id: int, decision: str, labels: tuple[str, ...], result_json: str | None, reason: str,
                  as_email: str | None):
    """Decide on a suspect of the review queue: keep its label, relabel it, or exclude it."""
    from labeling import audit, projects, review

    user = acting_user(as_email)
    result = None
    if result_json is not None:
        try:
            result = json.loads(result_json)
        except ValueError as exc:
            fail(f"--result is not valid JSON: {exc}")
    if decision != "relabel" and (labels or result is not None):
        fail("--label and --result go with relabel only")
    if decision == "relabel" and not labels and result is None:
        fail("relabel needs the right label: --label L (or --result JSON)")
    try:
        row = review.decide(task_id, user, decision=decision, result=result, reason=reason,
                            labels=(labels[0] if len(labels) == 1 else list(labels)) if labels else None)
        project, _ = projects.get_project_for(user, row.project_id)
    except DomainError as exc:
        domain_fail(exc)
    view = audit.decision_view(row, schema=schema_of(project))
    after = view["after"] or {}
    label = f", final label {view['after_label']}" if view["after_label"] else ""
    said = "" if row.decision == decision else f" (recorded as {row.decision}: the label the annotators gave)"
    click.echo(f"task {task_id}: {decision}{said} -> {after.get('state')}{label} (decision {row.id})")


@click.group("policy")
def policy_group():
    """A project's QC policy: what makes a suspect, and where it goes."""


def _echo_policy(values: dict) -> None:
    for name, value in values.items():
        click.echo(f"{name}={json.dumps(value)}")


@policy_group.command("show")
@click.argument("project_id", type=int)
@click.option("--as", "as_email", help="act as this user (default: the first admin)")
def policy_show(project_id: int, as_email: str | None):
    """Print a project's QC policy, one key=value a line (values as JSON)."""
    from quality import policy

    try:
        values = policy.get_policy(project_id, acting_user(as_email))
    except DomainError as exc:
        domain_fail(exc)
    _echo_policy(values)


@policy_group.command("set")
@click.argument("project_id", type=int)
@click.argument("settings", nargs=-1, required=True, metavar="KEY=VALUE...")
@click.option("--as", "as_email", help="act as this user (default: the first admin)")
def policy_set(project_id: int, settings: tuple[str, ...], as_email: str | None):
    """Change settings of a project's QC policy (leads), e.g. ``suspect=threshold threshold=0.3
    route=relabel relabel_k=2 dynamic_overlap=false kinds=label,outlier``; prints the whole policy.

    A value is read as JSON when it is JSON (numbers, true/false, lists), else as text; ``kinds``
    also takes a comma-separated list.
    """
    from quality import policy

    values: dict = {}
    for item in settings:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            fail(f"settings are KEY=VALUE, got {item!r}")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        if key.strip() == "kinds" and isinstance(value, str):
            value = [k.strip() for k in value.split(",") if k.strip()]
        values[key.strip()] = value
    try:
        _echo_policy(policy.set_policy(project_id, acting_user(as_email), values))
    except DomainError as exc:
        domain_fail(exc)
