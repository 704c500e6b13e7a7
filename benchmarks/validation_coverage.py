"""Coverage of repeated-split confidence intervals for AUC: naive t, WORC's corrected t, LAI's corrected t.

A seeded simulation: a logistic population with a known expected AUC of logistic regression trained on
``n_train`` samples (the "truth", estimated on a large independent test population), many datasets of ``n``
samples, each validated by ``J`` random train/test splits. For every dataset three 95% intervals are built from
the J split AUCs:

- naive t: ``mean ± t * sd / sqrt(J)``, which ignores that the splits' training sets overlap;
- corrected resampled t on the raw scale (Nadeau & Bengio 2003), as WORC reports it (it can pass 1.0);
- corrected resampled t on the logit scale, as LAI reports it (:func:`lai.validation.corrected_resampled_t_interval`).

The table gives each interval's coverage of the truth, its mean width, and how often its upper limit passed 1.

    python benchmarks/validation_coverage.py --strength 1.0 4.0 --datasets 200
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from rich.console import Console
from rich.table import Table
from scipy.stats import t as student_t
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from lai.validation import corrected_resampled_t_interval

INTERVALS = ("naive t", "corrected t, raw scale (WORC)", "corrected t, logit scale (LAI)")


def _sample(n: int, beta: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = rng.normal(0.0, 1.0, (n, beta.size))
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-X @ beta))).astype(int)
    return X, y


def coverage(strength: float, n: int, splits: int, datasets: int, seed: int) -> dict[str, object]:
    """Simulate ``datasets`` datasets and return each interval's coverage, width and overshoot of 1."""
    rng = np.random.default_rng(seed)
    beta = np.array([strength, strength / 2.0, 0.0, 0.0, 0.0])
    n_test = n // 5
    n_train = n - n_test
    big_X, big_y = _sample(20_000, beta, rng)
    truth = float(
        np.mean(
            [
                roc_auc_score(
                    big_y, LogisticRegression().fit(*_sample(n_train, beta, rng)).decision_function(big_X)
                )
                for _ in range(300)
            ]
        )
    )
    hits = {name: 0 for name in INTERVALS}
    widths = {name: 0.0 for name in INTERVALS}
    above_one = {name: 0 for name in INTERVALS}
    quantile = float(student_t.ppf(0.975, splits - 1))
    for _ in range(datasets):
        X, y = _sample(n, beta, rng)
        scores = np.empty(splits)
        for j in range(splits):
            order = rng.permutation(n)
            test, train = order[:n_test], order[n_test:]
            model = LogisticRegression().fit(X[train], y[train])
            scores[j] = roc_auc_score(y[test], model.decision_function(X[test]))
        mean = float(scores.mean())
        half = quantile * float(scores.std(ddof=1)) / math.sqrt(splits)
        raw = corrected_resampled_t_interval(scores, n_train, n_test, bounded=False)
        logit = corrected_resampled_t_interval(scores, n_train, n_test, bounded=True)
        bounds = {
            INTERVALS[0]: (mean - half, mean + half),
            INTERVALS[1]: (raw.ci_low, raw.ci_high),
            INTERVALS[2]: (logit.ci_low, logit.ci_high),
        }
        for name, (low, high) in bounds.items():
            hits[name] += int(low <= truth <= high)
            widths[name] += high - low
            above_one[name] += int(high > 1.0)
    return {
        "truth": truth,
        "rows": [
            (name, hits[name] / datasets, widths[name] / datasets, above_one[name]) for name in INTERVALS
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strength", type=float, nargs="+", default=[1.0, 4.0], help="Effect sizes.")
    parser.add_argument("--n", type=int, default=150, help="Samples per dataset.")
    parser.add_argument("--splits", type=int, default=25, help="Random 80/20 splits per dataset (J).")
    parser.add_argument("--datasets", type=int, default=200, help="Simulated datasets per effect size.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    table = Table(title=f"95% intervals over {args.datasets} datasets of {args.n}, {args.splits} splits each")
    for column in ("true expected AUC", "interval", "coverage", "mean width", "upper limit > 1"):
        table.add_column(column)
    for strength in args.strength:
        result = coverage(strength, args.n, args.splits, args.datasets, args.seed)
        for name, covered, width, over in result["rows"]:  # type: ignore[attr-defined]
            table.add_row(f"{result['truth']:.3f}", name, f"{covered:.3f}", f"{width:.3f}", str(over))
    Console().print(table)


if __name__ == "__main__":
    main()
