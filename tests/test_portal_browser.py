"""The journey's pages in headless Chromium: register, request access, approval, files, token, submit, board.

Screenshots go to /tmp/portal_*.png. Every request the pages make must go to the portal itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portal_release import ADMIN_EMAIL, ADMIN_PASSWORD, Portal, predictions_csv, start_portal

pytestmark = pytest.mark.slow
SHOTS = Path("/tmp")


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    running = start_portal(tmp_path_factory.mktemp("browser"), None)
    running.cli(
        "portal",
        "phase",
        "open",
        "liver-lesions",
        "final",
        "--release",
        "lai-portal-test:1.0.0",
        "--task",
        "diagnosis",
        "--metrics",
        "auc,balanced_accuracy,macro_f1,cohen_kappa,lld",
        "--rank-by",
        "mean_rank",
        "--title",
        "Final test phase",
    )
    try:
        yield running
    finally:
        running.stop()


def test_journey_pages_in_chromium(portal: Portal, browser: Any, tmp_path: Path) -> None:
    requests: list[str] = []
    person = browser.new_context(viewport={"width": 1200, "height": 860})
    page = person.new_page()
    page.on("request", lambda r: requests.append(r.url))

    page.goto(portal.url + "/register")
    page.fill("input[name=name]", "Ada Researcher")
    page.fill("input[name=email]", "ada@uni.example")
    page.fill("input[name=password]", "participant-pw-1")
    page.fill("input[name=team]", "Liver Lab")
    page.screenshot(path=str(SHOTS / "portal_register.png"), full_page=True)
    page.click("button[type=submit]")
    page.screenshot(path=str(SHOTS / "portal_home.png"), full_page=True)
    assert page.locator("header .who").inner_text().startswith("Ada Researcher")

    page.click("text=lai-portal-test")
    page.fill("textarea[name=purpose]", "Benchmark a radiomics model of lesion malignancy.")
    page.check("input[name=accept_dua]")
    page.screenshot(path=str(SHOTS / "portal_release_request.png"), full_page=True)
    page.click("button:has-text('Request access')")
    assert "waiting for an organiser" in page.content()

    organiser = browser.new_context(viewport={"width": 1200, "height": 700})
    admin = organiser.new_page()
    admin.on("request", lambda r: requests.append(r.url))
    admin.goto(portal.url + "/login")
    admin.fill("input[name=email]", ADMIN_EMAIL)
    admin.fill("input[name=password]", ADMIN_PASSWORD)
    admin.click("button[type=submit]")
    admin.goto(portal.url + "/admin")
    admin.screenshot(path=str(SHOTS / "portal_admin.png"), full_page=True)
    admin.click("button:has-text('Approve')")
    assert "No pending request" in admin.content()

    page.reload()
    page.screenshot(path=str(SHOTS / "portal_release_files.png"), full_page=True)
    link = page.locator("a", has_text="lesions.csv")
    with page.expect_download() as download:
        link.click()
    assert (
        Path(download.value.path()).read_bytes()
        == (portal.release.root / "public" / "lesions.csv").read_bytes()
    )

    page.goto(portal.url + "/account")
    page.check("input[name=scope_submit]")
    page.click("button:has-text('Create token')")
    assert page.locator("#new-token").inner_text().startswith("lai_")
    page.screenshot(path=str(SHOTS / "portal_account.png"), full_page=True)

    page.goto(portal.url + "/challenges/liver-lesions")
    page.screenshot(path=str(SHOTS / "portal_challenge.png"), full_page=True)
    page.click("text=Final test phase")
    bad = tmp_path / "bad.csv"
    bad.write_text("lesion_id,proba_hcc\ntl-0000-a,1\n")
    page.set_input_files("input[name=file]", str(bad))
    page.click("button:has-text('Submit')")
    assert "invalid · not counted" in page.content()
    good = tmp_path / "final.csv"
    good.write_bytes(predictions_csv(portal.release.test_lesions, "diagnosis", correct=0.8, seed=1))
    page.set_input_files("input[name=file]", str(good))
    page.click("button:has-text('Submit')")
    page.wait_for_selector("text=scored")
    page.screenshot(path=str(SHOTS / "portal_phase.png"), full_page=True)
    assert "Your team has used 1 of 5 submissions" in page.locator("main").inner_text()

    page.goto(portal.url + "/phases/1/leaderboard")
    page.screenshot(path=str(SHOTS / "portal_leaderboard.png"), full_page=True)
    assert page.locator("#leaderboard tbody tr").count() == 1
    assert "Liver Lab" in page.locator("#leaderboard").inner_text()
    person.close()
    organiser.close()
    assert requests and all(url.startswith(portal.url) for url in requests), [
        u for u in requests if not u.startswith(portal.url)
    ]
