"""Label Studio's own templates, measured: how many labelfab accepts, and whether a result of
each comes back from the export exactly as stored; prints one JSON line of figures last.

The 69 templates of Label Studio 1.23.2 are the ``annotation_templates/`` folder of the
``label-studio`` package (``../shared/peers/label-studio.sh`` installs it in
``$HOME/.cache/label-studio-peer/venv``; ``--templates DIR`` names another copy). Each folder
holds a ``config.yml`` with ``title``, ``type``/``group`` (the category) and ``config`` (the
XML). labelfab itself does not need Label Studio installed: the templates are read as files.

For every template, in a fresh labelfab (SQLite in a temporary DATA_DIR, the domain functions
the pages and the REST API call):

1. ``accepted``: the project is created from the XML unchanged (else the first refusal).
2. ``task``: a task is imported, made as Label Studio makes a template's sample task
   (``LabelInterface.get_task_from_labeling_config``: a ``<!-- {...} -->`` comment of the
   config; labelfab also takes the first task of a ``<!-- [...] -->`` list), with the fields
   still missing filled by the SDK's ``generate_sample_task`` (Label Studio's example values).
3. ``round_trip``: a Label Studio-shaped result with one item per control the template has (a
   choice, a span of the text, a box, a text, a rating, a number, a date) is submitted, and the
   project's Label Studio JSON export must give it back identical.

In scope are the templates that need no audio, video, time series, PDF or chat (44 of 69); the
rest are reported apart. With Label Studio's venv present (``--ls-venv``, by default the peer
script's), each config is also validated by Label Studio's own ``validate_label_config`` and
each stored result by Label Studio's SDK (``validate_prediction``), side by side.

Usage: python bench/ls_templates.py [--templates DIR] [--ls-venv DIR] [--no-ls] [--only NAME]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
LS_VENV = Path(os.environ.get("LS_HOME", Path.home() / ".cache" / "label-studio-peer")) / "venv"
#: Tags whose templates are out of this measure's scope (the next issue's: media and chat).
OUT_OF_SCOPE_TAGS = {"Audio", "AudioPlus", "Video", "TimeSeries", "Pdf", "Chat"}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- templates


def find_templates(given: str | None, ls_venv: Path) -> Path:
    if given:
        return Path(given)
    found = sorted(glob.glob(str(ls_venv / "lib" / "python*" / "site-packages" / "label_studio" / "annotation_templates")))
    if not found:
        raise SystemExit(
            "Label Studio's annotation_templates/ not found: run ../shared/peers/label-studio.sh once "
            "(it installs label-studio==1.23.2 in $HOME/.cache/label-studio-peer/venv), or pass --templates DIR"
        )
    return Path(found[-1])


def read_templates(folder: Path) -> list[dict]:
    out = []
    for path in sorted(folder.glob("*/*/config.yml")):
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
        xml = meta["config"]
        tags = set(re.findall(r"<([A-Za-z][A-Za-z0-9]*)", re.sub(r"<!--.*?-->", "", xml, flags=re.S)))
        out.append({
            "name": f"{path.parent.parent.name}/{path.parent.name}",
            "title": meta.get("title", path.parent.name),
            "category": meta.get("group") or path.parent.parent.name,
            "type": meta.get("type"),
            "xml": xml,
            "in_scope": not (tags & OUT_OF_SCOPE_TAGS),
        })
    return out


def example_task(xml: str) -> dict:
    """A template's sample task, as Label Studio makes one (comment first, then examples)."""
    from label_studio_sdk.label_interface import LabelInterface

    data, _, _ = LabelInterface.get_task_from_labeling_config(xml)
    data = dict(data or {})
    if not data:
        match = re.search(r"<!--\s*(\[.*?\])\s*-->", xml, flags=re.S)
        if match:
            try:
                listed = json.loads(match.group(1))
            except json.JSONDecodeError:
                listed = None
            if isinstance(listed, list) and listed and isinstance(listed[0], dict):
                first = listed[0]
                data = dict(first.get("data", first))
    try:
        sample = LabelInterface(xml).generate_sample_task(mode="upload", secure_mode=False)
    except Exception as exc:  # noqa: BLE001  (the SDK's sampler fails on configs it cannot read)
        log(f"  (no SDK sample: {type(exc).__name__}: {str(exc)[:80]})")
        sample = {}
    for key, value in sample.items():
        data.setdefault(key, value)
    return data


# --------------------------------------------------------------------------- results


def _first_word(text: str) -> tuple[int, int] | None:
    match = re.search(r"\w+", text)
    return (match.start(), match.end()) if match else None


