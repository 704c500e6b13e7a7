"""Convolutional filters for radiomics (IBSI 2): Laplacian of Gaussian and undecimated separable wavelets.

Filters run on a padded crop around the lesion rather than on the whole volume: ``filter_crop`` chooses a
crop wide enough that every lesion voxel sees exactly the image values (or the image's own boundary
padding) it would see if the whole volume were filtered, and ``filtered_in_crop`` filters it.
``filter_name`` spells the filter as PyRadiomics does (``log-sigma-2-0-mm-3D``, ``wavelet-LLH``,
``original``) for feature columns such as ``t2w:log-sigma-2-0-mm-3D_firstorder_Mean``.

Boundary conditions (IBSI 2 names -> ``scipy.ndimage`` modes; sample ``a b c d``, two voxels of padding):

=========  ============  ============================  =============================
IBSI 2     scipy mode    padded sample                 numpy ``np.pad`` equivalent
=========  ============  ============================  =============================
zero       ``constant``  ``0 0 | a b c d | 0 0``       ``constant`` (0)
nearest    ``nearest``   ``a a | a b c d | d d``       ``edge``
periodic   ``wrap``      ``c d | a b c d | a b``       ``wrap``
mirror     ``reflect``   ``b a | a b c d | d c``       ``symmetric``
=========  ============  ============================  =============================

IBSI 2's mirror padding is the symmetric extension that repeats the edge voxel, which scipy calls
``reflect``; scipy's own ``mirror`` mode (``c b | a b c d | c b``) does not repeat it and is not used.

References
----------
Depeursinge A, Andrearczyk V, Whybra P, et al. Standardised convolutional filtering for radiomics
(IBSI 2 reference manual). arXiv:2006.05470, 2020.
Zwanenburg A, Vallières M, Abdalah MA, et al. The Image Biomarker Standardization Initiative.
Radiology 2020; 295:328-338.
van Griethuysen JJM, Fedorov A, Parmar C, et al. Computational radiomics system to decode the
radiographic phenotype (PyRadiomics). Cancer Research 2017; 77:e104-e107.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, TypeVar

import numpy as np
import pywt
from scipy import ndimage

from lai.imaging import Image
from lai.radiomics.texture import compiled_numeric, roi_box

BOUNDARY_MODES: dict[str, str] = {
    "zero": "constant",
    "nearest": "nearest",
    "periodic": "wrap",
    "mirror": "reflect",
}
"""IBSI 2 boundary condition -> ``scipy.ndimage`` ``mode`` that pads the same way (see the module table)."""

LOG_NORMALISATIONS = ("ibsi", "pyradiomics")
"""The two scalings of the Laplacian of Gaussian response ``laplacian_of_gaussian`` offers."""

SUBBANDS: tuple[str, ...] = tuple("".join(letters) for letters in itertools.product("LH", repeat=3))
"""The 8 wavelet sub-bands, ``"LLL"`` ... ``"HHH"``: one letter per array axis, in axis order i, j, k."""

T = TypeVar("T")


# --- Laplacian of Gaussian ---


def laplacian_of_gaussian(
    array: np.ndarray,
    spacing: Sequence[float],
    sigma_mm: float,
    *,
    truncate: float = 4.0,
    padding: str = "mirror",
    normalise: str = "ibsi",
    within: tuple[slice, slice, slice] | None = None,
) -> np.ndarray:
    r"""Return the Laplacian of Gaussian (LoG) response map of a 3D array, as float64.

    The kernel is the IBSI 2 LoG sampled at voxel centres,

    .. math::

        h(\mathbf{n}) = \sum_{a} g''_{\sigma_a}(n_a) \prod_{b \neq a} g_{\sigma_b}(n_b), \qquad
        g_\sigma(n) = \frac{e^{-n^2 / 2\sigma^2}}{\sqrt{2\pi}\,\sigma}, \qquad
        g''_\sigma(n) = \frac{n^2 - \sigma^2}{\sigma^4}\, g_\sigma(n),

    with :math:`\sigma_a = \sigma_{mm} / s_a` in voxels along axis :math:`a` (spacing :math:`s_a`). For
    isotropic voxels this is exactly IBSI 2's
    :math:`-\frac{1}{\sigma^2}\big(\frac{1}{\sqrt{2\pi}\sigma}\big)^3 \big(3 - \frac{\lVert\mathbf{n}
    \rVert^2}{\sigma^2}\big) e^{-\lVert\mathbf{n}\rVert^2 / 2\sigma^2}`. The support is the box
    :math:`|n_a| \le \lfloor \mathrm{truncate}\,\sigma_a + 0.5 \rfloor` (IBSI 2: 4 sigma). The kernel is
    separable, so the response is computed with seven 1D passes instead of one 3D convolution. It is not
    renormalised after truncation: like IBSI 2's kernel its sum is a small negative number (about
    :math:`-2 \cdot 10^{-4}` per voxel squared for sigmas of 1-4 voxels), so a constant image gives a small
    non-zero response; a linear ramp adds nothing to it.

    Parameters
    ----------
    array : np.ndarray
        3D image, axes (i, j, k).
    spacing : sequence of float
        Voxel size in mm along i, j, k.
    sigma_mm : float
        Standard deviation of the Gaussian in mm (isotropic in world space).
    truncate : float
        Kernel half-width in standard deviations.
    padding : str
        IBSI 2 boundary condition, a key of ``BOUNDARY_MODES``.
    normalise : {"ibsi", "pyradiomics"}
        ``"ibsi"``: the kernel above, second derivatives in voxel units (:math:`\mathrm{voxel}^{-2}`), as
        IBSI 2 defines it on its isotropic grids. ``"pyradiomics"``: the scale-normalised LoG
        :math:`\sigma_{mm}^2 \nabla^2 (g * f)` with derivatives in mm, as PyRadiomics obtains from
        SimpleITK's ``LaplacianRecursiveGaussianImageFilter`` with ``NormalizeAcrossScale`` (weights
        :math:`\sigma_a^2` per axis; dimensionless and comparable across sigmas and spacings). For
        isotropic voxels the two differ by the factor :math:`\sigma_{vox}^2`. SimpleITK's recursive
        (IIR) Gaussian is itself an approximation (about 1% of the peak response off the closed form
        on a Gaussian blob, where this kernel is within 0.05%), so PyRadiomics' values are matched to
        about 1-2% of the peak response, not digit for digit.
    within : tuple of slice, optional
        Return the response on ``array[within]`` only (the same values as the whole response cut to
        ``within``): each 1D pass then runs only where the later passes read, e.g. a lesion's box inside a
        padded crop.

    Returns
    -------
    np.ndarray
        The response map, same shape as ``array`` (as ``array[within]`` when ``within`` is given).

    References
    ----------
    Depeursinge et al. (2020), IBSI 2 reference manual, section on the Laplacian of Gaussian.
    Lindeberg T (1998). Feature detection with automatic scale selection. IJCV 30:79-116 (scale
    normalisation).
    """
    data = _as_volume(array)
    spacing_mm = _as_spacing(spacing)
    mode = _scipy_mode(padding)
    if not sigma_mm > 0:
        msg = f"laplacian_of_gaussian: sigma_mm must be > 0 mm, got {sigma_mm}"
        raise ValueError(msg)
    if not truncate > 0:
        msg = f"laplacian_of_gaussian: truncate must be > 0 standard deviations, got {truncate}"
        raise ValueError(msg)
    if normalise not in LOG_NORMALISATIONS:
        msg = f"laplacian_of_gaussian: normalise must be one of {LOG_NORMALISATIONS}, got {normalise!r}"
        raise ValueError(msg)
    sigmas = sigma_mm / spacing_mm
    gauss, second = zip(*(_gaussian_kernels(s, truncate) for s in sigmas), strict=True)
    weights = sigmas**2 if normalise == "pyradiomics" else np.ones(3)

    data, keep = _reading_box(data, within, [kernel.size // 2 for kernel in gauss], mode)
    numeric = compiled_numeric()
    if numeric is not None:  # the same passes in C, pairs of kernels reading their input once
        data = np.ascontiguousarray(data)
        # the weighted sums below are those of the scipy path, done in place as each response is made
        g0, d0 = numeric.correlate1d(data, (gauss[0], second[0]), 0, mode, keep[0])
        (first_two,) = numeric.correlate1d(d0, (gauss[1],), 1, mode, keep[1], scales=(weights[0],))
        g0g1, _ = numeric.correlate1d(
            g0, (gauss[1], second[1]), 1, mode, keep[1], scales=(1.0, weights[1]), add_to=(None, first_two)
        )
        (response,) = numeric.correlate1d(first_two, (gauss[2],), 2, mode, keep[2])
        numeric.correlate1d(g0g1, (second[2],), 2, mode, keep[2], scales=(weights[2],), add_to=(response,))
        return response

    def along(values: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
        # after its pass along an axis, an array is read by passes along the later axes only
        return ndimage.correlate1d(values, kernel, axis=axis, mode=mode)[
            (slice(None),) * axis + (keep[axis],)
        ]

    # h = d0 g1 g2 + g0 d1 g2 + g0 g1 d2, regrouped so that shared passes run once
    g0 = along(data, gauss[0], 0)
    d0 = along(data, second[0], 0)
    g0g1 = along(g0, gauss[1], 1)
    first_two = weights[0] * along(d0, gauss[1], 1) + weights[1] * along(g0, second[1], 1)
    return along(first_two, gauss[2], 2) + weights[2] * along(g0g1, second[2], 2)


def _reading_box(
    data: np.ndarray, within: tuple[slice, slice, slice] | None, reach: Sequence[int], mode: str
) -> tuple[np.ndarray, tuple[slice, ...]]:
    """Return the part of ``data`` that 1D passes reaching ``reach`` voxels need for ``within``, and ``within`` in it.

    Along each axis the passes read ``within`` widened by the reach. Where the widened range stays inside
    the array it is cut out; where it meets an edge the edge is kept, so the boundary condition applies
    there as on the whole array (a periodic axis is kept whole unless the widened range fits inside).
    """
    if within is None:
        return data, (slice(None),) * data.ndim
    parts, keep = [], []
    for part, size, radius in zip(within, data.shape, reach, strict=True):
        start, stop, _ = part.indices(size)
        low, high = max(start - radius, 0), min(stop + radius, size)
        if mode == "wrap" and (start - radius < 0 or stop + radius > size):
            low, high = 0, size
        parts.append(slice(low, high))
        keep.append(slice(start - low, stop - low))
    return data[tuple(parts)], tuple(keep)


def log_margin_mm(sigma_mm: float, *, truncate: float = 4.0) -> float:
    """Return the half-width in mm of the LoG kernel's support, ``truncate * sigma_mm``.

    ``filter_crop`` converts it to voxels rounding up, which covers the kernel's
    ``floor(truncate * sigma / spacing + 0.5)`` voxels.
    """
    return truncate * sigma_mm


def _gaussian_kernels(sigma: float, truncate: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the sampled Gaussian and its second derivative (sigma in voxels), IBSI 2 support."""
    radius = int(np.floor(truncate * sigma + 0.5))
    n = np.arange(-radius, radius + 1, dtype=np.float64)
    gauss = np.exp(-(n**2) / (2.0 * sigma**2)) / (math.sqrt(2.0 * math.pi) * sigma)
    return gauss, gauss * (n**2 - sigma**2) / sigma**4


