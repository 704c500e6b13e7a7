"""The portal's FastAPI application: server-rendered pages (Jinja2) and a JSON API under ``/api``.

Pages authenticate with a signed session cookie and protect every form post with a CSRF token (double
submit: a random cookie repeated in a hidden field). The API takes ``Authorization: Bearer <token>`` with
the route's scope (``read``, ``download``, ``submit``); API reads also accept the session cookie so that
the pages' download links work. The OpenAPI spec is at ``/openapi.json`` (no browser view: it would load scripts from a CDN).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, FastAPI, File, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from lai import __version__
from lai.portal import accounts, audit
from lai.portal.accounts import AccountError
from lai.portal.auth import load_secret, signed_value, unsign_value
from lai.portal.challenges import (
    ChallengeError,
    is_open,
    phase_board,
    quota_state,
    results_hidden,
    submission_result,
    submit,
)
from lai.portal.models import (
    AccessRequest,
    ApiToken,
    Challenge,
    Phase,
    Release,
    Submission,
    Team,
    User,
    connect,
    database_url,
    utcnow,
)
from lai.portal.releases import release_files
from lai.portal.results import TamperedResultError
from lai.portal.scoring import TASKS, ScoringWorker, id_column

log = logging.getLogger("lai.portal")
SESSION_COOKIE, CSRF_COOKIE = "lai_session", "lai_csrf"
SESSION_AGE_S = 12 * 3600
TEMPLATES = Path(__file__).parent / "templates"
BOARD_TTL_S = 1.0
"""Longest time a leaderboard is served from memory before it is read, verified and ranked again."""


@dataclass
class Portal:
    """What the routes share: data folder, session factory, server secret and scoring worker."""

    data: Path
    sessions: sessionmaker[Session]
    secret: bytes
    worker: ScoringWorker
    boards: dict[int, tuple[float, bytes]] = field(default_factory=dict)
    board_locks: dict[int, asyncio.Lock] = field(default_factory=dict)


def create_app(
    data: str | Path, db_url: str | None = None, *, worker: ScoringWorker | None = None
) -> FastAPI:
    """Return the portal application serving the data folder ``data`` with the database at ``db_url``.

    Examples
    --------
    >>> app = create_app("/srv/lai-portal")  # doctest: +SKIP
    >>> import uvicorn; uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
    """
    data = Path(data)
    data.mkdir(parents=True, exist_ok=True)
    portal = Portal(
        data, connect(database_url(str(data), db_url)), load_secret(data), worker or ScoringWorker()
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # warm the scoring process in the background: serving starts at once, the first scoring waits for it
        threading.Thread(target=portal.worker.start, name="lai-scoring-start", daemon=True).start()
        try:
            yield
        finally:
            portal.worker.close()

    app = FastAPI(
        title="LAI benchmark portal",
        version=__version__,
        description="Benchmark releases of liver-lesion MRI with hidden test labels, submissions and leaderboards.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.portal = portal
    _add_api(app, portal)
    _add_pages(app, portal)
    return app


# --- Shared helpers ---


def _session(request: Request) -> Any:
    with request.app.state.portal.sessions() as session:
        yield session


DB = Annotated[Session, Depends(_session)]


def _cookie_user(request: Request, session: Session) -> User | None:
    value = unsign_value(request.app.state.portal.secret, "session", request.cookies.get(SESSION_COOKIE))
    return session.get(User, int(value)) if value and value.isdigit() else None


def _api_user(request: Request, session: Session, scope: str, *, cookie: bool = True) -> User:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        user = accounts.token_user(session, header[7:].strip(), scope)
        if user is None:
            raise HTTPException(
                401, f"invalid, revoked or out-of-scope token (this route needs scope '{scope}')"
            )
        return user
    user = _cookie_user(request, session) if cookie else None
    if user is None:
        raise HTTPException(401, "authentication required: Authorization: Bearer <token>")
    return user


def _release(session: Session, release_id: int) -> Release:
    release = session.get(Release, release_id)
    if release is None:
        raise HTTPException(404, f"no release {release_id}")
    return release


def _phase(session: Session, phase_id: int) -> tuple[Phase, Challenge, Release]:
    phase = session.get(Phase, phase_id)
    if phase is None:
        raise HTTPException(404, f"no phase {phase_id}")
    challenge = session.get(Challenge, phase.challenge_id)
    assert challenge is not None
    return phase, challenge, _release(session, challenge.release_id)


def _phase_json(phase: Phase, challenge: Challenge) -> dict[str, Any]:
    return {
        "id": phase.id,
        "challenge": challenge.slug,
        "phase": phase.slug,
        "title": phase.title,
        "task": phase.task,
        "level": phase.level,
        "id_column": id_column(phase.level),
        "columns": [id_column(phase.level), *(f"proba_{c}" for c in TASKS[phase.task])],
        "labels": phase.labels,
        "metrics": phase.metrics.split(","),
        "rank_by": phase.rank_by,
        "per_team": phase.per_team,
        "hidden_until_close": phase.hidden_until_close,
        "opens_at": phase.opens_at.isoformat(),
        "closes_at": phase.closes_at.isoformat() if phase.closes_at else None,
        "open": is_open(phase),
        "quota": phase.quota,
        "quota_period_s": phase.quota_period_s,
        "total_cap": phase.total_cap,
        "time_limit_s": phase.time_limit_s,
    }


def _board_json(session: Session, portal: Portal, phase: Phase) -> dict[str, Any]:
    return dict(json.loads(_board_bytes(session, portal, phase)))


def _board_bytes(session: Session, portal: Portal, phase: Phase) -> bytes:
    """Return the phase's leaderboard as JSON bytes, verified and ranked anew."""
    if results_hidden(phase):
        hidden = {
            "phase_id": phase.id,
            "hidden": True,
            "rows": [],
            "message": "results are hidden until the phase closes",
        }
        return json.dumps(hidden).encode()
    rows = phase_board(session, portal.secret, phase)
    board = {
        "phase_id": phase.id,
        "hidden": False,
        "rank_by": phase.rank_by,
        "metrics": phase.metrics.split(","),
        "rows": [
            {
                "rank": r.rank,
                "team": r.entry.team,
                "submission_id": r.entry.submission_id,
                "submitted_at": r.entry.created_at,
                "metrics": r.entry.metrics,
                "score": r.score,
            }
            for r in rows
        ],
    }
    return json.dumps(board).encode()


