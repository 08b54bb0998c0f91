"""How far two image regions agree: pure functions over Label Studio result items.

Areas (rectangles, polygons, ellipses, brush masks) compare by their overlap, IoU, measured on
one raster of the image (the long side at most :data:`GRID` cells; a brush mask decoded with
:func:`labeling.rle.decode_rle`, Label Studio's RLE); key points by COCO's object keypoint similarity, OKS,
with the whole image as the object's scale. ``region_box`` gives an area's bounding box, which
detection QC scores polygons and ellipses by.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["AREA_TYPES", "GRID", "KEYPOINT_TYPES", "OKS_KAPPA", "agreement", "iou", "match_regions", "oks",
           "region_box", "region_mask", "similarity"]

#: The long side of the raster areas are compared on.
GRID = 512
#: COCO's per-keypoint constant kappa, for a key point of any label (the COCO body keypoints
#: range from 0.025 to 0.107).
OKS_KAPPA = 0.05
#: Result types compared by IoU, and by OKS.
AREA_TYPES = frozenset({"rectanglelabels", "rectangle", "polygonlabels", "polygon", "ellipselabels",
                        "ellipse", "brushlabels", "brush"})
KEYPOINT_TYPES = frozenset({"keypointlabels", "keypoint"})


def _num(value: dict, key: str, default: float = 0.0) -> float:
    v = value.get(key, default)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else default


def _size(item: dict) -> tuple[float, float]:
    w, h = item.get("original_width"), item.get("original_height")
    ok = all(isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in (w, h))
    return (float(w), float(h)) if ok else (100.0, 100.0)


def _kind(item: dict) -> str:
    return str(item.get("type", "")).lower()


def region_box(item: dict) -> tuple[float, float, float, float] | None:
    """The bounding box ``(x0, y0, x1, y1)`` in percent of the image of a rectangle, polygon or
    ellipse result item; None for other items or a malformed value."""
    value = item.get("value")
    if not isinstance(value, dict):
        return None
    kind = _kind(item)
    if kind in ("rectanglelabels", "rectangle"):
        x, y, w, h = (_num(value, k) for k in ("x", "y", "width", "height"))
        return (x, y, x + w, y + h) if w > 0 and h > 0 else None
    if kind in ("polygonlabels", "polygon"):
        points = value.get("points")
        try:
            xs, ys = zip(*((float(p[0]), float(p[1])) for p in points), strict=True)
        except (TypeError, ValueError, IndexError):
            return None
        return (min(xs), min(ys), max(xs), max(ys))
    if kind in ("ellipselabels", "ellipse"):
        iw, ih = _size(item)
        cx, cy = _num(value, "x") * iw / 100, _num(value, "y") * ih / 100
        rx, ry = _num(value, "radiusX") * iw / 100, _num(value, "radiusY") * ih / 100
        t = math.radians(_num(value, "rotation"))
        ex = math.hypot(rx * math.cos(t), ry * math.sin(t))
        ey = math.hypot(rx * math.sin(t), ry * math.cos(t))
        return ((cx - ex) * 100 / iw, (cy - ey) * 100 / ih, (cx + ex) * 100 / iw, (cy + ey) * 100 / ih)
    return None


def _grid(item: dict) -> tuple[int, int]:
    iw, ih = _size(item)
    scale = GRID / max(iw, ih)
    return max(1, round(ih * scale)), max(1, round(iw * scale))


def region_mask(item: dict, shape: tuple[int, int] | None = None) -> np.ndarray | None:
    """The area of a rectangle, polygon, ellipse or brush item as a boolean raster of ``shape``
    (rows, columns; by default the item's image with its long side :data:`GRID` cells); None
    for other items or a malformed value."""
    from skimage.draw import ellipse, polygon

    value = item.get("value")
    if not isinstance(value, dict):
        return None
    rows, cols = shape if shape is not None else _grid(item)
    out = np.zeros((rows, cols), dtype=bool)
    kind = _kind(item)
    if kind in ("brushlabels", "brush"):
        from labeling.rle import decode_rle

        w, h = item.get("original_width"), item.get("original_height")
        rle = value.get("rle")
        if not (isinstance(w, int) and isinstance(h, int) and isinstance(rle, list)):
            return None
        try:
            alpha = decode_rle(rle).reshape(h, w, 4)[:, :, 3] > 0
        except (ValueError, IndexError):
            return None
        return alpha[np.arange(rows) * h // rows][:, np.arange(cols) * w // cols]
    if kind in ("ellipselabels", "ellipse"):
        r, c = ellipse(_num(value, "y") * rows / 100, _num(value, "x") * cols / 100,
                       _num(value, "radiusY") * rows / 100, _num(value, "radiusX") * cols / 100,
                       shape=(rows, cols), rotation=-math.radians(_num(value, "rotation")))
        out[r, c] = True
        return out
    if kind in ("polygonlabels", "polygon"):
        points = value.get("points")
        try:
            xs, ys = zip(*((float(p[0]), float(p[1])) for p in points), strict=True)
        except (TypeError, ValueError, IndexError):
            return None
    else:
        box = region_box(item)
        if box is None:
            return None
        x0, y0, x1, y1 = box
        xs, ys = (x0, x1, x1, x0), (y0, y0, y1, y1)
    r, c = polygon(np.asarray(ys) * rows / 100, np.asarray(xs) * cols / 100, shape=(rows, cols))
    out[r, c] = True
    return out


def iou(a: dict, b: dict) -> float:
    """Intersection over union of two area items on the raster of ``a``'s image; 0.0 when
    either is not an area or both are empty."""
    shape = _grid(a)
    ma, mb = region_mask(a, shape), region_mask(b, shape)
    if ma is None or mb is None:
        return 0.0
    union = np.count_nonzero(ma | mb)
    return float(np.count_nonzero(ma & mb) / union) if union else 0.0


def oks(a: dict, b: dict, *, kappa: float = OKS_KAPPA) -> float:
    """COCO's object keypoint similarity of two key points, ``exp(-d^2 / (2 s^2 kappa^2))``,
    with ``d`` their distance and ``s^2`` the image's area (both in pixels of the items'
    image): 1.0 on the same pixel, 0.5 about ``1.18 * kappa`` of the image's side apart."""
    va, vb = a.get("value"), b.get("value")
    if not isinstance(va, dict) or not isinstance(vb, dict):
        return 0.0
    iw, ih = _size(a)
    dx = (_num(va, "x") - _num(vb, "x")) * iw / 100
    dy = (_num(va, "y") - _num(vb, "y")) * ih / 100
    return float(math.exp(-(dx * dx + dy * dy) / (2 * iw * ih * kappa * kappa)))


