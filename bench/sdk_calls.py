"""Common ``label-studio-sdk`` calls (and Label Studio's drafts through its HTTP client) against labelfab and Label Studio 1.23.2, side by side.

The same list of calls (projects, tasks with Data Manager filters, views, annotations,
predictions, import, export snapshots, users, members, webhooks, ML backends, S3 storages, DM
actions...) runs through the real ``label-studio-sdk`` client against:

* a ``labelfab serve`` on a fresh DATA_DIR (SQLite, stub broker; ``LABELFAB_OUTBOUND_ALLOW=127.0.0.1``
  so it may call the local model server, webhook receiver and S3 server), as an admin;
* Label Studio 1.23.2 (started by ``../shared/peers/label-studio.sh`` in its own LS_HOME, which
  reuses the installed virtualenv; ``USE_DEFAULT_BANNED_SUBNETS=false``, its setting for calling
  loopback addresses), as its owner.

Both talk to the same local helpers: a model server that speaks Label Studio's ML backend
protocol (``tests/ml_backend_server.py``), a webhook receiver and a real S3 API (moto in server
mode). Every HTTP answer the SDK gets is recorded (an ``httpx`` event hook); a call's outcome is
its last answer's status and JSON body. A call *behaves the same* when the statuses are equal and,
for a successful answer, every key Label Studio's answer has is in labelfab's with a value of the
same JSON type (labelfab may add keys; ``null`` matches any type), checked two levels deep (lists
by their first element). The differences are printed with the reason labelfab differs where that
is intended (``INTENDED`` below).

Usage::

    python bench/sdk_calls.py [--only labelfab] [--calls N]

The last line printed is one JSON object: the number of calls, how many behave the same, and
each difference.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from common import ROOT, LabelStudioError, Server, bench_env, label_studio, labelfab, log

sys.path.insert(0, str(ROOT))

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text" choice="single">'
          '<Choice value="pos"/><Choice value="neg"/></Choices></View>')
KEY_ID, SECRET = "AKIABENCHSDKCALLS", "bench-secret-key-sdk-calls"

# Where labelfab answers differently on purpose: call name -> why.
INTENDED: dict[str, str] = {
    "projects.members.add": "Label Studio Community has no project members API (404: the SDK's call is "
                            "Enterprise's); labelfab has members-only projects, so it answers it",
    "projects.members.remove": "the same: Enterprise's call, absent from Label Studio Community (404)",
    "ml.update": "Label Studio 1.23.2 answers 500 to a PATCH with a url (its bug: MLBackend.setup_() "
                 "missing 'project'); labelfab updates the backend",
}


def choice(value: str) -> list[dict]:
    return [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [value]}}]


def flt(column: str, operator: str, kind: str, value) -> str:
    """A Data Manager query with one filter item, as the SDK's ``data_manager.Filters`` writes it."""
    return json.dumps({"filters": {"conjunction": "and", "items": [
        {"filter": f"filter:tasks:{column}", "operator": operator, "type": kind, "value": value}]}})


# --------------------------------------------------------------------------- local helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A webhook receiver: counts what it is sent."""

    def __init__(self):
        self.bodies: list[bytes] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                receiver.bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()


def start_s3():
    """moto's S3 API on 127.0.0.1 with a bucket per side, holding two task files."""
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    s3 = boto3.client("s3", endpoint_url=url, aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
                      region_name="us-east-1")
    for bucket in ("labelfab", "label-studio", "labelfab-out", "label-studio-out"):
        s3.create_bucket(Bucket=bucket)
    for bucket in ("labelfab", "label-studio"):
        for i in range(2):
            s3.put_object(Bucket=bucket, Key=f"tasks/{i}.json", Body=json.dumps({"text": f"from s3 {i}"}).encode())
    return server, url


# --------------------------------------------------------------------------- the calls


