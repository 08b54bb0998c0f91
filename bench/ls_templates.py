"""Label Studio's own templates, measured: how many labelfab accepts, and whether a result of
each comes back from the export exactly as stored; prints one JSON line of figures last.

The 69 templates of Label Studio 1.23.2 are the ``annotation_templates/`` folder of the
``label-studio`` package (``../shared/peers/label-studio.sh`` installs it in
``$HOME/.cache/label-studio-peer/venv``; ``--templates DIR`` names another copy). Each folder
holds a ``config.yml`` with ``title``, ``type``/``group`` (the category) and ``config`` (the
XML). labelfab itself does not need Label Studio installed: the templates are read as files.

For every template, in a fresh labelfab (SQLite in a temporary DATA_DIR, the domain functions
the pages and the REST API call):

1. ``accepted``: the project is created from the XML unchanged (else the first refusal).
2. ``task``: a task is imported, made as Label Studio makes a template's sample task
   (``LabelInterface.get_task_from_labeling_config``: a ``<!-- {...} -->`` comment of the
   config; labelfab also takes the first task of a ``<!-- [...] -->`` list), with the fields
   still missing filled by the SDK's ``generate_sample_task`` (Label Studio's example values).
3. ``round_trip``: a Label Studio-shaped result with one item per control the template has (a
   choice, a span of the text, a box, a text, a rating, a number, a date) is submitted, and the
   project's Label Studio JSON export must give it back identical.
4. ``annotated``: annotated in the browser with the keyboard. A template is annotated when each
   tag family it uses (its control tags, relations, per-region controls, multi-page images,
   conditional display, tables: :data:`FAMILY_TESTS`) has browser tests that drive that family
   with the keyboard (and the mouse where a shape is drawn) and they pass, and, for a template
   with an image, its own run of ``tests/browser/test_annotate_image_templates.py`` (the
   template in the preview, a region drawn with each tool) passes. ``--browser`` runs those
   browser tests (pytest, Playwright and Chromium, the test database of the tests) and reads
   their JUnit report; ``--browser-report FILE`` reads a report of an earlier run; without
   either the column is not measured (null). Label Studio's editor is not driven here: its
   ``ls_annotated`` is not measured.

All 69 are in scope (:data:`OUT_OF_SCOPE_TAGS` is empty; a tag named there puts its templates
apart). An audio template gets a segment of its ``<Labels>`` (0.5 s to 1.75 s, channel 0, with the
``original_length`` of Label Studio's sample recording) and one answer of each per-region control
on it; a PDF one an ``OcrLabels`` region on its first page (``pageIndex`` 0, its ``ocrtext``). A chat gets messages added
as Label Studio's editor stores them (``chatmessage`` items, user and assistant in turn, as many as
``minMessages`` asks), and its per-message controls answer the added messages of their roles; a
video gets a track of two keyframes and a timeline span of frames 3 to 12. With Label Studio's venv present (``--ls-venv``, by default the peer
script's), each config is also validated by Label Studio's own ``validate_label_config`` and
each stored result by Label Studio's SDK (``validate_prediction``), side by side.

Usage: python bench/ls_templates.py [--templates DIR] [--ls-venv DIR] [--no-ls] [--only NAME]
       [--browser | --browser-report FILE]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
LS_VENV = Path(os.environ.get("LS_HOME", Path.home() / ".cache" / "label-studio-peer")) / "venv"
#: Tags whose templates are out of this measure's scope: none now (audio, PDF, chat, time series
#: and video are in); a tag named here puts its templates apart.
OUT_OF_SCOPE_TAGS: set[str] = set()


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- templates


def find_templates(given: str | None, ls_venv: Path) -> Path:
    if given:
        return Path(given)
    found = sorted(glob.glob(str(ls_venv / "lib" / "python*" / "site-packages" / "label_studio" / "annotation_templates")))
    if not found:
        raise SystemExit(
            "Label Studio's annotation_templates/ not found: run ../shared/peers/label-studio.sh once "
            "(it installs label-studio==1.23.2 in $HOME/.cache/label-studio-peer/venv), or pass --templates DIR"
        )
    return Path(found[-1])


def read_templates(folder: Path) -> list[dict]:
    out = []
    for path in sorted(folder.glob("*/*/config.yml")):
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
        xml = meta["config"]
        tags = set(re.findall(r"<([A-Za-z][A-Za-z0-9]*)", re.sub(r"<!--.*?-->", "", xml, flags=re.S)))
        out.append({
            "name": f"{path.parent.parent.name}/{path.parent.name}",
            "title": meta.get("title", path.parent.name),
            "category": meta.get("group") or path.parent.parent.name,
            "type": meta.get("type"),
            "xml": xml,
            "in_scope": not (tags & OUT_OF_SCOPE_TAGS),
        })
    return out


def example_task(xml: str) -> dict:
    """A template's sample task, as Label Studio makes one (comment first, then examples)."""
    from label_studio_sdk.label_interface import LabelInterface

    data, _, _ = LabelInterface.get_task_from_labeling_config(xml)
    data = dict(data or {})
    if not data:
        match = re.search(r"<!--\s*(\[.*?\])\s*-->", xml, flags=re.S)
        if match:
            try:
                listed = json.loads(match.group(1))
            except json.JSONDecodeError:
                listed = None
            if isinstance(listed, list) and listed and isinstance(listed[0], dict):
                first = listed[0]
                data = dict(first.get("data", first))
    try:
        sample = LabelInterface(xml).generate_sample_task(mode="upload", secure_mode=False)
    except Exception as exc:  # noqa: BLE001  (the SDK's sampler fails on configs it cannot read)
        log(f"  (no SDK sample: {type(exc).__name__}: {str(exc)[:80]})")
        sample = {}
    for key, value in sample.items():
        data.setdefault(key, value)
    for key, url in _time_series_urls(xml).items():
        data.setdefault(key, url)
    return data


