"""Documents over Label Studio's API: Label Studio's PDF templates create projects unchanged, a
Label Studio-shaped result (per task, per page with item_index, OCR regions) is accepted by
POST /api/tasks/ID/annotations and comes back from the Label Studio JSON export identically;
a result past the document's pages is refused with the page named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labeling import imports, projects
from labeling.exports import iter_ls_json
from labeling.imports import ImportFile
from tests.labeling.test_pdfs import CONFIG, pdf_bytes

TEMPLATES = Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"
BOX = {"x": 12.5, "y": 40.0, "width": 30.25, "height": 4.5, "rotation": 0}

RESULTS = {
    "structured-data-parsing__pdf-classification": [
        {"value": {"rating": 6}, "id": "LBtpNELmQx", "from_name": "rating", "to_name": "pdf", "type": "rating"},
        {"value": {"choices": ["Important article"]}, "id": "NsP16im1Jg", "from_name": "choices", "to_name": "pdf",
         "type": "choices"},
    ],
    "computer-vision__pdf_ocr": [
        {"id": "k3Jd8s0aQ1", "from_name": "ocr", "to_name": "pdf", "type": "ocrlabels", "origin": "manual",
         "value": {**BOX, "ocrlabels": ["Incorrect Amount"], "ocrtext": "$1,200.00", "pageIndex": 1}},
    ],
}


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_a_label_studio_result_comes_back_from_the_export_identically(client, lead, annotator, name):
    xml = (TEMPLATES / f"{name}.xml").read_text(encoding="utf-8")
    made = client.post("/api/projects", headers=lead.headers, json={"title": name[:40], "label_config": xml})
    assert made.status_code == 201, made.get_json()
    pid = made.get_json()["id"]
    imported = client.post(f"/api/projects/{pid}/import", headers=lead.headers,
                           json=[{"pdf": "/static/samples/sample.pdf"}])
    assert imported.status_code == 201, imported.get_json()
    task = client.get(f"/api/projects/{pid}/next", headers=annotator.headers).get_json()
    result = RESULTS[name]
    posted = client.post(f"/api/tasks/{task['id']}/annotations", headers=annotator.headers, json={"result": result})
    assert posted.status_code == 201, posted.get_json()
    exported = json.loads(b"".join(iter_ls_json(pid, lead.user)))
    assert exported[0]["data"] == {"pdf": "/static/samples/sample.pdf"}
    assert exported[0]["annotations"][0]["result"] == result


def test_pages_of_an_imported_pdf_round_trip_and_a_page_past_it_is_refused(client, lead, annotator):
    project = projects.create_project(lead.user, title="Contracts", label_config=CONFIG)
    imports.import_data(lead.user, project.id, files=[ImportFile("c.pdf", pdf_bytes(2))], background=False)
    task = client.get(f"/api/projects/{project.id}/next", headers=annotator.headers).get_json()
    result = [
        {"id": "a1", "from_name": "page_type", "to_name": "pdf", "type": "choices", "value": {"choices": ["Cover"]},
         "item_index": 0},
        {"id": "a2", "from_name": "page_type", "to_name": "pdf", "type": "choices", "value": {"choices": ["Body"]},
         "item_index": 1},
        {"id": "a3", "from_name": "doc_type", "to_name": "pdf", "type": "choices", "value": {"choices": ["Letter"]}},
    ]
    past = [{**result[1], "item_index": 2}]
    refused = client.post(f"/api/tasks/{task['id']}/annotations", headers=annotator.headers, json={"result": past})
    assert refused.status_code in (400, 422)
    assert "item_index must name the page (0 to 1), got 2" in json.dumps(refused.get_json())
    posted = client.post(f"/api/tasks/{task['id']}/annotations", headers=annotator.headers, json={"result": result})
    assert posted.status_code == 201, posted.get_json()
    exported = json.loads(b"".join(iter_ls_json(project.id, lead.user)))
    assert exported[0]["annotations"][0]["result"] == result
