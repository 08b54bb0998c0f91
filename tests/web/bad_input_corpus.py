"""The bad-input corpus as data: every request is ``(method, url, body)``, the body a JSON text
(or None), for a world of one Choices project with three tasks, one annotation and an admin
(:class:`Ids`). ``tests/web/test_bad_input.py`` sends them and checks each answer's status and
message; ``bench/security.py`` sends :func:`corpus` and counts the server errors.

Label configs far past the limits, JSON nested 100,000 deep, NaN and Infinity, lone surrogates
in every text field, whole numbers above 2**63 in query arguments, numbers and dates out of
range in bodies, a 60,000-character search, unbounded settings, oversized titles and
descriptions, fields of the wrong JSON type, results whose items are no objects, methods a route
does not take.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

TEXT = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"""
HUGE = 2**64
SURROGATE = "\\ud800"  # as JSON text: a lone surrogate once parsed
RESULT = '[{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}]'

Request = tuple[str, str, str | None]


@dataclass(frozen=True)
class Ids:
    """The world the corpus names: a project of :data:`TEXT`, its three tasks, an annotation of
    the first, and an admin."""

    project: int
    tasks: tuple[int, int, int]
    annotation: int
    admin: int


def choices_config(n: int, *, extra: str = "") -> str:
    labels = "".join(f'<Choice value="label {i:06d}"/>\n' for i in range(n))
    return f'<View><Text name="text" value="$text"/>\n<Choices name="label" toName="text">\n{labels}{extra}</Choices></View>'


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def huge_configs() -> list[Request]:
    """The 100,000-choice label config (2.6 MB), to create a project and to validate."""
    body = json.dumps({"title": "huge", "label_config": choices_config(100_000)})
    return [("POST", "/api/projects/validate", body), ("POST", "/api/projects", body)]


def deep_bodies(ids: Ids) -> list[Request]:
    """A 100,000-deep value inside the body of every JSON-taking route."""
    inner, t = deep(100_000), ids.tasks
    return [
        ("PATCH", f"/api/projects/{ids.project}", '{"description": ' + inner + "}"),
        ("POST", "/api/projects", inner),
        ("POST", "/api/projects/validate", '{"label_config": ' + inner + "}"),
        ("PATCH", f"/api/tasks/{t[0]}", '{"meta": ' + inner + "}"),
        ("POST", f"/api/tasks/{t[1]}/annotations", '{"result": ' + inner + "}"),
        ("PATCH", f"/api/annotations/{ids.annotation}", '{"result": ' + inner + "}"),
        ("POST", f"/api/projects/{ids.project}/members", '{"user": ' + inner + "}"),
        ("POST", "/api/users", '{"email": ' + inner + "}"),
        ("PATCH", f"/api/users/{ids.admin}", '{"role": ' + inner + "}"),
        ("POST", "/api/tokens", inner),
        ("POST", f"/api/projects/{ids.project}/qc", '{"models": ' + inner + "}"),
        ("PUT", f"/api/projects/{ids.project}/qc-policy", '{"threshold": ' + inner + "}"),
        ("POST", f"/api/projects/{ids.project}/datasets", '{"note": ' + inner + "}"),
        ("POST", "/api/predictions", '{"task": 1, "result": ' + inner + "}"),
        ("POST", f"/api/tasks/{t[2]}/review", '{"action": ' + inner + "}"),
        ("POST", f"/api/tasks/{t[0]}/drafts", '{"result": ' + inner + "}"),
        ("PATCH", "/api/current-user/hotkeys", '{"custom_hotkeys": ' + inner + "}"),
    ]


def not_json(ids: Ids) -> list[Request]:
    """NaN and Infinity, which Python's json takes and JSON does not."""
    url = f"/api/projects/{ids.project}"
    return [("PATCH", url, '{"gold_rate": NaN}'), ("PATCH", url, '{"gold_threshold": Infinity}'),
            ("PATCH", url, '{"gold_rate": -Infinity}'),
            ("PUT", f"/api/projects/{ids.project}/qc-policy", '{"budget": Infinity}')]


