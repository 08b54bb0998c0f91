"""Time series over the API: the labeling page's series endpoint (inline columns, a CSV by URL
through the outbound rules), Label Studio's time-series templates with LS-shaped results coming
back from the Label Studio JSON export unchanged, and the agreement of two annotators."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from labeling import annotations, imports, projects
from labeling.exports import iter_ls_json
from labeling.schema import parse_label_config
from quality.task_agreement import task_agreement

TEMPLATES = Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"
CSV = ("time,velocity,acceleration\n"
       "2019-01-01 00:00:00.000000,1.5,0.1\n"
       "2019-01-01 00:00:01.000000,2.5,0.2\n"
       "2019-01-01 00:00:02.000000,3.5,0.3\n"
       "2019-01-01 00:00:03.000000,2.0,0.4\n")
# no header row: Label Studio names the columns "0", "1"... (timeColumn="0", <Channel column="1"/>)
HEADLESS_CSV = "".join(f"{t / 2},{t * t},{10 - t},{t % 3}\n" for t in range(20))
FILES = {"/s.csv": CSV, "/headless.csv": HEADLESS_CSV}
INLINE = """<View>
  <TimeSeriesLabels name="label" toName="ts"><Label value="Run"/><Label value="Walk"/></TimeSeriesLabels>
  <TimeSeries name="ts" value="$ts" valueType="json" timeColumn="t"><Channel column="v"/></TimeSeries>
