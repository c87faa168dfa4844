"""Provider API keys at rest: Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) under CONSOLE_ENCRYPTION_KEY.

The key comes from the setting; in demo mode, when unset, it is generated once into the data folder (the usage
store's folder, `data/` by default) as the private file `console_encryption_key`, like APP_SECRET_KEY. Outside demo
mode an app database holding provider keys refuses to start without it (`check_at_start`). A plaintext key is
only ever held in memory to be pushed to LiteLLM or used for a connection test; pages and the CLI show `mask(key)`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import func, select, update

from lib.core.errors import ConsoleError
from lib.core.files import generated_secret
from lib.core.settings import SettingsError
from lib.providers.records import providers

GENERATED_KEY_FILE = "console_encryption_key"


class ProviderKeyError(ConsoleError):
    """Provider keys cannot be stored or read (no encryption key, or the wrong one); the message names the setting."""


class KeyCipher:
    """Encrypts and decrypts provider keys under one Fernet key."""

    def __init__(self, key: str):
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError):
            raise ProviderKeyError("CONSOLE_ENCRYPTION_KEY: not a Fernet key (32 bytes, url-safe base64)") from None

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str, provider: str = "") -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ProviderKeyError(
                f"CONSOLE_ENCRYPTION_KEY does not decrypt the stored key{f' of {provider}' if provider else ''}: "
                "it is not the key it was stored with (change it with `python -m lib.cli rotate-encryption-key`)"
            ) from None


def data_dir_of(settings) -> Path:
    """The data folder: where the usage store lives (`data/` by default)."""
    return Path(settings.DUCKDB_PATH).resolve().parent


def encryption_key(settings) -> str | None:
    """CONSOLE_ENCRYPTION_KEY; in demo mode, when unset, the generated one; outside demo mode None when unset."""
    if settings.CONSOLE_ENCRYPTION_KEY:
        return settings.CONSOLE_ENCRYPTION_KEY
    if not settings.demo_mode:
        return None
    return generated_secret(data_dir_of(settings) / GENERATED_KEY_FILE, lambda: Fernet.generate_key().decode())


def cipher_for(settings) -> KeyCipher:
    """The cipher of the stored provider keys; ProviderKeyError (naming the setting) when there is no key."""
    key = encryption_key(settings)
    if key is None:
        raise ProviderKeyError(
            "CONSOLE_ENCRYPTION_KEY: required to store provider keys (a Fernet key; make one with "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
        )
    return KeyCipher(key)


def stored_key_count(conn) -> int:
    return conn.execute(select(func.count()).where(providers.c.api_key_encrypted.is_not(None))).scalar() or 0


def check_at_start(settings, engine) -> None:
    """Refuse to start (SettingsError, one line naming the variable) when provider keys are stored and cannot be
    read: no CONSOLE_ENCRYPTION_KEY outside demo mode, or one that does not decrypt them."""
    with engine.connect() as conn:
        if not stored_key_count(conn):
            return
        token, name = conn.execute(
            select(providers.c.api_key_encrypted, providers.c.name).where(providers.c.api_key_encrypted.is_not(None))
        ).first()
    try:
        cipher_for(settings).decrypt(token, name)
    except ProviderKeyError as exc:
        message = str(exc)
        if not message.startswith("CONSOLE_ENCRYPTION_KEY"):
            message = f"CONSOLE_ENCRYPTION_KEY: {message}"
        if "required" in message:
            message = "CONSOLE_ENCRYPTION_KEY: required: the app database holds encrypted provider keys"
        raise SettingsError(message) from None


def rotate(conn, old: KeyCipher, new: KeyCipher) -> int:
    """Re-encrypt every stored provider key from `old` to `new` inside `conn`'s transaction (all or none: a key
    `old` cannot decrypt raises ProviderKeyError before anything is written). Returns how many were re-encrypted."""
    rows = conn.execute(
        select(providers.c.name, providers.c.api_key_encrypted).where(providers.c.api_key_encrypted.is_not(None))
    ).all()
    fresh = {name: new.encrypt(old.decrypt(token, name)) for name, token in rows}
    for name, token in fresh.items():
        conn.execute(update(providers).where(providers.c.name == name).values(api_key_encrypted=token))
    return len(fresh)


def replace_generated_key(settings, new_key: str) -> bool:
    """After a rotation in demo mode without CONSOLE_ENCRYPTION_KEY: the generated key file gets the new key
    (written atomically, 0600). False when the key is the setting's (the operator changes the setting)."""
    if settings.CONSOLE_ENCRYPTION_KEY or not settings.demo_mode:
        return False
    path = data_dir_of(settings) / GENERATED_KEY_FILE
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        fh.write(new_key)
    os.replace(tmp, path)
    return True


def key_fingerprint(api_key: str | None) -> str | None:
    """A short one-way fingerprint of a key (16 hex of its SHA-256), kept in the LiteLLM credential's info so a plan
    can tell whether LiteLLM holds the key the console has, without either side ever revealing it."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16] if api_key else None


def mask(api_key: str | None) -> str:
    """How a stored key is shown: its prefix and last 4 characters (`sk-…9f3a`); short keys show nothing."""
    if not api_key:
        return ""
    if len(api_key) < 16:
        return "••••"
    cut = next((i + 1 for i, ch in enumerate(api_key[:7]) if ch in "-_"), 0)
    return f"{api_key[:cut]}…{api_key[-4:]}"
