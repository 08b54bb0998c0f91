"""The annotate page pre-fills the prediction an ML backend (a label-studio-ml-backend-style
server written for the test) made for an imported task, as a pre-label the annotator accepts."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from labeling import imports, ml, projects
from tests.browser.test_annotate import annotations_of, open_annotate
from tests.conftest import wait_for
from tests.labeling.test_ml import CONFIG, predictions, run_jobs
from tests.ml_backend_server import ModelServer

pytestmark = pytest.mark.browser


def test_an_ml_backend_prelabels_imported_tasks_on_the_annotate_page(page, shot, lead, annotator):
    server = ModelServer()
    try:
        project = projects.create_project(lead.user, title="Model pre-labels", label_config=CONFIG)
        ml.create_backend(lead.user, {"url": server.url, "project": project.id, "title": "keywords"})
        imports.import_data(lead.user, project.id, body=[{"text": "a good day"}], background=False)
        run_jobs("ml_predict")
        wait_for(lambda: predictions(project.id))
        open_annotate(page, annotator, project)
        expect(page.locator('[data-anno="prediction"]')).to_contain_text("keywords-v1")
        expect(page.locator('input[value="pos"]')).to_be_checked()
        shot(page, "annotate-ml-backend-prelabel")
        page.keyboard.press("Enter")  # the annotator accepts the model's pre-label
        expect(page.locator('[data-anno="empty"]')).to_be_visible()
        (saved,) = annotations_of(annotator.id, project.id)
        assert saved.result[0]["value"]["choices"] == ["pos"] and saved.parent_prediction is not None
    finally:
        server.stop()
