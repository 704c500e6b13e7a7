"""The participant's journey on a real portal (``lai serve`` on 127.0.0.1), on SQLite and on PostgreSQL.

Register, request access with the data-use agreement, be approved, download with Range and check the
sha256, submit, see the score; and, over every response and the server log, no test label ever appears.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal_release import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    MALIGNANT,
    Portal,
    csrf,
    grant_access,
    login,
    new_token,
    predictions_csv,
    register,
    start_portal,
)

pytestmark = pytest.mark.slow  # each server starts in a new process: ~10-30 s on a busy 2-core machine


def _serve(tmp_path: Path, db: str | None) -> Portal:
    running = start_portal(tmp_path, db)
    running.cli(
        "portal",
        "phase",
        "open",
        "liver",
        "sanity-check",
        "--release",
        "lai-portal-test:1.0.0",
        "--labels",
        "train",
        "--metrics",
        "auc,lld,brier",
        "--rank-by",
        "auc",
    )
    running.cli(
        "portal",
        "phase",
        "open",
        "liver",
        "final",
        "--release",
        "lai-portal-test:1.0.0",
        "--labels",
        "test",
        "--task",
        "diagnosis",
        "--metrics",
        "auc,balanced_accuracy,macro_f1,cohen_kappa,lld",
        "--rank-by",
        "mean_rank",
        "--quota",
        "3",
    )
    return running


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    running = _serve(tmp_path_factory.mktemp("portal"), None)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()


def leaks(text: str, truth: dict[str, str]) -> list[str]:
    """Return each test lesion id found in the same record as its label (line, JSON object or table cell run).

    A record is the text around the id up to the nearest newline, brace or table row boundary.
    """
    found = []
    for lesion, diagnosis in truth.items():
        malignant = diagnosis in MALIGNANT
        words = [diagnosis, "malignant" if malignant else "benign", str(malignant)]
        for match in re.finditer(re.escape(lesion), text):
            before = re.split(r"[\n{}]|<tr>|</tr>", text[max(0, match.start() - 400) : match.start()])[-1]
            after = re.split(r"[\n{}]|<tr>|</tr>", text[match.end() : match.end() + 400])[0]
            window = before + lesion + after
            if any(re.search(rf"\b{re.escape(w)}\b", window, flags=re.IGNORECASE) for w in words):
                found.append(f"{lesion}: {window!r}")
    return found


def journey(portal: Portal) -> None:
    """The whole journey; stops the server to read its log."""
    release = portal.release
    participant, admin = portal.client(), portal.client()
    register(participant, "ada@uni.example", "Ada Researcher", "Liver Lab")
    login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)

    before = participant.get("/releases/1").text
    assert "Data-use agreement" in before and "/download/1/" not in before
    grant_access(portal, participant, admin)
    assert "/download/1/lesions.csv" in participant.get("/releases/1").text
    token = new_token(participant)
    api = portal.client()
    api.headers["Authorization"] = f"Bearer {token}"

    # download: list, resume with Range, check every byte against the listed sha256 and SHA256SUMS
    files = {f["path"]: f for f in api.get("/api/releases/1/files").json()}
    assert "private/ground_truth.csv" not in files and "ground_truth.csv" not in str(files)
    image = next(p for p in files if p.startswith("images/"))
    size = files[image]["size"]
    first = api.get(f"/api/releases/1/files/{image}", headers={"Range": f"bytes=0-{size // 2 - 1}"})
    assert first.status_code == 206 and first.headers["content-range"] == f"bytes 0-{size // 2 - 1}/{size}"
    rest = api.get(f"/api/releases/1/files/{image}", headers={"Range": f"bytes={size // 2}-"})
    assert rest.status_code == 206
    whole = first.content + rest.content
    digest = hashlib.sha256(whole).hexdigest()
    assert len(whole) == size and digest == files[image]["sha256"] == rest.headers["x-checksum-sha256"]
    assert digest == hashlib.sha256((release.root / "public" / image).read_bytes()).hexdigest()
    sums = api.get("/api/releases/1/files/SHA256SUMS").text
    assert f"{digest}  {image}" in sums
    lesions_csv = api.get("/api/releases/1/files/lesions.csv").text
    for lesion in release.test_lesions:
        assert re.search(rf"^{lesion},[^,]+,\d+,,,,", lesions_csv, flags=re.MULTILINE), lesion
    assert api.get("/api/releases/1/files/../private/ground_truth.csv").status_code == 404
    assert api.get("/api/releases/1/files/%2e%2e/private/ground_truth.csv").status_code == 404

    # sanity-check phase: perfect training predictions score AUC 1, lld 1, Brier (0.1^2 + 0.1^2) / 2
    sanity = api.post(
        "/api/phases/1/submissions",
        files={"file": ("train.csv", predictions_csv(release.train_lesions), "text/csv")},
    )
    assert sanity.status_code == 201, sanity.text
    assert sanity.json()["metrics"] == {"auc": 1.0, "lld": 1.0, "brier": pytest.approx(0.01, abs=1e-6)}

    # final phase, through the page: a submission that gets every test diagnosis right
    page = participant.get("/phases/2").text
    response = participant.post(
        "/phases/2/submit",
        data={"csrf": csrf(page)},
        files={"file": ("final.csv", predictions_csv(release.test_lesions, "diagnosis"), "text/csv")},
    )
    assert response.status_code == 303
    phase_page = participant.get("/phases/2").text
    assert "scored" in phase_page and "cohen_kappa <strong>1.0000</strong>" in phase_page
    board = api.get("/api/phases/2/leaderboard").json()
    assert [(r["rank"], r["team"]) for r in board["rows"]] == [(1, "Liver Lab")]
    assert board["rows"][0]["metrics"]["balanced_accuracy"] == 1.0
    assert "Liver Lab" in participant.get("/phases/2/leaderboard").text

    # invalid file: precise errors naming ids and columns, not counted
    bad = api.post(
        "/api/phases/2/submissions", files={"file": ("bad.csv", b"lesion_id,proba_hcc\ntl-0000-a,1\n")}
    )
    assert bad.status_code == 422 and not bad.json()["counted"]
    assert any("missing column(s) proba_icc" in e for e in bad.json()["errors"])

    spec = participant.get("/openapi.json").json()
    routes = {"/api/phases/{phase_id}/submissions", "/api/releases/{release_id}/files/{path}"}
    assert routes <= set(spec["paths"])

    engine = sa.create_engine(portal.db)
    with engine.connect() as connection:
        actions = [r[0] for r in connection.execute(sa.text("SELECT action FROM audit_log ORDER BY seq"))]
    engine.dispose()
    assert actions[:3] == ["user.add", "release.publish", "ground_truth.version"]
    assert {
        "access.request",
        "access.grant",
        "token.create",
        "submission",
        "submission.invalid",
        "result",
    } <= set(actions)
    assert (
        actions.count("download") == 4
    )  # two ranges of the image, SHA256SUMS, lesions.csv (refused ones are not)
    assert "audit chain intact" in portal.cli("portal", "audit", "verify")

    log = portal.stop()
    everything = "\n".join(portal.bodies) + "\n" + log
    assert "lesion_id,case_id,patient_id,centre,diagnosis,malignant" not in everything
    assert leaks(everything, release.test_lesions) == []
    assert "tl-0000-a" in everything  # the check searched bodies that do name test lesions
    assert token not in log and ADMIN_PASSWORD not in everything


def test_user_without_access_gets_403_and_never_a_file(portal: Portal) -> None:
    no_access(portal)


def no_access(portal: Portal) -> None:
    """An outsider, with a token, pending or anonymous, gets 401/403 and no byte of any file."""
    outsider, admin = portal.client(), portal.client()
    register(outsider, "eve@else.example", "Eve Outsider", "Elsewhere")
    login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
    token = new_token(outsider)
    public = portal.release.root / "public"
    secret_bytes = (public / "lesions.csv").read_bytes()
    api = portal.client()
    api.headers["Authorization"] = f"Bearer {token}"
    for path in ("lesions.csv", "SHA256SUMS", "images/trc-0000/t2w.nii.gz"):
        for client, url in ((api, f"/api/releases/1/files/{path}"), (outsider, f"/download/1/{path}")):
            response = client.get(url, headers={"Range": "bytes=0-"})
            assert response.status_code == 403, (url, response.status_code)
            assert (public / path).read_bytes()[:64] not in response.content
    assert api.get("/api/releases/1/files").status_code == 403
    forged = outsider.post(
        "/releases/1/request", data={"csrf": "forged", "purpose": "x", "accept_dua": "yes"}
    )
    assert forged.status_code == 403 and "CSRF" in forged.text
    submission = api.post(
        "/api/phases/1/submissions", files={"file": ("x.csv", predictions_csv(portal.release.train_lesions))}
    )
    assert submission.status_code == 403
    # pending (DUA accepted, not approved) is still no access
    page = outsider.get("/releases/1").text
    outsider.post("/releases/1/request", data={"csrf": csrf(page), "purpose": "x", "accept_dua": "yes"})
    assert "waiting for an organiser" in outsider.get("/releases/1").text
    assert api.get("/api/releases/1/files/lesions.csv").status_code == 403
    anonymous = portal.client().get("/api/releases/1/files/lesions.csv")
    assert anonymous.status_code == 401 and secret_bytes[:40] not in anonymous.content


def test_tokens_are_stored_hashed_and_revocation_works(portal: Portal) -> None:
    tokens(portal)


def tokens(portal: Portal) -> None:
    """Tokens leave only their sha256 in the database; scopes and revocation are enforced."""
    participant, admin = portal.client(), portal.client()
    register(participant, "bob@uni.example", "Bob Researcher", "Token Lab")
    login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
    grant_access(portal, participant, admin)
    token = new_token(participant, ("read", "download"))
    engine = sa.create_engine(portal.db)
    with engine.connect() as connection:
        rows = [
            " ".join(map(str, row))
            for table in ("api_tokens", "users", "audit_log")
            for row in connection.execute(sa.text(f"SELECT * FROM {table}"))
        ]
    engine.dispose()
    assert all(token not in row and token[4:] not in row for row in rows)
    assert any(hashlib.sha256(token.encode()).hexdigest() in row for row in rows)
    assert all("participant-pw-1" not in row for row in rows)
    headers = {"Authorization": f"Bearer {token}"}
    api = portal.client()
    assert api.get("/api/releases/1/files", headers=headers).status_code == 200
    no_scope = api.post(
        "/api/phases/1/submissions",
        headers=headers,
        files={"file": ("x.csv", predictions_csv(portal.release.train_lesions))},
    )
    assert no_scope.status_code == 401 and "scope 'submit'" in no_scope.json()["detail"]
    page = participant.get("/account").text
    token_id = re.search(r'action="/account/tokens/(\d+)/revoke"', page).group(1)  # type: ignore[union-attr]
    participant.post(f"/account/tokens/{token_id}/revoke", data={"csrf": csrf(page)})
    assert api.get("/api/releases/1/files", headers=headers).status_code == 401


def test_journey_register_access_download_submit_score_without_leaking_labels(portal: Portal) -> None:
    journey(portal)  # runs last in this module: it stops the shared server to read its whole log


def test_the_same_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    running = _serve(tmp_path, postgres_url)
    try:
        no_access(running)
        tokens(running)
        journey(running)
    finally:
        if running.process.poll() is None:
            running.stop()


def test_the_leak_search_finds_a_label_beside_its_lesion_id() -> None:
    truth = {"tl-0001-b": "hem"}
    assert leaks('{"lesion_id": "tl-0001-b", "diagnosis": "hem"}', truth)
    assert leaks("tl-0001-b,tlc-0001,tlp-0001,B,hem,False\n", truth)
    assert leaks("<tr><td>tl-0001-b</td><td>benign</td></tr>", truth)
    assert not leaks("tl-0001-b,tlc-0001,2,,,,11.0\nhem", truth)
