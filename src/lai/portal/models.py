"""The portal's database: people, releases, challenges, submissions, signed results and the audit chain.

SQLAlchemy 2 declarative tables that work on SQLite (the default, a file in the data folder) and on
PostgreSQL (any ``postgresql+psycopg://`` URL). Times are naive UTC ``datetime`` values.
"""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker


def utcnow() -> datetime.datetime:
    """Return the current UTC time without a time zone (how every portal time is stored)."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base of the portal's tables."""


class Team(Base):
    """A group of participants who submit together and share a quota."""

    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class User(Base):
    """An account: e-mail, display name, salted scrypt password hash, team, admin flag."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    password_hash: Mapped[str] = mapped_column(sa.String(300))
    team_id: Mapped[int | None] = mapped_column(sa.ForeignKey("teams.id"))
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """An API token: only its sha256 is stored, with its scopes and when it was revoked."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(sa.String(80))
    prefix: Mapped[str] = mapped_column(sa.String(16))
    token_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    scopes: Mapped[str] = mapped_column(sa.String(120))
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(default=None)


class Release(Base):
    """A published benchmark release: where its files live, its ground truth's sha256, its access policy."""

    __tablename__ = "releases"
    __table_args__ = (sa.UniqueConstraint("name", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    version: Mapped[str] = mapped_column(sa.String(40))
    folder: Mapped[str] = mapped_column(sa.String(500))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    licence: Mapped[str] = mapped_column(sa.String(80), default="")
    dua: Mapped[str] = mapped_column(sa.Text)
    auto_approve: Mapped[bool] = mapped_column(default=False)
    truth_sha256: Mapped[str] = mapped_column(sa.String(64))
    published_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class AccessRequest(Base):
    """One user's request for one release: ``pending`` until approved (or ``rejected``); DUA acceptance time."""

    __tablename__ = "access_requests"
    __table_args__ = (sa.UniqueConstraint("user_id", "release_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    release_id: Mapped[int] = mapped_column(sa.ForeignKey("releases.id"))
    purpose: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    dua_accepted_at: Mapped[datetime.datetime | None] = mapped_column(default=None)
    requested_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime.datetime | None] = mapped_column(default=None)


class Challenge(Base):
    """A challenge on one release; its phases hold the rules."""

    __tablename__ = "challenges"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    release_id: Mapped[int] = mapped_column(sa.ForeignKey("releases.id"))


class Phase(Base):
    """A phase: task, labels scored against, open/close times, metrics, ranking, quota and time limit."""

    __tablename__ = "phases"
    __table_args__ = (sa.UniqueConstraint("challenge_id", "slug"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(sa.ForeignKey("challenges.id"))
    slug: Mapped[str] = mapped_column(sa.String(80))
    title: Mapped[str] = mapped_column(sa.String(200))
    task: Mapped[str] = mapped_column(sa.String(20))
    level: Mapped[str] = mapped_column(sa.String(10), default="lesion")
    labels: Mapped[str] = mapped_column(sa.String(10))
    metrics: Mapped[str] = mapped_column(sa.String(200))
    rank_by: Mapped[str] = mapped_column(sa.String(40))
    per_team: Mapped[str] = mapped_column(sa.String(10), default="best")
    hidden_until_close: Mapped[bool] = mapped_column(default=False)
    opens_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    closes_at: Mapped[datetime.datetime | None] = mapped_column(default=None)
    quota: Mapped[int] = mapped_column(default=5)
    quota_period_s: Mapped[int] = mapped_column(default=86400)
    total_cap: Mapped[int | None] = mapped_column(default=None)
    time_limit_s: Mapped[float] = mapped_column(default=60.0)


class Submission(Base):
    """A predictions file: its sha256, status (``invalid``, ``scoring``, ``scored``, ``failed``), counted or not."""

    __tablename__ = "submissions"
    id: Mapped[int] = mapped_column(primary_key=True)
    phase_id: Mapped[int] = mapped_column(sa.ForeignKey("phases.id"), index=True)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(sa.String(200))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16))
    counted: Mapped[bool] = mapped_column(default=False)
    error: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, index=True)


class Result(Base):
    """A scored submission's aggregate metrics as canonical JSON, with the submission's sha256 and an HMAC."""

    __tablename__ = "results"
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(sa.ForeignKey("submissions.id"), unique=True)
    payload: Mapped[str] = mapped_column(sa.Text)
    hmac_sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """One link of the append-only audit chain: ``hash = sha256(prev_hash + canonical entry)``."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(sa.String(32))
    actor: Mapped[str] = mapped_column(sa.String(120))
    action: Mapped[str] = mapped_column(sa.String(40))
    detail: Mapped[str] = mapped_column(sa.Text)
    prev_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)


def database_url(data: str, url: str | None) -> str:
    """Return ``url``, or the default SQLite file ``<data>/portal.sqlite3`` when it is ``None``."""
    if url:
        return url
    from pathlib import Path

    return f"sqlite:///{(Path(data) / 'portal.sqlite3').resolve()}"


def connect(url: str) -> sessionmaker[sa.orm.Session]:
    """Create the tables if needed and return a session factory for the database at ``url``."""
    kwargs: dict[str, object] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = sa.create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        for statement in _append_only_statements(engine.dialect.name, connection):
            connection.execute(sa.text(statement))
    return sessionmaker(engine, expire_on_commit=False)


APPEND_ONLY: tuple[str, ...] = ("results", "audit_log")
"""Tables whose rows the database refuses to update or delete (triggers named ``<table>_append_only_*``)."""


def _append_only_statements(dialect: str, connection: sa.Connection) -> list[str]:
    """Return the statements that make :data:`APPEND_ONLY` tables refuse UPDATE and DELETE, if missing."""
    statements = []
    if dialect == "sqlite":
        for table in APPEND_ONLY:
            for action in ("update", "delete"):
                statements.append(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_append_only_{action} BEFORE {action.upper()} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
    elif dialect == "postgresql":
        statements.append(
            "CREATE OR REPLACE FUNCTION lai_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
        )
        existing = set(connection.execute(sa.text("SELECT tgname FROM pg_trigger")).scalars())
        for table in APPEND_ONLY:
            if f"{table}_append_only" not in existing:
                statements.append(
                    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION lai_append_only()"
                )
    return statements
