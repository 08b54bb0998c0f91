"""Webhooks over REST, as Label Studio has them (:mod:`labeling.webhooks`).

``GET/POST /api/webhooks`` (``?project=ID`` or ``?project=isnull``), ``GET /api/webhooks/info``
(``?organization-only=``), ``GET/PATCH/PUT/DELETE /api/webhooks/ID`` and labelfab's ``GET
/api/webhooks/ID/deliveries`` (the delivery log). Leads of the webhook's project and admins.
"""

from __future__ import annotations

from flask import jsonify, request

from labeling import webhooks
from labeling.errors import Invalid
from labeling.limits import MAX_ID
from web.api import api_user, bp
from web.api import schemas as s
from web.api.describe import doc
from web.api.params import int_arg, json_body

TAGS = ("webhooks",)


@bp.get("/webhooks")
@doc(query=s.WebhooksQuery, responses={200: list[s.Webhook]}, tags=TAGS)
def list_webhooks():
    """The webhooks the caller manages (of one project with ``?project=ID``)."""
    raw = (request.args.get("project") or "").strip()
    project, org_only = None, False
    if raw.lower() == "isnull":
        org_only = True
    elif raw:
        if not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
            raise Invalid("project must be a project id or isnull", [{"field": "project", "detail": "an id"}])
        project = int(raw)
    hooks = webhooks.list_webhooks(api_user().user, project=project, org_only=org_only)
    return jsonify([webhooks.webhook_view(h) for h in hooks])


@bp.post("/webhooks")
@doc(body=s.WebhookBody, responses={201: s.Webhook}, tags=TAGS)
def create_webhook():
    """Create a webhook; the answer carries its signing ``secret``, shown this once."""
    hook, secret = webhooks.create_webhook(api_user().user, json_body())
    return jsonify(webhooks.webhook_view(hook, secret=secret)), 201


@bp.get("/webhooks/info")
@doc(query=s.WebhookInfoQuery, responses={200: dict[str, s.WebhookAction]}, tags=TAGS)
def webhook_info():
    """Every event a webhook can be sent, with its name, description and payload key."""
    raw = request.args.get("organization-only")
    only = None if raw is None else raw.strip().lower() == "true"
    return jsonify(webhooks.info(only))


@bp.get("/webhooks/<int:webhook_id>")
@doc(responses={200: s.Webhook}, tags=TAGS)
def get_webhook(webhook_id: int):
    """One webhook (header values masked)."""
    return jsonify(webhooks.webhook_view(webhooks.get_webhook(api_user().user, webhook_id)))


@bp.route("/webhooks/<int:webhook_id>", methods=["PATCH", "PUT"])
@doc(body=s.WebhookBody, responses={200: s.Webhook}, tags=TAGS)
def update_webhook(webhook_id: int):
    """Change a webhook's url, headers, actions or flags; its project stays."""
    hook = webhooks.update_webhook(api_user().user, webhook_id, json_body())
    return jsonify(webhooks.webhook_view(hook))


@bp.delete("/webhooks/<int:webhook_id>")
@doc(responses={204: None}, tags=TAGS)
def delete_webhook(webhook_id: int):
    """Delete a webhook and its delivery log."""
    webhooks.delete_webhook(api_user().user, webhook_id)
    return "", 204


@bp.get("/webhooks/<int:webhook_id>/deliveries")
@doc(query=s.DeliveriesQuery, responses={200: list[s.WebhookDelivery]}, tags=TAGS)
def webhook_deliveries(webhook_id: int):
    """The webhook's latest deliveries, newest first: event, status, attempts, answer code."""
    limit = int_arg("limit", 50, minimum=1, maximum=webhooks.MAX_DELIVERIES_SHOWN)
    _, rows = webhooks.deliveries(api_user().user, webhook_id, limit=limit)
    return jsonify([webhooks.delivery_view(d) for d in rows])