def _submission_json(
    session: Session, portal: Portal, submission: Submission, phase: Phase
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": submission.id,
        "phase_id": submission.phase_id,
        "filename": submission.filename,
        "sha256": submission.sha256,
        "status": submission.status,
        "counted": submission.counted,
        "errors": submission.error.split("; ") if submission.error else [],
        "submitted_at": submission.created_at.isoformat(),
        "metrics": None,
        "hidden": False,
    }
    if submission.status == "scored":
        if results_hidden(phase):
            body["hidden"] = True
        else:
            result = submission_result(session, portal.secret, submission)
            body["metrics"] = None if result is None else result["metrics"]
    return body


def _file(portal: Portal, session: Session, release: Release, user: User, path: str) -> FileResponse:
    if not accounts.has_access(session, user, release):
        raise HTTPException(403, f"no approved access to release {release.name} {release.version}")
    files = release_files(release.folder)
    if path not in files:  # only listed files: no traversal, no private folder
        raise HTTPException(404, f"release {release.name} {release.version} has no public file {path!r}")
    digest = files[path]
    with audit.transaction(portal.sessions) as write:
        audit.record(write, user.email, "download", release_id=release.id, path=path, sha256=digest)
    return FileResponse(
        Path(release.folder) / "public" / path,
        filename=Path(path).name,
        headers={
            "ETag": f'"{digest}"',
            "X-Checksum-SHA256": digest,
            "Repr-Digest": f"sha-256=:{base64.b64encode(bytes.fromhex(digest)).decode()}:",
        },
    )


# --- JSON API ---