def lone_surrogates(ids: Ids) -> list[Request]:
    """A lone surrogate in every text field of the API."""
    s, p, t = SURROGATE, ids.project, ids.tasks
    return [
        ("POST", "/api/projects", '{"title": "a' + s + '", "label_config": ' + json.dumps(TEXT) + "}"),
        ("POST", "/api/projects", '{"title": "t", "label_config": "<View>' + s + '</View>"}'),
        ("POST", "/api/projects/validate", '{"label_config": "<View>' + s + '</View>"}'),
        ("PATCH", f"/api/projects/{p}", '{"title": "' + s + '"}'),
        ("PATCH", f"/api/projects/{p}", '{"description": "x' + s + '"}'),
        ("PATCH", f"/api/projects/{p}", '{"expert_instruction": "' + s + '"}'),
        ("PATCH", f"/api/projects/{p}", '{"' + s + '": 1}'),
        ("POST", f"/api/tasks/{t[1]}/annotations", '{"was_cancelled": true, "skip_reason": "' + s + '"}'),
        ("PATCH", f"/api/annotations/{ids.annotation}", '{"skip_reason": "' + s + '"}'),
        ("POST", f"/api/projects/{p}/members", '{"email": "' + s + '@example.com"}'),
        ("POST", "/api/users", '{"email": "x' + s + '@example.com", "role": "annotator"}'),
        ("POST", "/api/predictions", '{"task": ' + str(t[2]) + ', "model_version": "' + s + '", "result": []}'),
        ("PATCH", f"/api/tasks/{t[2]}", '{"data": {"text": "' + s + '"}}'),
        ("POST", f"/api/projects/{p}/datasets", '{"note": "' + s + '"}'),
    ]


def surrogate_imports(ids: Ids) -> list[Request]:
    """Imports whose second row (or only row) has a lone surrogate somewhere, with and without dedupe."""
    s = SURROGATE
    bodies = [
        '[{"text": "fine"}, {"text": "bad' + s + '"}]',  # data
        '[{"text": "fine", "' + s + '": 1}]',  # a data key
        '[{"data": {"text": "a"}, "annotations": [{"completed_by": "' + s + '@x.org", "result": []}]}]',
        '[{"data": {"text": "a"}, "predictions": [{"model_version": "' + s + '", "result": []}]}]',
        '[{"data": {"text": "a"}, "meta": {"note": "' + s + '"}}]',
    ]
    return [("POST", f"/api/projects/{ids.project}/import{query}", raw) for raw in bodies for query in ("", "?dedupe=true")]


def big_query_numbers(ids: Ids) -> list[Request]:
    """Whole numbers past 2**63 (and ids past what a column holds) in query arguments and versions."""
    pid = ids.project
    return [("GET", url, None) for url in (
        f"/api/tasks?project={pid}&page={HUGE}",
        f"/api/tasks?project={HUGE}",
        f"/api/tasks?project={pid}&page={10**17}",  # small enough, but its offset is not
        f"/api/projects/{pid}/tasks?page={HUGE}",
        f"/api/projects?page={HUGE}",
        f"/api/annotate/{pid}/next?exclude={HUGE}",
        f"/api/annotate/{pid}/previous?before={HUGE}",
        f"/api/projects/{pid}/my-annotations?before={HUGE}",
        f"/api/projects/{pid}/my-annotations?limit={HUGE}",
        f"/api/predictions?task={HUGE}",
        f"/api/projects/{pid}/datasets/{HUGE}",
        f"/api/projects/{pid}/datasets/v{HUGE}",
        f"/api/projects/{pid}/datasets/{HUGE}/download?format=jsonl",
        f"/api/projects/{pid}/datasets/diff?from={HUGE}&to=1",
        f"/api/projects/{pid}/datasets/diff?from={'9' * 5000}&to=1",
        f"/api/projects/{pid}/label-issues?page={HUGE}",
        f"/api/projects/{pid}/label-issues?run={HUGE}",
        f"/api/projects/{pid}/qc/runs?limit={HUGE}",
        f"/api/projects/{pid}/review/decisions?task={HUGE}",
        f"/api/projects/{pid}/review/decisions?limit={HUGE}",
        f"/api/projects/{pid}/audit?sample={HUGE}",
        f"/api/projects/{pid}/audit?reviewer={HUGE}&seed={HUGE}",
        f"/api/projects/{pid}/stats/items?page={HUGE}&annotator={HUGE}",
    )]


