"""Report: one self-contained HTML validation report with inline figures, and metrics JSON."""

from __future__ import annotations

from lai.report.html import METRICS_FILE, REPORT_FILE, cohort_table, write_report

__all__ = ["METRICS_FILE", "REPORT_FILE", "cohort_table", "write_report"]
