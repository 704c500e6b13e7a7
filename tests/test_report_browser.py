"""The report in a real browser (headless Chromium): no console errors, no requests, every figure drawn."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from lai.report import write_report
from lai.report.html import search_summary
from lai.validation.schemes import validate
from synthetic_tables import synthetic_table

LOGISTIC = functools.partial(clone, make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    table = synthetic_table(n_lesions=240, n_patients=90)
    results = [
        validate(
            "leave-centre-out",
            LOGISTIC,
            table,
            "malignant",
            n_resamples=200,
            importance_repeats=1,
            scheduler="sync",
        ),
        validate(
            "repeated-split", LOGISTIC, table, "diagnosis", n_repeats=3, n_resamples=200, scheduler="sync"
        ),
    ]
    search = pd.DataFrame(
        {
            "pipeline": ["a > logistic_regression", "b > random_forest"],
            "score": [0.9, 0.93],
            "state": ["complete", "complete"],
        }
    )
    out = tmp_path_factory.mktemp("browser-report")
    return write_report(
        out,
        title="Browser check",
        cases=table.frame[["case_id", "patient_id", "centre"]].drop_duplicates(),
        lesions=table.frame[["lesion_id", "case_id", "diagnosis", "malignant"]],
        results=results,
        provenance={"dataset": "synthetic", "seed": 0},
        searches=[
            search_summary(
                search, {"target": "malignant", "metric": "auc", "budget": 10, "preset": "default"}
            )
        ],
        robustness={
            "icc": {f"f{j}": j / 30 for j in range(30)},
            "threshold": 0.75,
            "shifts": list(np.linspace(0, 0.2, 9)),
            "perturbations": ["dilate 1 voxel"],
            "n_lesions": 9,
        },
    )


EXPECTED_FIGURES = [
    *(
        f"fig-malignant-leave-centre-out-{k}"
        for k in ("roc", "pr", "confusion", "calibration", "decision", "importance")
    ),
    *(f"fig-diagnosis-repeated-split-{k}" for k in ("roc", "pr", "confusion", "calibration", "decision")),
    "fig-search-malignant",
    "fig-robustness",
]


@pytest.mark.slow
def test_report_opens_in_chromium_without_errors_and_draws_every_figure(browser, report, tmp_path):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requests.append(request.url))
    page.on("requestfailed", lambda request: errors.append(f"failed request {request.url[:60]}"))
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    assert errors == []
    # the page itself and its data: URIs only; nothing leaves the file
    assert all(url.startswith(("file://", "data:")) for url in requests)
    drawn = page.evaluate(
        """() => Array.from(document.images).map(img => [img.id, img.alt, img.complete && img.naturalWidth > 0])"""
    )
    by_id = {image_id: (alt, ok) for image_id, alt, ok in drawn}
    assert sorted(by_id) == sorted(EXPECTED_FIGURES)
    for image_id in EXPECTED_FIGURES:
        alt, ok = by_id[image_id]
        assert ok, f"{image_id} was not drawn"
        assert alt
    assert page.locator("#summary .headline").count() == 2
    assert "AUC of" in page.locator("#headline-malignant").inner_text()
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
    page.close()
