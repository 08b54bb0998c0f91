"""Users, passwords, browser-session generations, log-in slow-downs and API tokens (stored as
SHA-256 hashes; the key is shown once)."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from importlib.resources import files
from typing import Any

import sqlalchemy as sa
from cachetools import TTLCache
from sqlmodel import select
from werkzeug.security import check_password_hash, generate_password_hash

from labeling.db import read_session, statement_connection, unit_of_work, utcnow, write_session
from labeling.errors import Forbidden, NotFound
from labeling.limits import has_lone_surrogate
from labeling.models import ApiToken, LoginThrottle, Role, TokenScope, User
from labeling.settings import get_settings
from labeling.wire import user_label


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


MIN_PASSWORD = 8
MAX_PASSWORD = 1024


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The bundled list of the commonest passwords (lower case), refused by the password policy."""
    text = files("labeling").joinpath("data/common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def check_password_policy(password: str, *, email: str | None = None) -> None:
    """Refuse a password that is short, one of the commonest (bundled list), or the email itself.

    Raises
    ------
    UserError
        Naming the rule the password breaks.
    """
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"the password must have at most {MAX_PASSWORD} characters")
    folded = password.strip().lower()
    if folded in common_passwords():
        raise UserError("this password is one of the most common ones: choose another")
    if email and folded in (email.lower(), email.lower().split("@")[0]):
        raise UserError("the password must not be the email address")


def create_user(email: str, *, role: str = Role.annotator, password: str | None = None,
                name: str = "", is_active: bool = True) -> User:
    """Create a user; ``password=None`` leaves an account that cannot log in with a password.

    An email an import met first has a placeholder (:func:`is_placeholder`: inactive, no
    password, no token) holding its imported annotations; creating that email takes the
    placeholder over (its annotations stay its own) with the role, name and password given.
    """
    with write_session() as s:
        return create_user_in(s, email, role=role, password=password, name=name, is_active=is_active)


def create_user_in(s, email: str, *, role: str = Role.annotator, password: str | None = None,
                   name: str = "", is_active: bool = True) -> User:
    """:func:`create_user` inside the caller's transaction ``s`` (an invite writes the account,
    its membership and its link in one)."""
    email = normalize_email(email)
    if role not in Role.__members__:
        raise UserError(f"unknown role {role!r} (choose from {', '.join(Role)})")
    if password is not None:
        check_password_policy(password, email=email)
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


def usernames(user_ids: Iterable[int | None], *, conn: Any = None) -> dict[int, str]:
    """Label Studio's ``created_username`` of each of ``user_ids`` (one query): "name email, id"
    (:func:`labeling.wire.user_label`), the ``names`` that :func:`labeling.wire.annotation_json`
    takes. ``conn`` (a connection or session): read in the caller's transaction; by default in
    one of its own."""
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    q = sa.select(User.id, User.name, User.email).where(User.id.in_(ids))
    if conn is not None:
        return {uid: user_label(name, email, uid) for uid, name, email in conn.execute(q)}
    with statement_connection() as own:
        return {uid: user_label(name, email, uid) for uid, name, email in own.execute(q)}


def get_user_by_email(email: str) -> User | None:
    with read_session() as s:
        return s.exec(select(User).where(User.email == email.strip().lower())).first()


def list_users() -> list[User]:
    with read_session() as s:
        return list(s.exec(select(User).order_by(User.id)))


def set_password(user_id: int, password: str) -> None:
    """Change a user's password (checked by the password policy); it ends their browser sessions."""
    with write_session() as s:
        set_password_in(s, user_id, password)


def set_password_in(s, user_id: int, password: str) -> None:
    """:func:`set_password` inside the caller's transaction ``s``."""
    user = s.get(User, user_id)
    if user is None:
        raise UserError(f"no user {user_id}")
    check_password_policy(password, email=user.email)
    s.execute(sa.update(User).where(User.id == user_id).values(
        password_hash=generate_password_hash(password), session_version=User.session_version + 1))


def end_sessions(user_id: int) -> None:
    """End every browser session of a user (log-out, an admin's "sign out everywhere").

    A session remembers the user's ``session_version`` at log-in and is refused once it changed
    (``web.auth.load_user``); API tokens are not affected (they are revoked one by one).
    """
    with write_session() as s:
        done = s.execute(sa.update(User).where(User.id == user_id).values(session_version=User.session_version + 1))
        if done.rowcount == 0:
            raise UserError(f"no user {user_id}")


