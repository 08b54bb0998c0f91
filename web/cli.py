"""The ``labelfab`` command line. Each command calls the same domain function as the web."""

from __future__ import annotations

import json
import os
import sys

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import FlaskGroup

from labeling import users
from labeling.errors import DomainError
from labeling.models import JobStatus, Role, User
from labeling.schema import schema_of
from labeling.settings import SettingsError
from web.cli_accounts import token_group, user_group
from web.cli_common import acting_user, domain_fail, fail
from web.cli_quality import policy_group, qc_group, review_group
from web.server import default_threads, housekeeping


@click.command("init")
def init_command():
    """Create or upgrade the database, and create the first admin if there is none."""
    from labeling import migrate

    migrate.upgrade()
    click.echo("database is up to date")
    if not any(u.role == Role.admin for u in users.list_users()):
        email = os.environ.get("LABELFAB_ADMIN_EMAIL", "admin@labelfab.local")
        password = users.generate_password()
        users.create_user(email, role=Role.admin, password=password, name="Admin")
        click.echo(f"created admin {email} with password {password} (shown once; change it with "
                   f"'labelfab user password {email}')")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="server processes")
@click.option("--threads", default=default_threads(), show_default=True, type=int, help="threads per process")
def serve_command(host: str, port: int, workers: int, threads: int):
    """Serve the app with Granian (processes x threads); with the stub broker, jobs run in-process."""
    from web.server import serve

    admin = next((u for u in users.list_users() if u.role == Role.admin), None)
    click.echo(f"labelfab is serving on http://{host}:{port}")
    if admin is not None:
        click.echo(f"log in as {admin.email} (password printed by 'labelfab init'; "
                   f"reset it with 'labelfab user password {admin.email}')")
    quiet_progress_bars()
    serve(host=host, port=port, workers=workers, threads=threads)


def quiet_progress_bars() -> None:
    """No tqdm progress bars in a server's or worker's log (cleanvision and cleanlab draw them as
    they score): the processes started next read ``TQDM_DISABLE`` when they import tqdm."""
    os.environ.setdefault("TQDM_DISABLE", "1")


@click.command("worker")
@click.option("--processes", default=2, show_default=True, type=int)
@click.option("--threads", default=2, show_default=True, type=int)
def worker_command(processes: int, threads: int):
    """Run dramatiq worker processes (Redis or RabbitMQ broker) for every queue of the job registry.

    Each process imports the worker entry point, labeling.jobs.worker, which loads the handler
    of every job kind (and stops the process if one cannot be imported). First it cleans up after
    crashes and re-sends unfinished jobs: those whose process on this machine is gone are taken
    over at once, others once their heartbeat is stale."""
    from labeling import jobs
    from labeling.jobs import broker, registry

    if broker.is_stub():
        fail("the stub broker runs jobs inside 'labelfab serve'; set LABELFAB_BROKER_URL to redis:// or amqp://")
    housekeeping()
    click.echo(f"re-sent {jobs.recover()} unfinished job(s)")
    args = [sys.executable, "-m", "dramatiq", "labeling.jobs.worker", "--processes", str(processes),
            "--threads", str(threads), "--queues", *registry.QUEUES]
    sys.stdout.flush()
    quiet_progress_bars()
    os.execv(sys.executable, args)


def _run_thumbnails(job_id: int | None) -> None:
    """With the stub broker nothing else would run the job: make the thumbnails here (or wait for
    the worker thread of this process that took its message first)."""
    import time

    from labeling import jobs
    from labeling.jobs import broker

    if job_id is None:
        return
    if not broker.is_stub():
        click.echo(f"thumbnails: job {job_id} sent to the workers")
        return
    jobs.execute(job_id)
    job = jobs.get_job(job_id)
    while job is not None and job.status == JobStatus.running:
        time.sleep(0.1)
        job = jobs.get_job(job_id)
    if job is not None and job.status == "done" and job.result:
        click.echo(f"thumbnails: {job.result.get('thumbnails', 0)} made, {job.result.get('n_failed', 0)} failed")
    else:
        click.echo(f"thumbnails: {job.status if job else 'gone'} {job.message if job else ''}".rstrip())