class Side:
    """One server: an SDK client whose every answer is recorded, and the ids made on the way."""

    def __init__(self, name: str, url: str, token: str, *, s3_url: str, model_url: str, hook_url: str):
        from label_studio_sdk.client import LabelStudio

        self.name, self.answers, self.ids = name, [], {}
        self.s3_url, self.model_url, self.hook_url = s3_url, model_url, hook_url
        self.bucket = "labelfab" if name == "labelfab" else "label-studio"

        def record(response: httpx.Response) -> None:
            response.read()
            self.answers.append(response)

        self.http = httpx.Client(timeout=120, event_hooks={"response": [record]})
        self.ls = LabelStudio(base_url=url, api_key=token, httpx_client=self.http)

    def outcome(self, answers: list[httpx.Response], error: Exception | None) -> dict:
        """What a call did: the SDK's error (status, body) or the bodies of every answer it was given."""
        bodies = []
        for r in answers:
            try:
                bodies.append(r.json())
            except ValueError:
                bodies.append(None if not r.content else "<bytes>")
        status = getattr(error, "status_code", None) if error is not None else answers[-1].status_code
        if error is not None:
            body = getattr(error, "body", None)
            error = f"{type(error).__name__}: {str(body if body is not None else error)[:300]}"
        ok = [b for r, b in zip(answers, bodies, strict=True) if r.status_code < 300]
        return {"status": status, "error": error, "bodies": ok}


class RawError(Exception):
    """A non-2xx answer to a request made through the SDK's own HTTP client (a call it has no method for)."""

    def __init__(self, response: httpx.Response):
        super().__init__(f"{response.status_code}")
        self.status_code = response.status_code
        try:
            self.body = response.json()
        except ValueError:
            self.body = response.text[:300]


def raw(s: Side, path: str, method: str, json_body=None):
    """A request through the SDK's HTTP client (its base URL and token), as a script does for a
    route the SDK has no method for (Label Studio's drafts); the JSON answer, or RawError."""
    response = s.ls._client_wrapper.httpx_client.request(path, method=method, json=json_body)
    if response.status_code >= 300:
        raise RawError(response)
    return response.json() if response.content else None