def update_user(user_id: int, *, role: str | None = None, is_active: bool | None = None,
                name: str | None = None) -> User:
    if name is not None and (not isinstance(name, str) or len(name) > 255 or has_lone_surrogate(name)):
        raise UserError("name must be text of at most 255 characters")
    with write_session() as s:
        user = s.get(User, user_id)
        if user is None:
            raise UserError(f"no user {user_id}")
        was_admin = user.role == Role.admin and user.is_active
        if name is not None:
            user.name = name.strip()
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


#: Label Studio's bounds on custom hotkeys (its ``HotkeysSerializer``).
MAX_HOTKEYS = 200
_DANGEROUS_KEYS = frozenset({"ctrl+alt+delete", "cmd+alt+escape", "alt+f4", "ctrl+alt+esc", "cmd+option+esc",
                             "ctrl+shift+esc", "cmd+shift+q", "alt+tab", "cmd+tab", "ctrl+alt+t", "cmd+space"})
_KEY_CHARS = re.compile(r"^[a-zA-Z0-9+\-\s\[\]\\;'\".,/`~!@#$%^&*()_={}|:<>?]+$")
_MODIFIERS = {"ctrl", "cmd", "command", "alt", "option", "shift", "meta"}


def hotkey_problem(hotkeys: Any) -> str | None:
    """Why ``hotkeys`` is not a custom hotkeys configuration Label Studio takes
    (``{"section:action": {"key": "ctrl+s", "active": true}}``), in its words; None when it is."""
    if not isinstance(hotkeys, dict):
        return "custom_hotkeys must be a dictionary"
    if len(hotkeys) > MAX_HOTKEYS:
        return f"Cannot define more than {MAX_HOTKEYS} custom hotkeys"
    for action, data in hotkeys.items():
        if not action:
            return f"Action key '{action}' must be a non-empty string"
        if len(action) > 100:
            return f"Action key '{action[:100]}...' is too long (max 100 characters)"
        section, colon, name = action.partition(":")
        if not colon:
            return f"Action key '{action}' must be in 'section:action' format"
        if not section.strip() or not name.strip():
            return f"Action key '{action}' must have non-empty section and action parts"
        if not isinstance(data, dict):
            return f"Hotkey data for '{action}' must be a dictionary"
        if "key" not in data:
            return f"Missing 'key' in hotkey data for '{action}'"
        combo = data["key"]
        if not isinstance(combo, str) or not combo:
            return f"Key combination for '{action}' must be a non-empty string"
        if len(combo) > 50:
            return f"Key combination for '{action}' is too long (max 50 characters)"
        if combo.lower().strip() in _DANGEROUS_KEYS:
            return f"Key combination '{combo}' is not allowed for security reasons"
        if "active" in data and not isinstance(data["active"], bool):
            return f"Active flag for '{action}' must be a boolean"
        if not _KEY_CHARS.match(combo):
            return f"Key combination '{combo}' for '{action}' contains invalid characters"
        parts = [p.strip() for p in combo.split("+")]
        if any(p.lower() not in _MODIFIERS and len(p) > 20 for p in parts[:-1]):
            return f"Invalid modifier or key in key combination '{combo}'"
    return None


def set_hotkeys(user_id: int, hotkeys: Any) -> dict:
    """Store a user's custom hotkeys (Label Studio's ``PATCH /api/current-user/hotkeys``: the
    whole configuration replaced); :class:`UserError` with Label Studio's reason when refused."""
    problem = hotkey_problem(hotkeys)
    if problem is not None:
        raise UserError(problem)
    with write_session() as s:
        user = s.get(User, user_id)
        if user is None:
            raise UserError(f"no user {user_id}")
        user.custom_hotkeys = hotkeys
        s.add(user)
    forget_tokens()  # the remembered users carry their hotkeys
    return hotkeys


def hotkeys_of(user: User) -> dict:
    """A user's custom hotkeys, ``{}`` when none (or, as Label Studio answers, when the stored
    ones are no longer valid)."""
    stored = user.custom_hotkeys or {}
    return stored if hotkey_problem(stored) is None else {}


