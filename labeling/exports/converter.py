"""The formats made by ``label_studio_sdk.converter``: COCO, YOLO, Pascal VOC, CONLL2003.

Label Studio JSON (image fields as local paths of the media store) is written to a temporary
folder, converted there by the SDK's ``Converter``, and the files it made are listed as zip
entries, followed by the images (media as files) or an ``images.txt`` of their URLs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from labeling.errors import Invalid
from labeling.exports.selection import Batch, DataMap, Selection
from labeling.exports.writers import (
    ExportFormat,
    LsJsonWriter,
    file_chunks,
    media_entries,
    skipped_entries,
    write_batches,
)
from labeling.media import public_url
from labeling.mediastore import get_store
from labeling.models import Project
from labeling.schema import schema_of

__all__ = ["check_converter_config", "converted_entries", "run_converter"]


def check_converter_config(fmt: ExportFormat, label_config: str) -> None:
    """Refuse, before anything is written, what label_studio_sdk's converter would fail on: COCO
    and YOLO of key points need each ``<KeyPointLabels>`` label's ``model_index`` (the order of
    the points in COCO's keypoint list), as in Label Studio.

    Raises
    ------
    Invalid
    """
    from label_studio_sdk.converter.keypoints import build_kp_order, keypoints_in_label_config
    from label_studio_sdk.converter.utils import parse_config

    if fmt.name not in ("COCO", "YOLO"):
        return
    parsed = parse_config(label_config)
    if keypoints_in_label_config(parsed) and not build_kp_order(parsed):
        raise Invalid(f"{fmt.name} of key points needs model_index on every <Label> of <KeyPointLabels> "
                      '(their order in the keypoint list, as Label Studio asks: <Label value="nose" '
                      'model_index="0"/>)', [{"row": None, "field": "exportType", "detail": "no key point order"}])


def run_converter(fmt: ExportFormat, label_config: str, ls_json: Path, out_dir: Path, *,
                  media: str, base_url: str, project_id: int) -> list[tuple[str, Path]]:
    """Convert a Label Studio JSON file (image fields: local paths) with label_studio_sdk.converter.

    Parameters
    ----------
    media : {"urls", "files", "relative"}
        How the COCO image file names end up: ``images/<name>`` for files and relative, the
        image URL for urls.

    Returns
    -------
    list of (str, Path)
        The files made, as (name in an archive, path), images left out.
    """
    from label_studio_sdk.converter import Converter

    out_dir.mkdir(parents=True, exist_ok=True)
    converter = Converter(config=label_config, project_dir=str(out_dir), download_resources=False)
    converter.convert(str(ls_json), str(out_dir), fmt.name, is_dir=False,
                      image_dir=str(out_dir / "images"), label_dir=str(out_dir / "labels"))
    media_root = str(get_store().local_root)
    if fmt.name == "COCO":
        result = out_dir / "result.json"
        coco = json.loads(result.read_text(encoding="utf-8"))
        for image in coco.get("images", []):
            name = image.get("file_name")
            if isinstance(name, str) and name.startswith(media_root):
                name = Path(name).name
                image["file_name"] = public_url(project_id, name, base_url) if media == "urls" else f"images/{name}"
        coco.get("info", {}).update({"contributor": "labelfab", "date_created": "", "year": 0})
        result.write_text(json.dumps(coco, indent=1, ensure_ascii=False), encoding="utf-8")
    notes = out_dir / "notes.json"
    if notes.exists():  # YOLO: no dates, so that the same content gives the same bytes
        body = json.loads(notes.read_text(encoding="utf-8"))
        body.get("info", {}).update({"contributor": "labelfab", "year": 0})
        notes.write_text(json.dumps(body, indent=1), encoding="utf-8")
    files = [(p.relative_to(out_dir).as_posix(), p) for p in sorted(out_dir.rglob("*")) if p.is_file()]
    return [(name, path) for name, path in files if not name.startswith("images/")]


def converted_entries(fmt: ExportFormat, project: Project, batches: Iterable[Batch], tmp: Path, *,
                      media: str, base_url: str, selection: Selection,
                      skipped: dict[str, tuple[str, str]] | None = None) -> Iterator[tuple[str, Iterable[bytes], bool]]:
    """The zip entries of a converter format: Label Studio JSON (with local image paths) is
    written to ``tmp``, converted, and its files listed; then the images (media as files) or an
    ``images.txt`` of image names and URLs (media as urls). Images named in task data that are
    not the project's are neither given to the converter nor packed: they are added to
    ``skipped`` and, media as files, listed in ``media-skipped.txt``."""
    schema = schema_of(project)
    local = DataMap(schema, media="local")
    selection.bind(local)
    ls_json = tmp / "tasks.json"
    with open(ls_json, "wb") as fh:
        for parts in write_batches(batches, [LsJsonWriter(schema, local)]):
            fh.write(parts[0])
    files = run_converter(fmt, project.label_config, ls_json, tmp / "out", media=media, base_url=base_url,
                          project_id=project.id)
    for name, path in files:
        yield name, file_chunks(path), True
    if skipped is not None:
        skipped.update(local.skipped)
    if media == "files":
        yield from media_entries(local.used)
        yield from skipped_entries(local.skipped)
    elif media == "urls" and local.used:
        listing = "".join(f"{name}\t{public_url(project.id, name, base_url)}\n" for name in sorted(local.used))
        yield "images.txt", [listing.encode()], True
