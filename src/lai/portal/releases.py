"""Publishing a benchmark release into the portal's data folder, and the list of its downloadable files."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from lai.files import sha256_file
from lai.portal import audit
from lai.portal.models import Release

DEFAULT_DUA = (
    "I will use these data for research only; I will not try to re-identify any person; I will not share the "
    "data; I will cite the release in any publication; I will report suspected identifying content to the "
    "organisers and delete it."
)
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class PublishError(ValueError):
    """A release folder that cannot be published; the message names the file and what is wrong."""


def check_release(source: Path) -> dict[str, object]:
    """Check a ``lai release`` folder and return its ``dataset.json`` and ``ground_truth.json`` metadata.

    Checks: the public and private files exist, every SHA256SUMS entry matches its file, splits.json has
    train and test, test lesions carry no label in public/lesions.csv, the ground truth's sha256 matches
    ground_truth.json and covers exactly the test lesions.
    """
    public, private = source / "public", source / "private"
    for path in (
        public / "dataset.json",
        public / "lesions.csv",
        public / "splits.json",
        public / "SHA256SUMS",
        private / "ground_truth.csv",
        private / "ground_truth.json",
    ):
        if not path.is_file():
            raise PublishError(
                f"{path}: missing; a release folder holds public/ and private/ as `lai release` writes them"
            )
    sums = read_sums(public / "SHA256SUMS")
    for rel, digest in sums.items():
        path = public / rel
        if not path.is_file():
            raise PublishError(f"{public / 'SHA256SUMS'}: lists {rel}, which does not exist")
        if sha256_file(path) != digest:
            raise PublishError(f"{path}: sha256 does not match SHA256SUMS (file changed after the release)")
    splits = json.loads((public / "splits.json").read_text())
    if not isinstance(splits, dict) or not {"train", "test"} <= set(splits):
        raise PublishError(f"{public / 'splits.json'}: must hold 'train' and 'test' lists of case ids")
    lesions = pd.read_csv(public / "lesions.csv", dtype={"lesion_id": str, "case_id": str})
    test_lesions = lesions[lesions["case_id"].isin({str(c) for c in splits["test"]})]
    for column in ("diagnosis", "malignant", "reference_standard"):
        if column in test_lesions and test_lesions[column].notna().any():
            raise PublishError(
                f"{public / 'lesions.csv'}: column {column} is filled for test lesions; a public release must withhold them"
            )
    meta = json.loads((private / "ground_truth.json").read_text())
    truth_sha = sha256_file(private / "ground_truth.csv")
    if meta.get("sha256") != truth_sha:
        raise PublishError(f"{private / 'ground_truth.csv'}: sha256 does not match ground_truth.json")
    truth = pd.read_csv(private / "ground_truth.csv", dtype={"lesion_id": str})
    if set(truth["lesion_id"]) != set(test_lesions["lesion_id"]):
        raise PublishError(
            f"{private / 'ground_truth.csv'}: lesion ids differ from the test lesions of public/lesions.csv"
        )
    if truth[["diagnosis", "malignant"]].isna().any().any():
        raise PublishError(
            f"{private / 'ground_truth.csv'}: diagnosis or malignant is empty for some lesions"
        )
    dataset = json.loads((public / "dataset.json").read_text())
    return {"dataset": dataset, "truth": meta, "truth_sha256": truth_sha}


def read_sums(path: Path) -> dict[str, str]:
    """Return ``{relative path: sha256}`` from a ``sha256sum`` style file."""
    sums: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        digest, _, rel = line.partition("  ")
        if len(digest) != 64 or not rel or rel.startswith("/") or ".." in Path(rel).parts:
            raise PublishError(f"{path}: line {number} is not '<sha256>  <relative path>'")
        sums[rel] = digest
    return sums


@functools.lru_cache(maxsize=32)
def release_files(folder: str) -> dict[str, str]:
    """Return the downloadable files of a published release (SHA256SUMS and the files it lists)."""
    public = Path(folder) / "public"
    files = read_sums(public / "SHA256SUMS")
    files["SHA256SUMS"] = sha256_file(public / "SHA256SUMS")
    return dict(sorted(files.items()))


def _copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def publish_release(
    session: Session,
    data: Path,
    source: Path,
    *,
    auto_approve: bool = False,
    dua: str | None = None,
    actor: str = "admin",
) -> Release:
    """Check a release folder, copy it into ``<data>/releases/<name>-<version>/`` and record it (audited)."""
    info = check_release(source)
    dataset: dict[str, object] = info["dataset"]  # type: ignore[assignment]
    truth: dict[str, object] = info["truth"]  # type: ignore[assignment]
    name, version = (
        str(dataset.get("name") or truth.get("name")),
        str(dataset.get("version") or truth.get("version")),
    )
    existing = session.scalars(
        sa.select(Release).where(Release.name == name, Release.version == version)
    ).first()
    if existing is not None:
        raise PublishError(f"{source}: release {name} {version} is already published (id {existing.id})")
    target = data / "releases" / _SAFE.sub("_", f"{name}-{version}")
    if target.exists():
        shutil.rmtree(target)
    staging = target.with_name(target.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(source, staging, copy_function=_copy)
    staging.rename(target)
    release = Release(
        name=name,
        version=version,
        folder=str(target.resolve()),
        description=str(dataset.get("description", "")),
        licence=str(dataset.get("licence", "")),
        dua=dua or DEFAULT_DUA,
        auto_approve=auto_approve,
        truth_sha256=str(info["truth_sha256"]),
    )
    session.add(release)
    session.flush()
    audit.record(
        session,
        actor,
        "release.publish",
        release_id=release.id,
        name=name,
        version=version,
        public_sha256sums=sha256_file(target / "public" / "SHA256SUMS"),
    )
    audit.record(
        session,
        actor,
        "ground_truth.version",
        release_id=release.id,
        sha256=release.truth_sha256,
        version=str(truth.get("version", version)),
    )
    return release
