"""Regions tied by id (per-region answers, labels on plain shapes, relations, multi-page images)
are stored and come back from Label Studio's JSON export exactly as submitted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labeling import annotations, exports, imports, projects
from labeling.errors import Invalid
from tests.labeling.schema.test_regions_linked import (
    OCR,
    PAGES,
    PER_REGION,
    RELATIONS,
    ocr_region,
    per_region,
    span,
)

TEMPLATES = Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"


def exported_result(owner, config: str, data: dict, result: list[dict]) -> list[dict]:
    project = projects.create_project(owner, title="regions", label_config=config)
    report = imports.import_data(owner, project.id, body=[{"data": data}], background=False, return_task_ids=True)
    annotations.submit(report.task_ids[0], owner, result=result, lead_time=1.0)
    exported = json.loads(b"".join(exports.iter_ls_json(project.id, owner)))
    return exported[0]["annotations"][0]["result"]


def test_ocr_regions_come_back_identical(lead):
    result = ocr_region("a1", "Text", "TOTAL") + ocr_region("b2", "Handwriting", "12.50")
    assert exported_result(lead.user, OCR, {"ocr": "https://example.com/r.png"}, result) == result


def test_per_region_answers_on_spans_come_back_identical(lead):
    ada = span("s1", 0, 3, "Ada", "PER")
    result = [ada, per_region(ada, "sentiment", "choices", ["pos"]), per_region(ada, "confidence", "rating", 3),
              per_region(ada, "age", "number", 36)]
    assert exported_result(lead.user, PER_REGION, {"text": "Ada works at Acme."}, result) == result


def test_relations_come_back_identical(lead):
    config = (TEMPLATES / "natural-language-processing__relation-extraction.xml").read_text(encoding="utf-8")
    assert "<Relations>" in config and config.strip() != RELATIONS.strip()
    text = "Microsoft was founded by Bill Gates and Paul Allen on April 4, 1975."
    ms = dict(span("m", 0, 9, "Microsoft", "Organization"), from_name="label")
    bill = dict(span("b", 25, 35, "Bill Gates", "Person"), from_name="label")
    result = [ms, bill, {"from_id": "m", "to_id": "b", "type": "relation", "direction": "right",
                         "labels": ["org:founded_by"]}]
    assert exported_result(lead.user, config, {"text": text}, result) == result


def test_multipage_boxes_come_back_with_their_page(lead):
    box = {"original_width": 1700, "original_height": 2200, "image_rotation": 0, "item_index": 2,
           "id": "p3", "from_name": "rectangles", "to_name": "pdf", "type": "rectanglelabels", "origin": "manual",
           "value": {"x": 5.0, "y": 6.0, "width": 40.0, "height": 3.5, "rotation": 0, "rectanglelabels": ["Title"]}}
    pages = [f"https://example.com/{n}.jpg" for n in range(1, 4)]
    assert exported_result(lead.user, PAGES, {"pages": pages}, [box]) == [box]


def test_a_required_per_region_answer_missing_is_refused(lead):
    project = projects.create_project(lead.user, title="ocr", label_config=OCR)
    report = imports.import_data(lead.user, project.id, body=[{"data": {"ocr": "https://example.com/r.png"}}],
                                 background=False, return_task_ids=True)
    with pytest.raises(Invalid, match="required for every region"):
        annotations.submit(report.task_ids[0], lead.user, result=ocr_region("a1", "Text", "x")[:2], lead_time=1.0)
