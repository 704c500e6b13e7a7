"""Accounts, teams, API tokens and access requests (each change recorded in the audit log)."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lai.portal import audit
from lai.portal.auth import hash_password, new_token, parse_scopes, token_digest, verify_password
from lai.portal.models import AccessRequest, ApiToken, Release, Team, User, utcnow

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10


class AccountError(ValueError):
    """A registration, token or access request that cannot be done; the message says why."""


def add_user(
    session: Session,
    email: str,
    name: str,
    password: str,
    *,
    team: str | None = None,
    admin: bool = False,
    join_team: bool = False,
    actor: str = "system",
) -> User:
    """Create an account, and its team unless ``join_team`` lets it join an existing one."""
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise AccountError(f"Invalid e-mail address {email!r}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"Password too short: at least {MIN_PASSWORD} characters")
    if not name.strip():
        raise AccountError("Name is empty")
    if session.scalars(sa.select(User).where(User.email == email)).first() is not None:
        raise AccountError(f"An account for {email} exists already")
    team_row = None
    if team and team.strip():
        team_row = session.scalars(sa.select(Team).where(Team.name == team.strip())).first()
        if team_row is not None and not join_team:
            raise AccountError(f"Team {team.strip()!r} exists already: ask an organiser to add you to it")
        if team_row is None:
            team_row = Team(name=team.strip())
            session.add(team_row)
            session.flush()
    user = User(
        email=email,
        name=name.strip(),
        password_hash=hash_password(password),
        team_id=None if team_row is None else team_row.id,
        is_admin=admin,
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.add", user_id=user.id, team_id=user.team_id, admin=admin)
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """Return the user whose e-mail and password match, or ``None``."""
    user = session.scalars(sa.select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        verify_password(password, hash_password("timing-equaliser"))
        return None
    return user if verify_password(password, user.password_hash) else None


def create_token(session: Session, user: User, name: str, scopes: str) -> tuple[ApiToken, str]:
    """Create an API token; return its row and the clear token, which is shown once and never stored."""
    clear = new_token()
    row = ApiToken(
        user_id=user.id,
        name=name.strip()[:80] or "token",
        prefix=clear[:10],
        token_sha256=token_digest(clear),
        scopes=",".join(parse_scopes(scopes)),
    )
    session.add(row)
    session.flush()
    audit.record(session, user.email, "token.create", token_id=row.id, scopes=row.scopes)
    return row, clear


def revoke_token(session: Session, user: User, token_id: int) -> None:
    """Revoke one of the user's tokens."""
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise AccountError(f"No token {token_id} of yours")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(session, user.email, "token.revoke", token_id=row.id)


def token_user(session: Session, clear: str, scope: str) -> User | None:
    """Return the owner of a valid, unrevoked token holding ``scope``, else ``None``."""
    row = session.scalars(sa.select(ApiToken).where(ApiToken.token_sha256 == token_digest(clear))).first()
    if row is None or row.revoked_at is not None or scope not in row.scopes.split(","):
        return None
    return session.get(User, row.user_id)


def request_access(
    session: Session, user: User, release: Release, *, accept_dua: bool, purpose: str
) -> AccessRequest:
    """Record a request with the data-use agreement accepted; approve it at once if the release says so."""
    if not accept_dua:
        raise AccountError("The data-use agreement must be accepted to request access")
    row = session.scalars(
        sa.select(AccessRequest).where(
            AccessRequest.user_id == user.id, AccessRequest.release_id == release.id
        )
    ).first()
    if row is None:
        row = AccessRequest(user_id=user.id, release_id=release.id)
        session.add(row)
    if row.status == "approved":
        return row
    row.purpose = purpose.strip()[:2000]
    row.dua_accepted_at = utcnow()
    row.status = "pending"
    session.flush()
    audit.record(
        session, user.email, "access.request", request_id=row.id, release_id=release.id, dua_accepted=True
    )
    if release.auto_approve:
        decide(session, row, approve=True, actor="system")
    return row


def decide(session: Session, request: AccessRequest, *, approve: bool, actor: str) -> None:
    """Approve or reject a pending access request (an access grant is audited)."""
    request.status = "approved" if approve else "rejected"
    request.decided_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "access.grant" if approve else "access.reject",
        request_id=request.id,
        user_id=request.user_id,
        release_id=request.release_id,
    )


def has_access(session: Session, user: User | None, release: Release) -> bool:
    """Return whether ``user`` holds an approved request with the DUA accepted (admins always do)."""
    if user is None:
        return False
    if user.is_admin:
        return True
    row = session.scalars(
        sa.select(AccessRequest).where(
            AccessRequest.user_id == user.id, AccessRequest.release_id == release.id
        )
    ).first()
    return row is not None and row.status == "approved" and row.dua_accepted_at is not None
