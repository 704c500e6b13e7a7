"""ComBat harmonisation of features across centres, as a scikit-learn transformer fitted on training rows only.

Scanner, protocol and site shift radiomic features by centre: a location (additive) and a scale
(multiplicative) effect per feature and centre. ComBat (Johnson, Li & Rabinovic 2007) estimates both per
feature, shrinks them towards the centre's average over all features by empirical Bayes (robust for small
centres), and removes them. It was brought to imaging by Fortin et al. (2017, 2018) and to radiomics by
Orlhac et al. (2019).

The model, for feature ``g`` of lesion ``j`` in centre ``i``: ``y_ijg = alpha_g + gamma_ig + delta_ig * e_ijg``
with ``e_ijg ~ N(0, sigma_g**2)``. Steps (Johnson et al. 2007, section 3.1):

1. standardise: ``z = (y - alpha_g) / sigma_g`` with ``alpha_g`` the grand mean and ``sigma_g**2`` the
   pooled within-centre variance (divisor ``n``);
2. per centre and feature, ``gamma_hat`` = mean of ``z`` and ``delta_hat**2`` = its variance (``ddof=1``);
3. priors per centre, by the method of moments over features: ``gamma ~ N(gamma_bar, tau**2)`` and
   ``delta**2 ~ InverseGamma(lambda, theta)``;
4. parametric: iterate the posterior means ``gamma*`` and ``delta*`` to convergence; non-parametric: weight
   every other feature's ``(gamma_hat, delta_hat**2)`` by the likelihood of this feature's data under them;
5. adjust: ``y* = sigma_g * (z - gamma*) / delta* + alpha_g``.

No biological covariates are protected: in a validation fold the labels of the rows being harmonised must not
be used, so LAI's ComBat is unsupervised (as ``neuroCombat`` without a covariate matrix).

References
----------
Johnson WE, Li C, Rabinovic A (2007). Adjusting batch effects in microarray expression data using empirical
Bayes methods. Biostatistics 8:118-127.
Fortin JP, Parker D, Tunc B, et al. (2017). Harmonization of multi-site diffusion tensor imaging data.
NeuroImage 161:149-170.
Orlhac F, Frouin F, Nioche C, Ayache N, Buvat I (2019). Validation of a method to compensate multicenter
effects affecting CT radiomics. Radiology 291:53-59.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError

UnseenPolicy = Literal["estimate", "keep"]


class HarmonisationWarning(UserWarning):
    """A batch could not be harmonised as fitted (unseen at fit, or too small) and was treated as documented."""


class ComBat(TransformerMixin, BaseEstimator):
    """ComBat harmonisation: remove each centre's location and scale effect on each feature (Johnson 2007).

    Works on a pandas DataFrame holding the feature columns and the batch column; the output is a DataFrame
    of the feature columns only (the batch column is dropped), same index. Missing values (NaN) stay missing
    and are left out of every estimate. A feature constant within every centre is passed through unchanged.

    Parameters
    ----------
    batch_column
        Column of ``X`` naming the batch (centre, scanner).
    parametric
        Empirical-Bayes priors: parametric (normal / inverse-gamma, the default) or non-parametric.
    unseen
        What ``transform`` does with rows of a batch not seen by ``fit`` (leave-centre-out validation):
        ``"estimate"`` (default) standardises them with the fitted grand mean and pooled variance, estimates
        that batch's own location and scale from its own rows (features only, never labels, never the
        training rows' parameters) with the same empirical-Bayes shrinkage, and removes them; this is
        transductive over the unseen batch, so its rows must be harmonised together (at least 2).
        ``"keep"`` leaves them as they are. Either way a ``HarmonisationWarning`` says so; a batch of one
        row is always kept as is.
    max_iter, tol
        Limit and relative tolerance of the parametric posterior iteration.

    Attributes
    ----------
    feature_names_in_
        Feature columns (every column of ``X`` but the batch column), in order.
    batches_
        Batches seen at fit.
    grand_mean_, pooled_sd_
        ``alpha_g`` and ``sigma_g`` per feature.
    gamma_, delta_
        Shrunken location and scale per batch (rows, in ``batches_`` order) and feature; ``delta_`` is the
        standard deviation ``delta*`` (not its square).
    adjusted_
        Whether each feature is harmonised (False for features constant within every batch).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"centre": np.repeat(["A", "B"], 50), "t2w:original_firstorder_Mean": rng.normal(0, 1, 100),
    ...                   "adc:original_firstorder_Mean": rng.normal(0, 1, 100)})
    >>> X.loc[X["centre"] == "B", "t2w:original_firstorder_Mean"] += 5.0
    >>> harmonised = ComBat().fit_transform(X)
    >>> bool(abs(harmonised.groupby(X["centre"])["t2w:original_firstorder_Mean"].mean().diff().iloc[1]) < 0.5)
    True

    References
    ----------
    Johnson WE, Li C, Rabinovic A (2007). Biostatistics 8:118-127. Fortin JP et al. (2017). NeuroImage 161:149-170.
    """

    def __init__(
        self,
        batch_column: str = "centre",
        parametric: bool = True,
        unseen: UnseenPolicy = "estimate",
        max_iter: int = 1000,
        tol: float = 1e-4,
    ) -> None:
        self.batch_column = batch_column
        self.parametric = parametric
        self.unseen = unseen
        self.max_iter = max_iter
        self.tol = tol

    # --- Fit ---

    def fit(self, X: pd.DataFrame, y: Any = None) -> ComBat:
        """Estimate the grand mean, pooled variance and each batch's shrunken location and scale from ``X``.

        Parameters
        ----------
        X
            Training rows: the batch column and numeric feature columns.
        y
            Ignored (ComBat is unsupervised here); accepted for the scikit-learn API.

        Returns
        -------
        ComBat
            ``self``, fitted.
        """
        if self.unseen not in ("estimate", "keep"):
            msg = f"Unknown unseen-batch policy {self.unseen!r}: use 'estimate' or 'keep'"
            raise ValueError(msg)
        values, batch, features = self._split(X, fitting=True)
        labels, codes = np.unique(batch, return_inverse=True)
        sizes = np.bincount(codes)
        if labels.size < 1 or sizes.min() < 2:
            small = [str(b) for b, s in zip(labels, sizes, strict=True) if s < 2]
            msg = f"ComBat needs at least 2 rows per batch at fit; {self.batch_column} {small} has fewer"
            raise ValueError(msg)
        present = np.isfinite(values)
        filled = np.where(present, values, 0.0)
        counts = np.stack([present[codes == b].sum(axis=0) for b in range(labels.size)])
        sums = np.stack([filled[codes == b].sum(axis=0) for b in range(labels.size)])
        with np.errstate(invalid="ignore", divide="ignore"):
            batch_means = sums / counts
            grand_mean = sums.sum(axis=0) / counts.sum(axis=0)
            residual = np.where(present, values - batch_means[codes], 0.0)
            pooled_sd = np.sqrt(np.sum(residual**2, axis=0) / counts.sum(axis=0))
        adjusted = np.isfinite(pooled_sd) & (pooled_sd > 1e-12 * np.maximum(np.abs(grand_mean), 1.0))
        gamma = np.zeros((labels.size, values.shape[1]))
        delta = np.ones((labels.size, values.shape[1]))
        standardised = (values[:, adjusted] - grand_mean[adjusted]) / pooled_sd[adjusted]
        for b in range(labels.size):
            gamma[b, adjusted], delta[b, adjusted] = self._batch_effect(standardised[codes == b])
        self.feature_names_in_ = np.asarray(features, dtype=object)
        self.n_features_in_ = len(features)
        self.batches_ = labels
        self.grand_mean_ = grand_mean
        self.pooled_sd_ = pooled_sd
        self.gamma_ = gamma
        self.delta_ = delta
        self.adjusted_ = adjusted
        return self

    # --- Transform ---

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Return the harmonised feature columns of ``X`` (batch column dropped), same index.

        Rows of a batch seen at fit get that batch's fitted adjustment; rows of an unseen batch are treated
        by the ``unseen`` policy, with a ``HarmonisationWarning``.
        """
        if not hasattr(self, "gamma_"):
            msg = "This ComBat instance is not fitted yet: call fit(X) first"
            raise NotFittedError(msg)
        values, batch, _ = self._split(X, fitting=False)
        out = values.copy()
        adjusted = self.adjusted_
        standardised = (values[:, adjusted] - self.grand_mean_[adjusted]) / self.pooled_sd_[adjusted]
        known = {str(b): i for i, b in enumerate(self.batches_)}
        for label in pd.unique(batch):
            rows = batch == label
            if str(label) in known:
                gamma, delta = (
                    self.gamma_[known[str(label)], adjusted],
                    self.delta_[known[str(label)], adjusted],
                )
            elif self.unseen == "estimate" and rows.sum() >= 2:
                warnings.warn(
                    f"{self.batch_column} {label!r} was not seen at fit: its location and scale are estimated "
                    f"from its own {int(rows.sum())} rows (unsupervised) and removed",
                    HarmonisationWarning,
                    stacklevel=2,
                )
                gamma, delta = self._batch_effect(standardised[rows])
            else:
                warnings.warn(
                    f"{self.batch_column} {label!r} was not seen at fit and is left as it is "
                    f"({int(rows.sum())} rows, policy {self.unseen!r})",
                    HarmonisationWarning,
                    stacklevel=2,
                )
                continue
            harmonised = (standardised[rows] - gamma) / delta * self.pooled_sd_[adjusted] + self.grand_mean_[
                adjusted
            ]
            out[np.ix_(rows, adjusted)] = harmonised
        return pd.DataFrame(out, index=X.index, columns=list(self.feature_names_in_))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Return the output column names: the feature columns, without the batch column."""
        if not hasattr(self, "feature_names_in_"):
            msg = "This ComBat instance is not fitted yet: call fit(X) first"
            raise NotFittedError(msg)
        return np.asarray(self.feature_names_in_, dtype=object)

    # --- Internals ---

    def _split(self, X: Any, *, fitting: bool) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Return ``(feature values as float (n, p), batch labels (n,), feature names)``, checking the columns."""
        if not isinstance(X, pd.DataFrame):
            msg = (
                f"ComBat needs a pandas DataFrame with a {self.batch_column!r} column, got {type(X).__name__}"
            )
            raise TypeError(msg)
        if self.batch_column not in X.columns:
            msg = f"ComBat input has no batch column {self.batch_column!r}; columns: {list(X.columns)[:8]}"
            raise ValueError(msg)
        batch = X[self.batch_column]
        if batch.isna().any():
            msg = f"Batch column {self.batch_column!r} has missing values in {int(batch.isna().sum())} rows"
            raise ValueError(msg)
        features = [c for c in X.columns if c != self.batch_column]
        if not fitting:
            expected = list(self.feature_names_in_)
            if features != expected:
                missing = [c for c in expected if c not in features]
                extra = [c for c in features if c not in expected]
                msg = (
                    f"ComBat transform columns differ from fit: missing {missing[:5]}, unexpected {extra[:5]}"
                )
                raise ValueError(msg)
        frame = X[features]
        non_numeric = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
        if non_numeric:
            msg = f"ComBat features must be numeric; non-numeric columns: {non_numeric[:5]}"
            raise ValueError(msg)
        values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isinf(values).any():
            msg = "ComBat features must not be infinite"
            raise ValueError(msg)
        return values, batch.to_numpy(), [str(c) for c in features]

    def _batch_effect(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return one batch's shrunken ``(gamma*, delta*)`` per feature from its standardised rows ``z``."""
        present = np.isfinite(z)
        n = present.sum(axis=0).astype(np.float64)
        filled = np.where(present, z, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            gamma_hat = filled.sum(axis=0) / n
            delta_hat2 = np.sum(np.where(present, z - gamma_hat, 0.0) ** 2, axis=0) / (n - 1.0)
        usable = (n >= 2) & np.isfinite(delta_hat2) & (delta_hat2 > 0)
        gamma = np.zeros(z.shape[1])
        delta2 = np.ones(z.shape[1])
        if usable.sum() < 3:
            # priors need spread across features; with fewer than 3 usable features use the raw estimates
            gamma[usable], delta2[usable] = gamma_hat[usable], delta_hat2[usable]
            return gamma, np.sqrt(delta2)
        g, d2, count = gamma_hat[usable], delta_hat2[usable], n[usable]
        sum_z = filled.sum(axis=0)[usable]
        sum_z2 = np.sum(filled**2, axis=0)[usable]
        if self.parametric:
            gamma[usable], delta2[usable] = self._parametric(g, d2, count, sum_z, sum_z2)
        else:
            gamma[usable], delta2[usable] = _non_parametric(g, d2, count, sum_z, sum_z2)
        return gamma, np.sqrt(delta2)

    def _parametric(
        self, g: np.ndarray, d2: np.ndarray, n: np.ndarray, sum_z: np.ndarray, sum_z2: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the parametric empirical-Bayes posterior means (Johnson et al. 2007, equations 3.1-3.2)."""
        gamma_bar, tau2 = g.mean(), g.var(ddof=1)
        mean, variance = d2.mean(), d2.var(ddof=1)
        if variance <= 0 or tau2 <= 0:
            return g, d2
        lam = (mean**2 + 2.0 * variance) / variance
        theta = (mean**3 + mean * variance) / variance
        gamma, delta2 = g.copy(), d2.copy()
        for _ in range(self.max_iter):
            new_gamma = (n * tau2 * g + delta2 * gamma_bar) / (n * tau2 + delta2)
            squares = sum_z2 - 2.0 * new_gamma * sum_z + n * new_gamma**2
            new_delta2 = (theta + 0.5 * squares) / (n / 2.0 + lam - 1.0)
            change = max(
                np.max(np.abs(new_gamma - gamma) / np.maximum(np.abs(gamma), 1e-12)),
                np.max(np.abs(new_delta2 - delta2) / delta2),
            )
            gamma, delta2 = new_gamma, new_delta2
            if change < self.tol:
                break
        return gamma, delta2


def _non_parametric(
    g: np.ndarray, d2: np.ndarray, n: np.ndarray, sum_z: np.ndarray, sum_z2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return non-parametric empirical-Bayes estimates (Johnson et al. 2007, section 3.2 / supplement).

    For feature ``g`` the prior is the empirical distribution of the other features' ``(gamma_hat,
    delta_hat**2)``; each is weighted by the likelihood of feature ``g``'s standardised values under it.
    """
    # log L[f, h] = sum_j log N(z_jf; g_h, d2_h), from the sums of z and z**2 of feature f
    squares = sum_z2[:, None] - 2.0 * g[None, :] * sum_z[:, None] + n[:, None] * g[None, :] ** 2
    log_likelihood = -0.5 * n[:, None] * np.log(2.0 * np.pi * d2[None, :]) - squares / (2.0 * d2[None, :])
    np.fill_diagonal(log_likelihood, -np.inf)
    weights = np.exp(log_likelihood - log_likelihood.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    return weights @ g, weights @ d2
