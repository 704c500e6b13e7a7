"""Grey level size zone matrix (GLSZM) features, IBSI 1 section 3.8.

A zone is a connected group of ROI voxels sharing one grey level (26-connected in 3D, 8-connected in
plane for 2D and 2.5D). The GLSZM :math:`M` counts zones by grey level :math:`i = 1..N_g` and size
:math:`j = 1..N_s` voxels. With :math:`N_z = \\sum_{ij} m_{ij}` zones, :math:`N_v` ROI voxels,
:math:`p_{ij} = m_{ij} / N_z`, :math:`r_i = \\sum_j m_{ij}` and :math:`c_j = \\sum_i m_{ij}`:

==================  ====  ===============================================================
base tag            IBSI  formula
==================  ====  ===============================================================
szm_sze             5QRC  small zone emphasis :math:`\\sum_j c_j / j^2 / N_z`
szm_lze             48P8  large zone emphasis :math:`\\sum_j c_j j^2 / N_z`
szm_lgze            XMSY  low grey level zone emphasis :math:`\\sum_i r_i / i^2 / N_z`
szm_hgze            5GN9  high grey level zone emphasis :math:`\\sum_i r_i i^2 / N_z`
szm_szlge           5RAI  small zone low grey level emphasis :math:`\\sum_{ij} m_{ij} / (i^2 j^2) / N_z`
szm_szhge           HW1V  small zone high grey level emphasis :math:`\\sum_{ij} m_{ij} i^2 / j^2 / N_z`
szm_lzlge           YH51  large zone low grey level emphasis :math:`\\sum_{ij} m_{ij} j^2 / i^2 / N_z`
szm_lzhge           J17V  large zone high grey level emphasis :math:`\\sum_{ij} m_{ij} i^2 j^2 / N_z`
szm_glnu            JNSA  grey level non-uniformity :math:`\\sum_i r_i^2 / N_z`
szm_glnu_norm       Y1RO  normalised grey level non-uniformity :math:`\\sum_i r_i^2 / N_z^2`
szm_zsnu            4JP3  zone size non-uniformity :math:`\\sum_j c_j^2 / N_z`
szm_zsnu_norm       VB3A  normalised zone size non-uniformity :math:`\\sum_j c_j^2 / N_z^2`
szm_z_perc          P30P  zone percentage :math:`N_z / N_v`
szm_gl_var          BYLV  grey level variance :math:`\\sum_{ij} (i - \\mu_i)^2 p_{ij}`, :math:`\\mu_i = \\sum_{ij} i p_{ij}`
szm_zs_var          3NSA  zone size variance :math:`\\sum_{ij} (j - \\mu_j)^2 p_{ij}`, :math:`\\mu_j = \\sum_{ij} j p_{ij}`
szm_zs_entr         GU8N  zone size entropy :math:`-\\sum_{ij} p_{ij} \\log_2 p_{ij}`
==================  ====  ===============================================================

The same formulas, with the zone size replaced by another count, serve the GLDZM (zone distance) and
the NGLDM (dependence count): :func:`lai.radiomics.texture.count_matrix_features` computes them once for
all three.

Aggregation (IBSI 1 section 3.1): ``"2D"`` builds one matrix per slice (array axis k) and averages the
features over the slices holding ROI voxels; ``"2_5D"`` merges the slices' matrices into one; ``"3D"``
builds one volumetric matrix. A feature undefined on a slice (NaN) is left out of the 2D average.
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
    roi_levels,
    zone_table,
)

AGGREGATIONS: tuple[str, ...] = VOLUME_AGGREGATIONS

FEATURES: tuple[FeatureDefinition, ...] = (
    FeatureDefinition("szm_sze", "5QRC", "Small zone emphasis", "glszm", "SmallAreaEmphasis"),
    FeatureDefinition("szm_lze", "48P8", "Large zone emphasis", "glszm", "LargeAreaEmphasis"),
    FeatureDefinition(
        "szm_lgze", "XMSY", "Low grey level zone emphasis", "glszm", "LowGrayLevelZoneEmphasis"
    ),
    FeatureDefinition(
        "szm_hgze", "5GN9", "High grey level zone emphasis", "glszm", "HighGrayLevelZoneEmphasis"
    ),
    FeatureDefinition(
        "szm_szlge", "5RAI", "Small zone low grey level emphasis", "glszm", "SmallAreaLowGrayLevelEmphasis"
    ),
    FeatureDefinition(
        "szm_szhge", "HW1V", "Small zone high grey level emphasis", "glszm", "SmallAreaHighGrayLevelEmphasis"
    ),
    FeatureDefinition(
        "szm_lzlge", "YH51", "Large zone low grey level emphasis", "glszm", "LargeAreaLowGrayLevelEmphasis"
    ),
    FeatureDefinition(
        "szm_lzhge", "J17V", "Large zone high grey level emphasis", "glszm", "LargeAreaHighGrayLevelEmphasis"
    ),
    FeatureDefinition("szm_glnu", "JNSA", "Grey level non-uniformity", "glszm", "GrayLevelNonUniformity"),
    FeatureDefinition(
        "szm_glnu_norm",
        "Y1RO",
        "Normalised grey level non-uniformity",
        "glszm",
        "GrayLevelNonUniformityNormalized",
    ),
    FeatureDefinition("szm_zsnu", "4JP3", "Zone size non-uniformity", "glszm", "SizeZoneNonUniformity"),
    FeatureDefinition(
        "szm_zsnu_norm",
        "VB3A",
        "Normalised zone size non-uniformity",
        "glszm",
        "SizeZoneNonUniformityNormalized",
    ),
    FeatureDefinition("szm_z_perc", "P30P", "Zone percentage", "glszm", "ZonePercentage"),
    FeatureDefinition("szm_gl_var", "BYLV", "Grey level variance", "glszm", "GrayLevelVariance"),
    FeatureDefinition("szm_zs_var", "3NSA", "Zone size variance", "glszm", "ZoneVariance"),
    FeatureDefinition("szm_zs_entr", "GU8N", "Zone size entropy", "glszm", "ZoneEntropy"),
)


def glszm_features(
    levels: np.ndarray,
    mask: np.ndarray,
    *,
    n_levels: int,
    aggregation: str,
    spacing: tuple[float, float, float],
    **family_options: Any,
) -> dict[str, float]:
    """Return the 16 IBSI GLSZM features {base tag: value} of the ROI ``mask`` of grey levels ``levels``.

    Parameters
    ----------
    levels : integer grey levels 1..n_levels inside the ROI (values outside the mask are ignored), axes (i, j, k).
    mask : boolean ROI of the same shape.
    n_levels : number of grey levels N_g.
    aggregation : ``"2D"`` (per-slice matrices along k, features averaged), ``"2_5D"`` (slice matrices
        merged) or ``"3D"`` (one volumetric matrix).
    spacing : voxel size in mm; unused, zones are defined by voxel adjacency.

    An empty ROI gives NaN for every feature; a constant or one-voxel ROI has one zone and defined values.

    Examples
    --------
    >>> levels = np.array([[[1], [1]], [[2], [1]]])
    >>> glszm_features(levels, levels > 0, n_levels=2, aggregation="3D", spacing=(1, 1, 1))["szm_z_perc"]
    0.5
    """
    if family_options:
        msg = f"GLSZM takes no family options, got {sorted(family_options)}"
        raise TypeError(msg)
    check_aggregation(aggregation, AGGREGATIONS)
    levels, mask = roi_levels(levels, mask, n_levels)
    grey, sizes, slices = zone_table(levels, mask, in_plane=aggregation != "3D")
    values = count_features(grey, sizes, slices, mask, n_levels, aggregation)
    return {
        feature.base_tag: values[name] for feature, name in zip(FEATURES, COUNT_FEATURES[:16], strict=True)
    }
