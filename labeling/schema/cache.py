"""The one cache of parsed label schemas, keyed by project id and ``updated_at``.

Every change of a project's label config moves ``Project.updated_at``, so a key never sees two
schemas. Pages, the API, QC and the annotation hot path all read schemas through here
(docs/ARCHITECTURE.md, "labeling/ — the domain": ``schema/``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cachetools import LRUCache

from labeling.schema.model import LabelSchema

__all__ = ["cached_schema", "schema_of"]

_cache: LRUCache[tuple[int, datetime], LabelSchema] = LRUCache(maxsize=256)
_lock = threading.Lock()


def cached_schema(project_id: int, updated_at: datetime, load: Callable[[], dict[str, Any]]) -> LabelSchema:
    """The parsed schema of a project, read with ``load()`` only when not cached.

    Parameters
    ----------
    project_id : int
    updated_at : datetime
        The project's ``updated_at``; a newer one is a different entry.
    load : callable
        Returns the stored ``Project.label_schema`` (a dict); called on a miss only, so a
        caller holding just the id and ``updated_at`` can read it from the database lazily.

    Returns
    -------
    LabelSchema
        Frozen; shared by every caller.
    """
    key = (project_id, updated_at)
    with _lock:
        schema = _cache.get(key)
    if schema is None:
        schema = LabelSchema.model_validate(load())
        with _lock:
            _cache[key] = schema
    return schema


def schema_of(project: Any) -> LabelSchema:
    """The parsed label schema of a project (a ``Project`` or a row with ``id``,
    ``updated_at`` and ``label_schema``); a project not yet stored is parsed, not cached."""
    if project.id is None:
        return LabelSchema.model_validate(project.label_schema)
    return cached_schema(project.id, project.updated_at, lambda: project.label_schema)
