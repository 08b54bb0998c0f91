"""HTML: the ``<HyperText>`` object, ``<HyperTextLabels>`` spans in it, and the sanitising every
piece of HTML task data gets before a page shows it.

A HyperTextLabels result item is what Label Studio's editor stores for a span of rendered HTML
(``web/libs/editor/src/regions/RichTextRegion.js``): ``{"type": "hypertextlabels", "value":
{"start": "/p[1]/text()[1]", "end": "/p[1]/b[1]/text()[1]", "startOffset": 4, "endOffset": 2,
"globalOffsets": {"start": 4, "end": 10}, "text": "...", "hypertextlabels": ["Person"]}}``:
``start``/``end`` are XPaths (from the HTML's root, as the ``xpath-range`` library writes them)
of the text nodes the span starts and ends in, ``startOffset``/``endOffset`` offsets inside those
text nodes (UTF-16 code units, as the browser's Range counts), ``globalOffsets`` the span in the
whole document's text and ``text`` the text selected.

The server checks a span against the HTML as the page shows it (:func:`sanitize_html`): both
XPaths must name text nodes, the offsets must lie inside them and ``text``, when given, must be
the text between them (whitespace as the browser's selection shows it may differ, so runs of
whitespace compare equal).

Sanitising (:func:`sanitize_html`, with ``nh3``, the Python binding of the Rust ``ammonia``
sanitiser): no script, style, iframe, object or form; no event handler or ``style`` attribute;
links only ``http``, ``https`` and ``mailto``, opened with ``rel="noopener noreferrer"``; images
only from this server (a path like ``/static/x.png``), never from elsewhere. The browser
sanitises again with DOMPurify before it puts the HTML in the page.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import lxml.html
import nh3
from lxml import etree

from labeling.schema.tags import ControlTag, ObjectTag, attr, is_int

if TYPE_CHECKING:
    from labeling.schema.model import ControlSpec, LabelSchema

__all__ = ["CONTROL_TAGS", "HYPERTEXT", "HYPERTEXTLABELS", "OBJECT_TAGS", "page_data", "sanitize_html",
           "text_nodes"]

#: HTML a HyperText shows: how large at most (characters).
MAX_HTML_CHARS = 2_000_000
_TAGS = set(nh3.ALLOWED_TAGS) - {"area", "map"}
_DROP_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "noscript", "template", "textarea",
                      "select", "svg", "math"}
_XPATH = re.compile(r"^(/[a-z][a-z0-9]*\[[1-9][0-9]*\])*/text\(\)\[[1-9][0-9]*\]$")
_SPACES = re.compile(r"\s+")


def _local_src(element: str, attribute: str, value: str) -> str | None:
    """Keep ``src`` only for a path on this server: nothing loads from elsewhere."""
    if attribute == "src":
        return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else None
    return value


def sanitize_html(html: str) -> str:
    """HTML that is safe to show: ``html`` cleaned by ``nh3`` (see the module's notes).

    Examples
    --------
    >>> sanitize_html('<p onclick="x()">Hi<script>alert(1)</script></p><img src="http://evil/x.png">')
    '<p>Hi</p><img>'
    """
    return nh3.clean(html, tags=_TAGS, clean_content_tags=_DROP_WITH_CONTENT, attribute_filter=_local_src,
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")


def page_data(schema: LabelSchema, data: Any) -> Any:
    """A task's ``data`` as a page may show it: every HyperText field, and the ``html`` of every
    List item, sanitised (:func:`sanitize_html`); other fields as they are. ``data`` itself is
    left unchanged (the stored task and the Label Studio API keep the HTML as imported)."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for obj in schema.objects.values():
        value = out.get(obj.value_key)
        if obj.tag == "HyperText" and isinstance(value, str):
            out[obj.value_key] = sanitize_html(value)
        elif obj.tag == "List" and isinstance(value, list):
            out[obj.value_key] = [
                {**item, "html": sanitize_html(item["html"])}
                if isinstance(item, dict) and isinstance(item.get("html"), str) else item
                for item in value
            ]
    return out


def _root(html: str) -> Any:
    """The sanitised HTML parsed as the page's container element holds it."""
    return lxml.html.fragment_fromstring(sanitize_html(html) or "", create_parent="div")


def text_nodes(html: str) -> list[tuple[str, str]]:
    """Every text node of the sanitised HTML in document order, as ``(xpath, text)``; the
    XPaths are written as Label Studio's ``xpath-range`` writes them (``/p[2]/text()[1]``)."""
    root = _root(html)
    out: list[tuple[str, str]] = []

    def walk(el: Any, path: str) -> None:
        n_text = 0
        seen: dict[str, int] = {}
        if el.text:
            n_text += 1
            out.append((f"{path}/text()[{n_text}]", el.text))
        for child in el:
            if isinstance(child.tag, str):
                tag = child.tag.lower()
                seen[tag] = seen.get(tag, 0) + 1
                walk(child, f"{path}/{tag}[{seen[tag]}]")
            if child.tail:
                n_text += 1
                out.append((f"{path}/text()[{n_text}]", child.tail))

    walk(root, "")
    return out


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _slice16(text: str, start: int, end: int | None = None) -> str:
    raw = text.encode("utf-16-le")
    return raw[2 * start: None if end is None else 2 * end].decode("utf-16-le", errors="replace")


def span_text(html: str, value: dict) -> str | None:
    """The text a span (``start``, ``startOffset``, ``end``, ``endOffset``) covers in ``html``,
    None if its XPaths or offsets do not fit the HTML."""
    nodes = text_nodes(html)
    index = {path: n for n, (path, _) in enumerate(nodes)}
    first, last = index.get(value.get("start")), index.get(value.get("end"))
    so, eo = value.get("startOffset"), value.get("endOffset")
    if first is None or last is None or not (is_int(so) and is_int(eo)) or (first, so) >= (last, eo):
        return None
    if not (0 <= so <= _units(nodes[first][1]) and 0 <= eo <= _units(nodes[last][1])):
        return None
    if first == last:
        return _slice16(nodes[first][1], so, eo)
    middle = "".join(text for _, text in nodes[first + 1: last])
    return _slice16(nodes[first][1], so) + middle + _slice16(nodes[last][1], 0, eo)


def _check_span(control: ControlSpec, item: dict, value: dict, *, data: Any, where: str, **_: Any) -> list[str]:
    html = data.get(control.data_key) if isinstance(data, dict) else None
    if not isinstance(html, str):
        return [f"{where}: cannot check the span: task data {control.data_key!r} is missing or not HTML"]
    start, end = value.get("start"), value.get("end")
    if not (isinstance(start, str) and _XPATH.match(start) and isinstance(end, str) and _XPATH.match(end)):
        return [f"{where}: value.start and value.end must be XPaths of text nodes like "
                f"'/p[1]/text()[1]', got start={start!r}, end={end!r}"]
    offsets = value.get("globalOffsets")
    if offsets is not None and not (isinstance(offsets, dict) and is_int(offsets.get("start"))
                                    and is_int(offsets.get("end")) and 0 <= offsets["start"] <= offsets["end"]):
        return [f"{where}: value.globalOffsets must be {{'start': n, 'end': m}} with 0 <= n <= m"]
    try:
        covered = span_text(html, value)
    except etree.ParserError:
        return [f"{where}: the task's HTML {control.data_key!r} holds no markup to annotate"]
    if covered is None:
        return [f"{where}: the span {start}:{value.get('startOffset')!r} .. {end}:{value.get('endOffset')!r} "
                f"does not lie in the task's HTML {control.data_key!r}"]
    given = value.get("text")
    if given is not None and (not isinstance(given, str)
                              or _SPACES.sub(" ", given).strip() != _SPACES.sub(" ", covered).strip()):
        return [f"{where}: span text {given!r} does not match the HTML's text there, {covered!r}"]
    return []


def _span_text(value: dict) -> str:
    text = value.get("text")
    return " ".join(map(str, value.get("hypertextlabels") or [])) + (f" '{text}'" if isinstance(text, str) else "")


def _hypertext_data(key: str, value: Any) -> str | None:
    if not isinstance(value, str):
        return f"data field {key!r} must be HTML (a string), got {type(value).__name__}"
    if len(value) > MAX_HTML_CHARS:
        return f"data field {key!r} holds {len(value):,} characters of HTML; the limit is {MAX_HTML_CHARS:,}"
    return None


def _hypertext_attrs(el: Any) -> list[str]:
    value_type = attr(el, "valueType")
    if (value_type or "text").lower() != "text":
        return [f'uses valueType="{value_type}" (HTML loaded from a URL), which is not supported yet']
    return []


HYPERTEXT = ObjectTag(name="HyperText", check_data=_hypertext_data, check_attrs=_hypertext_attrs)
OBJECT_TAGS = (HYPERTEXT,)

HYPERTEXTLABELS = ControlTag(name="HyperTextLabels", result_type="hypertextlabels", targets=("HyperText",),
                             label_tag="Label", check_item=_check_span, text=_span_text,
                             kind=lambda control: "hypertext")
CONTROL_TAGS = (HYPERTEXTLABELS,)
