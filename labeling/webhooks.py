"""Webhooks: URLs called when something happens in a project (ARCHITECTURE.md, Webhooks).

Label Studio's webhooks, with its keys, event names and payloads, plus labelfab's own events
(``QC_RUN_FINISHED``, ``REVIEW_DECIDED``, ``DATASET_PUBLISHED``):

- a webhook belongs to a project, or (``project`` null, Label Studio's organisation scope) to
  every project its creator may manage; a project's leads and admins manage it;
- :func:`emit` is called by the one domain function that does an act, inside its transaction:
  it writes one :class:`~labeling.models.WebhookDelivery` row per webhook that wants the event
  (the exact JSON body) and one ``webhook`` job through the outbox, so nothing is sent unless the
  act commits, and no request waits for a receiver;
- :func:`run_delivery` (the ``webhook`` job) posts the body through
  :func:`labeling.outbound.request` with the webhook's headers (stored sealed) and an HMAC-SHA256
  signature of the body with the webhook's secret; a non-2xx answer or a failed call queues the
  next attempt after ``LABELFAB_WEBHOOK_RETRY_SECONDS`` x 2^(attempt - 1), up to
  ``LABELFAB_WEBHOOK_MAX_ATTEMPTS``; every attempt is written to the delivery row.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session, select

from labeling import outbound, secretbox, wire
from labeling.access import can_create_projects, require_project, role_from
from labeling.db import read_session, utcnow, write_session
from labeling.errors import DomainError, Forbidden, Invalid, NotFound
from labeling.limits import MAX_ID
from labeling.models import Membership, Project, Role, User, Webhook, WebhookDelivery

__all__ = ["ACTIONS", "SIGNATURE_HEADER", "TIMESTAMP_HEADER", "create_webhook", "delete_webhook", "deliveries",
           "emit", "get_webhook", "info", "list_webhooks", "run_delivery", "sign", "update_webhook",
           "webhook_view"]

SIGNATURE_HEADER = "X-Labelfab-Signature"
TIMESTAMP_HEADER = "X-Labelfab-Timestamp"
EVENT_HEADER = "X-Labelfab-Event"
DELIVERY_HEADER = "X-Labelfab-Delivery"

MAX_HEADERS = 10  # Label Studio's HEADERS_SCHEMA
MAX_HEADER_VALUE = 4096
HEADER_NAME = re.compile(r"^[a-zA-Z0-9-_]+$")
#: Headers labelfab sets itself; a webhook's own headers may not replace them.
RESERVED_HEADERS = {"host", "content-type", "content-length", "transfer-encoding", "connection",
                    "user-agent"}
MASK = "********"
#: At most this many tasks (or annotations) in one TASKS_CREATED / ANNOTATIONS_CREATED event: a
#: larger import sends several events.
MAX_ITEMS_PER_EVENT = 1000
MAX_DELIVERIES_SHOWN = 200


def _action(name: str, key: str, description: str, *, org_only: bool = False) -> dict[str, Any]:
    return {"name": name, "description": description, "key": key, "organization-only": org_only}


#: Every event: Label Studio's (label links listed, never sent: labelfab has none), then labelfab's.
#: ``key`` names the payload's main key, as Label Studio's ``WebhookAction.ACTIONS`` does.
ACTIONS: dict[str, dict[str, Any]] = {
    "PROJECT_CREATED": _action("Project created", "project", "a project was created", org_only=True),
    "PROJECT_UPDATED": _action("Project updated", "project", "a project's title, settings or config changed"),
    "PROJECT_DELETED": _action("Project deleted", "project", "a project was deleted (its id)", org_only=True),
    "TASKS_CREATED": _action("Task created", "tasks", "tasks were imported or created"),
    "TASKS_DELETED": _action("Task deleted", "tasks", "tasks were deleted (their ids)"),
    "ANNOTATION_CREATED": _action("Annotation created", "annotation", "an annotation (or a skip) was submitted"),
    "ANNOTATIONS_CREATED": _action("Annotations created", "annotation", "annotations were imported with tasks"),
    "ANNOTATION_UPDATED": _action("Annotation updated", "annotation", "an annotation was changed"),
    "ANNOTATIONS_DELETED": _action("Annotation deleted", "annotations", "annotations were deleted (their ids)"),
    # Label Studio's label links (its labels manager): labelfab has none, so these are never sent
    "LABEL_LINK_CREATED": _action("Label link created", "label_link", "never sent: labelfab has no label links"),
    "LABEL_LINK_UPDATED": _action("Label link updated", "label_link", "never sent: labelfab has no label links"),
    "LABEL_LINK_DELETED": _action("Label link deleted", "label_link", "never sent: labelfab has no label links"),
    "QC_RUN_FINISHED": _action("QC run finished", "qc_run",
                               "labelfab: a QC run ended (its id, status and counts)"),
    "REVIEW_DECIDED": _action("Review decided", "review",
                              "labelfab: a reviewer kept, relabelled or excluded a suspect task (the decision, "
                              "the reviewer and the final label)"),
    "DATASET_PUBLISHED": _action("Dataset published", "dataset_version",
                                 "labelfab: a dataset version was published (its number, sha256 and download URL)"),
}

#: Label Studio's webhook keys that a PATCH may carry and that do not change (read-only there).
READ_ONLY = {"id", "organization", "project", "created_at", "updated_at", "created_by", "secret"}
FIELDS = {"url", "send_payload", "send_for_all_actions", "headers", "is_active", "actions"}


def info(organization_only: bool | None = None) -> dict[str, dict[str, Any]]:
    """The events (``GET /api/webhooks/info``), those of one scope with ``organization_only``."""
    return {k: dict(v) for k, v in ACTIONS.items()
            if organization_only is None or v["organization-only"] == organization_only}


# --------------------------------------------------------------------------- checks


def _bool(body: dict, name: str) -> bool:
    value = body[name]
    if not isinstance(value, bool):
        raise Invalid(f"{name} must be true or false", [{"field": name, "detail": "must be a boolean"}])
    return value


def _headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid("headers must be an object of header names and values",
                      [{"field": "headers", "detail": "must be an object"}])
    if len(value) > MAX_HEADERS:
        raise Invalid(f"at most {MAX_HEADERS} headers", [{"field": "headers", "detail": "too many"}])
    for name, text in value.items():
        if not HEADER_NAME.match(name) or len(name) > 128:
            raise Invalid(f"header name {name[:40]!r} may hold letters, digits, - and _ only",
                          [{"field": "headers", "detail": f"bad name {name[:40]!r}"}])
        if name.lower() in RESERVED_HEADERS or name.lower().startswith("x-labelfab-"):
            raise Invalid(f"header {name!r} is set by labelfab itself",
                          [{"field": "headers", "detail": f"{name}: reserved"}])
        if not isinstance(text, str) or len(text) > MAX_HEADER_VALUE or any(c in text for c in "\r\n\0"):
            raise Invalid(f"header {name!r} must be text of at most {MAX_HEADER_VALUE} characters on one line",
                          [{"field": "headers", "detail": f"{name}: bad value"}])
    return dict(value)


def _actions(value: Any, project_id: int | None) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > len(ACTIONS) * 2:
        raise Invalid("actions must be a list of event names", [{"field": "actions", "detail": "must be a list"}])
    unknown = [a for a in value if not isinstance(a, str) or a not in ACTIONS]
    if unknown:
        raise Invalid(f"unknown action(s): {', '.join(map(str, unknown))[:200]}; the actions are "
                      + ", ".join(ACTIONS), [{"field": "actions", "detail": f"unknown: {a}"} for a in unknown[:20]])
    chosen = list(dict.fromkeys(value))
    if project_id is not None and any(ACTIONS[a]["organization-only"] for a in chosen):
        raise Invalid("Project webhook can't contain organization-only action.",
                      [{"field": "actions", "detail": f"{a}: organization-only"}
                       for a in chosen if ACTIONS[a]["organization-only"]])
    return chosen


def _url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("a webhook needs a url", [{"field": "url", "detail": "required"}])
    try:
        outbound.check_url(value)
    except Invalid as exc:
        raise Invalid(exc.detail, [{"field": "url", "detail": exc.detail}]) from None
    return value.strip()


def _may_manage(s: Session, user: User, hook: Webhook) -> bool:
    if hook.project_id is not None:
        try:
            require_project(s, user, hook.project_id, "manage")
        except DomainError:
            return False
        return True
    return user.is_active and (user.role == Role.admin or (hook.created_by == user.id and can_create_projects(user)))


def _hook_for(s: Session, user: User, webhook_id: int) -> Webhook:
    """The webhook if ``user`` may manage it. A project webhook answers as its project does (404
    to those who cannot see the project, 403 to those who see but may not manage it); an
    organisation webhook of someone else is not found."""
    hook = s.get(Webhook, webhook_id) if 0 < webhook_id <= MAX_ID else None
    if hook is None:
        raise NotFound(f"webhook {webhook_id} not found")
    if hook.project_id is not None:
        require_project(s, user, hook.project_id, "manage")
        return hook
    if not _may_manage(s, user, hook):
        raise NotFound(f"webhook {webhook_id} not found")
    return hook


# --------------------------------------------------------------------------- managing webhooks


def webhook_view(hook: Webhook, *, secret: str | None = None) -> dict[str, Any]:
    """A webhook as Label Studio shows it; header values masked, the secret only when just made."""
    out = {
        "id": hook.id, "organization": wire.ORGANIZATION_ID, "project": hook.project_id, "url": hook.url,
        "send_payload": hook.send_payload, "send_for_all_actions": hook.send_for_all_actions,
        "headers": {name: MASK for name in hook.header_names or []}, "is_active": hook.is_active,
        "actions": list(hook.actions or []), "created_at": hook.created_at.isoformat(),
        "updated_at": hook.updated_at.isoformat(), "created_by": hook.created_by,
    }
    if secret is not None:
        out["secret"] = secret
    return out


def create_webhook(user: User, body: dict[str, Any]) -> tuple[Webhook, str]:
    """Create a webhook from Label Studio's body (``url``, ``project``, ``send_payload``,
    ``send_for_all_actions``, ``headers``, ``is_active``, ``actions``).

    Returns
    -------
    (Webhook, str)
        The webhook and its signing secret, which is shown this once.

    Raises
    ------
    Invalid
        A bad field, or a URL to a private address (``labeling.outbound.check_url``).
    NotFound, Forbidden
        The project is not the caller's to manage; an organisation webhook needs a lead or admin.
    """
    unknown = sorted(set(body) - FIELDS - READ_ONLY)
    if unknown:
        raise Invalid(f"unknown webhook field(s): {', '.join(unknown)}",
                      [{"field": k, "detail": "unknown field"} for k in unknown])
    project_id = body.get("project")
    if project_id is not None and (isinstance(project_id, bool) or not isinstance(project_id, int)
                                   or not 0 < project_id <= MAX_ID):
        raise Invalid("project must be a project id or null", [{"field": "project", "detail": "an id"}])
    url = _url(body.get("url"))
    headers = _headers(body.get("headers"))
    actions = _actions(body.get("actions"), project_id)
    flags = {name: _bool(body, name) for name in ("send_payload", "send_for_all_actions", "is_active")
             if body.get(name) is not None}
    secret = "whsec_" + secrets.token_urlsafe(32)
    with write_session() as s:
        if project_id is not None:
            require_project(s, user, project_id, "manage")
        elif not can_create_projects(user):
            raise Forbidden("only leads and admins may make webhooks for all their projects; give a project")
        hook = Webhook(project_id=project_id, created_by=user.id, url=url, actions=actions,
                       headers_sealed=secretbox.seal(json.dumps(headers)), header_names=list(headers),
                       secret_sealed=secretbox.seal(secret), **flags)
        s.add(hook)
        s.flush()
        return hook, secret


def list_webhooks(user: User, *, project: int | None = None, org_only: bool = False) -> list[Webhook]:
    """Webhooks the caller manages: of one project (``project``), organisation-wide only
    (``org_only``, Label Studio's ``?project=isnull``), or all of them.

    Raises
    ------
    Forbidden
        Annotators and reviewers, who manage none.
    """
    with read_session() as s:
        if project is not None:
            require_project(s, user, project, "manage")
            return list(s.exec(select(Webhook).where(Webhook.project_id == project).order_by(Webhook.id)))
        if not can_create_projects(user) and not s.exec(
                select(Membership.id).where(Membership.user_id == user.id, Membership.role == Role.lead)).first():
            raise Forbidden("only leads and admins manage webhooks")
        q = select(Webhook).order_by(Webhook.id)
        if org_only:
            q = q.where(Webhook.project_id.is_(None))
        return [h for h in s.exec(q) if _may_manage(s, user, h)]


def get_webhook(user: User, webhook_id: int) -> Webhook:
    with read_session() as s:
        return _hook_for(s, user, webhook_id)


def update_webhook(user: User, webhook_id: int, body: dict[str, Any]) -> Webhook:
    """Change the fields given (Label Studio's PATCH); ``project`` cannot change (it is read-only
    there too). ``headers`` replaces every header; ``actions`` replaces the list."""
    unknown = sorted(set(body) - FIELDS - READ_ONLY)
    if unknown:
        raise Invalid(f"unknown webhook field(s): {', '.join(unknown)}",
                      [{"field": k, "detail": "unknown field"} for k in unknown])
    with write_session() as s:
        hook = _hook_for(s, user, webhook_id)
        if body.get("url") is not None:
            hook.url = _url(body["url"])
        if "headers" in body:
            headers = _headers(body["headers"])
            hook.headers_sealed, hook.header_names = secretbox.seal(json.dumps(headers)), list(headers)
        if body.get("actions") is not None:
            hook.actions = _actions(body["actions"], hook.project_id)
        for name in ("send_payload", "send_for_all_actions", "is_active"):
            if body.get(name) is not None:
                setattr(hook, name, _bool(body, name))
        hook.updated_at = utcnow()
        s.add(hook)
        s.flush()
        return hook


def delete_webhook(user: User, webhook_id: int) -> None:
    """Delete a webhook and its delivery log; its queued deliveries are dropped."""
    with write_session() as s:
        hook = _hook_for(s, user, webhook_id)
        s.execute(sa.delete(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id))
        s.execute(sa.delete(Webhook).where(Webhook.id == hook.id))


def delivery_view(d: WebhookDelivery) -> dict[str, Any]:
    iso = (lambda t: t.isoformat() if t is not None else None)  # noqa: E731
    return {"id": d.id, "webhook": d.webhook_id, "action": d.action, "status": d.status, "attempts": d.attempts,
            "response_status": d.response_status, "error": d.error, "created_at": iso(d.created_at),
            "last_attempt_at": iso(d.last_attempt_at), "next_attempt_at": iso(d.next_attempt_at)}


def deliveries(user: User, webhook_id: int, *, limit: int = 50) -> tuple[Webhook, list[WebhookDelivery]]:
    """The webhook and its latest deliveries, newest first (at most ``MAX_DELIVERIES_SHOWN``)."""
    limit = max(1, min(int(limit), MAX_DELIVERIES_SHOWN))
    with read_session() as s:
        hook = _hook_for(s, user, webhook_id)
        rows = list(s.exec(select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id)
                           .order_by(WebhookDelivery.id.desc()).limit(limit)))
        return hook, rows


def project_deliveries(user: User, project_id: int, *, limit: int = 50) -> tuple[Project, list[tuple[Webhook, list]]]:
    """The settings page's webhook panel: the project's webhooks and organisation webhooks that
    reach it, with the latest deliveries of each (leads of the project, admins)."""
    with read_session() as s:
        project = require_project(s, user, project_id, "manage")
        hooks = [h for h in s.exec(select(Webhook).where(
            sa.or_(Webhook.project_id == project_id, Webhook.project_id.is_(None))).order_by(Webhook.id))
            if h.project_id == project_id or _may_manage(s, user, h)]
        out = []
        for hook in hooks:
            rows = list(s.exec(select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id)
                               .order_by(WebhookDelivery.id.desc()).limit(limit)))
            out.append((hook, rows))
        return project, out


# --------------------------------------------------------------------------- emitting events


_W = Webhook.__table__


def _reaches(conn: Connection, creator_ids: set[int], project_id: int) -> set[int]:
    """Which creators of organisation webhooks may manage ``project_id`` (``labeling.access``'s
    rule, read in three small queries)."""
    if not creator_ids:
        return set()
    project = conn.execute(sa.select(Project.__table__.c.created_by, Project.__table__.c.restricted)
                           .where(Project.__table__.c.id == project_id)).first()
    if project is None:
        return set()
    members = dict(conn.execute(sa.select(Membership.__table__.c.user_id, Membership.__table__.c.role).where(
        Membership.__table__.c.project_id == project_id, Membership.__table__.c.user_id.in_(creator_ids))).all())
    out = set()
    for row in conn.execute(sa.select(User.__table__).where(User.__table__.c.id.in_(creator_ids))).mappings():
        role = role_from(User(**row), member_role=members.get(row["id"]), created_by=project.created_by,
                         restricted=project.restricted)
        if role in (Role.admin, Role.lead):
            out.add(row["id"])
    return out


_COLUMNS = (_W.c.id, _W.c.project_id, _W.c.created_by, _W.c.send_payload, _W.c.send_for_all_actions, _W.c.actions)
# built once: emit runs in every act, the annotation hot path included
_ORG_HOOKS = sa.select(*_COLUMNS).where(_W.c.is_active.is_(True), _W.c.project_id.is_(None))
_HOOKS = sa.select(*_COLUMNS).where(_W.c.is_active.is_(True), sa.or_(
    _W.c.project_id == sa.bindparam("pid"), _W.c.project_id.is_(None)))


def targets(conn: Connection, action: str, project_id: int | None) -> list[Any]:
    """The active webhooks that want ``action`` in ``project_id``: the project's own, and the
    organisation webhooks whose creators may manage it."""
    if action not in ACTIONS:
        raise ValueError(f"unknown webhook action {action!r}")
    if project_id is None or ACTIONS[action]["organization-only"]:
        found = conn.execute(_ORG_HOOKS)
    else:
        found = conn.execute(_HOOKS, {"pid": project_id})
    rows = [r for r in found if r.send_for_all_actions or action in (r.actions or [])]
    org = {r.created_by for r in rows if r.project_id is None}
    if org and project_id is not None:
        reach = _reaches(conn, org, project_id)
        rows = [r for r in rows if r.project_id is not None or r.created_by in reach]
    return rows


def project_payload(conn: Connection, project_id: int) -> dict[str, Any] | None:
    """The project as Label Studio's webhooks send it (the API's project shape, with counts)."""
    from labeling.projects import project_counts, project_view  # projects emits through this module

    with Session(bind=conn) as s:
        project = s.get(Project, project_id)
        if project is None:
            return None
        # inside the act's write transaction: no fold (on SQLite its own transaction would wait for this one)
        counts = project_counts(s, [project_id], fold=False).get(project_id)
        return {**project_view(project, counts), **project_model_keys(project)}


def project_model_keys(project: Project) -> dict[str, Any]:
    """What Label Studio's ``ProjectWebhookSerializer`` (every field of its project model) sends
    beyond its API's project: ``updated_at``, ``data_types`` and ``label_config_hash`` as its
    ``Project.save`` derives them from the config (the hash a stable 64-bit number of the config
    text, where Label Studio's Python ``hash`` changes with each process: both change exactly when
    the config does), ``custom_task_lock_ttl`` (labelfab's lease); its never-counted
    ``result_count``, its project ``token`` and its soft-delete fields, which labelfab has not:
    null."""
    return {"updated_at": project.updated_at.isoformat() if project.updated_at else None,
            "data_types": data_types(project.label_config),
            "label_config_hash": config_hash(project.label_config),
            "custom_task_lock_ttl": project.lease_seconds,
            "token": None, "result_count": None, "deleted_at": None, "deleted_by": None, "purge_at": None}


@functools.lru_cache(maxsize=256)
def _data_types(label_config: str) -> str:
    from lxml import etree

    root = etree.fromstring(label_config.encode("utf-8"),
                            etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    out: dict[str, str] = {}
    for tag in root.iterfind(".//*[@value]"):
        if not tag.get("name"):
            continue
        value = tag.get("value")
        if len(value) > 1 and value[0] == "$":
            field = value[1:]
        else:  # a value with the field inside ("$url/page"): its first $name
            found = re.findall(r"\$\w+", value)
            field = found[0][1:] if found else ""
            if not field:
                continue
        if out.get(field) != "Video":  # a video outranks the audio of the same field
            out[field] = tag.tag
    return json.dumps(out)


def data_types(label_config: str) -> dict[str, str]:
    """Label Studio's ``extract_data_types``: each task data field an object tag reads (its
    ``value``, ``$field``), mapped to the tag's name (``{"text": "Text"}``)."""
    return json.loads(_data_types(label_config))


