"""The append-only, hash-chained audit log, and its verification together with the results' signatures.

Each entry's hash is ``sha256(prev_hash + canonical JSON of (seq, at, actor, action, detail))``; the first
entry's ``prev_hash`` is 64 zeros. Changing, removing or reordering any entry breaks every later link, as in
Haber S, Stornetta WS (1991), "How to time-stamp a digital document", J Cryptology 3:99-111.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from lai.portal.models import AuditEntry, Result
from lai.portal.results import canonical_json, verify_result

GENESIS = "0" * 64
WRITE_LOCK = threading.RLock()
"""Serialises the portal process's write transactions, so that audit entries get consecutive numbers."""


@contextlib.contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """Yield a session whose work is committed at the end (rolled back on error), one writer at a time."""
    with WRITE_LOCK, sessions.begin() as session:
        yield session


def entry_hash(prev_hash: str, seq: int, at: str, actor: str, action: str, detail: str) -> str:
    """Return the hash of one audit entry chained to ``prev_hash``."""
    body = canonical_json({"seq": seq, "at": at, "actor": actor, "action": action, "detail": detail})
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def record(session: Session, actor: str, action: str, **detail: Any) -> AuditEntry:
    """Append an entry to the chain (committed with the caller's transaction) and return it.

    ``actor`` is an account e-mail, ``admin`` for the CLI, or ``system``; ``detail`` holds ids and hashes
    only, never labels or secrets.
    """
    with WRITE_LOCK:
        if session.get_bind().dialect.name == "postgresql":
            # another process (the CLI beside the server) may be appending too: wait for it
            session.execute(sa.text("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE"))
        last = session.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).first()
        seq = 1 if last is None else last.seq + 1
        prev = GENESIS if last is None else last.hash
        at = datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds")
        text = canonical_json(detail)
        entry = AuditEntry(
            seq=seq,
            at=at,
            actor=actor,
            action=action,
            detail=text,
            prev_hash=prev,
            hash=entry_hash(prev, seq, at, actor, action, text),
        )
        session.add(entry)
        session.flush()
        return entry


@dataclass(frozen=True)
class AuditReport:
    """What :func:`verify` checked and every problem it found (empty when the chain and results are intact)."""

    entries: int
    results: int
    problems: tuple[str, ...]
    head: str

    @property
    def ok(self) -> bool:
        """Whether no problem was found."""
        return not self.problems


def verify(session: Session, secret: bytes) -> AuditReport:
    """Check every link of the audit chain and the HMAC of every stored result."""
    problems: list[str] = []
    prev = GENESIS
    entries = session.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq)).all()
    for expected_seq, entry in enumerate(entries, start=1):
        if entry.seq != expected_seq:
            problems.append(f"audit entry {expected_seq} is missing (next entry is {entry.seq})")
        if entry.prev_hash != prev:
            problems.append(
                f"audit entry {entry.seq}: prev_hash does not match the hash of the entry before it"
            )
        if entry.hash != entry_hash(
            entry.prev_hash, entry.seq, entry.at, entry.actor, entry.action, entry.detail
        ):
            problems.append(f"audit entry {entry.seq} ({entry.action}) was altered: its hash does not match")
        prev = entry.hash
    results = session.scalars(sa.select(Result).order_by(Result.id)).all()
    for result in results:
        if not verify_result(secret, result.payload, result.hmac_sha256):
            problems.append(f"result of submission {result.submission_id}: HMAC signature does not match")
    return AuditReport(entries=len(entries), results=len(results), problems=tuple(problems), head=prev)
