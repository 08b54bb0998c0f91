"""A video on the labeling page, driven like a person would: frames stepped with the keyboard, a
timeline span marked with a label's key at its first and last frame, a track's box drawn with the
mouse on one frame and moved on another (two keyframes), submitted; the stored result is Label
Studio's, and the box the page shows between the keyframes is the one Label Studio interpolates."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from labeling import imports, projects
from labeling.schema import parse_label_config, validate_result
from labeling.schema.video import box_at
from tests.browser.test_annotate import annotations_of, open_annotate
from tests.conftest import wait_for

pytestmark = pytest.mark.browser

VIDEO = Path(__file__).parent / "media" / "frames.webm"  # 160x120, 25 fps, 50 frames (media/make_video.py)
CONFIG = """<View>
  <Video name="video" value="$video" frameRate="25"/>
  <TimelineLabels name="events" toName="video">
    <Label value="Moving" background="#16a34a"/>
    <Label value="Still" background="#9333ea"/>
  </TimelineLabels>
  <Labels name="who" toName="video">
    <Label value="Square" hotkey="q" background="#f97316"/>
    <Label value="Other" hotkey="e"/>
  </Labels>
  <VideoRectangle name="box" toName="video"/>
</View>"""


SRC = "/test-media/frames.webm"


def serve_video(page) -> None:
    """The test video at ``SRC`` on the server's own origin (the page's CSP loads media from it
    alone), answered by the browser context with HTTP range requests as werkzeug answers them
    (uploaded videos are stored and served by content, by the /media/ route: tested elsewhere)."""
    serve_bytes(page, SRC, VIDEO.read_bytes(), "video/webm")


def serve_bytes(page, src: str, data: bytes, content_type: str) -> None:
    """``data`` at the path ``src`` of the server's origin, answered by the browser context with
    HTTP range requests as werkzeug answers them."""

    def answer(route):
        wanted = route.request.headers.get("range", "")
        if wanted.startswith("bytes="):
            first, _, last = wanted[6:].partition("-")
            start, end = int(first or 0), min(int(last) if last else len(data) - 1, len(data) - 1)
            route.fulfill(status=206, body=data[start:end + 1], headers={
                "Content-Type": content_type, "Accept-Ranges": "bytes",
                "Content-Range": f"bytes {start}-{end}/{len(data)}"})
        else:
            route.fulfill(status=200, body=data, headers={"Content-Type": content_type, "Accept-Ranges": "bytes"})

    page.route(f"**{src}", answer)


def frame_is(page, n: int) -> None:
    expect(page.locator("[data-video-frame]")).to_have_text(f"Frame {n} / 50 · {n / 25:.2f} s")


def press(page, key: str, times: int = 1) -> None:
    for _ in range(times):
        page.keyboard.press(key)


def shown_box(page) -> dict[str, float]:
    return page.evaluate("""() => {
        const b = document.querySelector('.anno-video-box');
        return {x: parseFloat(b.style.left), y: parseFloat(b.style.top),
                width: parseFloat(b.style.width), height: parseFloat(b.style.height)};
    }""")


def test_frames_spans_and_a_tracked_box_with_the_keyboard_and_mouse(page, shot, lead, annotator):
    project = projects.create_project(lead.user, title="Video tracking", label_config=CONFIG)
    imports.import_data(lead.user, project.id, body=[{"video": SRC}], background=False)
    serve_video(page)
    open_annotate(page, annotator, project)
    page.wait_for_load_state("load")
    frame_is(page, 1)
    # the video really plays in this browser: its picture has a size
    assert page.evaluate("document.querySelector('video').videoWidth") == 160

    # a timeline span: "1" (Moving) at frame 5, ten frames on, "1" again
    press(page, ".", 4)
    frame_is(page, 5)
    press(page, "1")
    expect(page.locator(".anno-video-pending")).to_contain_text("from frame 5")
    press(page, ">")
    frame_is(page, 15)
    press(page, "1")
    expect(page.locator("[data-video-regions] li")).to_have_count(1)
    expect(page.locator("[data-video-regions] li")).to_contain_text("frames 5–15")

    # back to frame 1 (ten, then four single frames with Alt+Left), pick "Square", draw a box
    press(page, "<")
    press(page, "Alt+ArrowLeft", 4)
    frame_is(page, 1)
    press(page, "Escape")  # the span is selected: deselect it, so the box starts a new track
    press(page, "q")
    overlay = page.locator("[data-video-overlay]").bounding_box()
    at = lambda px, py: (overlay["x"] + overlay["width"] * px / 100, overlay["y"] + overlay["height"] * py / 100)  # noqa: E731
    page.mouse.move(*at(10, 20))
    page.mouse.down()
    page.mouse.move(*at(25, 40), steps=4)
    page.mouse.move(*at(40, 60), steps=4)
    page.mouse.up()
    expect(page.locator(".anno-video-box.is-keyframe")).to_have_count(1)
    first = shown_box(page)

    # ten frames on the box is held (no keyframe here); moving it makes frame 11 a keyframe
    press(page, ">")
    frame_is(page, 11)
    expect(page.locator(".anno-video-box.is-keyframe")).to_have_count(0)
    page.mouse.move(*at(25, 40))
    page.mouse.down()
    page.mouse.move(*at(40, 45), steps=4)
    page.mouse.move(*at(55, 40), steps=4)
    page.mouse.up()
    expect(page.locator(".anno-video-box.is-keyframe")).to_have_count(1)
    second = shown_box(page)
    assert second["x"] == pytest.approx(first["x"] + 30, abs=1.0) and second["y"] == pytest.approx(first["y"], abs=1.0)

    # halfway between the keyframes the page shows the interpolated box
    press(page, ",", 5)
    frame_is(page, 6)
    expect(page.locator(".anno-video-box.is-keyframe")).to_have_count(0)
    halfway = shown_box(page)
    shot(page, "annotate-video-tracking")

    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    wait_for(lambda: annotations_of(annotator.id, project.id))
    (saved,) = annotations_of(annotator.id, project.id)
    assert validate_result(parse_label_config(CONFIG), saved.result, {"video": "x"}) == []
    by_type = {item["type"]: item for item in saved.result}
    assert set(by_type) == {"timelinelabels", "videorectangle"}
    span = by_type["timelinelabels"]
    assert (span["from_name"], span["to_name"], span["value"]) == (
        "events", "video", {"ranges": [{"start": 5, "end": 15}], "timelinelabels": ["Moving"]})
    track = by_type["videorectangle"]
    assert (track["from_name"], track["to_name"], track["origin"]) == ("box", "video", "manual")
    value = track["value"]
    assert value["labels"] == ["Square"] and value["framesCount"] == 50 and value["duration"] == pytest.approx(2.0)
    seq = value["sequence"]
    assert [(k["frame"], k["enabled"], k["rotation"], k["time"]) for k in seq] == [(1, True, 0, 0.04), (11, True, 0, 0.44)]
    assert seq[0]["x"] == pytest.approx(10, abs=1) and seq[0]["y"] == pytest.approx(20, abs=1)
    assert seq[0]["width"] == pytest.approx(30, abs=1) and seq[0]["height"] == pytest.approx(40, abs=1)
    assert seq[1]["x"] == pytest.approx(seq[0]["x"] + 30, abs=1) and seq[1]["width"] == seq[0]["width"]
    # the box shown at frame 6 is Label Studio's interpolation of the stored keyframes
    expected = box_at(seq, 6)
    for prop in ("x", "y", "width", "height"):
        assert halfway[prop] == pytest.approx(expected[prop], abs=0.01)
    assert expected["x"] == pytest.approx((seq[0]["x"] + seq[1]["x"]) / 2)


def test_keyframes_lifespan_delete_undo_and_the_earlier_annotation(page, shot, lead, annotator):
    project = projects.create_project(lead.user, title="Video keys", label_config=CONFIG)
    imports.import_data(lead.user, project.id, body=[{"video": SRC}, {"video": SRC}], background=False)
    serve_video(page)
    open_annotate(page, annotator, project)
    page.wait_for_load_state("load")
    frame_is(page, 1)
    overlay = page.locator("[data-video-overlay]").bounding_box()
    at = lambda px, py: (overlay["x"] + overlay["width"] * px / 100, overlay["y"] + overlay["height"] * py / 100)  # noqa: E731
    page.mouse.move(*at(20, 20))
    page.mouse.down()
    page.mouse.move(*at(50, 50), steps=5)
    page.mouse.up()
    expect(page.locator(".anno-video-box")).to_have_count(1)

    press(page, ">")  # frame 11: K makes it a keyframe (the box held there), H switches the track off after it
    press(page, "k")
    expect(page.locator(".anno-video-box.is-keyframe")).to_have_count(1)
    press(page, "h")
    press(page, ">")
    frame_is(page, 21)
    expect(page.locator(".anno-video-box")).to_have_count(0)  # hidden after the switched-off keyframe
    press(page, "<")
    expect(page.locator(".anno-video-box")).to_have_count(1)  # its own frame still shows it
    press(page, "k")  # and K there removes that keyframe again ...
    expect(page.locator(".anno-video-box.is-keyframe")).to_have_count(0)
    press(page, "Control+z")  # ... which undo brings back
    expect(page.locator(".anno-video-box.is-keyframe")).to_have_count(1)

    # a one-frame span ("2": Still at frame 11), deleted, and back with undo
    press(page, "2")
    press(page, "2")
    expect(page.locator("[data-video-regions] li")).to_have_count(2)
    press(page, "Delete")
    expect(page.locator("[data-video-regions] li")).to_have_count(1)
    press(page, "Control+z")
    expect(page.locator("[data-video-regions] li")).to_have_count(2)
    expect(page.locator("[data-video-regions] li").nth(1)).to_contain_text("frame 11")
    shot(page, "annotate-video-keyframes")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('[data-anno=\"task-id\"]').textContent.startsWith('Task ')"
                           " && document.querySelectorAll('[data-video-regions] li').length === 0")

    wait_for(lambda: annotations_of(annotator.id, project.id))  # the submit is saved by the page's outbox
    (saved,) = annotations_of(annotator.id, project.id)
    by_type = {item["type"]: item for item in saved.result}
    seq = by_type["videorectangle"]["value"]["sequence"]
    assert [(k["frame"], k["enabled"]) for k in seq] == [(1, True), (11, False)]
    assert seq[1]["x"] == seq[0]["x"] and seq[1]["width"] == seq[0]["width"]  # K kept the box it showed
    assert by_type["videorectangle"]["value"]["labels"] == []  # no label picked: Label Studio's allowEmpty
    assert by_type["timelinelabels"]["value"] == {"ranges": [{"start": 11, "end": 11}], "timelinelabels": ["Still"]}

    # on the next task, Backspace goes back to the earlier annotation: its track and span are there
    page.wait_for_load_state("load")
    press(page, "Backspace")
    expect(page.locator('[data-anno="task-id"]')).to_contain_text("earlier annotation")
    expect(page.locator("[data-video-regions] li")).to_have_count(2)
    expect(page.locator("[data-video-regions] li").first).to_contain_text("frames 1–11, 2 keyframes")


def test_label_studios_video_classification_template_with_a_key(page, lead, annotator):
    xml = (Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"
           / "videos__video-classification.xml").read_text()
    project = projects.create_project(lead.user, title="Video classes", label_config=xml)
    imports.import_data(lead.user, project.id, body=[{"video": SRC}], background=False)
    serve_video(page)
    open_annotate(page, annotator, project)
    page.wait_for_load_state("load")
    # no frameRate in the template: Label Studio's 24 frames per second, 48 frames in 2 s
    expect(page.locator("[data-video-frame]")).to_have_text("Frame 1 / 48 · 0.04 s")
    press(page, "Space")  # plays, and Space again pauses
    page.wait_for_function("() => !document.querySelector('video').paused")
    press(page, "Space")
    page.wait_for_function("() => document.querySelector('video').paused")
    press(page, "2")  # Sharp
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    wait_for(lambda: annotations_of(annotator.id, project.id))
    (saved,) = annotations_of(annotator.id, project.id)
    assert saved.result == [{"id": "choice-choices", "from_name": "choice", "to_name": "video", "type": "choices",
                             "value": {"choices": ["Sharp"]}}]


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_the_player_and_its_timeline_leave_submit_on_screen(page, shot, lead, annotator, width, height):
    """A 720 px wide player and its timeline scroll in the data pane: the page is as high as the window."""
    from tests.browser.test_small_screens import fits_the_window

    project = projects.create_project(lead.user, title="Video size", label_config=CONFIG)
    imports.import_data(lead.user, project.id, body=[{"video": SRC}], background=False)
    serve_video(page)
    page.set_viewport_size({"width": width, "height": height})
    open_annotate(page, annotator, project)
    expect(page.locator("[data-video-frame]")).to_have_text("Frame 1 / 50 · 0.04 s")
    fits_the_window(page)
    if width == 1280:  # the player sized to the window: its frame bar and timeline in view too, nothing to scroll
        over = page.locator(".anno-data").evaluate("(pane) => pane.scrollHeight - pane.clientHeight")
        assert over <= 0, f"the player, its frame bar and timeline are {over} px higher than the data pane"
    shot(page, f"video-size-{width}")