def _time_series_urls(xml: str) -> dict[str, str]:
    """Label Studio's sample of a ``<TimeSeries valueType="url">``, which the SDK's sampler
    cannot make (``core/label_config.py``, ``generate_sample_task_without_check``): the URL of
    its generated CSV, ``/samples/time-series.csv?time=...&values=...&sep=...&tf=...``."""
    from urllib.parse import urlencode

    from lxml import etree

    out = {}
    for ts in etree.fromstring(xml.encode()).iter("TimeSeries"):
        value = ts.get("value") or ""
        if not value.startswith("$") or (ts.get("valueType") or "url").lower() != "url":
            continue
        params = {"time": ts.get("timeColumn"), "values": ",".join(c.get("column") for c in ts.iter("Channel"))}
        if ts.get("sep"):
            params["sep"] = ts.get("sep")
        if ts.get("timeFormat"):
            params["tf"] = ts.get("timeFormat")
        out[value[1:]] = "/samples/time-series.csv?" + urlencode(params)
    return out


# --------------------------------------------------------------------------- results


def _first_word(text: str) -> tuple[int, int] | None:
    match = re.search(r"\w+", text)
    return (match.start(), match.end()) if match else None


def sample_result(schema, data: dict) -> list[dict]:
    """One Label Studio result item per control of ``schema`` that fits ``data``."""
    from labeling.schema.objects import text_of
    from labeling.schema.validate import data_labels

    result: list[dict] = []
    for n, control in enumerate(schema.controls):
        if control.per_region or (control.type == "labels" and control.object_tag in ("Image", "Video")):
            continue  # tied to a region: linked_items (a video's: in its track's value.labels)
        base = {"id": f"r{n}", "from_name": control.name, "to_name": control.to_name, "type": control.type}
        value: dict | None = None
        labels = list(control.labels) or data_labels(control, data)
        if control.type == "choices":
            value = {"choices": labels[:1]} if labels else None
        elif control.type == "labels" and control.object_tag in AUDIO_TAGS:
            value = {"start": 0.5, "end": 1.75, "channel": 0, "labels": labels[:1]} if labels else None
        elif control.type == "labels":
            text = text_of(data.get(control.data_key))
            span = _first_word(text) if text is not None else None
            if span and labels:
                value = {"start": span[0], "end": span[1], "text": text[span[0]:span[1]], "labels": labels[:1]}
        elif control.type == "rectanglelabels" and labels:
            value = {"x": 10.0, "y": 20.0, "width": 30.0, "height": 25.0, "rotation": 0, "rectanglelabels": labels[:1]}
        elif control.type == "rectangle":
            value = {"x": 10.0, "y": 20.0, "width": 30.0, "height": 25.0, "rotation": 0}
        elif control.type == "textarea":
            value = {"text": ["a sample answer"]}
        elif control.type == "rating":
            value = {"rating": min(3, control.max_rating or 5)}
        elif control.type == "number":
            value = {"number": _number_in(control)}
        elif control.type == "datetime":
            value = {"datetime": _datetime_for(control)}
        elif control.type == "paragraphlabels" and labels:
            value = _paragraph_span(control, data, labels)
        elif control.type == "taxonomy" and control.taxonomy:
            value = {"taxonomy": [max(control.taxonomy, key=len)]}
        elif control.type in ("pairwise", "ranker", "hypertextlabels"):
            base, value = _ranking_or_html(control, base, data, labels)
        elif control.type in _VECTOR_SAMPLES:
            value = _vector_value(control.type, labels)
        elif control.type == "chatmessage":
            result += _chat_messages(schema, control, data, n)
            continue
        elif control.type in ("timelinelabels", "videorectangle"):
            value = _video_value(schema, control, labels)
        elif control.type == "ocrlabels" and labels:
            value = {"x": 12.5, "y": 40.0, "width": 30.25, "height": 4.5, "rotation": 0, "ocrlabels": labels[:1],
                     "ocrtext": "a sample text", "pageIndex": 0}
        elif control.type == "timeserieslabels" and labels:
            series = schema.objects[control.to_name].series
            start, end = (("2019-01-01 00:00:01.000000", "2019-01-01 00:00:03.000000")
                          if series.time_format == "%Y-%m-%d %H:%M:%S.%f" else (1, 3))
            value = {"start": start, "end": end, "instant": False, "timeserieslabels": labels[:1]}
        if value is None:
            continue
        item = dict(base, value=value)
        if control.type == "labels" and control.object_tag in AUDIO_TAGS:
            item = dict(item, original_length=AUDIO_LENGTH)
        if control.type in ("rectanglelabels", "rectangle") or control.type in _VECTOR_SAMPLES:
            item = dict(item, original_width=640, original_height=480, image_rotation=0)
            if schema.objects[control.to_name].value_list:
                item["item_index"] = 0
        result.append(item)
    return result + linked_items(schema, data, result)


