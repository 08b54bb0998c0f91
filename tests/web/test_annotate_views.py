"""The labeling page's views and small API (no browser): keys, access, preview, task view."""

from __future__ import annotations

import json
import re

import pytest

from labeling import annotations, imports, projects, router
from labeling.models import Role
from labeling.schema import gallery, parse_label_config
from tests.conftest import login
from web.views.annotate import RESERVED_KEYS, TOOL_KEYS, keymap, tool_keys

XML = {g["id"]: g["xml"] for g in gallery()}


def csrf(client, path: str = "/") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def task_views(body: str) -> dict:
    """What the task page hands its read-only workspaces: the task and each result by key."""
    found = re.search(r'<script type="application/json" id="task-views">(.*?)</script>', body, re.S)
    return json.loads(found.group(1))


def make_project(lead, xml: str, tasks: list[dict], **settings):
    project = projects.create_project(lead.user, title="T", label_config=xml, **settings)
    imports.import_data(lead.user, project.id, body=tasks, background=False)
    return project


def test_keymap_uses_hotkeys_then_digits_and_skips_reserved_keys():
    xml = ('<View><Text name="t" value="$text"/><Choices name="c" toName="t">'
           '<Choice value="a" hotkey="s"/><Choice value="b" hotkey="x"/><Choice value="c"/><Choice value="d"/>'
           '</Choices><Choices name="other" toName="t"><Choice value="e" hotkey="1"/></Choices></View>')
    keys = keymap(parse_label_config(xml))
    # "s" is skip, so "a" gets a digit; "1" is taken by the second control's hotkey
    assert keys == {"c": {"b": "x", "a": "2", "c": "3", "d": "4"}, "other": {"e": "1"}}
    many = ('<View><Text name="t" value="$text"/><Choices name="c" toName="t">'
            + "".join(f'<Choice value="l{i}"/>' for i in range(12)) + "</Choices></View>")
    assert list(keymap(parse_label_config(many))["c"].values()) == [str(d) for d in range(1, 10)]


def test_the_image_tools_keys_are_reserved_from_label_hotkeys():
    """W (next tool), B (brush), E (eraser), [ and ] (brush size) stay the tools' keys: a label
    configured with one of them gets a digit (first control) or no key, as for the page's other
    reserved keys."""
    xml = ('<View><Image name="img" value="$image"/>'
           '<BrushLabels name="mask" toName="img"><Label value="Water" hotkey="w"/><Label value="Building" hotkey="b"/>'
           '<Label value="Earth" hotkey="E"/><Label value="Road" hotkey="r"/></BrushLabels>'
           '<PolygonLabels name="poly" toName="img"><Label value="Tree" hotkey="["/><Label value="Car" hotkey="c"/>'
           '</PolygonLabels></View>')
    keys = keymap(parse_label_config(xml))
    assert keys == {"mask": {"Road": "r", "Water": "1", "Building": "2", "Earth": "3"}, "poly": {"Car": "c"}}
    assert tool_keys(parse_label_config(xml)) == TOOL_KEYS
    # boxes and polygons on one image: W picks the tool, B and E stay free for labels
    two = ('<View><Image name="img" value="$image"/><RectangleLabels name="box" toName="img">'
           '<Label value="Wheel" hotkey="w"/><Label value="Bike" hotkey="b"/></RectangleLabels>'
           '<PolygonLabels name="poly" toName="img"><Label value="Edge" hotkey="e"/></PolygonLabels></View>')
    assert keymap(parse_label_config(two)) == {"box": {"Bike": "b", "Wheel": "1"}, "poly": {"Edge": "e"}}
    # a text page has no image tools: its labels keep W, B and E
    text = ('<View><Text name="t" value="$text"/><Choices name="c" toName="t">'
            '<Choice value="pos" hotkey="w"/><Choice value="neg" hotkey="b"/></Choices></View>')
    assert keymap(parse_label_config(text)) == {"c": {"pos": "w", "neg": "b"}}
    assert not TOOL_KEYS & RESERVED_KEYS


