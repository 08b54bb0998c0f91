"""The property-based API fuzz run: schemathesis generates requests for every operation of
``GET /api/openapi.json`` (the document the app serves, loaded from the app itself) and sends
them as an admin, in a fresh world per operation.

For every answer: no 5xx, every 4xx in the app's JSON error shape (``{"detail": str,
"errors": list}``, :mod:`web.errors`), and the status, content type and body the document gives
for it (schemathesis' conformance checks, below). The world is the access matrix's (an open project with
labelled tasks, suspects in review, a prediction, a review decision, a published dataset version,
an import and a QC job; tokens, users), so the path parameters name things that exist and the
generated query arguments and bodies reach the code behind them; a string path parameter (a
dataset version, a panel) is sometimes the world's, sometimes generated. Destructive operations
(``DELETE`` of the project, of the spare token, a user's sign-out) act on the world of their own
operation only, and the admin's own token is never the one named, so nothing breaks the rest of
the run.

Bounded for CI: ``LABELFAB_FUZZ_EXAMPLES`` generated cases per operation (default 12) on top of
schemathesis' explicit and boundary ("coverage") cases, no deadline, derandomized (the same cases
on every run), no example database. The requests sent and the server errors are counted and
printed at the end of the run; ``LABELFAB_FUZZ_REPORT=path`` also writes them there as JSON (the
security benchmark reads it).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis.checks import CHECKS as _CHECKS
from schemathesis.checks import load_all_checks

from tests.web.test_access_matrix import ADMIN, World, _world_extras, path_values
from web import create_app

pytestmark = pytest.mark.fuzz

MAX_EXAMPLES = int(os.environ.get("LABELFAB_FUZZ_EXAMPLES", "12"))
SEED = os.environ.get("LABELFAB_FUZZ_SEED")  # another run than CI's, to look further

APP = create_app()
APP.config.update(TESTING=True)
SCHEMA = schemathesis.openapi.from_wsgi("/api/openapi.json", APP)

# What the answers must also be, by schemathesis' checks: what the document says of each operation
# (status, content type, body of every documented answer), a 405 naming the allowed methods, a
# request without a required header refused. Left out: whether a schema-valid body is accepted and
# a schema-invalid one refused (the document gives types; the app also refuses what the domain
# does not take, a config that is no XML, a setting out of range, and takes Label Studio's loose
# forms), the generated credentials (this run always sends the admin's token; who may call what is
# the access matrix's), Allow for OPTIONS (``/datasets/resplit`` also matches the GET rule of
# ``/datasets/<version>``), and the stateful checks.
load_all_checks()
CHECKS = _CHECKS.get_by_names(["status_code_conformance", "content_type_conformance", "response_schema_conformance",
                               "unsupported_method", "missing_required_header"])

#: requests sent, by status class, and the server errors (operation, status, body) of this run
SENT: Counter = Counter()
SERVER_ERRORS: list[tuple[str, int, str]] = []
# the world of the operation being fuzzed: path parameter values (set by the ``world`` fixture)
_CURRENT: dict = {}


@SCHEMA.hook
def flatmap_path_parameters(context, path_parameters):
    """The world's ids always (a generated id names nothing: 404 before any code runs); a string
    parameter (version, panel, name) either the world's or the generated one."""
    values = _CURRENT.get("values") or {}
    if not path_parameters:
        return st.just(path_parameters)
    ids = {k: values[k] for k, v in path_parameters.items() if k in values and isinstance(values[k], int)}
    real = {k: str(values[k]) for k in path_parameters if k in values}
    if "name" in real and context.operation.path.startswith("/api/stats/"):
        real["name"] = _CURRENT["stats_name"]
    return st.sampled_from([{**path_parameters, **real}, {**path_parameters, **ids}])


@pytest.fixture
def world():
    world = World(APP)
    extras = _world_extras(world, APP.test_client())
    # read once: a DELETE of the project leaves nothing to read them from
    _CURRENT["values"] = path_values(world, extras, "/api/projects")
    _CURRENT["stats_name"] = path_values(world, extras, "/api/stats/<name>")["name"]
    yield world
    _CURRENT.clear()


def _error_shape_problem(response) -> str | None:
    """Why a 4xx answer is not the app's JSON error shape (None when it is)."""
    content_type = (response.headers.get("content-type") or [""])[0]  # lower-case names, lists of values
    if not content_type.startswith("application/json"):
        return f"Content-Type {content_type!r}, not JSON"
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        return f"not JSON: {exc}"
    if not isinstance(body, dict) or set(body) != {"detail", "errors"}:
        return f"not {{detail, errors}}: {str(body)[:200]}"
    if not isinstance(body["detail"], str) or not isinstance(body["errors"], list):
        return f"detail must be a string and errors a list: {str(body)[:200]}"
    return None


def _seeded(test):
    return hypothesis.seed(int(SEED))(test) if SEED else test


@SCHEMA.parametrize()
@hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=not SEED, database=None,
                     suppress_health_check=list(HealthCheck), print_blob=False)
@_seeded
def test_api_fuzz(case, world):
    values = _CURRENT["values"]
    for name in list(case.path_parameters or {}):
        if isinstance(values.get(name), int):  # the explicit and boundary cases too (no hook there)
            case.path_parameters[name] = values[name]
    headers = {"Authorization": f"Token {world.tokens[ADMIN]}"}
    response = case.call(headers=headers)
    SENT[f"{response.status_code // 100}xx"] += 1
    label = f"{case.method} {case.formatted_path}"
    if response.status_code >= 500:
        SERVER_ERRORS.append((label, response.status_code, response.text[:300]))
    assert response.status_code < 500, f"{label}: {response.status_code} {response.text[:500]}\n{case.as_curl_command()}"
    if 400 <= response.status_code < 500:
        problem = _error_shape_problem(response)
        assert problem is None, f"{label}: {response.status_code} {problem}\n{case.as_curl_command()}"
    case.validate_response(response, checks=CHECKS, headers=headers)


class _Summary:
    def pytest_terminal_summary(self, terminalreporter):
        total = sum(SENT.values())
        if not total:
            return
        operations = len(list(SCHEMA.get_all_operations()))
        terminalreporter.write_sep("-", "API fuzz")
        by_class = ", ".join(f"{k}: {v}" for k, v in sorted(SENT.items()))
        terminalreporter.write_line(f"API fuzz: {total} requests over {operations} operations ({by_class}); "
                                    f"{len(SERVER_ERRORS)} server errors")
        for label, status, text in SERVER_ERRORS[:20]:
            terminalreporter.write_line(f"  {status} {label}: {text[:160]}")
        report = os.environ.get("LABELFAB_FUZZ_REPORT")
        if report:
            Path(report).write_text(json.dumps({"operations": operations, "requests": total, "by_class": dict(SENT),
                                                "server_errors": len(SERVER_ERRORS),
                                                "examples_per_operation": MAX_EXAMPLES}))


@pytest.fixture(scope="module", autouse=True)
def _summary(request):
    """The count at the end of the run (a plugin: a test module's own hooks are not called)."""
    manager = request.config.pluginmanager
    if manager.get_plugin("labelfab-api-fuzz-summary") is None:
        manager.register(_Summary(), "labelfab-api-fuzz-summary")
