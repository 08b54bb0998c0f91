"""Ready-made label configs: labelfab's own (``labeling/schema/gallery/*.xml``) and the Label
Studio templates labelfab accepts (``labeling/schema/ls_templates/*.xml``, shipped with labelfab,
Apache-2.0 with Label Studio's NOTICE), offered when creating a project and in its settings."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

from labeling.schema.model import LabelConfigError
from labeling.schema.parse import parse_label_config

__all__ = ["gallery"]

_DATA_COMMENT = re.compile(r"<!--\s*(\{.*?\}|\[.*?\])\s*-->", re.DOTALL)


def _sample(xml: str) -> dict:
    """The example task a Label Studio template carries in a ``<!-- {...} -->`` comment (or the
    first of a ``<!-- [...] -->`` list), text values only: media URLs are left to the preview's
    own placeholders, so a preview never fetches anything from elsewhere."""
    match = _DATA_COMMENT.search(xml)
    if not match:
        return {}
    try:
        found = json.loads(match.group(1))
    except json.JSONDecodeError:
        return {}
    if isinstance(found, list):
        found = found[0] if found and isinstance(found[0], dict) else {}
    if isinstance(found, dict) and isinstance(found.get("data"), dict):
        found = found["data"]
    if not isinstance(found, dict):
        return {}

    def media(value: object) -> bool:
        return isinstance(value, str) and (value.startswith(("http://", "https://", "/", "data:"))
                                           or bool(re.fullmatch(r"\S+\.(jpe?g|png|gif|webp|svg|pdf)", value)))

    return {k: v for k, v in found.items() if not media(v)}


_UPPER = {"ai", "bio", "html", "llm", "ner", "nlp", "ocr", "serp", "x"}


def _title(stem: str) -> tuple[str, str]:
    """``natural-language-processing__named-entity-recognition`` -> (title, group)."""

    def nice(slug: str) -> str:
        words = [w.upper() if w in _UPPER else w for w in slug.replace("_", "-").split("-")]
        return " ".join(words)[:1].upper() + " ".join(words)[1:]

    group, _, name = stem.partition("__")
    return nice(name), nice(group).replace("Natural language processing", "Natural language processing (NLP)")


@lru_cache(maxsize=1)
def _entries() -> tuple[dict, ...]:
    entries = []
    own = resources.files("labeling.schema").joinpath("gallery")
    for path in sorted(own.iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".xml"):
            continue
        xml = path.read_text(encoding="utf-8")
        title = re.match(r"\s*<!--\s*(.*?)\s*-->", xml, re.DOTALL)
        entries.append({"id": path.name.removesuffix(".xml"),
                        "title": title.group(1) if title else path.name.removesuffix(".xml"),
                        "group": "labelfab", "source": "labelfab", "kind": parse_label_config(xml).kind,
                        "xml": xml, "sample": {}})
    ls = resources.files("labeling.schema").joinpath("ls_templates")
    for path in sorted(ls.iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".xml"):
            continue
        xml = path.read_text(encoding="utf-8")
        try:
            kind = parse_label_config(xml).kind
        except LabelConfigError:
            continue  # only the templates labelfab accepts are offered
        stem = path.name.removesuffix(".xml")
        title, group = _title(stem)
        entries.append({"id": "ls-" + stem, "title": title, "group": group, "source": "Label Studio",
                        "kind": kind, "xml": xml, "sample": _sample(xml)})
    return tuple(entries)


def gallery() -> list[dict]:
    """Ready-made label configs.

    Returns
    -------
    list of dict
        ``{"id", "title", "group", "source", "kind", "xml", "sample"}`` per config: labelfab's
        own first (``id`` the file name without ``.xml``, ``title`` its leading comment), then
        Label Studio's templates that labelfab accepts (``id`` ``ls-<category>__<name>``,
        ``group`` the category, ``sample`` the text fields of the template's example task).
    """
    return [dict(e) for e in _entries()]
