"""Neighbouring grey level dependence matrix (NGLDM) features, IBSI 1 section 3.11.

A voxel's neighbourhood is the ROI voxels within Chebyshev distance :math:`\\delta` (default 1: 26
neighbours in 3D, 8 in plane for 2D and 2.5D). A neighbour depends on the centre when their grey levels
differ by at most the coarseness :math:`\\alpha` (default 0); the dependence count :math:`j` is the number
of dependent neighbours plus 1 for the centre. The NGLDM :math:`S` counts ROI voxels by grey level
:math:`i` and dependence :math:`j`. With :math:`N_s = \\sum_{ij} s_{ij}` neighbourhoods, :math:`N_v` ROI
voxels, :math:`p_{ij} = s_{ij} / N_s`, :math:`r_i = \\sum_j s_{ij}`, :math:`c_j = \\sum_i s_{ij}`:

==================  ====  ===============================================================
base tag            IBSI  formula
==================  ====  ===============================================================
ngl_lde             SODN  low dependence emphasis :math:`\\sum_j c_j / j^2 / N_s`
ngl_hde             IMOQ  high dependence emphasis :math:`\\sum_j c_j j^2 / N_s`
ngl_lgce            TL9H  low grey level count emphasis :math:`\\sum_i r_i / i^2 / N_s`
ngl_hgce            OAE7  high grey level count emphasis :math:`\\sum_i r_i i^2 / N_s`
ngl_ldlge           EQ3F  low dependence low grey level emphasis :math:`\\sum_{ij} s_{ij} / (i^2 j^2) / N_s`
ngl_ldhge           JA6D  low dependence high grey level emphasis :math:`\\sum_{ij} s_{ij} i^2 / j^2 / N_s`
ngl_hdlge           NBZI  high dependence low grey level emphasis :math:`\\sum_{ij} s_{ij} j^2 / i^2 / N_s`
ngl_hdhge           9QMG  high dependence high grey level emphasis :math:`\\sum_{ij} s_{ij} i^2 j^2 / N_s`
ngl_glnu            FP8K  grey level non-uniformity :math:`\\sum_i r_i^2 / N_s`
ngl_glnu_norm       5SPA  normalised grey level non-uniformity :math:`\\sum_i r_i^2 / N_s^2`
ngl_dcnu            Z87G  dependence count non-uniformity :math:`\\sum_j c_j^2 / N_s`
ngl_dcnu_norm       OKJI  normalised dependence count non-uniformity :math:`\\sum_j c_j^2 / N_s^2`
ngl_dc_perc         6XV8  dependence count percentage :math:`N_s / N_v` (1: every voxel has a neighbourhood)
ngl_gl_var          1PFV  grey level variance :math:`\\sum_{ij} (i - \\mu_i)^2 p_{ij}`, :math:`\\mu_i = \\sum_{ij} i p_{ij}`
ngl_dc_var          DNX2  dependence count variance :math:`\\sum_{ij} (j - \\mu_j)^2 p_{ij}`, :math:`\\mu_j = \\sum_{ij} j p_{ij}`
ngl_dc_entr         FCBV  dependence count entropy :math:`-\\sum_{ij} p_{ij} \\log_2 p_{ij}`
ngl_dc_energy       CAS9  dependence count energy :math:`\\sum_{ij} p_{ij}^2`
==================  ====  ===============================================================

Every ROI voxel has a neighbourhood, so a constant or one-voxel ROI gives defined values; an empty ROI
gives NaN. Aggregation: ``"2D"`` one NGLDM per slice (array axis k), features averaged over slices;
``"2_5D"`` the slices' NGLDMs added; ``"3D"`` one volumetric NGLDM.
The PyRadiomics names are those of its GLDM, which is this matrix (dependence counted with the centre).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lai.radiomics.catalogue import FeatureDefinition
from lai.radiomics.texture import (
    COUNT_FEATURES,
    VOLUME_AGGREGATIONS,
    check_aggregation,
    count_features,
    dependence_per_voxel,
    roi_levels,
    slice_index,
)

__all__ = ["AGGREGATIONS", "FEATURES", "ngldm_features"]

AGGREGATIONS: tuple[str, ...] = VOLUME_AGGREGATIONS

FEATURES: tuple[FeatureDefinition, ...] = (
    FeatureDefinition("ngl_lde", "SODN", "Low dependence emphasis", "ngldm", "SmallDependenceEmphasis"),
    FeatureDefinition("ngl_hde", "IMOQ", "High dependence emphasis", "ngldm", "LargeDependenceEmphasis"),
    FeatureDefinition("ngl_lgce", "TL9H", "Low grey level count emphasis", "ngldm", "LowGrayLevelEmphasis"),
    FeatureDefinition("ngl_hgce", "OAE7", "High grey level count emphasis", "ngldm", "HighGrayLevelEmphasis"),
    FeatureDefinition(
        "ngl_ldlge",
        "EQ3F",
        "Low dependence low grey level emphasis",
        "ngldm",
        "SmallDependenceLowGrayLevelEmphasis",
    ),
    FeatureDefinition(
        "ngl_ldhge",
        "JA6D",
        "Low dependence high grey level emphasis",
        "ngldm",
        "SmallDependenceHighGrayLevelEmphasis",
    ),
    FeatureDefinition(
        "ngl_hdlge",
        "NBZI",
        "High dependence low grey level emphasis",
        "ngldm",
        "LargeDependenceLowGrayLevelEmphasis",
    ),
    FeatureDefinition(
        "ngl_hdhge",
        "9QMG",
        "High dependence high grey level emphasis",
        "ngldm",
        "LargeDependenceHighGrayLevelEmphasis",
    ),
    FeatureDefinition("ngl_glnu", "FP8K", "Grey level non-uniformity", "ngldm", "GrayLevelNonUniformity"),
    FeatureDefinition("ngl_glnu_norm", "5SPA", "Normalised grey level non-uniformity", "ngldm"),
    FeatureDefinition(
        "ngl_dcnu", "Z87G", "Dependence count non-uniformity", "ngldm", "DependenceNonUniformity"
    ),
    FeatureDefinition(
        "ngl_dcnu_norm",
        "OKJI",
        "Normalised dependence count non-uniformity",
        "ngldm",
        "DependenceNonUniformityNormalized",
    ),
    FeatureDefinition("ngl_dc_perc", "6XV8", "Dependence count percentage", "ngldm"),
    FeatureDefinition("ngl_gl_var", "1PFV", "Grey level variance", "ngldm", "GrayLevelVariance"),
    FeatureDefinition("ngl_dc_var", "DNX2", "Dependence count variance", "ngldm", "DependenceVariance"),
    FeatureDefinition("ngl_dc_entr", "FCBV", "Dependence count entropy", "ngldm", "DependenceEntropy"),
    FeatureDefinition("ngl_dc_energy", "CAS9", "Dependence count energy", "ngldm"),
)


def ngldm_features(
    levels: np.ndarray,
    mask: np.ndarray,
    *,
    n_levels: int,
    aggregation: str,
    spacing: tuple[float, float, float],
    alpha: int = 0,
    distance: int = 1,
    **family_options: Any,
) -> dict[str, float]:
    """Return the 17 IBSI NGLDM features {base tag: value} of the ROI ``mask`` of grey levels ``levels``.

    Parameters
    ----------
    levels : integer grey levels 1..n_levels inside the ROI (values outside the mask are ignored), axes (i, j, k).
    mask : boolean ROI of the same shape.
    n_levels : number of grey levels N_g.
    aggregation : ``"2D"``, ``"2_5D"`` or ``"3D"`` (see the module docstring).
    spacing : voxel size in mm; unused, neighbourhoods are defined in voxel steps.
    alpha : coarseness: largest grey level difference for a neighbour to be dependent (IBSI default 0).
    distance : Chebyshev radius of the neighbourhood (IBSI default 1).

    Examples
    --------
    >>> levels = np.array([[[1], [1]], [[2], [1]]])
    >>> ngldm_features(levels, levels > 0, n_levels=2, aggregation="3D", spacing=(1, 1, 1))["ngl_hde"]
    7.0
    """
    if family_options:
        msg = f"NGLDM takes only the options 'alpha' and 'distance', got {sorted(family_options)}"
        raise TypeError(msg)
    check_aggregation(aggregation, AGGREGATIONS)
    levels, mask = roi_levels(levels, mask, n_levels)
    counts = dependence_per_voxel(levels, mask, alpha=alpha, distance=distance, in_plane=aggregation != "3D")
    values = count_features(levels[mask], counts, slice_index(mask)[mask], mask, n_levels, aggregation)
    return {feature.base_tag: values[name] for feature, name in zip(FEATURES, COUNT_FEATURES, strict=True)}