@click.group("project")
def project_group():
    """Manage projects."""


@project_group.command("create")
@click.option("--title", required=True)
@click.option("--config", "config", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Label Studio XML label config")
@click.option("--overlap", type=int, default=1, show_default=True, help="annotations wanted per task")
@click.option("--description", default="")
@click.option("--as", "as_email", help="act as this user (default: the first admin)")
def project_create(title: str, config: str, overlap: int, description: str, as_email: str | None):
    """Create a project; prints its id alone on the last line."""
    from labeling import projects

    with open(config, encoding="utf-8") as fh:
        xml = fh.read()
    try:
        project = projects.create_project(acting_user(as_email), title=title, label_config=xml, overlap=overlap,
                                          description=description)
    except DomainError as exc:
        domain_fail(exc)
    click.echo(f"created project {project.title!r} ({schema_of(project).kind})")
    click.echo(project.id)


@project_group.command("list")
@click.option("--archived", is_flag=True, help="include archived projects")
def project_list(archived: bool):
    """List projects with their task counts."""
    from labeling import projects

    for p, counts in projects.list_projects(acting_user(None), include_archived=archived):
        flag = " (archived)" if p.archived_at else ""
        click.echo(f"{p.id}\t{p.title}{flag}\t{counts['task_number']} tasks\t"
                   f"{counts['total_annotations_number']} annotations")


@click.command("import")
@click.argument("project_id", type=int)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--skip-invalid", is_flag=True, help="import the valid rows and report the others")
@click.option("--dedupe", is_flag=True, help="skip rows whose data the project already has")
@click.option("--user-map", default=None, help="another instance's user ids as emails: 7=ann@example.com,8=...")
@click.option("--as", "as_email", help="act as this user (default: the first admin)")
def import_command(project_id: int, paths: tuple[str, ...], skip_invalid: bool, dedupe: bool,
                   user_map: str | None, as_email: str | None):
    """Import files or folders (JSON, JSON Lines, CSV, TSV, TXT, images, zip) into a project.

    A folder in ImageFolder layout (class_name/*.png) imports the folder names as labels.
    """
    from tqdm import tqdm

    from labeling import imports

    user = acting_user(as_email)
    bars: list = []  # the progress bar, made once the files are read and checking starts

    def progress(done: int, total: int | None, message: str) -> None:
        if not bars:
            bars.append(tqdm(total=total, unit=" rows", desc="importing", dynamic_ncols=True, file=sys.stderr))
        bar = bars[0]
        if total and bar.total != total:
            bar.total = total
        bar.set_postfix_str(message, refresh=False)
        bar.update(done - bar.n)

    try:
        result = imports.import_data(user, project_id, paths=list(paths), skip_invalid=skip_invalid,
                                      dedupe=dedupe, progress=progress, user_map=imports.parse_user_map(user_map))
    except DomainError as exc:
        for bar in bars:
            bar.close()
        fail(imports.import_error_summary(exc))
    for bar in bars:
        bar.close()
    click.echo(f"import #{result.import_id}: {result.task_count} tasks, {result.annotation_count} annotations, "
               f"{result.prediction_count} predictions in {result.duration:.2f} s"
               + (f"; {result.skipped_duplicates} duplicates skipped" if result.skipped_duplicates else "")
               + (f"; {result.skipped_invalid} invalid rows skipped" if result.skipped_invalid else ""))
    for e in result.errors[:10]:
        click.echo(f"  skipped: {imports.format_error(e)}")
    for e in result.notes[:10]:
        click.echo(f"  note: {imports.format_error(e)}")
    for line in result.attribution:
        click.echo(f"  completed_by {line['completed_by']!r}: {imports.ATTRIBUTED[line['how']]}"
                   + (f" ({line['user']})" if line["user"] else "") + f", {line['annotations']} annotation(s)"
                   + (" [mapped]" if line.get("mapped") else ""))
    _run_thumbnails(result.thumbnail_job_id)


@click.command("demo")
@click.option("--as", "as_email", help="owner of the demo projects (default: the first admin)")
def demo_command(as_email: str | None):
    """Load the demo projects (handwritten digits with some wrong labels; short texts). Idempotent."""
    from labeling import demo

    user = acting_user(as_email)
    try:
        done = demo.load_demo(user)
    except DomainError as exc:
        fail(exc.detail)
    for item in done:
        click.echo(f"{item['status']}: project {item['id']} {item['title']!r} ({item['tasks']} tasks)")
        _run_thumbnails(item.get("thumbnail_job"))
        if item["status"] == "created" and item["title"] == demo.DIGITS_TITLE:
            _queue_demo_qc(user, item["id"])


def _queue_demo_qc(user: User, project_id: int) -> None:
    """A first QC run of the demo digits, so that their wrong labels wait on the review page."""
    from labeling.jobs import broker
    from quality.run.skeleton import start_qc

    job, _created = start_qc(user, project_id)
    where = "when 'labelfab serve' starts" if broker.is_stub() else "on the workers"
    click.echo(f"QC: run queued as job {job.id}; it runs {where}, and its suspects appear on the review page")


@click.command("export")
@click.argument("project_id", type=int)
@click.option("--format", "fmt", default="JSONL", show_default=True,
              help="JSON, JSON_MIN, CSV, TSV, JSONL, PARQUET, COCO, YOLO, VOC, CONLL2003, BRUSH_TO_PNG")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True),
              help="the file to write (a zip for COCO, YOLO, VOC and for --media files)")
