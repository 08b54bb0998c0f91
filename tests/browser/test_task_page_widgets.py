"""The task page shows each annotation through the labeling page's own widgets, read-only: an
image's polygon (Annotorious) and brush mask (the brush layer), text spans in their label colours
with a relation, an audio segment on the waveform, a video's timeline span; each with its region
list. Nothing on the page changes the annotation: drags, clicks and the labeling keys reach no
widget, nothing is sent. The players' buttons still play, pause and step the media."""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import expect

from labeling import annotations, router
from labeling.imports import ImportFile
from tests.browser.conftest import login
from tests.browser.test_annotate import make_project, png_bytes
from tests.browser.test_annotate_audio import SEGMENTS
from tests.browser.test_annotate_linked import drag, template
from tests.browser.test_annotate_video import CONFIG as VIDEO_XML
from tests.browser.test_annotate_video import SRC as VIDEO_SRC
from tests.browser.test_annotate_video import serve_video
from tests.labeling.test_media_info import wav

pytestmark = pytest.mark.browser

W, H = 640, 400
IMAGE_XML = """<View><Image name="image" value="$image"/>
<PolygonLabels name="poly" toName="image"><Label value="Car" background="#e6194b"/></PolygonLabels>
<BrushLabels name="mask" toName="image"><Label value="Road" background="#3cb44b"/></BrushLabels></View>"""


def annotate(project, user, result: list[dict]) -> tuple[int, int]:
    """One annotation of the project's first task by ``user``: (task id, annotation id)."""
    task = router.next_task(project.id, user.user)
    ann, _ = annotations.submit(task.id, user.user, result=result)
    return task.id, ann.id


def open_task_page(page, lead, project, task_id: int, ann_id: int):
    """The task page as a lead, once the annotation's read-only workspace shows its regions; the
    requests that would change something are recorded in ``page.writes``."""
    page.writes = []
    page.on("request", lambda r: page.writes.append(f"{r.method} {r.url}") if r.method != "GET" else None)
    login(page, lead.email)
    page.writes.clear()  # the log-in's own POST
    page.goto(f"/projects/{project.id}/tasks/{task_id}")
    view = page.locator(f'[data-task-view="annotation-{ann_id}"]')
    expect(view).to_have_attribute("data-ready", "1")
    return view


def shown_result(page) -> str:
    return page.evaluate("() => JSON.stringify(window.labelfabAnno.views.map((ws) => ws.getResult()))")


def try_to_edit(page, view, target) -> None:
    """What an annotator would do to change regions: drag on the object, click a region in the
    list, press label keys, Delete, undo, submit."""
    b = target.bounding_box()
    drag(page, b, 0.1, 0.1, 0.45, 0.45)
    page.mouse.click(b["x"] + b["width"] * 0.5, b["y"] + b["height"] * 0.5)
    view.locator(".anno-region-name").first.click(force=True)
    for key in ("1", "2", "Delete", "Backspace", "Control+z", "Tab", "ArrowRight", "Shift+ArrowRight", "m", "Enter"):
        page.keyboard.press(key)
    page.wait_for_timeout(400)  # a gesture becomes an edit 250 ms after it ends: let one happen if it would


def play_then_pause(page, button, media_js: str, seconds: float) -> None:
    """Play with ``button`` until the media (``media_js``, of a view ``ws``) is past ``seconds``, then pause."""
    button.click()
    expect(button).to_have_text("Pause")
    page.wait_for_function(f"() => window.labelfabAnno.views.some((ws) => {media_js}.currentTime > {seconds})")
    button.click()
    expect(button).to_have_text("Play")


def test_an_image_task_shows_its_polygon_and_brush_mask_read_only(page, shot, lead, annotator):
    from label_studio_sdk.converter.brush import mask2rle

    project = make_project(lead, IMAGE_XML, None, title="Streets",
                           files=[ImportFile(name="street.png", data=png_bytes(W, H))])
    painted = np.zeros((H, W), dtype=np.uint8)
    painted[260:380, 40:600] = 255
    size = {"to_name": "image", "original_width": W, "original_height": H, "image_rotation": 0}
    result = [
        {**size, "id": "car1", "from_name": "poly", "type": "polygonlabels",
         "value": {"points": [[20, 25], [50, 25], [50, 65], [20, 65]], "closed": True, "polygonlabels": ["Car"]}},
        {**size, "id": "road1", "from_name": "mask", "type": "brushlabels",
         "value": {"format": "rle", "rle": mask2rle(painted), "brushlabels": ["Road"]}},
    ]
    task_id, ann_id = annotate(project, annotator, result)
    view = open_task_page(page, lead, project, task_id, ann_id)

    regions = view.locator(".anno-region")
    expect(regions).to_have_count(2)
    expect(view.locator('[data-regions="poly"] .anno-region')).to_contain_text("Car")
    expect(view.locator('[data-regions="poly"] .anno-region')).to_contain_text("4 corners")
    expect(view.locator('[data-regions="mask"] .anno-region')).to_contain_text("Road")
    expect(view.locator("canvas.anno-mask")).to_have_count(1)  # the brush layer's mask
    expect(view.locator(".a9s-annotationlayer .a9s-annotation")).to_have_count(1)  # Annotorious's polygon
    alpha = page.evaluate("""() => {
        const c = document.querySelector('[data-task-view] canvas.anno-mask');
        const px = (x, y) => c.getContext('2d').getImageData(x, y, 1, 1).data[3];
        return [px(300, 300), px(300, 100)];
    }""")
    assert alpha[0] > 0 and alpha[1] == 0  # painted where the mask is, clear elsewhere
    before = shown_result(page)
    expect(view.locator('[data-control="poly"] input').first).to_be_disabled()
    view.scroll_into_view_if_needed()
    shot(page, "task-page-image-read-only")

    try_to_edit(page, view, view.locator(".anno-image"))
    assert shown_result(page) == before
    expect(regions).to_have_count(2)
    expect(view.locator(".anno-region.is-selected")).to_have_count(0)
    assert page.writes == []
    assert [r["value"] for r in annotations.get_annotation(ann_id, lead.user).result] == [r["value"] for r in result]


