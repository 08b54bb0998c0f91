"""Images of an S3 import storage on the labeling page: the task's ``s3://`` URI is served as Label
Studio's resolve proxy URL, and the page (whose Content-Security-Policy loads images from the
app's origin alone) gets the bytes through it, with and without ``presign``."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from labeling import projects
from labeling.storages import sync
from tests.browser.test_annotate import open_annotate
from tests.s3 import KEY_ID, SECRET
from tests.web.test_api_storages import IMAGE, png

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("presign", [True, False])
def test_an_s3_storage_image_shows_on_the_labeling_page(page, shot, lead, annotator, s3, presign):
    project = projects.create_project(lead.user, title="S3 pictures", label_config=IMAGE)
    s3.create_bucket(Bucket="shown")
    s3.put_object(Bucket="shown", Key="cats/a.png", Body=png((200, 40, 40), size=(40, 30)))
    storage = sync.create_storage(lead.user, "import", "s3", {
        "project": project.id, "bucket": "shown", "prefix": "cats", "use_blob_urls": True, "presign": presign,
        "s3_endpoint": s3.endpoint, "aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET})
    sync.sync_import(lead.user, "s3", storage.id)
    open_annotate(page, annotator, project)
    image = page.locator("img[src*='/resolve/?fileuri=']").first
    expect(image).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth === 40", arg=image.element_handle())
    shot(page, f"annotate-s3-storage-image-presign-{str(presign).lower()}")
