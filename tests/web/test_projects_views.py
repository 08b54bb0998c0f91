"""Project pages (list, create with the gallery, settings, members, upload, task list), the media
route's access and caching, and the CLI (project create, import with progress, demo)."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlmodel import select

from labeling import imports, projects
from labeling.db import read_session
from labeling.imports import ImportFile
from labeling.jobs.broker import is_stub
from labeling.models import Media, Task
from tests.conftest import login, wait_for

TEXT = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"""
IMAGE = """<View><Image name="image" value="$image"/>
<Choices name="label" toName="image"><Choice value="cat"/><Choice value="dog"/></Choices></View>"""


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def png(color=(9, 99, 199)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (20, 10), color).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def project(lead):
    p = projects.create_project(lead.user, title="Reviews <b>bold</b>", label_config=TEXT, description="Short reviews")
    imports.import_data(lead.user, p.id, body=[{"text": "great <script>alert(1)</script>"}, {"text": "awful"}])
    return p


def test_front_page_loads_the_project_list(client, lead, project):
    login(client, lead.email)
    page = client.get("/").get_data(as_text=True)
    assert 'hx-get="/projects/_list"' in page
    listing = client.get("/projects/_list").get_data(as_text=True)
    assert "Reviews &lt;b&gt;bold&lt;/b&gt;" in listing  # user data is text, never markup
    assert f'href="/annotate/{project.id}"' in listing and "<td class=\"wide-only\">2</td>" in listing  # its tasks (hidden on a phone)
    assert f'href="/projects/{project.id}/import"' in listing


def test_annotator_sees_projects_but_not_the_lead_pages(client, annotator, project):
    login(client, annotator.email)
    listing = client.get("/projects/_list").get_data(as_text=True)
    assert f'href="/annotate/{project.id}"' in listing and "/import" not in listing and "/review/" not in listing
    # the progress, not the states QC and review move tasks through
    assert "0 of 2 labeled" in listing and "open 2" not in listing
    assert client.get("/projects/new").status_code == 403
    assert client.get(f"/projects/{project.id}/tasks").status_code == 403
    assert client.get(f"/projects/{project.id}/settings").status_code == 403
    assert client.get(f"/projects/{project.id}/import/_recent").status_code == 403
    assert client.get(f"/projects/{project.id}").status_code == 200


def test_reviewers_find_the_review_queue_in_the_project_list(client, make_user, project):
    from labeling.models import Role

    reviewer = make_user("rev@example.com", Role.reviewer)
    login(client, reviewer.email)
    listing = client.get("/projects/_list").get_data(as_text=True)
    assert f'href="/annotate/{project.id}"' in listing and f'href="/review/{project.id}"' in listing
    assert "open 2" in listing  # a reviewer sees the tasks' states


def test_create_page_with_gallery_and_refusal(client, lead):
    login(client, lead.email)
    page = client.get("/projects/new").get_data(as_text=True)
    assert 'data-config-id="ner"' in page and 'id="config-object_detection"' in page
    assert "projects.js" in page and "data-validate-url=\"/api/projects/validate\"" in page
    bad = client.post("/projects/new", data={"csrf_token": csrf(page), "title": "X", "overlap": 1,
                                              "label_config": "<View><Choices name='c' toName='nowhere'>"
                                                              "<Choice value='a'/></Choices></View>"})
    assert bad.status_code == 422
    assert "toName=&#34;nowhere&#34;" in bad.get_data(as_text=True) or "nowhere" in bad.get_data(as_text=True)
    ok = client.post("/projects/new", data={"csrf_token": csrf(page), "title": "From the page", "overlap": 2,
                                             "label_config": TEXT})
    assert ok.status_code == 302 and "/import" in ok.headers["Location"]
    p = projects.get_project(int(ok.headers["Location"].split("/")[2]))
    assert (p.title, p.overlap, p.created_by) == ("From the page", 2, lead.id)


def test_settings_page_saves_and_refuses_with_reason(client, lead, project):
    login(client, lead.email)
    page = client.get(f"/projects/{project.id}/settings").get_data(as_text=True)
    form = {"csrf_token": csrf(page), "title": "Renamed", "description": "", "instructions": "Be quick.",
            "overlap": 2, "max_overlap": 4, "lease_seconds": 90, "prelabels": "on", "label_config": TEXT}
    r = client.post(f"/projects/{project.id}/settings", data=form)
    assert r.status_code == 302
    p = projects.get_project(project.id)
    assert (p.title, p.instructions, p.overlap, p.max_overlap, p.lease_seconds, p.restricted, p.show_predictions) == (
        "Renamed", "Be quick.", 2, 4, 90, False, True)
    # the default choice leaves it to the overlap (off above 1), and the page says it is chosen
    assert 'selected value="on"' in client.get(f"/projects/{project.id}/settings").get_data(as_text=True)
    assert client.post(f"/projects/{project.id}/settings", data=dict(form, prelabels="")).status_code == 302
    assert projects.get_project(project.id).show_predictions is None
    imports.import_data(lead.user, project.id, body=[{"data": {"text": "x"}, "annotations": [
        {"result": [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["neg"]}}]}]}])
    r = client.post(f"/projects/{project.id}/settings", data=dict(form, label_config=TEXT.replace('<Choice value="neg"/>', "")))
    assert r.status_code == 422 and "label &#39;neg&#39; is used by existing annotations" in r.get_data(as_text=True)