#: Audio objects, and the length of Label Studio's sample recording (its editor stores a
#: segment's ``original_length``: the audio's duration in seconds).
AUDIO_TAGS = ("Audio", "AudioPlus")
AUDIO_LENGTH = 3.77437641723356


def _video_value(schema, control, labels: list[str]) -> dict | None:
    """A timeline span (frames 3 to 12) or a track of two keyframes, as Label Studio's editor
    stores them (frames from 1, ``time`` = frame / 24 without a frameRate, the ``<Labels>`` of
    the video in the track's ``value.labels``)."""
    if control.type == "timelinelabels":
        return {"ranges": [{"start": 3, "end": 12}], "timelinelabels": labels[:1]} if labels else None
    from labeling.schema.video import frame_rate_of

    fps = frame_rate_of(schema.objects[control.to_name].frame_rate)
    keys = [{"frame": f, "enabled": on, "rotation": 0, "x": x, "y": 20.0, "width": 30.0, "height": 25.0,
             "time": f / fps} for f, on, x in ((1, True, 10.0), (13, False, 40.0))]
    value: dict = {"framesCount": 250, "duration": 250 / fps, "sequence": keys}
    names = [n for c in schema.controls if c.type == "labels" and control.to_name in c.targets for n in c.labels]
    if names:
        value["labels"] = names[:1]
    return value


def linked_items(schema, data: dict, result: list[dict]) -> list[dict]:
    """Items tied to the regions of ``result`` by id, as Label Studio's editor stores them: the
    labels of a plain shape, one answer per region of each per-region control (with the
    region's geometry), and a relation between two spans (a second span is added for it)."""
    from labeling.schema.linked import is_shape
    from labeling.schema.objects import text_of
    from labeling.schema.validate import data_labels

    by_name = {c.name: c for c in schema.controls}
    shapes = [item for item in result if item["from_name"] in by_name and is_shape(by_name[item["from_name"]])]
    extra: list[dict] = []
    if schema.relations is not None:
        spans = [item for item in shapes if item["type"] == "labels"]
        text = text_of(data.get(by_name[spans[0]["from_name"]].data_key)) if spans else None
        second = re.search(r"\w+", text[spans[0]["value"]["end"]:]) if text else None
        if second:
            start, end = spans[0]["value"]["end"] + second.start(), spans[0]["value"]["end"] + second.end()
            extra.append({**spans[0], "id": "r-second",
                          "value": {**spans[0]["value"], "start": start, "end": end, "text": text[start:end]}})
            relation = {"from_id": spans[0]["id"], "to_id": "r-second", "type": "relation", "direction": "right"}
            if schema.relations.labels:
                relation["labels"] = schema.relations.labels[:1]
            extra.append(relation)
    for control in schema.controls:
        labels = list(control.labels) or data_labels(control, data)
        for shape in shapes:
            if shape["to_name"] not in control.targets or shape is None:
                continue
            role = shape["value"].get("chatmessage", {}).get("role")
            if control.when_roles and role is not None and role not in control.when_roles:
                continue  # a chat's per-message control of other roles (<View whenRole>)
            geometry = {k: v for k, v in shape["value"].items() if k != shape["type"]}
            if control.type == "labels" and control.object_tag == "Image" and labels:
                value = {**geometry, "labels": labels[:1]}
            elif not control.per_region:
                continue
            elif control.type == "choices" and labels:
                value = {**geometry, "choices": labels[:1]}
            elif control.type == "textarea":
                value = {**geometry, "text": ["a sample answer"]}
            elif control.type == "rating":
                value = {**geometry, "rating": min(3, control.max_rating or 5)}
            elif control.type == "number":
                value = {**geometry, "number": _number_in(control)}
            else:
                continue
            keys = {k: shape[k] for k in ("original_width", "original_height", "image_rotation", "item_index",
                                          "original_length")
                    if k in shape}
            extra.append({**keys, "value": value, "id": shape["id"], "from_name": control.name,
                          "to_name": shape["to_name"], "type": control.type})
    return extra


