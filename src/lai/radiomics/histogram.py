"""IBSI intensity histogram features (``ih_*``): statistics of the discretised ROI grey levels.

``X_d`` holds the ``N`` discretised grey levels (1..N_g) of the ROI voxels, ``n_i`` the number of voxels
with level ``i`` and ``p_i = n_i / N`` the histogram. The statistics shared with the intensity statistics
family (mean through quartile coefficient of dispersion) are those of
:func:`lai.radiomics.statistics.statistics_features` applied to ``X_d``. Definitions follow the IBSI 1
reference manual (Zwanenburg et al., Radiology 2020; arXiv:1612.07003), "Intensity histogram features".
"""

from __future__ import annotations

import numpy as np

from lai.radiomics.catalogue import FeatureDefinition
from lai.radiomics.statistics import statistics_features

AGGREGATIONS: tuple[str, ...] = ()

FEATURES: tuple[FeatureDefinition, ...] = (
    FeatureDefinition("ih_mean", "X6K6", "Mean discretised intensity", "intensity_histogram"),
    FeatureDefinition("ih_var", "CH89", "Discretised intensity variance", "intensity_histogram"),
    FeatureDefinition("ih_skew", "88K1", "Discretised intensity skewness", "intensity_histogram"),
    FeatureDefinition("ih_kurt", "C3I7", "(Excess) discretised intensity kurtosis", "intensity_histogram"),
    FeatureDefinition("ih_median", "WIFQ", "Median discretised intensity", "intensity_histogram"),
    FeatureDefinition("ih_min", "1PR8", "Minimum discretised intensity", "intensity_histogram"),
    FeatureDefinition("ih_p10", "GPMT", "10th discretised intensity percentile", "intensity_histogram"),
    FeatureDefinition("ih_p90", "OZ0C", "90th discretised intensity percentile", "intensity_histogram"),
    FeatureDefinition("ih_max", "3NCY", "Maximum discretised intensity", "intensity_histogram"),
    FeatureDefinition("ih_mode", "AMMC", "Intensity histogram mode", "intensity_histogram"),
    FeatureDefinition("ih_iqr", "WR0O", "Discretised intensity interquartile range", "intensity_histogram"),
    FeatureDefinition("ih_range", "5Z3W", "Discretised intensity range", "intensity_histogram"),
    FeatureDefinition("ih_mad", "D2ZX", "Intensity histogram mean absolute deviation", "intensity_histogram"),
    FeatureDefinition(
        "ih_rmad",
        "WRZB",
        "Intensity histogram robust mean absolute deviation",
        "intensity_histogram",
    ),
    FeatureDefinition(
        "ih_medad", "4RNL", "Intensity histogram median absolute deviation", "intensity_histogram"
    ),
    FeatureDefinition(
        "ih_cov", "CWYJ", "Intensity histogram coefficient of variation", "intensity_histogram"
    ),
    FeatureDefinition(
        "ih_qcod",
        "SLWD",
        "Intensity histogram quartile coefficient of dispersion",
        "intensity_histogram",
    ),
    FeatureDefinition(
        "ih_entropy", "TLU2", "Discretised intensity entropy", "intensity_histogram", "Entropy"
    ),
    FeatureDefinition(
        "ih_uniformity", "BJ5W", "Discretised intensity uniformity", "intensity_histogram", "Uniformity"
    ),
    FeatureDefinition("ih_max_grad", "12CE", "Maximum histogram gradient", "intensity_histogram"),
    FeatureDefinition("ih_max_grad_g", "8E6O", "Maximum histogram gradient intensity", "intensity_histogram"),
    FeatureDefinition("ih_min_grad", "VQB3", "Minimum histogram gradient", "intensity_histogram"),
    FeatureDefinition("ih_min_grad_g", "RHQZ", "Minimum histogram gradient intensity", "intensity_histogram"),
)
"""The 23 IBSI intensity histogram features, in the manual's order. Only entropy and uniformity share
PyRadiomics' definition (its other first-order features use the undiscretised intensities)."""


def histogram_features(levels: np.ndarray, *, n_levels: int) -> dict[str, float]:
    """Return the 23 IBSI intensity histogram features of discretised ROI ``levels``, keyed by base tag.

    Parameters
    ----------
    levels
        Discretised grey levels of the ROI voxels, integers in 1..``n_levels`` (any shape, flattened).
    n_levels
        Number of grey levels ``N_g`` of the discretisation; the histogram has one bin per level,
        empty bins included (they matter for the gradients).

    Returns
    -------
    dict
        ``ih_mean`` (X6K6) ... ``ih_qcod`` (SLWD): the intensity statistics of ``X_d``, i.e. mean, variance,
        skewness, excess kurtosis, median, minimum, 10th percentile (GPMT), 90th percentile (OZ0C), maximum,
        interquartile range, range, mean / robust mean / median absolute deviation, coefficient of
        variation and quartile coefficient of dispersion, as defined in
        :func:`~lai.radiomics.statistics.statistics_features`;
        ``ih_mode`` (AMMC) ``argmax_i n_i`` (the lowest level among ties);
        ``ih_entropy`` (TLU2) ``-sum_i p_i log2 p_i`` over non-empty bins;
        ``ih_uniformity`` (BJ5W) ``sum_i p_i^2``;
        ``ih_max_grad`` (12CE) ``max_i H'_i`` and ``ih_max_grad_g`` (8E6O) the level where it occurs
        (the lowest among ties), with the histogram gradient ``H'_1 = n_2 - n_1``,
        ``H'_i = (n_{i+1} - n_{i-1}) / 2`` and ``H'_{N_g} = n_{N_g} - n_{N_g - 1}`` (0 when ``N_g = 1``);
        ``ih_min_grad`` (VQB3) ``min_i H'_i`` and ``ih_min_grad_g`` (RHQZ) its level.

    Examples
    --------
    >>> histogram_features(np.array([1, 1, 2, 3]), n_levels=3)["ih_uniformity"]
    0.375
    """
    x = np.asarray(levels).ravel()
    if x.size and (x.min() < 1 or x.max() > n_levels):
        msg = f"Discretised levels must lie in 1..{n_levels}, got {x.min()}..{x.max()}"
        raise ValueError(msg)
    stats = statistics_features(x)
    counts = np.bincount(x.astype(np.int64) - 1, minlength=n_levels).astype(np.float64)
    p = counts / x.size
    present = p[p > 0]
    gradient = np.gradient(counts) if n_levels > 1 else np.zeros(1)
    features = {"ih" + tag[len("stat") :]: value for tag, value in stats.items()}
    features.update(
        {
            "ih_mode": float(np.argmax(counts) + 1),
            "ih_entropy": float(-np.sum(present * np.log2(present))),
            "ih_uniformity": float(np.sum(p**2)),
            "ih_max_grad": float(gradient.max()),
            "ih_max_grad_g": float(np.argmax(gradient) + 1),
            "ih_min_grad": float(gradient.min()),
            "ih_min_grad_g": float(np.argmin(gradient) + 1),
        }
    )
    return {definition.base_tag: features[definition.base_tag] for definition in FEATURES}
