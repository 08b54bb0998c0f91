"""The labeling workspace of a video config: the player's place and its keys (frames, keyframes,
lifespans) kept from label hotkeys, named in the keys dialog; the preview shows it without a video."""

from __future__ import annotations

import json

from labeling.schema import parse_label_config
from tests.conftest import login
from tests.web.test_projects_views import csrf
from web.views.annotate import VIDEO_KEYS, keymap

CONFIG = """<View><Video name="video" value="$video"/>
<TimelineLabels name="events" toName="video"><Label value="Run" hotkey="k"/><Label value="Walk" hotkey="."/>
<Label value="Sit" hotkey="x"/></TimelineLabels>
<Labels name="who" toName="video"><Label value="Dog" hotkey="h"/></Labels>
<VideoRectangle name="box" toName="video"/></View>"""


def test_video_keys_are_kept_from_label_hotkeys():
    keys = keymap(parse_label_config(CONFIG))
    assert {"k", ".", "h"} <= VIDEO_KEYS
    assert keys["events"] == {"Sit": "x", "Run": "1", "Walk": "2"}  # k and . step keyframes and frames
    assert keys["who"] == {}
    text = keymap(parse_label_config('<View><Text name="t" value="$t"/><Labels name="events" toName="t">'
                                     '<Label value="Run" hotkey="k"/></Labels></View>'))
    assert text["events"]["Run"] == "k"  # without a video the key is the label's


def test_the_preview_shows_the_player_and_its_keys(client, lead):
    login(client, lead.email)
    token = csrf(client.get("/projects/preview").get_data(as_text=True))
    r = client.post("/projects/preview", headers={"HX-Request": "true"},
                    data={"csrf_token": token, "label_config": CONFIG, "data": json.dumps({})})
    body = r.get_data(as_text=True)
    assert r.status_code == 200, body[:500]
    assert 'data-tag="Video"' in body and 'class="anno-video"' in body
    assert "Add or remove a keyframe of the selected track at this frame" in body
    assert "Start a timeline span at this frame" in body
    assert "Marking spans with the keyboard" not in body  # a video's Labels name tracks, not text spans