def _chat_messages(schema, control, data: dict, n: int) -> list[dict]:
    """Messages added to a chat, user and assistant in turn (the roles it allows), at least two and
    as many as its ``minMessages`` asks beside the task's own."""
    chat = schema.objects[control.to_name].chat
    allowed = [*chat.message_roles, *(["assistant"] if chat.llm else [])]
    roles = [r for r in ("user", "assistant") if r in allowed] or allowed
    given = data.get(control.data_key)
    low = chat.min_messages if isinstance(chat.min_messages, int) else 0
    count = max(2, low - len(given if isinstance(given, list) else []))
    return [{"id": f"r{n}m{k}", "from_name": control.name, "to_name": control.to_name, "type": "chatmessage",
             "value": {"chatmessage": {"role": roles[k % len(roles)], "content": f"a sample message {k}",
                                       "createdAt": 1755872989436 + k}}} for k in range(count)]


def _paragraph_span(control, data: dict, labels: list[str]) -> dict | None:
    """The first word of the first paragraph, as Label Studio's editor stores a ParagraphLabels span."""
    from labeling.schema.dialogue import paragraph_texts

    texts = paragraph_texts(data.get(control.data_key), control.text_key) or []
    span = _first_word(texts[0]) if texts else None
    if span is None:
        return None
    return {"start": "0", "end": "0", "startOffset": span[0], "endOffset": span[1],
            "text": texts[0][span[0]:span[1]], "paragraphlabels": labels[:1]}
def _ranking_or_html(control, base: dict, data: dict, labels: list[str]) -> tuple[dict, dict | None]:
    """A Pairwise, Ranker or HyperTextLabels item as Label Studio's editor stores one."""
    from labeling.schema.hypertext import text_nodes
    from labeling.schema.rankings import list_item_ids, ranker_columns

    if control.type == "pairwise":  # the editor stores the Pairwise's own name as to_name
        return dict(base, to_name=control.name), {"selected": "left"}
    if control.type == "ranker":
        ids = list_item_ids(data.get(control.data_key)) or []
        columns = ranker_columns(control)
        ranker = {c: [] for c in columns}
        ranker[columns[0]] = ids[::-1]  # the list's items, reordered
        if len(columns) > 1:
            ranker[columns[0]], ranker[columns[1]] = ids[1:], ids[:1]  # the first item put in a bucket
        return base, {"ranker": ranker}
    html = data.get(control.data_key)
    nodes = text_nodes(html) if isinstance(html, str) else []
    words = [(path, m) for path, text in nodes for m in re.finditer(r"\w+", text)][:1]
    if not words or not labels:
        return base, None
    path, match = words[0]
    before = sum(len(t) for p, t in nodes[: [p for p, _ in nodes].index(path)])
    return base, {"start": path, "end": path, "startOffset": match.start(), "endOffset": match.end(),
                  "globalOffsets": {"start": before + match.start(), "end": before + match.end()},
                  "text": match.group(0), "hypertextlabels": labels[:1]}


def _rle_square() -> list[int]:
    """A 640x480 brush mask (a square) in Label Studio's RLE, encoded by the SDK's converter."""
    import numpy as np
    from label_studio_sdk.converter.brush import mask2rle

    mask = np.zeros((480, 640), dtype=np.uint8)
    mask[100:200, 150:300] = 255
    return mask2rle(mask)


#: Polygons, key points, ellipses and brush masks: the value Label Studio's editor stores (labels apart).
_VECTOR_SAMPLES = {
    "polygon": lambda: {"points": [[10.0, 20.0], [40.0, 22.5], [35.0, 60.0]], "closed": True},
    "keypoint": lambda: {"x": 25.0, "y": 30.0, "width": 0.5},
    "ellipse": lambda: {"x": 50.0, "y": 40.0, "radiusX": 10.0, "radiusY": 5.0, "rotation": 0},
    "brush": lambda: {"format": "rle", "rle": _rle_square()},
}
_VECTOR_SAMPLES.update({f"{k}labels": v for k, v in list(_VECTOR_SAMPLES.items())})


def _vector_value(result_type: str, labels: list[str]) -> dict | None:
    value = _VECTOR_SAMPLES[result_type]()
    if not result_type.endswith("labels"):
        return value
    return {**value, result_type: labels[:1]} if labels else None


def _number_in(control) -> int | float:
    return control.min_value if control.min_value is not None else 1