def sample_result(schema, data: dict) -> list[dict]:
    """One Label Studio result item per control of ``schema`` that fits ``data``."""
    from labeling.schema.objects import text_of
    from labeling.schema.validate import data_labels

    result: list[dict] = []
    for n, control in enumerate(schema.controls):
        base = {"id": f"r{n}", "from_name": control.name, "to_name": control.to_name, "type": control.type}
        value: dict | None = None
        labels = list(control.labels) or data_labels(control, data)
        if control.type == "choices":
            value = {"choices": labels[:1]} if labels else None
        elif control.type == "labels":
            text = text_of(data.get(control.data_key))
            span = _first_word(text) if text is not None else None
            if span and labels:
                value = {"start": span[0], "end": span[1], "text": text[span[0]:span[1]], "labels": labels[:1]}
        elif control.type == "rectanglelabels" and labels:
            value = {"x": 10.0, "y": 20.0, "width": 30.0, "height": 25.0, "rotation": 0, "rectanglelabels": labels[:1]}
        elif control.type == "textarea":
            value = {"text": ["a sample answer"]}
        elif control.type == "rating":
            value = {"rating": min(3, control.max_rating or 5)}
        elif control.type == "number":
            value = {"number": _number_in(control)}
        elif control.type == "datetime":
            value = {"datetime": _datetime_for(control)}
        if value is None:
            continue
        item = dict(base, value=value)
        if control.type == "rectanglelabels":
            item = dict(item, original_width=640, original_height=480, image_rotation=0)
        result.append(item)
    return result


def _number_in(control) -> int | float:
    return control.min_value if control.min_value is not None else 1


def _datetime_for(control) -> str:
    from labeling.schema.values import DATETIME_FORMATS

    return DATETIME_FORMATS[tuple(control.only)][1]


# --------------------------------------------------------------------------- labelfab


def labelfab_run(templates: list[dict]) -> list[dict]:
    """Create, import, annotate and export every template in a fresh labelfab."""
    from labeling import annotations, imports, migrate, projects, users
    from labeling.canonical import dumps
    from labeling.errors import Invalid
    from labeling.exports import iter_ls_json
    from labeling.models import Role

    migrate.upgrade()
    admin = users.create_user("bench-templates@example.com", role=Role.admin, password=None, name="Bench")
    rows = []
    for tpl in templates:
        row = {"name": tpl["name"], "title": tpl["title"], "category": tpl["category"], "in_scope": tpl["in_scope"],
               "accepted": False, "task": False, "round_trip": False, "controls": 0, "result_items": 0, "detail": ""}
        rows.append(row)
        try:
            project = projects.create_project(admin, title=tpl["title"][:100], label_config=tpl["xml"])
        except Invalid as exc:
            errors = exc.errors or [{"detail": exc.detail}]
            row["detail"] = errors[0].get("detail", str(errors[0]))[:300]
            continue
        row["accepted"] = True
        schema = projects.parse_config(tpl["xml"])
        row["controls"] = len(schema.controls)
        data = example_task(tpl["xml"])
        row["data_keys"] = sorted(data)
        try:
            report = imports.import_data(admin, project.id, body=[{"data": data}], background=False,
                                         return_task_ids=True)
        except Invalid as exc:
            errors = exc.errors or [{"detail": exc.detail}]
            row["detail"] = "task refused: " + str(errors[0].get("detail", errors[0]))[:300]
            continue
        task_id = report.task_ids[0]
        row["task"] = True
        result = sample_result(schema, data)
        row["result"] = result
        row["result_items"] = len(result)
        try:
            annotations.submit(task_id, admin, result=result, lead_time=1.0)
        except Invalid as exc:
            errors = exc.errors or [{"detail": exc.detail}]
            row["detail"] = "result refused: " + str(errors[0].get("detail", errors[0]))[:300]
            continue
        exported = json.loads(b"".join(iter_ls_json(project.id, admin)))
        back = exported[0]["annotations"][0]["result"] if exported and exported[0]["annotations"] else None
        row["round_trip"] = back is not None and dumps(back) == dumps(result)
        if not row["round_trip"]:
            row["detail"] = f"exported result differs: {json.dumps(back)[:300]}"
    return rows


# --------------------------------------------------------------------------- Label Studio side by side

