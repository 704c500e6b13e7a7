"""Types of the C extension ``lai.radiomics._kernels`` (``_kernels.c``); use it through :mod:`lai.radiomics.kernels`."""

import numpy as np

def cooccurrence(flat: np.ndarray, steps: np.ndarray, n_levels: int, counts: np.ndarray, /) -> None: ...
def run_lengths(
    flat: np.ndarray,
    steps: np.ndarray,
    n_levels: int,
    bound: int,
    depth: int,
    n_slices: int,
    counts: np.ndarray,
    /,
) -> None: ...
def zone_labels(flat: np.ndarray, steps: np.ndarray, labels: np.ndarray, /) -> int: ...
def zone_table(
    flat: np.ndarray,
    steps: np.ndarray,
    depth: int,
    pad: int,
    grey: np.ndarray,
    sizes: np.ndarray,
    slices: np.ndarray,
    /,
) -> int: ...
def dependence(flat: np.ndarray, steps: np.ndarray, alpha: int, out: np.ndarray, /) -> None: ...
def neighbour_sums(
    flat: np.ndarray, strides: np.ndarray, distance: int, total: np.ndarray, number: np.ndarray, /
) -> None: ...
def roi_bounds(levels: np.ndarray, mask: np.ndarray, out: np.ndarray, /) -> None: ...
def candidate_diameters(
    points: np.ndarray, doubled: np.ndarray, flags: np.ndarray, out: np.ndarray, /
) -> None: ...
def label_bounds(labels: np.ndarray, label: int, out: np.ndarray, /) -> None: ...
def cropped_levels(
    levels: np.ndarray, mask: np.ndarray, bounds: np.ndarray, out: np.ndarray, inside: np.ndarray, /
) -> None: ...
def largest_squared_distance(points: np.ndarray, starts: np.ndarray, ends: np.ndarray, /) -> float: ...
def mesh_cubes(
    mask: np.ndarray,
    counts: np.ndarray,
    origins: np.ndarray,
    sums: np.ndarray,
    vertices: np.ndarray,
    ends: np.ndarray,
    /,
) -> int: ...
def diameter_candidates(
    points: np.ndarray, flags: np.ndarray, axis_ends: np.ndarray | None = None, /
) -> None: ...
