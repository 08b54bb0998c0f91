"""The dataset card: a version's ``README.md`` and the card page's sentences, read off its manifest.

Pure functions of a manifest (:func:`labeling.datasets.publish` writes it), so a version published
long ago reads as it did: keys added since (``generation``, ``excluded_by_review``) are optional.
"""

from __future__ import annotations

from typing import Any


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def split_text(split: dict[str, Any]) -> str:
    """The card's sentence on the splits: the generation, its rule, who started it, what moved."""
    shares = ", ".join(f"{k} {v:g}" for k, v in split["ratios"].items())
    text = f"Seed {split['seed']}, shares {shares}, stratified by label."
    if "generation" not in split:  # a version published before splits were kept
        return text
    gen = split["generation"]
    if split.get("resplit"):
        who = f" by {split['started_by']}" if split.get("started_by") else ""
        why = f" ({split['reason']})" if split.get("reason") and split["reason"] != "re-split" else ""
        head = f"Split generation {gen}: re-split{who} on {split['started_at'][:10]}{why}."
    else:
        head = f"Split generation {gen}, started by the first publish."
    return (f"{head} {text} A task's split is decided when a version first releases it and kept in "
            f"every later version of the generation: {split['kept']} items kept their split, "
            f"{split['placed']} were placed by this version.")


def excluded_text(qc: dict[str, Any]) -> str:
    """How many tasks are excluded, and by whom: ``2 (1 by a review decision, 1 by a lead)``."""
    n = qc["excluded"]
    if "excluded_by_review" not in qc or not n:  # a version published before the two were told apart
        return str(n)
    reviewed = qc["excluded_by_review"]
    return f"{n} ({reviewed} by a review decision, {n - reviewed} by a lead)"


def card_markdown(manifest: dict[str, Any]) -> str:
    """The dataset card (README.md of a version): a readable summary of its manifest."""
    m = manifest
    qc = m["qc"]
    run = qc.get("quality_run")
    lines = [
        f"# {m['project']['title']} — dataset version {m['version']}",
        "",
        f"- sha256 (of `{m['sha256_of']}`): `{m['sha256']}`",
        f"- published {m['published_at']} by {m['published_by']['email']}",
        f"- {m['n_items']} items, kind: {m['label_schema']['kind']}, labels from control "
        f"`{m['label_schema']['control']}`",
    ]
    if m.get("note"):
        lines += ["", "## Note", "", m["note"]]
    lines += ["", "## Splits", "", split_text(m["split"]), "", "| split | items |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in m["splits"].items()]
    lines += ["", "## Labels", "", "| label | items | train | validation | test |", "|---|---|---|---|---|"]
    for name, n in m["label_counts"].items():
        per = m["label_split_counts"].get(name, {})
        lines.append(f"| {name} | {n} | {per.get('train', 0)} | {per.get('validation', 0)} | {per.get('test', 0)} |")
    lines += ["", "Label sources: " + ", ".join(f"{k} {v}" for k, v in m["label_sources"].items()) + "."]
    lines += ["", "## Quality", ""]
    if run:
        lines.append(f"- released items flagged by QC run #{run['id']} and not reviewed since: "
                     f"{_pct(qc['estimated_noise_rate'])} ({qc['flagged_released']} flagged, "
                     f"{qc['flagged_resolved']} of them reviewed since; run of {run['created_at']})")
        lines.append(f"- label noise that QC run #{run['id']} estimated over the {run['n_items']} items it "
                     f"scored (before review, released or not): {_pct(run['noise_rate'])}")
    else:
        lines.append("- no QC run has finished in this project: the noise rate is not estimated")
    lines += [f"- items reviewed: {qc['items_reviewed']}", f"- excluded: {excluded_text(qc)}",
              f"- gold tasks left out: {qc['gold_left_out']}"]
    if qc.get("not_released"):
        lines.append("- not released (other states): " + ", ".join(f"{k} {v}" for k, v in qc["not_released"].items()))
    lines += ["", "## Files", "", "| file | bytes | sha256 |", "|---|---|---|"]
    lines += [f"| {f['name']} | {f['size']} | `{f['sha256']}` |" for f in m["files"]]
    lines += ["", "## Pull", "", "```",
              f"labelfab pull URL {m['project']['id']}@{m['version']} --token TOKEN --format jsonl --out data/",
              "```", "", "```python", "import labelfab_client as lf  # pip install 'labelfab-client[pandas]'",
              f"path = lf.pull(URL, {m['project']['id']}, {m['version']}, token=TOKEN, out_dir='data')",
              "df = lf.dataframe(path)", "```", ""]
    return "\n".join(lines)
