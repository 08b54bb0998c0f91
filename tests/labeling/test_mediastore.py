"""The media store on S3 (``LABELFAB_MEDIA_URL=s3://bucket/prefix``) against a real S3 API (moto's
server on 127.0.0.1): an image uploaded through one app instance is stored in the bucket (not on
its disk), its thumbnail too, and another app instance with a different DATA_DIR serves it from
there through the same access-checked route; the local store is unchanged by default."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from labeling import mediastore
from labeling.settings import get_settings
from tests.conftest import wait_for
from tests.s3 import KEY_ID, SECRET

CONFIG = ('<View><Image name="image" value="$image"/><Choices name="label" toName="image" choice="single">'
          '<Choice value="cat"/><Choice value="dog"/></Choices></View>')


def png(color=(200, 30, 60), size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def keys(s3, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


@pytest.fixture
def s3_media(s3, monkeypatch):
    s3.create_bucket(Bucket="shared-media")
    for name, value in {"MEDIA_URL": "s3://shared-media/lf", "MEDIA_S3_ENDPOINT": s3.endpoint,
                        "MEDIA_S3_REGION": "us-east-1", "MEDIA_S3_ACCESS_KEY_ID": KEY_ID,
                        "MEDIA_S3_SECRET_ACCESS_KEY": SECRET}.items():
        monkeypatch.setenv(f"LABELFAB_{name}", value)
    get_settings.cache_clear()
    yield s3
    monkeypatch.undo()
    get_settings.cache_clear()


def test_default_store_is_the_data_dir_folder():
    store = mediastore.get_store()
    assert isinstance(store, mediastore.LocalStore) and store.local_root == get_settings().media_root


def test_media_url_must_be_s3(monkeypatch):
    from labeling.settings import SettingsError, load_settings

    for bad in ("http://bucket/x", "s3:///prefix"):
        monkeypatch.setenv("LABELFAB_MEDIA_URL", bad)
        with pytest.raises(SettingsError, match="MEDIA_URL"):
            load_settings()


def test_images_on_s3_are_shared_by_servers_without_a_shared_disk(s3_media, lead, tmp_path, monkeypatch):
    from labeling.jobs.worker import InProcessWorker
    from web import create_app

    s3 = s3_media
    first = get_settings()
    app = create_app()
    app.config.update(TESTING=True)
    # No app is built while the worker runs: Python 3.11.7 can fail an ast.parse (werkzeug compiles
    # every route with it) while another thread parses too (CPython gh-106905), and the worker's
    # S3 calls can make moto's server thread build its own routes.
    worker = InProcessWorker(2)
    worker.start()
    try:
        client = app.test_client()
        r = client.post("/api/projects", json={"title": "pictures", "label_config": CONFIG}, headers=lead.headers)
        pid = r.get_json()["id"]
        image = png(color=tuple(os.urandom(3)))  # bytes no earlier test stored on this disk (media are shared by content)
        r = client.post(f"/api/projects/{pid}/import", data={"file": [(io.BytesIO(image), "cat.png")]},
                        headers=lead.headers, content_type="multipart/form-data")
        assert r.status_code == 201, r.get_json()
        task = client.get(f"/api/tasks?project={pid}", headers=lead.headers).get_json()["tasks"][0]
        url = task["data"]["image"]
        sha = url.rsplit("/", 1)[1].split(".")[0]
        assert f"lf/{sha[:2]}/{sha[2:4]}/{sha}.png" in keys(s3, "shared-media")
        assert not (first.media_root / sha[:2] / sha[2:4] / f"{sha}.png").exists()  # not on this server's disk
        # the thumbnails job puts the preview in the bucket too
        wait_for(lambda: f"lf/thumbs/{sha[:2]}/{sha}.jpg" in keys(s3, "shared-media"), timeout=60)
    finally:
        worker.stop()  # the thumbnail is in the bucket: nothing left for it to do

    # another server: its own DATA_DIR, the same database and bucket
    other = tmp_path / "other-server"
    monkeypatch.setenv("LABELFAB_DATA_DIR", str(other))
    monkeypatch.setenv("LABELFAB_DATABASE_URL", first.sqlalchemy_url)
    get_settings.cache_clear()
    try:
        assert get_settings().data_dir == other
        second = create_app()
        second.config.update(TESTING=True)
        c2 = second.test_client()
        r = c2.get(url, headers=lead.headers)
        assert r.status_code == 200 and r.data == image and r.mimetype == "image/png"
        thumb = c2.get(f"/media/{pid}/thumbs/{sha}.jpg", headers=lead.headers)
        assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
        assert Image.open(io.BytesIO(thumb.data)).size[0] <= 256
        assert (other / "media-cache" / sha[:2] / sha[2:4] / f"{sha}.png").read_bytes() == image
        # the access check is the same: a user of no project gets nothing
        assert c2.get(url).status_code in (302, 401)
    finally:
        monkeypatch.setenv("LABELFAB_DATA_DIR", str(first.data_dir))
        monkeypatch.setenv("LABELFAB_DATABASE_URL", first.database_url)
        get_settings.cache_clear()
