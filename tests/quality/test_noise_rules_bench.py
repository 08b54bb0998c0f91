"""bench/noise_rules.py's re-reading of the noise matrix reproduces the product's where it should:
rules scored offline are compared with the product's own reading, not a variant of it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from quality.noise import complement_noise_matrix
from tests.quality.test_noise import overlapping_classes


def _noise_rules():
    path = Path(__file__).resolve().parents[2] / "bench" / "noise_rules.py"
    spec = importlib.util.spec_from_file_location("bench_noise_rules", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rows_read_on_the_other_half_are_the_products_rows_and_anchor_counts():
    _, given, pp = overlapping_classes(n=1500, k=4, rate=0.1, seed=3)
    T, counts = _noise_rules().read_on_all(given, pp, "rows", read_all=False)
    T_product, anchors_not = complement_noise_matrix(given, pp)
    np.testing.assert_allclose(T, T_product)
    # the product counts every item past each halving's threshold (mean over the halvings)
    np.testing.assert_allclose(counts, anchors_not, atol=0.5)