def calls() -> list[tuple[str, Callable[[Side], object]]]:
    """The calls, in the order they run (later ones use ids the earlier ones made)."""
    out: list[tuple[str, Callable[[Side], object]]] = []

    def call(name: str):
        def add(fn):
            out.append((name, fn))
            return fn
        return add

    # users and the server
    call("versions.get")(lambda s: s.ls.versions.get())
    call("users.whoami")(lambda s: s.ids.__setitem__("me", s.ls.users.whoami().id))
    call("users.list")(lambda s: s.ls.users.list())
    call("users.get")(lambda s: s.ls.users.get(id=s.ids["me"]))
    call("users.update")(lambda s: s.ls.users.update(id=s.ids["me"], first_name="Bench"))
    call("users.get_token")(lambda s: s.ls.users.get_token())
    call("users.get_hotkeys")(lambda s: s.ls.users.get_hotkeys())
    call("users.update_hotkeys")(lambda s: s.ls.users.update_hotkeys(
        custom_hotkeys={"annotation:submit": {"key": "ctrl+enter", "active": True}}))

    # projects
    @call("projects.create")
    def _(s):
        s.ids["project"] = s.ls.projects.create(title="SDK calls", label_config=CONFIG, maximum_annotations=1).id

    call("projects.list")(lambda s: list(s.ls.projects.list()))
    call("projects.list(title=)")(lambda s: list(s.ls.projects.list(title="sdk calls")))
    call("projects.get")(lambda s: s.ls.projects.get(id=s.ids["project"]))
    call("projects.update")(lambda s: s.ls.projects.update(id=s.ids["project"], description="made by a bench"))
    call("projects.validate_label_config")(
        lambda s: s.ls.projects.validate_label_config(id=s.ids["project"], label_config=CONFIG))

    @call("projects.import_tasks")
    def _(s):
        s.ls.projects.import_tasks(id=s.ids["project"], request=[
            {"data": {"text": f"sentence {i}", "lang": lang, "length": n},
             **({"annotations": [{"result": choice("pos")}]} if i == 0 else {})}
            for i, (lang, n) in enumerate([("en", 10), ("fr", 25), ("en", 40), ("de", 5), ("en", 60)])])

    @call("tasks.list")
    def _(s):
        s.ids["tasks"] = sorted(t.id for t in s.ls.tasks.list(project=s.ids["project"]))

    call("tasks.list(no project)")(lambda s: list(s.ls.tasks.list()))
    call("tasks.list(fields=all)")(lambda s: list(s.ls.tasks.list(project=s.ids["project"], fields="all")))
    for op, column, kind, value in [("equal", "data.lang", "String", "en"),
                                    ("not_equal", "data.lang", "String", "en"),
                                    ("contains", "data.text", "String", "sentence 1"),
                                    ("not_contains", "data.text", "String", "sentence"),
                                    ("greater", "data.length", "Number", 20),
                                    ("less", "data.length", "Number", 20),
                                    ("in", "id", "Number", {"min": 0, "max": 10 ** 9}),
                                    ("regex", "data.lang", "String", "^(en|de)$"),
                                    ("equal", "total_annotations", "Number", 1),
                                    ("empty", "data.lang", "String", False)]:
        call(f"tasks.list(query {column} {op})")(
            lambda s, a=(column, op, kind, value): list(s.ls.tasks.list(project=s.ids["project"], query=flt(*a))))
    call("tasks.list(query ordering)")(lambda s: list(s.ls.tasks.list(
        project=s.ids["project"], query=json.dumps({"ordering": ["-tasks:id"]}))))
    call("tasks.list(selected_items)")(lambda s: list(s.ls.tasks.list(
        project=s.ids["project"], selected_items=json.dumps({"all": False, "included": s.ids["tasks"][:2]}))))

    @call("tasks.create")
    def _(s):
        s.ids["task"] = s.ls.tasks.create(project=s.ids["project"], data={"text": "made by the SDK"}).id

    call("tasks.get")(lambda s: s.ls.tasks.get(id=s.ids["task"]))
    call("tasks.update")(lambda s: s.ls.tasks.update(id=s.ids["task"], data={"text": "changed by the SDK"}))
    call("tasks.delete")(lambda s: s.ls.tasks.delete(id=s.ids["task"]))

    # annotations
    @call("annotations.create")
    def _(s):
        s.ids["annotation"] = s.ls.annotations.create(id=s.ids["tasks"][1], result=choice("neg")).id

    call("annotations.list")(lambda s: s.ls.annotations.list(id=s.ids["tasks"][1]))
    call("annotations.get")(lambda s: s.ls.annotations.get(id=s.ids["annotation"]))
    call("annotations.update")(lambda s: s.ls.annotations.update(id=s.ids["annotation"], result=choice("pos")))
    call("annotations.delete")(lambda s: s.ls.annotations.delete(id=s.ids["annotation"]))

    # drafts (no SDK method: through its HTTP client)
    @call("drafts.create")
    def _(s):
        s.ids["draft"] = raw(s, f"api/tasks/{s.ids['tasks'][3]}/drafts", "POST",
                             {"result": choice("pos"), "lead_time": 1.5})["id"]

    call("drafts.list")(lambda s: raw(s, f"api/tasks/{s.ids['tasks'][3]}/drafts", "GET"))
    call("drafts.get")(lambda s: raw(s, f"api/drafts/{s.ids['draft']}/", "GET"))
    call("drafts.update")(lambda s: raw(s, f"api/drafts/{s.ids['draft']}/", "PATCH", {"result": choice("neg")}))
    call("drafts.delete")(lambda s: raw(s, f"api/drafts/{s.ids['draft']}/", "DELETE"))

    # predictions
    @call("predictions.create")
    def _(s):
        s.ids["prediction"] = s.ls.predictions.create(task=s.ids["tasks"][2], result=choice("pos"), score=0.4,
                                                      model_version="m1").id

    call("predictions.list(task)")(lambda s: s.ls.predictions.list(task=s.ids["tasks"][2]))
    call("predictions.list(project)")(lambda s: s.ls.predictions.list(project=s.ids["project"]))
    call("predictions.get")(lambda s: s.ls.predictions.get(id=s.ids["prediction"]))
    call("predictions.update")(lambda s: s.ls.predictions.update(id=s.ids["prediction"], result=choice("neg"),
                                                                 score=0.8, model_version="m2"))
    call("predictions.delete")(lambda s: s.ls.predictions.delete(id=s.ids["prediction"]))
    call("projects.import_predictions")(lambda s: s.ls.projects.import_predictions(id=s.ids["project"], request=[
        {"task": t, "result": choice("neg"), "score": 0.6, "model_version": "bulk"} for t in s.ids["tasks"][:3]]))

    # Data Manager views
    @call("views.create")
    def _(s):
        s.ids["view"] = s.ls.views.create(project=s.ids["project"], data={
            "title": "English", "filters": json.loads(flt("data.lang", "equal", "String", "en"))["filters"],
            "ordering": ["tasks:id"], "hiddenColumns": {"explore": ["tasks:data.length"]}}).id

    call("views.list")(lambda s: s.ls.views.list(project=s.ids["project"]))
    call("views.get")(lambda s: s.ls.views.get(id=str(s.ids["view"])))
    call("views.update")(lambda s: s.ls.views.update(id=str(s.ids["view"]), project=s.ids["project"],
                                                     data={"title": "English only"}))
    call("tasks.list(view=)")(lambda s: list(s.ls.tasks.list(project=s.ids["project"], view=s.ids["view"])))
    call("views.delete")(lambda s: s.ls.views.delete(id=str(s.ids["view"])))
    call("views.delete_all")(lambda s: s.ls.views.delete_all(project=s.ids["project"]))

    # Data Manager actions
    call("actions.list")(lambda s: s.ls.actions.list(project=s.ids["project"]))
    call("actions.create(delete_tasks_annotations, selection)")(lambda s: s.ls.actions.create(
        id="delete_tasks_annotations", project=s.ids["project"],
        selected_items={"all": False, "included": [s.ids["tasks"][0]]}))
    call("actions.create(delete_tasks_predictions, filter)")(lambda s: s.ls.actions.create(
        id="delete_tasks_predictions", project=s.ids["project"],
        filters=json.loads(flt("data.lang", "equal", "String", "en"))["filters"], selected_items={"all": True}))

    # export snapshots
    call("projects.exports.list_formats")(lambda s: s.ls.projects.exports.list_formats(id=s.ids["project"]))

    @call("projects.exports.create")
    def _(s):
        s.ids["export"] = s.ls.projects.exports.create(id=s.ids["project"], title="nightly").id

    call("projects.exports.list")(lambda s: s.ls.projects.exports.list(id=s.ids["project"]))

    @call("projects.exports.get")
    def _(s):  # Label Studio builds a snapshot in the background: wait for it as a script would
        for _ in range(100):
            got = s.ls.projects.exports.get(id=s.ids["project"], export_pk=s.ids["export"])
            if got.status in ("completed", "failed"):
                return got
            time.sleep(0.2)
        return got

    call("projects.exports.download")(lambda s: b"".join(s.ls.projects.exports.download(
        id=s.ids["project"], export_pk=s.ids["export"], export_type="JSON")))
    call("projects.exports.download_sync")(lambda s: b"".join(s.ls.projects.exports.download_sync(
        id=s.ids["project"], export_type="JSON", download_all_tasks=True)))
    call("projects.exports.as_json")(lambda s: s.ls.projects.exports.as_json(s.ids["project"]))
    call("projects.exports.delete")(lambda s: s.ls.projects.exports.delete(id=s.ids["project"],
                                                                           export_pk=s.ids["export"]))

    # members
    call("projects.members.add")(lambda s: s.ls.projects.members.add(id=s.ids["project"], user=s.ids["me"]))
    call("projects.members.remove")(lambda s: s.ls.projects.members.remove(id=s.ids["project"], user=s.ids["me"]))

    # webhooks
    @call("webhooks.create")
    def _(s):
        s.ids["webhook"] = s.ls.webhooks.create(url=s.hook_url, project=s.ids["project"], send_payload=True,
                                                send_for_all_actions=False, actions=["TASKS_CREATED"],
                                                headers={"X-Bench": "1"}, is_active=True).id

    call("webhooks.list")(lambda s: s.ls.webhooks.list(project=str(s.ids["project"])))
    call("webhooks.get")(lambda s: s.ls.webhooks.get(id=s.ids["webhook"]))
    call("webhooks.update")(lambda s: s.ls.webhooks.update(id=s.ids["webhook"], url=s.hook_url,
                                                           actions=["TASKS_CREATED", "TASKS_DELETED"]))
    call("webhooks.info")(lambda s: s.ls.webhooks.info())
    call("webhooks.delete")(lambda s: s.ls.webhooks.delete(id=s.ids["webhook"]))

    # ML backends
    @call("ml.create")
    def _(s):
        s.ids["ml"] = s.ls.ml.create(project=s.ids["project"], url=s.model_url, title="keywords").id

    call("ml.list")(lambda s: s.ls.ml.list(project=s.ids["project"]))
    call("ml.get")(lambda s: s.ls.ml.get(id=s.ids["ml"]))
    call("ml.update")(lambda s: s.ls.ml.update(id=s.ids["ml"], url=s.model_url, title="keywords v2"))
    call("ml.train")(lambda s: s.ls.ml.train(id=s.ids["ml"]))
    call("actions.create(retrieve_tasks_predictions)")(lambda s: s.ls.actions.create(
        id="retrieve_tasks_predictions", project=s.ids["project"], selected_items={"all": True}))
    call("ml.delete")(lambda s: s.ls.ml.delete(id=s.ids["ml"]))

    # S3 storages
    @call("import_storage.s3.create")
    def _(s):
        s.ids["s3"] = s.ls.import_storage.s3.create(
            project=s.ids["project"], bucket=s.bucket, prefix="tasks", s3endpoint=s.s3_url, region_name="us-east-1",
            aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET, use_blob_urls=False, title="tasks").id

    call("import_storage.s3.list")(lambda s: s.ls.import_storage.s3.list(project=s.ids["project"]))
    call("import_storage.s3.get")(lambda s: s.ls.import_storage.s3.get(id=s.ids["s3"]))
    call("import_storage.s3.sync")(lambda s: s.ls.import_storage.s3.sync(id=s.ids["s3"]))
    call("import_storage.s3.delete")(lambda s: s.ls.import_storage.s3.delete(id=s.ids["s3"]))

    @call("export_storage.s3.create")
    def _(s):
        s.ids["s3out"] = s.ls.export_storage.s3.create(
            project=s.ids["project"], bucket=f"{s.bucket}-out", prefix="out", s3endpoint=s.s3_url,
            region_name="us-east-1", aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET, title="out").id

    call("export_storage.s3.list")(lambda s: s.ls.export_storage.s3.list(project=s.ids["project"]))
    call("export_storage.s3.get")(lambda s: s.ls.export_storage.s3.get(id=s.ids["s3out"]))
    call("export_storage.s3.sync")(lambda s: s.ls.export_storage.s3.sync(id=s.ids["s3out"]))
    call("export_storage.s3.delete")(lambda s: s.ls.export_storage.s3.delete(id=s.ids["s3out"]))

    # deleting
    call("actions.create(delete_tasks, filter)")(lambda s: s.ls.actions.create(
        id="delete_tasks", project=s.ids["project"],
        filters=json.loads(flt("data.lang", "equal", "String", "fr"))["filters"], selected_items={"all": True}))
    call("tasks.delete_all_tasks")(lambda s: s.ls.tasks.delete_all_tasks(id=s.ids["project"]))
    call("projects.delete")(lambda s: s.ls.projects.delete(id=s.ids["project"]))
    call("users.reset_token")(lambda s: s.ls.users.reset_token())  # last: the old token stops working
    return out


