"""The OpenAPI 3.1 document of ``/api`` (``GET /api/openapi.json``) and its browsable page
(``GET /api/docs``, Swagger UI served from ``web/static/vendor``), made by apispec from the
Flask routes and the pydantic models.

Each view names what it takes and answers with :func:`doc` (query and body models, response
models by status); the path and its path parameters come from the Flask rule itself, so a view
cannot be documented at a path it does not serve. :func:`build_spec` walks ``app.url_map``:
every ``/api/`` rule and method is in the document, and one whose view has no :func:`doc` is
listed in ``x-undocumented`` (a test fails on it). The schemas are the pydantic models'
(``labeling.wire`` for Label Studio's shapes, :mod:`web.api.schemas` for the rest), turned into
components by apispec-pydantic-plugin. Nothing of the document is written by hand.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable
from typing import Any

from apispec import APISpec
from apispec_pydantic_plugin import PydanticPlugin
from flask import Flask, current_app, jsonify, render_template
from pydantic import BaseModel
from werkzeug.routing import Rule

from web.api import bp
from web.api.describe import Doc, File, doc
from web.api.schemas import Error

OPENAPI_VERSION = "3.1.0"
SKIPPED_METHODS = {"HEAD", "OPTIONS"}
#: Werkzeug's converters (by their name in a rule) as OpenAPI schemas; string by default.
CONVERTERS = {"int": {"type": "integer"}, "float": {"type": "number"}, "uuid": {"type": "string", "format": "uuid"}}
# <converter(args):name> or <name> in a Flask rule
_RULE_ARG = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


# --------------------------------------------------------------------------- schemas


class _Schemas:
    """Turns a Python type into an OpenAPI schema, registering pydantic models as components."""

    def __init__(self, spec: APISpec):
        self.spec = spec
        self.models: dict[str, type[BaseModel]] = {}

    def model_ref(self, model: type[BaseModel]) -> dict:
        name = model.__name__
        if self.models.setdefault(name, model) is not model:
            raise TypeError(f"two models are called {name}: {model.__module__} and {self.models[name].__module__}")
        if name not in self.spec.components.schemas:  # (nested models arrive with their parent)
            self.spec.components.schema(name, model=model)
        return {"$ref": f"#/components/schemas/{name}"}

    def of(self, tp: Any) -> dict:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return self.model_ref(tp)
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin is list:
            return {"type": "array", "items": self.of(args[0]) if args else {}}
        if origin is dict or tp is dict:
            return {"type": "object", "additionalProperties": self.of(args[1]) if args else {}}
        if origin in (typing.Union, types.UnionType):
            return {"anyOf": [self.of(a) for a in args]}
        if tp is Any:
            return {}
        scalar = {int: "integer", float: "number", str: "string", bool: "boolean", type(None): "null"}.get(tp)
        if scalar is None:
            raise TypeError(f"no OpenAPI schema for {tp!r}")
        return {"type": scalar}

    def content(self, body: Any) -> dict:
        bodies = body if isinstance(body, tuple) else (body,)
        out: dict[str, dict] = {}
        for one in bodies:
            if isinstance(one, File):
                for media in one.media_types:
                    out[media] = {"schema": {"type": "string", "format": "binary", "description": one.description}}
            else:
                out["application/json"] = {"schema": self.of(one)}
        return out

    def parameters(self, model: type[BaseModel]) -> list[dict]:
        schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
        required = set(schema.get("required", ()))
        params = []
        for name, prop in schema.get("properties", {}).items():
            prop = dict(prop)
            description = prop.pop("description", None)
            prop.pop("title", None)
            param = {"in": "query", "name": name, "required": name in required, "schema": prop}
            if description:
                param["description"] = description
            params.append(param)
        return params


# --------------------------------------------------------------------------- the document


def openapi_path(rule: Rule) -> str:
    """``/api/tasks/<int:task_id>`` -> ``/api/tasks/{task_id}``."""
    return _RULE_ARG.sub(r"{\2}", rule.rule)


def _path_parameters(rule: Rule) -> list[dict]:
    return [{"in": "path", "name": name, "required": True,
             "schema": dict(CONVERTERS.get(converter, {"type": "string"}))}
            for converter, name in _RULE_ARG.findall(rule.rule)]


def _operation(view: Callable, doc_: Doc, rule: Rule, method: str, schemas: _Schemas) -> dict:
    lines = (view.__doc__ or "").replace("``", "`").strip().splitlines()  # reStructuredText -> Markdown
    summary = doc_.summary or (lines[0].rstrip(".") if lines else view.__name__.replace("_", " "))
    op: dict[str, Any] = {"operationId": f"{rule.endpoint.removeprefix('api.')}_{method.lower()}",
                          "summary": summary,
                          "tags": list(doc_.tags) or [rule.rule.split("/")[2]]}
    if len(lines) > 1:
        op["description"] = "\n".join(lines).strip()
    params = _path_parameters(rule) + (schemas.parameters(doc_.query) if doc_.query else [])
    if params:
        op["parameters"] = params
    if doc_.body is not None and method in ("POST", "PUT", "PATCH", "DELETE"):
        op["requestBody"] = {"required": True, "content": schemas.content(doc_.body)}
    responses: dict[str, dict] = {}
    for status, body in sorted(doc_.responses.items()):
        answer: dict[str, Any] = {"description": _STATUS_TEXT.get(status, "answer")}
        if body is not None:
            answer["content"] = schemas.content(body)
        responses[str(status)] = answer
    responses["4XX"] = {"description": "refused: the detail and the errors by row and field",
                        "content": {"application/json": {"schema": schemas.of(Error)}}}
    op["responses"] = responses
    if doc_.public:
        op["security"] = []
    if getattr(view, "readable", False):  # web.api.readable: a read token may call it
        op["x-read-token"] = True
    if getattr(view, "changes_state", False):  # web.api.changes_state: a GET that leases a task
        op["x-changes-state"] = True
    return op


_STATUS_TEXT = {200: "OK", 201: "created", 202: "accepted: running as a job", 204: "done, no content",
                206: "part of the file (Range)", 304: "not modified (If-None-Match)"}


def build_spec(app: Flask) -> dict:
    """The OpenAPI document of every ``/api/`` route of ``app``."""
    spec = APISpec(title="labelfab API", version="1", openapi_version=OPENAPI_VERSION,
                   plugins=[PydanticPlugin(by_alias=True)],
                   info={"description": "Label Studio's REST API subset (the same keys, `Authorization: Token "
                                        "<key>`) and labelfab's own endpoints. Generated from the routes and "
                                        "their pydantic models. `x-read-token`: a read-only token may call "
                                        "the operation; `x-changes-state`: a GET that leases a task."})
    spec.components.security_scheme("Token", {"type": "apiKey", "in": "header", "name": "Authorization",
                                              "description": "`Token <key>` (or `Bearer <key>`)"})
    spec.components.security_scheme("Session", {"type": "apiKey", "in": "cookie", "name": "session",
                                                "description": "the browser's login; writes need X-CSRFToken"})
    schemas = _Schemas(spec)
    undocumented: list[str] = []
    paths: dict[str, dict[str, dict]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/"):
            continue
        view = app.view_functions[rule.endpoint]
        doc_ = getattr(view, "_openapi", None)
        for method in sorted((rule.methods or set()) - SKIPPED_METHODS):
            if doc_ is None:
                undocumented.append(f"{method} {rule.rule}")
                op = {"operationId": f"{rule.endpoint}_{method.lower()}", "parameters": _path_parameters(rule),
                      "responses": {"default": {"description": "undocumented"}}}
            else:
                op = _operation(view, doc_, rule, method, schemas)
            paths.setdefault(openapi_path(rule), {})[method.lower()] = op
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    out = spec.to_dict()
    out["security"] = [{"Token": []}, {"Session": []}]
    if undocumented:
        out["x-undocumented"] = undocumented
    return out


@bp.get("/openapi.json")
@doc(responses={200: dict[str, Any]}, public=True, tags=("docs",))
def openapi_document():
    """This document: the OpenAPI 3.1 description of every /api route."""
    document = current_app.extensions.get("labelfab_openapi")
    if document is None:  # built once per app (the routes do not change once it serves)
        document = current_app.extensions["labelfab_openapi"] = build_spec(current_app)
    return jsonify(document)


@bp.get("/docs")
@doc(responses={200: File(("text/html",), "the page")}, public=True, tags=("docs",))
def openapi_page():
    """The API reference, browsable (Swagger UI over /api/openapi.json)."""
    return render_template("api/docs.html")