def _add_api(app: FastAPI, portal: Portal) -> None:
    @app.exception_handler(TamperedResultError)
    async def _tampered(request: Request, error: TamperedResultError) -> Response:
        log.warning("integrity failure: %s", error)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(error)}, status_code=500)
        return _render(
            request, "message.html", {"title": "Integrity check failed", "message": str(error)}, 500
        )

    @app.get("/api/releases", tags=["releases"])
    def list_releases(session: DB) -> list[dict[str, Any]]:
        """Published releases."""
        rows = session.scalars(sa.select(Release).order_by(Release.id)).all()
        return [
            {
                "id": r.id,
                "name": r.name,
                "version": r.version,
                "description": r.description,
                "licence": r.licence,
                "auto_approve": r.auto_approve,
            }
            for r in rows
        ]

    @app.post("/api/releases/{release_id}/access", tags=["releases"])
    def api_request_access(
        release_id: int, request: Request, session: DB, accept_dua: bool = False, purpose: str = ""
    ) -> dict[str, Any]:
        """Request access to a release, accepting its data-use agreement (token scope ``read``)."""
        user_id = _api_user(request, session, "read", cookie=False).id
        with audit.transaction(portal.sessions) as write:
            user = write.get(User, user_id)
            assert user is not None
            try:
                row = accounts.request_access(
                    write, user, _release(write, release_id), accept_dua=accept_dua, purpose=purpose
                )
            except AccountError as error:
                raise HTTPException(400, str(error)) from None
            return {"release_id": release_id, "status": row.status}

    @app.get("/api/releases/{release_id}/files", tags=["downloads"])
    def list_files(release_id: int, request: Request, session: DB) -> list[dict[str, Any]]:
        """Public files of a release with their sha256 (needs approved access; scope ``download``)."""
        user = _api_user(request, session, "download")
        release = _release(session, release_id)
        if not accounts.has_access(session, user, release):
            raise HTTPException(403, f"no approved access to release {release.name} {release.version}")
        public = Path(release.folder) / "public"
        return [
            {
                "path": p,
                "sha256": d,
                "size": (public / p).stat().st_size,
                "url": f"/api/releases/{release_id}/files/{p}",
            }
            for p, d in release_files(release.folder).items()
        ]

    @app.get("/api/releases/{release_id}/files/{path:path}", tags=["downloads"])
    def download(release_id: int, path: str, request: Request, session: DB) -> FileResponse:
        """One public file; resumable with ``Range``; sha256 in ``ETag`` and ``X-Checksum-SHA256``."""
        user = _api_user(request, session, "download")
        return _file(portal, session, _release(session, release_id), user, path)

    @app.get("/api/phases", tags=["challenges"])
    def list_phases(session: DB) -> list[dict[str, Any]]:
        """Every phase of every challenge with its rules."""
        rows = session.execute(sa.select(Phase, Challenge).join(Challenge).order_by(Phase.id)).all()
        return [_phase_json(p, c) for p, c in rows]

    @app.get("/api/phases/{phase_id}/leaderboard", tags=["challenges"])
    async def api_leaderboard(phase_id: int) -> Response:
        """A phase's leaderboard (aggregate metrics only; empty while hidden until close).

        Served from memory for at most ``BOARD_TTL_S`` seconds (dropped at once when this server stores
        a submission of the phase); every recomputation re-verifies every result's signature. While one
        request recomputes an expired board, the others get the previous one rather than queueing behind
        it (a board dropped for a new submission is never served again).
        """
        cached = portal.boards.get(phase_id)
        if cached is not None and cached[0] > time.monotonic():
            return Response(cached[1], media_type="application/json")
        lock = portal.board_locks.setdefault(phase_id, asyncio.Lock())
        if cached is not None and lock.locked():
            return Response(cached[1], media_type="application/json")

        def compute() -> bytes:
            with portal.sessions() as session:
                phase, _, _ = _phase(session, phase_id)
                return _board_bytes(session, portal, phase)

        # one recomputation at a time per phase: concurrent readers wait for it instead of repeating it
        async with lock:
            cached = portal.boards.get(phase_id)
            if cached is not None and cached[0] > time.monotonic():
                return Response(cached[1], media_type="application/json")
            body = await run_in_threadpool(compute)
            portal.boards[phase_id] = (time.monotonic() + BOARD_TTL_S, body)
        return Response(body, media_type="application/json")

    @app.post("/api/phases/{phase_id}/submissions", tags=["challenges"], status_code=201)
    async def api_submit(
        phase_id: int, request: Request, file: Annotated[UploadFile, File()]
    ) -> JSONResponse:
        """Submit a predictions CSV (scope ``submit``): 201 scored, 422 invalid (not counted), 429 quota."""
        data = await file.read()
        with portal.sessions() as session:
            user = _api_user(request, session, "submit", cookie=False)
            _, _, release = _phase(session, phase_id)
            if not accounts.has_access(session, user, release):
                raise HTTPException(403, f"no approved access to release {release.name} {release.version}")
        try:
            row = await run_in_threadpool(
                submit,
                portal.sessions,
                portal.worker,
                portal.secret,
                phase_id=phase_id,
                user_id=user.id,
                filename=file.filename or "predictions.csv",
                data=data,
            )
        except ChallengeError as error:
            raise HTTPException(error.status, str(error)) from None
        portal.boards.pop(phase_id, None)
        with portal.sessions() as session:
            phase, _, _ = _phase(session, phase_id)
            body = _submission_json(session, portal, row, phase)
        status = {"invalid": 422, "failed": 500}.get(row.status, 201)
        return JSONResponse(body, status_code=status)

    @app.get("/api/submissions/{submission_id}", tags=["challenges"])
    def api_submission(submission_id: int, request: Request, session: DB) -> dict[str, Any]:
        """One of your team's submissions: status, precise errors, metrics (unless hidden)."""
        user = _api_user(request, session, "read")
        row = session.get(Submission, submission_id)
        if row is None or row.team_id != user.team_id:
            raise HTTPException(404, f"no submission {submission_id} of your team")
        phase, _, _ = _phase(session, row.phase_id)
        return _submission_json(session, portal, row, phase)