def test_archive_from_the_settings_page(client, lead, project):
    login(client, lead.email)
    page = client.get(f"/projects/{project.id}/settings").get_data(as_text=True)
    r = client.post(f"/projects/{project.id}/archive", data={"csrf_token": csrf(page), "archived": "1"})
    assert r.status_code == 302
    assert projects.get_project(project.id).archived_at is not None
    link = f'href="/projects/{project.id}/dashboard"'  # a lead lands on the project's dashboard
    assert link not in client.get("/projects").get_data(as_text=True)
    assert link in client.get("/projects?archived=1").get_data(as_text=True)
    assert client.post(f"/projects/{project.id}/archive", data={"archived": "0"}).status_code == 400  # no CSRF


def test_delete_from_the_settings_page_asks_for_the_title(client, lead, project):
    login(client, lead.email)
    page = client.get(f"/projects/{project.id}/settings").get_data(as_text=True)
    assert "Delete project for good" in page and 'name="confirm_title"' in page and "archive the project" in page
    r = client.post(f"/projects/{project.id}/delete", data={"csrf_token": csrf(page), "confirm_title": "Reviews"},
                    follow_redirects=True)
    assert "Nothing was deleted" in r.get_data(as_text=True)
    assert projects.get_project(project.id).title == project.title
    r = client.post(f"/projects/{project.id}/delete", data={"csrf_token": csrf(page), "confirm_title": project.title},
                    follow_redirects=True)
    assert r.status_code == 200 and "were deleted" in r.get_data(as_text=True)
    with read_session() as s:
        assert s.exec(select(Task).where(Task.project_id == project.id)).first() is None
    assert client.get(f"/projects/{project.id}/settings").status_code == 404


def test_members_page(client, lead, annotator, project):
    login(client, lead.email)
    page = client.get(f"/projects/{project.id}/members").get_data(as_text=True)
    r = client.post(f"/projects/{project.id}/members", data={"csrf_token": csrf(page), "email": annotator.email,
                                                             "role": "reviewer"})
    assert r.status_code == 302
    page = client.get(f"/projects/{project.id}/members").get_data(as_text=True)
    assert annotator.email in page and ">reviewer<" in page
    r = client.post(f"/projects/{project.id}/members", data={"csrf_token": csrf(page), "email": "ghost@example.com",
                                                             "role": "annotator"})
    # someone without an account is created, made a member and given a one-time link
    answer = r.get_data(as_text=True)
    assert r.status_code == 201 and "ghost@example.com was created" in answer
    assert re.search(r'id="invite-link">http://localhost/invite/[\w-]{40,}<', answer)
    members = {u.email: m.role for m, u in projects.list_members(lead.user, project.id)}
    assert members == {annotator.email: "reviewer", "ghost@example.com": "annotator"}
    r = client.post(f"/projects/{project.id}/members/{annotator.id}/remove", data={"csrf_token": csrf(page)})
    assert r.status_code == 302
    assert [u.email for _, u in projects.list_members(lead.user, project.id)] == ["ghost@example.com"]


def test_upload_page(client, lead, project):
    login(client, lead.email)
    page = client.get(f"/projects/{project.id}/import").get_data(as_text=True)
    assert 'id="dropzone"' in page and "upload.js" in page
    assert f'data-import-url="/api/projects/{project.id}/import"' in page
    assert "<code>$text</code>" in page and "<script>" not in page.split("<main")[1].split("</main>")[0]
    # the "Recent imports" section htmx reloads when an upload ends
    section = client.get(f"/projects/{project.id}/import/_recent").get_data(as_text=True)
    assert section.strip().startswith("<section") and 'id="recent-imports"' in section
    assert section.count("<tr>") == 2  # the header and the fixture's import


def test_task_list_filters_and_search(client, lead, project):
    login(client, lead.email)
    page = client.get(f"/projects/{project.id}/tasks").get_data(as_text=True)
    assert "great &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "2 tasks" in client.get(f"/projects/{project.id}/tasks/_count").get_data(as_text=True)
    page = client.get(f"/projects/{project.id}/tasks?q=awful").get_data(as_text=True)
    assert "awful" in page and "great" not in page.split('id="dm-table"')[1]
    assert "1 task match" in client.get(f"/projects/{project.id}/tasks/_count?q=awful").get_data(as_text=True)
    page = client.get(f"/projects/{project.id}/tasks?state=labeled").get_data(as_text=True)
    assert "No tasks match these filters" in page
    assert client.get(f"/projects/{project.id}/tasks?state=bogus").status_code == 422


