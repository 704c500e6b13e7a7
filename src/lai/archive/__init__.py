"""DICOM archive: ingest multi-centre exams into a Dataset with a catalog, labels, masks and quality control."""

from __future__ import annotations

from lai.archive.catalog import Catalog, catalog_url, open_catalog, write_dataset_index
from lai.archive.convert import ConversionError, convert_series
from lai.archive.ingest import IngestReport, ingest
from lai.archive.labels import LabelError, LabelImport, import_labels
from lai.archive.qc import Finding, run_qc, stored_findings
from lai.archive.scan import Scan, SourceSeries, scan_dicom

__all__ = [
    "Catalog",
    "ConversionError",
    "Finding",
    "IngestReport",
    "LabelError",
    "LabelImport",
    "Scan",
    "SourceSeries",
    "catalog_url",
    "convert_series",
    "import_labels",
    "ingest",
    "open_catalog",
    "run_qc",
    "scan_dicom",
    "stored_findings",
    "write_dataset_index",
]
