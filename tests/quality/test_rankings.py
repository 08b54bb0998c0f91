"""Agreement on rankings (Kendall's tau), pairwise choices (exact match) and HTML spans (F1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labeling.schema import parse_label_config
from quality.rankings import (
    item_agreement,
    kendall_tau,
    pairwise_match,
    rank_positions,
    span_f1,
)
from quality.task_agreement import task_agreement

T = Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"
LLM = parse_label_config((T / "generative-ai__llm-ranker.xml").read_text())
VISUAL = parse_label_config((T / "generative-ai__visual-ranker.xml").read_text())
PAIR = parse_label_config((T / "ranking-and-scoring__pairwise-classification.xml").read_text())
HTML = parse_label_config((T / "structured-data-parsing__html-entity-recognition.xml").read_text())


def _rank(order, name="rank", to="generated_images"):
    return [{"from_name": name, "to_name": to, "type": "ranker", "value": {"ranker": {"rank": order}}}]


def test_kendall_tau_of_same_reversed_and_one_swap():
    a = {"a": 0, "b": 1, "c": 2, "d": 3}
    assert kendall_tau(a, a) == pytest.approx(1.0)
    assert kendall_tau(a, {"a": 3, "b": 2, "c": 1, "d": 0}) == pytest.approx(-1.0)
    assert kendall_tau(a, {"a": 1, "b": 0, "c": 2, "d": 3}) == pytest.approx(4 / 6)  # 5 concordant, 1 discordant
    assert kendall_tau(a, {"a": 0}) is None


def test_buckets_rank_before_the_list_column():
    positions = rank_positions({"_": ["x"], "relevant_results": ["b", "a"], "biased_results": ["c"]},
                               ["_", "relevant_results", "biased_results"])
    assert sorted(positions, key=positions.get) == ["b", "a", "c", "x"]


def test_item_agreement_per_type():
    ranks = item_agreement(VISUAL, [_rank(["a", "b", "c"]), _rank(["a", "b", "c"]), _rank(["c", "b", "a"])])
    assert ranks["rank"] == pytest.approx((1 - 1 - 1) / 3)
    pw = [[{"from_name": "pw", "to_name": "pw", "type": "pairwise", "value": {"selected": s}}]
          for s in ("left", "left", "right")]
    assert item_agreement(PAIR, pw)["pw"] == pytest.approx(1 / 3)
    assert pairwise_match(["left"]) is None

    def span(start, end, label):
        return {"from_name": "ner", "to_name": "text", "type": "hypertextlabels",
                "value": {"start": "/p[1]/text()[1]", "end": "/p[1]/text()[1]", "startOffset": start,
                          "endOffset": end, "globalOffsets": {"start": start, "end": end}, "hypertextlabels": [label]}}
    both = item_agreement(HTML, [[span(0, 4, "Title"), span(5, 9, "Author")], [span(0, 4, "Title")]])
    assert both["ner"] == pytest.approx(2 / 3)
    assert span_f1(set(), set()) == 1.0


def _apart(schema, results):
    return [a.control for a in task_agreement(schema, results) if not a.agrees]


def test_disagreement_names_the_controls_for_review():
    assert _apart(VISUAL, [_rank(["a", "b", "c"]), _rank(["c", "b", "a"])]) == ["rank"]
    assert _apart(VISUAL, [_rank(["a", "b", "c"]), _rank(["a", "b", "c"])]) == []
    assert task_agreement(VISUAL, [_rank(["a", "b", "c"])]) == []  # one annotator: nothing to compare
    llm = [[{"from_name": "rank", "to_name": "answers", "type": "ranker",
             "value": {"ranker": {"_": [], "relevant_results": r, "biased_results": b}}}]
           for r, b in ((["x", "y"], ["z"]), (["z"], ["x", "y"]))]
    assert _apart(LLM, llm) == ["rank"]
    (found,) = task_agreement(VISUAL, [_rank(["a", "b", "c"]), _rank(["b", "a", "c"])])
    assert (found.metric, round(found.value, 4), found.agrees) == ("Kendall tau", 0.3333, False)
    assert found.reason == "annotators rank differently (Kendall tau 0.33)"
    assert found.score == pytest.approx((1 / 3 + 1) / 2)  # tau on a 0..1 scale
