"""The layout of quality/run/ (ARCHITECTURE.md, quality/): every task type has its scorer in
SCORERS, and the modules import one way, down the table, so there is no import circle."""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

from labeling.schema import Kind
from quality.run import skeleton

RUN = Path(skeleton.__file__).parent
TASK_TYPES = ("classification", "multilabel", "ner", "detection", "taxonomy", "paragraphs", "keypoints",
              "segmentation", "ranking", "hypertext", "audio", "chat", "timeseries", "video", "regression")
#: ARCHITECTURE.md's table of quality/run/, top to bottom: a module imports only modules below
#: its own row (and never one of its row).
LAYERS = (
    ("skeleton",),
    ("fanout",),
    TASK_TYPES,
    ("image_quality",),
    ("outliers", "feedback", "agreement", "region_agreement", "control_agreement"),
    ("probs",),
    ("store",),
    ("load",),
    ("common",),
)


def run_imports(path: Path) -> set[str]:
    """The quality.run modules that ``path`` imports."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "quality.run":
                out.update(a.name for a in node.names)
            elif node.module.startswith("quality.run."):
                out.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[2] for a in node.names if a.name.startswith("quality.run."))
    return out


def test_every_task_type_has_one_scorer():
    kinds = set(typing.get_args(Kind)) - {"other"}
    assert set(skeleton.SCORERS) == kinds == set(TASK_TYPES)
    for kind, scorer in skeleton.SCORERS.items():
        assert scorer.__module__ == f"quality.run.{kind}" and scorer.__name__ == "score"
        assert list(inspect.signature(scorer).parameters) == ["data", "options", "progress"]


def test_run_modules_import_down_the_table_only():
    rank = {name: i for i, row in enumerate(LAYERS) for name in row}
    modules = {p.stem for p in RUN.glob("*.py")} - {"__init__"}
    assert modules == set(rank), "a module of quality/run/ missing from LAYERS (and ARCHITECTURE.md)"
    upward = [(m, i) for m in sorted(modules) for i in sorted(run_imports(RUN / f"{m}.py"))
              if rank[i] <= rank[m]]
    assert upward == []
    assert run_imports(RUN / "__init__.py") == set()


def test_results_read_without_the_run():
    results = Path(skeleton.__file__).parent.parent / "results.py"
    assert run_imports(results) == set()
