"""Row checks of an import: every row against the project's label config, problems by row and field.

:class:`Checker` turns raw items into what is inserted, collecting problems by row and field:
the data fields the config reads, annotation and prediction results (existing labels, valid
spans and boxes), ``completed_by`` (a user id or an email; an unknown email becomes an inactive
annotator), prediction ``probs`` (finite, labels of the config, summing to 1), ``data.embedding``
(finite numbers, one length across the project) and the gold flag and answer.
:func:`check_owners` then checks the annotators against the users table.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from labeling.db import read_session
from labeling.errors import Invalid
from labeling.imports.formats import RawItem, RowErrors
from labeling.models import Project, Role, User
from labeling.schema import LabelSchema, result_from_labels, validate_result, validate_task_data
from labeling.users import UserError, normalize_email

__all__ = ["ATTRIBUTED", "MAX_USER_MAP", "PROBS_TOLERANCE", "Checker", "Extra", "Owner", "check_owners",
           "check_user_map", "chunks", "parse_user_map"]

PROBS_TOLERANCE = 1e-3
_NUMBER = (int, float)
# LS annotation "completed_by" may be an id, an email, or {"id": .., "email": ..}.
_DIGITS = re.compile(r"^\d+$")


def chunks(seq: list, n: int) -> Iterator[list]:
    """``seq`` in slices of ``n``."""
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


@dataclass
class Owner:
    """Who an imported annotation belongs to: an existing id, an email, or the import's labels user."""

    kind: str  # id | email | labels
    value: Any = None
    given: Any = None  # completed_by as the file gives it (for the attribution report)
    how: str | None = None  # set when the value is not what was given: "mapped", "admin"


@dataclass
class Extra:
    """The annotations and predictions of one row, and what its task needs after insert."""

    index: int
    row: int
    file: str
    annotations: list[tuple[Owner, dict, str]] = field(default_factory=list)  # owner, row dict, field
    predictions: list[dict] = field(default_factory=list)
    gold_answer: list | None = None  # set: a gold task with this (checked) answer


