"""Grey level distance zone matrix (GLDZM) features, IBSI 1 section 3.9.

Zones are those of the GLSZM (connected voxels of one grey level, 26-connected in 3D, 8-connected in plane
for 2D and 2.5D). A voxel's distance to the ROI edge is the least number of 6-connected steps (4-connected
in plane) to leave the ROI, so a voxel on the edge has distance 1; voxels outside the image count as
outside the ROI. As in the IBSI manual, distances are measured in the morphological mask (the ROI before
re-segmentation) while zones come from the intensity mask, so a voxel removed by re-segmentation does not
create an edge inside the ROI. A zone's distance :math:`j` is the least distance of its voxels. The GLDZM :math:`M`
counts zones by grey level :math:`i` and distance :math:`j`. With :math:`N_z = \\sum_{ij} m_{ij}` zones,
:math:`N_v` ROI voxels, :math:`p_{ij} = m_{ij} / N_z`, :math:`r_i = \\sum_j m_{ij}`, :math:`c_j = \\sum_i m_{ij}`:

==================  ====  ===============================================================
base tag            IBSI  formula
==================  ====  ===============================================================
dzm_sde             0GBI  small distance emphasis :math:`\\sum_j c_j / j^2 / N_z`
dzm_lde             MB4I  large distance emphasis :math:`\\sum_j c_j j^2 / N_z`
dzm_lgze            S1RA  low grey level zone emphasis :math:`\\sum_i r_i / i^2 / N_z`
dzm_hgze            K26C  high grey level zone emphasis :math:`\\sum_i r_i i^2 / N_z`
dzm_sdlge           RUVG  small distance low grey level emphasis :math:`\\sum_{ij} m_{ij} / (i^2 j^2) / N_z`
dzm_sdhge           DKNJ  small distance high grey level emphasis :math:`\\sum_{ij} m_{ij} i^2 / j^2 / N_z`
dzm_ldlge           A7WM  large distance low grey level emphasis :math:`\\sum_{ij} m_{ij} j^2 / i^2 / N_z`
dzm_ldhge           KLTH  large distance high grey level emphasis :math:`\\sum_{ij} m_{ij} i^2 j^2 / N_z`
dzm_glnu            VFT7  grey level non-uniformity :math:`\\sum_i r_i^2 / N_z`
dzm_glnu_norm       7HP3  normalised grey level non-uniformity :math:`\\sum_i r_i^2 / N_z^2`
dzm_zdnu            V294  zone distance non-uniformity :math:`\\sum_j c_j^2 / N_z`
dzm_zdnu_norm       IATH  normalised zone distance non-uniformity :math:`\\sum_j c_j^2 / N_z^2`
dzm_z_perc          VIWW  zone percentage :math:`N_z / N_v`
dzm_gl_var          QK93  grey level variance :math:`\\sum_{ij} (i - \\mu_i)^2 p_{ij}`, :math:`\\mu_i = \\sum_{ij} i p_{ij}`
dzm_zd_var          7WT1  zone distance variance :math:`\\sum_{ij} (j - \\mu_j)^2 p_{ij}`, :math:`\\mu_j = \\sum_{ij} j p_{ij}`
dzm_zd_entr         GBDU  zone distance entropy :math:`-\\sum_{ij} p_{ij} \\log_2 p_{ij}`
==================  ====  ===============================================================

A constant or one-voxel ROI has one zone and defined values; an empty ROI gives NaN. Aggregation:
``"2D"`` one GLDZM per slice (array axis k, in-plane distances), features averaged over slices;
``"2_5D"`` the slices' GLDZMs added; ``"3D"`` one volumetric GLDZM. PyRadiomics has no GLDZM.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from lai.radiomics.catalogue import FeatureDefinition
from lai.radiomics.texture import (
    COUNT_FEATURES,
    VOLUME_AGGREGATIONS,
    check_aggregation,
    count_features,
    roi_box,
    roi_levels,
    zone_slices,
    zones,
)

__all__ = ["AGGREGATIONS", "FEATURES", "edge_distance", "gldzm_features"]

AGGREGATIONS: tuple[str, ...] = VOLUME_AGGREGATIONS

FEATURES: tuple[FeatureDefinition, ...] = (
    FeatureDefinition("dzm_sde", "0GBI", "Small distance emphasis", "gldzm"),
    FeatureDefinition("dzm_lde", "MB4I", "Large distance emphasis", "gldzm"),
    FeatureDefinition("dzm_lgze", "S1RA", "Low grey level zone emphasis", "gldzm"),
    FeatureDefinition("dzm_hgze", "K26C", "High grey level zone emphasis", "gldzm"),
    FeatureDefinition("dzm_sdlge", "RUVG", "Small distance low grey level emphasis", "gldzm"),
    FeatureDefinition("dzm_sdhge", "DKNJ", "Small distance high grey level emphasis", "gldzm"),
    FeatureDefinition("dzm_ldlge", "A7WM", "Large distance low grey level emphasis", "gldzm"),
    FeatureDefinition("dzm_ldhge", "KLTH", "Large distance high grey level emphasis", "gldzm"),
    FeatureDefinition("dzm_glnu", "VFT7", "Grey level non-uniformity", "gldzm"),
    FeatureDefinition("dzm_glnu_norm", "7HP3", "Normalised grey level non-uniformity", "gldzm"),
    FeatureDefinition("dzm_zdnu", "V294", "Zone distance non-uniformity", "gldzm"),
    FeatureDefinition("dzm_zdnu_norm", "IATH", "Normalised zone distance non-uniformity", "gldzm"),
    FeatureDefinition("dzm_z_perc", "VIWW", "Zone percentage", "gldzm"),
    FeatureDefinition("dzm_gl_var", "QK93", "Grey level variance", "gldzm"),
    FeatureDefinition("dzm_zd_var", "7WT1", "Zone distance variance", "gldzm"),
    FeatureDefinition("dzm_zd_entr", "GBDU", "Zone distance entropy", "gldzm"),
)


def edge_distance(mask: np.ndarray, *, in_plane: bool) -> np.ndarray:
    """Return each ROI voxel's city-block distance to the ROI edge (1 on the edge; 0 outside the ROI).

    Steps are 6-connected, or 4-connected within slices of constant k when ``in_plane``; the image is
    padded with background so that voxels on the image border are on the ROI edge.
    """
    structure = ndimage.generate_binary_structure(3, 1)
    if in_plane:
        structure[:, :, [0, 2]] = False
    padded = np.pad(mask, 1, constant_values=False)
    distance = ndimage.distance_transform_cdt(padded, metric=structure)
    return np.asarray(distance[1:-1, 1:-1, 1:-1], dtype=np.int64)


def gldzm_features(
    levels: np.ndarray,
    mask: np.ndarray,
    *,
    n_levels: int,
    aggregation: str,
    spacing: tuple[float, float, float],
    morphological_mask: np.ndarray | None = None,
    **family_options: Any,
) -> dict[str, float]:
    """Return the 16 IBSI GLDZM features {base tag: value} of the ROI ``mask`` of grey levels ``levels``.

    Parameters
    ----------
    levels : integer grey levels 1..n_levels inside the ROI (values outside the mask are ignored), axes (i, j, k).
    mask : boolean ROI of the same shape: the intensity mask, whose voxels form the zones.
    n_levels : number of grey levels N_g.
    aggregation : ``"2D"``, ``"2_5D"`` or ``"3D"`` (see the module docstring).
    spacing : voxel size in mm; unused, distances are counted in voxel steps.
    morphological_mask : boolean ROI of the same shape holding ``mask``, from which the distances to the
        edge are measured (IBSI: the mask before re-segmentation); default ``mask`` itself.

    Examples
    --------
    >>> levels = np.ones((3, 3, 3), dtype=int)
    >>> levels[1, 1, 1] = 2
    >>> gldzm_features(levels, levels > 0, n_levels=2, aggregation="3D", spacing=(1, 1, 1))["dzm_lde"]
    2.5
    """
    if family_options:
        msg = f"GLDZM takes only the option 'morphological_mask', got {sorted(family_options)}"
        raise TypeError(msg)
    check_aggregation(aggregation, AGGREGATIONS)
    intensity_mask = np.asarray(mask, dtype=bool)
    morphological = intensity_mask if morphological_mask is None else np.asarray(morphological_mask, bool)
    if morphological.shape != intensity_mask.shape or (intensity_mask & ~morphological).any():
        msg = (
            f"The morphological mask (shape {morphological.shape}) must hold the intensity mask "
            f"(shape {intensity_mask.shape}): re-segmentation only removes voxels"
        )
        raise ValueError(msg)
    in_plane = aggregation != "3D"
    distance = edge_distance(morphological, in_plane=in_plane)[roi_box(intensity_mask)]
    levels, mask = roi_levels(levels, intensity_mask, n_levels)
    labels, grey = zones(levels, mask, in_plane=in_plane)
    zone_distance = np.full(grey.size + 1, np.iinfo(np.int64).max)
    np.minimum.at(zone_distance, labels[mask], distance[mask])
    slices = zone_slices(labels, mask, grey.size)
    values = count_features(grey, zone_distance[1:], slices, mask, n_levels, aggregation)
    return {
        feature.base_tag: values[name] for feature, name in zip(FEATURES, COUNT_FEATURES[:16], strict=True)
    }
