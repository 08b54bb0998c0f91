"""Agreement between annotators on classifications per page (``perItem`` controls on a ``<Pdf>``
or an ``<Image valueList>``; pure functions).

A per-page control's answer is one result item per page, its page in ``item_index``
(:mod:`labeling.schema.pdf`). Two annotators agree on a page when they picked the same set of
choices for it; a page only one of them answered is a page they disagree on. The figure of a
task is the share of agreeing (pair of annotators, page) over every pair and every page either
of the pair answered: 1.0 when all annotators classified every page alike.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from labeling.schema.pdf import page_items

__all__ = ["page_answers", "page_match_share"]


def page_answers(result: list[Any], control: str) -> dict[int, frozenset[str]]:
    """One annotator's answers of ``control`` by page: the set of choices picked for it."""
    out = {}
    for page, item in page_items(result, control).items():
        value = item.get("value")
        choices = value.get("choices") if isinstance(value, dict) else None
        if isinstance(choices, list):
            out[page] = frozenset(c for c in choices if isinstance(c, str))
    return out


def page_match_share(results: list[list[Any]], control: str) -> tuple[float | None, str]:
    """The exact-match share of the per-page answers of ``control`` over pairs of annotators.

    Parameters
    ----------
    results : list of list of dict
        One Label Studio result per annotator.
    control : str
        The ``perItem`` control's name.

    Returns
    -------
    share : float or None
        Agreeing (pair, page) over every (pair, page) answered by one of the pair; None when no
        pair has a page to compare.
    detail : str
        The pages annotators disagree on (1-based, as people count pages).

    Examples
    --------
    >>> a = [{"from_name": "p", "item_index": 0, "value": {"choices": ["Cover"]}},
    ...      {"from_name": "p", "item_index": 1, "value": {"choices": ["Body"]}}]
    >>> b = [{"from_name": "p", "item_index": 0, "value": {"choices": ["Cover"]}},
    ...      {"from_name": "p", "item_index": 1, "value": {"choices": ["Appendix"]}}]
    >>> page_match_share([a, b], "p")
    (0.5, 'pages apart: 2')
    """
    answers = [page_answers(r or [], control) for r in results]
    agree = total = 0
    apart: set[int] = set()
    for a, b in combinations(answers, 2):
        for page in set(a) | set(b):
            total += 1
            if a.get(page) == b.get(page):
                agree += 1
            else:
                apart.add(page)
    if not total:
        return None, ""
    detail = "pages apart: " + ", ".join(str(p + 1) for p in sorted(apart)[:20]) if apart else ""
    return agree / total, detail
