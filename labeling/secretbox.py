"""Credentials stored sealed with the server's secret key (webhook secrets and headers, ML backend
and storage credentials): ``seal`` before writing, ``unseal`` just before the outbound call.
The API never returns them. Fernet (``cryptography``): AES-128-CBC with an HMAC-SHA256 tag.

Changing ``LABELFAB_SECRET_KEY`` makes what was sealed unreadable: ``unseal`` then says so, and a
lead enters the credentials again."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from labeling.errors import Conflict
from labeling.settings import get_settings


def _fernet() -> Fernet:
    secret = get_settings().resolved_secret_key().encode()
    key = hashlib.sha256(b"labelfab sealed credentials\0" + secret).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode("ascii")


def unseal(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, ValueError):
        raise Conflict("stored credentials cannot be read with this server's secret key "
                       "(was LABELFAB_SECRET_KEY changed?); enter them again") from None
