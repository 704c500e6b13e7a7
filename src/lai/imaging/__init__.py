"""Image I/O and geometry: load, save, resample, align masks across sequences in world coordinates."""

from __future__ import annotations

from lai.imaging.image import Grid, Image, ImageError, load_image, save_image
from lai.imaging.resample import grids_overlap, resample_labels, resample_to_grid

__all__ = [
    "Grid",
    "Image",
    "ImageError",
    "grids_overlap",
    "load_image",
    "resample_labels",
    "resample_to_grid",
    "save_image",
]
