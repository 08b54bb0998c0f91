"""Front page and health."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify, render_template
from flask_login import login_required

from labeling.db import get_engine
from labeling.jobs.broker import broker_status

bp = Blueprint("main", __name__)


@bp.get("/")
@login_required
def index():
    return render_template("index.html")


@bp.get("/health")
def health():
    """Database and broker status; 200 when both answer, 503 otherwise."""
    try:
        with get_engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        db_ok, db_detail = True, get_engine().dialect.name
    except sa.exc.SQLAlchemyError as exc:
        db_ok, db_detail = False, f"{exc.__class__.__name__}: {exc}".splitlines()[0]
    broker_ok, broker_detail = broker_status()
    ok = db_ok and broker_ok
    body = {"status": "ok" if ok else "unavailable",
            "database": {"ok": db_ok, "detail": db_detail},
            "broker": {"ok": broker_ok, "detail": broker_detail}}
    return jsonify(body), 200 if ok else 503
