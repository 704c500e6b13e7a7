"""DICOM archive: ingest multi-centre exams into a Dataset with a catalog, labels, masks and quality control."""

from __future__ import annotations

from lai.archive.catalog import Catalog, catalog_url, open_catalog

__all__ = ["Catalog", "catalog_url", "open_catalog"]
