"""The benchmark portal: releases with hidden test labels, access, submissions, scoring, leaderboards."""

from lai.portal.app import create_app
from lai.portal.audit import AuditReport, verify
from lai.portal.leaderboard import Entry, Row, leaderboard
from lai.portal.scoring import SubmissionError, compute_metrics, validate_predictions

__all__ = [
    "AuditReport",
    "Entry",
    "Row",
    "SubmissionError",
    "compute_metrics",
    "create_app",
    "leaderboard",
    "validate_predictions",
    "verify",
]
