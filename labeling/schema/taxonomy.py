"""Hierarchical classification: ``<Taxonomy>`` with nested ``<Choice>`` tags.

One result item per task, as Label Studio's editor stores it: every picked node as its path
from the root, ``{"type": "taxonomy", "value": {"taxonomy": [["Eukarya", "Human"], ...]}}``.
A node's name in a path is its ``alias``, else its ``value``; siblings with the same name are
one node (Label Studio keeps the first). ``leafsOnly="true"`` allows leaves only, ``maxUsages``
caps how many paths one result holds; ``showFullPath`` and ``pathSeparator`` change only how the
picked paths are shown. ``apiUrl`` (a remote taxonomy) and ``labeling="true"`` (taxonomy as
span labels) are not supported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labeling.schema.tags import ControlTag, attr

if TYPE_CHECKING:
    from labeling.schema.model import ControlSpec

__all__ = ["CONTROL_TAGS", "TAXONOMY", "tree_paths"]


def _attrs(el: Any) -> list[str]:
    problems = []
    if attr(el, "apiUrl") is not None:
        problems.append("uses apiUrl (a remote taxonomy), which is not supported yet; list the <Choice> tags")
    if (attr(el, "labeling") or "").lower() == "true":
        problems.append('uses labeling="true" (taxonomy as span labels), which is not supported yet')
    max_usages = attr(el, "maxUsages")
    if max_usages is not None and not (max_usages.isdigit() and int(max_usages) >= 1):
        problems.append(f'has maxUsages="{max_usages}"; use a whole number >= 1')
    return problems


def _fields(ctrl: Any) -> dict[str, Any]:
    max_usages = ctrl.get_attr("maxUsages")
    return {
        "leafs_only": str(ctrl.get_attr("leafsOnly", "false")).lower() == "true",
        "show_full_path": str(ctrl.get_attr("showFullPath", "false")).lower() == "true",
        "path_separator": ctrl.get_attr("pathSeparator", " / "),
        "max_usages": int(max_usages) if max_usages else None,
    }


def tree_paths(children: list[tuple[str, list]], prefix: tuple[str, ...] = ()) -> list[list[str]]:
    """Every node's path of a tree given as ``[(name, children), ...]``, depth first in order,
    siblings with a name already seen left out (with their subtrees), as Label Studio does."""
    out: list[list[str]] = []
    seen: set[str] = set()
    for name, kids in children:
        if name in seen:
            continue
        seen.add(name)
        path = (*prefix, name)
        out.append(list(path))
        out += tree_paths(kids, path)
    return out


def _check(control: ControlSpec, item: dict, value: dict, *, where: str, **_: Any) -> list[str]:
    paths = value.get("taxonomy")
    if (not isinstance(paths, list) or not paths
            or not all(isinstance(p, list) and p and all(isinstance(n, str) for n in p) for p in paths)):
        return [f"{where}: value.taxonomy must be a non-empty list of paths (lists of names, root first)"]
    known = {tuple(p) for p in control.taxonomy}
    parents = {tuple(p[:-1]) for p in control.taxonomy if len(p) > 1}
    problems = []
    unknown = [p for p in paths if tuple(p) not in known]
    if unknown:
        problems.append(f"{where}: path(s) {unknown} are not in the taxonomy of {control.name!r}")
    if len({tuple(p) for p in paths}) != len(paths):
        problems.append(f"{where}: value.taxonomy repeats a path")
    if control.leafs_only:
        inner = [p for p in paths if tuple(p) in parents]
        if inner:
            problems.append(f"{where}: {control.name!r} takes leaves only (leafsOnly), got {inner}")
    if control.max_usages is not None and len(paths) > control.max_usages:
        problems.append(f"{where}: {control.name!r} takes at most {control.max_usages} path(s) (maxUsages), "
                        f"got {len(paths)}")
    return problems


def _text(value: dict) -> str:
    paths = value.get("taxonomy") or []
    return ", ".join(" / ".join(map(str, p)) for p in paths if isinstance(p, list))


TAXONOMY = ControlTag(name="Taxonomy", result_type="taxonomy", targets=("Text", "Image", "Paragraphs", "Table", "Pdf"),
                      per_task=True, check_attrs=_attrs, spec_fields=_fields, check_item=_check, text=_text,
                      kind=lambda control: "taxonomy")

CONTROL_TAGS = (TAXONOMY,)
