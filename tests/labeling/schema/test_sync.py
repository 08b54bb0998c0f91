"""``sync`` and ``audioUrl``: the objects that play together are read from Label Studio's
templates unchanged, for the labeling page (web/static/annotate_sync.js)."""

from __future__ import annotations

from pathlib import Path

from labeling.schema import parse_label_config

TEMPLATES = Path(__file__).parents[3] / "labeling" / "schema" / "ls_templates"


def template(name: str):
    return parse_label_config((TEMPLATES / name).read_text(encoding="utf-8"))


def test_a_video_and_its_audio_name_each_other():
    objects = template("videos__video-timeline-segmentation.xml").objects
    assert (objects["video"].tag, objects["video"].sync) == ("Video", "audio")
    assert (objects["audio"].tag, objects["audio"].sync) == ("Audio", "video")
    assert objects["video"].frame_rate is None  # Label Studio's 24


def test_a_dialogue_plays_its_audio_url_with_the_audio():
    objects = template("audio-speech-processing__conversational-analysis.xml").objects
    assert (objects["text"].tag, objects["text"].sync, objects["text"].audio_url) == ("Paragraphs", "audio", "$audio")
    assert objects["audio"].sync == "text"


def test_objects_without_sync_have_none():
    schema = parse_label_config("""<View>
      <Audio name="a" value="$a"/><Video name="v" value="$v" frameRate="$fps"/>
      <Paragraphs name="p" value="$p" audioUrl="https://example.org/a.wav"/>
      <Labels name="l" toName="a"><Label value="x"/></Labels>
    </View>""")
    assert [o.sync for o in schema.objects.values()] == [None, None, None]
    assert schema.objects["v"].frame_rate == "$fps"
    assert schema.objects["p"].audio_url == "https://example.org/a.wav"
