"""The API's pydantic models: exports and datasets (see :mod:`web.api.schemas`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from web.api.schemas.common import Schema


class ExportQuery(Schema):
    exportType: str = Field("JSON", description="JSON, JSON_MIN, CSV, TSV, JSONL, PARQUET, COCO, YOLO, VOC, "
                                                "CONLL2003, BRUSH_TO_PNG, COCO_WITH_IMAGES, YOLO_WITH_IMAGES. With "
                                                "none of the clean export's arguments (state, label, annotator, "
                                                "since, until, seed, split, media, rows), JSON and the formats "
                                                "Label Studio's converter makes answer as Label Studio: every "
                                                "annotated task, each annotation")
    export_type: str | None = None
    download_all_tasks: bool | None = Field(None, description="Label Studio's export: unlabeled tasks too")
    ids: list[int] | None = Field(None, description="Label Studio's export: these tasks (also ids[])")
    query: str | None = Field(None, description="labelfab's addition to Label Studio's export: only the tasks "
                                                "a Data Manager query selects (JSON: filters and selectedItems, as "
                                                "GET /api/tasks?query=), the data manager's export of every task "
                                                "that matches")
    gold: bool | None = Field(None, description="gold tasks too, with their answers (Label Studio JSON: is_gold, "
                                                "gold_answer and the answering annotation's ground_truth)")
    state: list[str] | None = Field(None, description="clean export: task states (default accepted; all)")
    label: list[str] | None = None
    annotator: str | None = None
    since: str | None = None
    until: str | None = None
    seed: int | None = Field(None, description="clean export: seed of the split column (default the project's: "
                                               "its dataset versions keep every released task's split; given, "
                                               "it must be the current split generation's)")
    split: str | None = Field(None, description="train,validation,test percentages: 80,10,10 (default the "
                                                "project's, as seed)")
    media: Literal["urls", "files"] | None = None
    rows: Literal["final", "annotations"] | None = Field(
        None, description="clean export, CSV/TSV/JSONL: final labels (default) or one row per annotation "
                          "(annotator, annotation_id, created_at, updated_at, lead_time)")
    csv_raw: bool | None = Field(
        None, description="clean export, CSV/TSV: every cell as it is. By default a text cell that a spreadsheet "
                          "would run as a formula (starting with =, +, -, @, tab or carriage return) gets a single "
                          "quote in front (OWASP's rule); numbers stay numbers. JSON, JSON_MIN, JSONL and PARQUET "
                          "are always as stored")


class PublishBody(Schema):
    note: str | None = None
    seed: int | None = None
    split: str | list[float] | None = None
    background: bool | None = None


class ResplitBody(Schema):
    seed: int | None = None
    split: str | list[float] | None = None
    reason: str | None = None


class DatasetVersion(Schema):
    version: int
    sha256: str
    n_items: int
    noise_rate: float | None
    note: str | None
    created_at: datetime
    created_by: Any = None
    splits: Any = None
    label_counts: Any = None
    formats: list[str]


class DownloadQuery(Schema):
    format: str | None = Field(None, description="jsonl (the default), parquet, csv, json, coco, yolo, voc, conll2003, "
                                                 "media or card")


class DiffQuery(Schema):
    from_: str = Field(alias="from", description="a version")
    to: str
