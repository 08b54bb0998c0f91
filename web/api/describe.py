"""How a REST view describes itself for the OpenAPI document (:mod:`web.api.openapi`): the
:func:`doc` decorator records its query and body models and its answers by status, and changes
nothing in how the view runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class File:
    """A response or request body that is a file (not JSON): its media types."""

    media_types: tuple[str, ...] = ("application/octet-stream",)
    description: str = "a file"


@dataclass
class Doc:
    """What one view takes and answers (see :func:`doc`)."""

    summary: str | None = None
    query: type[BaseModel] | None = None
    body: Any = None
    responses: dict[int, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    public: bool = False


def doc(*, query: type[BaseModel] | None = None, body: Any = None, responses: dict[int, Any] | None = None,
        summary: str | None = None, tags: tuple[str, ...] = (), public: bool = False) -> Callable:
    """Describe a view for the OpenAPI document; it changes nothing in how the view runs.

    Parameters
    ----------
    query : pydantic model, optional
        The query parameters, one field each (aliases are the parameter names).
    body : pydantic model, ``list[model]``, :class:`File` or tuple of them, optional
        The request body (a tuple: one body per media type, JSON first).
    responses : dict
        Status -> a pydantic model, ``list[model]``, ``dict[str, Any]``, a :class:`File`, or None
        (no body, e.g. 204). The error answers (``{"detail", "errors"}``) are added to each.
    summary : str, optional
        By default the first line of the view's docstring.
    public : bool
        The route needs no authentication.
    """
    def decorate(view: Callable) -> Callable:
        view._openapi = Doc(summary=summary, query=query, body=body, responses=dict(responses or {200: None}),
                            tags=tuple(tags), public=public)
        return view
    return decorate