def test_media_route_serves_project_users_with_caching(client, lead, make_user):
    project = projects.create_project(lead.user, title="images", label_config=IMAGE)
    imports.import_data(lead.user, project.id, files=[ImportFile("one.png", png())])
    with read_session() as s:
        media = s.exec(select(Media)).one()
        task = s.exec(select(Task)).one()
    url = task.data["image"]
    assert url == f"/media/{project.id}/{media.sha256}.png"
    assert client.get(url).status_code == 302  # not logged in: to the login page
    assert client.get(url, headers=lead.headers).data == png()  # a script with an API token
    assert client.get(url, headers={"Authorization": "Token nope"}).status_code == 401
    login(client, lead.email)
    r = client.get(url)
    assert r.status_code == 200 and r.data == png() and r.mimetype == "image/png"
    assert r.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    assert r.headers["ETag"] == f'"{media.sha256}"'
    assert client.get(url, headers={"If-None-Match": r.headers["ETag"]}).status_code == 304
    thumb = client.get(f"/media/{project.id}/thumbs/{media.sha256}.jpg")
    assert thumb.status_code == 200 and thumb.headers["Cache-Control"] == "private, no-cache"  # not made yet
    assert client.get(f"/media/{project.id}/{media.sha256}.jpg").status_code == 404
    assert client.get(f"/media/{project.id}/{'0' * 64}.png").status_code == 404
    projects.update_project(lead.user, project.id, restricted=True)
    outsider = make_user("outsider@example.com")
    client.post("/logout", data={"csrf_token": csrf(client.get("/").get_data(as_text=True))})
    login(client, outsider.email)
    assert client.get(url).status_code == 404  # not a user of the project: as if it did not exist


def test_thumbnail_after_the_job(client, lead, worker):
    from labeling import jobs
    from tests.conftest import wait_for

    project = projects.create_project(lead.user, title="images", label_config=IMAGE)
    result = imports.import_data(lead.user, project.id, files=[ImportFile("one.png", png((1, 2, 3)))])
    wait_for(lambda: jobs.get_job(result.thumbnail_job_id).status == "done", timeout=90)
    with read_session() as s:
        media = s.exec(select(Media)).one()
    login(client, lead.email)
    page = client.get(f"/projects/{project.id}/tasks").get_data(as_text=True)
    thumb_url = f"/media/{project.id}/thumbs/{media.sha256}.jpg"
    assert f'src="{thumb_url}"' in page
    r = client.get(thumb_url)
    assert r.status_code == 200 and r.mimetype == "image/jpeg"
    assert r.headers["Cache-Control"] == "private, max-age=31536000, immutable"


def test_cli_project_create_and_import(runner, admin, tmp_path, worker):
    config = tmp_path / "config.xml"
    config.write_text(IMAGE)
    result = runner.invoke(args=["project", "create", "--title", "CLI images", "--config", str(config), "--overlap", "1"])
    assert result.exit_code == 0, result.output
    project_id = int(result.output.strip().splitlines()[-1])
    for name, color in (("cat/a.png", (1, 1, 1)), ("dog/b.png", (2, 2, 2))):
        (tmp_path / "pets" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pets" / name).write_bytes(png(color))
    result = runner.invoke(args=["import", str(project_id), str(tmp_path / "pets")])
    assert result.exit_code == 0, result.output
    assert "2 tasks, 2 annotations" in result.output
    if is_stub():  # made by the command itself; with Redis/RabbitMQ by the workers
        assert "thumbnails: 2 made" in result.output
    else:
        assert "sent to the workers" in result.output

    def thumbnails_ready():
        with read_session() as s:
            return all(m.thumbnail_ready for m in s.exec(select(Media)))

    wait_for(thumbnails_ready, timeout=60)
    result = runner.invoke(args=["import", str(project_id), str(tmp_path / "pets"), "--dedupe"])
    assert result.exit_code == 0 and "0 tasks" in result.output and "2 duplicates skipped" in result.output
    (tmp_path / "bad.json").write_text('[{"image": 5}]')
    result = runner.invoke(args=["import", str(project_id), str(tmp_path / "bad.json")])
    assert result.exit_code == 1 and "row 1, field 'data'" in result.output


def test_cli_project_create_refuses_a_bad_config(runner, admin, tmp_path):
    config = tmp_path / "config.xml"
    config.write_text("<View><Text name='t' value='$t'/><MagicWand name='mw' toName='t'/></View>")
    result = runner.invoke(args=["project", "create", "--title", "x", "--config", str(config)])
    assert result.exit_code == 1 and "<MagicWand> on line 1 is not supported yet" in result.output


def test_cli_demo_queues_a_first_qc_run_whose_suspects_wait_for_review(runner, admin, worker):
    from labeling import demo, jobs, review

    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "QC: run queued as job" in result.output
    job_id = int(re.search(r"QC: run queued as job (\d+)", result.output).group(1))
    job = wait_for(lambda: (j := jobs.get_job(job_id)).status in ("done", "failed") and j, timeout=120)
    assert job.status == "done", job.message
    digits = next(p for p in projects.list_projects(admin.user) if p[0].title == demo.DIGITS_TITLE)[0]
    suspect = review.next_suspect(digits.id, admin.user)
    assert suspect is not None and suspect["task"]["id"]
    again = runner.invoke(args=["demo"])  # the projects exist: no second run
    assert again.exit_code == 0 and "QC:" not in again.output
