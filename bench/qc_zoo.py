"""QC on data it was never tuned on: six synthetic datasets, three noise levels, against bare cleanlab.

The datasets are made here, with a fixed seed, and differ from the demo digits:

* ``shapes``   -- six kinds of drawn shapes (circle, square, triangle, star, cross, bar) of
  random size, position, rotation and colours on noisy backgrounds, some outlined only;
* ``textures`` -- six textures (horizontal, vertical and diagonal stripes, checkers, dots, blobs)
  at random frequency, phase, small rotation and colours, with noise;
* ``glyphs``   -- eight letters in several fonts (DejaVu, Liberation), sizes and rotations;
* ``scenes``   -- six scene-like pictures (beach, forest, city, night, field, snow) with
  a random horizon, colour jitter, clutter and strong noise;
* ``tickets``  -- support tickets on five topics that share most of their vocabulary;
* ``reviews``  -- product reviews by category x sentiment (six classes), with negations and
  mixed reviews.

Each is labelled with 5%, 10% and 20% of labels flipped at random to another class. For each
dataset and noise level, labelfab's QC runs through the product exactly as ``bench/qc.py`` runs
it (a project, an import -- an ImageFolder of PNG files or a JSON body with annotations -- and a
``qc`` job), and bare cleanlab runs in the same process on the same items with the classical
baselines: images -- HOG (scikit-image) + RBF SVM and raw pixels + logistic regression; text --
TF-IDF + logistic regression; each with 5-fold cross-validated ``pred_probs`` and
``cleanlab.filter.find_label_issues`` (its default rule; each baseline's F1 under the
``low_self_confidence`` rule that labelfab flags by is reported beside it). Reported per run: precision, recall and F1 of the flagged
items against the flips, the noise estimate against the truth, labelfab's model and CV accuracy,
and ``gap`` = labelfab's F1 - the best baseline's F1.

Usage::

    python bench/qc_zoo.py [--seed 0] [--datasets shapes,tickets] [--noise 0.1] [--n 900]
    python bench/qc_zoo.py --table run.json    # the table of a saved run's JSON line
    python bench/qc_zoo.py --seed 1 --dump DIR # also keep each run's pred_probs for bench/qc_noise.py

With ``--dump DIR`` each row's out-of-sample ``pred_probs`` *as the product computed them* (the
QC job's, in the job's order of items: the noise estimate's random halvings depend on it) are
saved beside the true and given labels in that order, in ``bench/qc_noise.py``'s cache format
and file names, so ``qc_noise.py --cache DIR`` scores noise rules on exactly the product's
probabilities: a rule's estimate and flags there are those a product run with it would have
(the model's choice does not depend on the noise estimate). Each row also reports
``dump_flags_match``: the flags ``quality.noise.lowest_flags`` sets on the saved probabilities
with the run's stored estimate equal the run's own.

(``LABELFAB_BENCH_DATABASE_URL`` runs it on PostgreSQL; default: SQLite in a temporary
DATA_DIR.) A table goes to stderr; the last line on stdout is one JSON object of figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
import warnings
from pathlib import Path

import numpy as np
import qc  # bench/qc.py: the environment of a fresh DATA_DIR, QC jobs and their flagged tasks
from common import flip_labels, log
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from labeling import imports, migrate, projects, users
from labeling.models import Role, User

IMAGE_SETS = ("shapes", "textures", "glyphs", "scenes")
TEXT_SETS = ("tickets", "reviews")
NOISE = (0.05, 0.10, 0.20)
SIDE = 48  # pixels of the generated images


# --------------------------------------------------------------------------- image families


def _rgb(rng: np.random.Generator, lo: int = 0, hi: int = 256) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(lo, hi, 3))


def _noisy(img: Image.Image, rng: np.random.Generator, sigma: float) -> Image.Image:
    a = np.asarray(img, dtype=np.float32) + rng.normal(0, sigma, (img.height, img.width, 3))
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def _polygon(cx: float, cy: float, r: float, n: int, rot: float, inner: float | None = None) -> list:
    pts = []
    for k in range(n * (2 if inner else 1)):
        radius = r if inner is None or k % 2 == 0 else r * inner
        a = rot + 2 * math.pi * k / (n * (2 if inner else 1))
        pts.append((cx + radius * math.cos(a), cy + radius * math.sin(a)))
    return pts


def make_shapes(n: int, seed: int) -> tuple[list[Image.Image], np.ndarray, list[str]]:
    names = ["circle", "square", "triangle", "star", "cross", "bar"]
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for i in range(n):
        c = i % len(names)
        s = 4 * SIDE
        bg = _rgb(rng)
        img = Image.new("RGB", (s, s), bg)
        d = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(0, 3))):  # clutter: thin random lines
            d.line([tuple(rng.uniform(0, s, 2)), tuple(rng.uniform(0, s, 2))], fill=_rgb(rng), width=2)
        r = rng.uniform(0.26, 0.42) * s
        cx, cy = rng.uniform(r + 4, s - r - 4, 2)
        rot = rng.uniform(0, 2 * math.pi)
        fg = _rgb(rng)
        while sum(abs(a - b) for a, b in zip(fg, bg, strict=True)) < 250:
            fg = _rgb(rng)
        outline = rng.random() < 0.15
        kw = {"outline": fg, "width": 10} if outline else {"fill": fg}
        if names[c] == "circle":
            e = rng.uniform(0.85, 1.0)
            d.ellipse([cx - r, cy - r * e, cx + r, cy + r * e], **kw)
        elif names[c] == "bar":
            w = r * rng.uniform(0.22, 0.35)
            cr, sr = math.cos(rot), math.sin(rot)
            d.polygon([(cx + x * cr - y * sr, cy + x * sr + y * cr) for x, y in ((-r, -w), (r, -w), (r, w), (-r, w))],
                      **kw)
        elif names[c] == "cross":
            w = r * rng.uniform(0.25, 0.4)
            arm = [(-r, -w), (-w, -w), (-w, -r), (w, -r), (w, -w), (r, -w), (r, w), (w, w), (w, r), (-w, r), (-w, w),
                   (-r, w)]
            cr, sr = math.cos(rot), math.sin(rot)
            d.polygon([(cx + x * cr - y * sr, cy + x * sr + y * cr) for x, y in arm], **kw)
        else:
            sides = {"square": 4, "triangle": 3, "star": 5}[names[c]]
            inner = rng.uniform(0.38, 0.5) if names[c] == "star" else None
            d.polygon(_polygon(cx, cy, r, sides, rot, inner), **kw)
        img = img.resize((SIDE, SIDE), Image.Resampling.LANCZOS)
        images.append(_noisy(img, rng, rng.uniform(3, 15)))
        labels.append(c)
    return images, np.asarray(labels), names


def make_textures(n: int, seed: int) -> tuple[list[Image.Image], np.ndarray, list[str]]:
    names = ["horizontal", "vertical", "diagonal", "checkers", "dots", "blobs"]
    rng = np.random.default_rng(seed + 1)
    s = 2 * SIDE
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
    images, labels = [], []
    for i in range(n):
        c = i % len(names)
        period = rng.uniform(12, 28)
        phase = rng.uniform(0, 2 * math.pi)
        tilt = math.radians(rng.uniform(-15, 15))
        u = xx * math.cos(tilt) + yy * math.sin(tilt)
        v = -xx * math.sin(tilt) + yy * math.cos(tilt)
        if names[c] == "horizontal":
            m = np.sin(2 * math.pi * v / period + phase)
        elif names[c] == "vertical":
            m = np.sin(2 * math.pi * u / period + phase)
        elif names[c] == "diagonal":
            sign = 1 if rng.random() < 0.5 else -1
            m = np.sin(2 * math.pi * (u + sign * v) / (period * 1.2) + phase)
        elif names[c] == "checkers":
            m = np.sin(2 * math.pi * u / period + phase) * np.sin(2 * math.pi * v / period)
        elif names[c] == "dots":
            m = np.cos(2 * math.pi * u / period + phase) + np.cos(2 * math.pi * v / period) - 1.0
        else:
            small = rng.normal(size=(int(rng.integers(4, 8)),) * 2).astype(np.float32)
            m = np.asarray(Image.fromarray(small).resize((s, s), Image.Resampling.BICUBIC))
        m = (m > rng.uniform(-0.2, 0.2)).astype(np.float32) if rng.random() < 0.5 else (np.tanh(2 * m) + 1) / 2
        a, b = np.asarray(_rgb(rng, 0, 110), np.float32), np.asarray(_rgb(rng, 150, 256), np.float32)
        rgb = a + (b - a) * m[..., None]
        img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).resize((SIDE, SIDE), Image.Resampling.BILINEAR)
        images.append(_noisy(img, rng, rng.uniform(5, 25)))
        labels.append(c)
    return images, np.asarray(labels), names


def _fonts() -> list[str]:
    roots = [Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation")]
    return sorted(str(p) for r in roots if r.is_dir() for p in r.glob("*.ttf") if "Math" not in p.name)


def make_glyphs(n: int, seed: int) -> tuple[list[Image.Image], np.ndarray, list[str]]:
    names = list("ABDEHKRX")
    rng = np.random.default_rng(seed + 2)
    fonts = _fonts()
    images, labels = [], []
    s = 2 * SIDE
    for i in range(n):
        c = i % len(names)
        size = int(rng.integers(int(s * 0.45), int(s * 0.8)))
        font = ImageFont.truetype(fonts[int(rng.integers(len(fonts)))], size) if fonts else ImageFont.load_default(size)
        bg, fg = _rgb(rng, 0, 120), _rgb(rng, 130, 256)
        if rng.random() < 0.5:
            bg, fg = fg, bg
        layer = Image.new("L", (s, s), 0)
        ImageDraw.Draw(layer).text((s / 2, s / 2), names[c], font=font, fill=255, anchor="mm")
        layer = layer.rotate(rng.uniform(-20, 20), resample=Image.Resampling.BILINEAR,
                             translate=tuple(rng.uniform(-s * 0.12, s * 0.12, 2)))
        img = Image.composite(Image.new("RGB", (s, s), fg), Image.new("RGB", (s, s), bg), layer)
        img = img.resize((SIDE, SIDE), Image.Resampling.LANCZOS)
        images.append(_noisy(img, rng, rng.uniform(3, 20)))
        labels.append(c)
    return images, np.asarray(labels), names


def make_scenes(n: int, seed: int) -> tuple[list[Image.Image], np.ndarray, list[str]]:
    names = ["beach", "forest", "city", "night", "field", "snow"]
    rng = np.random.default_rng(seed + 3)
    s = 2 * SIDE

    def jitter(col: tuple[int, int, int], amount: int = 30) -> tuple[int, int, int]:
        return tuple(int(np.clip(v + rng.integers(-amount, amount + 1), 0, 255)) for v in col)

    images, labels = [], []
    for i in range(n):
        c = i % len(names)
        kind = names[c]
        h = int(rng.uniform(0.3, 0.7) * s)
        sky = {"beach": (120, 180, 235), "forest": (150, 190, 220), "city": (170, 175, 190), "night": (15, 20, 60),
               "field": (110, 170, 240), "snow": (200, 210, 225)}[kind]
        ground = {"beach": (225, 205, 150), "forest": (40, 100, 40), "city": (90, 90, 95), "night": (20, 25, 30),
                  "field": (90, 170, 60), "snow": (245, 245, 250)}[kind]
        img = Image.new("RGB", (s, s), jitter(sky))
        d = ImageDraw.Draw(img)
        d.rectangle([0, h, s, s], fill=jitter(ground))
        if kind == "beach":
            d.rectangle([0, h - int(s * 0.08), s, h], fill=jitter((40, 110, 190)))
        elif kind == "forest":
            for _ in range(int(rng.integers(4, 9))):
                x = rng.uniform(0, s)
                d.rectangle([x, h - s * 0.05, x + rng.uniform(3, 7), s], fill=jitter((90, 60, 30), 25))
                d.ellipse([x - 12, h - s * 0.35, x + 16, h], fill=jitter((30, 110, 35), 30))
        elif kind == "city":
            x = 0.0
            while x < s:
                w, top = rng.uniform(8, 20), rng.uniform(0.1, 0.9) * h
                d.rectangle([x, top, x + w, h], fill=jitter((110, 110, 120), 40))
                for wy in np.arange(top + 4, h - 3, 7):
                    d.rectangle([x + 2, wy, x + 4, wy + 2], fill=jitter((230, 220, 140), 20))
                x += w + rng.uniform(0, 4)
        elif kind == "night":
            for _ in range(int(rng.integers(10, 40))):
                px, py = rng.uniform(0, s), rng.uniform(0, h)
                d.point([(px, py), (px + 1, py)], fill=(240, 240, 200))
            mx, my = rng.uniform(10, s - 10), rng.uniform(8, max(9, h - 8))
            d.ellipse([mx - 6, my - 6, mx + 6, my + 6], fill=(240, 235, 200))
        elif kind == "field":
            sx, sy = rng.uniform(10, s - 10), rng.uniform(5, max(6, h - 10))
            d.ellipse([sx - 8, sy - 8, sx + 8, sy + 8], fill=jitter((250, 220, 80), 20))
            for _ in range(int(rng.integers(10, 30))):
                px, py = rng.uniform(0, s), rng.uniform(h, s)
                d.line([(px, py), (px + rng.uniform(-2, 2), py - 5)], fill=jitter((60, 140, 40), 30))
        else:  # snow: falling flakes and a pale ground
            for _ in range(int(rng.integers(30, 80))):
                px, py = rng.uniform(0, s, 2)
                d.ellipse([px - 1, py - 1, px + 1, py + 1], fill=(255, 255, 255))
        for _ in range(int(rng.integers(0, 3))):  # clutter
            x0, y0 = rng.uniform(0, s, 2)
            d.rectangle([x0, y0, x0 + rng.uniform(4, 14), y0 + rng.uniform(4, 14)], fill=_rgb(rng))
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.5))).resize((SIDE, SIDE), Image.Resampling.BILINEAR)
        images.append(_noisy(img, rng, rng.uniform(5, 25)))
        labels.append(c)
    return images, np.asarray(labels), names


# --------------------------------------------------------------------------- text families

_GENERIC = ("hi", "hello", "please", "help", "thanks", "asap", "today", "again", "my", "the", "account", "order",
            "app", "team", "issue", "problem", "still", "yesterday", "customer", "number", "email", "since", "week")
_TICKETS = {
    "billing": ["charged twice", "invoice", "payment failed", "credit card", "subscription fee", "billing cycle",
                "wrong amount", "receipt", "card declined", "tax on invoice", "renewal price", "refund the charge"],
    "login": ["cannot log in", "password reset", "two factor code", "locked out", "sign in page", "login link",
              "username", "session expired", "verification email", "reset link expired", "access denied",
              "authenticator"],
    "shipping": ["package", "tracking number", "delivery late", "courier", "arrived damaged", "shipping address",
                 "not delivered", "parcel", "dispatch", "delivery window", "lost in transit", "shipping label"],
    "bug": ["app crashes", "error message", "blank screen", "button does nothing", "freezes", "update broke",
            "stack trace", "page will not load", "sync fails", "notifications broken", "slow to open", "glitch"],
    "returns": ["return the item", "exchange", "wrong size", "return label", "refund status", "send it back",
                "return window", "store credit", "defective item", "replacement", "restocking fee", "return policy"],
}


def make_tickets(n: int, seed: int) -> tuple[list[str], np.ndarray, list[str]]:
    names = list(_TICKETS)
    rng = np.random.default_rng(seed + 4)
    texts, labels = [], []
    for i in range(n):
        c = i % len(names)
        words = list(rng.choice(_TICKETS[names[c]], int(rng.integers(1, 3)), replace=False))
        for _ in range(int(rng.integers(0, 3))):  # talk of another topic, as tickets do
            if rng.random() < 0.45:
                other = names[(c + int(rng.integers(1, len(names)))) % len(names)]
                words.append(str(rng.choice(_TICKETS[other])))
        words += list(rng.choice(_GENERIC, int(rng.integers(4, 9))))
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(c)
    return texts, np.asarray(labels), names


_PRODUCTS = {
    "electronics": ["battery", "screen", "charger", "headphones", "speaker", "cable", "remote", "bluetooth"],
    "clothing": ["jacket", "shirt", "fabric", "sleeves", "zipper", "jeans", "fit", "stitching"],
    "kitchen": ["blender", "pan", "knife", "kettle", "lid", "toaster", "handle", "nonstick coating"],
}
_SHARED = ("quality", "price", "delivery", "box", "size", "color", "product", "seller", "design", "material")
_GOOD = ("love it", "works great", "excellent", "very happy", "recommend", "five stars", "sturdy", "worth it",
         "perfect", "better than expected")
_BAD = ("broke", "disappointed", "waste of money", "returned it", "cheap feel", "one star", "stopped working",
        "terrible", "worse than expected", "poor")


def make_reviews(n: int, seed: int) -> tuple[list[str], np.ndarray, list[str]]:
    cats = list(_PRODUCTS)
    names = [f"{c}-{s}" for c in cats for s in ("positive", "negative")]
    rng = np.random.default_rng(seed + 5)
    texts, labels = [], []
    for i in range(n):
        c = i % len(names)
        cat, positive = cats[c // 2], c % 2 == 0
        own, other = (_GOOD, _BAD) if positive else (_BAD, _GOOD)
        words = list(rng.choice(_PRODUCTS[cat], int(rng.integers(1, 3)), replace=False))
        if rng.random() < 0.25:  # mentions a product of another category
            words.append(str(rng.choice(_PRODUCTS[cats[(c // 2 + int(rng.integers(1, 3))) % 3]])))
        words += list(rng.choice(own, int(rng.integers(1, 3)), replace=False))
        if rng.random() < 0.35:  # a mixed review: one phrase of the other sentiment
            words.append(str(rng.choice(other)))
        if rng.random() < 0.2:  # a negated phrase of the other sentiment says the same thing
            words.append("not " + str(rng.choice(other)))
        words += list(rng.choice(_SHARED, int(rng.integers(2, 5))))
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(c)
    return texts, np.asarray(labels), names


MAKERS = {"shapes": make_shapes, "textures": make_textures, "glyphs": make_glyphs, "scenes": make_scenes,
          "tickets": make_tickets, "reviews": make_reviews}


# --------------------------------------------------------------------------- bare cleanlab baselines


def _cv_probs(model_factory, X, y: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    k = int(y.max()) + 1
    pp = np.zeros((y.size, k))
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(np.zeros(y.size), y):
            model = model_factory()
            model.fit(X[train], y[train])
            pp[np.ix_(test, model.classes_)] = model.predict_proba(X[test])
    return pp


def hog_array(images: list[Image.Image]) -> np.ndarray:
    from skimage.feature import hog

    return np.stack([hog(np.asarray(im.convert("L"), dtype=np.float32) / 255.0, orientations=9,
                         pixels_per_cell=(8, 8), cells_per_block=(2, 2)) for im in images])


def zoo_features(name: str, n: int, seed: int):
    """What the offline benches (``qc_noise.py``, ``qc_select.py``) start from: a dataset's
    items, labels and class names, the zoo's candidates for it (ONNX left out: no model file
    here) and their feature sets."""
    from quality.zoo import (
        IMAGE_CANDIDATES,
        TEXT_CANDIDATES,
        candidates_for,
        feature_sets_of,
        image_feature_sets,
        text_feature_sets,
    )

    image = name in IMAGE_SETS
    items, y, names = MAKERS[name](n, seed)
    cands = [c for c in candidates_for(IMAGE_CANDIDATES if image else TEXT_CANDIDATES, n_items=n) if c[0] != "onnx"]
    t = time.perf_counter()
    wanted = feature_sets_of(cands)
    sets = image_feature_sets(items, names=wanted) if image else text_feature_sets(items, names=wanted)
    log(f"{name} s{seed}: features {', '.join(wanted)} in {time.perf_counter() - t:.1f}s")
    return items, y, names, cands, sets


def baseline_features(kind: str, items) -> dict[str, object]:
    """Each classical baseline's features, by baseline name: they do not depend on the labels, so
    a dataset's are computed once for all its noise levels."""
    if kind == "text":
        from sklearn.feature_extraction.text import TfidfVectorizer

        return {"tfidf+logreg": TfidfVectorizer(sublinear_tf=True).fit_transform(items)}
    return {"hog+svm_rbf": hog_array(items),
            "pixels+logreg": np.stack([np.asarray(im.convert("L"), dtype=np.float32).ravel() / 255.0 for im in items])}


