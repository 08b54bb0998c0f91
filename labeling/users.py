"""Users, passwords and API tokens (stored as SHA-256 hashes; the key is shown once)."""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from cachetools import TTLCache
from sqlmodel import select
from werkzeug.security import check_password_hash, generate_password_hash

from labeling.db import get_engine, read_session, utcnow, write_session
from labeling.errors import Forbidden
from labeling.models import ApiToken, Role, TokenScope, User
from labeling.settings import get_settings


class UserError(ValueError):
    """Bad input for a user operation; the message says what is wrong."""


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    error: str | None = None
    retry_after: int = 0


def normalize_email(email: str) -> str:
    email = (email or "").strip().lower()
    if "@" not in email or len(email) > 255 or email.startswith("@") or email.endswith("@"):
        raise UserError(f"{email!r} is not an email address")
    return email


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def create_user(email: str, *, role: str = Role.annotator, password: str | None = None,
                name: str = "", is_active: bool = True) -> User:
    """Create a user; ``password=None`` leaves an account that cannot log in with a password.

    An email an import met first has a placeholder (:func:`is_placeholder`: inactive, no
    password, no token) holding its imported annotations; creating that email takes the
    placeholder over (its annotations stay its own) with the role, name and password given.
    """
    email = normalize_email(email)
    if role not in Role.__members__:
        raise UserError(f"unknown role {role!r} (choose from {', '.join(Role)})")
    if password is not None and len(password) < 8:
        raise UserError("the password must have at least 8 characters")
    with write_session() as s:
        existing = s.exec(select(User).where(User.email == email)).first()
        if existing is not None and is_placeholder(s, existing):
            existing.role, existing.is_active = role, is_active
            existing.name = name or existing.name or email.split("@")[0]
            existing.password_hash = generate_password_hash(password) if password else None
            s.add(existing)
            s.flush()
            return existing
        if existing is not None:
            raise UserError(f"a user with email {email} exists already")
        user = User(email=email, name=name or email.split("@")[0], role=role, is_active=is_active,
                    password_hash=generate_password_hash(password) if password else None)
        s.add(user)
        s.flush()
        return user


def is_placeholder(s, user: User) -> bool:
    """True for an account an import made for an unknown ``completed_by`` email: inactive, no
    password, never given a token. It cannot log in; an admin creating its email takes it over."""
    if user.is_active or user.password_hash is not None:
        return False
    return s.exec(select(ApiToken.id).where(ApiToken.user_id == user.id).limit(1)).first() is None


def get_user(user_id: int) -> User | None:
    with read_session() as s:
        return s.get(User, user_id)


def get_user_by_email(email: str) -> User | None:
    with read_session() as s:
        return s.exec(select(User).where(User.email == email.strip().lower())).first()


def list_users() -> list[User]:
    with read_session() as s:
        return list(s.exec(select(User).order_by(User.id)))


def set_password(user_id: int, password: str) -> None:
    if len(password) < 8:
        raise UserError("the password must have at least 8 characters")
    with write_session() as s:
        s.execute(sa.update(User).where(User.id == user_id).values(password_hash=generate_password_hash(password)))


def update_user(user_id: int, *, role: str | None = None, is_active: bool | None = None) -> User:
    with write_session() as s:
        user = s.get(User, user_id)
        if user is None:
            raise UserError(f"no user {user_id}")
        was_admin = user.role == Role.admin and user.is_active
        if role is not None:
            if not isinstance(role, str) or role not in Role.__members__:
                raise UserError(f"unknown role {role!r}")
            user.role = role
        if is_active is not None:
            user.is_active = is_active
        if was_admin and not (user.role == Role.admin and user.is_active):
            # the admins' rows are locked, so two admins demoting each other cannot both succeed
            admins = s.exec(select(User.id).where(User.role == Role.admin, User.is_active, User.id != user.id)
                            .with_for_update()).all()
            if not admins:
                raise UserError("the last active admin cannot be demoted or deactivated: make another admin first")
        s.add(user)
    forget_tokens()
    return user


def _login_delay(failures: int) -> int:
    """Seconds an account must wait after ``failures`` consecutive failed logins."""
    over = failures - get_settings().login_max_failures
    return 0 if over < 0 else min(2 ** over, 300)


