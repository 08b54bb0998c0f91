"""Documents: the ``<Pdf>`` object, ``<OcrLabels>`` regions on it, and classifications per page.

Label Studio 1.23's ``<Pdf name="pdf" value="$pdf"/>`` shows the PDF a task's data names (a URL
or path) and is annotated by per-task controls: ``<Choices>``, ``<Rating>``, ``<TextArea>``...
on ``toName="pdf"``, each one result item per task as on any object (the PDF classification
template).

Per page: a classification control with ``perItem="true"`` (Label Studio's ``PerItemMixin``, for
objects of several items: the pages of ``<Image valueList>``, and in labelfab the pages of a
``<Pdf>``) gives one result item per page, each an area of its own with its own ``id`` and the
page's 0-based ``item_index`` beside ``value``, as Label Studio's editor serialises it::

    {"id": "p2", "from_name": "page_type", "to_name": "pdf", "type": "choices",
     "value": {"choices": ["Invoice"]}, "item_index": 1}

OCR regions: ``<OcrLabels>`` (Enterprise-only in Label Studio; its SDK's ``OcrLabelsValue``)
marks boxes on a page: ``{"type": "ocrlabels", "value": {"x", "y", "width", "height",
"rotation", "ocrlabels": [...], "ocrtext": "...", "pageIndex": 0}}``, coordinates in percent of
the page, ``pageIndex`` the 0-based page. A per-region ``<TextArea>`` transcribes a region as
on images (same ``id``). On page images (``<Image valueList>``) labelfab's multi-page support
with ``<Rectangle>`` / ``<RectangleLabels>`` + per-region ``<TextArea>`` applies unchanged.

The server does not know a PDF's page count from task data (a URL); it knows it for PDFs
imported into labelfab's media store (:mod:`labeling.pdfs`). Page indexes are checked to be
whole numbers from 0 below :data:`MAX_PAGES`, and against the page count when the caller gives
it (``page_count``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labeling.schema.regions import _check_box
from labeling.schema.tags import ControlTag, ObjectTag, attr, is_int

if TYPE_CHECKING:
    from labeling.schema.model import ControlSpec, LabelSchema

__all__ = ["CONTROL_TAGS", "MAX_PAGES", "OBJECT_TAGS", "OCRLABELS", "PDF", "PAGED_OBJECTS", "check_per_item",
           "is_paged", "page_items"]

#: The most pages a document may have (an item_index past it is refused).
MAX_PAGES = 10_000
#: Object tags whose pages ``perItem`` controls classify (``Image`` only with ``valueList``).
PAGED_OBJECTS = ("Pdf", "Image")


def _pdf_data(key: str, value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"data field {key!r} must be the URL or path of a PDF document, got {value!r:.80}"
    return None


def _pdf_attrs(el: Any) -> list[str]:
    if attr(el, "ocrValue") is not None:
        return ['uses ocrValue (OCR tokens from task data), which is not supported yet']
    return []


PDF = ObjectTag(name="Pdf", check_data=_pdf_data, check_attrs=_pdf_attrs)


def _check_ocr(control: ControlSpec, item: dict, value: dict, *, where: str, **kw: Any) -> list[str]:
    problems = _check_box(control, item, value, where=where, image_size=None)
    page = value.get("pageIndex")
    if page is not None and (not is_int(page) or not 0 <= page < MAX_PAGES):
        problems.append(f"{where}: value.pageIndex must be the 0-based page of the region, got {page!r}")
    if control.object_tag == "Pdf" and page is None:
        problems.append(f"{where}: value.pageIndex must name the page of the PDF the region is on")
    text = value.get("ocrtext")
    if text is not None and not isinstance(text, str):
        problems.append(f"{where}: value.ocrtext must be a string, got {type(text).__name__}")
    return problems


def _ocr_text(value: dict) -> str:
    labels = " ".join(map(str, value.get("ocrlabels") or []))
    text = value.get("ocrtext")
    return f"{labels} (OCR box{': ' + text if isinstance(text, str) and text else ''})"


OCRLABELS = ControlTag(name="OcrLabels", result_type="ocrlabels", targets=("Pdf", "Image"), label_tag="Label",
                       check_item=_check_ocr, text=_ocr_text, region=True)

OBJECT_TAGS = (PDF,)
CONTROL_TAGS = (OCRLABELS,)


def is_paged(schema: LabelSchema, object_name: str) -> bool:
    """Whether ``object_name`` has pages a ``perItem`` control classifies one by one."""
    obj = schema.objects.get(object_name)
    return obj is not None and (obj.tag == "Pdf" or (obj.tag == "Image" and obj.value_list))


def page_items(result: Any, control: str) -> dict[int, dict]:
    """The per-page items of ``control`` in ``result`` by page (``item_index``); the first item
    of a page wins."""
    out: dict[int, dict] = {}
    for item in result if isinstance(result, list) else []:
        if isinstance(item, dict) and item.get("from_name") == control and is_int(item.get("item_index")):
            out.setdefault(item["item_index"], item)
    return out


def check_per_item(schema: LabelSchema, result: list[Any], data: Any, *,
                   page_count: int | None = None) -> list[str]:
    """Problems of the per-page items of ``perItem`` controls: each names a page
    (``item_index``, 0-based, below the document's page count when known), once per control
    and page; items of other controls carry no ``item_index`` unless they are regions."""
    controls = {c.name: c for c in schema.controls}
    problems: list[str] = []
    seen: set[tuple[str, int]] = set()
    for i, item in enumerate(result):
        control = controls.get(item.get("from_name")) if isinstance(item, dict) else None
        if control is None or not control.per_item:
            continue
        where = f"result[{i}] ({control.name})"
        index = item.get("item_index")
        count = page_count
        obj = schema.objects.get(control.to_name)
        if obj is not None and obj.value_list and isinstance(data, dict) and isinstance(data.get(obj.value_key), list):
            count = len(data[obj.value_key])
        limit = count if count is not None else MAX_PAGES
        if not is_int(index) or not 0 <= index < limit:
            shown = f"0 to {count - 1}" if count else "a whole number from 0"
            problems.append(f"{where}: control {control.name!r} answers per page (perItem): item_index must "
                            f"name the page ({shown}), got {index!r}")
            continue
        if (control.name, index) in seen:
            problems.append(f"{where}: control {control.name!r} gives page {index} a second item")
        seen.add((control.name, index))
    return problems