def test_the_task_page_hands_each_result_to_a_read_only_workspace(client, lead, annotator):
    text = "🙂 Ada <b>x</b>"
    project = make_project(lead, XML["ner"], [{"text": text}], overlap=1)
    task = router.next_task(project.id, annotator.user)
    result = [{"id": "s1", "from_name": "label", "to_name": "text", "type": "labels",
               "value": {"start": 2, "end": 5, "text": "Ada", "labels": ["PER"]}}]
    ann, _ = annotations.submit(task.id, annotator.user, result=result)
    login(client, lead.email)
    body = client.get(f"/projects/{project.id}/tasks/{task.id}").get_data(as_text=True)
    views = task_views(body)
    assert views["results"] == {f"annotation-{ann.id}": result}
    assert views["task"] == {"id": task.id, "data": {"text": text}, "predictions": []}
    assert f'data-task-view="annotation-{ann.id}"' in body
    # one copy of the workspace, in mode "view", for task_story.js to put under each result
    template = body[body.index('<template id="task-workspace">'):body.index("</template>")]
    assert '&#34;mode&#34;: &#34;view&#34;' in template or '"mode": "view"' in template
    assert "anno-viewing" in template and 'data-anno="submit"' not in template
    assert "<mark" not in body and "task-box" not in body  # the page draws no region itself
    assert "&lt;b&gt;x&lt;/b&gt;" in body and "<b>x</b>" not in body


def test_annotate_page_renders_controls_from_the_schema(client, lead, annotator):
    project = make_project(lead, XML["ner"], [{"text": "x"}], instructions="<b>Mark</b> people")
    login(client, annotator.email)
    page = client.get(f"/annotate/{project.id}").get_data(as_text=True)
    assert 'data-anno-config=' in page
    for label in ("PER", "ORG", "LOC", "MISC"):
        assert f'data-label="{label}"' in page
    assert "&lt;b&gt;Mark&lt;/b&gt; people" in page  # instructions are text
    assert "<script>" not in page.split("<body")[1].split('<script src=')[0]


def test_the_keys_dialog_names_only_the_zoom_keys_no_label_takes(client, lead, annotator):
    """The demo digits' labels 0-9 keep their hotkeys, so 0 picks the label 0 and never fits the
    image: the keys dialog names + and - for zooming, not 0."""
    from labeling.demo import DIGITS_CONFIG

    digits = make_project(lead, DIGITS_CONFIG, [{"image": "https://example.com/1.png"}])
    pets = make_project(lead, XML["image_classification"], [{"image": "https://example.com/2.png"}])
    login(client, annotator.email)
    page = client.get(f"/annotate/{digits.id}").get_data(as_text=True)
    assert "<kbd>+</kbd> <kbd>-</kbd> </td><td>Zoom the image in, out · " in page and "fit ·" not in page
    page = client.get(f"/annotate/{pets.id}").get_data(as_text=True)
    assert "<kbd>+</kbd> <kbd>-</kbd> <kbd>0</kbd> </td><td>Zoom the image in, out, fit · " in page

def test_annotate_page_needs_access(client, lead, make_user):
    project = make_project(lead, XML["text_classification"], [{"text": "x"}], restricted=True)
    outsider = make_user("out@example.com")
    assert client.get(f"/annotate/{project.id}").status_code == 302  # log in first
    login(client, outsider.email)
    assert client.get(f"/annotate/{project.id}").status_code == 404


def test_next_counters_and_previous_over_the_page_api(client, lead, annotator):
    project = make_project(lead, XML["text_classification"], [{"text": "a"}, {"text": "b"}])
    headers = annotator.headers
    first = client.get(f"/api/annotate/{project.id}/next", headers=headers).get_json()
    assert first["counters"] == {"done_today": 0, "remaining": 2}
    assert first["lease"]["expires_at"] and first["task"]["data"] == {"text": "a"}
    result = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["positive"]}}]
    posted = client.post(f"/api/tasks/{first['task']['id']}/annotations", headers=headers, json={"result": result})
    assert posted.status_code == 201
    again = client.post(f"/api/tasks/{first['task']['id']}/annotations", headers=headers, json={"result": result})
    assert again.status_code == 200 and again.get_json()["id"] == posted.get_json()["id"]  # idempotent retry
    second = client.get(f"/api/annotate/{project.id}/next", headers=headers).get_json()
    assert second["task"]["data"] == {"text": "b"}
    assert second["counters"] == {"done_today": 1, "remaining": 1}
    back = client.get(f"/api/annotate/{project.id}/previous", headers=headers).get_json()
    assert back["annotation"]["id"] == posted.get_json()["id"] and back["task"]["id"] == first["task"]["id"]
    further = client.get(f"/api/annotate/{project.id}/previous?before={back['annotation']['id']}", headers=headers)
    assert further.get_json() == {"annotation": None, "task": None}
    client.post(f"/api/tasks/{second['task']['id']}/annotations", headers=headers,
                json={"result": [], "was_cancelled": True, "skip_reason": "unclear"})
    done = client.get(f"/api/annotate/{project.id}/next", headers=headers).get_json()
    assert done["task"] is None and done["counters"] == {"done_today": 1, "remaining": 0}
    bad = client.get(f"/api/annotate/{project.id}/stats?since=yesterday", headers=headers)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "since"


