"""Encryption at rest for personal data (Fernet, with rotation) and blind indexes for look-ups."""
from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from assistant.core.settings import get_settings


class MissingKeyError(RuntimeError):
    pass


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise MissingKeyError("DASI_DATA_KEY is not set: run `make run` once or `dasi init` to create .env")
    return MultiFernet([Fernet(k.encode()) for k in keys])


def cipher() -> MultiFernet:
    return _fernet(get_settings().data_keys)


def encrypt(text: str) -> str:
    return cipher().encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return cipher().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:  # wrong key: say so, never return ciphertext as if it were text
        raise MissingKeyError("stored data cannot be decrypted with the configured DASI_DATA_KEY") from exc


def blind_index(*parts: str) -> str:
    """Deterministic keyed hash, so a platform user id can be looked up without storing it in clear."""
    key = get_settings().secret_key
    if not key:
        raise MissingKeyError("DASI_SECRET_KEY is not set")
    msg = "\x1f".join(parts).encode("utf-8")
    return hmac.new(key.encode("utf-8"), msg, hashlib.sha256).hexdigest()


def new_data_key() -> str:
    return Fernet.generate_key().decode("ascii")


def encrypt_bytes(data: bytes) -> str:
    """Uploaded documents: the bytes as one Fernet token (text, so it fits any database)."""
    return cipher().encrypt(data).decode("ascii")


def decrypt_bytes(token: str) -> bytes:
    try:
        return cipher().decrypt(token.encode("ascii"))
    except InvalidToken as exc:
        raise MissingKeyError("stored data cannot be decrypted with the configured DASI_DATA_KEY") from exc


def rotate_token(token: str) -> str:
    """Re-encrypt a token under the first (newest) key; `dasi keys rotate` runs this over every column."""
    return cipher().rotate(token.encode("ascii")).decode("ascii")
