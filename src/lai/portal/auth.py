"""Passwords, API tokens, signed session cookies and the server secret.

Passwords are hashed with scrypt (Percival C, 2009, "Stronger key derivation via sequential memory-hard
functions", BSDCan) under a random per-user salt. API tokens are 32 random bytes shown once; the database
keeps only their sha256 (a token has 256 bits of entropy, so a fast hash cannot be brute-forced). Session
cookies and CSRF tokens are ``value.expiry.hmac`` strings signed with the server secret (HMAC: Krawczyk H,
Bellare M, Canetti R, 1997, RFC 2104).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from lai.files import write_bytes_atomic

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SCOPES: tuple[str, ...] = ("read", "download", "submit")
"""Scopes an API token can hold: read the API, download release files, submit predictions."""

TOKEN_PREFIX = "lai_"


def hash_password(password: str) -> str:
    """Return ``scrypt$N$r$p$salt$hash`` for ``password`` with a new random 16-byte salt."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Return whether ``password`` matches a :func:`hash_password` string (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=len(digest) // 2
    )
    return hmac.compare_digest(candidate.hex(), digest)


def new_token() -> str:
    """Return a new API token: ``lai_`` and 43 URL-safe characters (256 random bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Return the sha256 (hex) under which a token is stored and looked up."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse_scopes(text: str) -> list[str]:
    """Return the scopes of a comma-separated list, refusing unknown ones."""
    scopes = sorted({s.strip() for s in text.split(",") if s.strip()})
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        msg = f"Unknown or empty token scopes {unknown or text!r}: choose among {', '.join(SCOPES)}"
        raise ValueError(msg)
    return scopes


def load_secret(data: str | os.PathLike[str]) -> bytes:
    """Return the server secret: ``$LAI_PORTAL_SECRET``, else ``<data>/secret.key`` (created, mode 0600)."""
    env = os.environ.get("LAI_PORTAL_SECRET")
    if env:
        return env.encode()
    path = Path(data) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, secrets.token_hex(32).encode())
        path.chmod(0o600)
    return path.read_bytes().strip()


def sign(secret: bytes, message: bytes) -> str:
    """Return the hex HMAC-SHA256 of ``message`` under ``secret``."""
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def signed_value(secret: bytes, purpose: str, value: str, max_age_s: int) -> str:
    """Return ``value`` signed for ``purpose`` and valid for ``max_age_s`` seconds (cookie-safe text)."""
    expiry = str(int(time.time()) + max_age_s)
    body = base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")
    mac = sign(secret, f"{purpose}|{body}|{expiry}".encode())
    return f"{body}.{expiry}.{mac}"


def unsign_value(secret: bytes, purpose: str, text: str | None) -> str | None:
    """Return the value of a :func:`signed_value` string, or ``None`` if forged, malformed or expired."""
    if not text:
        return None
    try:
        body, expiry, mac = text.split(".")
        expired = int(expiry) < time.time()
    except ValueError:
        return None
    if expired or not hmac.compare_digest(mac, sign(secret, f"{purpose}|{body}|{expiry}".encode())):
        return None
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
