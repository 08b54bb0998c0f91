"""Out-of-sample token probabilities for named entities, from the project's own labels.

Pure functions in cleanlab's style: tokens and their given labels in, one ``pred_probs`` matrix
per text out (the input of ``cleanlab.token_classification``). The model is a logistic
regression on hashed features of each token and its neighbours, cross-validated by text (the
tokens of one text are never split between training and scoring), so every token is judged by
a model that never saw its text.

* :func:`token_features` -- the feature dicts of the tokens of one text.
* :func:`cross_val_token_probs` -- K-fold (grouped by text) predicted probabilities.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from quality import QCInputError

__all__ = ["MIN_TEXTS", "cross_val_token_probs", "token_features"]

#: Fewer labeled texts than this and there is no out-of-sample model to speak of.
MIN_TEXTS = 4
_N_HASHED = 2**18
_EPS = 1e-4


def _shape(word: str) -> str:
    out = []
    for ch in word[:6]:
        kind = "X" if ch.isupper() else "x" if ch.islower() else "d" if ch.isdigit() else ch
        if not out or out[-1] != kind:
            out.append(kind)
    return "".join(out)


def token_features(tokens: Sequence[str]) -> list[dict[str, float]]:
    """Feature dicts of each token of one text: the word, its shape and affixes, and its
    neighbours' words."""
    feats = []
    n = len(tokens)
    for t, word in enumerate(tokens):
        low = word.lower()
        f = {
            "bias": 1.0,
            f"w={low}": 1.0,
            f"shape={_shape(word)}": 1.0,
            f"pre={low[:3]}": 1.0,
            f"suf={low[-3:]}": 1.0,
            "title": float(word.istitle()),
            "upper": float(word.isupper()),
            "digit": float(any(ch.isdigit() for ch in word)),
        }
        for off in (-2, -1, 1, 2):
            j = t + off
            if 0 <= j < n:
                f[f"w{off:+d}={tokens[j].lower()}"] = 1.0
                f[f"shape{off:+d}={_shape(tokens[j])}"] = 1.0
            else:
                f[f"w{off:+d}=<edge>"] = 1.0
        feats.append(f)
    return feats


def cross_val_token_probs(
    tokens: Sequence[Sequence[str]],
    labels: Sequence[np.ndarray],
    *,
    n_classes: int,
    n_folds: int = 5,
    seed: int = 0,
) -> tuple[list[np.ndarray], float]:
    """Out-of-sample probabilities of every token's class, cross-validated by text.

    Parameters
    ----------
    tokens : list of list of str
        The tokens of each text.
    labels : list of np.ndarray
        The given class index of each token (0 is "O", outside any span).
    n_classes : int
        Number of classes, "O" included.
    n_folds : int, default 5
        Folds of texts (fewer when there are fewer texts).
    seed : int, default 0

    Returns
    -------
    pred_probs : list of np.ndarray
        One ``(n_tokens, n_classes)`` matrix per text; rows sum to 1 and no entry is 0.
    accuracy : float
        Share of tokens whose most likely class is the given one.

    Raises
    ------
    QCInputError
        Fewer than :data:`MIN_TEXTS` texts, or a single class among all tokens.
    """
    from sklearn.feature_extraction import FeatureHasher
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from threadpoolctl import threadpool_limits

    if len(tokens) != len(labels):
        raise QCInputError(f"{len(tokens)} token lists but {len(labels)} label lists")
    if len(tokens) < MIN_TEXTS:
        raise QCInputError(
            f"{len(tokens)} labeled text(s); a token model needs at least {MIN_TEXTS} to "
            "cross-validate"
        )
    y = np.concatenate([np.asarray(lab, dtype=np.int64) for lab in labels])
    if np.unique(y).size < 2:
        raise QCInputError("every token has the same label; a token model needs 2 classes")
    groups = np.concatenate([np.full(len(t), i) for i, t in enumerate(tokens)])
    hasher = FeatureHasher(n_features=_N_HASHED, input_type="dict", alternate_sign=False)
    X = hasher.transform(f for text in tokens for f in token_features(list(text)))
    pp = np.zeros((y.size, n_classes), dtype=np.float64)
    k = min(n_folds, len(tokens))
    order = np.random.default_rng(seed).permutation(len(tokens))  # folds of shuffled texts
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for train, test in GroupKFold(n_splits=k).split(X, y, order[groups]):
            classes = np.unique(y[train])
            if classes.size == 1:
                pp[np.ix_(test, classes)] = 1.0
                continue
            model = LogisticRegression(C=1.0, max_iter=500)
            model.fit(X[train], y[train])
            pp[np.ix_(test, model.classes_.astype(np.int64))] = model.predict_proba(X[test])
    pp = (pp + _EPS) / (1.0 + _EPS * n_classes)
    acc = float(np.mean(pp.argmax(axis=1) == y))
    out, start = [], 0
    for t in tokens:
        out.append(pp[start : start + len(t)])
        start += len(t)
    return out, acc
