"""How good a text model can be on bench/qc_zoo.py's text families: their ceiling, and strong baselines.

The zoo's models are weak on the review texts (cross-validated accuracy 0.60-0.76), and a weak
model raises QC's noise estimate (``quality.noise``). This script tells whether that is the data
or the models:

* ``ceiling``: a model trained on many clean texts of the same generator (``--big`` of them,
  another seed), tested on the 1,200 texts the benchmark uses, with their true labels: binary
  word 1-3-grams + logistic regression and word-count multinomial naive Bayes, at several training
  sizes. What it reaches with tens of thousands of texts is about the generator's Bayes accuracy
  (texts ambiguous by construction); what it reaches with 960 (a 5-fold training split) is the
  size's bound.
* ``models``: on the benchmark's own texts with 5 %, 10 %, 20 % of labels flipped (qc_zoo's flips),
  5-fold cross-validated probabilities of the zoo's text candidates beside well-known strong text
  baselines -- multinomial and complement naive Bayes on word 1-2-gram counts, and NB-weighted
  logistic regression (Wang & Manning 2012's NB-SVM with a logistic loss, one-vs-rest on binary
  word 1-3-grams) -- each calibrated by the zoo's temperature and scored by the zoo's own
  selection loss (capped log loss against the given labels), with its accuracy against the given
  and the true labels.

Usage::

    python bench/qc_text_ceiling.py [--dataset reviews] [--seed 0] [--big 40000] [--skip-models]

A line per figure goes to stderr; the last line on stdout is one JSON object of figures.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

import numpy as np
import qc_zoo
import scipy.sparse as sp
from common import flip_labels, log

TOKENS = r"(?u)\b\w+\b"


class NBLogisticRegression:
    """NB-weighted logistic regression (Wang & Manning 2012), one-vs-rest: each class's binary
    features scaled by their naive Bayes log-count ratio, a logistic regression per class, the
    classes' logits turned into probabilities by a softmax."""

    def __init__(self, C: float = 1.0, alpha: float = 1.0) -> None:
        self.C, self.alpha = C, alpha

    def fit(self, X, y):
        from sklearn.linear_model import LogisticRegression

        X = (X > 0).astype(np.float64)
        self.classes_ = np.unique(y)
        self.parts_ = []
        for c in self.classes_:
            p = self.alpha + np.asarray(X[y == c].sum(axis=0)).ravel()
            q = self.alpha + np.asarray(X[y != c].sum(axis=0)).ravel()
            r = np.log(p / p.sum()) - np.log(q / q.sum())
            model = LogisticRegression(C=self.C, max_iter=1000).fit(X @ sp.diags(r), (y == c).astype(int))
            self.parts_.append((r, model))
        return self

    def predict_proba(self, X):
        X = (X > 0).astype(np.float64)
        z = np.column_stack([m.decision_function(X @ sp.diags(r)) for r, m in self.parts_])
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def ceiling(name: str, seed: int, big: int) -> list[dict]:
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB

    train, y_train, _ = qc_zoo.MAKERS[name](big, seed + 1000)
    test, y_test, _ = qc_zoo.MAKERS[name](1200, seed)
    out = []
    for size in sorted({960, 2000, 5000, big}):
        docs, y = train[:size], y_train[:size]
        binary = TfidfVectorizer(ngram_range=(1, 3), binary=True, use_idf=False, token_pattern=TOKENS).fit(docs)
        counts = CountVectorizer(ngram_range=(1, 2), token_pattern=TOKENS).fit(docs)
        for model, vec, make in (("binary 1-3 + logreg(C=10)", binary, lambda: LogisticRegression(C=10, max_iter=2000)),
                                 ("counts 1-2 + multinomial NB", counts, lambda: MultinomialNB(alpha=1.0))):
            fitted = make().fit(vec.transform(docs), y)
            acc = float(np.mean(fitted.predict(vec.transform(test)) == y_test))
            out.append({"train_size": size, "model": model, "accuracy_true": round(acc, 4)})
            log(f"{name} ceiling: {model} trained on {size} clean texts: accuracy {acc:.3f}")
    return out


def models(name: str, seed: int) -> list[dict]:
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.naive_bayes import ComplementNB, MultinomialNB

    from quality.zoo import _log_loss, _scaled, _temperature, text_feature_sets

    texts, y, names = qc_zoo.MAKERS[name](1200, seed)
    sets = text_feature_sets(texts, names=["words+chars", "binary"])
    counts = CountVectorizer(ngram_range=(1, 2), token_pattern=TOKENS).fit_transform(texts)
    binary13 = CountVectorizer(ngram_range=(1, 3), binary=True, token_pattern=TOKENS).fit_transform(texts)
    candidates = {
        "zoo: words+chars + logreg(C=10)": (sets["words+chars"], lambda: LogisticRegression(C=10, max_iter=1000)),
        "zoo: binary + logreg(C=3)": (sets["binary"], lambda: LogisticRegression(C=3, max_iter=1000)),
        "counts 1-2 + multinomial NB": (counts, lambda: MultinomialNB(alpha=1.0)),
        "counts 1-2 + complement NB": (counts, lambda: ComplementNB(alpha=1.0)),
        "binary 1-3 + NB-logreg(C=1)": (binary13, lambda: NBLogisticRegression(C=1.0)),
        "binary 1-3 + NB-logreg(C=0.1)": (binary13, lambda: NBLogisticRegression(C=0.1)),
    }
    out = []
    for rate in qc_zoo.NOISE:
        noisy = flip_labels(y, rate, len(names), seed + int(round(rate * 100)))
        folds = list(StratifiedKFold(5, shuffle=True, random_state=seed).split(np.zeros(y.size), noisy))
        for model, (X, make) in candidates.items():
            t = time.perf_counter()
            pp = np.zeros((y.size, len(names)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for train, test in folds:
                    pp[test] = make().fit(X[train], noisy[train]).predict_proba(X[test])
            loss = _log_loss(_scaled(pp, _temperature(pp, noisy)), noisy)
            row = {"noise": rate, "model": model, "selection_loss": round(loss, 4),
                   "accuracy_given": round(float(np.mean(pp.argmax(1) == noisy)), 4),
                   "accuracy_true": round(float(np.mean(pp.argmax(1) == y)), 4),
                   "seconds": round(time.perf_counter() - t, 1)}
            out.append(row)
            log(f"{name} {rate:.0%}: {model}: loss {loss:.4f}, accuracy {row['accuracy_given']:.3f} given / "
                f"{row['accuracy_true']:.3f} true ({row['seconds']}s)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="reviews", choices=qc_zoo.TEXT_SETS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--big", type=int, default=40_000, help="clean texts of the largest training set")
    ap.add_argument("--skip-models", action="store_true", help="only the ceiling")
    args = ap.parse_args()
    t = time.perf_counter()
    figures = {"dataset": args.dataset, "seed": args.seed, "ceiling": ceiling(args.dataset, args.seed, args.big)}
    if not args.skip_models:
        figures["models"] = models(args.dataset, args.seed)
    figures.update({"cpus": os.cpu_count(), "load_avg_1min": round(os.getloadavg()[0], 1),
                    "total_seconds": round(time.perf_counter() - t, 1)})
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
