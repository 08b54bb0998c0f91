"""Dataset versions: immutable, content-hashed releases of a project's clean export.

:func:`publish` (the lead's button, ``POST /api/projects/ID/datasets``, ``labelfab dataset
publish``) reads the accepted tasks with their final labels in one consistent read
(:mod:`labeling.exports`), with deterministic stratified train/validation/test splits from a
seed, and writes, under ``DATA_DIR/datasets/<project>/<number>/``:

- ``dataset.jsonl``: one line per task, ``id``, ``data``, ``label``, ``label_source``,
  ``split``, in id order, JSON with sorted keys. **Its sha256 is the version's sha256**: the
  same content (tasks, data, labels, splits) gives the same hash, whoever publishes it, when;
- ``dataset.parquet``, ``dataset.csv``, ``dataset.json`` (Label Studio JSON), and where the
  labels fit, ``dataset-coco.zip``, ``dataset-yolo.zip``, ``dataset-voc.zip`` or
  ``dataset.conll`` (``label_studio_sdk.converter``);
- ``media.zip`` for projects with images: ``images/<sha256>.<ext>``, the paths the data use;
- ``README.md``, the dataset card, and ``manifest.json``: the files and their hashes, counts
  per label and per split, the label schema, the QC summary (the latest quality run's noise
  estimate for what is released, items reviewed, excluded), who published it, when, the note.

A version never changes: its files are written once (to a staging folder, then moved in place,
read-only; each file and folder fsync'd before the commit that records the version, see
:mod:`labeling.staging`) and the row is never updated. Publishing content identical to the latest version
returns that version instead of a copy. :func:`diff` compares two versions (added, removed,
relabeled tasks) by merging their ``dataset.jsonl`` files, which are in id order.

Pulling (:func:`list_versions`, :func:`get_version`, :func:`version_file`) is the ``pull``
action: admins and leads, or any user who can view the project through a read-only token.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import shutil
import stat
import tempfile
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from labeling import splits as placing
from labeling import staging as staging_files
from labeling import webhooks
from labeling.access import require_project
from labeling.canonical import dumps
from labeling.dataset_card import card_markdown
from labeling.db import read_session, utcnow, write_session
from labeling.errors import Conflict, Invalid, NotFound
from labeling.exports.converter import run_converter
from labeling.exports.options import SPLIT_NAMES, Filters, Splits
from labeling.exports.selection import Batch, DataMap, Stats, state_counts
from labeling.exports.service import start
from labeling.exports.writers import (
    EXPORT_FORMATS,
    CsvWriter,
    JsonlWriter,
    LsJsonWriter,
    ParquetWriter,
    file_chunks,
    fits,
    media_entries,
    write_batches,
    zip_stream,
)
from labeling.limits import bounded_int
from labeling.ml import on_publish
from labeling.models import (
    DatasetVersion,
    LabelIssue,
    Project,
    QualityRun,
    ReviewDecision,
    Task,
    TaskState,
    TokenScope,
    User,
)
from labeling.schema import LabelSchema, schema_of
from labeling.settings import get_settings
from labeling.spreadsheet import csv_cell

__all__ = [
    "VERSION_FORMATS",
    "VersionFile",
    "diff",
    "diff_csv",
    "get_version",
    "list_versions",
    "publish",
    "version_file",
    "version_view",
]

#: Download formats of a version -> (file name, media type, what it is).
VERSION_FORMATS: dict[str, tuple[str, str, str]] = {
    "jsonl": ("dataset.jsonl", "application/x-ndjson", "JSON Lines: id, data, label, label_source, split"),
    "parquet": ("dataset.parquet", "application/vnd.apache.parquet", "Parquet: the same columns"),
    "csv": ("dataset.csv", "text/csv", "CSV: id, data fields, one column per control, label_source, split "
            "(text a spreadsheet would run as a formula starts with ')"),
    "json": ("dataset.json", "application/json", "Label Studio JSON, the final label as the annotation"),
    "coco": ("dataset-coco.zip", "application/zip", "COCO (label_studio_sdk.converter)"),
    "yolo": ("dataset-yolo.zip", "application/zip", "YOLO (label_studio_sdk.converter)"),
    "voc": ("dataset-voc.zip", "application/zip", "Pascal VOC (label_studio_sdk.converter)"),
    "conll2003": ("dataset.conll", "text/plain", "CoNLL 2003 (label_studio_sdk.converter)"),
    "media": ("media.zip", "application/zip", "the images, as images/<sha256>.<ext>"),
    "card": ("README.md", "text/markdown", "the dataset card"),
}
_CONVERTED = {"coco": "COCO", "yolo": "YOLO", "voc": "VOC", "conll2003": "CONLL2003"}
_READ_ONLY = stat.S_IRUSR  # the data directory is this user's alone (settings.ensure_data_dir)


def datasets_root(project_id: int) -> Path:
    return get_settings().shared_root / "datasets" / str(project_id)


def clean_staging() -> list[Path]:
    """Remove the staging folders of publishes that crashed (at a process's start; the rule is
    :mod:`labeling.staging`'s: never a publish still running); returns them."""
    return staging_files.clean(get_settings().shared_root / "datasets")


# --------------------------------------------------------------------------- QC summary


def _member(ids: array, value: int) -> bool:
    i = bisect.bisect_left(ids, value)
    return i < len(ids) and ids[i] == value


def qc_summary(project_id: int, released: array, *, states: tuple[str, ...] = (TaskState.accepted.value,)
               ) -> dict[str, Any]:
    """How clean the released tasks are.

    Parameters
    ----------
    project_id : int
    released : array of int
        The released task ids, sorted.
    states : tuple of str
        The states released tasks were taken from.

    Returns
    -------
    dict
        ``quality_run``: the latest finished QC run (its id, date, model and noise rate over
        everything it scored), or None; ``estimated_noise_rate``: the share of released tasks
        that run flagged as probably mislabeled and that no reviewer has decided on since (None
        without a run); ``flagged_released`` and ``flagged_resolved``; ``items_reviewed``:
        released tasks with a review decision; ``excluded``: the excluded tasks, and
        ``excluded_by_review`` those of them a review decision (a reviewer's, or a lead's
        audit) left excluded, the others a lead excluded; ``gold_left_out``; ``not_released``:
        the tasks of other states, per state.
    """
    n = len(released)
    with read_session() as s:
        run = s.exec(select(QualityRun).where(QualityRun.project_id == project_id, QualityRun.status == "done")
                     .order_by(QualityRun.created_at.desc(), QualityRun.id.desc()).limit(1)).first()
        decisions = s.execute(sa.select(ReviewDecision.task_id, ReviewDecision.created_at)
                              .where(ReviewDecision.project_id == project_id,
                                     ReviewDecision.undone_at.is_(None))).all()
        # excluded tasks whose latest standing review decision left them excluded
        latest = (sa.select(ReviewDecision.task_id, sa.func.max(ReviewDecision.id).label("id"))
                  .where(ReviewDecision.project_id == project_id, ReviewDecision.undone_at.is_(None))
                  .group_by(ReviewDecision.task_id).subquery())
        after = s.execute(
            sa.select(ReviewDecision.after).join(latest, latest.c.id == ReviewDecision.id)
            .join(Task, Task.id == ReviewDecision.task_id)
            .where(Task.state == TaskState.excluded)).scalars()
        excluded_by_review = sum(1 for a in after if isinstance(a, dict) and a.get("state") == TaskState.excluded.value)
        gold = s.execute(sa.select(sa.func.count()).select_from(Task)
                         .where(Task.project_id == project_id, Task.is_gold == sa.true())).scalar_one()
        flagged: list[int] = []
        if run is not None:
            flagged = list(s.execute(sa.select(LabelIssue.task_id).where(
                LabelIssue.run_id == run.id, LabelIssue.is_issue == sa.true(),
                LabelIssue.kind == "label")).scalars())
    counts = state_counts(project_id)
    reviewed = {tid for tid, _ in decisions if _member(released, tid)}
    out: dict[str, Any] = {
        "quality_run": None,
        "estimated_noise_rate": None,
        "flagged_released": 0,
        "flagged_resolved": 0,
        "items_reviewed": len(reviewed),
        "excluded": counts.get(TaskState.excluded.value, 0),
        "excluded_by_review": excluded_by_review,
        "gold_left_out": gold,
        "not_released": {k: v for k, v in sorted(counts.items()) if k not in states and v},
    }
    if run is not None:
        since = run.created_at
        decided_after = {tid for tid, when in decisions if when is not None and when >= since}
        flagged_released = {tid for tid in flagged if _member(released, tid)}
        unresolved = flagged_released - decided_after
        out.update({
            "quality_run": {"id": run.id, "created_at": run.created_at.isoformat(), "model": run.model_name,
                            "n_items": run.n_items, "n_issues": run.n_issues, "noise_rate": run.noise_rate,
                            "cv_accuracy": run.cv_accuracy},
            "estimated_noise_rate": round(len(unresolved) / n, 6) if n else None,
            "flagged_released": len(flagged_released),
            "flagged_resolved": len(flagged_released) - len(unresolved),
        })
    return out


# --------------------------------------------------------------------------- publish


class _Hashing:
    """A file being written, with its sha256 and size."""

    def __init__(self, path: Path):
        self.path = path
        self.fh = open(path, "wb")  # noqa: SIM115
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        if chunk:
            self.fh.write(chunk)
            self.sha.update(chunk)
            self.size += len(chunk)

    def close(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    for chunk in file_chunks(path):
        h.update(chunk)
    return h.hexdigest()


def _write_stream(path: Path, chunks: Iterable[bytes]) -> None:
    out = _Hashing(path)
    try:
        for chunk in chunks:
            out.write(chunk)
    finally:
        out.close()


def _collect_ids(batches: Iterator[Batch], ids: array,
                 progress: Callable[[int, str], None] | None = None) -> Iterator[Batch]:
    for batch in batches:
        ids.extend(batch.id)
        if progress is not None:
            progress(len(ids), f"wrote {len(ids)} items")
        yield batch


def _placed(batches: Iterator[Batch], place: placing.Placement, labeler, stats: Stats) -> Iterator[Batch]:
    """The batches with each task's split from ``place`` (stored, or placed now), counted in ``stats``."""
    counts, cache = stats.counts, labeler.cache
    for batch in batches:
        out = []
        for tid, result, source in zip(batch.id, batch.result, batch.source, strict=True):
            labels = cache.get(result) or labeler(result)
            code = place(tid, labels[4])
            key = (labels[3], code, source)
            counts[key] = counts.get(key, 0) + 1
            out.append(SPLIT_NAMES[code])
        batch.split = out
        yield batch


def _file_entry(staging: Path, fmt: str) -> dict[str, Any]:
    name, media_type, _ = VERSION_FORMATS[fmt]
    path = staging / name
    return {"name": name, "format": fmt, "media_type": media_type, "size": path.stat().st_size,
            "sha256": _sha256_file(path)}


def _build(project: Project, schema: LabelSchema, staging: Path, *, filters: Filters,
           place: placing.Placement, progress: Callable[[int, str], None] | None = None
           ) -> tuple[str, dict[str, Any], array, list[dict]]:
    """Write the data files into ``staging``; returns (content sha256, stats, released ids, files).
    Each task's split comes from ``place`` (ARCHITECTURE.md, Datasets)."""
    has_images = any(o.tag == "Image" for o in schema.objects.values())
    canon = DataMap(schema, media="files" if has_images else "urls", canonical=True)
    converted = [fmt for fmt, name in _CONVERTED.items() if fits(EXPORT_FORMATS[name], schema)]
    selection, batches = start(project, canon, filters=filters, splits=place.splits, with_meta=True)
    counted = Stats()
    batches = _placed(batches, place, selection.labeler, counted)
    ids = array("q")
    try:
        writers = {"jsonl": JsonlWriter(schema), "parquet": ParquetWriter(schema), "csv": CsvWriter(schema),
                   "json": LsJsonWriter(schema)}
        outputs = {fmt: _Hashing(staging / VERSION_FORMATS[fmt][0]) for fmt in writers}
        tmp = Path(tempfile.mkdtemp(prefix="labelfab-publish-"))
        if converted:
            local = DataMap(schema, media="local")
            selection.bind(local)  # images of other projects are not handed to the converter
            writers["converter"] = LsJsonWriter(schema, local)
            outputs["converter"] = _Hashing(tmp / "tasks.json")
        try:
            order = list(writers)
            for parts in write_batches(_collect_ids(batches, ids, progress), [writers[k] for k in order]):
                for key, chunk in zip(order, parts, strict=True):
                    outputs[key].write(chunk)
        finally:
            for out in outputs.values():
                out.close()
        counted.unlabeled = selection.stats.unlabeled
        stats = counted.as_dict()
        stats["media_skipped"] = sorted(canon.skipped)  # named in task data, not the project's: not packed
        content = outputs["jsonl"].sha.hexdigest()
        for fmt in converted:
            out_dir = tmp / fmt
            made = run_converter(EXPORT_FORMATS[_CONVERTED[fmt]], project.label_config, tmp / "tasks.json",
                                 out_dir, media="relative", base_url="", project_id=project.id)
            target = staging / VERSION_FORMATS[fmt][0]
            if fmt == "conll2003":
                shutil.copyfile(out_dir / "result.conll", target)
                staging_files.sync_file(target)
            else:
                _write_stream(target, zip_stream((name, file_chunks(path), True) for name, path in made))
        shutil.rmtree(tmp, ignore_errors=True)
        if canon.used:
            _write_stream(staging / "media.zip", zip_stream(media_entries(canon.used)))
    finally:
        selection.close()
    fmts = [*writers.keys() - {"converter"}, *converted, *(["media"] if canon.used else [])]
    order = [f for f in VERSION_FORMATS if f in fmts]
    files = [_file_entry(staging, fmt) for fmt in order]
    return content, stats, ids, files


def publish(project_id: int, user: User, *, note: str = "", splits: Splits | None = None,
            filters: Filters | None = None, on_write: Callable[[Any, DatasetVersion, bool], None] | None = None,
            progress: Callable[[int, str], None] | None = None) -> tuple[DatasetVersion, bool]:
    """Publish the project's accepted tasks as a new immutable dataset version.

    Parameters
    ----------
    project_id : int
    user : User
        Needs the ``export`` right (admins and the project's leads).
    note : str
        Shown on the dataset card.
    splits : Splits, optional
        Seed and train/validation/test shares of the project's first split generation (default:
        seed 42, 80/10/10). Tasks released before keep their split; later, only the same seed and
        shares are accepted (other ones need :func:`labeling.splits.resplit`).
    filters : Filters, optional
        Which tasks (default: accepted, gold never).
    on_write : callable, optional
        ``on_write(session, version, created)``, called in the transaction that writes the
        version (or finds the latest one equal): the publish job ends itself there.
    progress : callable, optional
        ``progress(items_written, message)``, called as each batch of items is written to the
        version's files (the publish job's progress).

    Returns
    -------
    (DatasetVersion, bool)
        The version, and False when the content equals the latest version's (which is
        returned, nothing new is written).

    Raises
    ------
    NotFound, Forbidden
        No such project, or no right to publish.
    Conflict
        No accepted task with a label; splits that differ from the current split generation;
        a re-split or another publish while this one was being built.
    Invalid
        A note longer than 10,000 characters.
    """
    note = (note or "").strip()
    if len(note) > 10_000:
        raise Invalid("the note is longer than 10,000 characters", [{"row": None, "field": "note",
                                                                      "detail": "too long"}])
    with read_session() as s:
        project = require_project(s, user, project_id, "export")
    schema = schema_of(project)
    filters = filters or Filters()
    if filters.gold:  # a gold answer is a test of annotators, never a training item
        raise Invalid("a dataset version never holds gold tasks", [{"row": None, "field": "gold",
                                                                    "detail": "not in a dataset version"}])
    with read_session() as s:
        place = placing.placement(s, project_id, splits)
    root = datasets_root(project_id)
    staging = staging_files.make(root)  # named after this process: clean_staging spares it while it runs
    final: Path | None = None
    try:
        content, stats, ids, files = _build(project, schema, staging, filters=filters, place=place,
                                            progress=progress)
        qc = qc_summary(project_id, ids, states=filters.states)
        now = utcnow()
        with write_session() as s:
            locked = s.exec(select(Project).where(Project.id == project_id).with_for_update()).first()
            if locked is None:
                raise NotFound(f"project {project_id} not found")
            latest = s.exec(select(DatasetVersion).where(DatasetVersion.project_id == project_id)
                            .order_by(DatasetVersion.number.desc()).limit(1)).first()
            if latest is not None and latest.sha256 == content:
                if on_write is not None:
                    on_write(s, latest, False)
                return latest, False
            number = (latest.number if latest else 0) + 1
            placing.store(s, project_id, place, version=number, user=user, now=now)
            split = _split_entry(s, project_id, place)
            manifest = _manifest(project, schema, number=number, content=content, stats=stats, qc=qc,
                                 files=files, user=user, when=now, note=note, filters=filters, split=split)
            card = card_markdown(manifest)
            staging_files.write_text(staging / "README.md", card)
            manifest["files"].append(_file_entry(staging, "card"))
            staging_files.write_text(staging / "manifest.json",
                                     json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
            final = root / str(number)
            if final.exists():  # left by a publish that crashed before its commit
                shutil.rmtree(final)
            for path in staging.iterdir():
                path.chmod(_READ_ONLY)
            os.replace(staging, final)
            # every file was fsync'd when written; now the names, before the commit records them
            for folder in (final, root, root.parent):
                staging_files.sync_dir(folder)
            version = DatasetVersion(project_id=project_id, number=number, sha256=content, note=note,
                                     manifest=manifest, n_items=stats["n_items"],
                                     noise_rate=qc["estimated_noise_rate"],
                                     path=str(Path("datasets") / str(project_id) / str(number)),
                                     created_by=user.id, created_at=now)
            s.add(version)
            s.flush()
            # the project's ML backends are told to train
            on_publish(s, project_id, number, content)
            webhooks.emit(s, "DATASET_PUBLISHED", project_id, lambda: {"dataset_version": {
                "id": version.id, "number": number, "sha256": content, "n_items": version.n_items,
                "noise_rate": version.noise_rate, "note": note, "created_by": user.id, "created_at": now.isoformat(),
                "download_url": webhooks.download_url(project_id, number),
                "files": [{"format": f["format"], "name": f["name"], "size": f["size"], "sha256": f["sha256"],
                           "download_url": f"{webhooks.download_url(project_id, number)}?format={f['format']}"}
                          for f in manifest["files"]]}})
            if on_write is not None:
                on_write(s, version, True)
        final = None
        return version, True
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if final is not None and final.exists():  # the commit failed: no half-published version
            shutil.rmtree(final, ignore_errors=True)


def _split_entry(s, project_id: int, place: placing.Placement) -> dict[str, Any]:
    """The manifest's ``split``: the generation (seed, shares, who started it, when, why) and
    how many released tasks kept their split and how many were placed by this version."""
    gen = placing.current_generation(s, project_id)
    who = s.get(User, gen.created_by) if gen is not None and gen.created_by is not None else None
    view = placing.generation_view(gen, email=who.email if who else None) or {}
    return {"seed": place.splits.seed, "ratios": dict(zip(SPLIT_NAMES, place.splits.ratios, strict=True)),
            "method": "stratified by label when first released, blocks shuffled by the seed; kept in later "
                      "versions", **{k: v for k, v in view.items() if k not in ("seed", "ratios")},
            "kept": place.kept, "placed": place.placed}


def _manifest(project: Project, schema: LabelSchema, *, number: int, content: str, stats: dict,
              qc: dict, files: list[dict], user: User, when: datetime, note: str, filters: Filters,
              split: dict) -> dict[str, Any]:
    primary = schema.primary_control
    return {
        "format_version": 1,
        "project": {"id": project.id, "title": project.title},
        "version": number,
        "sha256": content,
        "sha256_of": "dataset.jsonl",
        "published_by": {"id": user.id, "email": user.email},
        "published_at": when.isoformat(),
        "note": note,
        "n_items": stats["n_items"],
        "splits": stats["splits"],
        "split": split,
        "label_counts": stats["labels"],
        "label_split_counts": stats["label_splits"],
        "label_sources": stats["label_sources"],
        "unlabeled_left_out": stats["unlabeled_left_out"],
        "media_skipped": stats.get("media_skipped", []),
        "label_schema": {"kind": schema.kind, "control": primary.name, "labels": list(primary.labels),
                         "data_keys": sorted(schema.data_keys), "label_config": project.label_config},
        "filters": filters.as_dict(),
        "qc": qc,
        "files": files,
    }


# --------------------------------------------------------------------------- reading


def _pull_project(s, user: User, project_id: int, scope: str) -> Project:
    return require_project(s, user, project_id, "pull", scope=scope)


def _number(version: str | int) -> int | None:
    """A version number, or None for ``latest``."""
    if isinstance(version, int):
        return bounded_int(str(version), "version", minimum=0)
    text = str(version).strip().lower()
    if text in ("latest", ""):
        return None
    if text.startswith("v"):
        text = text[1:]
    if not (text.isascii() and text.isdigit()):
        raise Invalid(f"a version is a number or 'latest', got {str(version)[:40]!r}",
                      [{"row": None, "field": "version", "detail": "not a version number"}])
    return bounded_int(text, "version", minimum=0)


def list_versions(project_id: int, user: User, *, scope: str = TokenScope.full) -> list[DatasetVersion]:
    """The project's dataset versions, newest first."""
    with read_session() as s:
        _pull_project(s, user, project_id, scope)
        return list(s.exec(select(DatasetVersion).where(DatasetVersion.project_id == project_id)
                           .order_by(DatasetVersion.number.desc())))


def get_version(project_id: int, user: User, version: str | int, *, scope: str = TokenScope.full) -> DatasetVersion:
    """One version (``latest`` for the newest).

    Raises
    ------
    NotFound
        No such project or version (the message lists the versions there are).
    Invalid
        A version that is neither a number nor ``latest``.
    """
    number = _number(version)
    with read_session() as s:
        _pull_project(s, user, project_id, scope)
        q = select(DatasetVersion).where(DatasetVersion.project_id == project_id)
        q = q.where(DatasetVersion.number == number) if number is not None else \
            q.order_by(DatasetVersion.number.desc()).limit(1)
        found = s.exec(q).first()
        if found is None:
            numbers = list(s.exec(select(DatasetVersion.number).where(DatasetVersion.project_id == project_id)
                                  .order_by(DatasetVersion.number)))
            have = f"versions are {', '.join(map(str, numbers))}" if numbers else "none is published yet"
            what = f"version {number}" if number is not None else "published version"  # never "no any version"
            raise NotFound(f"project {project_id} has no {what}; {have}",
                           [{"row": None, "field": "version", "detail": f"no {what}"}])
        return found


@dataclass(frozen=True)
class VersionFile:
    """A stored file of a version, to send."""

    path: Path
    name: str
    download_name: str
    media_type: str
    sha256: str
    size: int


def version_file(project_id: int, user: User, version: str | int, fmt: str | None, *,
                 scope: str = TokenScope.full) -> VersionFile:
    """The stored file of a version in format ``fmt`` (``jsonl`` by default).

    Raises
    ------
    Invalid
        A format the version does not have (the message lists those it has).
    NotFound
        No such project or version.
    Conflict
        The stored file is missing or its size differs from the manifest.
    """
    v = get_version(project_id, user, version, scope=scope)
    key = (fmt or "jsonl").strip().lower().replace("-", "_")
    key = {"json_lines": "jsonl", "readme": "card", "images": "media", "conll": "conll2003"}.get(key, key)
    files = {f["format"]: f for f in v.manifest.get("files", [])}
    if key not in files:
        raise Invalid(f"version {v.number} has no {fmt!r} file; formats: {', '.join(files)}",
                      [{"row": None, "field": "format", "detail": f"one of {', '.join(files)}"}])
    entry = files[key]
    path = get_settings().shared_root / v.path / entry["name"]
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = -1
    if size != entry["size"]:
        raise Conflict(f"the stored file {entry['name']} of version {v.number} is missing or damaged "
                       f"(size {size}, manifest says {entry['size']}); publish a new version")
    download = f"project-{project_id}-v{v.number}-{entry['name']}"
    return VersionFile(path=path, name=entry["name"], download_name=download, media_type=entry["media_type"],
                       sha256=entry["sha256"], size=size)


def version_view(v: DatasetVersion) -> dict[str, Any]:
    """A version for the API list: number, hash, counts, QC, who, when (the manifest is separate)."""
    m = v.manifest or {}
    return {"version": v.number, "sha256": v.sha256, "n_items": v.n_items, "noise_rate": v.noise_rate,
            "note": v.note, "created_at": v.created_at.isoformat(), "created_by": m.get("published_by"),
            "splits": m.get("splits"), "label_counts": m.get("label_counts"),
            "formats": [f["format"] for f in m.get("files", [])]}


# --------------------------------------------------------------------------- diff


def _lines(path: Path) -> Iterator[tuple[int, str, str, str]]:
    """(id, label JSON, data JSON, split) per line of a dataset.jsonl."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                yield row["id"], dumps(row.get("label")), dumps(row.get("data")), row.get("split")


def _changes(path_a: Path, path_b: Path) -> Iterator[tuple[str, int, Any, Any]]:
    """(change, id, from, to) for every task of two ``dataset.jsonl`` files (in id order), merged:
    change is ``added``, ``removed``, ``unchanged``, or one row each of ``relabeled`` (from/to
    the labels), ``moved`` (from/to the splits) and ``data_changed`` for a task in both."""
    left, right = _lines(path_a), _lines(path_b)
    x, y = next(left, None), next(right, None)
    while x is not None or y is not None:
        if y is None or (x is not None and x[0] < y[0]):
            yield "removed", x[0], x[3], None
            x = next(left, None)
        elif x is None or y[0] < x[0]:
            yield "added", y[0], None, y[3]
            y = next(right, None)
        else:
            same = True
            if x[1] != y[1]:
                same = False
                yield "relabeled", x[0], json.loads(x[1]), json.loads(y[1])
            elif x[2] != y[2]:
                same = False
                yield "data_changed", x[0], None, None
            if x[3] != y[3]:
                same = False
                yield "moved", x[0], x[3], y[3]
            if same:
                yield "unchanged", x[0], None, None
            x, y = next(left, None), next(right, None)


def _diff_paths(project_id: int, user: User, a: str | int, b: str | int, scope: str
                ) -> tuple[DatasetVersion, DatasetVersion, Path, Path]:
    va = get_version(project_id, user, a, scope=scope)
    vb = get_version(project_id, user, b, scope=scope)
    root = get_settings().shared_root
    return va, vb, root / va.path / "dataset.jsonl", root / vb.path / "dataset.jsonl"


def diff(project_id: int, user: User, a: str | int, b: str | int, *, scope: str = TokenScope.full,
         limit: int = 100) -> dict[str, Any]:
    """What changed from version ``a`` to version ``b``.

    Returns
    -------
    dict
        ``added``, ``removed``, ``relabeled``, ``moved``, ``data_changed``, ``unchanged``
        counts, and up to ``limit`` examples of each change (``relabeled`` as ``{"id", "from",
        "to"}`` labels, ``moved`` as ``{"id", "from", "to"}`` splits). ``moved`` (also given as
        ``split_changed``) is 0 unless a lead re-split between the two versions; every id is in
        :func:`diff_csv`.
    """
    va, vb, pa, pb = _diff_paths(project_id, user, a, b, scope)
    counts = dict.fromkeys(("added", "removed", "relabeled", "moved", "data_changed", "unchanged"), 0)
    examples: dict[str, list] = {"added": [], "removed": [], "relabeled": [], "moved": [], "data_changed": []}
    for kind, tid, old, new in _changes(pa, pb):
        counts[kind] += 1
        if kind != "unchanged" and len(examples[kind]) < limit:
            examples[kind].append({"id": tid, "from": old, "to": new} if kind in ("relabeled", "moved") else tid)
    return {"project": project_id, "from": va.number, "to": vb.number, "from_sha256": va.sha256,
            "to_sha256": vb.sha256, **counts, "split_changed": counts["moved"], "examples": examples}


def diff_csv(project_id: int, user: User, a: str | int, b: str | int, *, scope: str = TokenScope.full
             ) -> tuple[str, Iterator[str]]:
    """Every changed task of :func:`diff`, as CSV lines ``id,change,from,to`` (labels as JSON
    text, splits by name); returns (file name, lines). Unchanged tasks are left out."""
    va, vb, pa, pb = _diff_paths(project_id, user, a, b, scope)

    def cell(value: Any) -> str:
        text = csv_cell("" if value is None else value if isinstance(value, str) else dumps(value))
        return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n\r') else text

    def lines() -> Iterator[str]:
        yield "id,change,from,to\n"
        for kind, tid, old, new in _changes(pa, pb):
            if kind != "unchanged":
                yield f"{tid},{kind},{cell(old)},{cell(new)}\n"

    return f"project-{project_id}-v{va.number}-v{vb.number}-diff.csv", lines()
