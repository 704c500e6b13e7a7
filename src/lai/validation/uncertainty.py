"""Confidence intervals for a metric averaged over repeated train/test splits.

The ``J`` test-set scores of repeated random splits are not independent (their training sets overlap), so
the naive interval ``mean ± t * sd / sqrt(J)`` is far too narrow. Nadeau & Bengio (2003) correct the variance
of the mean by the factor ``1/J + n_test/n_train`` in place of ``1/J``. WORC reports this interval on the
raw scale, where it can pass 1.0 for a good AUC; LAI computes it on the logit scale for metrics bounded by
[0, 1], so it always stays inside.

References
----------
Nadeau C, Bengio Y (2003). Inference for the generalization error. Mach Learn 52:239-281.
Bouckaert RR, Frank E (2004). Evaluating the replicability of significance tests for comparing learning
algorithms. PAKDD 2004, LNAI 3056:3-12 (the corrected repeated-split t-test in practice).
Agresti A (2013). Categorical Data Analysis, 3rd ed. Wiley, section 1.4 (intervals on the logit scale,
back-transformed, by the delta method).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import t as student_t

from lai.validation.bootstrap import Estimate


def corrected_resampled_t_interval(
    scores: Sequence[float] | np.ndarray,
    n_train: int,
    n_test: int,
    level: float = 0.95,
    bounded: bool = True,
) -> Estimate:
    """Return the mean of repeated-split scores with the corrected resampled t interval (Nadeau & Bengio 2003).

    With ``J`` scores of mean ``m`` and sample variance ``s**2`` (``ddof=1``), the standard error of ``m`` is
    ``se = sqrt((1/J + n_test/n_train) * s**2)`` and the raw interval is ``m ± t_{J-1} * se`` with the
    ``(1 + level) / 2`` quantile of Student's t on ``J - 1`` degrees of freedom.

    With ``bounded=True`` the same interval is built on the logit scale and transformed back:
    ``expit(logit(m) ± t_{J-1} * se / (m * (1 - m)))``, the delta-method standard error of ``logit(m)``.
    Only the mean is transformed, not each score, so single scores of exactly 0 or 1 (a perfect AUC in one
    split) need no clipping and do not blow up the interval. The interval lies strictly inside (0, 1)
    whenever ``0 < m < 1``; when every score is 0 or every score is 1 the mean is 0 or 1, the scores have no
    spread and the interval is that single value.

    Parameters
    ----------
    scores
        One score per split (at least 2), e.g. the test AUC of each of 100 random 80/20 splits.
    n_train, n_test
        Number of training and test observations of one split (lesions, or patients when splitting by patient).
    level
        Coverage of the interval, in (0, 1).
    bounded
        Whether the metric lives in [0, 1] (AUC, accuracy, sensitivity ...) and the interval must too.

    Returns
    -------
    Estimate
        The mean score and its interval; ``method`` names the test, ``J`` and the scale.

    Examples
    --------
    >>> estimate = corrected_resampled_t_interval([0.97, 0.99, 1.0, 0.98, 1.0], n_train=80, n_test=20)
    >>> 0.0 < estimate.ci_low < estimate.value < estimate.ci_high < 1.0
    True

    References
    ----------
    Nadeau C, Bengio Y (2003). Inference for the generalization error. Mach Learn 52:239-281.
    """
    values = np.asarray(scores, dtype=np.float64).ravel()
    if values.size < 2:
        msg = f"The corrected resampled t interval needs at least 2 split scores, got {values.size}"
        raise ValueError(msg)
    if not np.all(np.isfinite(values)):
        msg = f"Split scores must be finite numbers, got {values[~np.isfinite(values)].tolist()}"
        raise ValueError(msg)
    if n_train < 1 or n_test < 1:
        msg = f"Split sizes must be positive, got n_train={n_train}, n_test={n_test}"
        raise ValueError(msg)
    if not 0.0 < level < 1.0:
        msg = f"Confidence level must be in (0, 1), got {level}"
        raise ValueError(msg)
    if bounded and (values.min() < 0.0 or values.max() > 1.0):
        msg = f"Bounded scores must lie in [0, 1], got range [{values.min()}, {values.max()}]"
        raise ValueError(msg)
    n_splits = values.size
    mean = float(values.mean())
    standard_error = math.sqrt((1.0 / n_splits + n_test / n_train) * float(values.var(ddof=1)))
    quantile = float(student_t.ppf(0.5 + level / 2.0, n_splits - 1))
    scale = "logit scale" if bounded else "raw scale"
    method = f"corrected resampled t (Nadeau & Bengio 2003), {n_splits} splits, {scale}"
    if not bounded:
        return Estimate(
            mean, mean - quantile * standard_error, mean + quantile * standard_error, method, level
        )
    if mean in (0.0, 1.0):
        return Estimate(mean, mean, mean, method, level)
    centre = math.log(mean / (1.0 - mean))
    half_width = quantile * standard_error / (mean * (1.0 - mean))
    return Estimate(mean, _expit(centre - half_width), _expit(centre + half_width), method, level)


def _expit(value: float) -> float:
    """Return the logistic function of ``value`` without overflow."""
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exponential = math.exp(value)
    return exponential / (1.0 + exponential)
