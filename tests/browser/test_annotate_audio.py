"""Audio on the labeling page, with the keyboard (Label Studio's speech-recognition-by-segments
template): play, seek, mark a segment at the play head, label it with a number key, type its
transcription, submit; the stored result is Label Studio's shape."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from labeling.imports import ImportFile
from tests.browser.test_annotate import annotations_of, make_project, open_annotate
from tests.labeling.test_media_info import wav

pytestmark = pytest.mark.browser

TEMPLATES = Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"
SEGMENTS = (TEMPLATES / "audio-speech-processing__automatic-speech-recognition-using-segments.xml").read_text(
    encoding="utf-8")


def audio_state(page) -> dict:
    return page.evaluate("""() => {
        const m = window.labelfabAnnotate.workspace.objects.audio.media;
        return {time: m.currentTime, paused: m.paused, rate: m.playbackRate, duration: m.duration};
    }""")


def open_call(page, lead, annotator, seconds: float = 3.0, **wav_args):
    """A segments project with one call of ``seconds``, opened for the annotator once its audio
    has loaded (the annotator is ready and the wave knows the duration)."""
    project = make_project(lead, SEGMENTS, None, title="Calls", files=[ImportFile("call.wav", wav(seconds, **wav_args))])
    open_annotate(page, annotator, project)
    page.wait_for_load_state("load")
    page.wait_for_function("""(seconds) => {
        const ws = window.labelfabAnnotate.workspace;
        const obj = ws && ws.objects.audio;
        return obj && obj.annotator && obj.wave && obj.wave.getDuration() > seconds - 0.1;
    }""", arg=seconds)
    return project


def test_mark_label_and_transcribe_a_segment_with_the_keyboard(page, shot, lead, annotator):
    project = open_call(page, lead, annotator, 4.0, rate=16000)
    expect(page.locator("[data-audio-status]")).to_contain_text("Paused 0:00.0 / 0:04.0")
    facts = page.evaluate("() => window.labelfabAnnotate.workspace.taskMedia")  # read at import
    assert facts["duration"] == pytest.approx(4.0, abs=1e-3) and facts["channels"] == 1
    assert facts["mime"] == "audio/wav" and facts["fps"] is None
    page.keyboard.press("?")
    keys = page.locator('[data-anno="keys-dialog"]')
    expect(keys).to_contain_text("Start a segment at the play head")
    expect(keys).not_to_contain_text("Marking spans with the keyboard")  # text keys: not for audio
    page.keyboard.press("Escape")
    expect(keys).to_be_hidden()

    page.keyboard.press("Space")  # play
    page.wait_for_function("() => { const m = window.labelfabAnnotate.workspace.objects.audio.media; "
                           "return !m.paused && m.currentTime > 0.3; }")
    expect(page.locator("[data-audio-status]")).to_contain_text("Playing")
    page.keyboard.press("Space")  # pause
    page.wait_for_function("() => window.labelfabAnnotate.workspace.objects.audio.media.paused")
    page.keyboard.press(".")  # faster
    assert audio_state(page)["rate"] == 1.25
    page.keyboard.press(",")
    assert audio_state(page)["rate"] == 1

    page.keyboard.press("Control+ArrowLeft")  # ten seconds back: the start
    assert audio_state(page)["time"] == 0
    page.keyboard.press("Shift+ArrowRight")  # one second on
    assert audio_state(page)["time"] == pytest.approx(1.0, abs=1e-3)
    page.keyboard.press("m")  # the segment starts here
    expect(page.locator("[data-audio-status]")).to_contain_text("segment from 1.00 s")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("m")  # ... and ends at 3 s: selected
    region = page.locator("[data-regions] .anno-region")
    expect(region).to_have_count(1)
    expect(region).to_contain_text("1.00 s – 3.00 s")
    page.keyboard.press("1")  # Speech
    expect(region).to_contain_text("Speech")
    transcription = page.locator('[data-control="transcription"]')
    expect(transcription).to_be_visible()  # per-region: shown for the selected segment
    page.keyboard.press("t")
    expect(transcription.locator("textarea")).to_be_focused()
    page.keyboard.type("hello from the segment")
    page.keyboard.press("Escape")
    expect(page.locator(".anno-audio-wave [part~='region']")).to_have_count(1)
    shot(page, "annotate-audio-segment")
    page.keyboard.press("Enter")  # submit
    expect(page.locator('[data-anno="empty"]')).to_be_visible()

    (saved,) = annotations_of(annotator.id, project.id)
    by_type = {r["type"]: r for r in saved.result}
    assert set(by_type) == {"labels", "textarea"}
    labels, text = by_type["labels"], by_type["textarea"]
    assert labels["from_name"] == "labels" and labels["to_name"] == "audio"
    assert labels["original_length"] == pytest.approx(4.0, abs=1e-3)
    assert labels["value"]["start"] == pytest.approx(1.0, abs=1e-3)
    assert labels["value"]["end"] == pytest.approx(3.0, abs=1e-3)
    assert labels["value"]["channel"] == 0 and labels["value"]["labels"] == ["Speech"]
    assert text["id"] == labels["id"] and text["from_name"] == "transcription"
    assert text["value"] == {"start": labels["value"]["start"], "end": labels["value"]["end"], "channel": 0,
                             "text": ["hello from the segment"]}


def test_delete_removes_the_selected_segment(page, lead, annotator):
    open_call(page, lead, annotator)
    page.keyboard.press("m")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("m")
    expect(page.locator("[data-regions] .anno-region")).to_have_count(1)
    page.keyboard.press("Delete")
    expect(page.locator("[data-regions] .anno-region")).to_have_count(0)
    expect(page.locator(".anno-audio-wave [part~='region']")).to_have_count(0)


def test_space_plays_when_focus_lingers_in_the_closed_keys_dialog(page, lead, annotator):
    """Escape closes the keys dialog; Chromium may still send the next key to the dialog's Close
    button (hidden by then): the page's keys must still work (Space plays, it clicks nothing)."""
    open_call(page, lead, annotator)
    page.keyboard.press("?")
    keys = page.locator('[data-anno="keys-dialog"]')
    expect(keys).to_be_visible()
    page.keyboard.press("Escape")
    expect(keys).to_be_hidden()
    # the key as it arrives when focus has not left the dialog yet: aimed at its Close button
    page.evaluate("""() => document.querySelector('[data-anno="keys-dialog"] button').dispatchEvent(
        new KeyboardEvent("keydown", {key: " ", code: "Space", bubbles: true, cancelable: true}))""")
    page.wait_for_function("() => { const m = window.labelfabAnnotate.workspace.objects.audio.media; "
                           "return !m.paused && m.currentTime > 0.2; }")


def test_the_preview_of_an_audio_config_shows_the_player_without_an_error(page, shot, lead):
    """The new-project form's live preview of an audio template: no sample audio ships, so the
    player says so; it was handed the placeholder picture (refused as media, an error alert)."""
    from tests.browser.conftest import login

    login(page, lead.email)
    page.goto("/projects/new")
    page.get_by_role("button", name="Use Intent classification (Label Studio)", exact=True).click()
    preview = page.locator("#config-preview")
    expect(preview.locator("[data-audio-status]")).to_have_text("No audio in this preview")
    expect(preview.get_by_text("Segment", exact=True)).to_be_visible()
    expect(preview.locator("[data-anno=alert]")).to_be_hidden()
    shot(page, "audio-config-preview")
