"""The ``Image`` noun: a voxel array with its voxel-to-world affine, and its file I/O.

World coordinates follow NIfTI (RAS+, millimetres), as nibabel does. Files in other formats that
SimpleITK reads (NRRD, MHA, ...) are converted from ITK's LPS convention on load.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from isal import igzip

from lai.files import sha256_bytes, write_bytes_atomic

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


class ImageError(ValueError):
    """An image file that cannot be read or is not what the caller needs; the message names the file."""


@dataclass(frozen=True)
class Grid:
    """A voxel grid in world space: an array shape and a 4x4 voxel-to-world (RAS, mm) affine."""

    shape: tuple[int, int, int]
    affine: np.ndarray

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along each array axis."""
        s = np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0))
        return (float(s[0]), float(s[1]), float(s[2]))

    def world_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the (min, max) world corners of the grid's extent, voxel edges included."""
        corners = np.array(
            [
                [i, j, k]
                for i in (-0.5, self.shape[0] - 0.5)
                for j in (-0.5, self.shape[1] - 0.5)
                for k in (-0.5, self.shape[2] - 0.5)
            ]
        )
        world = corners @ self.affine[:3, :3].T + self.affine[:3, 3]
        return world.min(axis=0), world.max(axis=0)

    def voxel_volume(self) -> float:
        """Volume of one voxel in mm^3."""
        return float(abs(np.linalg.det(self.affine[:3, :3])))


@dataclass(frozen=True)
class Image:
    """A 3D image: ``array`` indexed (i, j, k) and ``affine`` mapping voxel indices to world mm (RAS).

    Examples
    --------
    >>> import numpy as np
    >>> img = Image(np.zeros((4, 4, 2), np.float32), np.diag([0.8, 0.8, 3.0, 1.0]))
    >>> img.spacing
    (0.8, 0.8, 3.0)
    """

    array: np.ndarray
    affine: np.ndarray

    def __post_init__(self) -> None:
        if self.array.ndim != 3:
            msg = f"Image array must be 3D, got shape {self.array.shape}"
            raise ImageError(msg)
        if self.affine.shape != (4, 4):
            msg = f"Image affine must be 4x4, got {self.affine.shape}"
            raise ImageError(msg)

    @property
    def grid(self) -> Grid:
        """The voxel grid of this image."""
        shape = self.array.shape
        return Grid((int(shape[0]), int(shape[1]), int(shape[2])), self.affine)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape."""
        return self.grid.shape

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along each array axis."""
        return self.grid.spacing


def load_image(path: str | os.PathLike[str]) -> Image:
    """Read a 3D image (NIfTI through nibabel; NRRD, MHA and others through SimpleITK).

    A 4D file with a single volume is squeezed to 3D; anything else that is not 3D is refused with an
    error naming the file.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"{path}: no such image file"
        raise ImageError(msg)
    name = path.name.lower()
    try:
        if name.endswith(".nii.gz"):
            # ISA-L inflates several times faster than the zlib behind nibabel's own gzip reader
            array, affine = _nifti_from_bytes(igzip.decompress(path.read_bytes()))
        elif name.endswith(".nii"):
            nifti = nib.load(path)
            array = np.asanyarray(nifti.dataobj)  # type: ignore[attr-defined]
            affine = np.asarray(nifti.affine, dtype=np.float64)  # type: ignore[attr-defined]
        else:
            array, affine = _load_with_simpleitk(path)
    except ImageError:
        raise
    except Exception as error:  # the readers raise many types; the user needs the file and the reason
        msg = f"{path}: cannot read image ({type(error).__name__}: {error})"
        raise ImageError(msg) from error
    if array.ndim == 4 and array.shape[3] == 1:
        array = array[..., 0]
    if array.ndim != 3:
        msg = f"{path}: expected a 3D image, found shape {array.shape}"
        raise ImageError(msg)
    return Image(np.asarray(array), affine)


def _nifti_from_bytes(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Return the array and affine of a NIfTI-1 or NIfTI-2 file held in memory."""
    header_size = int.from_bytes(data[:4], "little")
    if header_size not in (348, 540):
        header_size = int.from_bytes(data[:4], "big")
    kind: type[nib.Nifti1Image] = nib.Nifti2Image if header_size == 540 else nib.Nifti1Image
    nifti = kind.from_bytes(data)
    return np.asanyarray(nifti.dataobj), np.asarray(nifti.affine, dtype=np.float64)


def _load_with_simpleitk(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import SimpleITK as sitk

    itk = sitk.ReadImage(str(path))
    if itk.GetDimension() != 3:
        msg = f"{path}: expected a 3D image, found {itk.GetDimension()}D"
        raise ImageError(msg)
    array = sitk.GetArrayFromImage(itk).transpose(2, 1, 0)  # ITK arrays come out (k, j, i)
    direction = np.asarray(itk.GetDirection(), dtype=np.float64).reshape(3, 3)
    lps = np.eye(4)
    lps[:3, :3] = direction * np.asarray(itk.GetSpacing(), dtype=np.float64)
    lps[:3, 3] = itk.GetOrigin()
    return array, _LPS_TO_RAS @ lps


def save_image(image: Image, path: str | os.PathLike[str], *, compresslevel: int = 1) -> str:
    """Write ``image`` as NIfTI-1 (``.nii`` or ``.nii.gz``) through a temporary file and a rename.

    Returns the sha256 of the bytes written, so callers can list the file in dataset.json unread.

    NIfTI stores the affine in float32 and has no boolean or 64-bit integer voxel type: affines come back
    rounded to float32, boolean arrays as uint8 and 64-bit integer arrays as 32-bit when their values fit
    (an ``ImageError`` otherwise). Voxel values are kept exactly.

    Compression uses ISA-L's gzip (``isal``), several times faster than zlib at the same ratio; the
    result is ordinary gzip that every NIfTI reader opens. ``compresslevel`` is ISA-L's 0-3.
    """
    path = Path(path)
    nifti = nib.Nifti1Image(_storable(image.array, path), image.affine)
    nifti.header.set_xyzt_units("mm", "sec")
    nifti.set_qform(image.affine, code=1)
    nifti.set_sform(image.affine, code=1)
    data = nifti.to_bytes()
    if path.name.endswith(".gz"):
        data = igzip.compress(data, compresslevel=compresslevel, mtime=0)
    write_bytes_atomic(path, data)
    return sha256_bytes(data)


def _storable(array: np.ndarray, path: Path) -> np.ndarray:
    """Return ``array`` in a NIfTI voxel type holding the same values (bool -> uint8, 64-bit -> 32-bit)."""
    if array.dtype == np.bool_:
        return array.astype(np.uint8)
    if array.dtype in (np.int64, np.uint64):
        narrow = np.dtype(np.int32 if array.dtype == np.int64 else np.uint32)
        info = np.iinfo(narrow)
        if array.size and (array.min() < info.min or array.max() > info.max):
            msg = f"{path}: {array.dtype} values {array.min()}..{array.max()} do not fit NIfTI's {narrow}"
            raise ImageError(msg)
        return array.astype(narrow)
    return array
