"""Media that play together (Label Studio's ``sync``), driven with the keyboard as a person would.

- Label Studio's "video timeline segmentation" template unchanged: ``<Video sync="audio">`` and
  ``<Audio sync="video">`` of the same file. The audio sounds, the video is muted and follows:
  play, pause and seeks on either move the other; a segment marked on the audio at the frame the
  video shows is stored as Label Studio stores it.
- The "conversational analysis" template unchanged: ``<Paragraphs sync="audio" audioUrl=...>`` and
  ``<Audio sync="text">``. A paragraph's play button plays its part of the audio, the paragraph
  the audio is in is highlighted, and the audio's keys (play, seek, speed) drive the dialogue.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from labeling.imports import ImportFile
from tests.browser.test_annotate import annotations_of, make_project, open_annotate
from tests.browser.test_annotate_video import serve_bytes
from tests.labeling.test_media_info import wav

pytestmark = pytest.mark.browser

TEMPLATES = Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"
TIMELINE = (TEMPLATES / "videos__video-timeline-segmentation.xml").read_text(encoding="utf-8")
DIALOGUE = (TEMPLATES / "audio-speech-processing__conversational-analysis.xml").read_text(encoding="utf-8")
# 160x120, 24 fps (the template names no frameRate: Label Studio's 24), 96 frames and an Opus tone
# 8 ms longer (media/make_video.py): the page counts 97 frames, as Label Studio's editor would
VIDEO = Path(__file__).parent / "media" / "frames_sound.webm"
FPS, FRAMES = 24, 97


def media_of(page, name: str) -> dict:
    """The state of an object's media element (its audio, video, or a dialogue's own audio)."""
    return page.evaluate("""(name) => {
        const o = window.labelfabAnnotate.workspace.objects[name];
        const m = o.media || o.video;
        return {time: m.currentTime, paused: m.paused, muted: m.muted, rate: m.playbackRate};
    }""", name)


def wait_media(page, name: str, condition: str) -> None:
    """Wait until ``condition`` (JavaScript over ``m``, the object's media element) holds; if it
    never does, the failure says where every synced member is and which echoes it still awaits."""
    try:
        page.wait_for_function(f"""(name) => {{
            const o = window.labelfabAnnotate.workspace.objects[name];
            const m = o && (o.media || o.video);
            return !!m && ({condition});
        }}""", arg=name)
    except PlaywrightTimeout:
        members = page.evaluate("""() => [...(window.labelfabAnnotate.workspace.syncGroups || new Map()).values()]
            .flatMap((g) => [...g.members.values()]).map((m) => ({name: m.name, time: m.media.currentTime,
                paused: m.media.paused, seeking: m.media.seeking, echo: m.echo}))""")
        raise AssertionError(f"{name}: never {condition}; synced members: {members}") from None


def frame_is(page, n: int) -> None:
    expect(page.locator("[data-video-frame]")).to_have_text(f"Frame {n} / {FRAMES} · {n / FPS:.2f} s")


def test_video_and_its_audio_play_pause_and_seek_together(page, shot, lead, annotator):
    project = make_project(lead, TIMELINE, None, title="Skate tricks",
                           files=[ImportFile("skate.webm", VIDEO.read_bytes())])
    open_annotate(page, annotator, project)
    page.wait_for_load_state("load")
    page.wait_for_function("""() => {
        const o = window.labelfabAnnotate.workspace.objects;
        return o.video && o.video.length === 97 && o.audio && o.audio.wave && o.audio.duration > 3.9;
    }""")
    frame_is(page, 1)
    expect(page.locator("[data-audio-status]")).to_contain_text("Paused 0:00.0 / 0:04.0")

    # Space (the video's play key) plays both: the audio sounds, the video is muted
    page.keyboard.press("Space")
    wait_media(page, "audio", "!m.paused && m.currentTime > 0.5")
    wait_media(page, "video", "!m.paused && m.currentTime > 0.5")
    assert media_of(page, "video")["muted"] and not media_of(page, "audio")["muted"]
    expect(page.locator("[data-audio-status]")).to_contain_text("Playing")
    page.keyboard.press("Space")  # pauses both, the video where the audio is
    wait_media(page, "audio", "m.paused")
    wait_media(page, "video", "m.paused")
    audio, video = media_of(page, "audio"), media_of(page, "video")
    assert video["time"] == pytest.approx(audio["time"], abs=0.05)

    # a seek on the video (ten frames on, one back) moves the audio to the frame's time
    page.keyboard.press("Control+ArrowLeft")  # the audio's key: ten seconds back, the start
    frame_is(page, 1)
    page.keyboard.press(">")
    page.keyboard.press(",")
    frame_is(page, 10)
    wait_media(page, "audio", f"Math.abs(m.currentTime - {10 / FPS}) < 0.001")
    expect(page.locator("[data-audio-status]")).to_contain_text("Paused 0:00.4")

    # a seek on the audio (one second on) moves the video, whose frame follows
    page.keyboard.press("Shift+ArrowRight")
    wait_media(page, "video", f"Math.abs(m.currentTime - {10 / FPS + 1}) < 0.001")
    frame_is(page, 34)

    # a segment on the audio from here to frame 60, marked with M at the play head
    page.keyboard.press("m")
    for key in ">>>,,,,":
        page.keyboard.press(key)
    frame_is(page, 60)  # 34 + 30 - 4
    wait_media(page, "audio", f"Math.abs(m.currentTime - {60 / FPS}) < 0.001")
    page.keyboard.press("m")
    region = page.locator("[data-regions] .anno-region")
    expect(region).to_have_count(1)
    expect(region).to_contain_text("1.42 s – 2.50 s")
    page.keyboard.press("1")  # Kickflip
    expect(region).to_contain_text("Kickflip")
    shot(page, "annotate-video-audio-sync")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()

    (saved,) = annotations_of(annotator.id, project.id)
    (item,) = saved.result
    assert (item["type"], item["from_name"], item["to_name"]) == ("labels", "tricks", "audio")
    assert item["original_length"] == pytest.approx(4.0, abs=0.01)
    assert item["value"]["start"] == pytest.approx(34 / FPS, abs=1e-3)
    assert item["value"]["end"] == pytest.approx(60 / FPS, abs=1e-3)
    assert item["value"]["labels"] == ["Kickflip"] and item["value"]["channel"] == 0


def dialogue_task() -> dict:
    """The template's own example task, its audio at ``/test-media/talk.wav``."""
    example = re.search(r"<!--\s*(\{.*\})\s*-->", DIALOGUE, re.S).group(1)
    data = json.loads(example)["data"]
    data["audio"] = "/test-media/talk.wav"
    return data


def test_a_paragraph_plays_its_part_of_the_audio_and_the_audio_drives_the_dialogue(page, shot, lead, annotator):
    task = dialogue_task()
    project = make_project(lead, DIALOGUE, [task], title="Calls")
    serve_bytes(page, "/test-media/talk.wav", wav(12.0, rate=16000), "audio/wav")
    open_annotate(page, annotator, project)
    page.wait_for_load_state("load")
    page.wait_for_function("""() => {
        const o = window.labelfabAnnotate.workspace.objects;
        return o.audio && o.audio.wave && o.audio.duration > 11.9 && o.text && o.text.media
            && o.text.media.readyState >= 1;
    }""")
    paragraphs = page.locator(".anno-para")
    expect(paragraphs).to_have_count(5)
    buttons = page.locator("[data-play-paragraph]")
    expect(buttons).to_have_count(5)  # every paragraph has a start
    # the dialogue's text is still the paragraphs' (the buttons carry no text)
    assert page.locator(".anno-dialogue").text_content() == "\n".join(p["text"] for p in task["text"])
    page.keyboard.press("?")
    keys = page.locator('[data-anno="keys-dialog"]')
    expect(keys).to_contain_text("Play the audio from that paragraph")
    expect(keys).to_contain_text("move every object synced with the audio")
    page.keyboard.press("Escape")
    expect(keys).to_be_hidden()

    # the third paragraph's button plays the audio from its start; it is highlighted
    buttons.nth(2).click()
    wait_media(page, "audio", "!m.paused && m.currentTime >= 4.5")
    expect(paragraphs.nth(2)).to_have_class(re.compile(r"\bis-playing\b"))
    expect(buttons.nth(2)).to_have_attribute("aria-label", "Pause paragraph 3 from 0:04.5")
    assert media_of(page, "text")["muted"] and not media_of(page, "audio")["muted"]
    buttons.nth(2).click()  # its button again pauses (both)
    wait_media(page, "audio", "m.paused")
    wait_media(page, "text", "m.paused")
    expect(buttons.nth(2)).to_have_attribute("aria-label", "Play paragraph 3 from 0:04.5")

    # the audio's keys drive the dialogue: back to the start (paragraph 1), one second on
    page.keyboard.press("Control+ArrowLeft")
    wait_media(page, "text", "m.currentTime === 0")
    expect(paragraphs.nth(0)).to_have_class(re.compile(r"\bis-playing\b"))
    expect(paragraphs.nth(2)).not_to_have_class(re.compile(r"\bis-playing\b"))
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")  # 2 s: the second paragraph (1.5 s, 3 s long)
    wait_media(page, "text", "Math.abs(m.currentTime - 2) < 0.001")
    expect(paragraphs.nth(1)).to_have_class(re.compile(r"\bis-playing\b"))
    page.keyboard.press(".")  # faster: the dialogue's audio too
    wait_media(page, "text", "m.playbackRate === 1.25")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")  # 5 s: the third (4.5-7 s)
    expect(paragraphs.nth(2)).to_have_class(re.compile(r"\bis-playing\b"))
    page.keyboard.press("Control+ArrowRight")  # 15 s: past the end, no paragraph
    wait_media(page, "text", "m.currentTime > 11.9")
    expect(page.locator(".anno-para.is-playing")).to_have_count(0)

    # Space plays the audio and the dialogue plays along, the last paragraph highlighted from 10 s
    page.keyboard.press("Control+ArrowLeft")  # 2 s
    page.keyboard.press("Control+ArrowLeft")  # 0 s
    wait_media(page, "text", "m.currentTime === 0")
    for _ in range(9):
        page.keyboard.press("Shift+ArrowRight")
    wait_media(page, "text", "Math.abs(m.currentTime - 9) < 0.001")
    page.keyboard.press("Space")
    wait_media(page, "text", "!m.paused && m.currentTime > 10")
    expect(paragraphs.nth(4)).to_have_class(re.compile(r"\bis-playing\b"))
    expect(paragraphs.nth(3)).not_to_have_class(re.compile(r"\bis-playing\b"))
    shot(page, "annotate-dialogue-audio-sync")
    page.keyboard.press("Space")
    wait_media(page, "text", "m.paused")

    # after following the audio, the dialogue leads again: the second paragraph's button
    buttons.nth(1).click()
    wait_media(page, "audio", "!m.paused && m.currentTime >= 1.5 && m.currentTime < 4.5")
    expect(paragraphs.nth(1)).to_have_class(re.compile(r"\bis-playing\b"))
    page.keyboard.press("Space")  # the focus stayed on the page: Space pauses the audio, and the dialogue
    wait_media(page, "audio", "m.paused")
    wait_media(page, "text", "m.paused")


def test_a_seek_made_before_a_followers_echo_came_does_not_swallow_a_later_seek(page, lead, annotator):
    """The video seeks the audio to 2 s; before the audio reports that seek, the audio is sought to
    3 s (as a person's seek can come between the two). The video follows to 3 s, and a later seek of the audio
    back to 2 s (the time the first, superseded seek remembered) moves the video too."""
    project = make_project(lead, TIMELINE, None, title="Skate tricks",
                           files=[ImportFile("skate.webm", VIDEO.read_bytes())])
    open_annotate(page, annotator, project)
    page.wait_for_function("""() => {
        const o = window.labelfabAnnotate.workspace.objects;
        return o.video && o.video.length === 97 && o.audio && o.audio.wave && o.audio.duration > 3.9;
    }""")
    page.evaluate("""() => {
        const o = window.labelfabAnnotate.workspace.objects;
        // listening after the group does: runs once the audio has been sent the video's seek
        o.video.video.addEventListener("seeking", () => { o.audio.media.currentTime = 3; }, { once: true });
        o.video.video.currentTime = 2;
    }""")
    wait_media(page, "audio", "m.currentTime === 3")
    wait_media(page, "video", "m.currentTime === 3")
    page.wait_for_timeout(300)  # every event of those seeks has come
    page.evaluate("() => { window.labelfabAnnotate.workspace.objects.audio.media.currentTime = 2; }")
    wait_media(page, "video", "m.currentTime === 2")
