"""The audit chain: every alteration, removal or reordering is found; passwords hashed; signed values."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from lai.portal import audit
from lai.portal.auth import hash_password, signed_value, unsign_value, verify_password
from lai.portal.models import AuditEntry, connect

SECRET = b"s" * 32


def chain(tmp_path: Path, n: int = 4) -> sa.orm.sessionmaker[sa.orm.Session]:
    sessions = connect(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    for i in range(n):
        with audit.transaction(sessions) as session:
            audit.record(session, "admin", "download", path=f"images/c{i}/t2w.nii.gz")
    return sessions


def test_intact_chain_verifies(tmp_path: Path) -> None:
    sessions = chain(tmp_path)
    with sessions() as session:
        report = audit.verify(session, SECRET)
    assert report.ok and report.entries == 4
    with sessions() as session:
        last = session.get(AuditEntry, 4)
        assert last is not None and report.head == last.hash


def test_the_database_refuses_to_change_or_remove_audit_entries(tmp_path: Path) -> None:
    sessions = chain(tmp_path)
    for statement in (
        "UPDATE audit_log SET actor = 'x' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 4",
    ):
        with (
            pytest.raises(sa.exc.DatabaseError, match="audit_log is append-only"),
            sessions.begin() as session,
        ):
            session.execute(sa.text(statement))


def unguard(sessions: sa.orm.sessionmaker[sa.orm.Session]) -> None:
    """Drop the append-only triggers, as someone with write access to the database file could."""
    with sessions.begin() as session:
        for action in ("update", "delete"):
            session.execute(sa.text(f"DROP TRIGGER audit_log_append_only_{action}"))


def test_altered_detail_breaks_its_entry(tmp_path: Path) -> None:
    sessions = chain(tmp_path)
    unguard(sessions)
    with sessions.begin() as session:
        session.get(AuditEntry, 2).detail = '{"path":"images/other.nii.gz"}'  # type: ignore[union-attr]
    with sessions() as session:
        problems = audit.verify(session, SECRET).problems
    assert problems == ("audit entry 2 (download) was altered: its hash does not match",)


def test_removed_entry_is_reported(tmp_path: Path) -> None:
    sessions = chain(tmp_path)
    unguard(sessions)
    with sessions.begin() as session:
        session.execute(sa.delete(AuditEntry).where(AuditEntry.seq == 3))
    with sessions() as session:
        problems = audit.verify(session, SECRET).problems
    assert "audit entry 3 is missing (next entry is 4)" in problems
    assert "audit entry 4: prev_hash does not match the hash of the entry before it" in problems


def test_passwords_are_salted_scrypt_hashes() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second and first.startswith("scrypt$") and "correct horse" not in first
    assert verify_password("correct horse", first) and not verify_password("correct horsE", first)


def test_signed_values_refuse_forgery_and_expiry() -> None:
    value = signed_value(SECRET, "session", "42", 60)
    assert unsign_value(SECRET, "session", value) == "42"
    assert unsign_value(b"other" * 8, "session", value) is None
    assert unsign_value(SECRET, "csrf", value) is None
    assert unsign_value(SECRET, "session", signed_value(SECRET, "session", "42", -1)) is None
    body, expiry, mac = value.split(".")
    assert unsign_value(SECRET, "session", f"{body}.{int(expiry) + 999}.{mac}") is None


def test_postgresql_refuses_to_change_results_and_audit_entries(postgres_url: str) -> None:
    sessions = connect(postgres_url)
    connect(postgres_url)  # a second start (the CLI beside the server) finds the triggers in place
    with audit.transaction(sessions) as session:
        audit.record(session, "admin", "release.publish", release_id=1)
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE results"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), sessions.begin() as session:
            session.execute(sa.text(statement))
    with sessions() as session:
        assert audit.verify(session, SECRET).ok
    sessions.kw["bind"].dispose()
