"""Bad input to POST /api/projects/ID/import: every case gets a clear 4xx naming the reason,
and nothing is stored (no task, import, annotation, prediction, media row, user or file)."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
import zlib

import pytest
import sqlalchemy as sa
from PIL import Image
from sqlmodel import select

from labeling import projects
from labeling.db import read_session
from labeling.models import Annotation, ImportBatch, Job, Media, Prediction, Task, TaskEvent, User
from labeling.settings import get_settings

TEXT = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"""
IMAGE = """<View><Image name="image" value="$image"/>
<Choices name="label" toName="image"><Choice value="cat"/><Choice value="dog"/></Choices></View>"""


def png(size=(8, 8), color=(10, 20, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def zip_of(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            zf.writestr(info, data)
    return buf.getvalue()


def choice(label: str) -> list[dict]:
    return [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]


@pytest.fixture
def text_project(lead):
    return projects.create_project(lead.user, title="texts", label_config=TEXT)


@pytest.fixture
def image_project(lead):
    return projects.create_project(lead.user, title="images", label_config=IMAGE)


def stored_counts() -> dict:
    with read_session() as s:
        return {m.__name__: s.execute(select(sa.func.count()).select_from(m)).scalar_one()
                for m in (Task, ImportBatch, Annotation, Prediction, TaskEvent, Media, User, Job)}


def media_files() -> set:
    root = get_settings().media_root
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.fixture
def nothing_stored():
    """Checks, after the test's request, that the database and the media store are unchanged."""
    state = {}

    def before():
        state["counts"], state["files"] = stored_counts(), media_files()

    def check():
        assert stored_counts() == state["counts"]
        assert media_files() == state["files"]

    return before, check


def post_json(client, lead, project_id, raw: bytes, query: str = ""):
    return client.post(f"/api/projects/{project_id}/import{query}", data=raw, headers=lead.headers,
                       content_type="application/json")


def post_files(client, lead, project_id, files: list[tuple[str, bytes]], query: str = ""):
    data = {"file": [(io.BytesIO(content), name) for name, content in files]}
    return client.post(f"/api/projects/{project_id}/import{query}", data=data, headers=lead.headers,
                       content_type="multipart/form-data")


JSON_CASES = {
    "malformed JSON": (b'[{"data": {"text": "a"}', 400, "malformed JSON at line 1"),
    "empty body": (b"", 400, "empty"),
    "object where a list is expected": (b'{"text_items": ["a", "b"]}', 422, "expected a list of tasks"),
    "wrong types": (json.dumps([{"data": "just a string"}, {"data": {"text": "ok"}, "annotations": {"a": 1}}]).encode(),
                    422, "expected an object"),
    "task missing the field the config needs": (json.dumps([{"data": {"body": "no text key"}}]).encode(),
                                                422, "data field 'text'"),
    "text of the wrong type": (json.dumps([{"text": ["a", 3]}]).encode(), 422, "must be a string (text) or a list of strings"),
    "unknown label in an annotation": (json.dumps([{"data": {"text": "a"}, "annotations": [
        {"result": choice("meh"), "completed_by": "someone@example.com"}]}]).encode(), 422, "unknown label(s) ['meh']"),
    "probabilities that are NaN": (b'[{"data": {"text": "a"}, "predictions": [{"probs": {"pos": NaN, "neg": 0.5}}]}]',
                                   400, "NaN is not valid JSON"),
    "probabilities not summing to 1": (json.dumps([{"data": {"text": "a"}, "predictions": [
        {"result": choice("pos"), "probs": {"pos": 0.7, "neg": 0.7}}]}]).encode(), 422, "sum to 1.4"),
    "embedding with a string": (json.dumps([{"text": "a", "embedding": [0.1, "x"]}]).encode(), 422, "finite number"),
}


@pytest.mark.parametrize("case", list(JSON_CASES))
def test_bad_json_bodies(client, lead, text_project, nothing_stored, case):
    raw, status, reason = JSON_CASES[case]
    before, check = nothing_stored
    before()
    response = post_json(client, lead, text_project.id, raw)
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert reason in body["detail"] + " ".join(e["detail"] for e in body["errors"])
    check()


def test_row_errors_name_row_and_field(client, lead, text_project, nothing_stored):
    before, check = nothing_stored
    before()
    raw = json.dumps([{"text": "fine"}, {"data": {"text": 1}}, {"text": "fine"}, {"data": {"txt": "x"}}]).encode()
    body = post_json(client, lead, text_project.id, raw).get_json()
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(2, "data"), (4, "data")]
    assert body["detail"].startswith("2 problem(s) in 2 of 4 row(s); nothing was imported")
    check()


def bomb_zip() -> bytes:
    return zip_of({"cat/big.txt": b"\x00" * (8 << 20)})  # 8 MiB of zeros: a ratio near 1000


def slip_zip(name: str) -> bytes:
    return zip_of({"cat/ok.png": png(), name: png(color=(1, 1, 1))})


FILE_CASES = {
    "empty file": ([("tasks.json", b"")], "text", 422, "is empty"),
    "CSV in a wrong encoding": ([("tasks.csv", "text\ncafé crème\n".encode("latin-1"))], "text", 422, "not UTF-8"),
    "a truncated image": ([("cut.png", png((40, 40))[:60])], "image", 422, "truncated or corrupt"),
    "a corrupt image": ([("noise.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)], "image", 422, "not a valid JPEG image"),
    "a text file renamed .png": ([("notes.png", b"just some text, not an image\n")], "image", 422, "not an image"),
    "an image of 30000x30000 pixels": ([("huge.png", png_header_only(30000, 30000))], "image", 422,
                                       "30000x30000 pixels exceeds the limit"),
    "a zip with ../ paths": ([("slip.zip", slip_zip("../../evil.png"))], "image", 422, "unsafe path"),
    "a zip with absolute paths": ([("abs.zip", slip_zip("/etc/evil.png"))], "image", 422, "absolute path"),
    "a zip bomb": ([("bomb.zip", bomb_zip())], "image", 422, "zip bomb"),
    "SVG": ([("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')],
            "image", 422, "SVG is not accepted"),
    "SVG renamed .png": ([("drawing.png", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>')],
                         "image", 422, "SVG"),
    "an unsupported file type": ([("data.xlsx", b"PK\x05\x06" + b"\x00" * 18)], "text", 422, ""),
}


@pytest.mark.parametrize("case", list(FILE_CASES))
def test_bad_files(client, lead, text_project, image_project, nothing_stored, case):
    files, kind, status, reason = FILE_CASES[case]
    project = image_project if kind == "image" else text_project
    before, check = nothing_stored
    before()
    response = post_files(client, lead, project.id, files)
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    text = body["detail"] + " " + " ".join(str(e.get("detail")) for e in body["errors"])
    assert reason in text, text
    check()


def test_corrupt_image_among_good_ones_refuses_all(client, lead, image_project, nothing_stored):
    before, check = nothing_stored
    before()
    good = [(f"cat/{i}.png", png(color=(i, 200, 3))) for i in range(3)]
    response = post_files(client, lead, image_project.id, [*good, ("cat/bad.png", png()[:70])], "?background=false")
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["file"] == "cat/bad.png"
    check()  # the three good images were stored while checking, and removed again
    for _, data in good:
        sha = hashlib.sha256(data).hexdigest()
        assert not (get_settings().media_root / sha[:2] / sha[2:4] / f"{sha}.png").exists()


def test_upload_over_the_limit_is_413(app, client, lead, text_project, nothing_stored):
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    before, check = nothing_stored
    before()
    response = post_files(client, lead, text_project.id, [("big.txt", b"x" * 20_000 + b"\n")])
    assert response.status_code == 413
    assert "larger than the limit" in response.get_json()["detail"]
    response = post_json(client, lead, text_project.id, json.dumps([{"text": "y" * 20_000}]).encode())
    assert response.status_code == 413
    check()


def test_zip_unpacking_over_the_total_limit_is_413(client, lead, image_project, nothing_stored, monkeypatch):
    monkeypatch.setenv("LABELFAB_ZIP_MAX_TOTAL_MB", "1")
    get_settings.cache_clear()
    try:
        before, check = nothing_stored
        before()
        archive = zip_of({f"cat/{i}.png": bytes(range(256)) * 1500 for i in range(4)}, zipfile.ZIP_STORED)
        response = post_files(client, lead, image_project.id, [("many.zip", archive)])
        assert response.status_code == 413, response.get_data(as_text=True)
        assert "exceeds the limit" in response.get_json()["detail"]
        check()
    finally:
        monkeypatch.delenv("LABELFAB_ZIP_MAX_TOTAL_MB")
        get_settings.cache_clear()


def test_no_files_and_no_rights(client, lead, annotator, text_project, nothing_stored):
    before, check = nothing_stored
    before()
    response = client.post(f"/api/projects/{text_project.id}/import", data={}, headers=lead.headers,
                           content_type="multipart/form-data")
    assert response.status_code in (400, 422)
    response = post_json(client, annotator, text_project.id, b'[{"text": "a"}]')
    assert response.status_code == 403 and "may not manage" in response.get_json()["detail"]
    response = post_json(client, lead, 999999, b'[{"text": "a"}]')
    assert response.status_code == 404
    check()