def authenticate(email: str, password: str) -> LoginResult:
    """Check a login. Errors never say which part was wrong; repeated failures slow down."""
    generic = "Wrong email or password."
    email = (email or "").strip().lower()
    now = utcnow()
    with write_session() as s:
        user = s.exec(select(User).where(User.email == email)).first()
        if user is None:
            check_password_hash(_DUMMY_HASH, password or "")  # same cost as a real check
            return LoginResult(None, generic)
        wait = _login_delay(user.failed_logins)
        if wait and user.last_failed_login_at and now < user.last_failed_login_at + timedelta(seconds=wait):
            left = int((user.last_failed_login_at + timedelta(seconds=wait) - now).total_seconds()) + 1
            return LoginResult(None, f"Too many failed attempts. Try again in {left} s.", left)
        if not user.password_hash or not check_password_hash(user.password_hash, password or "") or not user.is_active:
            user.failed_logins += 1
            user.last_failed_login_at = now
            s.add(user)
            return LoginResult(None, generic)
        user.failed_logins = 0
        user.last_login_at = now
        s.add(user)
        return LoginResult(user)


_DUMMY_HASH = generate_password_hash("labelfab-timing-equaliser")


def hash_token(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_token(user_id: int, *, name: str = "", scope: str = TokenScope.full) -> str:
    """Create an API token and return its key (only its hash is stored).

    Read tokens (a training pipeline's) are made by leads and admins only: a read token pulls
    the datasets of the projects its user leads.
    """
    if scope not in TokenScope.__members__:
        raise UserError(f"unknown token scope {scope!r} (choose from {', '.join(TokenScope)})")
    key = secrets.token_hex(20)  # 40 hex characters, like Label Studio's keys
    with write_session() as s:
        user = s.get(User, user_id)
        if user is None:
            raise UserError(f"no user {user_id}")
        if scope == TokenScope.read and user.role not in (Role.admin, Role.lead):
            raise Forbidden("read tokens are made by leads and admins, for pulling the datasets of their projects")
        s.add(ApiToken(user_id=user_id, name=name, token_hash=hash_token(key), prefix=key[:8], scope=scope))
    return key


def revoke_token(token_id: int) -> None:
    with write_session() as s:
        s.execute(sa.update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=utcnow()))
    forget_tokens()


def list_tokens(user_id: int | None = None) -> list[ApiToken]:
    with read_session() as s:
        q = select(ApiToken).order_by(ApiToken.id)
        if user_id is not None:
            q = q.where(ApiToken.user_id == user_id)
        return list(s.exec(q))


# Runs on every API request: built once (a Core statement skips the ORM's per-query work); on
# PostgreSQL it runs outside a transaction (one statement: no BEGIN and ROLLBACK round trips).
_TOKEN_USER = (
    sa.select(User.__table__, ApiToken.__table__.c.scope.label("token_scope"))
    .join(ApiToken.__table__, ApiToken.__table__.c.user_id == User.__table__.c.id)
    .where(ApiToken.__table__.c.token_hash == sa.bindparam("token_hash"), ApiToken.__table__.c.revoked_at.is_(None),
           User.__table__.c.is_active)
)


# Every API request needs its token's user: a process remembers an answer for a few seconds
# (annotators send a request every few seconds, and the lookup was a fifth of a routing cycle).
# Revoking a token, or changing or deactivating a user, forgets them in this process at once and
# in the other server processes within TOKEN_CACHE_SECONDS. Unknown tokens are not remembered.
# The remembered User is shared by the requests of those seconds: callers read it, never change it.
# cachetools' caches are not thread-safe: the server's threads share this one under a lock.
TOKEN_CACHE_SECONDS = 5.0
_TOKEN_CACHE_MAX = 10_000
_token_cache: TTLCache[str, tuple[User, str]] = TTLCache(maxsize=_TOKEN_CACHE_MAX, ttl=TOKEN_CACHE_SECONDS)
_token_lock = threading.Lock()


def forget_tokens() -> None:
    """Drop this process's remembered token lookups (after a token or user changed)."""
    with _token_lock:
        _token_cache.clear()


def user_for_token(key: str) -> tuple[User, str] | None:
    """The active user and token scope for an API key, or None if unknown, revoked or inactive.

    Answers are remembered for ``TOKEN_CACHE_SECONDS`` (see above).
    """
    token_hash = hash_token(key)
    with _token_lock:
        cached = _token_cache.get(token_hash)
    if cached is not None:
        return cached
    engine = get_engine()
    if engine.dialect.name == "sqlite":  # its connections are set up by labeling.db; leave them so
        with read_session() as s:
            row = s.connection().execute(_TOKEN_USER, {"token_hash": token_hash}).first()
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            row = conn.execute(_TOKEN_USER, {"token_hash": token_hash}).first()
    if row is None:
        return None
    values = row._asdict()
    scope = values.pop("token_scope")
    answer = User(**values), scope
    with _token_lock:
        _token_cache[token_hash] = answer
    return answer
