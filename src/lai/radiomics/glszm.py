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
the NGLDM (dependence count): :func:`count_matrix_features` computes them once for all three.

Aggregation (IBSI 1 section 3.1): ``"2D"`` builds one matrix per slice (array axis k) and averages the
features over the slices holding ROI voxels; ``"2_5D"`` merges the slices' matrices into one; ``"3D"``
builds one volumetric matrix. A feature undefined on a slice (NaN) is left out of the 2D average.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from lai.radiomics.catalogue import FeatureDefinition

AGGREGATIONS: tuple[str, ...] = ("2D", "2_5D", "3D")

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

COUNT_FEATURES: tuple[str, ...] = (
    "small_emphasis",
    "large_emphasis",
    "low_grey_emphasis",
    "high_grey_emphasis",
    "small_low_grey_emphasis",
    "small_high_grey_emphasis",
    "large_low_grey_emphasis",
    "large_high_grey_emphasis",
    "grey_non_uniformity",
    "grey_non_uniformity_norm",
    "count_non_uniformity",
    "count_non_uniformity_norm",
    "percentage",
    "grey_variance",
    "count_variance",
    "count_entropy",
    "count_energy",
)
"""Names :func:`count_matrix_features` returns, in IBSI order; families map them to their base tags."""


def check_levels(
    levels: np.ndarray, mask: np.ndarray, n_levels: int, aggregation: str
) -> tuple[np.ndarray, np.ndarray]:
    """Return (levels as int64 with 0 outside the ROI, mask as bool), both cropped to the ROI's bounding box.

    Cropping changes no feature of these families: voxels outside the box are outside the ROI, and the
    image border counts as outside the ROI too. Raises ``ValueError`` naming what was expected and found
    (shapes, aggregation, grey levels in 1..n_levels).
    """
    if aggregation not in AGGREGATIONS:
        msg = f"Unknown aggregation {aggregation!r}: expected one of {AGGREGATIONS}"
        raise ValueError(msg)
    levels = np.asarray(levels)
    mask = np.asarray(mask, dtype=bool)
    if levels.ndim != 3 or levels.shape != mask.shape:
        msg = (
            f"Inconsistent shapes: levels={levels.shape}, mask={mask.shape} (both must be the same 3D shape)"
        )
        raise ValueError(msg)
    inside = levels[mask]
    if inside.size and (
        inside.min() < 1 or inside.max() > n_levels or not np.all(inside == np.round(inside))
    ):
        msg = (
            f"Grey levels in the ROI must be integers in 1..{n_levels}, found {inside.min()}..{inside.max()}"
        )
        raise ValueError(msg)
    box = ndimage.find_objects(mask.astype(np.int8))
    if box:
        levels, mask = levels[box[0]], mask[box[0]]
    return np.where(mask, levels, 0).astype(np.int64), mask


def connectivity(in_plane: bool) -> np.ndarray:
    """Return the 3x3x3 Chebyshev-distance-1 structure: 26 neighbours, or the 8 in the (i, j) plane."""
    structure = np.ones((3, 3, 3), dtype=bool)
    if in_plane:
        structure[:, :, [0, 2]] = False
    return structure


def zones(levels: np.ndarray, mask: np.ndarray, *, in_plane: bool) -> tuple[np.ndarray, np.ndarray]:
    """Return the zone label map (0 outside the ROI, zones numbered from 1) and each zone's grey level.

    Zones are the connected components of each grey level's voxels, 26-connected in 3D or 8-connected
    within slices of constant k when ``in_plane`` (then no zone spans two slices).
    """
    structure = connectivity(in_plane)
    labels = np.zeros(levels.shape, dtype=np.int64)
    grey: list[np.ndarray] = []
    n_zones = 0
    for level in np.unique(levels[mask]):  # one labelling per grey level, vectorised over its voxels
        component, count = ndimage.label(mask & (levels == level), structure=structure)
        labels[component > 0] = component[component > 0] + n_zones
        grey.append(np.full(count, level, dtype=np.int64))
        n_zones += count
    return labels, np.concatenate(grey) if grey else np.zeros(0, dtype=np.int64)