class Checker:
    """Turns raw items into insert rows, collecting problems by row and field."""

    def __init__(self, project: Project, schema: LabelSchema, *, user_map: dict[int, str] | None = None):
        self.project = project
        self.user_map = user_map or {}  # another instance's user ids -> emails
        self.schema = schema
        self.embedding_dim: int | None = None
        self.embedding_origin: str | None = None
        self.embedding_looked_up = False
        self.errors = RowErrors()
        self.bad: set[int] = set()
        self.image_key = next((o.value_key for o in schema.objects.values() if o.tag == "Image"), None)
        # the task field an imported file goes to, by its kind (image, audio, video)
        self.media_keys = {"image": self.image_key}
        for kind, tags in (("audio", ("Audio", "AudioPlus")), ("video", ("Video",))):
            self.media_keys[kind] = next((o.value_key for o in schema.objects.values() if o.tag in tags), None)
        self.media_keys["pdf"] = next((o.value_key for o in schema.objects.values() if o.tag == "Pdf"), None)
        self.data_keys = sorted(schema.data_keys)
        self.primary = schema.primary_control
        self.primary_labels = set(self.primary.labels)
        self.is_choices = self.primary.tag == "Choices"
        # only text objects: the fast path checks presence and type in one loop
        self.text_keys = [o.value_key for o in schema.objects.values() if o.tag == "Text"]
        # (other objects, a TimeSeries' inline columns among them, are checked in full)
        self.simple = all(o.tag == "Text" for o in schema.objects.values())

    def fail(self, index: int, item: RawItem, fld: str | None, detail: str) -> None:
        self.bad.add(index)
        self.errors.add(item.row, item.file, fld, detail)

    # ---- data
    def check_data(self, index: int, item: RawItem, data: dict) -> None:
        if self.simple:
            ok = True
            for key in self.text_keys:
                if type(data.get(key)) is not str:
                    ok = False
                    break
            if not ok:
                for problem in validate_task_data(self.schema, data):
                    self.fail(index, item, "data", problem)
        else:
            for problem in validate_task_data(self.schema, data):
                self.fail(index, item, "data", problem)
        if "embedding" in data:
            self.check_embedding(index, item, data["embedding"])

    def check_embedding(self, index: int, item: RawItem, emb: Any) -> None:
        if type(emb) is not list or not emb:
            self.fail(index, item, "data.embedding", "must be a non-empty list of numbers")
            return
        for i, v in enumerate(emb):
            if type(v) not in _NUMBER or not math.isfinite(v):
                self.fail(index, item, "data.embedding", f"value {i} is {v!r}; every value must be a finite number")
                return
        if not self.embedding_looked_up:  # only imports with embeddings look at the project's
            self.embedding_looked_up = True
            with read_session() as s:
                self.embedding_dim = _existing_embedding_dim(s, self.project.id)
            if self.embedding_dim is not None:
                self.embedding_origin = "the project's tasks"
        if self.embedding_dim is None:
            self.embedding_dim = len(emb)
            self.embedding_origin = f"row {item.row}"
        elif len(emb) != self.embedding_dim:
            self.fail(index, item, "data.embedding",
                      f"has {len(emb)} values, but the embeddings of {self.embedding_origin} have {self.embedding_dim}; "
                      "all embeddings of a project have one length")

    # ---- annotations
    def owner_of(self, index: int, item: RawItem, value: Any, fld: str) -> Owner | None:
        if value is None:
            return Owner("labels")
        if isinstance(value, dict):
            value = value.get("email") or value.get("id")
        if isinstance(value, bool):
            value = None
        if isinstance(value, str) and _DIGITS.match(value.strip()):
            value = int(value.strip())
        if isinstance(value, int):
            if value in self.user_map:  # the import's map: another instance's id -> an email
                return Owner("email", self.user_map[value], given=value, how="mapped")
            return Owner("id", value, given=value)
        if isinstance(value, str):
            text = value.strip()
            try:
                return Owner("email", normalize_email(text), given=text)
            except UserError as exc:
                self.fail(index, item, fld, f"{exc}; completed_by must be a user id or an email")
                return None
        self.fail(index, item, fld, f"completed_by must be a user id or an email, got {value!r}")
        return None

    def annotation(self, index: int, item: RawItem, data: dict, ann: dict, i: int,
                   image_size: tuple[int, int] | None, extra: Extra) -> None:
        where = f"annotations[{i}]"
        cancelled = ann.get("was_cancelled", False)
        if type(cancelled) is not bool:
            self.fail(index, item, f"{where}.was_cancelled", f"must be true or false, got {cancelled!r}")
            return
        result = ann.get("result", [])
        if result is None:
            result = []
        if not cancelled:
            if type(result) is not list or not result:
                self.fail(index, item, f"{where}.result", "must be a non-empty list of result items "
                          "(a skipped annotation has was_cancelled: true)")
                return
            problems = validate_result(self.schema, result, data, image_size=image_size)
            if problems:
                for problem in problems:
                    self.fail(index, item, f"{where}.result", problem)
                return
        elif type(result) is not list:
            self.fail(index, item, f"{where}.result", "must be a list")
            return
        lead_time = ann.get("lead_time")
        if lead_time is not None and (type(lead_time) not in _NUMBER or not math.isfinite(lead_time) or lead_time < 0):
            self.fail(index, item, f"{where}.lead_time", f"must be a number of seconds >= 0, got {lead_time!r}")
            return
        owner = self.owner_of(index, item, ann.get("completed_by"), f"{where}.completed_by")
        if owner is None:
            return
        extra.annotations.append((owner, {"result": result, "was_cancelled": cancelled,
                                          "lead_time": float(lead_time) if lead_time is not None else None},
                                  f"{where}.completed_by"))

    # ---- gold
    def gold(self, index: int, item: RawItem, data: dict, image_size: tuple[int, int] | None,
             extra: Extra) -> bool:
        """Check a row's ``is_gold`` / ``gold_answer`` and record the answer on ``extra``.

        Returns True when the row's one annotation is (meant as) its gold answer: it is then not
        checked or imported as an annotation.
        """
        flag = item.is_gold
        if flag is None:
            flag = False
        if type(flag) is not bool:
            self.fail(index, item, "is_gold", f"must be true or false, got {flag!r}")
            return False
        answer = item.gold_answer
        if not flag:
            if answer is not None:
                self.fail(index, item, "gold_answer", 'is given, but the task is not marked gold; add "is_gold": true '
                          "(or leave gold_answer out)")
            return False
        from_annotation = answer is None
        if from_annotation:
            if len(item.annotations) != 1:
                self.fail(index, item, "gold_answer", "a gold task needs its answer: give gold_answer (a list of "
                          f"result items), or exactly one annotation to take it from (the task has "
                          f"{len(item.annotations)})")
                return False
            ann = item.annotations[0]
            if ann.get("was_cancelled", False) is not False:
                self.fail(index, item, "annotations[0].was_cancelled",
                          "a skipped annotation cannot be a gold answer; give gold_answer")
                return True
            answer, fld = ann.get("result"), "annotations[0].result"
        else:
            fld = "gold_answer"
        if type(answer) is not list or not answer:
            self.fail(index, item, fld, f"a gold answer must be a non-empty list of result items, got {answer!r}"[:300])
            return from_annotation
        problems = validate_result(self.schema, answer, data, image_size=image_size)
        if problems:
            for problem in problems:
                self.fail(index, item, fld, problem)
            return from_annotation
        extra.gold_answer = answer
        return from_annotation

    # ---- predictions
    def check_probs(self, probs: Any) -> str | None:
        if not self.primary_labels:
            return (f"probs need a control with labels; the primary control {self.primary.name!r} "
                    f"(<{self.primary.tag}>) has none")
        if type(probs) is not dict or not probs:
            return 'must be an object {"label": probability, ...}'
        unknown = [k for k in probs if k not in self.primary_labels]
        if unknown:
            return f"unknown label(s) {unknown[:5]} for control {self.primary.name!r}; labels are {self.primary.labels}"
        total = 0.0
        for label, p in probs.items():
            if type(p) not in _NUMBER or not math.isfinite(p):
                return f"probability of {label!r} is {p!r}; it must be a finite number"
            if p < 0 or p > 1:
                return f"probability of {label!r} is {p}; it must be between 0 and 1"
            total += p
        if abs(total - 1.0) > PROBS_TOLERANCE:
            return f"probabilities sum to {total:.6g}; they must sum to 1"
        return None

    def prediction(self, index: int, item: RawItem, data: dict, pred: dict, i: int,
                   image_size: tuple[int, int] | None, extra: Extra) -> None:
        where = f"predictions[{i}]"
        probs = pred.get("probs")
        if probs is not None:
            problem = self.check_probs(probs)
            if problem:
                self.fail(index, item, f"{where}.probs", problem)
                return
        result = pred.get("result")
        if result is None or result == []:
            if probs is None:
                self.fail(index, item, f"{where}.result", "a prediction needs a result (or probs)")
                return
            if not self.is_choices:
                self.fail(index, item, f"{where}.result",
                          f"a prediction for <{self.primary.tag}> needs a result; probs alone fit <Choices> only")
                return
            if self.primary.choice == "multiple":
                result = result_from_labels(self.schema, [k for k, v in probs.items() if v >= 0.5])
            else:
                result = result_from_labels(self.schema, max(probs, key=probs.get))
        else:
            problems = validate_result(self.schema, result, data, image_size=image_size)
            if problems:
                for problem in problems:
                    self.fail(index, item, f"{where}.result", problem)
                return
        score = pred.get("score")
        if score is None and probs:
            score = max(probs.values())
        if score is not None and (type(score) not in _NUMBER or not math.isfinite(score)):
            self.fail(index, item, f"{where}.score", f"must be a finite number, got {score!r}")
            return
        version = pred.get("model_version", "")
        if version is None:
            version = ""
        if not isinstance(version, str | int | float) or isinstance(version, bool):
            self.fail(index, item, f"{where}.model_version", "must be a string")
            return
        extra.predictions.append({"result": result, "score": float(score) if score is not None else None,
                                  "probs": {k: float(v) for k, v in probs.items()} if probs else None,
                                  "model_version": str(version)[:255]})


