"""PDF documents as media: read with pypdf (page count, first page size), bounded, stored by
content, imported as tasks of a project whose config has a <Pdf>, served with their type."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image, ImageDraw
from sqlmodel import select

from labeling import imports, projects
from labeling.db import read_session
from labeling.errors import DomainError
from labeling.imports import ImportFile
from labeling.media import MediaError, thumbnail_for
from labeling.models import Media, Task
from labeling.pdfs import read_pdf

CONFIG = """<View>
  <Pdf name="pdf" value="$pdf"/>
  <Choices name="page_type" toName="pdf" perItem="true"><Choice value="Cover"/><Choice value="Body"/></Choices>
  <Choices name="doc_type" toName="pdf"><Choice value="Invoice" hotkey="i"/><Choice value="Letter" hotkey="l"/></Choices>
</View>"""


def pdf_bytes(pages: int = 3, size: tuple[int, int] = (612, 792)) -> bytes:
    """A PDF of ``pages`` pages (Pillow's PDF writer), each showing its number in large type."""
    images = []
    for n in range(pages):
        im = Image.new("RGB", size, (255, 255, 255))
        draw = ImageDraw.Draw(im)
        draw.rectangle([20, 20, size[0] - 20, size[1] - 20], outline=(40, 60, 160), width=6)
        draw.text((size[0] // 3, size[1] // 3), f"PAGE {n + 1}", fill=(200, 30, 30), font_size=96)
        images.append(im)
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=72)
    return out.getvalue()


def test_read_pdf_counts_pages_and_reads_the_first_page_size():
    data = pdf_bytes(3, (600, 800))
    info = read_pdf(data, name="doc.pdf", max_bytes=len(data), max_pages=3)
    assert (info.pages, info.width, info.height, info.size, info.ext, info.mime) == (3, 600, 800, len(data), "pdf",
                                                                                    "application/pdf")


@pytest.mark.parametrize(("data", "kw", "needle"), [
    (b"%PDF-1.4\nnot really", {}, "not a readable PDF"),
    (b"GIF89a", {}, "not a PDF document"),
    (None, {"max_pages": 2}, "the PDF has 3 pages; the limit is 2"),
    (None, {"max_bytes": 100}, "exceeds the limit of 100 bytes"),
])
def test_bad_or_large_pdfs_are_refused_by_name(data, kw, needle):
    data = data if data is not None else pdf_bytes(3)
    with pytest.raises(MediaError) as err:
        read_pdf(data, name="doc.pdf", **{"max_bytes": 10_000_000, "max_pages": 100, **kw})
    assert str(err.value).startswith("doc.pdf: ") and needle in str(err.value)


def test_an_uploaded_pdf_becomes_a_task_and_is_served_as_a_pdf(client, lead, annotator):
    project = projects.create_project(lead.user, title="Documents", label_config=CONFIG)
    data = pdf_bytes(3)
    report = imports.import_data(lead.user, project.id, files=[ImportFile("contract.pdf", data)], background=False,
                                 return_task_ids=True)
    assert report.task_count == 1, report
    with read_session() as s:
        task = s.get(Task, report.task_ids[0])
        media = s.exec(select(Media)).one()
    assert (media.ext, media.mime, media.pages, media.thumbnail_ready) == ("pdf", "application/pdf", 3, True)
    url = task.data["pdf"]
    assert url == f"/media/{project.id}/{media.sha256}.pdf"
    served = client.get(url, headers=annotator.headers)
    assert served.status_code == 200 and served.mimetype == "application/pdf" and served.data == data
    # PDF.js asks for byte ranges of large documents: the route answers them
    part = client.get(url, headers={**annotator.headers, "Range": "bytes=0-7"})
    assert part.status_code == 206 and part.data == data[:8] and part.headers["Content-Range"] == f"bytes 0-7/{len(data)}"
    assert thumbnail_for(url) is None  # no image thumbnail for a document (the data manager shows its URL)
    # the same bytes again: stored once
    again = imports.import_data(lead.user, project.id, files=[ImportFile("copy.pdf", data)], background=False)
    assert again.task_count == 1
    with read_session() as s:
        assert len(s.exec(select(Media)).all()) == 1


def test_a_pdf_is_refused_where_the_config_has_no_pdf_and_a_broken_one_is_named(lead):
    images = projects.create_project(lead.user, title="Images", label_config=(
        '<View><Image name="image" value="$image"/><Choices name="c" toName="image"><Choice value="a"/></Choices></View>'))
    with pytest.raises(DomainError) as err:
        imports.import_data(lead.user, images.id, files=[ImportFile("doc.pdf", pdf_bytes(1))], background=False)
    assert "has no <Pdf>" in str(getattr(err.value, "errors", err.value))
    docs = projects.create_project(lead.user, title="Docs", label_config=CONFIG)
    with pytest.raises(DomainError) as err:
        imports.import_data(lead.user, docs.id, files=[ImportFile("broken.pdf", b"%PDF-1.7\n garbage")], background=False)
    assert "broken.pdf: not a readable PDF" in str(getattr(err.value, "errors", err.value))


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_pdfs_in_a_zip_become_tasks_as_uploaded_ones_do(lead):
    project = projects.create_project(lead.user, title="Archive", label_config=CONFIG)
    contract, letter = pdf_bytes(3), pdf_bytes(2, (400, 500))
    report = imports.import_data(lead.user, project.id, background=False, return_task_ids=True,
                                 files=[ImportFile("docs.zip", _zip({"docs/contract.pdf": contract,
                                                                     "docs/letter.pdf": letter}))])
    assert (report.task_count, report.annotation_count) == (2, 0)  # one folder: the root, no labels
    with read_session() as s:
        tasks = {t.file_name: t for t in s.exec(select(Task))}
        assert set(tasks) == {"docs/contract.pdf", "docs/letter.pdf"}
        pages = {}
        for name, task in tasks.items():
            media = s.get(Media, task.media_id)
            assert task.data == {"pdf": f"/media/{project.id}/{media.sha256}.pdf"}
            assert (media.ext, media.mime, media.thumbnail_ready) == ("pdf", "application/pdf", True)
            pages[name] = (media.pages, media.width, media.height)
    assert pages == {"docs/contract.pdf": (3, 612, 792), "docs/letter.pdf": (2, 400, 500)}


def test_a_zips_pdfs_meet_the_same_checks(lead):
    project = projects.create_project(lead.user, title="Archive", label_config=CONFIG)
    with pytest.raises(DomainError) as err:  # a broken member is named with its archive
        imports.import_data(lead.user, project.id, background=False,
                            files=[ImportFile("docs.zip", _zip({"ok.pdf": pdf_bytes(1), "broken.pdf": b"%PDF-1.7\n junk"}))])
    (problem,) = err.value.errors
    assert problem["file"] == "docs.zip/broken.pdf" and "broken.pdf: not a readable PDF" in problem["detail"]
    with pytest.raises(DomainError) as err:  # a file named .pdf that is none
        imports.import_data(lead.user, project.id, background=False,
                            files=[ImportFile("docs.zip", _zip({"fake.pdf": b"GIF89a not a pdf"}))])
    assert "docs.zip/fake.pdf" in str(getattr(err.value, "errors", err.value))
    with pytest.raises(DomainError) as err:  # the zip's own checks: a member that expands too much
        imports.import_data(lead.user, project.id, background=False,
                            files=[ImportFile("bomb.zip", _zip({"big.pdf": b"%PDF-1.4\n" + b"0" * 5_000_000}))])
    assert "likely zip bomb" in str(err.value)
    with read_session() as s:
        assert s.exec(select(Task)).all() == [] and s.exec(select(Media)).all() == []
