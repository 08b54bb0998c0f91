"""The review and policy commands: ``labelfab review next|decide`` and ``labelfab policy show|set``,
thin wrappers over labeling.review and quality.policy."""

from __future__ import annotations

import json

import pytest

from labeling.models import Role
from tests.labeling.test_review import label, make_project, suspects_in_review, task, tied_suspects

HOSTILE = "bell \x07 and escape \x1b[31m red"


@pytest.fixture
def reviewer(make_user):
    return make_user("rev@example.com", Role.reviewer)


@pytest.fixture
def queue(lead, annotator):
    project = make_project(lead.user)
    ids = suspects_in_review(project, annotator, given=["pos", "neg", "neu", "neg"],
                             truth=["pos", "pos", "neg", "pos"])
    return project, ids


def run(runner, *args: str):
    return runner.invoke(args=[str(a) for a in args])


def test_review_next_shows_the_suspect_and_decide_keeps_relabels_and_excludes(runner, queue, reviewer):
    project, ids = queue
    out = run(runner, "review", "next", project.id, "--as", reviewer.email)
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith(f"task {ids[1]} (3 in the queue; leased to you until ")
    assert 'data:      "item 1"' in lines and "given:     neg (single, by the annotators)" in lines
    assert "suggested: pos (QC model)" in lines and "score:     0.060 (label issue)" in lines
    assert "reason:    \"labelled 'neg'; model says 'pos' (0.9)\"" in lines
    assert any(line.startswith("  ann@example.com\tneg\t") for line in lines)
    # asking again gives the same suspect (its lease renewed), as JSON for scripts
    again = json.loads(run(runner, "review", "next", project.id, "--json", "--as", reviewer.email).output)
    assert again["task"]["id"] == ids[1] and again["suggested"]["label"] == "pos"

    out = run(runner, "review", "decide", ids[1], "relabel", "--label", "pos", "--as", reviewer.email)
    assert out.exit_code == 0, out.output
    assert out.output.startswith(f"task {ids[1]}: relabel -> accepted, final label pos (decision ")
    t = task(ids[1])
    assert (t.state, t.final_label, t.final_source) == ("accepted", label("pos"), "reviewer")

    out = run(runner, "review", "decide", ids[2], "keep", "--as", reviewer.email)
    assert out.exit_code == 0 and "keep -> accepted, final label neu" in out.output
    out = run(runner, "review", "decide", ids[3], "exclude", "--reason", "cut off", "--as", reviewer.email)
    assert out.exit_code == 0 and f"task {ids[3]}: exclude -> excluded" in out.output
    assert task(ids[3]).state == "excluded"

    empty = run(runner, "review", "next", project.id, "--as", reviewer.email)
    assert empty.exit_code == 0 and empty.output == f"no suspects left to review in project {project.id}\n"
    assert run(runner, "review", "next", project.id, "--json", "--as", reviewer.email).output == "null\n"


@pytest.mark.parametrize(("args", "message"), [
    (["relabel"], "relabel needs the right label"),
    (["relabel", "--label", "maybe"], "unknown"),
    (["relabel", "--result", "[nope"], "--result is not valid JSON"),
    (["relabel", "--result", "[]"], "empty"),
    (["exclude"], "say why the item is excluded"),
    (["keep", "--label", "pos"], "--label and --result go with relabel only"),
])
def test_bad_decisions_fail_and_change_nothing(runner, queue, reviewer, args, message):
    _, ids = queue
    out = run(runner, "review", "decide", ids[1], *args, "--as", reviewer.email)
    assert out.exit_code == 1 and message in out.output
    assert task(ids[1]).state == "review"


def test_review_result_as_json_and_access(runner, queue, reviewer, annotator):
    project, ids = queue
    out = run(runner, "review", "next", project.id, "--as", annotator.email)
    assert out.exit_code == 1 and "error:" in out.output
    out = run(runner, "review", "decide", ids[1], "keep", "--as", annotator.email)
    assert out.exit_code == 1 and task(ids[1]).state == "review"
    out = run(runner, "review", "decide", ids[0], "keep", "--as", reviewer.email)  # accepted, not a suspect
    assert out.exit_code == 1 and "not in the review queue" in out.output
    out = run(runner, "review", "decide", ids[1], "relabel", "--result", json.dumps(label("neu")),
              "--as", reviewer.email)
    assert out.exit_code == 0, out.output
    assert task(ids[1]).final_label == label("neu")
    assert run(runner, "review", "decide", ids[2], "keep", "--as", "ghost@example.com").exit_code == 1


def test_task_data_is_printed_escaped(runner, lead, annotator, reviewer):
    from labeling.db import write_session
    from labeling.models import Task

    project = make_project(lead.user)
    ids = suspects_in_review(project, annotator, given=["neg"], truth=["pos"])
    with write_session() as s:
        t = s.get(Task, ids[0])
        t.data = {"text": HOSTILE}
        s.add(t)
    out = run(runner, "review", "next", project.id, "--as", reviewer.email)
    assert out.exit_code == 0 and "\x1b" not in out.output and "\x07" not in out.output
    assert 'data:      "bell \\u0007 and escape \\u001b[31m red"' in out.output.splitlines()


