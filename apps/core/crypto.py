"""Encryption at rest for secrets we must be able to show again (AppSecret, push credentials).

The Fernet key is derived from ``settings.IMCLOUD["ENCRYPTION_KEY"]`` so that one setting rotates
it; rows encrypted under an older key need re-encryption (docs/operations.md).
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet

from apps.core.conf import setting_str


@lru_cache(maxsize=4)
def _fernet(key_material: str) -> Fernet:
    digest = hashlib.sha256(b"imcloud-at-rest:" + key_material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt_text(plain: str) -> str:
    return _fernet(setting_str("ENCRYPTION_KEY")).encrypt(plain.encode()).decode()


def decrypt_text(token: str) -> str:
    return _fernet(setting_str("ENCRYPTION_KEY")).decrypt(token.encode()).decode()
