"""Challenges and phases: opening a phase, taking a submission (checks, quota, scoring) and its board."""

from __future__ import annotations

import datetime
import functools
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from lai import __version__
from lai.files import sha256_bytes
from lai.portal import audit
from lai.portal.leaderboard import AGGREGATES, Entry, Row, leaderboard
from lai.portal.models import Challenge, Phase, Release, Result, Submission, Team, User, utcnow
from lai.portal.results import read_result, sign_result
from lai.portal.scoring import (
    METRICS,
    TASKS,
    ScoringTimeout,
    ScoringWorker,
    SubmissionError,
    evaluate,
    phase_ids,
    validate_predictions,
)

log = logging.getLogger("lai.portal")
_QUOTA_LOCK = threading.Lock()
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class ChallengeError(ValueError):
    """A phase definition or a submission that is refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def open_phase(
    session: Session,
    *,
    release: Release,
    challenge: str,
    phase: str,
    title: str | None = None,
    task: str = "malignant",
    level: str = "lesion",
    labels: str = "test",
    metrics: str = "auc,lld,brier",
    rank_by: str = "auc",
    per_team: str = "best",
    hidden_until_close: bool = False,
    opens_at: datetime.datetime | None = None,
    closes_at: datetime.datetime | None = None,
    quota: int = 5,
    quota_period_s: int = 86400,
    total_cap: int | None = None,
    time_limit_s: float = 60.0,
    actor: str = "admin",
) -> Phase:
    """Create (or redefine, while it has no submission) a phase of a challenge on ``release`` (audited)."""
    names = [m.strip() for m in metrics.split(",") if m.strip()]
    problems = []
    if task not in TASKS:
        problems.append(f"task {task!r} is not one of {', '.join(TASKS)}")
    if level not in ("lesion", "case") or (level == "case" and task != "malignant"):
        problems.append("level must be 'lesion', or 'case' for the malignant task")
    if labels not in ("train", "test"):
        problems.append("labels must be 'train' (sanity check) or 'test' (final)")
    if not names or any(m not in METRICS for m in names):
        problems.append(f"metrics {metrics!r}: choose among {', '.join(METRICS)}")
    if rank_by not in (*names, *AGGREGATES):
        problems.append(f"rank_by {rank_by!r} must be one of the phase's metrics or {' / '.join(AGGREGATES)}")
    if per_team not in ("best", "latest"):
        problems.append("per_team must be 'best' or 'latest'")
    if quota < 1 or quota_period_s <= 0 or (total_cap is not None and total_cap < 1) or time_limit_s <= 0:
        problems.append("quota, period, total cap and time limit must be positive")
    if closes_at is not None and opens_at is not None and closes_at <= opens_at:
        problems.append("closes_at must be after opens_at")
    if problems:
        raise ChallengeError("; ".join(problems))
    challenge_row = session.scalars(sa.select(Challenge).where(Challenge.slug == challenge)).first()
    if challenge_row is None:
        challenge_row = Challenge(
            slug=challenge, title=challenge.replace("-", " ").title(), release_id=release.id
        )
        session.add(challenge_row)
        session.flush()
    elif challenge_row.release_id != release.id:
        raise ChallengeError(f"challenge {challenge!r} is on another release (id {challenge_row.release_id})")
    row = session.scalars(
        sa.select(Phase).where(Phase.challenge_id == challenge_row.id, Phase.slug == phase)
    ).first()
    if (
        row is not None
        and session.scalars(sa.select(Submission.id).where(Submission.phase_id == row.id)).first()
    ):
        raise ChallengeError(f"phase {challenge}/{phase} has submissions: its rules can no longer change")
    if row is None:
        row = Phase(challenge_id=challenge_row.id, slug=phase)
        session.add(row)
    row.title = title or phase.replace("-", " ").title()
    row.task, row.level, row.labels = task, level, labels
    row.metrics, row.rank_by, row.per_team = ",".join(names), rank_by, per_team
    row.hidden_until_close = hidden_until_close
    row.opens_at = opens_at or utcnow()
    row.closes_at = closes_at
    row.quota, row.quota_period_s, row.total_cap, row.time_limit_s = (
        quota,
        quota_period_s,
        total_cap,
        time_limit_s,
    )
    session.flush()
    audit.record(
        session,
        actor,
        "phase.open",
        phase_id=row.id,
        challenge=challenge,
        phase=phase,
        labels=labels,
        task=task,
        level=level,
        release_id=release.id,
        truth_sha256=release.truth_sha256,
    )
    return row


def is_open(phase: Phase, now: datetime.datetime | None = None) -> bool:
    """Return whether a phase takes submissions at ``now``."""
    now = now or utcnow()
    return phase.opens_at <= now and (phase.closes_at is None or now < phase.closes_at)


def results_hidden(phase: Phase, now: datetime.datetime | None = None) -> bool:
    """Return whether a phase's scores are still hidden (hidden until close, and not yet closed)."""
    now = now or utcnow()
    return phase.hidden_until_close and (phase.closes_at is None or now < phase.closes_at)


