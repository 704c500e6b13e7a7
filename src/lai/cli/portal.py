"""Commands of the benchmark portal: serve, portal user/release/phase/audit."""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

from lai.cli.root import app, console, fail, parse_duration

portal_app = typer.Typer(
    help="Administer the benchmark portal: users, releases, phases, audit.", no_args_is_help=True
)
app.add_typer(portal_app, name="portal")
user_app = typer.Typer(help="Accounts.", no_args_is_help=True)
release_app = typer.Typer(help="Published releases.", no_args_is_help=True)
phase_app = typer.Typer(help="Challenge phases.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
portal_app.add_typer(user_app, name="user")
portal_app.add_typer(release_app, name="release")
portal_app.add_typer(phase_app, name="phase")
portal_app.add_typer(audit_app, name="audit")

DataOption = Annotated[
    Path,
    typer.Option(
        "--data", envvar="LAI_PORTAL_DATA", help="Portal data folder (releases, secret, SQLite database)."
    ),
]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="LAI_PORTAL_DB",
        help="Database URL (default: SQLite <data>/portal.sqlite3; e.g. postgresql+psycopg://user@host/db).",
    ),
]


def _sessions(data: Path, db: str | None) -> sessionmaker[Session]:
    from lai.portal.models import connect, database_url

    data.mkdir(parents=True, exist_ok=True)
    try:
        return connect(database_url(str(data), db))
    except Exception as error:  # SQLAlchemy raises many kinds for a bad URL or an unreachable server
        raise fail(
            f"cannot open the portal database {db or data / 'portal.sqlite3'}: {type(error).__name__}"
        ) from None


@app.command()
def serve(
    data: DataOption,
    db: DbOption = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
) -> None:
    """Run the benchmark portal (pages, JSON API at /api, OpenAPI at /openapi.json)."""
    import uvicorn

    from lai.portal import create_app

    _sessions(data, db)
    console.print(f"LAI portal on http://{host}:{port} (data {data})")
    uvicorn.run(create_app(data, db), host=host, port=port, log_level="info")


@user_app.command("add")
def user_add(
    email: Annotated[str, typer.Argument(help="E-mail address (the login).")],
    data: DataOption,
    db: DbOption = None,
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
    team: Annotated[
        str | None, typer.Option("--team", help="Team to create, or to join with --join.")
    ] = None,
    join: Annotated[bool, typer.Option("--join", help="Add to an existing team.")] = False,
    admin: Annotated[
        bool, typer.Option("--admin", help="Organiser: approves access, sees every file.")
    ] = False,
) -> None:
    """Add an account; the password comes from $LAI_PORTAL_PASSWORD or a hidden prompt."""
    from lai.portal import audit
    from lai.portal.accounts import AccountError, add_user

    password = os.environ.get("LAI_PORTAL_PASSWORD") or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    try:
        with audit.transaction(_sessions(data, db)) as session:
            user = add_user(
                session,
                email,
                name or email.split("@")[0],
                password,
                team=team,
                admin=admin,
                join_team=join,
                actor="admin",
            )
            console.print(f"user {user.id} {user.email}{' (admin)' if admin else ''}")
    except AccountError as error:
        raise fail(str(error)) from None


@release_app.command("publish")
def release_publish(
    folder: Annotated[
        Path, typer.Argument(help="Release folder written by `lai release` (public/ and private/).")
    ],
    data: DataOption,
    db: DbOption = None,
    auto_approve: Annotated[
        bool,
        typer.Option("--auto-approve", help="Grant access as soon as the data-use agreement is accepted."),
    ] = False,
    dua: Annotated[Path | None, typer.Option("--dua", help="Text file of the data-use agreement.")] = None,
) -> None:
    """Check a release folder, copy it into the portal and record it (ground truth's sha256 audited)."""
    from lai.portal import audit
    from lai.portal.releases import PublishError, publish_release

    if dua is not None and not dua.is_file():
        raise fail(f"{dua}: data-use agreement file not found")
    try:
        with audit.transaction(_sessions(data, db)) as session:
            release = publish_release(
                session, data, folder, auto_approve=auto_approve, dua=dua.read_text() if dua else None
            )
            console.print(
                f"release {release.id}: {release.name} {release.version} (ground truth {release.truth_sha256[:12]})"
            )
    except PublishError as error:
        raise fail(str(error)) from None