def _datetime_for(control) -> str:
    from labeling.schema.values import DATETIME_FORMATS

    return DATETIME_FORMATS[tuple(control.only)][1]


# --------------------------------------------------------------------------- labelfab


def labelfab_run(templates: list[dict]) -> list[dict]:
    """Create, import, annotate and export every template in a fresh labelfab."""
    from labeling import annotations, imports, migrate, projects, users
    from labeling.canonical import dumps
    from labeling.errors import Invalid
    from labeling.exports import iter_ls_json
    from labeling.models import Role

    migrate.upgrade()
    admin = users.create_user("bench-templates@example.com", role=Role.admin, password=None, name="Bench")
    rows = []
    for tpl in templates:
        row = {"name": tpl["name"], "title": tpl["title"], "category": tpl["category"], "in_scope": tpl["in_scope"],
               "accepted": False, "task": False, "round_trip": False, "controls": 0, "result_items": 0, "detail": ""}
        rows.append(row)
        try:
            project = projects.create_project(admin, title=tpl["title"][:100], label_config=tpl["xml"])
        except Invalid as exc:
            errors = exc.errors or [{"detail": exc.detail}]
            row["detail"] = errors[0].get("detail", str(errors[0]))[:300]
            continue
        row["accepted"] = True
        schema = projects.parse_config(tpl["xml"])
        row["controls"] = len(schema.controls)
        row["families"] = families(schema)
        row["image"] = any(o.tag == "Image" for o in schema.objects.values())
        row["vendored"] = tpl["name"].replace("/", "__")
        data = example_task(tpl["xml"])
        row["data_keys"] = sorted(data)
        try:
            report = imports.import_data(admin, project.id, body=[{"data": data}], background=False,
                                         return_task_ids=True)
        except Invalid as exc:
            errors = exc.errors or [{"detail": exc.detail}]
            row["detail"] = "task refused: " + str(errors[0].get("detail", errors[0]))[:300]
            continue
        task_id = report.task_ids[0]
        row["task"] = True
        result = sample_result(schema, data)
        row["result"] = result
        row["result_items"] = len(result)
        try:
            annotations.submit(task_id, admin, result=result, lead_time=1.0)
        except Invalid as exc:
            errors = exc.errors or [{"detail": exc.detail}]
            row["detail"] = "result refused: " + str(errors[0].get("detail", errors[0]))[:300]
            continue
        exported = json.loads(b"".join(iter_ls_json(project.id, admin)))
        back = exported[0]["annotations"][0]["result"] if exported and exported[0]["annotations"] else None
        row["round_trip"] = back is not None and dumps(back) == dumps(result)
        if not row["round_trip"]:
            row["detail"] = f"exported result differs: {json.dumps(back)[:300]}"
    return rows


# --------------------------------------------------------------------------- annotated in the browser

