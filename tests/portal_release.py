"""Build a small benchmark release folder (public/ + private/, as ``lai release`` writes) for portal tests,
and run a real portal (``lai serve`` in a subprocess on 127.0.0.1) serving it.

Test lesion ids are distinctive (``tl-0003-b``) and every test label is known to the builder, so that a
test can search every response of the portal for a test lesion's id next to its label.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from typer.testing import CliRunner

from lai.cli import app
from lai.data import write_index
from lai.files import sha256_bytes, sha256_file, write_bytes_atomic, write_json_atomic, write_text_atomic
from lai.imaging import Image, save_image

DIAGNOSES = ("hcc", "icc", "met", "hem", "fnh", "hca", "cyst", "abscess")
MALIGNANT = {"hcc", "icc", "met"}


@dataclass(frozen=True)
class BuiltRelease:
    """A release folder and what a test needs to know about it (its labels included)."""

    root: Path
    train_lesions: dict[str, str]
    test_lesions: dict[str, str]
    test_cases: dict[str, list[str]]

    def truth(self, labels: str) -> dict[str, str]:
        """Return ``{lesion_id: diagnosis}`` of the train or test lesions."""
        return self.train_lesions if labels == "train" else self.test_lesions


def build_release(
    root: Path, *, n_train: int = 6, n_test: int = 5, images: bool = True, seed: int = 0
) -> BuiltRelease:
    """Write ``root/public`` and ``root/private`` for ``n_train`` + ``n_test`` cases of two lesions each."""
    rng = np.random.default_rng(seed)
    cases, lesions, files = [], [], {}
    splits: dict[str, list[str]] = {"train": [], "test": []}
    labels: dict[str, dict[str, str]] = {"train": {}, "test": {}}
    test_cases: dict[str, list[str]] = {}
    public = root / "public"
    for side, count, prefix in (("train", n_train, "tr"), ("test", n_test, "tl")):
        for i in range(count):
            case = f"{prefix}c-{i:04d}"
            splits[side].append(case)
            cases.append(
                {
                    "case_id": case,
                    "patient_id": f"{prefix}p-{i:04d}",
                    "centre": "AB"[i % 2],
                    "study_date": "2021-01-01",
                    "vendor": "Siemens",
                    "field_strength": 1.5,
                }
            )
            for j, letter in enumerate("ab"):
                lesion = f"{prefix}-{i:04d}-{letter}"
                diagnosis = DIAGNOSES[(i * 2 + j) % len(DIAGNOSES)]
                labels[side][lesion] = diagnosis
                if side == "test":
                    test_cases.setdefault(case, []).append(lesion)
                lesions.append(
                    {
                        "lesion_id": lesion,
                        "case_id": case,
                        "mask_label": j + 1,
                        "diagnosis": diagnosis,
                        "malignant": diagnosis in MALIGNANT,
                        "reference_standard": "histology",
                        "diameter_mm": 10.0 + j,
                    }
                )
            if images:
                array = rng.normal(100.0, 10.0, size=(6, 6, 3)).astype(np.float32)
                mask = np.zeros((6, 6, 3), dtype=np.uint8)
                mask[1:3, 1:3, 1], mask[3:5, 3:5, 1] = 1, 2
                for rel, data in (
                    (f"images/{case}/t2w.nii.gz", array),
                    (f"masks/{case}/lesions.nii.gz", mask),
                ):
                    files[rel] = save_image(Image(data, np.diag([2.0, 2.0, 4.0, 1.0])), public / rel)
    case_table = pd.DataFrame(cases)
    lesion_table = pd.DataFrame(lesions)
    gt = lesion_table[lesion_table["case_id"].isin(set(splits["test"]))].merge(
        case_table[["case_id", "patient_id", "centre"]], on="case_id"
    )
    gt = gt[["lesion_id", "case_id", "patient_id", "centre", "diagnosis", "malignant"]]
    test = lesion_table["case_id"].isin(set(splits["test"]))
    public_lesions = lesion_table.astype(object)
    public_lesions.loc[test, ["diagnosis", "malignant", "reference_standard"]] = None
    write_index(
        public,
        name="lai-portal-test",
        cases=case_table,
        lesions=public_lesions,
        files=files,
        version="1.0.0",
        description="Test release: test labels withheld",
        splits=splits,
    )
    write_text_atomic(public / "DATA_CARD.md", "# lai-portal-test 1.0.0\n\nA synthetic test release.\n")
    sums = "".join(
        f"{sha256_file(p)}  {p.relative_to(public).as_posix()}\n"
        for p in sorted(p for p in public.rglob("*") if p.is_file())
    )
    write_text_atomic(public / "SHA256SUMS", sums)
    buffer = io.StringIO()
    gt.to_csv(buffer, index=False, lineterminator="\n")
    data = buffer.getvalue().encode()
    write_bytes_atomic(root / "private" / "ground_truth.csv", data)
    write_json_atomic(
        root / "private" / "ground_truth.json",
        {"name": "lai-portal-test", "version": "1.0.0", "sha256": sha256_bytes(data), "lesions": len(gt)},
    )
    return BuiltRelease(root, labels["train"], labels["test"], test_cases)


def predictions_csv(
    truth: dict[str, str], task: str = "malignant", *, correct: float = 1.0, seed: int = 0
) -> bytes:
    """Return a submission CSV for ``truth``'s lesions: a share ``correct`` of them predicted right, confidently."""
    rng = np.random.default_rng(seed)
    classes = ("benign", "malignant") if task == "malignant" else DIAGNOSES
    rows = []
    for lesion, diagnosis in truth.items():
        label = ("malignant" if diagnosis in MALIGNANT else "benign") if task == "malignant" else diagnosis
        right = rng.random() < correct
        target = label if right else next(c for c in classes if c != label)
        proba = np.full(len(classes), 0.1 / (len(classes) - 1))
        proba[classes.index(target)] = 0.9
        rows.append(
            {
                "lesion_id": lesion,
                **{f"proba_{c}": round(float(p), 6) for c, p in zip(classes, proba, strict=True)},
            }
        )
    return pd.DataFrame(rows).to_csv(index=False).encode()