@functools.lru_cache(maxsize=64)
def _ids(folder: str, labels: str, level: str) -> tuple[str, ...]:
    return tuple(phase_ids(Path(folder) / "public", labels, level))


@dataclass(frozen=True)
class QuotaState:
    """How many counted submissions a team has used in the rolling period and in total, and when a slot frees."""

    used_period: int
    quota: int
    used_total: int
    total_cap: int | None
    next_slot: datetime.datetime | None


def quota_state(
    session: Session, phase: Phase, team_id: int, now: datetime.datetime | None = None
) -> QuotaState:
    """Return a team's quota use in a phase (only counted submissions: failed and invalid ones are free)."""
    now = now or utcnow()
    since = now - datetime.timedelta(seconds=phase.quota_period_s)
    counted = sa.select(Submission.created_at).where(
        Submission.phase_id == phase.id, Submission.team_id == team_id, Submission.counted.is_(True)
    )
    recent = sorted(session.scalars(counted.where(Submission.created_at > since)).all())
    total = session.scalar(sa.select(sa.func.count()).select_from(counted.subquery())) or 0
    next_slot = (
        recent[0] + datetime.timedelta(seconds=phase.quota_period_s) if len(recent) >= phase.quota else None
    )
    return QuotaState(len(recent), phase.quota, int(total), phase.total_cap, next_slot)


