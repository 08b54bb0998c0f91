"""Exports (ARCHITECTURE.md, "labeling/ — the domain"): a project's tasks with their final labels.

- :mod:`~labeling.exports.options`: an export's filters and splits, read from text, and the
  split drawing;
- :mod:`~labeling.exports.selection`: which tasks and annotations (the options applied, final
  labels, one read transaction);
- :mod:`~labeling.exports.writers`: Label Studio's JSON shapes, the formats and their writers
  (JSON, JSON_MIN, CSV, TSV, JSONL, Parquet), zips;
- :mod:`~labeling.exports.converter`: the formats of ``label_studio_sdk.converter`` (COCO, YOLO,
  VOC, CONLL2003);
- :mod:`~labeling.exports.service`: the export operations (:func:`export`, :func:`iter_ls_json`).

What the pages, the REST API and the CLI use is importable from the package itself.
"""

from labeling.exports.options import (
    Filters,
    SplitAssigner,
    Splits,
    parse_filters,
    parse_flag,
    parse_splits,
)
from labeling.exports.selection import annotated_tasks, state_counts
from labeling.exports.service import Export, export, export_project, iter_ls_json
from labeling.exports.writers import (
    EXPORT_FORMATS,
    annotation_json,
    available_formats,
    prediction_json,
    task_json,
)

__all__ = [
    "EXPORT_FORMATS",
    "Export",
    "Filters",
    "SplitAssigner",
    "Splits",
    "annotated_tasks",
    "annotation_json",
    "available_formats",
    "export",
    "export_project",
    "iter_ls_json",
    "parse_filters",
    "parse_flag",
    "parse_splits",
    "prediction_json",
    "state_counts",
    "task_json",
]