@click.option("--state", default="accepted", show_default=True, help="task states, comma-separated, or 'all'")
@click.option("--label", default=None, help="only tasks carrying one of these labels (comma-separated)")
@click.option("--annotator", default=None, help="only tasks this user (id or email) annotated")
@click.option("--since", default=None, help="last state change on or after this date (2025-01-31)")
@click.option("--until", default=None, help="last state change before this date")
@click.option("--media", type=click.Choice(["urls", "files"]), default="urls", show_default=True,
              help="images as URLs, or as files in a zip")
@click.option("--base-url", default="", help="the server's address, for absolute image URLs")
@click.option("--seed", default=None, help="seed of the train/validation/test split (default: the project's, "
                                           "kept by its dataset versions; before the first, 42)")
@click.option("--split", default=None, help="train,validation,test shares (default: the project's; before the "
                                            "first version, 80,10,10)")
@click.option("--rows", type=click.Choice(["final", "annotations"]), default="final", show_default=True,
              help="CSV/TSV/JSONL: final labels, or one row per annotation (Label Studio's columns)")
@click.option("--gold", is_flag=True, help="gold tasks too, with their answers")
@click.option("--csv-raw", "csv_raw", is_flag=True,
              help="CSV/TSV: every cell as it is (by default text a spreadsheet would run as a formula gets a ' "
                   "in front)")
@click.option("--as", "as_email", help="act as this user (default: the first admin)")
def export_command(project_id: int, fmt: str, out: str, state: str, label: str | None, annotator: str | None,
                   since: str | None, until: str | None, media: str, base_url: str, seed: str | None,
                   split: str | None,
                   rows: str, gold: bool, csv_raw: bool, as_email: str | None):
    """Export a project's tasks with their final labels (accepted tasks by default) to a file."""
    from pathlib import Path

    from labeling import exports

    user = acting_user(as_email)
    try:
        filters = exports.parse_filters(state=state, label=label, annotator=annotator, since=since, until=until,
                                        gold=gold)
        splits = exports.parse_splits(seed=seed, split=split) if seed is not None or split is not None else None
        result = exports.export(project_id, user, format=fmt, filters=filters, splits=splits, media=media,
                                base_url=base_url, rows=rows, csv_raw=csv_raw)
    except DomainError as exc:
        domain_fail(exc)
    target = Path(out)
    part = target.with_name(target.name + ".part")
    try:
        with open(part, "wb") as fh:
            for chunk in result:
                fh.write(chunk)
        os.replace(part, target)
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror or exc}")
    except DomainError as exc:
        domain_fail(exc)
    finally:
        result.close()
        part.unlink(missing_ok=True)
    click.echo(f"exported {result.stats.n_items} tasks of project {project_id} as {fmt.upper()} to {target} "
               f"({target.stat().st_size} bytes)")
    if result.media_skipped:
        click.echo(f"left out {len(result.media_skipped)} image(s) that task data names but that are not this "
                   "project's (listed in media-skipped.txt)", err=True)