LS_CHECK = r"""
import json, os, sys
import label_studio
sys.path.insert(0, os.path.dirname(label_studio.__file__))
import django
django.setup()
from core.label_config import validate_label_config
from label_studio_sdk.label_interface import LabelInterface
out = []
for item in json.load(sys.stdin):
    row = {"name": item["name"], "ls_accepted": False, "ls_result_ok": None, "ls_detail": ""}
    try:
        validate_label_config(item["xml"])
        row["ls_accepted"] = True
    except Exception as exc:
        row["ls_detail"] = str(exc)[:300]
    if row["ls_accepted"] and item.get("result"):
        errors = LabelInterface(item["xml"]).validate_prediction({"result": item["result"]}, return_errors=True)
        row["ls_result_ok"] = errors is True or not errors
        if not row["ls_result_ok"]:
            row["ls_detail"] = "; ".join(map(str, errors))[:300]
    out.append(row)
print(json.dumps(out))
"""


def label_studio_run(ls_venv: Path, templates: list[dict], rows: list[dict]) -> dict[str, dict] | None:
    python = ls_venv / "bin" / "python"
    if not python.exists():
        log(f"no Label Studio venv at {ls_venv}: Label Studio's own checks are left out")
        return None
    items = [{"name": t["name"], "xml": t["xml"], "result": r.get("result")} for t, r in zip(templates, rows, strict=True)]
    with tempfile.TemporaryDirectory(prefix="lf-ls-templates-") as home:
        env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": home, "LATEST_VERSION_CHECK": "false",
               "DJANGO_SETTINGS_MODULE": "core.settings.label_studio"}
        env.pop("LABELFAB_DATA_DIR", None)
        done = subprocess.run([str(python), "-c", LS_CHECK], input=json.dumps(items), env=env,
                              capture_output=True, text=True, cwd=home)
    if done.returncode != 0:
        log(f"Label Studio's checks failed: {done.stderr[-1500:]}")
        return None
    return {r["name"]: r for r in json.loads(done.stdout.strip().splitlines()[-1])}


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--templates", help="an annotation_templates/ folder (default: Label Studio's venv)")
    parser.add_argument("--ls-venv", default=str(LS_VENV), help="Label Studio's venv (side-by-side checks)")
    parser.add_argument("--no-ls", action="store_true", help="leave out Label Studio's own checks")
    parser.add_argument("--only", help="only templates whose folder name contains this")
    args = parser.parse_args()

    ls_venv = Path(args.ls_venv)
    templates = read_templates(find_templates(args.templates, ls_venv))
    if args.only:
        templates = [t for t in templates if args.only in t["name"]]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lf-templates-") as data_dir:
        os.environ.update({"LABELFAB_DATA_DIR": data_dir, "LABELFAB_BROKER_URL": "stub://"})
        os.environ.pop("LABELFAB_DATABASE_URL", None)
        sys.path.insert(0, str(ROOT))
        rows = labelfab_run(templates)
    ls = None if args.no_ls else label_studio_run(ls_venv, templates, rows)
    for row in rows:
        row.pop("result", None)
        if ls is not None:
            row.update({k: v for k, v in ls[row["name"]].items() if k != "name"})
        print(json.dumps(row, ensure_ascii=False))
        mark = "ok " if row["round_trip"] else ("acc" if row["accepted"] else "---")
        log(f"{mark} {'   ' if row['in_scope'] else 'out'} {row['name']:<62} {row['detail'][:110]}")

    def count(key: str, scope: bool | None = None) -> int:
        return sum(1 for r in rows if r.get(key) and (scope is None or r["in_scope"] == scope))

    in_scope = sum(1 for r in rows if r["in_scope"])
    figures = {
        "bench": "ls_templates",
        "templates": len(rows),
        "in_scope": in_scope,
        "accepted_in_scope": count("accepted", True),
        "accepted": count("accepted"),
        "task_in_scope": count("task", True),
        "round_trip_in_scope": count("round_trip", True),
        "round_trip": count("round_trip"),
        "by_category": {},
        "seconds": round(time.perf_counter() - started, 1),
    }
    for row in rows:
        cat = figures["by_category"].setdefault(row["category"], {"templates": 0, "accepted": 0, "round_trip": 0})
        cat["templates"] += 1
        cat["accepted"] += row["accepted"]
        cat["round_trip"] += row["round_trip"]
    if ls is not None:
        figures.update({"ls_accepted": sum(1 for r in rows if r.get("ls_accepted")),
                        "ls_accepted_in_scope": sum(1 for r in rows if r.get("ls_accepted") and r["in_scope"]),
                        "ls_result_ok": sum(1 for r in rows if r.get("ls_result_ok")),
                        "ls_result_checked": sum(1 for r in rows if r.get("ls_result_ok") is not None)})
    figures["summary"] = (f"accepted {figures['accepted_in_scope']}/{in_scope} in scope, "
                          f"{figures['accepted']}/{len(rows)} overall; round trip {figures['round_trip_in_scope']}/{in_scope}")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
