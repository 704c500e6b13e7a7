"""Validation: patient-grouped splits, metrics with cluster-bootstrap intervals, DeLong, ROC curves."""

from __future__ import annotations

from lai.validation.bootstrap import Estimate, bca_interval, cluster_bootstrap, percentile_interval
from lai.validation.calibration import (
    calibration_intercept_slope,
    expected_calibration_error,
    reliability_curve,
    wilson_interval,
)
from lai.validation.crossval import ValidationResult, cross_validate, ordered_classes, score_predictions
from lai.validation.decision import DEFAULT_THRESHOLDS, decision_curve
from lai.validation.delong import DeLongTest, delong_interval, delong_test, delong_variance
from lai.validation.harmonisation import ComBat, HarmonisationWarning
from lai.validation.icc import ICC_KINDS, feature_icc, icc, icc_many, robust_features
from lai.validation.metrics import (
    CLASS_METRIC_NAMES,
    GROUP_METRIC_NAMES,
    METRIC_NAMES,
    brier_score,
    class_metrics,
    classification_metrics,
    npv,
    per_group_metrics,
    ppv,
    sensitivity,
    specificity,
    weighted_auc,
)
from lai.validation.robustness import (
    DEFAULT_PERTURBATIONS,
    Perturbation,
    RobustnessResult,
    perturb_case,
    prediction_shift,
    robustness_study,
)
from lai.validation.roc import FPR_GRID, roc_band, roc_curve, tpr_at
from lai.validation.schemes import SCHEME_NAMES, validate
from lai.validation.splitters import grouped_stratified_kfold
from lai.validation.uncertainty import corrected_resampled_t_interval

__all__ = [
    "CLASS_METRIC_NAMES",
    "DEFAULT_PERTURBATIONS",
    "DEFAULT_THRESHOLDS",
    "FPR_GRID",
    "GROUP_METRIC_NAMES",
    "ICC_KINDS",
    "METRIC_NAMES",
    "SCHEME_NAMES",
    "ComBat",
    "DeLongTest",
    "Estimate",
    "HarmonisationWarning",
    "Perturbation",
    "RobustnessResult",
    "ValidationResult",
    "bca_interval",
    "brier_score",
    "calibration_intercept_slope",
    "class_metrics",
    "classification_metrics",
    "cluster_bootstrap",
    "corrected_resampled_t_interval",
    "cross_validate",
    "decision_curve",
    "delong_interval",
    "delong_test",
    "delong_variance",
    "expected_calibration_error",
    "feature_icc",
    "grouped_stratified_kfold",
    "icc",
    "icc_many",
    "npv",
    "ordered_classes",
    "per_group_metrics",
    "percentile_interval",
    "perturb_case",
    "ppv",
    "prediction_shift",
    "reliability_curve",
    "robust_features",
    "robustness_study",
    "roc_band",
    "roc_curve",
    "score_predictions",
    "sensitivity",
    "specificity",
    "tpr_at",
    "validate",
    "weighted_auc",
    "wilson_interval",
]