def test_a_text_task_shows_its_spans_and_relation_read_only(page, shot, lead, annotator):
    text = "Microsoft was founded by Bill Gates and Paul Allen on April 4, 1975."
    project = make_project(lead, template("natural-language-processing__relation-extraction"), [{"text": text}],
                           title="Relations")
    spans = [{"id": rid, "from_name": "label", "to_name": "text", "type": "labels",
              "value": {"start": start, "end": end, "text": text[start:end], "labels": [label]}}
             for rid, start, end, label in (("m", 0, 9, "Organization"), ("b", 25, 35, "Person"))]
    relation = {"from_id": "m", "to_id": "b", "type": "relation", "direction": "right", "labels": ["org:founded_by"]}
    task_id, ann_id = annotate(project, annotator, [*spans, relation])
    view = open_task_page(page, lead, project, task_id, ann_id)

    regions = view.locator('[data-regions="label"] .anno-region')
    expect(regions).to_have_count(2)
    expect(regions.nth(0)).to_contain_text("Organization")
    expect(regions.nth(0)).to_contain_text("“Microsoft”")
    expect(regions.nth(1)).to_contain_text("Person")
    expect(view.locator("[data-relations] .anno-relation")).to_contain_text("org:founded_by")
    expect(view.locator("svg.anno-relations path.anno-relation-line")).to_have_count(1)
    # the spans are highlighted in the text in their labels' colours (orange, green)
    colours = page.evaluate("""() => {
        const ws = window.labelfabAnno.views[0];
        return ws.objects.text.annotator.getAnnotations().map((a) => ws.colorOf('label', ws.regionLabel(a).label));
    }""")
    assert sorted(colours) == ["green", "orange"]
    expect(page.locator("[data-task-view] .anno-text-body")).to_have_text(text)
    before = shown_result(page)
    view.scroll_into_view_if_needed()
    shot(page, "task-page-text-read-only")

    body = view.locator(".anno-text-body")
    b = body.bounding_box()
    page.mouse.move(b["x"] + 5, b["y"] + 8)  # select words with the mouse, as when labeling
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] * 0.6, b["y"] + 8, steps=8)
    page.mouse.up()
    try_to_edit(page, view, body)
    page.keyboard.press("Alt+r")
    assert shown_result(page) == before
    expect(regions).to_have_count(2)
    expect(view.locator("[data-relations] .anno-relation")).to_have_count(1)
    assert page.writes == []


def test_an_audio_task_shows_its_segment_read_only(page, shot, lead, annotator):
    project = make_project(lead, SEGMENTS, None, title="Calls", files=[ImportFile("call.wav", wav(4.0, rate=16000))])
    segment = {"id": "seg1", "from_name": "labels", "to_name": "audio", "type": "labels", "original_length": 4.0,
               "value": {"start": 1.0, "end": 3.0, "channel": 0, "labels": ["Speech"]}}
    words = {"id": "seg1", "from_name": "transcription", "to_name": "audio", "type": "textarea",
             "value": {"start": 1.0, "end": 3.0, "channel": 0, "text": ["hello from the segment"]}}
    task_id, ann_id = annotate(project, annotator, [segment, words])
    view = open_task_page(page, lead, project, task_id, ann_id)

    region = view.locator("[data-regions] .anno-region")
    expect(region).to_have_count(1)
    expect(region).to_contain_text("Speech")
    expect(region).to_contain_text("1.00 s – 3.00 s")
    expect(view.locator(".anno-audio-wave [part~='region']")).to_have_count(1)  # on the waveform
    before = shown_result(page)
    assert "hello from the segment" in before
    view.scroll_into_view_if_needed()
    shot(page, "task-page-audio-read-only")

    try_to_edit(page, view, view.locator(".anno-audio-wave"))
    assert shown_result(page) == before
    expect(view.locator(".anno-audio-wave [part~='region']")).to_have_count(1)
    assert page.writes == []

    # the recording plays from its Play button, and pauses
    play_then_pause(page, view.locator("[data-audio-play]"), "ws.objects.audio.media", 0.3)
    expect(view.locator("[data-audio-status]")).to_contain_text("Paused")
    assert shown_result(page) == before
    assert page.writes == []


def test_a_video_task_plays_steps_and_keeps_its_span_read_only(page, lead, annotator):
    project = make_project(lead, VIDEO_XML, [{"video": VIDEO_SRC}], title="Clips")
    span = {"id": "span1", "from_name": "events", "to_name": "video", "type": "timelinelabels",
            "value": {"ranges": [{"start": 5, "end": 15}], "timelinelabels": ["Moving"]}}
    task_id, ann_id = annotate(project, annotator, [span])
    serve_video(page)
    view = open_task_page(page, lead, project, task_id, ann_id)
    expect(view.locator("[data-video-regions] li")).to_contain_text("frames 5–15")
    before = shown_result(page)
    frame = view.locator("[data-video-frame]")

    view.get_by_role("button", name="A frame forward").click()
    view.get_by_role("button", name="A frame forward").click()
    expect(frame).to_contain_text("Frame 3")
    play_then_pause(page, view.locator(".anno-video-play"), "ws.objects.video.video", 0.5)

    try_to_edit(page, view, view.locator("video"))
    assert shown_result(page) == before
    expect(view.locator("[data-video-regions] li")).to_have_count(1)
    assert page.writes == []