def similarity(a: dict, b: dict) -> float | None:
    """IoU of two area items, OKS of two key points, None when they are not both one or the other."""
    ka, kb = _kind(a), _kind(b)
    if ka in KEYPOINT_TYPES and kb in KEYPOINT_TYPES:
        return oks(a, b)
    if ka in AREA_TYPES and kb in AREA_TYPES:
        return iou(a, b)
    return None


def _labels(item: dict) -> tuple[str, ...]:
    value = item.get("value")
    names = value.get(_kind(item)) if isinstance(value, dict) else None
    return tuple(sorted(map(str, names))) if isinstance(names, list) else ()


def match_regions(a: list[dict], b: list[dict], *, threshold: float = 0.5) -> tuple[int, int]:
    """Pair the regions of two results one to one (same control, same labels, greedily by the
    highest :func:`similarity` at least ``threshold``); ``(pairs, regions left unpaired)``."""
    free = list(b)
    pairs = 0
    for item in a:
        scored = [(similarity(item, other), j) for j, other in enumerate(free)
                  if other.get("from_name") == item.get("from_name") and _labels(other) == _labels(item)]
        best = max(((s, j) for s, j in scored if s is not None), default=None)
        if best is not None and best[0] >= threshold:
            free.pop(best[1])
            pairs += 1
    return pairs, len(a) + len(b) - 2 * pairs


def agreement(a: list[dict], b: list[dict], *, threshold: float = 0.5) -> float:
    """How far two annotators' regions agree: the share of regions paired (F1 of the pairing at
    ``threshold``); 1.0 when neither has a region."""
    pairs, unpaired = match_regions(a, b, threshold=threshold)
    total = 2 * pairs + unpaired
    return 2 * pairs / total if total else 1.0
