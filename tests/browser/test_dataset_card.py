"""A dataset version's page in the browser: the Quality card's figures and their captions."""

from __future__ import annotations

from playwright.sync_api import expect

from labeling import datasets
from labeling.db import write_session
from labeling.models import LabelIssue, QualityRun
from tests.browser.conftest import login
from tests.labeling.test_exports import accept, make_project, task_ids, text_task

LINE_GAPS = """(node) => {
    const range = document.createRange();
    range.selectNodeContents(node);
    const tops = [...new Set([...range.getClientRects()].map((r) => Math.round(r.top)))].sort((a, b) => a - b);
    return {gaps: tops.slice(1).map((t, i) => t - tops[i]), size: parseFloat(getComputedStyle(node).fontSize)};
}"""


def test_the_quality_card_reads_as_sentences_in_lines_of_their_own_size(page, shot, lead):
    pid = make_project(lead.user, [text_task(i, ["pos", "neg", "neu"][i % 3]) for i in range(30)])
    ids = task_ids(pid)
    accept(pid, ids[:20])
    with write_session() as s:
        run = QualityRun(project_id=pid, status="done", n_items=30, n_issues=1, noise_rate=0.1, model_name="logreg")
        s.add(run)
        s.flush()
        s.add(LabelIssue(run_id=run.id, project_id=pid, task_id=ids[0], is_issue=True, score=0.1))
    datasets.publish(pid, lead.user)
    login(page, lead.email)
    page.goto(f"/projects/{pid}/datasets/1")
    card = page.locator("section.card", has=page.get_by_role("heading", name="Quality"))
    expect(card).to_contain_text("1 released item was flagged by that run")
    for figure in ("#flagged-unreviewed", "#run-noise"):
        caption = card.locator(f"{figure} span")
        expect(caption).to_contain_text("QC run #")
        lines = caption.evaluate(LINE_GAPS)
        assert lines["gaps"], f"{figure}: the caption fits one line at 1280 px; the check needs it wrapped"
        big = card.locator(figure).evaluate("(node) => parseFloat(getComputedStyle(node).fontSize)")
        # small text, in lines spaced for its own size, not for the big figure beside it
        assert lines["size"] < big / 2 and max(lines["gaps"]) <= 1.6 * lines["size"], (figure, big, lines)
    shot(page, "dataset-card-quality")