B = "tests/browser/"
#: Tag family -> the browser tests that annotate it with the keyboard (pytest node ids).
FAMILY_TESTS: dict[str, tuple[str, ...]] = {
    "Choices": (B + "test_annotate.py::test_label_20_text_items_with_the_keyboard_only",
                B + "test_annotate.py::test_image_classification_is_one_key_plus_enter"),
    "TextArea": (B + "test_annotate.py::test_free_text_and_rating_next_to_choices",),
    "Rating": (B + "test_annotate.py::test_free_text_and_rating_next_to_choices",
               B + "test_annotate_config_features.py::test_number_datetime_and_a_rating_on_two_images_with_the_keyboard"),
    "Number": (B + "test_annotate_config_features.py::test_number_datetime_and_a_rating_on_two_images_with_the_keyboard",),
    "DateTime": (B + "test_annotate_config_features.py::test_number_datetime_and_a_rating_on_two_images_with_the_keyboard",),
    "Labels": (B + "test_annotate_keyboard.py::test_ner_spans_with_the_keyboard_only",),
    "RectangleLabels": (B + "test_annotate.py::test_draw_a_bounding_box_and_submit",),
    "Rectangle": (B + "test_annotate_linked.py::test_plain_rectangles_labelled_by_labels_with_a_transcription",),
    "PolygonLabels": (B + "test_annotate_vectors.py::test_draw_a_polygon_with_a_label_key_and_submit",),
    "Polygon": (B + "test_annotate_vectors.py::test_ocr_template_draws_a_box_and_a_polygon_each_with_its_label_and_transcription",),
    "EllipseLabels": (B + "test_annotate_vectors.py::test_drag_an_ellipse_with_a_label_key_and_submit",),
    "KeyPointLabels": (B + "test_annotate_keypoints.py::test_place_move_delete_and_undo_key_points_then_submit",),
    "BrushLabels": (B + "test_annotate_brush.py::test_paint_two_masks_erase_and_submit_rle_the_sdk_decodes",
                    B + "test_annotate_brush.py::test_a_click_on_a_painted_mask_selects_it"),
    "Taxonomy": (B + "test_annotate_dialogue.py::test_taxonomy_picked_with_arrows_space_and_search",),
    "ParagraphLabels": (B + "test_annotate_dialogue.py::test_paragraph_labels_in_a_dialogue_as_label_studio_stores_them",),
    "HyperTextLabels": (B + "test_annotate_rankings_html.py::test_html_spans_with_the_keyboard_and_a_hostile_document_runs_nothing",),
    "Pairwise": (B + "test_annotate_rankings_html.py::test_pairwise_picks_a_side_with_the_keys",),
    "Ranker": (B + "test_annotate_rankings_html.py::test_ranker_with_buckets_moves_items_with_arrows_and_bucket_keys",
               B + "test_annotate_rankings_html.py::test_ranker_without_buckets_reorders_the_list"),
    "Relations": (B + "test_annotate_linked.py::test_relation_between_two_spans_with_the_keyboard",),
    "perRegion": (B + "test_annotate_linked.py::test_per_region_transcription_of_each_box",
                  B + "test_annotate_linked.py::test_per_region_choices_on_spans_with_keys"),
    "valueList": (B + "test_annotate_linked.py::test_boxes_on_the_pages_of_a_document",),
    "visibleWhen": (B + "test_annotate_config_features.py::test_label_studio_template_with_visible_when_unchanged",),
    "Table": (B + "test_annotate_dialogue.py::test_table_shown_as_rows_and_classified_with_a_key",),
    "Chat": (B + "test_annotate_chat.py::test_rate_and_choose_on_two_messages_and_the_conversation_with_the_keyboard",
             B + "test_annotate_chat.py::test_the_rlhf_template_shows_its_chat_and_the_keys_dialog_names_the_chat_keys"),
    "ChatMessage": (B + "test_annotate_chat.py::test_write_a_whole_conversation_and_edit_a_message_with_the_keyboard",),
    # media that play in time, documents: the object's widget, then its region controls
    "Audio": (B + "test_annotate_audio.py::test_mark_label_and_transcribe_a_segment_with_the_keyboard",
              B + "test_annotate_audio.py::test_delete_removes_the_selected_segment"),
    "Video": (B + "test_annotate_video.py::test_frames_spans_and_a_tracked_box_with_the_keyboard_and_mouse",
              B + "test_annotate_video.py::test_label_studios_video_classification_template_with_a_key"),
    "TimelineLabels": (B + "test_annotate_video.py::test_frames_spans_and_a_tracked_box_with_the_keyboard_and_mouse",),
    "VideoRectangle": (B + "test_annotate_video.py::test_frames_spans_and_a_tracked_box_with_the_keyboard_and_mouse",
                       B + "test_annotate_video.py::test_keyframes_lifespan_delete_undo_and_the_earlier_annotation"),
    "TimeSeries": (B + "test_annotate_timeseries.py::test_a_range_and_an_instant_event_on_inline_columns_with_the_keys",
                   B + "test_annotate_timeseries.py::test_a_csv_by_url_gets_time_strings_in_its_format"),
    "TimeSeriesLabels": (
        B + "test_annotate_timeseries.py::test_a_range_and_an_instant_event_on_inline_columns_with_the_keys",
        B + "test_annotate_timeseries.py::test_dragging_with_the_mouse_marks_a_range_and_delete_removes_it"),
    "sync": (B + "test_annotate_sync.py::test_video_and_its_audio_play_pause_and_seek_together",
             B + "test_annotate_sync.py::test_a_paragraph_plays_its_part_of_the_audio_and_the_audio_drives_the_dialogue"),
    "Pdf": (B + "test_annotate_pdf.py::test_page_through_a_pdf_and_classify_pages_and_the_document",
            B + "test_annotate_pdf.py::test_label_studios_pdf_template_previews_with_a_sample_document"),
    "OcrLabels": (B + "test_annotate_pdf.py::test_draw_ocr_boxes_on_two_pages_with_label_studios_pdf_ocr_template",),
}
FAMILY_TESTS["AudioPlus"] = FAMILY_TESTS["Audio"]  # the same widget
#: Families labelfab stores and exports but does not annotate in the browser yet (the reason is the
#: row's ``annotated_detail``): none now.
NOT_ANNOTATED: dict[str, str] = {}
IMAGE_TEMPLATE_TEST = B + "test_annotate_image_templates.py::test_image_template_opens_and_each_tool_draws[{}]"
TIME_SERIES_TEMPLATE_TEST = (B + "test_annotate_timeseries.py::"
                             "test_each_time_series_template_previews_a_chart_that_takes_the_keys[{}]")
#: Object tags that are a family of their own (their widget has browser tests).
OBJECT_FAMILIES = ("Table", "Chat", "Audio", "AudioPlus", "Video", "TimeSeries", "Pdf")


