"""How the annotators of one chat agree on its messages (pure functions; ARCHITECTURE.md, quality/).

A ``<Chat>``'s per-message controls (``perRegion="true"`` Choices and Ratings with ``toName``
the chat) give each message a categorical answer per annotator: the picked choices (a set,
one category) or the number of stars. For each such control the answers form cleanlab's
multi-annotator label matrix (one row per message answered by two annotators or more, one
column per annotator, ``NaN`` where an annotator left the message alone); each message's
consensus is its majority answer, and its agreement the share of its annotators who gave it
(cleanlab's ``annotator_agreement``). cleanlab's own ``get_majority_vote_label`` is not used: it
breaks ties at random and fails on a matrix whose every row is a tie (two annotators who differ
on every message); here a tie goes to the answer first in config order, so figures and
consensus are the same on every run. The task's
figure is the mean over messages; below 1.0 a message has an annotator who differs, and the QC
policy sends the task to review naming the messages (:mod:`quality.task_agreement`, type
``chatmessage``).

Messages are matched across annotators by id: a task-data message by
:func:`labeling.schema.chat.message_id` (the same for everyone), a message an annotator added
only by its own item id (added messages of different annotators are different messages).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from labeling.schema import LabelSchema

__all__ = ["MessageAgreement", "chat_agreement", "message_agreement", "message_answers"]


@dataclass(frozen=True)
class MessageAgreement:
    """One message's agreement on one per-message control.

    Attributes
    ----------
    control : str
        The per-message control.
    message : str
        The message's id.
    share : float
        The share of its annotators who gave the consensus answer.
    consensus : Any
        The consensus answer (a tuple of choices, or a rating).
    n_annotators : int
        How many annotators answered it.
    """

    control: str
    message: str
    share: float
    consensus: Any
    n_annotators: int


def _per_message_controls(schema: LabelSchema) -> list[Any]:
    return [c for c in schema.controls if c.per_region and c.object_tag == "Chat" and c.type in ("choices", "rating")]


def message_answers(schema: LabelSchema, result: Any) -> dict[tuple[str, str], Any]:
    """``(control, message id) -> answer`` of one annotator's result: a per-message Choices
    answer as the sorted tuple of its choices, a Rating as its number."""
    controls = {c.name: c for c in _per_message_controls(schema)}
    out: dict[tuple[str, str], Any] = {}
    for item in result if isinstance(result, list) else []:
        control = controls.get(item.get("from_name")) if isinstance(item, dict) else None
        value = item.get("value") if control is not None else None
        if not isinstance(value, dict) or not isinstance(item.get("id"), str):
            continue
        if control.type == "choices" and isinstance(value.get("choices"), list):
            out[(control.name, item["id"])] = tuple(sorted(map(str, value["choices"])))
        elif control.type == "rating" and isinstance(value.get("rating"), int | float):
            out[(control.name, item["id"])] = value["rating"]
    return out


def message_agreement(labels_multiannotator: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Consensus and agreement of each row of a multi-annotator label matrix.

    Parameters
    ----------
    labels_multiannotator : np.ndarray
        Shape ``(n_messages, n_annotators)``, class indices as floats, ``NaN`` where an
        annotator gave no answer; every row with two answers or more.

    Returns
    -------
    consensus : np.ndarray of int
        The majority answer per row (a tie: the lowest class index).
    agreement : np.ndarray of float
        The share of each row's annotators who gave its consensus.

    Examples
    --------
    >>> consensus, agreement = message_agreement(np.array([[0, 0, np.nan], [1, 0, 1.0]]))
    >>> consensus.tolist(), agreement.round(2).tolist()
    ([0, 1], [1.0, 0.67])
    """
    labels = np.asarray(labels_multiannotator, dtype=float)
    if labels.ndim != 2 or labels.shape[0] == 0:
        return np.zeros(0, dtype=int), np.zeros(0)
    answered = ~np.isnan(labels)
    if (answered.sum(axis=1) < 2).any():
        raise ValueError("every row needs the answers of two annotators or more")
    n_classes = int(np.nanmax(labels)) + 1
    codes = np.where(answered, labels, n_classes).astype(int)  # NaN -> a class of its own, not counted
    counts = np.stack([np.bincount(row, minlength=n_classes + 1)[:n_classes] for row in codes])
    consensus = counts.argmax(axis=1)  # the first of equal counts: the lowest class
    return consensus, counts.max(axis=1) / answered.sum(axis=1)


def chat_agreement(schema: LabelSchema, results: list[Any]) -> list[MessageAgreement]:
    """The agreement of one task's annotators on every message answered by two or more.

    Parameters
    ----------
    schema : LabelSchema
        A config with a ``<Chat>`` and per-message Choices or Ratings.
    results : list of list of dict
        One Label Studio result per annotator.

    Returns
    -------
    list of MessageAgreement
        Per control (config order) and message (id order); empty when no message has two
        answers.
    """
    answers = [message_answers(schema, r) for r in results]
    out: list[MessageAgreement] = []
    for control in _per_message_controls(schema):
        messages = sorted({mid for a in answers for (name, mid) in a if name == control.name})
        rows = [m for m in messages if sum((control.name, m) in a for a in answers) >= 2]
        if not rows:
            continue
        classes = sorted({a[(control.name, m)] for a in answers for m in rows if (control.name, m) in a}, key=repr)
        code = {c: float(i) for i, c in enumerate(classes)}
        matrix = np.array([[code[a[(control.name, m)]] if (control.name, m) in a else np.nan for a in answers]
                           for m in rows])
        consensus, share = message_agreement(matrix)
        n = (~np.isnan(matrix)).sum(axis=1)
        out += [MessageAgreement(control.name, m, float(s), classes[c], int(k))
                for m, c, s, k in zip(rows, consensus, share, n, strict=True)]
    return out