def config_hash(label_config: str) -> int:
    """A signed 64-bit number of the config text (the first 8 bytes of its SHA-256): Label
    Studio's ``label_config_hash`` column holds such a number."""
    return int.from_bytes(hashlib.sha256(label_config.encode("utf-8")).digest()[:8], "big", signed=True)


def any_active(project_id: Any) -> Any:
    """A SQL test: is there an active webhook of project ``project_id`` (a column or value) or of
    the organisation? A hot act reads it in a query it runs anyway and passes it to :func:`emit`
    as ``any_hooks``, which then asks nothing more when it is false (nearly always)."""
    return sa.exists().where(_W.c.is_active.is_(True), sa.or_(_W.c.project_id == project_id,
                                                              _W.c.project_id.is_(None)))


def emit(conn: Connection | Session, action: str, project_id: int | None,
         build: Callable[[], dict[str, Any]], *, with_project: bool = True, any_hooks: bool = True) -> int:
    """Queue ``action`` for every webhook that wants it, inside the caller's transaction.

    Parameters
    ----------
    conn : Connection or Session
        The transaction of the act: the deliveries and their jobs commit (and are sent) with it,
        or vanish with its rollback.
    action : str
        A key of :data:`ACTIONS`.
    project_id : int or None
        The project the act happened in (None for none).
    build : callable
        Returns the payload's keys (``{"annotation": {...}, "task": {...}}``); called only if a
        webhook wants the payload, after the act's writes.
    with_project : bool
        Add ``"project"`` (the project's shape), as Label Studio does for project events.
    any_hooks : bool
        False: the caller read :func:`any_active` false for the project inside this transaction,
        so no webhook can want the act and nothing is asked.

    Returns
    -------
    int
        How many deliveries were queued.
    """
    from labeling.jobs import outbox  # the outbox imports the models; keep this module light

    if not any_hooks:
        return 0
    if isinstance(conn, Session):
        conn = conn.connection()
    hooks = targets(conn, action, project_id)
    if not hooks:
        return 0
    bare = _dumps({"action": action})
    full = None
    if any(h.send_payload for h in hooks):
        payload: dict[str, Any] = {"action": action, **build()}
        if with_project and project_id is not None:
            payload["project"] = project_payload(conn, project_id)
        full = _dumps(payload)
    now = utcnow()
    table = WebhookDelivery.__table__
    for hook in hooks:
        delivery_id = conn.execute(sa.insert(table).values(
            webhook_id=hook.id, action=action, body=full if hook.send_payload else bare, status="pending",
            attempts=0, error="", created_at=now).returning(table.c.id)).scalar_one()
        outbox.enqueue("webhook", payload={"delivery": delivery_id}, session=conn)
    return len(hooks)


