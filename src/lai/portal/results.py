"""Signed results: canonical JSON of a scored submission's aggregate metrics and its HMAC-SHA256."""

from __future__ import annotations

import hmac
import json
from typing import Any

from lai.portal.auth import sign


class TamperedResultError(RuntimeError):
    """A stored result whose HMAC does not match its content."""


def canonical_json(obj: Any) -> str:
    """Return ``obj`` as JSON with sorted keys and no spaces (the form that is hashed and signed)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def sign_result(secret: bytes, payload: dict[str, Any]) -> tuple[str, str]:
    """Return ``(canonical JSON, hex HMAC-SHA256)`` of a result payload."""
    text = canonical_json(payload)
    return text, sign(secret, text.encode())


def verify_result(secret: bytes, text: str, mac: str) -> bool:
    """Return whether ``mac`` is the HMAC of ``text`` under ``secret``."""
    return hmac.compare_digest(sign(secret, text.encode()), mac)


def read_result(secret: bytes, text: str, mac: str, *, submission_id: int) -> dict[str, Any]:
    """Return a stored result's payload, raising :class:`TamperedResultError` if its signature fails."""
    if not verify_result(secret, text, mac):
        msg = f"Result of submission {submission_id} failed its HMAC check: the stored result was altered"
        raise TamperedResultError(msg)
    payload: dict[str, Any] = json.loads(text)
    return payload