# --- Pages ---

templates = Jinja2Templates(directory=str(TEMPLATES))


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    csrf = (
        request.cookies.get(CSRF_COOKIE) or getattr(request.state, "csrf", None) or secrets.token_urlsafe(24)
    )
    request.state.csrf = csrf
    with request.app.state.portal.sessions() as session:
        user = _cookie_user(request, session)
        base = {"user": user, "csrf": csrf, "version": __version__}
        response = templates.TemplateResponse(request, name, {**base, **context}, status_code=status)
    if request.cookies.get(CSRF_COOKIE) != csrf:
        response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict")
    return response


async def _form(request: Request) -> dict[str, Any]:
    """Return the posted form after checking its CSRF token against the cookie (403 otherwise)."""
    form = await request.form()
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(str(form.get("csrf", "")), cookie):
        raise HTTPException(403, "invalid or missing CSRF token: reload the page and try again")
    return dict(form)


def _login_required(request: Request, session: Session) -> User:
    user = _cookie_user(request, session)
    if user is None:
        raise HTTPException(401, "please log in")
    return user


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _add_pages(app: FastAPI, portal: Portal) -> None:
    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, error: HTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse(
                {"detail": error.detail}, status_code=error.status_code, headers=error.headers
            )
        if error.status_code == 401:
            return _redirect(f"/login?next={request.url.path}")
        return _render(
            request,
            "message.html",
            {"title": f"Error {error.status_code}", "message": error.detail},
            error.status_code,
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request, session: DB) -> HTMLResponse:
        releases = session.scalars(sa.select(Release).order_by(Release.id)).all()
        challenges = session.scalars(sa.select(Challenge).order_by(Challenge.id)).all()
        return _render(request, "index.html", {"releases": releases, "challenges": challenges})

    @app.get("/register", response_class=HTMLResponse, include_in_schema=False)
    def register_page(request: Request) -> HTMLResponse:
        return _render(request, "register.html", {})

    @app.post("/register", include_in_schema=False)
    async def register(request: Request) -> Response:
        form = await _form(request)
        try:
            with audit.transaction(portal.sessions) as session:
                user = accounts.add_user(
                    session,
                    str(form.get("email", "")),
                    str(form.get("name", "")),
                    str(form.get("password", "")),
                    team=str(form.get("team", "")),
                    actor="self",
                )
                user_id = user.id
        except AccountError as error:
            return _render(request, "register.html", {"error": str(error), "form": form}, 400)
        return _login_response(portal, user_id, "/")

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request, next: str = "/") -> HTMLResponse:
        return _render(request, "login.html", {"next": next})

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await _form(request)
        target = str(form.get("next") or "/")
        with portal.sessions() as session:
            user = accounts.authenticate(session, str(form.get("email", "")), str(form.get("password", "")))
        if user is None:
            return _render(
                request, "login.html", {"error": "Unknown e-mail or wrong password", "next": target}, 400
            )
        return _login_response(
            portal, user.id, target if target.startswith("/") and not target.startswith("//") else "/"
        )

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        await _form(request)
        response = _redirect("/")
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.get("/releases/{release_id}", response_class=HTMLResponse, include_in_schema=False)
    def release_page(release_id: int, request: Request, session: DB) -> HTMLResponse:
        release = _release(session, release_id)
        user = _cookie_user(request, session)
        access = (
            None
            if user is None
            else session.scalars(
                sa.select(AccessRequest).where(
                    AccessRequest.user_id == user.id, AccessRequest.release_id == release.id
                )
            ).first()
        )
        files = []
        if accounts.has_access(session, user, release):
            public = Path(release.folder) / "public"
            files = [(p, d, (public / p).stat().st_size) for p, d in release_files(release.folder).items()]
        return _render(request, "release.html", {"release": release, "access": access, "files": files})

    @app.post("/releases/{release_id}/request", include_in_schema=False)
    async def release_request(release_id: int, request: Request) -> Response:
        form = await _form(request)
        with audit.transaction(portal.sessions) as session:
            user = _login_required(request, session)
            release = _release(session, release_id)
            try:
                accounts.request_access(
                    session,
                    user,
                    release,
                    accept_dua=form.get("accept_dua") == "yes",
                    purpose=str(form.get("purpose", "")),
                )
            except AccountError as error:
                raise HTTPException(400, str(error)) from None
        return _redirect(f"/releases/{release_id}")

    @app.get("/account", response_class=HTMLResponse, include_in_schema=False)
    def account_page(request: Request, session: DB) -> HTMLResponse:
        user = _login_required(request, session)
        tokens = session.scalars(
            sa.select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
        ).all()
        team = session.get(Team, user.team_id) if user.team_id else None
        return _render(request, "account.html", {"tokens": tokens, "team": team, "new_token": None})

    @app.post("/account/tokens", include_in_schema=False)
    async def create_token(request: Request) -> Response:
        form = await _form(request)
        scopes = ",".join(s for s in ("read", "download", "submit") if form.get(f"scope_{s}") == "yes")
        with audit.transaction(portal.sessions) as session:
            user = _login_required(request, session)
            try:
                _, clear = accounts.create_token(session, user, str(form.get("name", "")), scopes)
            except ValueError as error:
                raise HTTPException(400, str(error)) from None
        with portal.sessions() as session:
            tokens = session.scalars(
                sa.select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
            ).all()
            team = session.get(Team, user.team_id) if user.team_id else None
        return _render(request, "account.html", {"tokens": tokens, "team": team, "new_token": clear})

    @app.post("/account/tokens/{token_id}/revoke", include_in_schema=False)
    async def revoke_token(token_id: int, request: Request) -> Response:
        await _form(request)
        with audit.transaction(portal.sessions) as session:
            try:
                accounts.revoke_token(session, _login_required(request, session), token_id)
            except AccountError as error:
                raise HTTPException(404, str(error)) from None
        return _redirect("/account")

    @app.get("/admin", response_class=HTMLResponse, include_in_schema=False)
    def admin_page(request: Request, session: DB) -> HTMLResponse:
        user = _login_required(request, session)
        if not user.is_admin:
            raise HTTPException(403, "organisers only")
        pending = session.execute(
            sa.select(AccessRequest, User, Release)
            .join(User, User.id == AccessRequest.user_id)
            .join(Release, Release.id == AccessRequest.release_id)
            .where(AccessRequest.status == "pending")
            .order_by(AccessRequest.id)
        ).all()
        return _render(request, "admin.html", {"pending": pending})

    @app.post("/admin/requests/{request_id}", include_in_schema=False)
    async def admin_decide(request_id: int, request: Request) -> Response:
        form = await _form(request)
        with audit.transaction(portal.sessions) as session:
            user = _login_required(request, session)
            if not user.is_admin:
                raise HTTPException(403, "organisers only")
            row = session.get(AccessRequest, request_id)
            if row is None or row.status != "pending":
                raise HTTPException(404, f"no pending access request {request_id}")
            accounts.decide(session, row, approve=form.get("decision") == "approve", actor=user.email)
        return _redirect("/admin")

    @app.get("/challenges/{slug}", response_class=HTMLResponse, include_in_schema=False)
    def challenge_page(slug: str, request: Request, session: DB) -> HTMLResponse:
        challenge = session.scalars(sa.select(Challenge).where(Challenge.slug == slug)).first()
        if challenge is None:
            raise HTTPException(404, f"no challenge {slug!r}")
        phases = session.scalars(
            sa.select(Phase).where(Phase.challenge_id == challenge.id).order_by(Phase.id)
        ).all()
        release = _release(session, challenge.release_id)
        return _render(
            request,
            "challenge.html",
            {
                "challenge": challenge,
                "release": release,
                "phases": [_phase_json(p, challenge) for p in phases],
            },
        )

    @app.get("/phases/{phase_id}", response_class=HTMLResponse, include_in_schema=False)
    def phase_page(phase_id: int, request: Request, session: DB) -> HTMLResponse:
        phase, challenge, release = _phase(session, phase_id)
        user = _cookie_user(request, session)
        mine: list[dict[str, Any]] = []
        quota = None
        if user is not None and user.team_id is not None:
            rows = session.scalars(
                sa.select(Submission)
                .where(Submission.phase_id == phase.id, Submission.team_id == user.team_id)
                .order_by(Submission.id.desc())
            ).all()
            mine = [_submission_json(session, portal, r, phase) for r in rows]
            quota = quota_state(session, phase, user.team_id)
        return _render(
            request,
            "phase.html",
            {
                "phase": _phase_json(phase, challenge),
                "challenge": challenge,
                "release": release,
                "mine": mine,
                "quota": quota,
                "access": accounts.has_access(session, user, release),
                "now": utcnow(),
                "board": _board_json(session, portal, phase),
            },
        )

    @app.post("/phases/{phase_id}/submit", include_in_schema=False)
    async def phase_submit(phase_id: int, request: Request) -> Response:
        form = await _form(request)
        upload = form.get("file")
        if not isinstance(upload, UploadFile) and not hasattr(upload, "read"):
            raise HTTPException(400, "choose a predictions CSV file to upload")
        data = await upload.read()  # type: ignore[union-attr]
        with portal.sessions() as session:
            user = _login_required(request, session)
            _, _, release = _phase(session, phase_id)
            if not accounts.has_access(session, user, release):
                raise HTTPException(403, f"no approved access to release {release.name} {release.version}")
        try:
            await run_in_threadpool(
                submit,
                portal.sessions,
                portal.worker,
                portal.secret,
                phase_id=phase_id,
                user_id=user.id,
                filename=getattr(upload, "filename", None) or "predictions.csv",
                data=data,
            )
        except ChallengeError as error:
            raise HTTPException(error.status, str(error)) from None
        portal.boards.pop(phase_id, None)
        return _redirect(f"/phases/{phase_id}#submissions")

    @app.get("/phases/{phase_id}/leaderboard", response_class=HTMLResponse, include_in_schema=False)
    def leaderboard_page(phase_id: int, request: Request, session: DB) -> HTMLResponse:
        phase, challenge, release = _phase(session, phase_id)
        return _render(
            request,
            "leaderboard.html",
            {
                "phase": _phase_json(phase, challenge),
                "challenge": challenge,
                "release": release,
                "board": _board_json(session, portal, phase),
            },
        )

    @app.get("/download/{release_id}/{path:path}", include_in_schema=False)
    def page_download(release_id: int, path: str, request: Request, session: DB) -> FileResponse:
        user = _login_required(request, session)
        return _file(portal, session, _release(session, release_id), user, path)


def _login_response(portal: Portal, user_id: int, target: str) -> Response:
    response = _redirect(target)
    response.set_cookie(
        SESSION_COOKIE,
        signed_value(portal.secret, "session", str(user_id), SESSION_AGE_S),
        max_age=SESSION_AGE_S,
        httponly=True,
        samesite="lax",
    )
    return response
