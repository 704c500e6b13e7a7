"""Phase rules on a real portal: quota per rolling period and total cap (invalid files free), scoring time
limit (failed runs free), results hidden until close, and tampering with a stored result detected."""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from lai.cli import app
from portal_release import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Portal,
    grant_access,
    login,
    new_token,
    predictions_csv,
    register,
    start_portal,
)

pytestmark = pytest.mark.slow  # one server for the module: ~10-30 s to start on a busy machine


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    running = start_portal(tmp_path_factory.mktemp("rules"), None)
    try:
        # one scored submission first, so that the timed tests do not wait for the scoring process to start
        warm = open_phase(running, "warm-up")
        assert (
            post(
                participant(running, "warm"), warm, predictions_csv(running.release.train_lesions)
            ).status_code
            == 201
        )
        yield running
    finally:
        running.stop()


def participant(portal: Portal, name: str) -> httpx.Client:
    """A new participant in a new team, with approved access, as an API client with a submit token."""
    person, admin = portal.client(), portal.client()
    register(person, f"{name}@lab.example", name.title(), f"Team {name}")
    login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
    grant_access(portal, person, admin)
    api = portal.client()
    api.headers["Authorization"] = f"Bearer {new_token(person)}"
    return api


def open_phase(portal: Portal, slug: str, *options: str) -> int:
    output = portal.cli(
        "portal",
        "phase",
        "open",
        "rules",
        slug,
        "--release",
        "lai-portal-test:1.0.0",
        "--labels",
        "train",
        *options,
    )
    return int(output.split()[1].rstrip(":"))


def post(api: httpx.Client, phase: int, data: bytes) -> httpx.Response:
    return api.post(f"/api/phases/{phase}/submissions", files={"file": ("p.csv", data, "text/csv")})


def test_quota_per_rolling_period_and_total_cap_do_not_count_invalid_files(portal: Portal) -> None:
    phase = open_phase(portal, "quota", "--quota", "2", "--period", "6s", "--cap", "3")
    api = participant(portal, "quota")
    good = predictions_csv(portal.release.train_lesions)
    bad = good.replace(b"0.9,", b"0.95,", 1)  # first row no longer sums to 1
    started = time.monotonic()
    assert post(api, phase, good).status_code == 201
    invalid = post(api, phase, bad)
    assert invalid.status_code == 422 and "do not sum to 1" in " ".join(invalid.json()["errors"])
    assert post(api, phase, good).status_code == 201
    for _ in range(2):
        assert post(api, phase, bad).status_code == 422  # still judged, never counted
    refused = post(api, phase, good)
    assert refused.status_code == 429 and "2 submissions per 6 s" in refused.json()["detail"]
    time.sleep(max(0.0, 6.2 - (time.monotonic() - started)))
    assert post(api, phase, good).status_code == 201  # the first slot has rolled out of the period
    time.sleep(6.2)
    capped = post(api, phase, good)
    assert capped.status_code == 429 and "all 3 submissions allowed" in capped.json()["detail"]
    engine = sa.create_engine(portal.db)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT status, counted FROM submissions WHERE phase_id = :p ORDER BY id"), {"p": phase}
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("scored", True),
        ("invalid", False),
        ("scored", True),
        ("invalid", False),
        ("invalid", False),
        ("scored", True),
    ]


def test_results_hidden_until_the_phase_closes(portal: Portal) -> None:
    closes = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=6)).replace(tzinfo=None)
    phase = open_phase(portal, "hidden", "--hidden", "--closes", closes.isoformat(timespec="seconds"))
    api = participant(portal, "hidden")
    response = post(api, phase, predictions_csv(portal.release.train_lesions))
    assert response.status_code == 201
    assert response.json()["hidden"] and response.json()["metrics"] is None
    board = api.get(f"/api/phases/{phase}/leaderboard").json()
    assert board["hidden"] and board["rows"] == []
    assert "Team hidden" not in api.get(f"/phases/{phase}/leaderboard").text
    time.sleep(
        max(0.0, (closes - datetime.datetime.now(datetime.UTC).replace(tzinfo=None)).total_seconds() + 0.5)
    )
    board = api.get(f"/api/phases/{phase}/leaderboard").json()
    assert not board["hidden"] and board["rows"][0]["team"] == "Team hidden"
    assert board["rows"][0]["metrics"]["auc"] == 1.0
    assert post(api, phase, predictions_csv(portal.release.train_lesions)).status_code == 409


def test_tampering_with_a_stored_result_is_detected(portal: Portal) -> None:
    phase = open_phase(portal, "tamper", "--metrics", "auc,lld")
    api = participant(portal, "tamper")
    submitted = post(api, phase, predictions_csv(portal.release.train_lesions, correct=0.5, seed=3)).json()
    assert api.get(f"/api/submissions/{submitted['id']}").status_code == 200
    runner = CliRunner()
    base = ["--data", str(portal.data), "--db", portal.db]
    assert runner.invoke(app, ["portal", "audit", "verify", *base]).exit_code == 0
    engine = sa.create_engine(portal.db)
    with pytest.raises(sa.exc.DatabaseError, match="results is append-only"), engine.begin() as connection:
        connection.execute(sa.text("UPDATE results SET hmac_sha256 = 'x'"))
    with engine.begin() as connection:  # someone with write access to the database file removes the guard
        connection.execute(sa.text("DROP TRIGGER results_append_only_update"))
        payload = connection.execute(
            sa.text("SELECT payload FROM results WHERE submission_id = :s"), {"s": submitted["id"]}
        ).scalar_one()
        forged = payload.replace(f'"auc":{submitted["metrics"]["auc"]}', '"auc":0.99')
        assert forged != payload
        connection.execute(
            sa.text("UPDATE results SET payload = :p WHERE submission_id = :s"),
            {"p": forged, "s": submitted["id"]},
        )
    read = api.get(f"/api/submissions/{submitted['id']}")
    assert read.status_code == 500 and "failed its HMAC check" in read.json()["detail"]
    assert api.get(f"/api/phases/{phase}/leaderboard").status_code == 500
    verify = runner.invoke(app, ["portal", "audit", "verify", *base])
    assert verify.exit_code == 1 and f"result of submission {submitted['id']}" in verify.output
    with engine.begin() as connection:
        connection.execute(
            sa.text("DROP TRIGGER audit_log_append_only_update")
        )  # (re-created by every start)
        connection.execute(sa.text("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3"))
    verify = runner.invoke(app, ["portal", "audit", "verify", *base])
    engine.dispose()
    assert "audit entry 3" in verify.output and "altered" in verify.output


def test_scoring_over_the_time_limit_fails_and_is_not_counted(portal: Portal) -> None:
    phase = open_phase(portal, "slow", "--time-limit", "0.000001s", "--quota", "1")
    api = participant(portal, "slow")
    for _ in range(2):  # a quota of one, yet both attempts are scored: failed runs are given back
        response = post(api, phase, predictions_csv(portal.release.train_lesions))
        assert response.status_code == 500
        assert response.json()["status"] == "failed" and not response.json()["counted"]
        assert "time limit" in response.json()["errors"][0]