def ids_in_paths(ids: Ids) -> list[Request]:
    """Ids past what an id column holds, in paths (no route matches them)."""
    return [("GET", url, None) for url in (
        f"/api/projects/{2**31}", f"/api/tasks/{HUGE}", f"/api/tasks/{2**31}/annotations",
        f"/api/annotations/{HUGE}", f"/api/jobs/{2**40}", f"/api/projects/{ids.project}/qc/runs/{HUGE}")]


def out_of_range_bodies(ids: Ids) -> list[Request]:
    """Numbers past what a float or a column holds in bodies, and a role that is no string."""
    t = ids.tasks
    return [
        ("POST", f"/api/tasks/{t[0]}/annotations", '{"result": ' + RESULT + ', "lead_time": 1' + "0" * 400 + "}"),
        ("POST", f"/api/tasks/{t[0]}/annotations", '{"result": ' + RESULT + ', "lead_time": 1e400}'),
        ("PATCH", f"/api/tasks/{t[1]}", '{"priority": ' + str(10**400) + "}"),
        ("POST", "/api/predictions", '{"task": ' + str(t[2]) + ', "result": ' + RESULT + ', "score": 1e999}'),
        ("POST", "/api/predictions", '{"task": ' + str(10**30) + ', "result": ' + RESULT + "}"),
        ("POST", "/api/predictions", '{"task": ' + str(2**40) + ', "result": ' + RESULT + "}"),
        ("POST", f"/api/projects/{ids.project}/members", '{"user": ' + str(10**30) + "}"),
        ("PATCH", f"/api/users/{ids.admin}", '{"role": ["admin"]}'),
    ]


def unknown_members(ids: Ids) -> list[Request]:
    """Users named by text that is a number too large, or no number at all (404: no such user)."""
    return [("POST", f"/api/projects/{ids.project}/members", json.dumps({"user": who}))
            for who in (str(10**30), str(2**40), "²")]


def out_of_range_arguments(ids: Ids) -> list[tuple[str, str, str | None, str]]:
    """Dates and ids out of range in query arguments, with the reason the answer gives."""
    p = ids.project
    return [("GET", f"/api/annotate/{p}/stats?since=9999-12-31T23:59:59-23:59", None, "not an ISO date-time"),
            ("GET", f"/api/projects/{p}/export?exportType=CSV&state=all&until=0001-01-01T00:00:00%2B14:00", None,
             "until must be a date"),
            ("GET", f"/api/projects/{p}/export?exportType=CSV&state=all&annotator={10**30}", None, "no such user")]


def long_search(ids: Ids) -> list[Request]:
    return [("GET", f"/api/tasks?project={ids.project}&search={'a' * 60_000}", None)]


