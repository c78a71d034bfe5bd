"""End-user tokens: generated, hashed and checked here only.

A salted SHA-256 and not a password hash: tokens are checked on every login of every device at
gateway rates, and generated ones carry 128 bits of entropy. Developer-chosen tokens are the
customer's responsibility (documented in docs/rest-api.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def token_generate() -> str:
    return secrets.token_hex(16)


def token_hash(*, token: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{token}".encode()).hexdigest()


def token_new_salt() -> str:
    return secrets.token_hex(16)


def token_matches(*, token: str, salt: str, expected_hash: str) -> bool:
    return hmac.compare_digest(token_hash(token=token, salt=salt), expected_hash)