def _existing_embedding_dim(s: Session, project_id: int) -> int | None:
    """Length of the embeddings already in the project (the first task that has one)."""
    if s.get_bind().dialect.name == "postgresql":
        expr = sa.text("SELECT json_array_length(data -> 'embedding') FROM task WHERE project_id = :p "
                       "AND json_typeof(data -> 'embedding') = 'array' LIMIT 1")
    else:
        expr = sa.text("SELECT json_array_length(data, '$.embedding') FROM task WHERE project_id = :p "
                       "AND json_type(data, '$.embedding') = 'array' LIMIT 1")
    return s.execute(expr, {"p": project_id}).scalar()


#: How an import attributes a ``completed_by`` (the attribution lines of the import report).
ATTRIBUTED = {
    "id": "existing user by id",
    "email": "existing user by email",
    "placeholder": "new inactive placeholder (no password, cannot log in)",
    "labels": "the import's labels user (no completed_by)",
    "admin": "an admin here: never attributed to that account; the import's labels user instead",
}


def check_owners(check: Checker, extras: list[Extra]) -> list[dict]:
    """completed_by ids must exist; one annotator annotates a task at most once; an import
    never attributes annotations to an admin (they go to the import's labels user).

    Returns
    -------
    list of dict
        The attribution of every distinct ``completed_by``: ``{"completed_by", "user",
        "how", "annotations"}``, ``how`` one of :data:`ATTRIBUTED`'s keys (``"mapped"`` is
        added for an id the import's user map turned into an email).
    """
    ids = {o.value for e in extras for o, _, _ in e.annotations if o.kind == "id"}
    emails = {o.value for e in extras for o, _, _ in e.annotations if o.kind == "email"}
    id_user: dict[int, tuple[str, str]] = {}
    email_user: dict[str, tuple[int, str]] = {}
    if ids or emails:
        with read_session() as s:
            for chunk in chunks(sorted(ids), 500):
                id_user.update((i, (e, r)) for i, e, r in
                               s.execute(select(User.id, User.email, User.role).where(User.id.in_(chunk))))
            for chunk in chunks(sorted(emails), 500):
                email_user.update((e, (i, r)) for e, i, r in
                                  s.execute(select(User.email, User.id, User.role).where(User.email.in_(chunk))))
    lines: dict[tuple, dict] = {}

    def attribute(owner: Owner, user: str | None, how: str) -> None:
        key = (repr(owner.given), how)
        line = lines.get(key)
        if line is None:
            line = lines[key] = {"completed_by": owner.given, "user": user, "how": how, "annotations": 0}
            if owner.how == "mapped":
                line["mapped"] = True
        line["annotations"] += 1

    for e in extras:
        seen: set = set()
        for owner, _, fld in e.annotations:
            if owner.kind == "id" and owner.value not in id_user:
                check.bad.add(e.index)
                check.errors.add(e.row, e.file, fld, f"no user with id {owner.value} (give completed_by as an "
                                 "email, or map the other instance's ids to emails, to import the labels of "
                                 "someone without an account here)")
                continue
            found = (id_user[owner.value][1] if owner.kind == "id"
                     else email_user[owner.value][1] if owner.kind == "email" and owner.value in email_user else None)
            if found == Role.admin:
                shown = owner.value if owner.kind == "email" else id_user[owner.value][0]
                owner.kind, owner.value, owner.how = "labels", None, "admin"
                attribute(owner, shown, "admin")
            elif owner.kind == "id":
                attribute(owner, id_user[owner.value][0], "id")
            elif owner.kind == "email":
                attribute(owner, owner.value, "email" if owner.value in email_user else "placeholder")
            elif owner.how != "admin":
                attribute(owner, None, "labels")
            if owner.kind == "email" and owner.value in email_user:
                key: tuple = ("id", email_user[owner.value][0])
            else:
                key = (owner.kind, owner.value)
            if key in seen:
                who = "the import's unattributed labels" if owner.kind == "labels" else f"user {owner.value}"
                check.bad.add(e.index)
                check.errors.add(e.row, e.file, fld, f"{who}: more than one annotation of this task; "
                                 "a task has at most one annotation per annotator")
            seen.add(key)
    return list(lines.values())


