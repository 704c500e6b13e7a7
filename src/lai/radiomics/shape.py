"""3D shape features, in PyRadiomics' definitions and names, from a triangle mesh and the voxel centres.

The surface is the marching-cubes mesh of the binary mask at level 0.5 (vertices at edge midpoints), in
world millimetres through the image's affine. ``V`` is the mesh volume, ``A`` the mesh area, ``N`` the
number of voxels, ``lambda_major >= lambda_minor >= lambda_least`` the eigenvalues of the covariance
(divided by N) of the voxel centres' world positions.

Marching cubes is local, so ``V`` and ``A`` are sums over the mask's cubes of what each cube's triangles
contribute, and those depend only on the cube's configuration (which of its 8 corners are in the mask).
The triangles of the 256 configurations come from scikit-image, taken once per process by running its
marching cubes on each configuration alone (:func:`cube_triangles`: Lorensen and Cline's classic cases,
which the IBSI morphology family uses); the shape family follows PyRadiomics' rule on top of them
(:func:`pyradiomics_cube_triangles`): a cube whose corner (0, 1, 1) is inside takes the triangles of its
complement, so on a face with two diagonal corners inside those corners are joined, not separated.
One pass over the mask (the C kernel :func:`lai.radiomics.kernels.mesh_cubes`, else
:func:`cube_configurations` in numpy) counts the cubes of each configuration (:func:`cube_volume_and_area`);
the C pass also lists the mesh's vertices (the edge midpoints where the mask changes: all the diameters
need) and sums the voxels' index coordinates (:func:`moments_from_sums`). Without the C kernels the
diameters come from scikit-image's mesh (:func:`surface_mesh`), which has the same vertices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType

import numpy as np
from scipy.spatial import ConvexHull
from skimage.measure import marching_cubes

from lai.radiomics.texture import compiled, roi_box


@dataclass(frozen=True)
class Mesh:
    """A closed triangle surface: ``vertices`` (n, 3) in world mm and ``faces`` (m, 3) vertex indices.

    ``index_vertices`` (n, 3) are the same vertices in voxel index coordinates (i, j, k) of the image.
    """

    vertices: np.ndarray
    faces: np.ndarray
    index_vertices: np.ndarray | None = None


def surface_mesh(mask: np.ndarray, affine: np.ndarray) -> Mesh:
    """Return the marching-cubes surface of a binary 3D ``mask`` in the world space of ``affine``."""
    nonzero = np.nonzero(mask)
    low = np.array([axis.min() for axis in nonzero])
    high = np.array([axis.max() for axis in nonzero]) + 1
    box = mask[low[0] : high[0], low[1] : high[1], low[2] : high[2]]
    # one empty voxel on every side closes the surface where the mask touches its bounding box
    padded = np.pad(box, 1).astype(np.float32)
    vertices, faces, _, _ = marching_cubes(padded, level=0.5, method="lorensen")
    index_positions = vertices.astype(np.float64) + (low - 1)
    return Mesh(index_positions @ affine[:3, :3].T, faces, index_positions)


@lru_cache(maxsize=1)
def cube_triangles() -> np.ndarray:
    """Return (256, 5, 3, 3): the triangles' corners, in cube units, of each marching-cubes configuration.

    Configuration ``c`` has the cube's corner ``(di, dj, dk)`` (each 0 or 1) inside the surface when bit
    ``4 di + 2 dj + dk`` of ``c`` is set. Its triangles are those scikit-image's ``marching_cubes``
    (``method="lorensen"``, level 0.5: the classic cases of Lorensen and Cline, SIGGRAPH 1987) gives for
    that 2 x 2 x 2 cube alone, in its order and orientation; unused rows are zeros (degenerate: no area, no
    volume). Computed once per process (~10 ms); read-only.
    """
    triangles = np.zeros((256, 5, 3, 3))
    bits = np.arange(8)
    corners = np.stack([bits >> 2 & 1, bits >> 1 & 1, bits & 1], axis=1)
    for configuration in range(1, 255):
        cube = np.zeros((2, 2, 2), dtype=np.float32)
        inside = corners[(configuration >> bits & 1).astype(bool)]
        cube[inside[:, 0], inside[:, 1], inside[:, 2]] = 1.0
        vertices, faces, _, _ = marching_cubes(cube, level=0.5, method="lorensen")
        triangles[configuration, : len(faces)] = vertices[faces]
    triangles.setflags(write=False)
    return triangles


@lru_cache(maxsize=1)
def pyradiomics_cube_triangles() -> np.ndarray:
    """Return :func:`cube_triangles` under PyRadiomics' complement rule, (256, 5, 3, 3), read-only.

    PyRadiomics' marching cubes (``radiomics/src/cshape.c``, PyRadiomics 3) walks its array in (k, j, i)
    order and triangulates a cube whose last corner, (k, j, i) = (1, 1, 0), is inside as the complement
    cube (that corner outside, every other corner flipped), with its volume term negated. Corner (1, 1, 0)
    in (k, j, i) is corner (i, j, k) = (0, 1, 1) here, configuration bit 3. The triangles of each
    configuration are scikit-image's classic cases taken in PyRadiomics' axis order (the cube transposed,
    the corners' coordinates reversed back), those of the complement, in reverse orientation, when bit 3 is
    set. On every cube configuration, volume and area equal PyRadiomics 3.0.1's (checked cube by cube);
    they differ from :func:`cube_triangles` on cubes with two diagonal corners of a face inside.
    """
    classic = cube_triangles()
    bits = np.arange(8)
    reversed_bits = 4 * (bits & 1) + 2 * (bits >> 1 & 1) + (bits >> 2 & 1)  # corner (i, j, k) -> (k, j, i)
    triangles = np.zeros_like(classic)
    for configuration in range(1, 255):
        transposed = int(((configuration >> bits & 1) << reversed_bits).sum())
        complement = bool(configuration & 0b1000)
        corners = classic[transposed ^ 0xFF if complement else transposed][..., ::-1]
        triangles[configuration] = corners[:, ::-1] if complement else corners
    triangles.setflags(write=False)
    return triangles


MESH_CONVENTIONS = {"lorensen": cube_triangles, "pyradiomics": pyradiomics_cube_triangles}
"""The cube triangulations: scikit-image's classic cases, and PyRadiomics' complement rule on them."""


@lru_cache(maxsize=2)
def _cube_terms(convention: str) -> tuple[np.ndarray, np.ndarray]:
    """Return each configuration's integer volume and normal terms, in doubled cube coordinates.

    With ``a, b, c`` a triangle's corners in the cube and ``o`` the cube's origin, the mesh-volume term
    ``(o + a) . ((o + b) x (o + c))`` is ``a . (b x c) + o . ((b - a) x (c - a))``. Corners are multiples
    of one half, so with doubled coordinates (``A = 2 a``) both sums are exact integers: (256,)
    ``triple = sum A . (B x C)`` and (256, 3) ``normal = sum (B - A) x (C - A)``; ``sum_f a . (b x c)``
    over the whole mesh is ``(counts @ triple + sum(2 origins * normal)) / 8`` (``origins`` summed per
    configuration).
    """
    doubled = np.rint(2.0 * MESH_CONVENTIONS[convention]()).astype(np.int64)
    a, b, c = doubled[:, :, 0], doubled[:, :, 1], doubled[:, :, 2]
    triple = np.einsum("tfk,tfk->t", a, np.cross(b, c))
    normal = np.cross(b - a, c - a).sum(axis=1)
    return triple, normal


@lru_cache(maxsize=16)
def _cube_areas(linear: tuple[float, ...], convention: str) -> np.ndarray:
    """Return (256,) each configuration's triangle area in mm^2 through the linear map ``linear`` (row-major 3 x 3)."""
    triangles = MESH_CONVENTIONS[convention]() @ np.array(linear).reshape(3, 3).T
    a, b, c = triangles[:, :, 0], triangles[:, :, 1], triangles[:, :, 2]
    return np.linalg.norm(np.cross(b - a, c - a), axis=-1).sum(axis=1) / 2.0


def cube_configurations(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (cubes per configuration (256,), sum of their origins (256, 3)): :func:`lai.radiomics.kernels.mesh_cubes`' first two results, in numpy.

    The cubes of ``mask`` padded by one empty voxel on every side: cube (i, j, k), each from -1, has
    corners (i + di, j + dj, k + dk) and configuration bit ``4 di + 2 dj + dk`` set when that corner is
    in the mask; configurations 0 and 255 are not counted.
    """
    padded = np.pad(np.asarray(mask, dtype=bool), 1)
    n0, n1, n2 = (size - 1 for size in padded.shape)
    configuration = np.zeros((n0, n1, n2), dtype=np.uint8)
    for bit in range(8):
        di, dj, dk = bit >> 2 & 1, bit >> 1 & 1, bit & 1
        corner = padded[di : di + n0, dj : dj + n1, dk : dk + n2]
        configuration |= corner.astype(np.uint8) << np.uint8(bit)
    surface = np.nonzero((configuration != 0) & (configuration != 255))
    found = configuration[surface]
    counts = np.bincount(found, minlength=256).astype(np.int64)
    origins = np.zeros((256, 3), dtype=np.int64)
    for axis in range(3):
        # per configuration, the sum of the cubes' indices (from -1): exact in int64
        np.add.at(origins[:, axis], found, surface[axis].astype(np.int64) - 1)
    counts[0] = counts[255] = 0
    return counts, origins


def cube_volume_and_area(
    counts: np.ndarray,
    origins: np.ndarray,
    affine: np.ndarray,
    *,
    convention: str = "lorensen",
    origin: np.ndarray | None = None,
) -> tuple[float, float]:
    """Return (MeshVolume, SurfaceArea) from the mask's cubes (:func:`lai.radiomics.kernels.mesh_cubes`).

    With the ``"lorensen"`` convention, the values of :func:`volume_and_area` on :func:`surface_mesh` (to
    rounding). The volume's sum is an exact integer in index coordinates (:func:`_cube_terms`), scaled by
    ``|det|`` of the affine's linear part; the area is the configurations' areas through that linear part
    times their numbers of cubes. ``origin`` (index coordinates) is the point the signed tetrahedra of the
    volume start from. A closed mesh's volume does not depend on it; under the ``"pyradiomics"``
    convention a mesh can have holes (a face joined in one cube, split in its neighbour), and PyRadiomics
    starts them one voxel before the mask's bounding box, which ``origin`` then is (default: index 0).
    """
    triple, normal = _cube_terms(convention)
    shifted = origins if origin is None else origins - counts[:, None] * np.asarray(origin, dtype=np.int64)
    total = int(counts @ triple) + int(np.einsum("ck,ck->", 2 * shifted, normal))
    linear = np.asarray(affine, dtype=np.float64)[:3, :3]
    volume = abs(total) / 48.0 * float(abs(np.linalg.det(linear)))
    area = float(counts @ _cube_areas(tuple(linear.ravel().tolist()), convention))
    return volume, area


def mesh_volume_and_area(
    mask: np.ndarray, affine: np.ndarray, mesh: Mesh | None = None
) -> tuple[float, float]:
    """Return (MeshVolume, SurfaceArea) of the marching-cubes surface of a bool 3D ``mask`` in mm.

    From the cubes with the compiled kernels (:func:`cube_volume_and_area`), else from the faces of
    ``mesh`` (the caller's :func:`surface_mesh` of the same mask and affine) or of a new one
    (:func:`volume_and_area`).
    """
    kernels = compiled()
    if kernels is None:
        return volume_and_area(mesh if mesh is not None else surface_mesh(mask, affine))
    counts, origins, *_ = kernels.mesh_cubes(mask)
    return cube_volume_and_area(counts, origins, affine)


def voxel_volume(n_voxels: int, voxel_size: float) -> float:
    """Return VoxelVolume = N * V_voxel (IBSI YEKZ)."""
    return n_voxels * voxel_size


def mesh_volume(mesh: Mesh) -> float:
    """Return MeshVolume = |sum_f a_f . (b_f x c_f)| / 6 over the faces (a, b, c) (IBSI RNU0)."""
    return volume_and_area(mesh)[0]


def surface_area(mesh: Mesh) -> float:
    """Return SurfaceArea = sum_f |(b_f - a_f) x (c_f - a_f)| / 2 over the faces (IBSI C0JK)."""
    return volume_and_area(mesh)[1]


def volume_and_area(mesh: Mesh) -> tuple[float, float]:
    """Return (MeshVolume, SurfaceArea), the faces' corners gathered once for both."""
    a, b, c = mesh.vertices[mesh.faces.T]
    volume = float(abs(np.einsum("ij,ij->", a, np.cross(b, c))) / 6.0)
    area = float(np.linalg.norm(np.cross(b - a, c - a), axis=1).sum() / 2.0)
    return volume, area


def surface_volume_ratio(area: float, volume: float) -> float:
    """Return SurfaceVolumeRatio = A / V (IBSI 2PR5)."""
    return area / volume


def sphericity(area: float, volume: float) -> float:
    """Return Sphericity = (36 pi V^2)^(1/3) / A, 1 for a sphere (IBSI QCFX)."""
    return float((36.0 * np.pi * volume**2) ** (1.0 / 3.0) / area)


def maximum_3d_diameter(mesh: Mesh) -> float:
    """Return Maximum3DDiameter = max_{i,j} ||v_i - v_j|| over the mesh vertices (IBSI L0JK).

    The farthest pair lies on the convex hull, and a vertex of the hull is first or last on every line
    through it (else it would lie between two others), so only the vertices that end their lines along
    the three index axes and the six face diagonals are candidates (filtering a superset of the hull's
    vertices again keeps them all). With the compiled kernels every candidate pair is compared (a few
    hundred points); otherwise the candidates' convex hull is, a block of rows at a time.
    """
    vertices = mesh.vertices
    kernels = compiled()
    if mesh.index_vertices is not None:
        if kernels is not None:
            return _compiled_diameters(_doubled(mesh.index_vertices), vertices.__getitem__, kernels)[0]
        kept = _hull_candidates(mesh.index_vertices)
        if kept.size >= 4:
            vertices = vertices[kept]
    if kernels is not None:
        ends = np.array([len(vertices)])
        points = np.ascontiguousarray(vertices)
        return float(np.sqrt(kernels.largest_squared_distance(points, ends * 0, ends)))
    hull = ConvexHull(vertices)
    points = vertices[hull.vertices]
    rows = max(1, 100_000 // len(points))
    largest = 0.0  # squared
    for start in range(0, len(points), rows):
        block = points[start : start + rows, None, :] - points[None, start:, :]
        largest = max(largest, float(np.einsum("ijk,ijk->ij", block, block).max()))
    return float(np.sqrt(largest))


def _axis_ends(index_vertices: np.ndarray) -> np.ndarray:
    """Return (3, n): whether each vertex ends its line along index axis i, j, k (the other two fixed)."""
    i, j, k = index_vertices.T
    return np.stack([_ends_of_lines(j, k, i), _ends_of_lines(i, k, j), _ends_of_lines(i, j, k)])


def _hull_candidates(index_vertices: np.ndarray) -> np.ndarray:
    """Return the indices of the vertices that end their lines along the axes and the face diagonals."""
    kept = np.flatnonzero(_axis_ends(index_vertices).all(axis=0))
    i, j, k = index_vertices[kept].T
    diagonal = (
        _ends_of_lines(i - j, k, i)
        & _ends_of_lines(i + j, k, i)
        & _ends_of_lines(i - k, j, i)
        & _ends_of_lines(i + k, j, i)
        & _ends_of_lines(j - k, i, j)
        & _ends_of_lines(j + k, i, j)
    )
    return kept[diagonal]


def _doubled(index_vertices: np.ndarray) -> np.ndarray:
    """Return twice the index coordinates (multiples of one half) as int64."""
    return np.rint(2.0 * index_vertices).astype(np.int64)


def _compiled_diameters(
    doubled: np.ndarray,
    world: Callable[[np.ndarray], np.ndarray],
    kernels: ModuleType,
    axis_ends: np.ndarray | None = None,
) -> tuple[float, float, float, float]:
    """Return (Maximum3DDiameter, Maximum2DDiameter Slice, Column, Row) with the C kernels.

    ``doubled`` are twice the vertices' index coordinates and ``world(rows)`` the world positions of
    those rows. The candidates are those of the numpy pass (:func:`_hull_candidates` and the planes'
    filters of :func:`maximum_2d_diameters`), selected by
    :func:`lai.radiomics.kernels.diameter_candidates` (from the ends along the axes that
    :func:`lai.radiomics.kernels.mesh_cubes` gives, when ``axis_ends`` are those); only their world
    positions are computed.
    """
    flags = kernels.diameter_candidates(doubled, axis_ends)
    if np.count_nonzero(flags & 1) < 4:
        flags |= 1  # too few to be sure of the hull: every vertex
    rows = np.flatnonzero(flags)
    squared = kernels.candidate_diameters(world(rows), doubled[rows], flags[rows])
    largest, slice_diameter, column_diameter, row_diameter = np.sqrt(squared).tolist()
    return largest, slice_diameter, column_diameter, row_diameter


def maximum_2d_diameters(mesh: Mesh) -> tuple[float, float, float]:
    """Return PyRadiomics' Maximum2DDiameter (Slice, Column, Row): the largest distance between vertices in one plane.

    PyRadiomics compares mesh vertices with the same index coordinate: the same slice k (Slice, the axial
    plane of an axial scan), the same j (Column, coronal) or the same i (Row, sagittal), and measures
    their distance in mm. Per plane the farthest pair lies on the plane's convex hull (an affine map of
    the index coordinates keeps it convex), and a hull vertex is the first or last vertex on every line
    of the plane through it (else it would lie between two others): only vertices that end their row,
    column and both diagonals are compared. A plane's rows and columns are lines along the two index axes
    in it, whose ends are found once for all three planes.
    """
    if mesh.index_vertices is None:
        msg = "maximum_2d_diameters: the mesh has no index coordinates (use surface_mesh)"
        raise ValueError(msg)
    kernels = compiled()
    if kernels is not None:
        _, *planes = _compiled_diameters(_doubled(mesh.index_vertices), mesh.vertices.__getitem__, kernels)
        return planes[0], planes[1], planes[2]
    axis_ends = _axis_ends(mesh.index_vertices)
    diameters = []
    for axis in (2, 1, 0):
        in_plane = [a for a in range(3) if a != axis]
        on_lines = np.flatnonzero(axis_ends[in_plane[0]] & axis_ends[in_plane[1]])
        plane = mesh.index_vertices[on_lines, axis]
        u, v = (mesh.index_vertices[on_lines, a] for a in in_plane)
        # ends along both diagonals of the plane (sums of half-integers are exact)
        kept = np.flatnonzero(_ends_of_lines(plane, u + v, u) & _ends_of_lines(plane, u - v, u))
        order = kept[np.argsort(plane[kept], kind="stable")]
        diameters.append(_largest_distance_per_group(mesh.vertices[on_lines[order]], plane[order]))
    return diameters[0], diameters[1], diameters[2]


def _largest_distance_per_group(points: np.ndarray, group: np.ndarray) -> float:
    """Return the largest distance between two ``points`` (n, 3) of one group; ``group`` is sorted.

    All groups at once: each is padded to the largest group's size with copies of its first point
    (distance 0), so one (groups, size, size) array of squared distances holds every pair.
    """
    if points.shape[0] < 2:
        return 0.0
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    counts = np.diff(np.r_[starts, group.size])
    kernels = compiled()
    if kernels is not None:
        largest_squared = kernels.largest_squared_distance(
            np.ascontiguousarray(points), starts, starts + counts
        )
        return float(np.sqrt(largest_squared))
    size = int(counts.max())
    position = np.arange(group.size) - np.repeat(starts, counts)
    padded = np.repeat(points[starts][:, None, :], size, axis=1)
    padded[np.repeat(np.arange(starts.size), counts), position] = points
    largest = 0.0
    per_block = max(1, 200_000 // (size * size))  # groups per block: at most ~5 MB of differences
    for chunk in range(0, starts.size, per_block):
        block = padded[chunk : chunk + per_block]
        differences = block[:, :, None, :] - block[:, None, :, :]
        largest = max(largest, float(np.einsum("gijk,gijk->gij", differences, differences).max()))
    return float(np.sqrt(largest))


def _ends_of_lines(plane: np.ndarray, line: np.ndarray, along: np.ndarray) -> np.ndarray:
    """Return which points are first or last by ``along`` among the points of equal (``plane``, ``line``).

    Coordinates are multiples of one half (mesh vertices lie on voxel centres or edge midpoints), so
    twice them are integers that index a dense (plane, line) grid holding each line's extremes.
    """
    p, q, r = (np.rint(2 * values).astype(np.int64) for values in (plane, line, along))
    p -= p.min()
    q -= q.min()
    cell = p * (int(q.max()) + 1) + q
    n_cells = int(cell.max()) + 1
    lowest = np.full(n_cells, np.iinfo(np.int64).max)
    highest = np.full(n_cells, np.iinfo(np.int64).min)
    np.minimum.at(lowest, cell, r)
    np.maximum.at(highest, cell, r)
    return (r == lowest[cell]) | (r == highest[cell])


def principal_moments(mask: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Return the eigenvalues (descending) of the covariance, divided by N, of the voxel centres in mm.

    From the voxels' index sums (:func:`moments_from_sums`), which the compiled kernels take in their
    pass over the mask (:func:`lai.radiomics.kernels.mesh_cubes`): both give the same bits.
    """
    index = np.nonzero(mask)
    pairs = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))
    sums = [
        index[0].size,
        *(int(u.sum()) for u in index),
        *(int(np.dot(index[u], index[v])) for u, v in pairs),
    ]
    return moments_from_sums(sums, affine)


def moments_from_sums(sums: np.ndarray | list[int], affine: np.ndarray) -> np.ndarray:
    """Return :func:`principal_moments` from ``[N, S_i, S_j, S_k, S_ii, S_ij, S_ik, S_jj, S_jk, S_kk]``.

    The covariance of the index coordinates, ``(N S_uv - S_u S_v) / N^2``, is an exact integer ratio
    (Python integers), rounded once; the linear part of the affine maps it to mm: ``A C A^T``, the
    covariance of the positions ``A x``.
    """
    n, s_i, s_j, s_k, s_ii, s_ij, s_ik, s_jj, s_jk, s_kk = (int(value) for value in sums)
    if n == 0:
        msg = "principal_moments: the mask holds no voxel"
        raise ValueError(msg)
    first = (s_i, s_j, s_k)
    second = ((s_ii, s_ij, s_ik), (s_ij, s_jj, s_jk), (s_ik, s_jk, s_kk))
    index_covariance = np.array(
        [[(n * second[u][v] - first[u] * first[v]) / (n * n) for v in range(3)] for u in range(3)]
    )
    linear = affine[:3, :3]
    covariance = linear @ index_covariance @ linear.T
    return np.clip(np.sort(np.linalg.eigvalsh(covariance))[::-1], 0.0, None)


def major_axis_length(moments: np.ndarray) -> float:
    """Return MajorAxisLength = 4 sqrt(lambda_major) (IBSI TDIC)."""
    return float(4.0 * np.sqrt(moments[0]))


def minor_axis_length(moments: np.ndarray) -> float:
    """Return MinorAxisLength = 4 sqrt(lambda_minor) (IBSI P9VJ)."""
    return float(4.0 * np.sqrt(moments[1]))


def least_axis_length(moments: np.ndarray) -> float:
    """Return LeastAxisLength = 4 sqrt(lambda_least) (IBSI 7J51)."""
    return float(4.0 * np.sqrt(moments[2]))


def elongation(moments: np.ndarray) -> float:
    """Return Elongation = sqrt(lambda_minor / lambda_major), 1 for a round cross-section (IBSI Q3CK)."""
    return float(np.sqrt(moments[1] / moments[0])) if moments[0] > 0 else 0.0


def flatness(moments: np.ndarray) -> float:
    """Return Flatness = sqrt(lambda_least / lambda_major), 1 for a sphere (IBSI N17B)."""
    return float(np.sqrt(moments[2] / moments[0])) if moments[0] > 0 else 0.0


FEATURE_NAMES: tuple[str, ...] = (
    "Elongation",
    "Flatness",
    "LeastAxisLength",
    "MajorAxisLength",
    "Maximum3DDiameter",
    "Maximum2DDiameterSlice",
    "Maximum2DDiameterColumn",
    "Maximum2DDiameterRow",
    "MeshVolume",
    "MinorAxisLength",
    "Sphericity",
    "SurfaceArea",
    "SurfaceVolumeRatio",
    "VoxelVolume",
)
"""Shape feature names, in PyRadiomics' spelling and order."""


_EMPTY = "shape_features: the mask holds no voxel"


def shape_features(mask: np.ndarray, affine: np.ndarray) -> dict[str, float]:
    """Return every 3D shape feature of a binary ``mask`` on the grid of ``affine``, by PyRadiomics name.

    Mesh volume and area follow PyRadiomics' triangulation (:func:`pyradiomics_cube_triangles`), its
    volume's tetrahedra starting one voxel before the mask's bounding box, as PyRadiomics' do.
    """
    mask = np.asarray(mask, dtype=bool)
    kernels = compiled()
    if kernels is None:
        if not mask.any():
            raise ValueError(_EMPTY)
        counts, origins = cube_configurations(mask)
        low = np.array([part.start for part in roi_box(mask)])
        mesh = surface_mesh(mask, affine)
        n_voxels = int(mask.sum())
        largest = maximum_3d_diameter(mesh)
        slice_diameter, column_diameter, row_diameter = maximum_2d_diameters(mesh)
        moments = principal_moments(mask, affine)
    else:
        counts, origins, sums, doubled, axis_ends = kernels.mesh_cubes(mask)
        n_voxels = int(sums[0])
        if n_voxels == 0:
            raise ValueError(_EMPTY)
        # the lowest vertices are the midpoints between the box's first voxels and the empty ones before
        low = (doubled.min(axis=0) + 1) // 2
        linear = np.asarray(affine, dtype=np.float64)[:3, :3]

        def world(rows: np.ndarray) -> np.ndarray:
            return (doubled[rows] * 0.5) @ linear.T

        diameters = _compiled_diameters(doubled, world, kernels, axis_ends)
        largest, slice_diameter, column_diameter, row_diameter = diameters
        moments = moments_from_sums(sums, affine)
    volume, area = cube_volume_and_area(counts, origins, affine, convention="pyradiomics", origin=low - 1)
    return {
        "Elongation": elongation(moments),
        "Flatness": flatness(moments),
        "LeastAxisLength": least_axis_length(moments),
        "MajorAxisLength": major_axis_length(moments),
        "Maximum3DDiameter": largest,
        "Maximum2DDiameterSlice": slice_diameter,
        "Maximum2DDiameterColumn": column_diameter,
        "Maximum2DDiameterRow": row_diameter,
        "MeshVolume": volume,
        "MinorAxisLength": minor_axis_length(moments),
        "Sphericity": sphericity(area, volume),
        "SurfaceArea": area,
        "SurfaceVolumeRatio": surface_volume_ratio(area, volume),
        "VoxelVolume": voxel_volume(n_voxels, float(abs(np.linalg.det(affine[:3, :3])))),
    }
