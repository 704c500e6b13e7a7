"""PyRadiomics' brain1 test case and its baseline feature values, for the IBSI texture tests' comparisons, and
PyRadiomics 3.0.1's own values where they differ from the baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lai.imaging import load_image
from lai.radiomics.discretisation import discretise_fixed_bin_width

PYRADIOMICS = Path(__file__).resolve().parents[2] / "shared" / "data" / "pyradiomics"
PYRADIOMICS_CASES = [("brain1", "3D"), ("brain1_2d", "2_5D")]
"""PyRadiomics baseline columns and the aggregation that reproduces them (force2D merges the slices)."""
MESH_FEATURES = ("MeshVolume", "SurfaceArea", "Sphericity", "SurfaceVolumeRatio")
"""The shape features read off the marching-cubes mesh."""
PYRADIOMICS_3_BRAIN1 = {
    "MeshVolume": 16147.51180013021,
    "SurfaceArea": 6438.821603779402,
    "Sphericity": 0.4798234536231475,
    "SurfaceVolumeRatio": 0.3987500788652454,
}
"""brain1's mesh features by PyRadiomics 3.0.1 (numpy 1.26.4, SimpleITK 2.5.7) with the baseline column's
own settings: ``RadiomicsFeatureExtractor(**settings)``, shape class only. The brain1 column was written by
a development build (2.0.1b1.post11) whose marching cubes PyRadiomics has changed since: PyRadiomics 3.0.1
itself differs from that column by 1.2e-4 in volume and 7.9e-4 in area, and matches the other three shape
columns (breast1 from the same build, the _resampling columns from 2.1.0) to 1e-12, as LAI does; on brain1
LAI matches PyRadiomics 3.0.1 to 1e-12."""


def pyradiomics_brain1() -> tuple[np.ndarray, np.ndarray]:
    """Return PyRadiomics' brain1 test case discretised as its baseline was (bin width 25), and its label."""
    image = load_image(PYRADIOMICS / "brain1_image.nrrd").array
    mask = load_image(PYRADIOMICS / "brain1_label.nrrd").array == 1
    levels = np.zeros(image.shape, dtype=np.int64)
    levels[mask] = discretise_fixed_bin_width(image[mask], 25)
    return levels, mask


def pyradiomics_baseline(family: str, case: str) -> dict[str, float]:
    """Return {PyRadiomics feature name: baseline value} of one family and case column."""
    table = pd.read_csv(PYRADIOMICS / "baseline" / f"baseline_{family}.csv").set_index("featureName")
    prefix = f"original_{family}_"
    return {
        name[len(prefix) :]: float(value) for name, value in table[case].items() if name.startswith(prefix)
    }
