"""The synthetic multi-centre liver MRI cohort: anatomy, eight lesion types, acquisition per centre.

``generate_cohort`` writes a Dataset folder (optionally DICOM too); ``describe_cohort`` measures its
lesion-to-liver ratios per diagnosis and sequence. See docs/synthetic-cohort.md.
"""

from __future__ import annotations

from lai.synth.cohort import generate_cohort
from lai.synth.describe import describe_cohort

__all__ = ["describe_cohort", "generate_cohort"]
