"""The data of a task's ``<TimeSeries>``, read on the server for the labeling page.

The page plots what :func:`task_series` returns: the columns inline in the task
(``valueType="json"``), or the CSV file the task names by URL (``valueType="url"``), read from
the media store for a file this app serves (``/media/<project>/<sha256>.csv``) and otherwise
fetched through the outbound rules (:mod:`labeling.outbound`: public addresses only unless
listed, no redirects, bounded time and size). The times are parsed here, once, with the
object's ``timeFormat`` (:func:`labeling.schema.timeseries.read_series`), so the page and the
stored regions use the same strings Label Studio writes.
"""

from __future__ import annotations

from typing import Any

from labeling import outbound, tasks
from labeling.db import read_session
from labeling.errors import Invalid, NotFound
from labeling.media import parse_media_url
from labeling.mediastore import get_store, media_key
from labeling.models import Project, User
from labeling.schema import schema_of
from labeling.schema.timeseries import MAX_SERIES_BYTES, SeriesError, read_series

__all__ = ["task_series"]


def _fetch(url: str, project_id: int) -> bytes:
    media = parse_media_url(url)
    if media is not None:
        if media[0] != project_id:
            raise Invalid(f"the time series file {url} belongs to another project")
        try:
            path = get_store().local_file(media_key(media[1], media[2]))
        except FileNotFoundError:
            raise NotFound(f"the time series file {url} is not stored") from None
        if path.stat().st_size > MAX_SERIES_BYTES:
            raise Invalid(f"the time series file {url} holds more than {MAX_SERIES_BYTES // 1024 // 1024} MiB")
        return path.read_bytes()
    if not url.startswith(("http://", "https://")):
        raise Invalid(f"the time series URL {url!r} is neither a file of this project nor an http(s) URL")
    reply = outbound.request("GET", url)
    if reply.status != 200:
        raise outbound.OutboundError(f"{url} answered HTTP {reply.status}")
    return reply.body


def task_series(user: User, task_id: int, name: str) -> dict[str, Any]:
    """The series the TimeSeries ``name`` of task ``task_id`` plots, for a user who may see the task.

    Returns
    -------
    dict
        ``{"name", "x", "keys", "channels"}``: see :func:`labeling.schema.timeseries.read_series`.

    Raises
    ------
    NotFound
        No such task for this user, or no TimeSeries ``name`` in its project's config.
    Invalid
        The data cannot be read as the object's attributes say (the reason).
    OutboundError
        The URL could not be fetched.
    """
    task = tasks.get_task(user, task_id)  # NotFound / Forbidden as the task API answers
    with read_session() as s:
        project = s.get(Project, task["project"])
        schema = schema_of(project)
    obj = schema.objects.get(name)
    if obj is None or obj.series is None:
        raise NotFound(f"the project's label config has no <TimeSeries name={name!r}>")
    value = task["data"].get(obj.value_key) if isinstance(task["data"], dict) else None
    try:
        if obj.series.value_type == "json":
            payload = value
        elif not isinstance(value, str) or not value.strip():
            raise SeriesError(f"task data {obj.value_key!r} holds no URL")
        else:
            payload = _fetch(value.strip(), project.id)
        series = read_series(obj.series, payload)
    except SeriesError as exc:
        raise Invalid(f"time series {name!r}: {exc}",
                      [{"field": f"data.{obj.value_key}", "detail": str(exc)}]) from None
    return {"name": name, **series}

