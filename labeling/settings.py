"""labelfab settings, read once from the environment (``LABELFAB_`` prefix, ``.env`` allowed).

In the style of Redash's settings module: one place that says what can be configured,
with safe defaults. A bad value stops start-up with a one-line message (see ``SettingsError``).
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import stat
from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(RuntimeError):
    """A configuration value is unusable; the message is one line meant for the operator."""


def _require(module: str, extra: str, what: str) -> None:
    """Refuse a URL whose driver is not installed: it comes with an extra (the embedded default,
    SQLite and the stub broker, needs none; docs/ARCHITECTURE.md, Running it)."""
    if importlib.util.find_spec(module) is None:
        raise ValueError(f"{what} needs the {module!r} package, not installed: pip install 'labelfab[{extra}]'")


def make_private(path: Path, *, create_file: bool = False) -> None:
    """Make ``path`` (a folder: 0700; a file: 0600) this user's alone: created so if missing
    (a file only when ``create_file``), and one of this user's found open to others closed.
    Someone else's (a volume mounted as root) is left as it is."""
    if create_file and not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077 and st.st_uid == getattr(os, "getuid", lambda: st.st_uid)():
        path.chmod(mode & ~0o077)


class Settings(BaseSettings):
    """Every setting labelfab reads. The README's configuration table mirrors this class."""

    model_config = SettingsConfigDict(env_prefix="LABELFAB_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path(".data"), validate_default=True,
                           description="Where the SQLite file, media and secret key live")
    shared_dir: Path | None = Field(default=None,
                                    description="Files every server and worker must see: media on disk, staged "
                                                "imports, dataset versions, export snapshots; empty means DATA_DIR "
                                                "(several machines: a folder on shared storage)")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite in DATA_DIR")
    broker_url: str = Field(default="stub://", description="stub:// (in-process), redis://..., amqp://...")
    secret_key: str = Field(default="", description="Flask secret; empty means generated once and kept in DATA_DIR")
    max_upload_mb: int = Field(default=512, ge=1, description="Largest accepted upload, in MiB")
    max_image_pixels: int = Field(default=50_000_000, ge=1, description="Largest accepted image, in pixels")
    max_pdf_mb: int = Field(default=100, ge=1, description="Largest accepted PDF document, in MiB")
    max_pdf_pages: int = Field(default=2000, ge=1, le=10_000, description="Most pages of an accepted PDF document")
    zip_max_ratio: int = Field(default=100, ge=1, description="Largest compression ratio of a zip member")
    zip_max_total_mb: int = Field(default=4096, ge=1, description="Largest total uncompressed size of a zip, in MiB")
    import_job_threshold: int = Field(default=20_000, ge=1, description="Imports with more items than this run as a job")
    publish_job_threshold: int = Field(default=20_000, ge=1,
                                       description="Dataset versions of projects with more accepted tasks than this "
                                                   "are published by a job")
    worker_threads: int = Field(default=2, ge=1, description="Threads of the in-process worker (stub broker)")
    qc_fan_out_from: int = Field(default=200_000, ge=10,
                                 description="QC of classification projects with at least this many labeled tasks "
                                             "(one label each, data.embedding) runs one job per cross-validation "
                                             "fold, spread over the workers, and a gather")
    job_stale_seconds: int = Field(default=120, ge=5, description="A running job whose heartbeat is older is re-run")
    max_request_mb: int = Field(default=16, ge=1, description="Largest request body, in MiB, except uploads (imports)")
    max_json_depth: int = Field(default=64, ge=2, le=500, description="Deepest nesting of objects and lists in JSON sent")
    max_label_config_kb: int = Field(default=1024, ge=1, description="Largest label config, in KiB")
    max_labels_per_control: int = Field(default=10_000, ge=1, description="Most labels (choices) in one control tag")
    max_title_chars: int = Field(default=255, ge=1, le=255, description="Longest project title, in characters")
    max_description_chars: int = Field(default=65_536, ge=1, description="Longest project description, in characters")
    max_instructions_chars: int = Field(default=1_048_576, ge=1, description="Longest project instructions, in characters")
    max_task_fields: int = Field(default=2000, ge=1, description="Most fields in one task's data")
    max_task_data_kb: int = Field(default=5120, ge=1, description="Largest task data (its text), in KiB per task")
    max_search_chars: int = Field(default=1000, ge=1, description="Longest text searched for in task lists")
    invite_days: int = Field(default=7, ge=1, le=90, description="Days an invite link (to set a password) stays valid")
    login_max_failures: int = Field(default=5, ge=1, le=1000,
                                    description="Failed logins from one address to one account before their "
                                                "attempts are slowed down (the owner elsewhere is not)")
    login_max_failures_per_address: int = Field(default=30, ge=1, le=100_000,
                                                description="Failed logins from one address, to any accounts, "
                                                            "before its attempts are slowed down")
    session_cookie_secure: bool = Field(default=False, description="Send the session cookie over HTTPS only, "
                                                                    "and Strict-Transport-Security on every answer")
    trusted_proxies: int = Field(default=0, ge=0, le=10,
                                 description="How many reverse proxies in front of labelfab set X-Forwarded-For, "
                                             "-Proto and -Host; 0 (the default) trusts no such header")

    qc_onnx_image_model: Path | None = Field(default=None,
                                             description="An ONNX image encoder on local disk whose embeddings QC's "
                                                         "model zoo may choose (quality/encoders.py says its shape)")
    qc_onnx_text_model: Path | None = Field(default=None,
                                            description="An ONNX text encoder (string input) on local disk, likewise")
    outbound_allow: str = Field(default="",
                                description="Comma-separated hosts, addresses or networks (CIDR) that webhooks, ML "
                                            "backends and storages may call although they are private, loopback "
                                            "or link-local (e.g. 127.0.0.1,10.0.0.0/8); empty refuses them all")
    outbound_timeout: float = Field(default=10.0, gt=0, le=300, description="Seconds an outbound call may take")
    outbound_max_response_kb: int = Field(default=10_240, ge=1,
                                          description="Largest answer read from an outbound call, in KiB")
    ml_batch_size: int = Field(default=100, ge=1, le=1000,
                               description="Tasks sent to an ML backend's /predict in one request")
    ml_lookahead: int = Field(default=10, ge=0, le=1000,
                              description="Open tasks an ML backend pre-labels ahead of the annotators when the "
                                          "router leases one (0: none)")
    webhook_max_attempts: int = Field(default=6, ge=1, le=20,
                                      description="Attempts to deliver one webhook event before it is marked failed")
    webhook_retry_seconds: float = Field(default=10.0, ge=0, le=3600,
                                         description="Wait before the first retry of a webhook event; it doubles "
                                                     "with each further attempt")
    public_url: str = Field(default="", description="The address people and pipelines reach this server at "
                                                    "(https://labels.example.com); makes the links webhooks send "
                                                    "absolute; the hostname ML backends are given; the start of the invite "
                                                    "links 'labelfab user invite' prints")

    media_url: str = Field(default="", description="Where media are stored: empty for DATA_DIR/media, or "
                                                    "s3://bucket/prefix (an S3-compatible store shared by every "
                                                    "server; LABELFAB_MEDIA_S3_* below)")
    media_s3_endpoint: str = Field(default="", description="S3 endpoint URL of the media store (MinIO, Ceph, R2...); "
                                                           "empty for AWS")
    media_s3_region: str = Field(default="", description="Region of the media store's bucket")
    media_s3_access_key_id: str = Field(default="", description="Access key of the media store (empty: boto3's "
                                                                "own credential chain)")
    media_s3_secret_access_key: str = Field(default="", description="Secret key of the media store")
    local_files_document_root: str = Field(default="", description="Label Studio's LOCAL_FILES_DOCUMENT_ROOT: the "
                                                                   "folder under which local-files storages may read "
                                                                   "(empty refuses them all)")

    @field_validator("media_url")
    @classmethod
    def _check_media_url(cls, value: str) -> str:
        if value and not value.startswith("s3://"):
            raise ValueError("use s3://bucket/prefix, or leave it empty for DATA_DIR/media")
        if value and not value.removeprefix("s3://").split("/", 1)[0]:
            raise ValueError("the s3:// URL names no bucket")
        return value

    @field_validator("data_dir", "shared_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        """Folders as absolute paths, taken from the directory the process started in: a relative
        one would be read against whatever a library joins it to (Flask's ``send_file`` joins
        it to the app's package folder)."""
        return value.expanduser().absolute() if value else value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError(f"unsupported database {value.split(':', 1)[0]!r} (use sqlite:/// or postgresql://)")
        if value.startswith("postgres://"):
            value = "postgresql://" + value.removeprefix("postgres://")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        if value.startswith("postgresql+psycopg://"):
            _require("psycopg", "postgres", "a PostgreSQL database")
        return value

    @field_validator("qc_onnx_image_model", "qc_onnx_text_model", mode="before")
    @classmethod
    def _check_onnx_model(cls, value: object) -> Path | None:
        if value is None or str(value).strip() == "":
            return None
        _require("onnxruntime", "onnx", "an ONNX encoder")
        path = Path(str(value))
        if not path.is_file():
            raise ValueError(f"no ONNX model file at {path}")
        return path

    @field_validator("broker_url")
    @classmethod
    def _check_broker_url(cls, value: str) -> str:
        if not value.startswith(("stub://", "redis://", "rediss://", "amqp://", "amqps://")):
            raise ValueError(f"unsupported broker {value!r} (use stub://, redis://... or amqp://...)")
        if value.startswith(("redis://", "rediss://")):
            _require("redis", "redis", "a Redis broker")
        elif value.startswith(("amqp://", "amqps://")):
            _require("pika", "rabbitmq", "a RabbitMQ broker")
        return value

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'labelfab.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")

    def ensure_data_dir(self) -> Path:
        """DATA_DIR, created readable by this user only (0700; an existing one of this user's that
        others could read is closed): it holds the database, the secret key, media and datasets."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        make_private(self.data_dir)
        if self.shared_dir:
            self.shared_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            make_private(self.shared_dir)
        return self.data_dir

    @property
    def shared_root(self) -> Path:
        """Where the files every process must see live (``SHARED_DIR``, else ``DATA_DIR``)."""
        return self.shared_dir or self.data_dir

    @property
    def media_root(self) -> Path:
        return self.shared_root / "media"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def max_request_bytes(self) -> int:
        return self.max_request_mb * 1024 * 1024

    def resolved_secret_key(self) -> str:
        """The configured secret key, or one generated on first use and persisted in DATA_DIR."""
        if self.secret_key:
            return self.secret_key
        path = self.ensure_data_dir() / "secret_key"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # never readable by others
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(path)
        make_private(path)
        return path.read_text().strip()


def load_settings(**overrides) -> Settings:
    """Read settings from the environment (and ``overrides``), or raise a one-line SettingsError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"LABELFAB_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise SettingsError(f"bad configuration: {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests call ``get_settings.cache_clear()`` after changing the env)."""
    return load_settings()