def baselines(features: dict[str, object], noisy: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Cross-validated pred_probs of each classical baseline (on :func:`baseline_features`), by name."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    models = {
        "tfidf+logreg": lambda: LogisticRegression(max_iter=1000),
        "hog+svm_rbf": lambda: make_pipeline(StandardScaler(), SVC(probability=True, random_state=seed)),
        "pixels+logreg": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
    }
    return {name: _cv_probs(models[name], X, noisy, seed) for name, X in features.items()}


def bare_cleanlab(noisy: np.ndarray, pp: np.ndarray, filter_by: str = "prune_by_noise_rate") -> tuple[np.ndarray, float]:
    """cleanlab's flags (its default rule unless `filter_by` says another) and its noise estimate
    (1 - trace of the calibrated joint)."""
    import cleanlab.count
    import cleanlab.filter

    flags = cleanlab.filter.find_label_issues(noisy, pp, filter_by=filter_by, n_jobs=1)
    joint = cleanlab.count.estimate_joint(noisy, pp)
    return np.flatnonzero(flags), float(1.0 - np.trace(joint))


# --------------------------------------------------------------------------- labelfab through the product


def choices_config(obj: str, names: list[str]) -> str:
    tag = "Image" if obj == "image" else "Text"
    return (f'<View><{tag} name="{obj}" value="${obj}"/><Choices name="label" toName="{obj}">'
            + "".join(f'<Choice value="{c}"/>' for c in names) + "</Choices></View>")