def run_side(side: Side, todo) -> dict[str, dict]:
    results: dict[str, dict] = {}
    for name, fn in todo:
        before, error = len(side.answers), None
        try:
            fn(side)
        except Exception as e:  # noqa: BLE001 (an SDK error is an outcome to compare, not a failure)
            error = e
        answers = side.answers[before:]
        if not answers:
            results[name] = {"status": None, "error": f"no request: {type(error).__name__}: {error}", "bodies": []}
            continue
        results[name] = side.outcome(answers, error)
    return results


# --------------------------------------------------------------------------- comparing


def _kind(v) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    return type(v).__name__


def shape_differences(ls, lf, path: str = "", depth: int = 0) -> list[str]:
    """Where labelfab's answer ``lf`` lacks what Label Studio's ``ls`` has (keys, JSON types)."""
    if ls is None or lf is None:
        return []
    if _kind(ls) != _kind(lf):
        return [f"{path or '.'}: {_kind(lf)} where Label Studio has {_kind(ls)}"]
    if depth >= 2:
        return []
    if isinstance(ls, list):
        return shape_differences(ls[0], lf[0], f"{path}[0]", depth + 1) if ls and lf else []
    if isinstance(ls, dict):
        out = [f"{path}.{k}: missing" for k in ls if k not in lf]
        for k in ls:
            if k in lf:
                out += shape_differences(ls[k], lf[k], f"{path}.{k}", depth + 1)
        return out
    return []