# Failed log-ins are counted per (address, account) and per address, never per account alone: a
# stranger guessing from elsewhere never locks the owner out. Counts are forgotten after an hour
# without failures. The account is the email as typed, known or not, so that an unknown account
# is slowed down, and answered, exactly as a known one is.
FAILURE_MEMORY = timedelta(hours=1)


def _throttle_keys(address: str, email: str) -> tuple[str, str]:
    pair = hashlib.sha256(f"pair\0{address}\0{email}".encode(errors="surrogatepass")).hexdigest()
    alone = hashlib.sha256(f"address\0{address}".encode(errors="surrogatepass")).hexdigest()
    return pair, alone


def _delay(failures: int, allowed: int) -> int:
    """Seconds to wait after ``failures`` recent failures when ``allowed`` go unchecked."""
    over = failures - allowed
    return 0 if over < 0 else min(2 ** min(over, 9), 300)


def _count_failure(s, keys: tuple[str, ...], now: datetime) -> None:
    """Add one failure to each key (an upsert: concurrent attempts each count)."""
    table = LoginThrottle.__table__
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).values([{"key": k, "failures": 1, "last_failed_at": now} for k in keys])
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.key], set_={
        "failures": sa.case((table.c.last_failed_at < now - FAILURE_MEMORY, 1), else_=table.c.failures + 1),
        "last_failed_at": stmt.excluded.last_failed_at,
    })
    s.execute(stmt)
    s.execute(sa.delete(table).where(table.c.last_failed_at < now - FAILURE_MEMORY))


def authenticate(email: str, password: str, *, address: str | None = None) -> LoginResult:
    """Check a log-in from ``address`` (the client's IP address).

    An attempt is counted as a failure before the password is checked (so that parallel guesses
    all count) and taken back when it was right. Past ``login_max_failures`` recent failures for
    this address and account, or ``login_max_failures_per_address`` for this address, each
    further attempt must wait (1 s, doubling, at most 300 s): the answer is 429 whatever the
    password, for known and unknown accounts alike. Errors never say which part was wrong.
    """
    generic = "Wrong email or password."
    email = (email or "").strip().lower()
    address = address or ""
    settings = get_settings()
    pair, alone = _throttle_keys(address, email)
    now = utcnow()
    with write_session() as s:
        rows = {r.key: r for r in s.exec(select(LoginThrottle).where(
            LoginThrottle.key.in_((pair, alone)), LoginThrottle.last_failed_at >= now - FAILURE_MEMORY))}
        left = 0
        for key, allowed in ((pair, settings.login_max_failures), (alone, settings.login_max_failures_per_address)):
            row = rows.get(key)
            wait = _delay(row.failures, allowed) if row is not None else 0
            if wait and now < row.last_failed_at + timedelta(seconds=wait):
                left = max(left, int((row.last_failed_at + timedelta(seconds=wait) - now).total_seconds()) + 1)
        if left:
            return LoginResult(None, f"Too many failed attempts. Try again in {left} s.", left)
        _count_failure(s, (pair, alone), now)
    with read_session() as s:
        user = s.exec(select(User).where(User.email == email)).first()
    table = LoginThrottle.__table__
    if user is None or not user.password_hash:
        check_password_hash(_DUMMY_HASH, password or "")  # same cost as a real check
        ok = False
    else:
        ok = check_password_hash(user.password_hash, password or "") and user.is_active
    if not ok:
        with write_session() as s:  # the wait runs from the answer, not from before the (slow) check
            s.execute(sa.update(table).where(table.c.key.in_((pair, alone))).values(last_failed_at=utcnow()))
        return LoginResult(None, generic)
    with write_session() as s:
        s.execute(sa.delete(table).where(table.c.key == pair))
        s.execute(sa.update(table).where(table.c.key == alone, table.c.failures > 0)
                  .values(failures=table.c.failures - 1))
        s.execute(sa.update(User).where(User.id == user.id).values(last_login_at=now))
        user = s.get(User, user.id)
        return LoginResult(user)


_DUMMY_HASH = generate_password_hash("labelfab-timing-equaliser")