def test_policy_show_and_set(runner, lead, reviewer):
    project = make_project(lead.user)
    out = run(runner, "policy", "show", project.id, "--as", reviewer.email)
    assert out.exit_code == 0, out.output
    shown = dict(line.split("=", 1) for line in out.output.splitlines())
    assert shown["suspect"] == '"flagged"' and shown["kinds"] == '["label"]' and shown["dynamic_overlap"] == "true"

    out = run(runner, "policy", "set", project.id, "suspect=threshold", "threshold=0.3", "route=relabel",
              "relabel_k=3", "dynamic_overlap=false", "kinds=label,outlier", "--as", lead.email)
    assert out.exit_code == 0, out.output
    values = {k: json.loads(v) for k, v in (line.split("=", 1) for line in out.output.splitlines())}
    assert values == {**values, "suspect": "threshold", "threshold": 0.3, "route": "relabel", "relabel_k": 3,
                      "dynamic_overlap": False, "kinds": ["label", "outlier"]}
    from quality import policy

    assert policy.get_policy(project.id, lead.user) == values

    bad = run(runner, "policy", "set", project.id, "threshold=2", "colour=red", "--as", lead.email)
    assert bad.exit_code == 1 and "threshold must be between 0.0 and 1.0" in bad.output and "colour" in bad.output
    assert run(runner, "policy", "set", project.id, "threshold", "--as", lead.email).exit_code == 1
    denied = run(runner, "policy", "set", project.id, "threshold=0.2", "--as", reviewer.email)
    assert denied.exit_code == 1
    assert policy.get_policy(project.id, lead.user)["threshold"] == 0.3  # nothing changed


@pytest.mark.parametrize("command", [["review"], ["review", "next"], ["review", "decide"], ["policy"],
                                     ["policy", "show"], ["policy", "set"]])
def test_help(runner, command):
    out = runner.invoke(args=[*command, "--help"])
    assert out.exit_code == 0 and "Usage:" in out.output


def test_decide_keep_refuses_a_tie_and_a_relabel_to_the_given_label_is_a_keep(runner, lead, reviewer, make_user):
    project, ids = tied_suspects(lead, make_user)
    out = run(runner, "review", "next", project.id, "--as", reviewer.email)
    assert "given:     annotators tied (pos / neg): keep is refused; relabel to pick one" in out.output
    assert "consensus: neu (QC model-weighted, not a person)" in out.output
    out = run(runner, "review", "decide", ids[0], "keep", "--as", reviewer.email)
    assert out.exit_code == 1 and "tied" in out.output and task(ids[0]).state == "review"
    out = run(runner, "review", "decide", ids[0], "relabel", "--label", "neg", "--as", reviewer.email)
    assert out.exit_code == 0 and task(ids[0]).final_label == label("neg")
    run(runner, "review", "next", project.id, "--as", reviewer.email)
    out = run(runner, "review", "decide", ids[1], "relabel", "--label", "neu", "--as", reviewer.email)
    assert out.exit_code == 0 and "relabel (recorded as keep: the label the annotators gave)" in out.output


@pytest.mark.parametrize("args", [("policy", "set", "{pid}", "foo=1"),
                                  ("export", "{pid}", "--format", "FOO", "--out", "{out}"),
                                  ("dataset", "diff", "{pid}", "1", "2"),
                                  ("import", "{pid}", "{bad}")])
def test_a_refusal_is_one_line(runner, lead, tmp_path, args):
    """A refusal whose error rows only repeat its message prints the message once, on one line."""
    project = make_project(lead.user)
    (tmp_path / "bad.jsonl").write_text("not json\n")
    out = run(runner, *[a.format(pid=project.id, out=tmp_path / "x.jsonl", bad=tmp_path / "bad.jsonl") for a in args], "--as", lead.email)
    assert out.exit_code == 1 and "no admin" not in out.output
    assert len(out.output.strip().splitlines()) == 1 and out.output.startswith("error: "), out.output


def test_a_refusal_lists_the_rows_it_does_not_name(runner, lead, tmp_path):
    project = make_project(lead.user)
    path = tmp_path / "bad.jsonl"
    path.write_text('{"nottext": 1}\n{"text": 5}\n')
    out = run(runner, "import", project.id, path, "--as", lead.email)
    lines = out.output.strip().splitlines()
    assert out.exit_code == 1 and lines[0].startswith("error: 2 problem(s) in 2 of 2 row(s)")
    assert len(lines) == 3 and "row 2" in lines[2], out.output


def test_qc_issues_counts_findings_by_kind_and_takes_every_kind(runner, lead, annotator):
    """``qc issues`` names what it lists (findings, of which the policy's kinds become suspects)
    with their kinds, and ``--kind`` takes every kind a run stores."""
    from tests.labeling.test_review import annotate_all, qc_run

    project = make_project(lead.user)
    ids = annotate_all(project, annotator, ["pos", "neg", "neu", "pos"])
    run_id = qc_run(project.id, {ids[0]: {"is_issue": True, "score": 0.1}, ids[1]: {"is_issue": True, "score": 0.2},
                                 ids[2]: {"kind": "outlier", "is_issue": True, "score": 0.3},
                                 ids[3]: {"kind": "agreement", "is_issue": False}})
    out = run(runner, "qc", "issues", project.id, "--as", lead.email)
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[0] == f"run {run_id}: 3 finding(s) (2 label, 1 outlier)"
    agreement = run(runner, "qc", "issues", project.id, "--kind", "agreement", "--as", lead.email)
    assert agreement.exit_code == 0 and agreement.output.splitlines() == [f"run {run_id}: 0 finding(s)"]