def template_tests(row: dict) -> list[str]:
    """The browser tests of the template itself (its run in the preview), where there are."""
    out = []
    if row.get("image"):
        out.append(IMAGE_TEMPLATE_TEST.format(row["vendored"]))
    if "TimeSeries" in row.get("families", ()):
        out.append(TIME_SERIES_TEMPLATE_TEST.format(row["vendored"]))
    return out


def families(schema) -> list[str]:
    """The tag families a template uses (keys of :data:`FAMILY_TESTS`, or a tag with none)."""
    out = {c.tag for c in schema.controls}
    if schema.relations is not None:
        out.add("Relations")
    if any(c.per_region for c in schema.controls):
        out.add("perRegion")
    if any(o.value_list for o in schema.objects.values()):
        out.add("valueList")
    if any(c.visible_when for c in schema.controls):
        out.add("visibleWhen")
    if any(o.sync for o in schema.objects.values()):
        out.add("sync")
    for tag in OBJECT_FAMILIES:
        if any(o.tag == tag for o in schema.objects.values()):
            out.add(tag)
    return sorted(out)


def browser_tests(rows: list[dict]) -> list[str]:
    """The node ids the ``annotated`` column reads, for the templates of ``rows``."""
    ids: dict[str, None] = {}
    for row in rows:
        for family in row.get("families", []):
            ids.update(dict.fromkeys(FAMILY_TESTS.get(family, ())))
        ids.update(dict.fromkeys(template_tests(row)))
    return list(ids)


def run_browser_tests(node_ids: list[str], report: Path) -> None:
    """Run the browser tests (``-m browser``) with a JUnit report; their failures are the report's."""
    log(f"running {len(node_ids)} browser tests (Chromium) ...")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELFAB_") or k.startswith("LABELFAB_TEST_")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "browser", "-p", "no:cacheprovider",
                           f"--junitxml={report}", *node_ids], cwd=ROOT, env=env, capture_output=True, text=True)
    log(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-500:])


def read_junit(report: Path) -> dict[str, bool]:
    """Node id -> passed, from a pytest JUnit XML report."""
    import xml.etree.ElementTree as ET

    out = {}
    for case in ET.parse(report).iter("testcase"):
        module = case.get("classname", "").replace(".", "/") + ".py"
        node = f"{module}::{case.get('name')}"
        out[node] = not any(child.tag in ("failure", "error", "skipped") for child in case)
    return out


def mark_annotated(rows: list[dict], passed: dict[str, bool] | None) -> None:
    """Fill each row's ``annotated`` (None: not measured) and, when not, which tests say why."""
    for row in rows:
        if passed is None or not row["accepted"]:
            row["annotated"] = None if passed is None else False
            continue
        missing = [f for f in row["families"] if f not in FAMILY_TESTS]
        needed = [t for f in row["families"] for t in FAMILY_TESTS.get(f, ())] + template_tests(row)
        failed = [t for t in needed if not passed.get(t)]
        row["annotated"] = not missing and not failed
        if missing or failed:
            why = [NOT_ANNOTATED.get(f, f"no browser test of {f}") for f in missing] + [
                f"{t.split('::', 1)[1]} {'failed' if t in passed else 'not run'}" for t in failed]
            row["annotated_detail"] = "; ".join(why)[:300]


# --------------------------------------------------------------------------- Label Studio side by side

LS_CHECK = r"""
import json, os, sys
import label_studio
sys.path.insert(0, os.path.dirname(label_studio.__file__))
import django
django.setup()
from core.label_config import validate_label_config
from label_studio_sdk.label_interface import LabelInterface
out = []
for item in json.load(sys.stdin):
    row = {"name": item["name"], "ls_accepted": False, "ls_result_ok": None, "ls_detail": ""}
    try:
        validate_label_config(item["xml"])
        row["ls_accepted"] = True
    except Exception as exc:
        row["ls_detail"] = str(exc)[:300]
    if row["ls_accepted"] and item.get("result"):
        errors = LabelInterface(item["xml"]).validate_prediction({"result": item["result"]}, return_errors=True)
        row["ls_result_ok"] = errors is True or not errors
        if not row["ls_result_ok"]:
            row["ls_detail"] = "; ".join(map(str, errors))[:300]
    out.append(row)
print(json.dumps(out))
"""