def test_the_page_api_leases_the_next_task_ahead(client, lead, annotator, make_user):
    project = make_project(lead, XML["text_classification"], [{"text": "a"}, {"text": "b"}, {"text": "c"}])
    url = f"/api/annotate/{project.id}/next"
    first = client.get(url, headers=annotator.headers).get_json()
    assert first["prefetch"] is True
    ahead = client.get(f"{url}?exclude={first['task']['id']}", headers=annotator.headers).get_json()
    assert ahead["task"]["data"] == {"text": "b"} and ahead["lease"]["expires_at"]
    other = make_user("other@example.com", Role.annotator)
    assert client.get(url, headers=other.headers).get_json()["task"]["data"] == {"text": "c"}
    bad = client.get(f"{url}?exclude=first", headers=annotator.headers)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "exclude"


def test_preview_renders_posted_xml_for_leads_only(client, lead, annotator):
    login(client, annotator.email)
    assert client.get("/projects/preview").status_code == 403
    client.post("/logout", data={"csrf_token": csrf(client)})
    login(client, lead.email)
    token = csrf(client, "/projects/preview")
    page = client.post("/projects/preview", data={"csrf_token": token, "label_config": XML["ner"],
                                                  "data": '{"text": "<i>hello</i> world"}'},
                       headers={"HX-Request": "true"})
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" not in body  # a fragment for htmx
    assert 'data-label="PER"' in body and "<i>hello" not in body
    refused = client.post("/projects/preview", data={"csrf_token": token, "label_config": "<View><Foo/></View>"})
    assert refused.status_code == 200 and "cannot be used yet" in refused.get_data(as_text=True)
    no_csrf = client.post("/projects/preview", data={"label_config": XML["ner"]})
    assert no_csrf.status_code == 400


