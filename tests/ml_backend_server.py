"""A model server written for the tests that answers as ``label-studio-ml-backend``'s Flask app
(``label_studio_ml/api.py``) does: ``GET /health`` ``{"status": "UP", "model_class": ...}``,
``POST /setup`` ``{"model_version": ...}``, ``POST /predict`` ``{"results": [...]}`` (one per task,
``model_version`` set on each as ``ModelResponse`` does), ``POST /webhook`` (``START_TRAINING`` and
the annotation events train and answer 201 ``{"result": ..., "status": "ok"}``, another event 200
``{"status": "Unknown event"}``), basic auth when given one (401 otherwise). No ``/versions``
(older servers answer 404 there).

Its model: a keyword classifier for a ``Choices`` control over ``Text``: "good" -> ``pos`` (score
0.9), otherwise ``neg`` (score 0.6). Training bumps the model version. Every request is recorded.
"""

from __future__ import annotations

import base64
import json
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TRAIN_EVENTS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATION_DELETED", "START_TRAINING")


class ModelServer:
    def __init__(self, *, basic_auth: tuple[str, str] | None = None, batch: bool = True):
        self.requests: list[tuple[str, str, dict | None, dict]] = []  # (method, path, json, headers)
        self.version = "keywords-v1"
        self.basic_auth = basic_auth
        self.batch = batch  # False: answers one result whatever the number of tasks (old servers)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _answer(self, status: int, body) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                server.requests.append((method, self.path, json.loads(raw) if raw else None, dict(self.headers)))
                if server.basic_auth is not None:
                    expected = "Basic " + base64.b64encode(":".join(server.basic_auth).encode()).decode()
                    if self.headers.get("Authorization") != expected:
                        self._answer(401, {"error": "Unauthorized"})
                        return
                route = (method, self.path.rstrip("/") or "/")
                if route in (("GET", "/health"), ("GET", "/")):
                    self._answer(200, {"status": "UP", "model_class": "KeywordModel"})
                elif route == ("POST", "/setup"):
                    self._answer(200, {"model_version": server.version})
                elif route == ("POST", "/predict"):
                    self._answer(200, {"results": server.predict(body)})
                elif route == ("POST", "/webhook"):
                    event = body.pop("action")
                    if event not in TRAIN_EVENTS:
                        self._answer(200, {"status": "Unknown event"})
                        return
                    server.version = f"keywords-v{int(server.version.rsplit('v', 1)[1]) + 1}"
                    self._answer(201, {"result": {"model_version": server.version}, "status": "ok"})
                else:
                    self._answer(404, {"error": "not found"})

            def do_GET(self):  # noqa: N802
                self._handle("GET")

            def do_POST(self):  # noqa: N802
                self._handle("POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def predict(self, body: dict) -> list[dict]:
        config = ET.fromstring(body["label_config"])
        choices = config.find(".//Choices")
        text = config.find(".//Text")
        key = text.get("value").lstrip("$")
        out = []
        for task in body["tasks"]:
            label, score = ("pos", 0.9) if "good" in str(task["data"].get(key, "")) else ("neg", 0.6)
            out.append({"result": [{"from_name": choices.get("name"), "to_name": text.get("name"),
                                    "type": "choices", "value": {"choices": [label]}}],
                        "score": score, "model_version": self.version})
        return out if self.batch else out[:1]

    def calls(self, path: str) -> list[dict | None]:
        return [body for _method, p, body, _h in self.requests if p.rstrip("/") == path]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (a server that is down)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