def read_json(path: Path) -> dict:
    """Return a JSON file's content."""
    return json.loads(path.read_text())


# --- A running portal ---

ADMIN_EMAIL, ADMIN_PASSWORD = "organiser@lai.example", "organiser-password-1"


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lai(*args: str) -> str:
    """Run a ``lai`` command in-process; return its output, failing the test on a non-zero exit."""
    result = CliRunner().invoke(app, list(args), env={"LAI_PORTAL_PASSWORD": ADMIN_PASSWORD})
    assert result.exit_code == 0, result.output
    return result.output


@dataclass
class Portal:
    """A running portal: base URL, data folder, database URL, log file and the release it serves."""

    url: str
    data: Path
    db: str
    log: Path
    release: BuiltRelease
    process: subprocess.Popen[bytes]
    bodies: list[str] = field(default_factory=list)

    def cli(self, *args: str) -> str:
        """Run ``lai <args> --data <data> --db <db>``."""
        return lai(*args, "--data", str(self.data), "--db", self.db)

    def client(self) -> httpx.Client:
        """Return an HTTP client on the portal that records every response body in ``bodies``."""

        def keep(response: httpx.Response) -> None:
            response.read()
            self.bodies.append(str(response.headers) + "\n" + response.content.decode("utf-8", "replace"))

        return httpx.Client(base_url=self.url, event_hooks={"response": [keep]}, timeout=30)

    def stop(self) -> str:
        """Stop the server and return its log."""
        self.process.terminate()
        self.process.wait(timeout=20)
        return self.log.read_text()


def start_portal(tmp: Path, db: str | None, *, n_train: int = 6, n_test: int = 5) -> Portal:
    """Build and publish a release, add the organiser, and start ``lai serve`` on a free port."""
    release = build_release(tmp / "release", n_train=n_train, n_test=n_test)
    data = tmp / "portal"
    db = db or f"sqlite:///{data / 'portal.sqlite3'}"
    base = ["--data", str(data), "--db", db]
    lai("portal", "user", "add", ADMIN_EMAIL, "--name", "Organiser", "--admin", *base)
    lai("portal", "release", "publish", str(release.root), *base)
    port = free_port()
    log = tmp / "server.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", "from lai.cli import app; app()", "serve", *base, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/api/releases", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("portal did not start:\n" + log.read_text())
        time.sleep(0.1)
    return Portal(url, data, db, log, release, process)


def csrf(html: str) -> str:
    """Return the CSRF token of a page's forms."""
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def login(client: httpx.Client, email: str, password: str) -> None:
    """Log a client in through the login page."""
    token = csrf(client.get("/login").text)
    response = client.post("/login", data={"csrf": token, "email": email, "password": password, "next": "/"})
    assert response.status_code == 303, response.text


def register(
    client: httpx.Client, email: str, name: str, team: str, password: str = "participant-pw-1"
) -> None:
    """Register an account (and its new team) through the registration page; the client is then logged in."""
    token = csrf(client.get("/register").text)
    response = client.post(
        "/register", data={"csrf": token, "email": email, "name": name, "team": team, "password": password}
    )
    assert response.status_code == 303, response.text


def grant_access(portal: Portal, participant: httpx.Client, admin: httpx.Client, release_id: int = 1) -> None:
    """Request access with the DUA accepted as ``participant``, then approve it as the organiser."""
    page = participant.get(f"/releases/{release_id}").text
    response = participant.post(
        f"/releases/{release_id}/request",
        data={"csrf": csrf(page), "purpose": "benchmark my model", "accept_dua": "yes"},
    )
    assert response.status_code == 303
    admin_page = admin.get("/admin").text
    request_id = re.findall(r'action="/admin/requests/(\d+)"', admin_page)[-1]
    response = admin.post(
        f"/admin/requests/{request_id}", data={"csrf": csrf(admin_page), "decision": "approve"}
    )
    assert response.status_code == 303


def new_token(client: httpx.Client, scopes: tuple[str, ...] = ("read", "download", "submit")) -> str:
    """Create an API token on the account page and return it (shown once)."""
    page = client.get("/account").text
    form = {"csrf": csrf(page), "name": "test"} | {f"scope_{s}": "yes" for s in scopes}
    html = client.post("/account/tokens", data=form).text
    match = re.search(r'id="new-token">([^<]+)<', html)
    assert match, html
    return match.group(1)