def emit_many(conn: Connection | Session, action: str, project_id: int, ids: list[int],
              build: Callable[[list[int]], dict[str, Any]]) -> int:
    """:func:`emit` for many items, in events of at most :data:`MAX_ITEMS_PER_EVENT`; whether
    any webhook wants the action is asked once (not once per event: an import of 50,000 tasks
    asked 50 times)."""
    if not ids or not targets(conn.connection() if isinstance(conn, Session) else conn, action, project_id):
        return 0
    sent = 0
    for start in range(0, len(ids), MAX_ITEMS_PER_EVENT):
        chunk = ids[start:start + MAX_ITEMS_PER_EVENT]
        sent += emit(conn, action, project_id, lambda chunk=chunk: build(chunk))
    return sent


def only_ids(ids: Iterable[int]) -> list[dict[str, int]]:
    """Label Studio's ``OnlyIDWebhookSerializer`` for deleted things."""
    return [{"id": int(i)} for i in ids]


def _hook_tasks(conn: Connection, rows: list[Any]) -> list[dict[str, Any]]:
    """Tasks as Label Studio's ``TaskWebhookSerializer`` sends them (every field of its task
    model): the task shape without annotations, with the comment keys and
    ``precomputed_agreement`` (null: labelfab keeps agreement in QC runs)."""
    from labeling import comments

    counts = comments.counts(conn, [r["id"] for r in rows])
    return [{**wire.task_json(r, annotations=None, predictions=None,
                              comments=counts.get(r["id"]) or comments.empty_counts()),
             "precomputed_agreement": None} for r in rows]


