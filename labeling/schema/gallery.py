"""Ready-made label configs (``labeling/schema/gallery/*.xml``), offered when creating a project."""

from __future__ import annotations

import re
from importlib import resources

from labeling.schema.parse import parse_label_config

__all__ = ["gallery"]


def gallery() -> list[dict[str, str]]:
    """Ready-made label configs from ``labeling/schema/gallery/*.xml``.

    Returns
    -------
    list of dict
        ``{"id", "title", "kind", "xml"}`` per config, sorted by id; ``id`` is the file name
        without ``.xml`` and ``title`` the config's leading comment.
    """
    folder = resources.files("labeling.schema").joinpath("gallery")
    entries = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".xml"):
            continue
        xml = path.read_text(encoding="utf-8")
        title = re.match(r"\s*<!--\s*(.*?)\s*-->", xml, re.DOTALL)
        entries.append(
            {
                "id": path.name.removesuffix(".xml"),
                "title": title.group(1) if title else path.name.removesuffix(".xml"),
                "kind": parse_label_config(xml).kind,
                "xml": xml,
            }
        )
    return entries