def label_studio_run(ls_venv: Path, templates: list[dict], rows: list[dict]) -> dict[str, dict] | None:
    python = ls_venv / "bin" / "python"
    if not python.exists():
        log(f"no Label Studio venv at {ls_venv}: Label Studio's own checks are left out")
        return None
    items = [{"name": t["name"], "xml": t["xml"], "result": r.get("result")} for t, r in zip(templates, rows, strict=True)]
    with tempfile.TemporaryDirectory(prefix="lf-ls-templates-") as home:
        env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": home, "LATEST_VERSION_CHECK": "false",
               "DJANGO_SETTINGS_MODULE": "core.settings.label_studio"}
        env.pop("LABELFAB_DATA_DIR", None)
        done = subprocess.run([str(python), "-c", LS_CHECK], input=json.dumps(items), env=env,
                              capture_output=True, text=True, cwd=home)
    if done.returncode != 0:
        log(f"Label Studio's checks failed: {done.stderr[-1500:]}")
        return None
    return {r["name"]: r for r in json.loads(done.stdout.strip().splitlines()[-1])}


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--templates", help="an annotation_templates/ folder (default: Label Studio's venv)")
    parser.add_argument("--ls-venv", default=str(LS_VENV), help="Label Studio's venv (side-by-side checks)")
    parser.add_argument("--no-ls", action="store_true", help="leave out Label Studio's own checks")
    parser.add_argument("--only", help="only templates whose folder name contains this")
    browser = parser.add_mutually_exclusive_group()
    browser.add_argument("--browser", action="store_true",
                         help="run the browser tests the annotated column reads (Chromium, a few minutes)")
    browser.add_argument("--browser-report", help="the JUnit XML report of an earlier run of those tests")
    args = parser.parse_args()

    ls_venv = Path(args.ls_venv)
    templates = read_templates(find_templates(args.templates, ls_venv))
    if args.only:
        templates = [t for t in templates if args.only in t["name"]]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lf-templates-") as data_dir:
        os.environ.update({"LABELFAB_DATA_DIR": data_dir, "LABELFAB_BROKER_URL": "stub://"})
        os.environ.pop("LABELFAB_DATABASE_URL", None)
        sys.path.insert(0, str(ROOT))
        rows = labelfab_run(templates)
    ls = None if args.no_ls else label_studio_run(ls_venv, templates, rows)
    passed = None
    if args.browser_report:
        passed = read_junit(Path(args.browser_report))
    elif args.browser:
        with tempfile.TemporaryDirectory(prefix="lf-templates-browser-") as tmp:
            report = Path(tmp) / "junit.xml"
            run_browser_tests(browser_tests([r for r in rows if r["in_scope"]]), report)
            passed = read_junit(report) if report.exists() else {}
    mark_annotated(rows, passed)
    for row in rows:
        row.pop("result", None)
        if ls is not None:
            row.update({k: v for k, v in ls[row["name"]].items() if k != "name"})
        print(json.dumps(row, ensure_ascii=False))
        mark = "ok " if row["round_trip"] else ("acc" if row["accepted"] else "---")
        kb = {True: "kb ", False: "-- ", None: "   "}[row["annotated"]]
        log(f"{mark} {kb}{'   ' if row['in_scope'] else 'out'} {row['name']:<62} "
            f"{(row['detail'] or row.get('annotated_detail', ''))[:110]}")

    def count(key: str, scope: bool | None = None) -> int:
        return sum(1 for r in rows if r.get(key) and (scope is None or r["in_scope"] == scope))

    in_scope = sum(1 for r in rows if r["in_scope"])
    figures = {
        "bench": "ls_templates",
        "templates": len(rows),
        "in_scope": in_scope,
        "accepted_in_scope": count("accepted", True),
        "accepted": count("accepted"),
        "task_in_scope": count("task", True),
        "round_trip_in_scope": count("round_trip", True),
        "round_trip": count("round_trip"),
        "annotated_in_scope": count("annotated", True) if passed is not None else None,
        "by_category": {},
        "seconds": round(time.perf_counter() - started, 1),
    }
    for row in rows:
        cat = figures["by_category"].setdefault(row["category"], {"templates": 0, "accepted": 0, "round_trip": 0,
                                                                  "annotated": 0})
        cat["templates"] += 1
        cat["accepted"] += row["accepted"]
        cat["round_trip"] += row["round_trip"]
        cat["annotated"] += bool(row["annotated"])
    if ls is not None:
        figures.update({"ls_accepted": sum(1 for r in rows if r.get("ls_accepted")),
                        "ls_accepted_in_scope": sum(1 for r in rows if r.get("ls_accepted") and r["in_scope"]),
                        "ls_result_ok": sum(1 for r in rows if r.get("ls_result_ok")),
                        "ls_result_checked": sum(1 for r in rows if r.get("ls_result_ok") is not None)})
        figures["ls_annotated"] = None  # Label Studio's editor is not driven by this bench
    annotated = (f"annotated with the keyboard {figures['annotated_in_scope']}/{in_scope}" if passed is not None
                 else "annotated not measured (--browser)")
    figures["summary"] = (f"accepted {figures['accepted_in_scope']}/{in_scope} in scope, "
                          f"{figures['accepted']}/{len(rows)} overall; round trip {figures['round_trip_in_scope']}/{in_scope}; "
                          f"{annotated}")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
