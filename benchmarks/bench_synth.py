"""Time the synthetic cohort generator and check how separable its lesion types are.

Usage::

    python benchmarks/bench_synth.py --patients 200 --centres 5 --seed 0 --out /tmp/lai-synth
    python benchmarks/bench_synth.py --patients 200 --separability      # also the ratios and logistic regression

Prints a table (patients, seconds, patients/s, peak memory). With ``--separability`` it also measures the
lesion-to-liver ratios (``lai.synth.describe``), prints their summary per (diagnosis, sequence), and fits
a standardised logistic regression on the per-sequence mean ratios: 8-class macro F1 and benign-vs-malignant
AUC, in patient-grouped 5-fold cross-validation (docs/synthetic-cohort.md quotes the results).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _peak_memory_mb() -> float:
    """Return the peak resident memory of this process and of its largest finished child, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024.0


def separability(ratios: pd.DataFrame, seed: int) -> dict[str, float]:
    """Return macro F1 (8 classes) and benign-vs-malignant AUC of a logistic regression on mean ratios."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score, roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from lai.data.taxonomy import SEQUENCES

    columns = [s for s in SEQUENCES if s in ratios.columns]
    x = np.log(ratios[columns].clip(lower=1e-3).to_numpy(dtype=float))
    groups = ratios["case_id"].to_numpy()
    folds = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed)
    model = make_pipeline(
        SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(max_iter=2000)
    )
    y = ratios["diagnosis"].to_numpy()
    predicted = cross_val_predict(model, x, y, groups=groups, cv=folds)
    malignant = ratios["malignant"].astype(bool).to_numpy()
    probability = cross_val_predict(model, x, malignant, groups=groups, cv=folds, method="predict_proba")[
        :, 1
    ]
    return {
        "macro_f1_8class": float(f1_score(y, predicted, average="macro")),
        "auc_benign_vs_malignant": float(roc_auc_score(malignant, probability)),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--centres", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/lai-bench-synth"))
    parser.add_argument("--separability", action="store_true")
    args = parser.parse_args(argv)

    from lai.synth import generate_cohort
    from lai.synth.describe import lesion_ratios, summarise_ratios

    if args.out.exists():
        shutil.rmtree(args.out)
    os.environ.setdefault("LAI_NO_PROGRESS", "1")
    start = time.perf_counter()
    dataset = generate_cohort(args.out, patients=args.patients, centres=args.centres, seed=args.seed)
    seconds = time.perf_counter() - start
    print("| patients | cores | seconds | patients/s | peak memory (MB) |\n|---|---|---|---|---|")
    print(
        f"| {args.patients} | {os.cpu_count()} | {seconds:.1f} | {args.patients / seconds:.2f} | {_peak_memory_mb():.0f} |"
    )
    if args.separability:
        ratios = lesion_ratios(dataset)
        pd.set_option("display.width", 200)
        print(summarise_ratios(ratios).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        print(f"lesions: {len(ratios)}, atypical: {ratios['atypical'].mean():.1%}")
        for name, value in separability(ratios, args.seed).items():
            print(f"{name}: {value:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
