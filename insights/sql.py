"""SQL fragments the panels share: hours as text, and the labels read out of Label Studio JSON
results in SQL (``json_each`` on SQLite, ``json_array_elements`` on PostgreSQL)."""

from __future__ import annotations

from insights.context import Ctx
from labeling.schema import LabelSchema

#: Result field holding the label names, by Label Studio result type.
LABEL_FIELD = {"choices": "choices", "labels": "labels", "rectanglelabels": "rectanglelabels"}


def hour_sql(ctx: Ctx, column: str) -> str:
    """SQL of ``column`` cut to the hour as text ``YYYY-MM-DD HH`` (UTC)."""
    if ctx.sqlite:  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC (labeling.models.UTCDateTime)
        return f"substr({column}, 1, 13)"
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')"


def primary(schema: LabelSchema) -> tuple[str, str] | None:
    """``(control name, result field)`` of the primary labeling control, or None."""
    control = schema.primary_control
    field_ = LABEL_FIELD.get(control.type)
    return (control.name, field_) if field_ else None


def labels_sql(ctx: Ctx, source: str, json_col: str, columns: str, where: str, *, strings_too: bool = False) -> str:
    """SQL of ``SELECT <columns>, lab FROM <source> WHERE <where>``, one row per label name of
    the primary control in the JSON result column ``json_col`` (Label Studio result items;
    with ``strings_too`` bare strings in the list, ``["cat"]``, count as labels as well).

    Binds ``:ctrl`` and ``:path`` (SQLite) / ``:field`` (PostgreSQL): :func:`label_params`.
    """
    if ctx.sqlite:
        sql = (f"SELECT {columns}, lab.value AS lab FROM {source}, json_each({json_col}) it, "
               f"json_each(it.value, :path) lab WHERE {where} AND it.type = 'object' "
               f"AND json_extract(it.value, '$.from_name') = :ctrl")
        if strings_too:
            sql += (f" UNION ALL SELECT {columns}, it.value AS lab FROM {source}, json_each({json_col}) it "
                    f"WHERE {where} AND it.type = 'text'")
        return sql
    sql = (f"SELECT {columns}, lab.value AS lab FROM {source}, json_array_elements({json_col}) it, "
           f"json_array_elements_text(it.value -> 'value' -> :field) lab "
           f"WHERE {where} AND json_typeof(it.value) = 'object' AND it.value ->> 'from_name' = :ctrl")
    if strings_too:
        sql += (f" UNION ALL SELECT {columns}, it.value #>> '{{}}' AS lab FROM {source}, "
                f"json_array_elements({json_col}) it WHERE {where} AND json_typeof(it.value) = 'string'")
    return sql


def label_params(ctx: Ctx) -> dict[str, str]:
    control, field_ = primary(ctx.schema)
    return {"ctrl": control, "path": f"$.value.{field_}", "field": field_}


def set_agg(ctx: Ctx) -> str:
    """SQL aggregate joining a group's labels, sorted, with ``|``."""
    return "group_concat(lab, '|')" if ctx.sqlite else "string_agg(lab, '|' ORDER BY lab)"