def hash_token(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


MAX_TOKEN_DAYS = 3650


def token_expiry(*, expires_in_days: object = None, expires_at: object = None) -> datetime | None:
    """The expiry of a new token from a number of days or a timestamp (ISO 8601), or None (never).

    Raises
    ------
    UserError
        Both given, not a whole number of days from 1 to ``MAX_TOKEN_DAYS``, not a timestamp,
        or a moment not in the next ``MAX_TOKEN_DAYS`` days.
    """
    now = utcnow()
    if expires_in_days is not None and expires_at is not None:
        raise UserError("give expires_in_days or expires_at, not both")
    if expires_in_days is not None:
        if isinstance(expires_in_days, bool) or not isinstance(expires_in_days, int) \
                or not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
            raise UserError(f"expires_in_days must be a whole number from 1 to {MAX_TOKEN_DAYS}")
        return now + timedelta(days=expires_in_days)
    if expires_at is None:
        return None
    when = expires_at
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when[:64])
        except ValueError:
            raise UserError(f"expires_at {expires_at!r:.80} is not an ISO 8601 timestamp") from None
    if not isinstance(when, datetime):
        raise UserError("expires_at must be an ISO 8601 timestamp")
    if when.tzinfo is None:
        raise UserError("expires_at needs a time zone (e.g. 2027-01-31T00:00:00Z)")
    if not now < when <= now + timedelta(days=MAX_TOKEN_DAYS):
        raise UserError(f"expires_at must be in the future and within {MAX_TOKEN_DAYS} days")
    return when


