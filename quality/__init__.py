"""Quality control: features, predicted probabilities, cleanlab scoring and agreement metrics.

The modules ``quality.features``, ``quality.pred_probs``, ``quality.scoring`` and
``quality.agreement`` are pure functions (arrays in, arrays out); they never touch the
database or the job queue.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["QCInputError", "quiet"]


class QCInputError(ValueError):
    """Input that the QC engine cannot score, with a message saying what is wrong and where.

    Raised instead of a library traceback for edge cases such as fewer than two classes,
    a class with a single example, no labelled items, non-finite or constant features, or
    predicted probabilities of the wrong shape. It subclasses :class:`ValueError`, so callers
    that already catch ``ValueError`` keep working.
    """


@contextmanager
def quiet() -> Iterator[None]:
    """Silence cleanlab's advisory warnings (the scoring modules validate their input first)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", FutureWarning)
        yield