def count_matrices(
    groups: np.ndarray, grey: np.ndarray, counts: np.ndarray, n_groups: int, n_levels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return (matrices, count values): how many entities each (group, grey level, count) has.

    ``matrices`` has shape (n_groups, n_levels, number of distinct counts); row i-1 holds grey level i and
    column c the count ``count values[c]``. Only counts that occur get a column, which keeps the matrix
    small when zones are large. ``groups`` are slice indices (or all 0 for one matrix).
    """
    values, column = np.unique(counts, return_inverse=True)
    if values.size == 0:
        values = np.ones(1, dtype=np.int64)
    flat = (groups * n_levels + grey - 1) * values.size + column.ravel()
    histogram = np.bincount(flat, minlength=n_groups * n_levels * values.size)
    return histogram.reshape(n_groups, n_levels, values.size).astype(np.float64), values


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Return numerator / denominator, NaN where the denominator is 0 (and no warning)."""
    numerator, denominator = np.broadcast_arrays(np.asarray(numerator, float), np.asarray(denominator, float))
    out = np.full(numerator.shape, np.nan)
    return np.divide(numerator, denominator, out=out, where=denominator != 0)


def count_matrix_features(
    matrix: np.ndarray, count_values: np.ndarray, n_voxels: np.ndarray
) -> dict[str, np.ndarray]:
    """Return the :data:`COUNT_FEATURES` of a stack of (grey level x count) matrices, one value per matrix.

    ``matrix`` has shape (n, N_g, N_c): element [., i-1, c] counts entities (zones, dependence
    neighbourhoods) of grey level i and count j = ``count_values[c]`` (zone size, zone distance,
    dependence count). ``n_voxels`` (n,) is each matrix's number of ROI voxels. A matrix with no entity
    gives NaN everywhere. See the module docstring for the formulas.
    """
    i = np.arange(1, matrix.shape[1] + 1, dtype=np.float64)[:, None]
    j = np.asarray(count_values, dtype=np.float64)[None, :]
    total = matrix.sum(axis=(1, 2))
    p = _divide(matrix, total[:, None, None])
    rows = p.sum(axis=2)
    columns = p.sum(axis=1)
    mu_i = (p * i).sum(axis=(1, 2))
    mu_j = (p * j).sum(axis=(1, 2))
    log_p = np.log2(p, out=np.zeros_like(p), where=p > 0)
    return {
        "small_emphasis": (p / j**2).sum(axis=(1, 2)),
        "large_emphasis": (p * j**2).sum(axis=(1, 2)),
        "low_grey_emphasis": (p / i**2).sum(axis=(1, 2)),
        "high_grey_emphasis": (p * i**2).sum(axis=(1, 2)),
        "small_low_grey_emphasis": (p / (i**2 * j**2)).sum(axis=(1, 2)),
        "small_high_grey_emphasis": (p * i**2 / j**2).sum(axis=(1, 2)),
        "large_low_grey_emphasis": (p * j**2 / i**2).sum(axis=(1, 2)),
        "large_high_grey_emphasis": (p * i**2 * j**2).sum(axis=(1, 2)),
        "grey_non_uniformity": (rows**2).sum(axis=1) * total,
        "grey_non_uniformity_norm": (rows**2).sum(axis=1),
        "count_non_uniformity": (columns**2).sum(axis=1) * total,
        "count_non_uniformity_norm": (columns**2).sum(axis=1),
        "percentage": _divide(total, n_voxels),
        "grey_variance": (p * (i - mu_i[:, None, None]) ** 2).sum(axis=(1, 2)),
        "count_variance": (p * (j - mu_j[:, None, None]) ** 2).sum(axis=(1, 2)),
        "count_entropy": -(p * log_p).sum(axis=(1, 2)),
        "count_energy": (p**2).sum(axis=(1, 2)),
    }


def aggregate(values: dict[str, np.ndarray]) -> dict[str, float]:
    """Return each feature's mean over the matrices where it is defined (NaN when defined on none).

    With one matrix (2.5D, 3D) this is its value; with one matrix per slice (2D) it is the IBSI slice average.
    """
    result = {}
    for name, value in values.items():
        defined = value[np.isfinite(value)]
        result[name] = float(defined.mean()) if defined.size else float("nan")
    return result


def slice_index(mask: np.ndarray) -> np.ndarray:
    """Return an integer array of the mask's shape holding each voxel's slice index k."""
    return np.broadcast_to(np.arange(mask.shape[2]), mask.shape)


def zone_slices(labels: np.ndarray, mask: np.ndarray, n_zones: int) -> np.ndarray:
    """Return the slice index k of each in-plane zone 1..n_zones of the label map ``labels``."""
    zone_slice = np.zeros(n_zones + 1, dtype=np.int64)
    zone_slice[labels[mask]] = slice_index(mask)[mask]
    return zone_slice[1:]


def count_features(
    grey: np.ndarray,
    counts: np.ndarray,
    slices: np.ndarray,
    mask: np.ndarray,
    n_levels: int,
    aggregation: str,
) -> dict[str, float]:
    """Return the aggregated :data:`COUNT_FEATURES` of entities with grey levels ``grey`` and counts ``counts``.

    An entity is a zone (GLSZM, GLDZM) or a voxel's neighbourhood (NGLDM); ``slices`` is its slice index k,
    used by ``"2D"`` to give each slice holding ROI voxels its own matrix.
    """
    if aggregation == "2D":
        present = np.flatnonzero(mask.any(axis=(0, 1)))
        matrices, values = count_matrices(slices, grey, counts, mask.shape[2], n_levels)
        matrices, n_voxels = matrices[present], mask.sum(axis=(0, 1))[present]
    else:
        matrices, values = count_matrices(np.zeros_like(grey), grey, counts, 1, n_levels)
        n_voxels = np.array([mask.sum()])
    return aggregate(count_matrix_features(matrices, values, n_voxels))


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
    levels, mask = check_levels(levels, mask, n_levels, aggregation)
    labels, grey = zones(levels, mask, in_plane=aggregation != "3D")
    sizes = np.bincount(labels.ravel(), minlength=grey.size + 1)[1:]
    values = count_features(grey, sizes, zone_slices(labels, mask, grey.size), mask, n_levels, aggregation)
    return {
        feature.base_tag: values[name] for feature, name in zip(FEATURES, COUNT_FEATURES[:16], strict=True)
    }