def _hook_annotation(row: Any, names: Any) -> dict[str, Any]:
    """An annotation as Label Studio's ``AnnotationWebhookSerializer`` sends it (every field of
    its model): the API's shape with ``prediction`` ({}, its default) and ``result_count`` (the
    distinct result ids, as its ``Annotation.save`` counts them)."""
    out = wire.annotation_json(row, names=names)
    items = out["result"] if isinstance(out["result"], list) else []
    out.update({"prediction": {}, "result_count": len({r.get("id") for r in items if isinstance(r, dict)})})
    return out


def tasks_payload(conn: Connection | Session, task_ids: list[int]) -> list[dict[str, Any]]:
    """Tasks as Label Studio's task webhook serializer sends them (the task shape, no annotations)."""
    from labeling.models import Task

    if isinstance(conn, Session):
        conn = conn.connection()
    t = Task.__table__
    return _hook_tasks(conn, list(conn.execute(sa.select(t).where(t.c.id.in_(task_ids)).order_by(t.c.id)).mappings()))


def annotations_payload(conn: Connection | Session, *, annotation_ids: list[int] | None = None,
                        task_ids: list[int] | None = None) -> list[dict[str, Any]]:
    from labeling.models import Annotation
    from labeling.users import usernames

    if isinstance(conn, Session):
        conn = conn.connection()
    a = Annotation.__table__
    where = a.c.id.in_(annotation_ids) if annotation_ids is not None else a.c.task_id.in_(task_ids or [])
    rows = conn.execute(sa.select(a).where(where).order_by(a.c.id)).mappings().all()
    names = usernames((r["user_id"] for r in rows), conn=conn)
    return [_hook_annotation(r, names) for r in rows]