#: project settings that no project may have
BAD_SETTINGS = [
    {"lease_seconds": 1e18}, {"lease_seconds": 10**18}, {"lease_seconds": 7 * 24 * 3600 + 1},
    {"lease_seconds": 9}, {"maximum_annotations": 10**12}, {"overlap": 101}, {"max_overlap": 2**63},
    {"gold_rate": 1.5}, {"gold_rate": 10**400 // 10**300}, {"gold_threshold": -0.1},
    {"gold_min_items": 10**9}, {"qc_every": 2**64}, {"qc_every": -1},
]
#: QC policy values out of range
BAD_POLICY = [{"budget": 10**30}, {"budget": 2**63}, {"relabel_k": 10**20}, {"threshold": 1e308}]


def bad_settings(ids: Ids) -> list[Request]:
    return ([("PATCH", f"/api/projects/{ids.project}", json.dumps(v)) for v in BAD_SETTINGS]
            + [("PUT", f"/api/projects/{ids.project}/qc-policy", json.dumps(v)) for v in BAD_POLICY])


def oversized_fields(ids: Ids) -> list[Request]:
    """A title and a description past their limits, and a 30 MB description (past the body limit)."""
    p = ids.project
    return [("PATCH", f"/api/projects/{p}", json.dumps({"title": "t" * 256})),
            ("PATCH", f"/api/projects/{p}", json.dumps({"description": "d" * 65_537})),
            ("POST", "/api/projects", json.dumps({"title": "x" * 300, "label_config": TEXT})),
            ("PATCH", f"/api/projects/{p}", json.dumps({"description": "d" * (30 << 20)}))]


def wrong_types(ids: Ids) -> list[Request]:
    """Fields of the wrong JSON type (a list, an object or a number where text or a flag goes),
    and bodies that are no object."""
    return [
        ("POST", "/api/users", '{"email": [null, null], "role": "annotator"}'),
        ("POST", "/api/users", '{"email": "typed@example.com", "role": {"admin": true}}'),
        ("POST", "/api/users", '{"email": "typed@example.com", "password": 12345678901234}'),
        ("POST", "/api/users", '{"email": "typed@example.com", "name": ["a"]}'),
        ("PATCH", f"/api/users/{ids.admin}", "[null, null]"),
        ("PATCH", f"/api/users/{ids.admin}", '"admin"'),
        ("PATCH", f"/api/users/{ids.admin}", '{"role": {"a": 1}}'),
        ("PATCH", f"/api/users/{ids.admin}", '{"is_active": "AAA"}'),
    ]


def results_of_no_objects(ids: Ids) -> list[Request]:
    """Results (annotations, predictions, gold answers) whose items are no objects."""
    t = ids.tasks
    return [
        ("POST", f"/api/tasks/{t[1]}/annotations", '{"result": [[null, null]]}'),
        ("PATCH", f"/api/annotations/{ids.annotation}", '{"result": ["pos"]}'),
        ("POST", "/api/predictions", '{"task": ' + str(t[2]) + ', "result": [1, true]}'),
        ("POST", f"/api/tasks/{t[2]}/gold", '{"answer": [[null, null]]}'),
        ("POST", f"/api/tasks/{t[2]}/gold", '{"answer": ["neg"]}'),
    ]


def wrong_methods(ids: Ids) -> list[Request]:
    """Methods a route does not take (405, naming the ones it does in Allow)."""
    return [("TRACE", "/api/me", None), ("DELETE", "/api/projects/validate", None),
            ("PUT", f"/api/tasks/{ids.tasks[0]}/annotations", None), ("GET", "/api/users/1/sign-out", None)]


def corpus(ids: Ids) -> list[Request]:
    """Every request of the corpus, in an order that leaves the world as it was (each is refused)."""
    return [*huge_configs(), *deep_bodies(ids), *not_json(ids), *lone_surrogates(ids), *surrogate_imports(ids),
            *big_query_numbers(ids), *ids_in_paths(ids), *out_of_range_bodies(ids), *unknown_members(ids),
            *[(m, u, b) for m, u, b, _ in out_of_range_arguments(ids)], *long_search(ids), *bad_settings(ids),
            *oversized_fields(ids), *wrong_types(ids), *results_of_no_objects(ids),
            *wrong_methods(ids)]