@click.group("dataset")
def dataset_group():
    """Publish and inspect dataset versions."""


@dataset_group.command("publish")
@click.argument("project_id", type=int)
@click.option("--note", default="", help="shown on the dataset card")
@click.option("--seed", default=None, help="seed of the train/validation/test split (first publish: 42; "
              "later ones keep the project's splits)")
@click.option("--split", default=None, help="train,validation,test shares (first publish: 80,10,10)")
@click.option("--as", "as_email", help="act as this user (default: the first admin)")
def dataset_publish(project_id: int, note: str, seed: str | None, split: str | None, as_email: str | None):
    """Publish the accepted tasks as an immutable dataset version; prints its number last.

    Tasks released before keep their split; new ones are placed by the project's split rule."""
    from labeling import exports, publish_job

    user = acting_user(as_email)
    try:
        given = exports.parse_splits(seed=seed, split=split) if seed is not None or split is not None else None
        # the command is the operator's own process: it publishes here, whatever the project's size
        done = publish_job.request_publish(project_id, user, note=note, splits=given, background=False)
        version, created = done.version, done.created
    except DomainError as exc:
        domain_fail(exc)
    m = version.manifest
    if created:
        click.echo(f"published version {version.number} of project {project_id}: {version.n_items} items "
                   f"({', '.join(f'{k} {v}' for k, v in m['splits'].items())}), sha256 {version.sha256}")
    else:
        click.echo(f"nothing changed since version {version.number} (sha256 {version.sha256}); no new version")
    click.echo(version.number)


@dataset_group.command("resplit")
@click.argument("project_id", type=int)
@click.option("--seed", required=True, help="seed of the new train/validation/test split")
@click.option("--split", default="80,10,10", show_default=True, help="train,validation,test shares")
@click.option("--reason", default="", help="why (shown on the next dataset card)")
@click.option("--as", "as_email", help="act as this user (default: the first admin)")
def dataset_resplit(project_id: int, seed: str, split: str, reason: str, as_email: str | None):
    """Start a new split generation: the next version places every task again (items move)."""
    from labeling import exports, splits

    try:
        gen = splits.resplit(project_id, acting_user(as_email), splits=exports.parse_splits(seed=seed, split=split),
                             reason=reason)
    except DomainError as exc:
        domain_fail(exc)
    click.echo(f"split generation {gen.number} of project {project_id} started (seed {gen.seed}); "
               "the next published version places every task again")


@dataset_group.command("list")
@click.argument("project_id", type=int)
@click.option("--as", "as_email", help="act as this user (default: the first admin)")
def dataset_list(project_id: int, as_email: str | None):
    """List a project's dataset versions, newest first: number, published, items, splits, the
    share of its items flagged by QC and not reviewed since (the dataset page's figures), sha256, note."""
    from labeling import datasets

    try:
        versions = datasets.list_versions(project_id, acting_user(as_email))
    except DomainError as exc:
        domain_fail(exc)
    for v in versions:
        flagged = "n/a" if v.noise_rate is None else f"{v.noise_rate:.1%}"
        n = (v.manifest or {}).get("splits") or {}
        splits = " / ".join(f"{name} {n.get(name, 0)}" for name in ("train", "validation", "test"))
        click.echo(f"v{v.number}\t{v.created_at:%Y-%m-%d %H:%M}\t{v.n_items} items\t{splits}\t"
                   f"flagged, unreviewed {flagged}\t{v.sha256}\t{v.note}")


@dataset_group.command("diff")
@click.argument("project_id", type=int)
@click.argument("from_version")
@click.argument("to_version")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, writable=True),
              help="write every changed id to this CSV file (id,change,from,to)")
