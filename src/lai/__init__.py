"""LAI: AI on MRI of liver lesions.

Five stages hand files to each other: a Dataset folder (``lai.data``), made by the synthetic cohort
(``lai.synth``) or the DICOM archive; a FeatureTable (``lai.radiomics``); a Model folder
(``lai.automl``); validation results (``lai.validation``); and a Report (``lai.report``).
"""

from __future__ import annotations

__version__ = "0.1.0"