#: The most entries an import's user map may have.
MAX_USER_MAP = 10_000


def check_user_map(user_map: Any) -> dict[int, str] | None:
    """An import's user map (another instance's user id -> email), checked: ids are whole
    numbers, emails are emails; Invalid names each bad entry."""
    if not user_map:
        return None
    if not isinstance(user_map, dict) or len(user_map) > MAX_USER_MAP:
        raise Invalid(f"the user map must be an object of at most {MAX_USER_MAP} ids -> emails",
                      [{"row": None, "file": None, "field": "user_map", "detail": "not an object of ids -> emails"}])
    clean, errors = {}, []
    for key, email in user_map.items():
        text = str(key).strip()
        if isinstance(key, bool) or not text.isdigit():
            errors.append({"row": None, "file": None, "field": "user_map", "detail": f"{key!r} is not a user id"})
            continue
        try:
            clean[int(text)] = normalize_email(email if isinstance(email, str) else "")
        except UserError as exc:
            errors.append({"row": None, "file": None, "field": "user_map", "detail": f"{key}: {exc}"})
    if errors:
        raise Invalid("the user map is refused: " + "; ".join(e["detail"] for e in errors), errors)
    return clean


def parse_user_map(text: str | None) -> dict[int, str] | None:
    """``"7=ann@example.com,8=bob@example.com"`` (the API's query and the CLI's option) as a
    user map, checked by :func:`check_user_map`."""
    if not text or not text.strip():
        return None
    pairs = {}
    for part in text.split(",")[:MAX_USER_MAP + 1]:
        if not part.strip():
            continue
        key, sep, email = part.partition("=")
        if not sep:
            raise Invalid(f"user map entry {part.strip()[:100]!r}: write id=email",
                          [{"row": None, "file": None, "field": "user_map", "detail": "write id=email"}])
        pairs[key.strip()] = email.strip()
    return check_user_map(pairs)