def new_token(user_id: int, *, name: str = "", scope: str = TokenScope.full,
              expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Create an API token; returns the row and the key (only its hash is stored).

    Read tokens (a training pipeline's) are made by leads and admins only: a read token pulls
    the datasets of the projects its user leads.
    """
    if scope not in TokenScope.__members__:
        raise UserError(f"unknown token scope {scope!r} (choose from {', '.join(TokenScope)})")
    if not isinstance(name, str) or len(name) > 255:
        raise UserError("the token's name must be text of at most 255 characters")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise UserError("the token's name is not valid text (a lone surrogate)") from None
    key = secrets.token_hex(20)  # 40 hex characters, like Label Studio's keys
    with write_session() as s:
        user = s.get(User, user_id)
        if user is None:
            raise UserError(f"no user {user_id}")
        if scope == TokenScope.read and user.role not in (Role.admin, Role.lead):
            raise Forbidden("read tokens are made by leads and admins, for pulling the datasets of their projects")
        token = ApiToken(user_id=user_id, name=name, token_hash=hash_token(key), prefix=key[:8], scope=scope,
                         expires_at=expires_at)
        s.add(token)
        s.flush()
        return token, key


def create_token(user_id: int, *, name: str = "", scope: str = TokenScope.full,
                 expires_at: datetime | None = None) -> str:
    """Create an API token and return its key (see :func:`new_token`)."""
    return new_token(user_id, name=name, scope=scope, expires_at=expires_at)[1]


def reset_token(user_id: int, *, replacing: str | None = None) -> str:
    """Label Studio's token reset (``POST /api/current-user/reset-token``): a new full token for
    the user, its key returned (shown once), and the token ``replacing`` (the key the request was
    made with) revoked in the same transaction, as Label Studio's reset ends the user's one token.
    The user's other tokens (a pipeline's read token, named tokens) stay: labelfab's users have
    several, and the reset names one."""
    key = secrets.token_hex(20)
    with write_session() as s:
        user = s.get(User, user_id)
        if user is None or not user.is_active:
            raise NotFound(f"no user {user_id}")
        if replacing is not None:
            s.execute(sa.update(_T).where(_T.c.token_hash == hash_token(replacing), _T.c.user_id == user_id,
                                          _T.c.revoked_at.is_(None)).values(revoked_at=utcnow()))
        s.add(ApiToken(user_id=user_id, name="reset-token", token_hash=hash_token(key), prefix=key[:8],
                       scope=TokenScope.full))
    forget_tokens()
    return key


def revoke_token(token_id: int, *, by: User | None = None) -> ApiToken:
    """Revoke a token (again: no change). ``by`` is the caller: the token's owner or an admin;
    anyone else is told it does not exist. None: the operator (the CLI).
    """
    with write_session() as s:
        token = s.get(ApiToken, token_id)
        if token is None or (by is not None and by.role != Role.admin and token.user_id != by.id):
            raise NotFound(f"token {token_id} not found")
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            s.add(token)
    forget_tokens()
    return token


def list_tokens(user_id: int | None = None, *, live: bool = False) -> list[ApiToken]:
    """The tokens of a user (None: everyone's), oldest first; ``live``: not revoked."""
    with read_session() as s:
        q = select(ApiToken).order_by(ApiToken.id)
        if user_id is not None:
            q = q.where(ApiToken.user_id == user_id)
        if live:
            q = q.where(ApiToken.revoked_at.is_(None))
        return list(s.exec(q))


# Runs on every API request: built once (a Core statement skips the ORM's per-query work); on
# PostgreSQL it runs outside a transaction (`db.statement_connection`: no BEGIN and ROLLBACK).
_T = ApiToken.__table__
_TOKEN_USER = (
    sa.select(User.__table__, _T.c.scope.label("token_scope"), _T.c.id.label("token_id"),
              _T.c.expires_at.label("token_expires_at"), _T.c.last_used_at.label("token_last_used_at"))
    .join(_T, _T.c.user_id == User.__table__.c.id)
    .where(_T.c.token_hash == sa.bindparam("token_hash"), _T.c.revoked_at.is_(None),
           sa.or_(_T.c.expires_at.is_(None), _T.c.expires_at > sa.bindparam("now", type_=_T.c.expires_at.type)),
           User.__table__.c.is_active)
)


# Every API request needs its token's user: a process remembers an answer for a few seconds
# (annotators send a request every few seconds, and the lookup was a fifth of a routing cycle).
# Revoking a token, or changing or deactivating a user, forgets them in this process at once and
# in the other server processes within TOKEN_CACHE_SECONDS. Unknown tokens are not remembered;
# an expired one is refused from its expiry on, remembered or not.
# The remembered User is shared by the requests of those seconds: callers read it, never change it.
# cachetools' caches are not thread-safe: the server's threads share this one under a lock.
TOKEN_CACHE_SECONDS = 5.0
_TOKEN_CACHE_MAX = 10_000
_token_cache: TTLCache[str, tuple[User, str, datetime | None]] = TTLCache(maxsize=_TOKEN_CACHE_MAX,
                                                                         ttl=TOKEN_CACHE_SECONDS)
_token_lock = threading.Lock()

# A token's last_used_at is written when a lookup misses the cache and the stored value is older
# than this: at most one write per token in that time, never one per request.
TOKEN_USE_WRITE_SECONDS = 300


def forget_tokens() -> None:
    """Drop this process's remembered token lookups (after a token or user changed)."""
    with _token_lock:
        _token_cache.clear()


def _touch_token(token_id: int, now: datetime) -> None:
    """Record that a token was used (a conditional update: other processes may have done it)."""
    stale = now - timedelta(seconds=TOKEN_USE_WRITE_SECONDS)
    stmt = (sa.update(_T).where(_T.c.id == token_id, sa.or_(_T.c.last_used_at.is_(None), _T.c.last_used_at < stale))
            .values(last_used_at=now))
    with unit_of_work() as s:
        s.execute(stmt)


def user_for_token(key: str) -> tuple[User, str] | None:
    """The active user and token scope for an API key, or None if unknown, revoked, expired or
    the user inactive.

    Answers are remembered for ``TOKEN_CACHE_SECONDS`` (see above).
    """
    token_hash = hash_token(key)
    now = utcnow()
    with _token_lock:
        cached = _token_cache.get(token_hash)
    if cached is not None:
        if cached[2] is None or now < cached[2]:
            return cached[0], cached[1]
        with _token_lock:
            _token_cache.pop(token_hash, None)
        return None
    with statement_connection() as conn:
        row = conn.execute(_TOKEN_USER, {"token_hash": token_hash, "now": now}).first()
    if row is None:
        return None
    values = row._asdict()
    scope = values.pop("token_scope")
    token_id, expires_at = values.pop("token_id"), values.pop("token_expires_at")
    last_used = values.pop("token_last_used_at")
    if last_used is None or last_used < now - timedelta(seconds=TOKEN_USE_WRITE_SECONDS):
        _touch_token(token_id, now)
    user = User(**values)
    with _token_lock:
        _token_cache[token_hash] = (user, scope, expires_at)
    return user, scope
