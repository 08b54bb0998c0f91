"""Region controls on images: ``<RectangleLabels>`` (object detection) and ``<Rectangle>``.

One result item per box, ``{"type": "rectanglelabels", "value": {"x", "y", "width", "height",
"rotation", "rectanglelabels"}}``, coordinates in percent of the image side. A plain
``<Rectangle>`` box is ``{"type": "rectangle", "value": {"x", "y", "width", "height",
"rotation"}}``; its labels, if the config has ``<Labels>`` on the image, are a ``labels`` item
with the same ``id`` and geometry (as Label Studio's editor stores a region's results).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from labeling.schema.tags import ControlTag, is_number

if TYPE_CHECKING:
    from labeling.schema.model import ControlSpec

__all__ = ["BOX_TOLERANCE", "CONTROL_TAGS", "RECTANGLE", "RECTANGLE_LABELS"]

#: How far (in percent of the image side) a box may poke out of the image and still be valid;
#: Label Studio's own float arithmetic produces values such as ``100.00000000000001``.
BOX_TOLERANCE = 0.01


def _check_box(control: ControlSpec, item: dict, value: dict, *,
               image_size: tuple[int, int] | None, where: str, **_: Any) -> list[str]:
    coords = {k: value.get(k) for k in ("x", "y", "width", "height")}
    bad = [k for k, v in coords.items() if not is_number(v)]
    if bad:
        return [f"{where}: value.{', value.'.join(bad)} must be numbers (percent of the image)"]
    x, y, w, h = coords["x"], coords["y"], coords["width"], coords["height"]
    rotation = value.get("rotation", 0) or 0
    if not is_number(rotation):
        return [f"{where}: value.rotation must be a number of degrees, got {rotation!r}"]
    if w <= 0 or h <= 0:
        return [f"{where}: box has width {w} and height {h}; both must be > 0"]
    problems = []
    if image_size is not None:
        for key, size in zip(("original_width", "original_height"), image_size, strict=True):
            if key in item and item[key] != size:
                problems.append(f"{where}: {key} is {item[key]}, but the image is {size} px")
    tol = BOX_TOLERANCE
    if not (-tol <= x <= 100 + tol and -tol <= y <= 100 + tol):
        problems.append(f"{where}: box corner ({x}, {y}) is outside the image (0-100 percent)")
        return problems
    if rotation % 360 == 0:
        if x + w > 100 + tol or y + h > 100 + tol:
            problems.append(
                f"{where}: box x={x}, y={y}, width={w}, height={h} goes outside the image "
                "(x + width and y + height must be <= 100 percent)"
            )
    elif image_size is not None:
        # Label Studio rotates a box clockwise about its top-left corner (x, y).
        iw, ih = image_size
        theta = math.radians(rotation)
        x0, y0, pw, ph = x * iw / 100, y * ih / 100, w * iw / 100, h * ih / 100
        for dx, dy in ((pw, 0), (pw, ph), (0, ph)):
            cx = x0 + dx * math.cos(theta) - dy * math.sin(theta)
            cy = y0 + dx * math.sin(theta) + dy * math.cos(theta)
            if not (
                -tol * iw / 100 <= cx <= iw * (1 + tol / 100)
                and -tol * ih / 100 <= cy <= ih * (1 + tol / 100)
            ):
                problems.append(
                    f"{where}: box rotated by {rotation} degrees goes outside the "
                    f"{iw}x{ih} image (corner at {cx:.1f}, {cy:.1f} px)"
                )
                break
    return problems


def _text(value: dict) -> str:
    return " ".join(map(str, value.get("rectanglelabels") or [])) + " (box)"


def _box_text(value: dict) -> str:
    return "(box)"


def _kind(control: ControlSpec) -> str | None:
    return "detection" if control.object_tag == "Image" else None


RECTANGLE_LABELS = ControlTag(name="RectangleLabels", result_type="rectanglelabels", targets=("Image",),
                              label_tag="Label", check_item=_check_box, text=_text, kind=_kind, region=True)
RECTANGLE = ControlTag(name="Rectangle", result_type="rectangle", targets=("Image",), check_item=_check_box,
                       text=_box_text, region=True)

CONTROL_TAGS = (RECTANGLE_LABELS, RECTANGLE)
