"""Label Studio's cloud storages over REST (``labeling.storages``).

``/api/storages/`` and ``/api/storages/export`` (a project's import or export storages of every
type), ``/api/storages/types`` and ``/api/storages/export/types``; for ``s3`` (import),
``export/s3`` and ``localfiles``: list (``?project=``), create, get, ``PATCH``, ``DELETE``,
``POST .../ID/sync`` and ``POST .../validate``. Leads of the project and admins only; the
credentials are never in an answer.
"""

from __future__ import annotations

from flask import jsonify, request

from labeling.errors import Invalid
from labeling.storages import common, sync
from web.api import api_user, bp
from web.api import schemas as s
from web.api.describe import doc
from web.api.params import int_arg

TAGS = ("storages",)
IMPORT_TYPES = [{"name": "s3", "title": "AWS S3"}, {"name": "localfiles", "title": "Local files"}]
EXPORT_TYPES = [{"name": "s3", "title": "AWS S3"}]


def _project_arg() -> int:
    project_id = int_arg("project", 0, minimum=0)
    if not project_id:
        raise Invalid("give the project: ?project=ID", [{"field": "project", "detail": "required"}])
    return project_id


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise common.StorageError("send a JSON object", [{"field": None, "detail": "the body must be a JSON object"}])
    return body


def _many(kind: str, type_: str | None) -> list[dict]:
    return [common.storage_json(x) for x in common.list_storages(api_user().user, _project_arg(), kind, type_)]


# --------------------------------------------------------------------------- every type


@bp.get("/storages")
@doc(query=s.StorageProjectQuery, responses={200: list[s.Storage]}, tags=TAGS)
def list_import_storages():
    """A project's import storages of every type."""
    return jsonify(_many("import", None))


@bp.get("/storages/export")
@doc(query=s.StorageProjectQuery, responses={200: list[s.Storage]}, tags=TAGS)
def list_export_storages():
    """A project's export storages of every type."""
    return jsonify(_many("export", None))


@bp.get("/storages/types")
@doc(responses={200: list[s.StorageType]}, tags=TAGS)
def import_storage_types():
    """The import storage types this server has."""
    return jsonify(IMPORT_TYPES)


@bp.get("/storages/export/types")
@doc(responses={200: list[s.StorageType]}, tags=TAGS)
def export_storage_types():
    """The export storage types this server has."""
    return jsonify(EXPORT_TYPES)


# --------------------------------------------------------------------------- one type
# One set of views per (kind, type): the path names the storage id after its kind
# (storage_id, export_storage_id, localfiles_id), so that a route never takes another kind's id.


def _routes(prefix: str, kind: str, type_: str, id_name: str, name: str, sync_fn) -> None:
    label = f"{'S3' if type_ == 's3' else 'local-files'} {kind} storage"
    a = "an" if type_ == "s3" else "a"

    @doc(query=s.StorageProjectQuery, responses={200: list[s.Storage]}, tags=TAGS, summary=f"A project's {label}s.")
    def list_view():
        return jsonify(_many(kind, type_))

    @doc(body=s.StorageBody, responses={201: s.Storage}, tags=TAGS,
         summary=f"Create {a} {label} (leads); the connection is tried first.")
    def create_view():
        return jsonify(common.storage_json(sync.create_storage(api_user().user, kind, type_, _body()))), 201

    @doc(body=s.StorageBody, responses={200: None}, tags=TAGS,
         summary=f"Check {a} {label}'s fields and connection; nothing is saved.")
    def validate_view():
        sync.validate_storage(api_user().user, kind, type_, _body())
        return "", 200

    @doc(responses={200: s.Storage}, tags=TAGS, summary=f"One {label}.")
    def get_view(**ids):
        return jsonify(common.storage_json(common.get_storage(api_user().user, kind, type_, ids[id_name])))

    @doc(body=s.StorageBody, responses={200: s.Storage}, tags=TAGS,
         summary=f"Change {a} {label}; credentials given replace the stored ones.")
    def update_view(**ids):
        storage = sync.update_storage(api_user().user, kind, type_, ids[id_name], _body())
        return jsonify(common.storage_json(storage))

    @doc(responses={204: None}, tags=TAGS, summary=f"Delete {a} {label} (what it synced stays).")
    def delete_view(**ids):
        common.delete_storage(api_user().user, kind, type_, ids[id_name])
        return "", 204

    @doc(responses={200: s.Storage}, tags=TAGS, summary=f"Sync {a} {label} now.")
    def sync_view(**ids):
        return jsonify(common.storage_json(sync_fn(api_user().user, type_, ids[id_name])))

    base = f"/storages/{prefix}"
    one = f"{base}/<int:{id_name}>"
    for rule, methods, view, suffix in (
        (base, ["GET"], list_view, "list"), (base, ["POST"], create_view, "create"),
        (f"{base}/validate", ["POST"], validate_view, "validate"), (one, ["GET"], get_view, "get"),
        (one, ["PATCH"], update_view, "update"), (one, ["DELETE"], delete_view, "delete"),
        (f"{one}/sync", ["POST"], sync_view, "sync"),
    ):
        view.__name__ = f"{suffix}_{name}"
        bp.add_url_rule(rule, endpoint=view.__name__, view_func=view, methods=methods)


_routes("s3", "import", "s3", "storage_id", "s3_import_storage", sync.sync_import)
_routes("export/s3", "export", "s3", "export_storage_id", "s3_export_storage", sync.sync_export)
_routes("localfiles", "import", "localfiles", "localfiles_id", "localfiles_storage", sync.sync_import)
