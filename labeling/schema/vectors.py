"""Vector regions and masks on images: ``<PolygonLabels>`` / ``<Polygon>``, ``<KeyPointLabels>`` /
``<KeyPoint>``, ``<EllipseLabels>`` / ``<Ellipse>``, ``<BrushLabels>`` / ``<Brush>``.

One result item per region, as Label Studio's editor stores them (coordinates in percent of the
image side, with the item's ``original_width``, ``original_height`` and ``image_rotation``):

- ``{"type": "polygonlabels", "value": {"points": [[x, y], ...], "closed": true,
  "polygonlabels": [...]}}`` (``"polygon"`` without labels);
- ``{"type": "keypointlabels", "value": {"x", "y", "width", "keypointlabels": [...]}}``
  (``width``: the point's drawn size);
- ``{"type": "ellipselabels", "value": {"x", "y", "radiusX", "radiusY", "rotation",
  "ellipselabels": [...]}}`` (the centre and the radii);
- ``{"type": "brushlabels", "value": {"format": "rle", "rle": [byte, ...], "brushlabels": [...]}}``:
  the mask in Label Studio's RLE of the RGBA image (``label_studio_sdk.converter.brush``
  encodes and decodes it; the check decodes it with :func:`labeling.rle.decode_rle`, the same
  algorithm without the SDK converter's slow import), ``original_width * original_height * 4``
  values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labeling.rle import decode_rle, rle_size
from labeling.schema.tags import ControlTag, is_int, is_number

if TYPE_CHECKING:
    from labeling.schema.model import ControlSpec

__all__ = [
    "BRUSH_LABELS",
    "CONTROL_TAGS",
    "ELLIPSE_LABELS",
    "KEYPOINT_LABELS",
    "MAX_MASK_PIXELS",
    "MAX_POLYGON_POINTS",
    "POLYGON_LABELS",
    "rle_size",
]

#: Coordinates may poke this far (percent) out of the image: Label Studio's float arithmetic.
TOLERANCE = 0.01
#: The most vertices a polygon may have.
MAX_POLYGON_POINTS = 10_000
#: The largest mask (original_width * original_height) a brush item may describe.
MAX_MASK_PIXELS = 100_000_000


def _inside(v: Any) -> bool:
    return is_number(v) and -TOLERANCE <= v <= 100 + TOLERANCE


def _size_problems(item: dict, image_size: tuple[int, int] | None, where: str) -> list[str]:
    if image_size is None:
        return []
    return [f"{where}: {key} is {item[key]}, but the image is {size} px"
            for key, size in zip(("original_width", "original_height"), image_size, strict=True)
            if key in item and item[key] != size]


def _check_polygon(control: ControlSpec, item: dict, value: dict, *,
                   image_size: tuple[int, int] | None, where: str, **_: Any) -> list[str]:
    points = value.get("points")
    if not isinstance(points, list) or not 3 <= len(points) <= MAX_POLYGON_POINTS:
        return [f"{where}: value.points must be a list of 3 to {MAX_POLYGON_POINTS:,} [x, y] points "
                "(percent of the image)"]
    for n, point in enumerate(points):
        if not (isinstance(point, list) and len(point) == 2 and all(map(is_number, point))):
            return [f"{where}: value.points[{n}] must be [x, y], two numbers, got {point!r}"]
        if not all(map(_inside, point)):
            return [f"{where}: value.points[{n}] {point} is outside the image (0-100 percent)"]
    closed = value.get("closed", True)
    if not isinstance(closed, bool):
        return [f"{where}: value.closed must be true or false, got {closed!r}"]
    return _size_problems(item, image_size, where)


def _check_keypoint(control: ControlSpec, item: dict, value: dict, *,
                    image_size: tuple[int, int] | None, where: str, **_: Any) -> list[str]:
    x, y = value.get("x"), value.get("y")
    if not (is_number(x) and is_number(y)):
        return [f"{where}: value.x and value.y must be numbers (percent of the image)"]
    if not (_inside(x) and _inside(y)):
        return [f"{where}: point ({x}, {y}) is outside the image (0-100 percent)"]
    width = value.get("width", 1)
    if not is_number(width) or width < 0:
        return [f"{where}: value.width (the point's size) must be a number >= 0, got {width!r}"]
    return _size_problems(item, image_size, where)


def _check_ellipse(control: ControlSpec, item: dict, value: dict, *,
                   image_size: tuple[int, int] | None, where: str, **_: Any) -> list[str]:
    keys = ("x", "y", "radiusX", "radiusY")
    bad = [k for k in keys if not is_number(value.get(k))]
    if bad:
        return [f"{where}: value.{', value.'.join(bad)} must be numbers (percent of the image)"]
    x, y, rx, ry = (value[k] for k in keys)
    if not (_inside(x) and _inside(y)):
        return [f"{where}: ellipse centre ({x}, {y}) is outside the image (0-100 percent)"]
    if rx <= 0 or ry <= 0 or rx > 100 or ry > 100:
        return [f"{where}: ellipse radii {rx} and {ry} must be > 0 and <= 100 percent"]
    rotation = value.get("rotation", 0)
    if not is_number(rotation):
        return [f"{where}: value.rotation must be a number of degrees, got {rotation!r}"]
    return _size_problems(item, image_size, where)


def _check_brush(control: ControlSpec, item: dict, value: dict, *,
                 image_size: tuple[int, int] | None, where: str, **_: Any) -> list[str]:
    if value.get("format", "rle") != "rle":
        return [f"{where}: value.format must be \"rle\" (Label Studio's brush RLE), got {value.get('format')!r}"]
    rle = value.get("rle")
    if not (isinstance(rle, list) and len(rle) > 4 and all(is_int(b) and 0 <= b <= 255 for b in rle)):
        return [f"{where}: value.rle must be a list of bytes (whole numbers 0-255), Label Studio's brush RLE"]
    width, height = item.get("original_width"), item.get("original_height")
    if not (is_int(width) and is_int(height) and width > 0 and height > 0):
        return [f"{where}: a brush mask needs original_width and original_height (the image's size in px)"]
    if width * height > MAX_MASK_PIXELS:
        return [f"{where}: a mask of {width}x{height} px is larger than {MAX_MASK_PIXELS:,} pixels"]
    if rle_size(rle) != width * height * 4:
        return [f"{where}: value.rle holds {rle_size(rle):,} values, but a {width}x{height} image's "
                f"RGBA mask has {width * height * 4:,}"]
    try:
        decode_rle(rle)
    except (IndexError, ValueError):  # the bit stream runs out
        return [f"{where}: value.rle ends before its {width * height * 4:,} values"]
    return _size_problems(item, image_size, where)


def _text_of(field: str, shape: str):
    def text(value: dict) -> str:
        labels = " ".join(map(str, value.get(field) or []))
        return f"{labels} ({shape})" if labels else f"({shape})"
    return text


def _kind_of(kind: str):
    def of(control: ControlSpec) -> str | None:
        return kind if control.object_tag == "Image" else None
    return of


def _stroke_width(ctrl: Any) -> dict[str, Any]:
    """A key point control's ``strokeWidth`` (the page sizes new points' ``width`` by it)."""
    try:
        width = float(ctrl.get_attr("strokeWidth", "") or "nan")
    except (TypeError, ValueError):
        return {}
    return {"stroke_width": width} if 0 < width <= 1000 else {}


def _pair(name: str, result: str, shape: str, check: Any, kind: str | None,
          **extra: Any) -> tuple[ControlTag, ControlTag]:
    labelled = ControlTag(name=f"{name}Labels", result_type=f"{result}labels", targets=("Image",),
                          label_tag="Label", check_item=check, text=_text_of(f"{result}labels", shape),
                          **({"kind": _kind_of(kind)} if kind else {}), **extra)
    plain = ControlTag(name=name, result_type=result, targets=("Image",), check_item=check,
                       text=_text_of(f"{result}labels", shape), **extra)
    return labelled, plain


POLYGON_LABELS, POLYGON = _pair("Polygon", "polygon", "polygon", _check_polygon, "detection")
ELLIPSE_LABELS, ELLIPSE = _pair("Ellipse", "ellipse", "ellipse", _check_ellipse, "detection")
KEYPOINT_LABELS, KEYPOINT = _pair("KeyPoint", "keypoint", "point", _check_keypoint, "keypoints",
                                  spec_fields=_stroke_width)
BRUSH_LABELS, BRUSH = _pair("Brush", "brush", "mask", _check_brush, "segmentation")

CONTROL_TAGS = (POLYGON_LABELS, POLYGON, KEYPOINT_LABELS, KEYPOINT, ELLIPSE_LABELS, ELLIPSE,
                BRUSH_LABELS, BRUSH)
