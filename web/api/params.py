"""Request parsing shared by the REST endpoints: the JSON body and its fields, query arguments.

Bad input raises :class:`labeling.errors.Invalid` (HTTP 422) whose message and error row name
the field, as every endpoint answers.
"""

from __future__ import annotations

from flask import request

from labeling.errors import Invalid
from labeling.limits import MAX_ID, bounded_int


def _invalid(message: str, field: str | None, detail: str) -> Invalid:
    return Invalid(message, [{"row": None, "field": field, "detail": detail}])


def json_body() -> dict:
    """The request's JSON body; 422 unless it is a JSON object."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise _invalid("send a JSON object", None, "the body must be a JSON object")
    return body


def seconds_field(body: dict, name: str) -> float | None:
    """``body[name]`` as a number of seconds >= 0 (None when absent or null); 422 otherwise."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _invalid(f"{name} must be a number of seconds >= 0", name, "not a number")
    return float(value)


def id_field(body: dict, name: str) -> int | None:
    """``body[name]`` as an id, a whole number >= 1 (None when absent or null); 422 otherwise."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _invalid(f"{name} must be an id (a whole number >= 1)", name, "not an id")
    return value


def flag_field(body: dict, name: str) -> bool | None:
    """``body[name]`` as true or false (None when absent or null); 422 for anything else."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise _invalid(f"{name} must be true or false", name, "not a boolean")
    return value


def string_field(body: dict, name: str, *aliases: str) -> str | None:
    """``body[name]`` as a string (None when absent or null); 422 for anything else.

    Parameters
    ----------
    body : dict
        The JSON body.
    name : str
        The field; errors name it.
    *aliases : str
        Other keys for the same field, read when ``name`` is not in the body (the first one
        present wins).
    """
    key = next((k for k in (name, *aliases) if k in body), name)
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise _invalid(f"{name} must be a string", name, "not a string")
    return value


def int_arg(name: str, default: int | None = None, *, minimum: int = -MAX_ID, maximum: int = MAX_ID) -> int | None:
    """The query argument ``name`` as an int (``default`` when absent or empty) between
    ``minimum`` and ``maximum`` (by default what an id column holds, which also keeps pages'
    offsets and limits in range); 422 otherwise."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    return bounded_int(raw, name, minimum=minimum, maximum=maximum)
