"""The review queue and its decisions (docs/ARCHITECTURE.md, "Item life cycle").

QC (:func:`quality.policy.apply_policy`) moves suspect tasks to the state ``review``. A reviewer
asks for the next one (:func:`next_suspect`): the worst-scored task of the queue that nobody
else holds is leased to them (``Lease.kind == "review"``, for ``Project.lease_seconds``; asking
again returns the same task and renews the lease). They decide (:func:`decide`):

- ``keep``: the label the people gave (the only annotator's, or their majority) is right ->
  ``accepted``; refused when the annotators are tied (the reviewer picks with ``relabel``);
- ``relabel``: the right label is ``result`` (checked against the label schema) -> ``accepted``;
  a relabel to the people's label is recorded as a keep (spans and boxes compare by offsets,
  labels and coordinates, whatever the items' ids, order or float noise);
- ``exclude``: the item is broken or ambiguous (a reason is required) -> ``excluded``.

The final label (``Task.final_label``) is recorded with the source ``reviewer``; it is always a
label a person gave or chose: QC's model-weighted consensus and its suggestion are shown to the
reviewer, named as the model's, and never kept without the reviewer picking them. Every decision
is a :class:`ReviewDecision` row with who, when, the state and label before and after, and the
label issue it answered; :func:`undo` takes back the reviewer's last decision (the task returns
to the queue, leased to them again). Leads audit decisions (:mod:`labeling.audit`); gold tasks
and pausing live in :mod:`labeling.gold`. The task helpers here (:func:`lock_task`,
:func:`drop_leases`, :func:`task_snapshot`, :func:`outcome`) serve those two as well.

A lead (or an admin) also acts on a whole selection of tasks at once (the Data Manager's
actions, :mod:`labeling.dm.actions`): :func:`send_to_review_many`, :func:`reopen_many`,
:func:`accept_many`, :func:`exclude_many`, :func:`include_many`, each in the caller's
transaction through :func:`labeling.lifecycle.move_planned` (one event per task moved; a task
that cannot make the move is reported and left as it is).

Every state change goes through :mod:`labeling.lifecycle`, which writes its TaskEvent. The
package: :mod:`~labeling.review.queue` (leases, the suspect and what the reviewer is shown, QC's
way in, :func:`queue_move`, and out, :func:`release_cleared`), :mod:`~labeling.review.findings`
(findings and labels in words, :func:`same_label`), :mod:`~labeling.review.decisions`
(:func:`decide`, :func:`undo`), :mod:`~labeling.review.selection` (acts on a selection).
"""

from labeling.review.decisions import DECISIONS, MAX_REASON, decide, outcome, review_event, undo
from labeling.review.findings import (
    as_result,
    finding_text,
    given_label,
    same_label,
    suggested_result,
)
from labeling.review.queue import (
    REVIEW,
    cleared_by,
    current_issue,
    drop_leases,
    lock_task,
    next_suspect,
    queue_move,
    release_cleared,
    results_of,
    review_item,
    task_snapshot,
)
from labeling.review.selection import (
    accept_many,
    exclude_many,
    include_many,
    lock_selection,
    release_places,
    reopen_many,
    send_to_review_many,
)

__all__ = [
    "DECISIONS",
    "MAX_REASON",
    "REVIEW",
    "accept_many",
    "as_result",
    "cleared_by",
    "current_issue",
    "decide",
    "drop_leases",
    "exclude_many",
    "finding_text",
    "given_label",
    "include_many",
    "lock_selection",
    "lock_task",
    "next_suspect",
    "outcome",
    "queue_move",
    "release_cleared",
    "release_places",
    "reopen_many",
    "results_of",
    "review_event",
    "review_item",
    "same_label",
    "send_to_review_many",
    "suggested_result",
    "task_snapshot",
    "undo",
]
