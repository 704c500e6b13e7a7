"""AutoML: the automatic lesion classifier (a scikit-learn estimator) and the Model folder it lives in."""

from __future__ import annotations

from lai.automl.classifier import PIPELINE_NAME, AutoClassifier
from lai.automl.model import ModelFolderError, load_model, predict_table, save_model, training_data_hash

__all__ = [
    "PIPELINE_NAME",
    "AutoClassifier",
    "ModelFolderError",
    "load_model",
    "predict_table",
    "save_model",
    "training_data_hash",
]
