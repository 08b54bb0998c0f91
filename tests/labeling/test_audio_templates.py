"""Label Studio's audio templates (vendored in labeling/schema/ls_templates/): each is accepted
unchanged, and a result shaped as Label Studio's editor stores it (its own examples where the
template carries them) comes back from Label Studio's JSON export identically."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from label_studio_sdk.label_interface import LabelInterface

from labeling.errors import Invalid
from labeling.schema import parse_label_config, validate_result, validate_task_data
from tests.labeling.test_exports_regions import exported_result

HERE = Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"
AUDIO_URL = "https://example.com/speech.wav"
LENGTH = 3.77437641723356  # Label Studio's sample game.wav, as its examples give it


def template(name: str) -> str:
    return (HERE / f"{name}.xml").read_text(encoding="utf-8")


def segment(rid, start, end, control="label", labels=("Speech",), **value):
    return {"original_length": LENGTH, "value": {"start": start, "end": end, "channel": 0, "labels": list(labels),
                                                 **value},
            "id": rid, "from_name": control, "to_name": "audio", "type": "labels", "origin": "manual"}


def answer(region, control, kind, field, content):
    """A per-region item as Label Studio stores it: the region's id and time span, and the answer."""
    value = {k: v for k, v in region["value"].items() if k != "labels"}
    return {"original_length": LENGTH, "value": {**value, field: content}, "id": region["id"], "from_name": control,
            "to_name": "audio", "type": kind, "origin": "manual"}


# Label Studio's own example annotations (the config.xml of these templates in its package)
SOUND_EVENTS = [
    {"original_length": LENGTH, "value": {"start": 0.01896671566449025, "end": 0.17070044098041226,
                                          "labels": ["Event A"]},
     "id": "wavesurfer_vtkg888sg18", "from_name": "label", "to_name": "audio", "type": "labels"},
    {"original_length": LENGTH, "value": {"start": 0.4615234145025961, "end": 0.613257139818518,
                                          "labels": ["Event B"]},
     "id": "wavesurfer_hvf0tkm0oao", "from_name": "label", "to_name": "audio", "type": "labels"},
]
INTENT = [
    {"original_length": LENGTH, "value": {"start": 0.9230468290051922, "end": 3.255952855737493,
                                          "labels": ["Segment"]},
     "id": "wavesurfer_ehuml5fu82", "from_name": "labels", "to_name": "audio", "type": "labels"},
    {"original_length": LENGTH, "value": {"start": 0.9230468290051922, "end": 3.255952855737493,
                                          "choices": ["Question"]},
     "id": "wavesurfer_ehuml5fu82", "from_name": "intent", "to_name": "audio", "type": "choices"},
]
_speech = segment("s1", 0.5, 1.75, "labels", ["Speech"])
_noise = segment("n1", 2.0, 2.5, "labels", ["Noise"])
_said = segment("t1", 0.25, 1.5, "label", ["Speech"])
_bang = segment("t2", 1.9, 2.2, "label", ["Noise"])
TRANSCRIPT = [
    {"from_name": "transcription", "to_name": "audio", "type": "textarea", "origin": "manual",
     "id": "asr1", "value": {"text": ["the quick brown fox"]}},
]
CASES = {
    "audio-speech-processing__automatic-speech-recognition": ({"audio": AUDIO_URL}, TRANSCRIPT),
    "audio-speech-processing__automatic-speech-recognition-using-segments": (
        {"audio": AUDIO_URL},
        [_speech, answer(_speech, "transcription", "textarea", "text", ["hello there"]),
         _noise, answer(_noise, "transcription", "textarea", "text", ["[cough]"])]),
    "audio-speech-processing__conversational-analysis": (
        {"audio": AUDIO_URL, "text": [{"start": 0, "end": 1.5, "text": "Dont you hate that?", "author": "Mia"},
                                      {"start": 1.5, "end": 3, "text": "Hate what?", "author": "Vincent"}]},
        [{"id": "p1", "from_name": "label", "to_name": "text", "type": "paragraphlabels", "origin": "manual",
          "value": {"start": "0", "end": "0", "startOffset": 0, "endOffset": 19, "text": "Dont you hate that?",
                    "paragraphlabels": ["Negative"]}}]),
    "audio-speech-processing__intent-classification": ({"audio": AUDIO_URL}, INTENT),
    "audio-speech-processing__signal-quality-detection": (
        {"audio": AUDIO_URL},
        [{"id": "r1", "from_name": "rating", "to_name": "audio", "type": "rating", "origin": "manual",
          "value": {"rating": 7}}]),
    "audio-speech-processing__sound-event-detection": ({"audio": AUDIO_URL}, SOUND_EVENTS),
    "audio-speech-processing__speaker-segmentation": (
        {"audio": AUDIO_URL},
        [segment("a", 0.0, 1.2, "label", ["Speaker one"]), segment("b", 1.2, 3.1, "label", ["Speaker two"])]),
    "audio-speech-processing__speech-transcription": (
        {"audio": AUDIO_URL},
        [_said, answer(_said, "transcription", "textarea", "text", ["good morning"]),
         answer(_said, "sentiment", "choices", "choices", ["Positive"]), _bang]),
    "ranking-and-scoring__asr-hypotheses": (
        {"audio": AUDIO_URL, "transcriptions": [{"value": "school based clinics"}, {"value": "school-based clinics"}]},
        [{"id": "h1", "from_name": "transcriptions", "to_name": "audio", "type": "choices", "origin": "manual",
          "value": {"choices": ["school-based clinics"]}}]),
    # a video whose tricks are marked on its own sound track (<Audio sync="video"> on the same file)
    "videos__video-timeline-segmentation": (
        {"video_url": AUDIO_URL}, [segment("t1", 0.4, 1.9, "tricks", ["Kickflip", "Trick"])]),
}


def test_every_vendored_audio_template_has_a_case():
    audio = {p.stem for p in HERE.glob("*.xml") if "<Audio" in p.read_text(encoding="utf-8")}
    assert audio == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_template_is_accepted_with_its_example_task(name):
    xml = template(name)
    schema = parse_label_config(xml)
    assert any(o.tag == "Audio" for o in schema.objects.values())
    example, _, _ = LabelInterface.get_task_from_labeling_config(xml)
    data, result = CASES[name]
    assert validate_task_data(schema, data) == []
    if example:
        assert validate_task_data(schema, example) == []
    assert validate_result(schema, result, data) == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_label_studio_result_comes_back_identical_from_the_json_export(lead, name):
    data, result = CASES[name]
    assert exported_result(lead.user, template(name), data, copy.deepcopy(result)) == result


@pytest.mark.parametrize("change, problem", [
    (lambda r: r[0]["value"].update(start=2.0, end=1.0), "needs 0 <= start < end"),
    (lambda r: r[0]["value"].update(end=LENGTH + 1), "after the end of the audio"),
    (lambda r: r[0]["value"].update(start="0.1"), "must be numbers of seconds"),
    (lambda r: r[0]["value"].update(channel=-1), "value.channel must be a whole number"),
    (lambda r: r[1].update(id="elsewhere"), "its id must be the id of a region"),
    (lambda r: r.pop(1), "is required for every region"),
])
def test_bad_segments_are_refused_with_a_reason(lead, change, problem):
    name = "audio-speech-processing__intent-classification"
    result = copy.deepcopy(INTENT)
    change(result)
    problems = validate_result(parse_label_config(template(name)), result, {"audio": AUDIO_URL})
    assert any(problem in p for p in problems), problems
    with pytest.raises(Invalid):
        exported_result(lead.user, template(name), {"audio": AUDIO_URL}, result)
