"""The catalog on SQLite and PostgreSQL: Alembic migrations at head, models equal to the migrated schema."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lai.archive.catalog import (
    Base,
    Centre,
    DatasetVersion,
    Label,
    Patient,
    Series,
    Study,
    catalog_url,
    open_catalog,
)
from lai.archive.ingest import ingest
from lai.archive.labels import import_labels
from lai.archive.qc import run_qc, stored_findings
from lai.imaging.image import Image
from lai.synth.dicom import ExamInfo, write_case_dicom

TABLES = {"centre", "patient", "study", "series", "lesion", "label", "qc_finding", "dataset_version"}


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """None (the archive's SQLite file) or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_url"))


def test_open_creates_every_table_at_the_head_revision(db: str | None, tmp_path: Path) -> None:
    with open_catalog(tmp_path, db) as catalog:
        tables = set(sa.inspect(catalog.engine).get_table_names())
        with catalog.engine.connect() as connection:
            version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    assert TABLES <= tables
    assert version == "0001"
    if db is None:
        assert (tmp_path / "catalog.sqlite").is_file()


def test_models_match_the_migrated_schema(db: str | None, tmp_path: Path) -> None:
    with open_catalog(tmp_path, db) as catalog, catalog.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_reopening_keeps_rows_and_constraints_hold(db: str | None, tmp_path: Path) -> None:
    with open_catalog(tmp_path, db) as catalog, catalog.session() as session, session.begin():
        centre = Centre(name="centre-01")
        patient = Patient(pseudonym="centre-01-p1", centre=centre)
        session.add(Study(case_id="case-1", patient=patient, study_date="2020-01-01"))
        session.add(
            DatasetVersion(
                created=datetime.datetime(2026, 1, 1),
                dataset_sha256="0" * 64,
                n_cases=1,
                n_series=0,
                n_lesions=0,
            )
        )
    with open_catalog(tmp_path, db) as catalog:
        with catalog.session() as session:
            study = session.scalars(sa.select(Study)).one()
            assert (study.case_id, study.patient.pseudonym, study.patient.centre.name) == (
                "case-1",
                "centre-01-p1",
                "centre-01",
            )
        with pytest.raises(sa.exc.IntegrityError), catalog.session() as session, session.begin():
            session.add(Centre(name="centre-01"))  # names are unique


def test_catalog_url_defaults_to_the_archive_sqlite_and_maps_plain_postgresql(tmp_path: Path) -> None:
    assert catalog_url(tmp_path) == f"sqlite:///{tmp_path.resolve() / 'catalog.sqlite'}"
    assert catalog_url(tmp_path, "postgresql://u:p@h/d") == "postgresql+psycopg://u:p@h/d"


def test_ingest_records_series_with_sequence_and_acquisition_parameters(
    db: str | None, tmp_path: Path
) -> None:
    affine = np.diag([1.5, 1.5, 5.0, 1.0])
    images = {
        name: Image((np.arange(10 * 8 * 3).reshape(10, 8, 3) + 100 * i).astype(np.int16), affine)
        for i, name in enumerate(("t2w", "t1_pre", "portal"))
    }
    exam = ExamInfo(
        case_id="e", patient_key="P", centre="centre-05", vendor="Philips", field_strength=1.5,
        study_date=datetime.date(2019, 5, 2), contrast_agent="extracellular", phase_delays={},
        patient_age=40, patient_sex="F", seed=1,
    )  # fmt: skip
    write_case_dicom(tmp_path / "in", images, exam)
    archive = tmp_path / "archive"
    ingest(tmp_path / "in", archive, centre="centre-05", secret=b"s" * 32, db=db, scheduler="sync")
    assert (archive / "catalog.sqlite").exists() == (db is None)
    with open_catalog(archive, db) as catalog, catalog.session() as session:
        study = session.scalars(sa.select(Study)).one()
        assert study.patient.centre.name == "centre-05"
        assert (study.vendor, study.field_strength) == ("Philips Medical Systems", 1.5)
        rows = session.scalars(sa.select(Series).order_by(Series.series_number)).all()
        assert len(rows) == 3
        for row in rows:
            assert row.repetition_time is not None and row.repetition_time > 0
            assert row.echo_time is not None and row.flip_angle is not None
            assert 0.0 <= row.confidence <= 1.0 and row.reason
            assert row.shape == "10x8x3"
            assert (archive / row.nifti_path).is_file() and (archive / row.dicom_path).is_dir()
        assert session.scalar(sa.select(sa.func.count(DatasetVersion.id))) == 1


def test_labels_and_qc_go_to_the_same_catalog(db: str | None, tmp_path: Path) -> None:
    affine = np.diag([1.5, 1.5, 5.0, 1.0])
    images = {"portal": Image((np.arange(10 * 8 * 4).reshape(10, 8, 4) + 10).astype(np.int16), affine)}
    exam = ExamInfo(
        case_id="e", patient_key="P", centre="centre-07", vendor="GE", field_strength=3.0,
        study_date=datetime.date(2018, 8, 8), contrast_agent="extracellular", phase_delays={},
        patient_age=45, patient_sex="M", seed=4,
    )  # fmt: skip
    write_case_dicom(tmp_path / "in", images, exam)
    archive = tmp_path / "archive"
    ingest(tmp_path / "in", archive, centre="centre-07", secret=b"t" * 32, db=db, scheduler="sync")
    case_id = pd.read_csv(archive / "cases.csv")["case_id"].iloc[0]
    rows = [
        {"case_id": case_id, "mask_label": 1, "diagnosis": "cyst", "reference_standard": "typical imaging"}
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "lesions.csv", index=False)
    import_labels(archive, tmp_path / "lesions.csv", db=db)
    findings = run_qc(archive, db)
    with open_catalog(archive, db) as catalog:
        with catalog.session() as session:
            label = session.scalars(sa.select(Label)).one()
            assert (label.lesion.lesion_id, label.diagnosis, label.malignant) == (
                f"{case_id}-L1",
                "cyst",
                False,
            )
        assert stored_findings(catalog) == findings
    assert (archive / "catalog.sqlite").exists() == (db is None)