def annotation_event(conn: Connection | Session, annotation_id: int) -> dict[str, Any]:
    """``{"annotation": ..., "task": ...}`` of an annotation event, as Label Studio nests them."""
    from labeling.models import Annotation, Task
    from labeling.users import usernames

    if isinstance(conn, Session):
        conn = conn.connection()
    a, t = Annotation.__table__, Task.__table__
    ann = conn.execute(sa.select(a).where(a.c.id == annotation_id)).mappings().first()
    task = conn.execute(sa.select(t).where(t.c.id == ann["task_id"])).mappings().first() if ann else None
    names = usernames([ann["user_id"]], conn=conn) if ann else {}
    return {"annotation": _hook_annotation(ann, names) if ann else {"id": annotation_id},
            "task": _hook_tasks(conn, [task])[0] if task else None}


def download_url(project_id: int, number: int) -> str:
    """Where a pipeline downloads a dataset version (absolute with ``LABELFAB_PUBLIC_URL``)."""
    from labeling.settings import get_settings

    path = f"/api/projects/{project_id}/datasets/{number}/download"
    return get_settings().public_url.rstrip("/") + path


def _dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)


# --------------------------------------------------------------------------- delivering


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of the exact body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _finish(delivery_id: int, values: dict[str, Any], retry_in: float | None) -> None:
    from labeling.jobs import outbox

    with write_session() as s:
        s.execute(sa.update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values))
        if retry_in is not None:
            outbox.enqueue("webhook", payload={"delivery": delivery_id}, session=s,
                           delay_ms=int(retry_in * 1000))


