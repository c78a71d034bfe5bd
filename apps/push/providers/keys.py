"""Key and encoding helpers: PEM loading with clear errors, base64url, P-256 points."""

from __future__ import annotations

import base64
import binascii
import hashlib
from functools import lru_cache

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from apps.core.errors import InvalidField

P256_POINT_BYTES = 65  # uncompressed: 0x04 || X (32) || Y (32)


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding; raises ValueError on anything else."""
    cleaned = text.strip()
    if not cleaned or any(c not in _B64URL_ALPHABET for c in cleaned.rstrip("=")):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(cleaned.rstrip("=") + "=" * (-len(cleaned.rstrip("=")) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


_B64URL_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def fingerprint(secret: str) -> str:
    """A short stable digest to key caches by a secret without keeping the secret as the key."""
    return hashlib.sha256(secret.encode()).hexdigest()[:32]


def _load_pem(text: str, field: str, what: str) -> PrivateKeyTypes:
    pem = text.strip()
    if not pem.startswith("-----BEGIN") or "PRIVATE KEY-----" not in pem:
        raise InvalidField(f"{what} must be a PEM private key (-----BEGIN PRIVATE KEY-----).", field=field)
    try:
        return serialization.load_pem_private_key(pem.encode(), password=None)
    except TypeError as exc:
        raise InvalidField(f"{what} must not be password-protected.", field=field) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InvalidField(f"{what} is not a readable PEM private key.", field=field) from exc


def _curve_name(key: PrivateKeyTypes) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return f"EC {key.curve.name}"
    if isinstance(key, rsa.RSAPrivateKey):
        return f"RSA {key.key_size}-bit"
    return type(key).__name__.removeprefix("_").replace("PrivateKey", "")


def load_p256_private_key(text: str, *, field: str, what: str) -> ec.EllipticCurvePrivateKey:
    """An EC P-256 private key from PEM (PKCS#8 or SEC1), or InvalidField saying what is wrong."""
    key = _load_pem(text, field, what)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InvalidField(
            f"{what} must be an EC P-256 (prime256v1) key, not {_curve_name(key)}.", field=field
        )
    return key


def load_rsa_private_key(text: str, *, field: str, what: str) -> rsa.RSAPrivateKey:
    key = _load_pem(text, field, what)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidField(f"{what} must be an RSA key, not {_curve_name(key)}.", field=field)
    if key.key_size < 2048:
        raise InvalidField(f"{what} must be at least 2048 bits (got {key.key_size}).", field=field)
    return key


@lru_cache(maxsize=256)
def cached_p256_key(pem: str) -> ec.EllipticCurvePrivateKey:
    """Loaded once per process per PEM (signing with a loaded key is cheap, loading is not)."""
    return load_p256_private_key(pem, field="private_key", what="The private key")


@lru_cache(maxsize=256)
def cached_rsa_key(pem: str) -> rsa.RSAPrivateKey:
    return load_rsa_private_key(pem, field="private_key", what="The private key")


def p256_private_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def rsa_private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def p256_public_point(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> bytes:
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def p256_public_from_point(point: bytes) -> ec.EllipticCurvePublicKey:
    """The public key of an uncompressed P-256 point; ValueError when it is not one."""
    if len(point) != P256_POINT_BYTES or point[0] != 0x04:
        raise ValueError("not an uncompressed P-256 point")
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
