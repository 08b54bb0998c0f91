"""Front page and health."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify, render_template
from flask_login import current_user, login_required

from labeling.db import get_engine
from labeling.jobs.broker import broker_status
from labeling.models import Role

bp = Blueprint("main", __name__)


@bp.get("/")
@login_required
def index():
    return render_template("index.html")


@bp.get("/health")
def health():
    """200 ``{"status": "ok"}`` when the database and the broker answer, 503 ``{"status":
    "error"}`` otherwise. Open to anyone (load balancers), so it names no backend: which database
    and broker, and why one failed, are shown to a logged-in admin only."""
    try:
        with get_engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        db_ok, db_detail = True, get_engine().dialect.name
    except sa.exc.SQLAlchemyError as exc:
        db_ok, db_detail = False, f"{exc.__class__.__name__}: {exc}".splitlines()[0]
    broker_ok, broker_detail = broker_status()
    ok = db_ok and broker_ok
    body: dict = {"status": "ok" if ok else "error"}
    if current_user.is_authenticated and current_user.role == Role.admin:
        body["database"] = {"ok": db_ok, "detail": db_detail}
        body["broker"] = {"ok": broker_ok, "detail": broker_detail}
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response, 200 if ok else 503
