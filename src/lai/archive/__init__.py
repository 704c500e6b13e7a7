"""DICOM archive: ingest multi-centre exams into a Dataset with a catalog, labels, masks and quality control."""

from __future__ import annotations

from lai.archive.catalog import Catalog, catalog_url, open_catalog, write_dataset_index
from lai.archive.convert import ConversionError, convert_series
from lai.archive.deidentify import (
    DeidentificationOptions,
    Pseudonymiser,
    PseudonymMap,
    deidentify,
    load_secret,
    new_secret,
)
from lai.archive.ingest import IngestReport, ingest
from lai.archive.labels import LabelError, LabelImport, import_labels
from lai.archive.qc import Finding, run_qc, stored_findings
from lai.archive.readers import ReaderError, read_decathlon, read_lld_mmri, read_worc
from lai.archive.release import ReleaseError, make_release
from lai.archive.scan import Scan, SourceSeries, scan_dicom
from lai.archive.series import SeriesClass, SeriesHeader, classify_series, order_dynamic_phases

__all__ = [
    "Catalog",
    "ConversionError",
    "DeidentificationOptions",
    "Finding",
    "IngestReport",
    "LabelError",
    "LabelImport",
    "PseudonymMap",
    "Pseudonymiser",
    "ReaderError",
    "ReleaseError",
    "Scan",
    "SeriesClass",
    "SeriesHeader",
    "SourceSeries",
    "catalog_url",
    "classify_series",
    "convert_series",
    "deidentify",
    "import_labels",
    "ingest",
    "load_secret",
    "make_release",
    "new_secret",
    "open_catalog",
    "order_dynamic_phases",
    "read_decathlon",
    "read_lld_mmri",
    "read_worc",
    "run_qc",
    "scan_dicom",
    "stored_findings",
    "write_dataset_index",
]