def test_task_view_is_for_leads_and_reviewers(client, lead, annotator, make_user):
    project = make_project(lead, XML["text_classification"], [{"text": "<script>alert(1)</script>"}], overlap=1)
    task = router.next_task(project.id, annotator.user)
    result = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["neutral"]}}]
    annotations.submit(task.id, annotator.user, result=result)
    login(client, annotator.email)
    assert client.get(f"/projects/{project.id}/tasks/{task.id}").status_code == 403
    client.post("/logout", data={"csrf_token": csrf(client)})
    reviewer = make_user("rev@example.com", Role.reviewer)
    login(client, reviewer.email)
    page = client.get(f"/projects/{project.id}/tasks/{task.id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert annotator.email in body and "neutral" in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>alert" not in body
    assert client.get(f"/projects/{project.id + 1}/tasks/{task.id}").status_code == 404


FEATURES = """<View>
  <Style><!-- theme -->.x {}</Style>
  <Header value="$title" size="2"/>
  <Text name="intro" value="Read &lt;all&gt; of it"/>
  <Text name="doc" value="$doc"/>
  <Labels name="ner" toName="doc"><Label value="PER"/></Labels>
  <Choices name="kind" toName="doc" value="$kinds"/>
  <Number name="n" toName="doc" min="0" max="9"/>
  <DateTime name="d" toName="doc"/>
  <Header>The end</Header>
</View>"""


def test_notes_are_text_on_the_page_and_values_round_trip_through_the_api_and_export(client, lead, annotator):
    data = {"title": "<i>T</i>", "doc": ["Ada met", "Bob."], "kinds": [{"value": "memo"}, "letter"]}
    project = make_project(lead, FEATURES, [data])
    login(client, annotator.email)
    page = client.get(f"/annotate/{project.id}").get_data(as_text=True)
    assert '<p class="anno-note">Read &lt;all&gt; of it</p>' in page
    assert '<h2 class="anno-note anno-header" data-note-key="title"></h2>' in page  # filled in as text
    assert page.index('>The end</h4>') > page.index('data-control="d"')  # where the config puts it
    assert 'data-value-input="n"' in page and 'type="datetime-local"' in page
    task = client.get(f"/api/annotate/{project.id}/next", headers=annotator.headers).get_json()["task"]
    result = [
        {"id": "s1", "from_name": "ner", "to_name": "doc", "type": "labels",
         "value": {"start": 4, "end": 11, "text": "met,Bob", "labels": ["PER"]}},
        {"id": "c1", "from_name": "kind", "to_name": "doc", "type": "choices", "value": {"choices": ["letter"]}},
        {"id": "n1", "from_name": "n", "to_name": "doc", "type": "number", "value": {"number": 2.5}},
        {"id": "d1", "from_name": "d", "to_name": "doc", "type": "datetime", "value": {"datetime": "2024-03-05T10:30"}},
    ]
    posted = client.post(f"/api/tasks/{task['id']}/annotations", headers=annotator.headers, json={"result": result})
    assert posted.status_code == 201, posted.get_json()
    bad = dict(result[2], value={"number": 12})
    refused = client.post(f"/api/tasks/{task['id']}/annotations", headers=annotator.headers, json={"result": [bad]})
    assert refused.status_code == 422 and "above the control's max 9" in str(refused.get_json())
    exported = client.get(f"/api/projects/{project.id}/export?exportType=JSON", headers=lead.headers).get_json()
    assert exported[0]["annotations"][0]["result"] == result
    assert exported[0]["data"] == data
    client.post("/logout", data={"csrf_token": csrf(client)})
    login(client, lead.email)
    body = client.get(f"/projects/{project.id}/tasks/{task['id']}").get_data(as_text=True)
    assert task_views(body)["results"] == {f"annotation-{posted.get_json()['id']}": result}


def test_task_view_shows_relations_in_words_and_hands_them_to_the_workspace(client, lead):
    from tests.labeling.schema.test_regions_linked import RELATIONS, span

    ms = dict(span("m", 0, 9, "Microsoft", "Organization"), from_name="label")
    bill = dict(span("b", 25, 35, "Bill Gates", "Person"), from_name="label")
    relation = {"from_id": "m", "to_id": "b", "type": "relation", "direction": "right", "labels": ["org:founded_by"]}
    project = make_project(lead, RELATIONS, [{"text": "Microsoft was founded by Bill Gates."}], overlap=1)
    task = router.next_task(project.id, lead.user)
    ann, _ = annotations.submit(task.id, lead.user, result=[ms, bill, relation])
    login(client, lead.email)
    body = client.get(f"/projects/{project.id}/tasks/{task.id}").get_data(as_text=True)
    assert "Organization &#39;Microsoft&#39; → Person &#39;Bill Gates&#39; (org:founded_by)" in body
    assert task_views(body)["results"][f"annotation-{ann.id}"] == [ms, bill, relation]


LS_TEMPLATES = {g["id"][3:]: g["xml"] for g in gallery() if g["id"].startswith("ls-")}


def keys_dialog(client, xml: str) -> str:
    """The keys dialog of the preview's labeling page for ``xml``, as text."""
    from tests.web.test_projects_views import csrf as form_csrf

    token = form_csrf(client.get("/projects/preview").get_data(as_text=True))
    r = client.post("/projects/preview", headers={"HX-Request": "true"},
                    data={"csrf_token": token, "label_config": xml, "data": json.dumps({})})
    body = r.get_data(as_text=True)
    assert r.status_code == 200, body[:500]
    dialog = body.split('data-anno="keys-dialog"', 1)[1].split("</dialog>", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", dialog.replace("</td>", " ")))


@pytest.mark.parametrize(("template", "listed", "not_listed"), [
    # a <Labels> on an image labels its regions: no span keys on a page without text
    ("computer-vision__optical-character-recognition", ["Delete the selected region"], ["Marking spans"]),
    ("ranking-and-scoring__pairwise-classification", ["[ ] Pick the left, the right one"], []),
    ("structured-data-parsing__html-entity-recognition", ["Marking spans with the keyboard"], []),
    ("natural-language-processing__taxonomy", ["Taxonomy", "Space Pick or unpick the node"], []),
    ("natural-language-processing__relation-extraction", ["[ ] Select the previous, the next region",
                                                          "Alt+R A relation from the selected region"], []),
    ("generative-ai__llm-ranker", ["Relevant Results (rank)", "↑ ↓ · Home End Move the item"], []),
])
def test_the_keys_dialog_lists_the_keys_of_each_widget_and_no_others(client, lead, template, listed, not_listed):
    login(client, lead.email)
    text = keys_dialog(client, LS_TEMPLATES[template])
    for words in listed:
        assert words in text, (words, text)
    for words in not_listed:
        assert words not in text, (words, text)
