"""PyRadiomics' brain1 test case and its baseline feature values, for the IBSI texture tests' comparisons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lai.imaging import load_image
from lai.radiomics.discretisation import discretise_fixed_bin_width

PYRADIOMICS = Path(__file__).resolve().parents[2] / "shared" / "data" / "pyradiomics"
PYRADIOMICS_CASES = [("brain1", "3D"), ("brain1_2d", "2_5D")]
"""PyRadiomics baseline columns and the aggregation that reproduces them (force2D merges the slices)."""


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