def submit(
    sessions: sessionmaker[Session],
    worker: ScoringWorker,
    secret: bytes,
    *,
    phase_id: int,
    user_id: int,
    filename: str,
    data: bytes,
) -> Submission:
    """Check, count and score one predictions file; return its submission row.

    A file that fails the checks is stored as ``invalid`` with every problem and is not counted. A valid
    file is counted against the team's quota, then scored in the worker process within the phase's time
    limit; a failed or timed-out scoring is marked ``failed`` and given back to the quota.

    Raises
    ------
    ChallengeError
        Phase closed (409), no team (403), quota or total cap used up (429), file too large (413).
    """
    filename = Path(filename or "predictions.csv").name[:200]
    with sessions() as session:
        phase = session.get(Phase, phase_id)
        user = session.get(User, user_id)
        if phase is None or user is None:
            raise ChallengeError(f"no phase {phase_id}", 404)
        challenge = session.get(Challenge, phase.challenge_id)
        release = session.get(Release, challenge.release_id) if challenge else None
        assert release is not None
        if not is_open(phase):
            raise ChallengeError(f"phase {challenge.slug}/{phase.slug} is not open for submissions", 409)  # type: ignore[union-attr]
        if user.team_id is None:
            raise ChallengeError("your account has no team: an organiser must add you to one", 403)
        task, level, labels, metrics = phase.task, phase.level, phase.labels, phase.metrics.split(",")
        folder, time_limit, team_id = release.folder, phase.time_limit_s, user.team_id
        actor = user.email
    if len(data) > MAX_UPLOAD_BYTES:
        raise ChallengeError(f"{filename}: {len(data)} bytes, more than the limit of {MAX_UPLOAD_BYTES}", 413)
    digest = sha256_bytes(data)
    ids = _ids(folder, labels, level)
    try:
        proba = validate_predictions(data, filename, ids, task, level)
    except SubmissionError as error:
        with audit.transaction(sessions) as session:
            row = Submission(
                phase_id=phase_id,
                team_id=team_id,
                user_id=user_id,
                filename=filename,
                sha256=digest,
                status="invalid",
                counted=False,
                error="; ".join(error.problems),
            )
            session.add(row)
            session.flush()
            audit.record(
                session, actor, "submission.invalid", submission_id=row.id, phase_id=phase_id, sha256=digest
            )
        log.info("submission %s to phase %s invalid (not counted)", row.id, phase_id)
        return row
    with _QUOTA_LOCK, audit.transaction(sessions) as session:
        phase = session.get(Phase, phase_id)
        assert phase is not None
        state = quota_state(session, phase, team_id)
        if state.total_cap is not None and state.used_total >= state.total_cap:
            raise ChallengeError(
                f"your team has used all {state.total_cap} submissions allowed in this phase", 429
            )
        if state.used_period >= state.quota:
            raise ChallengeError(
                f"your team has used its {state.quota} submissions per {_period(phase.quota_period_s)}; the next "
                f"slot frees at {state.next_slot:%Y-%m-%d %H:%M:%S} UTC",
                429,
            )
        row = Submission(
            phase_id=phase_id,
            team_id=team_id,
            user_id=user_id,
            filename=filename,
            sha256=digest,
            status="scoring",
            counted=True,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor,
            "submission",
            submission_id=row.id,
            phase_id=phase_id,
            team_id=team_id,
            sha256=digest,
        )
    submission_id = row.id
    try:
        scores = worker.run(evaluate, (folder, labels, task, level, ids, proba, metrics), time_limit)
    except ScoringTimeout as error:
        return _fail(sessions, submission_id, str(error))
    except Exception as error:  # the worker's message may quote reference data: log only its type
        log.error("scoring of submission %s failed (%s)", submission_id, type(error).__name__)
        return _fail(sessions, submission_id, "scoring failed on the server; this attempt is not counted")
    payload = {
        "submission_id": submission_id,
        "submission_sha256": digest,
        "phase_id": phase_id,
        "team_id": team_id,
        "n": len(ids),
        "metrics": scores,
        "truth": labels,
        "lai_version": __version__,
        "scored_at": utcnow().isoformat(timespec="seconds"),
    }
    text, mac = sign_result(secret, payload)
    with audit.transaction(sessions) as session:
        session.add(Result(submission_id=submission_id, payload=text, hmac_sha256=mac))
        stored = session.get(Submission, submission_id)
        assert stored is not None
        stored.status = "scored"
        audit.record(session, "system", "result", submission_id=submission_id, sha256=digest, hmac=mac)
    log.info("submission %s to phase %s scored", submission_id, phase_id)
    return stored


def _fail(sessions: sessionmaker[Session], submission_id: int, message: str) -> Submission:
    with audit.transaction(sessions) as session:
        row = session.get(Submission, submission_id)
        assert row is not None
        row.status, row.counted, row.error = "failed", False, message
        audit.record(session, "system", "submission.failed", submission_id=submission_id)
    log.info("submission %s failed (not counted)", submission_id)
    return row


def _period(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400} day(s)"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hour(s)"
    return f"{seconds} s"


def submission_result(session: Session, secret: bytes, submission: Submission) -> dict[str, object] | None:
    """Return a submission's verified result payload (``TamperedResultError`` if altered), or ``None``."""
    row = session.scalars(sa.select(Result).where(Result.submission_id == submission.id)).first()
    if row is None:
        return None
    return read_result(secret, row.payload, row.hmac_sha256, submission_id=submission.id)


def phase_board(session: Session, secret: bytes, phase: Phase) -> list[Row]:
    """Return a phase's leaderboard rows from its verified results (a tampered result raises)."""
    query = (
        sa.select(Submission.id, Submission.created_at, Team.name, Result.payload, Result.hmac_sha256)
        .join(Result, Result.submission_id == Submission.id)
        .join(Team, Team.id == Submission.team_id)
        .where(Submission.phase_id == phase.id, Submission.status == "scored")
    )
    entries = []
    for submission_id, created_at, team, payload, mac in session.execute(query).all():
        result = read_result(secret, payload, mac, submission_id=submission_id)
        entries.append(
            Entry(
                team=team,
                submission_id=submission_id,
                created_at=created_at.isoformat(),
                metrics=dict(result["metrics"]),
            )
        )
    return leaderboard(entries, phase.metrics.split(","), phase.rank_by, phase.per_team)