def run_delivery(ctx) -> dict:
    """The ``webhook`` job: one attempt to post a delivery's body; a failure queues the next."""
    from labeling.settings import get_settings

    delivery_id = int(ctx.payload["delivery"])
    with read_session() as s:
        d = s.get(WebhookDelivery, delivery_id)
        hook = s.get(Webhook, d.webhook_id) if d is not None else None
    if d is None or hook is None:
        return {"delivery": delivery_id, "status": "gone"}
    if d.status in ("delivered", "failed"):
        return {"delivery": delivery_id, "status": d.status}
    settings = get_settings()
    attempt = d.attempts + 1
    now = utcnow()
    values: dict[str, Any] = {"attempts": attempt, "last_attempt_at": now, "next_attempt_at": None}
    if not hook.is_active:
        _finish(delivery_id, {**values, "attempts": d.attempts, "status": "failed",
                              "error": "the webhook was turned off"}, None)
        return {"delivery": delivery_id, "status": "failed"}
    body = d.body.encode()
    retry = True
    try:
        secret = secretbox.unseal(hook.secret_sealed)
        headers = json.loads(secretbox.unseal(hook.headers_sealed)) if hook.headers_sealed else {}
        headers.update({"Content-Type": "application/json", EVENT_HEADER: d.action, DELIVERY_HEADER: str(d.id),
                        TIMESTAMP_HEADER: str(int(time.time())), SIGNATURE_HEADER: sign(secret, body)})
        reply = outbound.request("POST", hook.url, body=body, headers=headers)
        values.update(response_status=reply.status, error="" if 200 <= reply.status < 300
                      else reply.body[:500].decode("utf-8", "replace"))
        ok = 200 <= reply.status < 300
    except outbound.OutboundError as exc:
        values.update(response_status=None, error=exc.detail[:2000])
        ok = False
    except DomainError as exc:  # the address is now refused, or the secret key changed: retrying cannot help
        values.update(response_status=None, error=exc.detail[:2000])
        ok, retry = False, False
    if ok:
        values["status"] = "delivered"
        _finish(delivery_id, values, None)
        return {"delivery": delivery_id, "status": "delivered", "attempts": attempt}
    if retry and attempt < settings.webhook_max_attempts:
        wait = settings.webhook_retry_seconds * 2 ** (attempt - 1)
        values.update(status="retrying", next_attempt_at=now + timedelta(seconds=wait))
        _finish(delivery_id, values, wait)
    else:
        values["status"] = "failed"
        _finish(delivery_id, values, None)
    return {"delivery": delivery_id, "status": values["status"], "attempts": attempt}
