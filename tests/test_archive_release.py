"""Benchmark releases: the contract's layout, no test labels in public, grouped and stratified, deterministic."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from lai.archive.release import ReleaseError, make_release, split_cases
from lai.cli import app
from lai.data import Dataset, write_index
from lai.data.validate import validate_dataset
from lai.synth import generate_cohort

CREATED = "2026-01-01T00:00:00+00:00"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """24 cases grown from a 4-patient `lai synth` cohort: each synthetic case is cloned 6 times (files
    hard-linked) into 3 centres, and clones k = 0, 1 (2, 3 and 4, 5) are follow-up exams of one patient."""
    base = Dataset.read(
        generate_cohort(
            tmp_path_factory.mktemp("synth"), patients=4, centres=2, seed=7, scheduler="sync"
        ).root
    )
    root = tmp_path_factory.mktemp("cohort")
    cases, lesions, files = [], [], {}
    for case in base.cases.to_dict("records"):
        for k in range(6):
            case_id = f"{case['case_id']}-{k}"
            cases.append(
                {
                    **case,
                    "case_id": case_id,
                    "patient_id": f"{case['patient_id']}-{k // 2}",
                    "centre": f"centre{k % 3 + 1:02d}",
                }
            )
            for folder in ("images", "masks"):
                for path in sorted((base.root / folder / case["case_id"]).iterdir()):
                    rel = f"{folder}/{case_id}/{path.name}"
                    (root / rel).parent.mkdir(parents=True, exist_ok=True)
                    os.link(path, root / rel)
                    files[rel] = base.files[f"{folder}/{case['case_id']}/{path.name}"]
            for lesion in base.lesions[base.lesions["case_id"] == case["case_id"]].to_dict("records"):
                lesions.append({**lesion, "lesion_id": f"{lesion['lesion_id']}-{k}", "case_id": case_id})
    return write_index(
        root, name="grown", cases=pd.DataFrame(cases), lesions=pd.DataFrame(lesions), files=files
    )


@pytest.fixture(scope="module")
def release(cohort: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("release") / "bench-1.0"
    make_release(
        cohort.root, out, name="LAI-bench", version="1.0", test_fraction=0.3, seed=0, created=CREATED
    )
    return out


def test_release_has_the_contract_layout(release: Path, cohort: Dataset) -> None:
    # dataset.json lists every file but SHA256SUMS, which lists dataset.json: one of the two must leave
    # the other out, so the validator's only remark is that SHA256SUMS is not in dataset.json.
    problems = [str(problem) for problem in validate_dataset(release / "public")]
    assert problems in ([], ["unlisted-file: SHA256SUMS is on disk but not listed in dataset.json"])
    public = Dataset.read(release / "public")
    splits = public.splits()
    assert set(splits) == {"train", "test"}
    assert sorted(splits["train"] + splits["test"]) == sorted(cohort.cases["case_id"])
    for rel in ("DATA_CARD.md", "SHA256SUMS", "splits.json", "dataset.json"):
        assert (release / "public" / rel).is_file(), rel
    assert sorted(p.name for p in (release / "private").iterdir()) == [
        "ground_truth.csv",
        "ground_truth.json",
    ]
    assert public.meta["name"] == "LAI-bench" and public.meta["version"] == "1.0"
    for case_id in splits["test"]:
        assert (release / "public" / "images" / case_id / "portal.nii.gz").is_file()
        assert (release / "public" / "masks" / case_id / "lesions.nii.gz").is_file()


def test_public_lesions_carry_no_test_labels(release: Path, cohort: Dataset) -> None:
    public = Dataset.read(release / "public")
    test = set(public.splits()["test"])
    lesions = public.lesions
    hidden = lesions[lesions["case_id"].isin(test)]
    assert len(hidden) > 0
    label_columns = [
        c for c in lesions.columns if c not in ("lesion_id", "case_id", "mask_label", "diameter_mm")
    ]
    assert {"diagnosis", "malignant", "reference_standard", "subtype"} <= set(label_columns)
    assert hidden[label_columns].isna().all().all()
    train = lesions[~lesions["case_id"].isin(test)]
    assert train["diagnosis"].notna().all()


def test_private_ground_truth_matches_the_archive(release: Path, cohort: Dataset) -> None:
    truth = pd.read_csv(release / "private" / "ground_truth.csv", dtype=str)
    assert list(truth.columns) == ["lesion_id", "case_id", "patient_id", "centre", "diagnosis", "malignant"]
    test = set(json.loads((release / "public" / "splits.json").read_text())["test"])
    source = cohort.lesions.astype(str).set_index("lesion_id")
    expected = source[source["case_id"].isin(test)]
    assert sorted(truth["lesion_id"]) == sorted(expected.index)
    for row in truth.itertuples():
        assert row.diagnosis == source.loc[row.lesion_id, "diagnosis"]
        assert row.malignant == source.loc[row.lesion_id, "malignant"]
    meta = json.loads((release / "private" / "ground_truth.json").read_text())
    digest = hashlib.sha256((release / "private" / "ground_truth.csv").read_bytes()).hexdigest()
    assert meta == {
        "name": "LAI-bench",
        "version": "1.0",
        "sha256": digest,
        "created": CREATED,
        "lesions": len(truth),
    }


def test_split_keeps_each_patient_on_one_side(release: Path, cohort: Dataset) -> None:
    splits = json.loads((release / "public" / "splits.json").read_text())
    side = {c: "train" for c in splits["train"]} | {c: "test" for c in splits["test"]}
    sides = (
        cohort.cases.assign(side=cohort.cases["case_id"].map(side)).groupby("patient_id")["side"].nunique()
    )
    assert (sides == 1).all()
    assert (cohort.cases["patient_id"].value_counts() == 2).all()  # the fixture made follow-ups


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_split_is_stratified_by_centre_and_diagnosis(cohort: Dataset, seed: int) -> None:
    _, test = split_cases(cohort, test_fraction=0.3, seed=seed)
    lesions = cohort.lesions.merge(cohort.cases[["case_id", "centre"]], on="case_id")
    lesions["test"] = lesions["case_id"].isin(test)
    share = lesions["test"].mean()
    assert 0.2 <= share <= 0.4
    for column in ("centre", "diagnosis"):
        per_group = lesions.groupby(column)["test"].agg(["sum", "size"])
        # Whole patients move (2 cases, 2 to 6 lesions each): each group is within one patient of its share.
        assert ((per_group["sum"] - 0.3 * per_group["size"]).abs() <= 6).all(), per_group


def test_sha256sums_cover_every_public_file(release: Path) -> None:
    public = release / "public"
    listed = {}
    for line in (public / "SHA256SUMS").read_text().splitlines():
        digest, rel = line.split("  ", 1)
        listed[rel] = digest
    files = {p.relative_to(public).as_posix() for p in public.rglob("*") if p.is_file()} - {"SHA256SUMS"}
    assert set(listed) == files
    for rel, digest in listed.items():
        assert hashlib.sha256((public / rel).read_bytes()).hexdigest() == digest, rel


def test_data_card_counts_cases_by_centre_and_names_sequences(release: Path, cohort: Dataset) -> None:
    card = (release / "public" / "DATA_CARD.md").read_text()
    splits = json.loads((release / "public" / "splits.json").read_text())
    for centre, group in cohort.cases.groupby("centre"):
        n_train = int(group["case_id"].isin(splits["train"]).sum())
        n_test = int(group["case_id"].isin(splits["test"]).sum())
        assert f"| {centre} | {n_train} | {n_test} |" in card
    for heading in ("Cases by vendor", "Cases by field strength", "Available sequences", "Missing data"):
        assert f"## {heading}" in card
    assert "| portal | 24 | 0 |" in card
    # The diagnosis table counts train lesions only: its cells add up to the train lesions, per diagnosis.
    section = card.split("## Lesions by diagnosis")[1].split("##")[0]
    rows = [
        line.strip("|").split("|")
        for line in section.splitlines()
        if line.startswith("| ") and "---" not in line
    ]
    counts = {cells[0].strip(): sum(int(c) for c in cells[1:]) for cells in rows[1:]}
    train = cohort.lesions[cohort.lesions["case_id"].isin(splits["train"])]
    assert counts == train["diagnosis"].value_counts().to_dict()


def test_same_inputs_give_the_same_public_bytes(release: Path, cohort: Dataset, tmp_path: Path) -> None:
    again = tmp_path / "again"
    make_release(
        cohort.root, again, name="LAI-bench", version="1.0", test_fraction=0.3, seed=0, created=CREATED
    )
    assert (again / "public" / "SHA256SUMS").read_bytes() == (release / "public" / "SHA256SUMS").read_bytes()
    splits = {tuple(split_cases(cohort, test_fraction=0.3, seed=seed)[1]) for seed in range(5)}
    assert len(splits) > 1  # the seed matters


def test_existing_output_is_refused(release: Path, cohort: Dataset) -> None:
    with pytest.raises(ReleaseError, match="already exists"):
        make_release(cohort.root, release, name="x", version="1", created=CREATED)


def test_cli_release_writes_and_reports_errors(cohort: Dataset, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "cli-release"
    args = [
        "release",
        str(cohort.root),
        "--name",
        "B",
        "--version",
        "2",
        "--test-fraction",
        "0.25",
        "--out",
        str(out),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (out / "private" / "ground_truth.csv").is_file()
    again = runner.invoke(app, args)
    assert again.exit_code == 1
    assert "already exists" in again.output
    missing = runner.invoke(
        app,
        ["release", str(tmp_path / "nope"), "--name", "B", "--version", "2", "--out", str(tmp_path / "r")],
    )
    assert missing.exit_code == 1
    assert "dataset.json" in missing.output