def compare(ls: dict, lf: dict) -> list[str]:
    """Status first; for a call that succeeded on both, the shapes of its answers, pairwise (a pager
    or a wait may make more requests on one side: the first ones are compared)."""
    def ok(r):
        return r["error"] is None

    if ok(ls) != ok(lf) or (not ok(ls) and ls["status"] != lf["status"]):
        return [f"status {lf['status']} where Label Studio answers {ls['status']}"]
    out = []
    for a, b in zip(ls["bodies"], lf["bodies"], strict=False):
        out += shape_differences(a, b)
    return out


# --------------------------------------------------------------------------- the run


def labelfab_side(tmp: Path, **urls) -> tuple[Server, Side]:
    env = bench_env(tmp / "labelfab")
    env["LABELFAB_OUTBOUND_ALLOW"] = "127.0.0.1"
    (tmp / "labelfab").mkdir()
    labelfab(env, "init")
    labelfab(env, "user", "create", "admin@bench.local", "--role", "admin", "--password", "bench-password")
    token = labelfab(env, "token", "create", "admin@bench.local").strip().splitlines()[-1]
    server = Server(env, threads=4)
    return server, Side("labelfab", server.url, token, **urls)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["labelfab"], help="run against labelfab alone (no comparison)")
    ap.add_argument("--calls", type=int, default=0, help="run only the first N calls")
    args = ap.parse_args()
    todo = calls()[:args.calls or None]

    from tests.ml_backend_server import ModelServer

    tmp = Path(tempfile.mkdtemp(prefix="labelfab-bench-sdk-"))
    s3_server, s3_url = start_s3()
    model, receiver = ModelServer(), Receiver()
    urls = {"s3_url": s3_url, "model_url": model.url, "hook_url": receiver.url}
    results: dict[str, dict] = {}
    server = None
    try:
        log(f"labelfab: {len(todo)} SDK calls")
        server, side = labelfab_side(tmp, **urls)
        results["labelfab"] = run_side(side, todo)
        server.stop()
        server = None
        if args.only is None:
            shared = Path.home() / ".cache" / "label-studio-peer"
            ls_home = Path(os.environ.get("LS_HOME", Path.home() / ".cache" / "labelfab-bench-sdk-ls"))
            ls_home.mkdir(parents=True, exist_ok=True)
            if not (ls_home / "venv").exists() and (shared / "venv" / "bin" / "label-studio").exists():
                (ls_home / "venv").symlink_to(shared / "venv")  # reuse the installed Label Studio
            shutil.rmtree(ls_home / "data", ignore_errors=True)  # a fresh Label Studio each run
            # Label Studio refuses loopback addresses too unless told (its SSRF protection); the
            # local model server, receiver and S3 server are on 127.0.0.1 for both sides
            os.environ["USE_DEFAULT_BANNED_SUBNETS"] = "false"
            try:
                with label_studio(ls_home) as (ls_url, token):
                    log(f"label studio: {len(todo)} SDK calls")
                    results["label-studio"] = run_side(Side("label-studio", ls_url, token, **urls), todo)
            except LabelStudioError as e:
                results["ls_error"] = str(e)
    finally:
        if server is not None:
            server.stop()
        model.stop()
        receiver.stop()
        s3_server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    figures: dict = {"bench": "sdk_calls", "calls": len(todo)}
    if "label-studio" not in results:
        bad = {n: r for n, r in results["labelfab"].items() if r["error"]}
        figures.update({"labelfab_failed": {n: [r["status"], r["error"]] for n, r in bad.items()},
                        "ls_error": results.get("ls_error")})
        print(json.dumps(figures))
        return
    differences = {}
    for name, _ in todo:
        ls, lf = results["label-studio"][name], results["labelfab"][name]
        diff = compare(ls, lf)
        if diff:
            differences[name] = {"labelfab": [lf["status"], lf["error"]], "label_studio": [ls["status"], ls["error"]],
                                 "what": diff, "intended": INTENDED.get(name)}
            log(f"differs: {name}: {json.dumps(differences[name])}")
    by_status = [n for n, d in differences.items() if d["what"][0].startswith("status ")]
    figures.update({"same": len(todo) - len(differences), "different": len(differences),
                    "same_status": len(todo) - len(by_status),
                    "status_differs": by_status,
                    "keys_only_differ": sorted(set(differences) - set(by_status)),
                    "intended": sum(1 for d in differences.values() if d["intended"]),
                    "differences": differences})
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