#: (task ids, labels, pred_probs) of each classification QC run of this process, in run order
#: (filled by :func:`_keep_pred_probs` with ``--dump``)
KEPT: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []


def _keep_pred_probs() -> None:
    """Keep every classification run's pred_probs (``quality.run.classification`` looks
    ``pred_probs_of`` up in its module at each call, so the wrapper sees the QC job's own)."""
    import quality.run.classification as classification

    product = classification.pred_probs_of

    def keep(data, y, **options):
        probs = product(data, y, **options)
        KEPT.append((np.asarray(data.task_ids).copy(), np.asarray(y).copy(), np.asarray(probs.pred_probs).copy()))
        return probs

    classification.pred_probs_of = keep


def dump_row(folder: Path, name: str, n: int, seed: int, tag: int, y: np.ndarray, noisy: np.ndarray,
             position: dict[int, int], run, flagged: set[int]) -> bool:
    """Save the last kept run's pred_probs, with the true and given labels, in the run's order of
    items (qc_noise.py's cache file of this row), and say whether the flags ``lowest_flags`` sets
    on them with the run's estimate are the run's."""
    from quality.noise import lowest_flags

    task_ids, labels, pp = KEPT[-1]
    at = np.array([position[int(t)] for t in task_ids])
    if sorted(at.tolist()) != list(range(y.size)) or not np.array_equal(labels, noisy[at]):
        raise SystemExit(f"{name} {tag}%: the kept run is not this row's items")
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / f"{name}-n{n}-s{seed}-{tag}.npz", y=y[at], noisy=noisy[at], pred_probs=pp)
    mask = lowest_flags(pp[np.arange(y.size), labels], float(run.noise_rate))
    return set(at[mask].tolist()) == flagged


