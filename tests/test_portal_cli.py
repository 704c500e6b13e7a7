"""The portal's admin commands: a release that is not fit to publish is refused naming the file and fault."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from lai.cli import app
from portal_release import build_release


def invoke(*args: str) -> tuple[int, str]:
    """Run a command; return its exit code and output without whitespace (Rich wraps long lines anywhere)."""
    result = CliRunner().invoke(app, list(args), env={"LAI_PORTAL_PASSWORD": "a-long-password-1"})
    return result.exit_code, "".join(result.output.split())


def squeeze(text: str) -> str:
    return "".join(text.split())


def test_publish_refuses_a_file_changed_after_the_release(tmp_path: Path) -> None:
    release = build_release(tmp_path / "release", n_train=2, n_test=2, images=False)
    (release.root / "public" / "DATA_CARD.md").write_text("edited\n")
    code, output = invoke(
        "portal", "release", "publish", str(release.root), "--data", str(tmp_path / "portal")
    )
    assert code == 1 and squeeze("DATA_CARD.md: sha256 does not match SHA256SUMS") in output


def test_publish_refuses_test_labels_in_the_public_lesions(tmp_path: Path) -> None:
    release = build_release(tmp_path / "release", n_train=2, n_test=2, images=False)
    public = release.root / "public"
    lesions = pd.read_csv(public / "lesions.csv")
    lesions["diagnosis"] = "hcc"
    lesions.to_csv(public / "lesions.csv", index=False)
    sums = (public / "SHA256SUMS").read_text().splitlines()
    from lai.files import sha256_file

    fixed = [
        f"{sha256_file(public / 'lesions.csv')}  lesions.csv" if line.endswith("  lesions.csv") else line
        for line in sums
    ]
    (public / "SHA256SUMS").write_text("\n".join(fixed) + "\n")
    code, output = invoke(
        "portal", "release", "publish", str(release.root), "--data", str(tmp_path / "portal")
    )
    assert code == 1 and squeeze("column diagnosis is filled for test lesions") in output


def test_publish_twice_and_unknown_release_for_a_phase_are_refused(tmp_path: Path) -> None:
    release = build_release(tmp_path / "release", n_train=2, n_test=2, images=False)
    data = str(tmp_path / "portal")
    assert invoke("portal", "release", "publish", str(release.root), "--data", data)[0] == 0
    code, output = invoke("portal", "release", "publish", str(release.root), "--data", data)
    assert code == 1 and squeeze("release lai-portal-test 1.0.0 is already published") in output
    code, output = invoke("portal", "phase", "open", "c", "final", "--release", "nope:9", "--data", data)
    assert code == 1 and squeeze("no published release 'nope:9'") in output
    code, output = invoke(
        "portal", "phase", "open", "c", "final", "--release", "1", "--data", data, "--rank-by", "kappa"
    )
    assert code == 1 and squeeze("rank_by 'kappa' must be one of the phase's metrics") in output


def test_user_add_refuses_a_short_password_and_audit_verify_passes_on_a_fresh_portal(tmp_path: Path) -> None:
    data = str(tmp_path / "portal")
    result = CliRunner().invoke(
        app, ["portal", "user", "add", "a@b.example", "--data", data], env={"LAI_PORTAL_PASSWORD": "short"}
    )
    assert result.exit_code == 1 and "Passwordtooshort" in squeeze(result.output)
    assert invoke("portal", "user", "add", "a@b.example", "--data", data, "--admin")[0] == 0
    code, output = invoke("portal", "audit", "verify", "--data", data)
    assert code == 0 and squeeze("audit chain intact: 1 entries") in output