</View>"""


@pytest.fixture
def csv_server():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = FILES[self.path].encode() if self.path in FILES else b"no"
            self.send_response(200 if self.path in FILES else 404)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _project(lead, xml: str, tasks: list[dict], title: str = "series"):
    project = projects.create_project(lead.user, title=title, label_config=xml)
    report = imports.import_data(lead.user, project.id, body=tasks, background=False, return_task_ids=True)
    return project, report.task_ids


def test_the_page_reads_inline_columns(client, lead, annotator):
    project, (tid,) = _project(lead, INLINE, [{"ts": {"t": [0, 0.5, 1], "v": [3, None, 5]}}])
    page = client.get(f"/api/annotate/{project.id}/next", headers=annotator.headers).get_json()["task"]
    r = client.get(f"/api/annotate/tasks/{page['id']}/series/ts", headers=annotator.headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"name": "ts", "x": [0.0, 0.5, 1.0], "keys": [0, 0.5, 1], "channels": {"v": [3.0, None, 5.0]}}
    assert client.get(f"/api/annotate/tasks/{tid}/series/nope", headers=annotator.headers).status_code == 404


def test_inline_columns_that_do_not_fit_are_refused_at_import(lead):
    project = projects.create_project(lead.user, title="bad", label_config=INLINE)
    with pytest.raises(Exception, match="differ in length"):
        imports.import_data(lead.user, project.id, body=[{"ts": {"t": [0, 1], "v": [1]}}], background=False)


def test_the_page_reads_a_csv_by_url(client, lead, annotator, csv_server):
    xml = (TEMPLATES / "time-series-analysis__activity-recognition.xml").read_text()
    project, (tid,) = _project(lead, xml, [{"timeseriesUrl": f"{csv_server}/s.csv"}])
    client.get(f"/api/annotate/{project.id}/next", headers=annotator.headers)  # the annotator holds it
    body = client.get(f"/api/annotate/tasks/{tid}/series/ts", headers=annotator.headers).get_json()
    assert body["keys"][:2] == ["2019-01-01 00:00:00.000000", "2019-01-01 00:00:01.000000"]
    assert body["x"][1] - body["x"][0] == 1000.0  # milliseconds
    assert body["channels"] == {"velocity": [1.5, 2.5, 3.5, 2.0], "acceleration": [0.1, 0.2, 0.3, 0.4]}


def test_a_missing_csv_is_a_clear_error_and_others_do_not_see_the_task(client, lead, annotator, make_user,
                                                                       csv_server):
    xml = (TEMPLATES / "time-series-analysis__change-point-detection.xml").read_text()
    project, (tid,) = _project(lead, xml, [{"csv": f"{csv_server}/gone.csv"}])
    r = client.get(f"/api/annotate/tasks/{tid}/series/ts", headers=lead.headers)
    assert r.status_code == 502 and "HTTP 404" in r.get_json()["detail"]
    assert client.get(f"/api/annotate/tasks/{tid}/series/ts", headers=annotator.headers).status_code in (403, 404)


@pytest.mark.parametrize("name", sorted(p.stem for p in TEMPLATES.glob("time-series-analysis__*.xml")))
def test_ls_shaped_results_come_back_from_the_export_unchanged(lead, name):
    xml = (TEMPLATES / f"{name}.xml").read_text()
    schema = parse_label_config(xml)
    ts = next(n for n, o in schema.objects.items() if o.tag == "TimeSeries")
    project, (tid,) = _project(lead, xml, [{schema.objects[ts].value_key: "https://example.com/s.csv"}], title=name[:50])
    labels = next(c for c in schema.controls if c.type == "timeserieslabels")
    dated = schema.objects[ts].series.time_format is not None
    start, end = ("2019-01-01 00:00:00.000000", "2019-01-01 00:00:02.000000") if dated else (0, 2)
    result = [{"id": "r1", "from_name": labels.name, "to_name": ts, "type": "timeserieslabels", "origin": "manual",
               "value": {"start": start, "end": end, "instant": False, "timeserieslabels": [labels.labels[0]]}},
              {"id": "r2", "from_name": labels.name, "to_name": ts, "type": "timeserieslabels", "origin": "manual",
               "value": {"start": end, "end": end, "instant": True, "timeserieslabels": [labels.labels[0]]}}]
    regions = [(r["id"], {k: r["value"][k] for k in ("start", "end", "instant")}) for r in result]
    for c in schema.controls:  # per-region (the region's id and times) and per-task answers of the template
        if c.type == "choices" and c.per_region:
            result += [{"id": rid, "from_name": c.name, "to_name": ts, "type": "choices", "origin": "manual",
                        "value": {**where, "choices": [c.labels[n]]}} for n, (rid, where) in enumerate(regions)]
        elif c.type == "choices":
            result.append({"id": "c1", "from_name": c.name, "to_name": ts, "type": "choices", "origin": "manual",
                           "value": {"choices": [c.labels[0]]}})
        elif c.type == "rating":
            result.append({"id": "r1", "from_name": c.name, "to_name": ts, "type": "rating", "origin": "manual",
                           "value": {"start": start, "end": end, "instant": False, "rating": 7}})
    annotations.submit(tid, lead.user, result=result, lead_time=1.0)
    exported = json.loads(b"".join(iter_ls_json(project.id, lead.user)))
    assert exported[0]["annotations"][0]["result"] == result


def test_agreement_is_the_temporal_iou_of_the_ranges(lead):
    schema = parse_label_config(INLINE)

    def ranges(*spans, instant=None):
        items = [{"id": f"r{n}", "from_name": "label", "to_name": "ts", "type": "timeserieslabels",
                  "value": {"start": a, "end": b, "instant": False, "timeserieslabels": [label]}}
                 for n, (a, b, label) in enumerate(spans)]
        if instant is not None:
            items.append({"id": "i", "from_name": "label", "to_name": "ts", "type": "timeserieslabels",
                          "value": {"start": instant, "end": instant, "instant": True, "timeserieslabels": ["Walk"]}})
        return items

    same = task_agreement(schema, [ranges((0, 10, "Run")), ranges((0, 10, "Run"))])
    assert [(a.control, a.metric, a.value, a.agrees) for a in same] == [("label", "temporal IoU", 1.0, True)]
    half = task_agreement(schema, [ranges((0, 10, "Run")), ranges((5, 15, "Run"))])[0]
    assert half.value == pytest.approx(1 / 3) and not half.agrees
    assert "annotators mark different time ranges" in half.reason
    # Run agrees fully; the instants differ (Jaccard 0): the mean of the two terms
    mixed = task_agreement(schema, [ranges((0, 10, "Run"), instant=3), ranges((0, 10, "Run"), instant=4)])[0]
    assert mixed.value == pytest.approx(0.5)


def test_a_qc_run_sends_the_tasks_whose_annotators_mark_different_ranges_to_review(lead, make_user):
    from sqlmodel import select

    from labeling.db import read_session
    from labeling.models import LabelIssue, Task
    from quality.run.skeleton import run_qc

    one, two = make_user("ts1@example.com"), make_user("ts2@example.com")
    project = projects.create_project(lead.user, title="Ranges", label_config=INLINE, overlap=2)

    def run(a, b):
        return [{"id": "r", "from_name": "label", "to_name": "ts", "type": "timeserieslabels",
                 "value": {"start": a, "end": b, "instant": False, "timeserieslabels": ["Run"]}}]

    data = {"ts": {"t": list(range(20)), "v": list(range(20))}}
    body = [{"data": data, "annotations": [{"result": a, "completed_by": one.email},
                                           {"result": b, "completed_by": two.email}]}
            for a, b in ((run(0, 10), run(0, 10)), (run(0, 10), run(1, 10)), (run(0, 4), run(10, 14)))]
    imports.import_data(lead.user, project.id, body=body)
    done = run_qc(project.id)
    assert done["status"] == "done", done["message"]
    with read_session() as s:
        tasks = [t.id for t in s.exec(select(Task).where(Task.project_id == project.id).order_by(Task.id))]
        found = {i.task_id: i for i in s.exec(select(LabelIssue).where(LabelIssue.project_id == project.id,
                                                                       LabelIssue.kind == "agreement"))}
        states = {t: s.get(Task, t).state for t in tasks}
    same, close, apart = tasks
    assert [found[t].is_issue for t in tasks] == [False, False, True]
    assert found[apart].reason == "annotators mark different time ranges (temporal IoU 0.00)"
    # the dashboard's agreement panel has the figure per control (quality.results.agreement_controls)
    from quality import results as qc_results
    shown = {c["type"]: c for c in qc_results.agreement_controls(lead.user, project.id)}
    assert {'timeserieslabels'} <= set(shown) and all(shown[t]["n_tasks"] >= 2 for t in ['timeserieslabels'])
    assert found[close].score == pytest.approx(0.9)  # IoU of 1..10 and 0..10
    from labeling.models import TaskEvent
    with read_session() as s:
        why = [e.reason for e in s.exec(select(TaskEvent).where(TaskEvent.task_id == close).order_by(TaskEvent.id))]
    # close enough to pass QC, but no two results alike to take as the final label: a person picks
    assert "passed (score 0.900) but its annotators are tied (Run 0..10, Run 1..10)" in why[-2]
    assert (states[same], states[close], states[apart]) == ("accepted", "review", "review")


def test_label_hotkeys_leave_the_charts_keys_alone():
    from web.views.annotate import keymap

    schema = parse_label_config(INLINE.replace('<Label value="Run"/>', '<Label value="Run" hotkey="["/>'))
    assert keymap(schema) == {"label": {"Run": "1", "Walk": "2"}}  # "[" marks a range's start on the chart