def labelfab_qc(admin: User, name: str, kind: str, items, names: list[str], noisy: np.ndarray, tag: int):
    """(flagged item positions, the stored QualityRun, seconds of the QC job, item position of
    each task id)."""
    title = f"{name} {tag}% flipped"
    if kind == "image":
        folder = qc.TMP / f"{name}{tag}"
        for i, im in enumerate(items):
            target = folder / names[noisy[i]]
            target.mkdir(parents=True, exist_ok=True)
            im.save(target / f"item_{i:05d}.png")
        pid = projects.create_project(admin, title=title, label_config=choices_config("image", names)).id
        imports.import_data(admin, pid, paths=[folder])
        _, run, seconds = qc.run_job(admin, pid)
        files = qc.task_files(pid)
        position = {tid: int(Path(f).stem.split("_")[1]) for tid, f in files.items()}
    else:
        pid = projects.create_project(admin, title=title, label_config=choices_config("text", names)).id
        rows = [{"data": {"text": t}, "annotations": [{"result": [
            {"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [names[noisy[i]]]}}]}]}
            for i, t in enumerate(items)]
        result = imports.import_data(admin, pid, body=rows, return_task_ids=True, background=False)
        position = {tid: i for i, tid in enumerate(result.task_ids)}
        _, run, seconds = qc.run_job(admin, pid)
    flagged = {position[tid] for tid, li in qc.flagged_tasks(run.id).items() if li.is_issue}
    return flagged, run, seconds, position


# --------------------------------------------------------------------------- main


def measure(admin: User, name: str, n: int, rates: list[float], seed: int, dump: Path | None = None) -> list[dict]:
    kind = "image" if name in IMAGE_SETS else "text"
    t = time.perf_counter()
    items, y, names = MAKERS[name](n, seed)
    log(f"{name}: {len(items)} items, {len(names)} classes, made in {time.perf_counter() - t:.1f}s")
    t = time.perf_counter()
    base_features = baseline_features(kind, items)
    feature_seconds = time.perf_counter() - t
    rows = []
    for rate in rates:
        tag = int(round(rate * 100))
        noisy = flip_labels(y, rate, len(names), seed + tag)
        truth = set(np.flatnonzero(noisy != y).tolist())
        flagged, run, seconds, position = labelfab_qc(admin, name, kind, items, names, noisy, tag)
        p, r, f = qc.prf(flagged, truth)
        row = {"dataset": name, "noise": rate, "noise_true": round(len(truth) / y.size, 4),
               "labelfab": {"f1": round(f, 4), "precision": round(p, 4), "recall": round(r, 4),
                            "noise_est": round(run.noise_rate, 4), "model": run.model_name,
                            "features": (run.summary or {}).get("features"),
                            "cv_accuracy": round(run.cv_accuracy or 0.0, 4), "seconds": round(seconds, 1)}}
        if dump is not None:
            row["dump_flags_match"] = dump_row(dump, name, n, seed, tag, y, noisy, position, run, flagged)
        t = time.perf_counter()
        for base, pp in baselines(base_features, noisy, seed).items():
            idx, est = bare_cleanlab(noisy, pp)
            bp, br, bf = qc.prf(set(idx.tolist()), truth)
            # labelfab flags by cleanlab's low_self_confidence rule: the same rule on the bare
            # baseline's pred_probs, for reference (the best baseline stays cleanlab's default)
            lsc, _ = bare_cleanlab(noisy, pp, "low_self_confidence")
            row[base] = {"f1": round(bf, 4), "precision": round(bp, 4), "recall": round(br, 4),
                         "noise_est": round(est, 4), "cv_accuracy": round(float(np.mean(pp.argmax(1) == noisy)), 4),
                         "f1_low_self_confidence": round(qc.prf(set(lsc.tolist()), truth)[2], 4)}
        best = max((k for k in row if isinstance(row[k], dict) and k != "labelfab"),
                   key=lambda k: row[k]["f1"])
        row["best_baseline"] = best
        row["gap"] = round(row["labelfab"]["f1"] - row[best]["f1"], 4)
        # the baselines' features are computed once per dataset: each row is charged its share
        row["baseline_seconds"] = round(time.perf_counter() - t + feature_seconds / len(rates), 1)
        lf = row["labelfab"]
        log(f"{name} {tag}%: labelfab P {lf['precision']:.3f} R {lf['recall']:.3f} F1 {lf['f1']:.3f} noise "
            f"{lf['noise_est']:.3f}/{row['noise_true']:.3f} ({lf['model']} on {lf['features']}, CV acc "
            f"{lf['cv_accuracy']:.3f}, {seconds:.1f}s); best bare {best} F1 {row[best]['f1']:.3f} -> gap {row['gap']:+.3f}")
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    """The markdown table of the runs: labelfab's P / R / F1, every baseline's F1, the best one, the
    gap, and the noise estimate against the truth."""
    bases = list(dict.fromkeys(k for row in rows for k in row if isinstance(row[k], dict) and k != "labelfab"))
    lines = ["| dataset | noise | labelfab P / R / F1 | " + " | ".join(f"{b} F1" for b in bases)
             + " | best baseline | gap | noise est (true) | model (CV acc) |",
             "|---|---|---|" + "---|" * len(bases) + "---|---|---|---|"]
    for row in rows:
        lf, best = row["labelfab"], row["best_baseline"]
        cells = " | ".join(f"{row[b]['f1']:.3f}" if b in row else "" for b in bases)
        lines.append(f"| {row['dataset']} | {row['noise']:.0%} | {lf['precision']:.3f} / {lf['recall']:.3f} / "
                     f"{lf['f1']:.3f} | {cells} | {best} | {row['gap']:+.3f} | {lf['noise_est']:.3f} "
                     f"({row['noise_true']:.3f}) | {lf['model']} ({lf['cv_accuracy']:.3f}) |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--datasets", default=",".join(IMAGE_SETS + TEXT_SETS))
    ap.add_argument("--noise", default=",".join(str(r) for r in NOISE), help="comma-separated flip rates")
    ap.add_argument("--n", type=int, default=900, help="items per image dataset (text: 4/3 of it)")
    ap.add_argument("--table", metavar="FILE", help="only print the table of a run's JSON line saved in FILE")
    ap.add_argument("--dump", metavar="DIR", help="keep each run's pred_probs there (bench/qc_noise.py's cache)")
    args = ap.parse_args()
    if args.table:
        print(table(json.loads(Path(args.table).read_text().strip().splitlines()[-1])["rows"]))
        return
    names = [d for d in args.datasets.split(",") if d]
    unknown = [d for d in names if d not in MAKERS]
    if unknown:
        raise SystemExit(f"unknown datasets {unknown}; known: {', '.join(MAKERS)}")
    rates = [float(r) for r in args.noise.split(",")]
    dump = Path(args.dump) if args.dump else None
    if dump is not None:
        _keep_pred_probs()
    migrate.upgrade()
    admin = users.create_user("admin@bench.local", role=Role.admin)
    t = time.perf_counter()
    rows = []
    for name in names:
        n = args.n if name in IMAGE_SETS else int(args.n * 4 / 3)
        rows.extend(measure(admin, name, n, rates, args.seed, dump))
    log(table(rows))
    gaps = [r["gap"] for r in rows]
    noise_err = [abs(r["labelfab"]["noise_est"] - r["noise_true"]) for r in rows]
    figures = {"mean_gap": round(float(np.mean(gaps)), 4), "min_gap": round(float(np.min(gaps)), 4),
               "runs_at_or_above_best_baseline": int(sum(g >= 0 for g in gaps)), "runs": len(rows),
               "max_noise_error": round(float(np.max(noise_err)), 4),
               "mean_f1": round(float(np.mean([r["labelfab"]["f1"] for r in rows])), 4),
               "cpus": os.cpu_count(), "load_avg_1min": round(os.getloadavg()[0], 1),
               "total_seconds": round(time.perf_counter() - t, 1), "rows": rows}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
