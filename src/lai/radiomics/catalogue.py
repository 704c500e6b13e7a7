"""The feature catalogue: each feature's IBSI tag and code, its family, and its PyRadiomics name.

Names are part of LAI's interface (users' tables depend on them), so each feature is defined once here
or in its family module's ``FEATURES`` and never renamed. IBSI codes follow the IBSI 1 reference manual
(Zwanenburg et al., Radiology 2020; arXiv:1612.07003).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureDefinition:
    """One feature: its IBSI base tag (no aggregation suffix), IBSI code and name, family, PyRadiomics name.

    Examples
    --------
    >>> FeatureDefinition("cm_joint_max", "GYBY", "Joint maximum", "glcm", "MaximumProbability").tag("3D_avg")
    'cm_joint_max_3D_avg'
    """

    base_tag: str
    ibsi_code: str
    name: str
    family: str
    pyradiomics: str | None = None

    def tag(self, aggregation: str = "") -> str:
        """Return the IBSI reference tag, with the aggregation suffix when the family has one."""
        return f"{self.base_tag}_{aggregation}" if aggregation else self.base_tag


FAMILIES: tuple[str, ...] = (
    "morphology",
    "local_intensity",
    "statistics",
    "intensity_histogram",
    "ivh",
    "glcm",
    "glrlm",
    "glszm",
    "gldzm",
    "ngtdm",
    "ngldm",
)
"""IBSI 1 feature families in the order of the reference manual."""