def _time(text: str | None, option: str) -> datetime.datetime | None:
    if text is None:
        return None
    try:
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"{option} {text!r}: use an ISO time such as 2026-12-01T12:00 (UTC)") from None
    return value.astimezone(datetime.UTC).replace(tzinfo=None) if value.tzinfo else value


@phase_app.command("open")
def phase_open(
    challenge: Annotated[str, typer.Argument(help="Challenge slug (created on first use).")],
    phase: Annotated[str, typer.Argument(help="Phase slug, e.g. sanity-check or final.")],
    release: Annotated[str, typer.Option("--release", help="Release as NAME:VERSION or its id.")],
    data: DataOption,
    db: DbOption = None,
    title: Annotated[str | None, typer.Option("--title", help="Phase title.")] = None,
    task: Annotated[str, typer.Option("--task", help="malignant or diagnosis.")] = "malignant",
    level: Annotated[str, typer.Option("--level", help="lesion, or case (malignant task).")] = "lesion",
    labels: Annotated[str, typer.Option("--labels", help="train (sanity check) or test (final).")] = "test",
    metrics: Annotated[str, typer.Option("--metrics", help="Comma-separated metric set.")] = "auc,lld,brier",
    rank_by: Annotated[str, typer.Option("--rank-by", help="A metric, mean_rank or median_rank.")] = "auc",
    per_team: Annotated[str, typer.Option("--per-team", help="best or latest submission per team.")] = "best",
    hidden: Annotated[bool, typer.Option("--hidden", help="Hide results until the phase closes.")] = False,
    opens: Annotated[
        str | None, typer.Option("--opens", help="Opening time, ISO (UTC); now by default.")
    ] = None,
    closes: Annotated[str | None, typer.Option("--closes", help="Closing time, ISO (UTC).")] = None,
    quota: Annotated[int, typer.Option("--quota", help="Counted submissions per team per period.")] = 5,
    period: Annotated[str, typer.Option("--period", help="Rolling quota period, e.g. 24h.")] = "24h",
    cap: Annotated[int | None, typer.Option("--cap", help="Total counted submissions per team.")] = None,
    time_limit: Annotated[str, typer.Option("--time-limit", help="Scoring time limit, e.g. 60s.")] = "60s",
) -> None:
    """Create or redefine a challenge phase (rules fixed once it has a submission)."""
    import sqlalchemy as sa

    from lai.portal import audit
    from lai.portal.challenges import ChallengeError, open_phase
    from lai.portal.models import Release

    with audit.transaction(_sessions(data, db)) as session:
        if release.isdigit():
            row = session.get(Release, int(release))
        else:
            name, _, version = release.partition(":")
            row = session.scalars(
                sa.select(Release).where(Release.name == name, Release.version == version)
            ).first()
        if row is None:
            raise fail(
                f"no published release {release!r} in {db or data}: publish it with `lai portal release publish`"
            )
        try:
            made = open_phase(
                session,
                release=row,
                challenge=challenge,
                phase=phase,
                title=title,
                task=task,
                level=level,
                labels=labels,
                metrics=metrics,
                rank_by=rank_by,
                per_team=per_team,
                hidden_until_close=hidden,
                opens_at=_time(opens, "--opens"),
                closes_at=_time(closes, "--closes"),
                quota=quota,
                quota_period_s=int(parse_duration(period)),
                total_cap=cap,
                time_limit_s=parse_duration(time_limit),
            )
        except ChallengeError as error:
            raise fail(f"phase {challenge}/{phase}: {error}") from None
        console.print(f"phase {made.id}: {challenge}/{phase} ({task}, {labels} labels)")


@audit_app.command("verify")
def audit_verify(data: DataOption, db: DbOption = None) -> None:
    """Check the audit chain and every stored result's HMAC; exit 1 on any problem."""
    from lai.portal.audit import verify
    from lai.portal.auth import load_secret

    with _sessions(data, db)() as session:
        report = verify(session, load_secret(data))
    for problem in report.problems:
        console.print(f"[red]{problem}[/]")
    if not report.ok:
        raise fail(f"audit verification failed: {len(report.problems)} problem(s) in {db or data}")
    console.print(
        f"audit chain intact: {report.entries} entries; {report.results} results with valid signatures"
    )
    console.print(f"chain head {report.head} (keep a copy elsewhere: a rewritten chain ends elsewhere)")
