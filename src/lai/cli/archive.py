"""Commands of the archive: ingest, labels import, qc, release."""
