"""AutoML: the automatic lesion classifier (a scikit-learn estimator that searches pipelines and ensembles
the best) and the Model folder it lives in."""

from __future__ import annotations

from lai.automl.classifier import PRESETS, AutoClassifier
from lai.automl.ensemble import Ensemble, EnsembleMember
from lai.automl.model import ModelFolderError, load_model, predict_table, save_model, training_data_hash
from lai.automl.scoring import METRICS

__all__ = [
    "METRICS",
    "PRESETS",
    "AutoClassifier",
    "Ensemble",
    "EnsembleMember",
    "ModelFolderError",
    "load_model",
    "predict_table",
    "save_model",
    "training_data_hash",
]