# --- Wavelets ---


def wavelet_subbands(
    array: np.ndarray,
    wavelet: str = "coif1",
    *,
    level: int = 1,
    rotation_invariant: bool = False,
    padding: str = "mirror",
    within: tuple[slice, slice, slice] | None = None,
) -> dict[str, np.ndarray]:
    r"""Return the 8 sub-bands of the undecimated separable 3D wavelet transform at ``level``.

    Each sub-band is the array filtered along i, j and k with the wavelet's decomposition low-pass
    (``L``, PyWavelets' ``dec_lo``) or high-pass (``H``, ``dec_hi``) filter: ``"LLH"`` is low-pass
    along i and j and high-pass along k (letters in axis order i, j, k, as PyRadiomics' band names
    read in x, y, z). Nothing is downsampled (stationary transform, algorithme à trous): at level
    :math:`J` the image is first low-passed along every axis at levels :math:`1..J-1`, and the level
    :math:`j` filters have :math:`2^{j-1}-1` zeros inserted between their taps.

    Origin convention (as the MIRP IBSI 2 reference implementation applies it): a filter :math:`h` of even
    length :math:`L` is extended with one trailing zero to odd length and convolved about its middle
    tap, :math:`y[n] = \sum_m h[m]\, x[n + c - m]` with :math:`c = \lfloor L/2 \rfloor`. For Haar,
    :math:`L[n] = (x[n] + x[n+1])/\sqrt{2}` and :math:`H[n] = (x[n] - x[n+1])/\sqrt{2}`. With
    ``padding="periodic"`` this reproduces ``pywt.swtn`` (what PyRadiomics uses) without any shift.

    For orthogonal wavelets (haar, db, sym, coif) the filters are orthonormal, so with periodic padding
    the level-1 sub-bands hold :math:`2^3` times the image's energy (:math:`|H_0|^2 + |H_1|^2 = 2` per
    axis). The low-pass gain is :math:`\sum_m h_{lo}[m] = \sqrt{2}` per axis, so ``"LLL"`` of a
    constant image :math:`c` is :math:`2\sqrt{2}\,c` (level 1; :math:`(2\sqrt{2})^J c` at level
    :math:`J`).

    Parameters
    ----------
    array : np.ndarray
        3D image, axes (i, j, k).
    wavelet : str
        A discrete wavelet PyWavelets knows (``pywt.wavelist(kind="discrete")``), e.g. ``"haar"``
        or ``"coif1"`` (PyRadiomics' default).
    level : int
        Decomposition level, 1 or more.
    rotation_invariant : bool
        If true, each sub-band is the mean of its responses to the 24 right-angle rotations of the 3D
        kernel (IBSI 2 rotation invariance with average pooling), computed as
        :math:`R^{-1} F(R\,x)` over the 24 proper rotations :math:`R` of the voxel grid.
    padding : str
        IBSI 2 boundary condition, a key of ``BOUNDARY_MODES``.
    within : tuple of slice, optional
        Return the sub-bands on ``array[within]`` only (the same values as the whole sub-bands cut to
        ``within``), filtering each pass only where the later passes read. Not with ``rotation_invariant``.

    Returns
    -------
    dict of str to np.ndarray
        Sub-band name (``SUBBANDS``) -> float64 response map of the array's shape (or of ``array[within]``).

    References
    ----------
    Depeursinge et al. (2020), IBSI 2 reference manual, separable wavelets.
    Mallat S (2009). A Wavelet Tour of Signal Processing, 3rd ed., section 5.2 (à trous algorithm).
    """
    data = _as_volume(array)
    mode = _scipy_mode(padding)
    low, high = _wavelet_filters(wavelet, level)
    if not rotation_invariant:
        reach = (low.size // 2) * (2**level - 1)
        data, keep = _reading_box(data, within, [reach] * 3, mode)
        return _subbands(data, low, high, level, mode, keep)
    if within is not None:
        msg = "wavelet_subbands: within is not supported with rotation_invariant"
        raise ValueError(msg)
    total = {name: np.zeros(data.shape) for name in SUBBANDS}
    for axes, flips in _proper_rotations():
        rotated = np.flip(np.transpose(data, axes), flips)
        inverse = np.argsort(axes)
        for name, band in _subbands(rotated, low, high, level, mode).items():
            total[name] = total[name] + np.transpose(np.flip(band, flips), inverse)
    return {name: band / 24.0 for name, band in total.items()}


def wavelet_margin_mm(
    wavelet: str, spacing: Sequence[float], *, level: int = 1
) -> tuple[float, float, float]:
    r"""Return the half-width in mm, per axis, of the support of the level-``level`` wavelet filters.

    The odd-length filter of ``wavelet_subbands`` reaches :math:`c = \lfloor L/2 \rfloor` voxels each
    side; the à trous cascade up to level :math:`J` reaches :math:`c\,(2^J - 1)` voxels.
    """
    low, _ = _wavelet_filters(wavelet, level)
    reach = (low.size // 2) * (2**level - 1)
    spacing_mm = _as_spacing(spacing)
    return (float(reach * spacing_mm[0]), float(reach * spacing_mm[1]), float(reach * spacing_mm[2]))


def _wavelet_filters(wavelet: str, level: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the low- and high-pass decomposition filters, extended to odd length with a trailing zero."""
    if wavelet not in pywt.wavelist(kind="discrete"):
        msg = f"wavelet must be a discrete PyWavelets wavelet such as 'haar' or 'coif1', got {wavelet!r}"
        raise ValueError(msg)
    if isinstance(level, bool) or not isinstance(level, int) or level < 1:
        msg = f"wavelet level must be an integer >= 1, got {level!r}"
        raise ValueError(msg)
    bank = pywt.Wavelet(wavelet)
    low, high = np.asarray(bank.dec_lo, dtype=np.float64), np.asarray(bank.dec_hi, dtype=np.float64)
    if low.size % 2 == 0:
        low, high = np.append(low, 0.0), np.append(high, 0.0)
    return low, high


def _dilated(kernel: np.ndarray, level: int) -> np.ndarray:
    """Return ``kernel`` with ``2**(level - 1) - 1`` zeros between taps (à trous); odd length kept."""
    step = 2 ** (level - 1)
    out = np.zeros((kernel.size - 1) * step + 1)
    out[::step] = kernel
    return out


def _subbands(
    data: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    level: int,
    mode: str,
    keep: tuple[slice, ...] = (slice(None),) * 3,
) -> dict[str, np.ndarray]:
    """Return the 8 level-``level`` sub-bands, filtering along i, then j, then k (a 2-4-8 tree).

    ``keep`` cuts each axis after the level's pass along it (the later passes read only that part); the
    coarser levels' low-pass cascade needs the whole array and is not cut.
    """
    numeric = compiled_numeric()
    if numeric is not None:
        return _subbands_compiled(numeric, data, low, high, level, mode, keep)
    for coarser in range(1, level):
        kernel = _dilated(low, coarser)
        for axis in range(3):
            data = ndimage.convolve1d(data, kernel, axis=axis, mode=mode)
    kernels = {"L": _dilated(low, level), "H": _dilated(high, level)}
    bands = {"": data}
    for axis in range(3):
        part = (slice(None),) * axis + (keep[axis],)
        bands = {
            name + letter: ndimage.convolve1d(values, kernels[letter], axis=axis, mode=mode)[part]
            for name, values in bands.items()
            for letter in "LH"
        }
    return bands


def _subbands_compiled(
    numeric: ModuleType,
    data: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    level: int,
    mode: str,
    keep: tuple[slice, ...],
) -> dict[str, np.ndarray]:
    """``_subbands`` with the C passes: a convolution is a correlation with the reversed (odd) kernel, and
    each array is read once for its low- and high-pass outputs."""
    data = np.ascontiguousarray(data)
    for coarser in range(1, level):
        kernel = np.ascontiguousarray(_dilated(low, coarser)[::-1])
        for axis in range(3):
            (data,) = numeric.correlate1d(data, (kernel,), axis, mode)
    pair = (
        np.ascontiguousarray(_dilated(low, level)[::-1]),
        np.ascontiguousarray(_dilated(high, level)[::-1]),
    )
    bands = {"": data}
    for axis in range(3):
        bands = {
            name + letter: band
            for name, values in bands.items()
            for letter, band in zip(
                "LH", numeric.correlate1d(values, pair, axis, mode, keep[axis]), strict=True
            )
        }
    return bands


def _proper_rotations() -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Return the 24 right-angle rotations of a 3D grid as (axis permutation, axes to flip) pairs."""
    rotations = []
    for axes in itertools.permutations(range(3)):
        parity = np.linalg.det(np.eye(3)[list(axes)])
        for signs in itertools.product((1, -1), repeat=3):
            if parity * np.prod(signs) > 0:
                rotations.append((axes, tuple(a for a, s in enumerate(signs) if s < 0)))
    return rotations


# --- Filtering a crop around the lesion ---


def filter_crop(
    image: Image, mask: np.ndarray, margin_mm: float | Sequence[float], *, padding: str = "mirror"
) -> tuple[slice, slice, slice]:
    """Return the index slices of the lesion's bounding box widened by the filter margin plus one voxel.

    ``margin_mm`` is the filter's support half-width (``log_margin_mm``, ``wavelet_margin_mm``); it is
    converted to voxels per axis rounding up, one voxel is added, and the box is clipped to the image.
    Filtering the crop then gives, at every voxel at least the margin away from a face where the crop
    cuts the image (the whole lesion), the same values as filtering the whole image: the kernel sees the
    same voxels inside the image, and at a face the crop shares with the image the same boundary padding
    applies. Periodic padding wraps to the opposite side of the image, so for it an axis whose widened
    box reaches either image edge is kept whole.

    Parameters
    ----------
    image : Image
        The image to be filtered.
    mask : np.ndarray
        Lesion mask (non-zero inside) on the image's grid.
    margin_mm : float or sequence of 3 floats
        Filter support half-width in mm, one value or one per axis (i, j, k).
    padding : str
        IBSI 2 boundary condition the filter will use, a key of ``BOUNDARY_MODES``.

    Returns
    -------
    tuple of slice
        One slice per axis (i, j, k) into ``image.array``.
    """
    _scipy_mode(padding)
    if mask.shape != image.shape:
        msg = f"filter_crop: mask shape {mask.shape} differs from image shape {image.shape}"
        raise ValueError(msg)
    margins = _margins(margin_mm, "filter_crop")
    box = roi_box(mask)
    if box[0].stop == 0:
        msg = "filter_crop: the mask is empty, there is no lesion to crop around"
        raise ValueError(msg)
    return _crop_around(box, image, margins, padding)


def _margins(margin_mm: float | Sequence[float], caller: str) -> np.ndarray:
    """Return ``margin_mm`` as one margin per axis (3,), checked finite and >= 0 (errors name ``caller``)."""
    margins = np.broadcast_to(np.asarray(margin_mm, dtype=np.float64), (3,))
    if np.any(margins < 0) or not np.all(np.isfinite(margins)):
        msg = f"{caller}: margin_mm must be finite and >= 0, got {margin_mm}"
        raise ValueError(msg)
    return margins


def _crop_around(
    box: tuple[slice, ...], image: Image, margins: np.ndarray, padding: str
) -> tuple[slice, slice, slice]:
    """Return ``box`` widened by ``margins`` (mm, rounded up to voxels) plus one voxel, clipped (see filter_crop)."""
    voxels = np.ceil(margins / np.asarray(image.spacing)).astype(int) + 1
    shape = np.asarray(image.shape)
    start = np.maximum(np.array([part.start for part in box]) - voxels, 0)
    stop = np.minimum(np.array([part.stop for part in box]) + voxels, shape)
    if padding == "periodic":
        touches = (start == 0) | (stop == shape)
        start = np.where(touches, 0, start)
        stop = np.where(touches, shape, stop)
    return (
        slice(int(start[0]), int(stop[0])),
        slice(int(start[1]), int(stop[1])),
        slice(int(start[2]), int(stop[2])),
    )


def filtered_in_crop(
    image: Image,
    mask: np.ndarray,
    filter_fn: Callable[[np.ndarray], T],
    margin_mm: float | Sequence[float],
    *,
    padding: str = "mirror",
) -> tuple[T, tuple[slice, slice, slice]]:
    """Return ``filter_fn`` applied to the padded crop around the lesion, and the crop's slices.

    ``filter_fn`` takes the cropped array and must use the boundary condition given as ``padding``,
    e.g. ``functools.partial(laplacian_of_gaussian, spacing=image.spacing, sigma_mm=2.0)``. The result
    covers the crop (``image.array[crop]``); inside the lesion (``mask[crop]``) it equals filtering the
    whole image, see ``filter_crop``.
    """
    crop = filter_crop(image, mask, margin_mm, padding=padding)
    return filter_fn(image.array[crop]), crop


def filtered_within(
    image: Image,
    box: tuple[slice, ...],
    filter_fn: Callable[..., T],
    margin_mm: float | Sequence[float],
    *,
    padding: str = "mirror",
) -> T:
    """Return ``filter_fn``'s response on ``image.array[box]`` only, filtering a padded crop around ``box``.

    ``box`` is the lesion's bounding box (image indices, non-empty); the crop is ``box`` widened as
    :func:`filter_crop` widens a lesion's box. ``filter_fn`` takes the cropped array and a ``within``
    keyword (the box inside the crop), as :func:`laplacian_of_gaussian` and :func:`wavelet_subbands` do,
    and must use the boundary condition ``padding``. The values equal filtering the whole image and
    cutting it to ``box``; each 1D pass runs only where the later passes read.
    """
    _scipy_mode(padding)
    margins = _margins(margin_mm, "filtered_within")
    parts = [part.indices(size) for part, size in zip(box, image.shape, strict=True)]
    if any(stop <= start or step != 1 for start, stop, step in parts):
        msg = f"filtered_within: the box {box} is empty or not a box of image shape {image.shape}"
        raise ValueError(msg)
    crop = _crop_around(box, image, margins, padding)
    within = tuple(slice(b.start - c.start, b.stop - c.start) for b, c in zip(box, crop, strict=True))
    return filter_fn(image.array[crop], within=within)


# --- Names ---


def filter_name(kind: str, **params: Any) -> str:
    """Return the PyRadiomics spelling of a filter for feature columns.

    ``filter_name("original")`` -> ``"original"``;
    ``filter_name("log", sigma_mm=2.0)`` -> ``"log-sigma-2-0-mm-3D"`` (sigma written as a float with
    the point replaced by a dash, so 2 and 2.0 both give ``2-0``);
    ``filter_name("wavelet", band="LLH")`` -> ``"wavelet-LLH"``, and ``"wavelet2-LLH"`` with
    ``level=2``. As in PyRadiomics the wavelet family is not part of the name.
    """
    allowed = {"original": set(), "log": {"sigma_mm"}, "wavelet": {"band", "level"}}
    if kind not in allowed:
        msg = f"filter_name: kind must be one of {sorted(allowed)}, got {kind!r}"
        raise ValueError(msg)
    unknown = set(params) - allowed[kind]
    if unknown:
        msg = f"filter_name: {kind!r} takes {sorted(allowed[kind])}, got unexpected {sorted(unknown)}"
        raise ValueError(msg)
    if kind == "original":
        return "original"
    if kind == "log":
        if "sigma_mm" not in params or not float(params["sigma_mm"]) > 0:
            msg = f"filter_name: 'log' needs sigma_mm > 0, got {params.get('sigma_mm')!r}"
            raise ValueError(msg)
        return f"log-sigma-{str(float(params['sigma_mm'])).replace('.', '-')}-mm-3D"
    band, level = params.get("band"), params.get("level", 1)
    if band not in SUBBANDS:
        msg = f"filter_name: 'wavelet' needs band in {SUBBANDS}, got {band!r}"
        raise ValueError(msg)
    if isinstance(level, bool) or not isinstance(level, int) or level < 1:
        msg = f"filter_name: wavelet level must be an integer >= 1, got {level!r}"
        raise ValueError(msg)
    return f"wavelet-{band}" if level == 1 else f"wavelet{level}-{band}"


# --- Input checks ---


def _as_volume(array: np.ndarray) -> np.ndarray:
    """Return ``array`` as a float64 3D array, or raise naming its shape."""
    data = np.asarray(array, dtype=np.float64)
    if data.ndim != 3:
        msg = f"expected a 3D array, got shape {data.shape}"
        raise ValueError(msg)
    return data


def _as_spacing(spacing: Sequence[float]) -> np.ndarray:
    """Return ``spacing`` as 3 positive floats (mm), or raise naming it."""
    values = np.asarray(spacing, dtype=np.float64)
    if values.shape != (3,) or not np.all(values > 0):
        msg = f"spacing must be 3 positive voxel sizes in mm, got {spacing}"
        raise ValueError(msg)
    return values


def _scipy_mode(padding: str) -> str:
    """Return the ``scipy.ndimage`` mode of an IBSI 2 boundary condition, or raise naming it."""
    if padding not in BOUNDARY_MODES:
        msg = f"padding must be one of {sorted(BOUNDARY_MODES)} (IBSI 2 boundary conditions), got {padding!r}"
        raise ValueError(msg)
    return BOUNDARY_MODES[padding]