@click.option("--as", "as_email", help="act as this user (default: the first admin)")
def dataset_diff(project_id: int, from_version: str, to_version: str, csv_path: str | None, as_email: str | None):
    """What changed between two versions: added, removed, relabeled and moved tasks."""
    from labeling import datasets

    try:
        user = acting_user(as_email)
        d = datasets.diff(project_id, user, from_version, to_version, limit=10)
        if csv_path:
            _, lines = datasets.diff_csv(project_id, user, from_version, to_version)
            with open(csv_path, "w", encoding="utf-8", newline="") as fh:
                fh.writelines(lines)
    except DomainError as exc:
        domain_fail(exc)
    click.echo(f"v{d['from']} -> v{d['to']}: {d['added']} added, {d['removed']} removed, {d['relabeled']} "
               f"relabeled, {d['moved']} moved to another split, {d['data_changed']} with changed data, "
               f"{d['unchanged']} unchanged")
    for item in d["examples"]["relabeled"]:
        click.echo(f"  task {item['id']}: {item['from']} -> {item['to']}")


@click.command("pull", add_help_option=False, context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def pull_command(args: tuple[str, ...]):
    """Download a published dataset version from a labelfab server and verify its sha256."""
    from labelfab_client.cli import run  # labelfab-client's command (ARCHITECTURE.md, Clients)

    raise SystemExit(run(["pull", *args]))


@click.command("tasks")
@click.argument("action")
@click.option("--project", "project_id", type=int, required=True, help="the project")
@click.option("--query", "query", default="{}", show_default=True,
              help="Label Studio's Data Manager query (JSON: filters, ordering, selectedItems)")
@click.option("--view", "view_id", type=int, help="a saved Data Manager view selects the tasks instead")
@click.option("--reason", default="", help="why (kept in each task's event)")
@click.option("--more", type=int, default=1, show_default=True, help="reopen: how many more annotators")
@click.option("--as", "as_email", help="act as this user (default: the first admin)")
def tasks_command(action: str, project_id: int, query: str, view_id: int | None, reason: str, more: int,
                  as_email: str | None):
    """Run a Data Manager action on the tasks a query selects, as POST /api/dm/actions does:
    send_to_review, reopen, accept, exclude, include, mark_gold, unmark_gold, or Label Studio's
    delete_tasks, delete_tasks_annotations, delete_tasks_predictions. Prints the answer as JSON."""
    from labeling.dm import actions, filters, views

    user = acting_user(as_email)
    try:
        params = views.view_params(user, project_id, view_id) if view_id else filters.parse(query)
        answer = actions.perform(user, project_id, action, params, {"reason": reason, "more": more})
    except DomainError as exc:
        domain_fail(exc)
    click.echo(json.dumps(answer, ensure_ascii=False))


COMMANDS = [tasks_command, init_command, serve_command, worker_command, user_group, token_group, project_group, import_command, demo_command,
            export_command, dataset_group, pull_command, qc_group, review_group, policy_group]


def register_commands(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)


def _create_app() -> Flask:
    from web import create_app

    return create_app()


def main() -> None:
    """Console-script entry point. ``labelfab pull`` is the client's and runs without the app:
    loading it would create server files (``DATA_DIR/secret_key``) where a training job runs."""
    if sys.argv[1:2] == ["pull"]:
        from labelfab_client.cli import run

        raise SystemExit(run(sys.argv[1:]))
    group = FlaskGroup(create_app=_create_app, add_default_commands=False, add_version_option=False,
                       load_dotenv=False, set_debug_flag=False,
                       help="labelfab: data labeling with quality control built in.")
    # Flask's own options (--env-file, --app, --debug) load another app or a dotenv file: not labelfab's
    group.params = [p for p in group.params if p.name not in ("env_file", "app", "debug")]
    try:
        group.main(prog_name="labelfab")
    except SettingsError as exc:
        fail(str(exc))
    except sa.exc.DBAPIError:  # a command run before `labelfab init`: one line, not a traceback
        from labeling import migrate
        from labeling.settings import get_settings

        try:
            ready = migrate.initialised()
        except sa.exc.DBAPIError:  # the database cannot be reached at all: its own error says so
            ready = True
        if ready:
            raise
        url = sa.engine.make_url(get_settings().sqlalchemy_url).render_as_string(hide_password=True)
        fail(f"the database {url} is not set up: run 'labelfab init' first (LABELFAB_DATA_DIR or "
             f"LABELFAB_DATABASE_URL names another one?)")


if __name__ == "__main__":
    main()
