"""The archive catalog: what was ingested, recognised, labelled and checked, in SQL.

SQLAlchemy 2 models over SQLite (``ARCHIVE/catalog.sqlite``, the default) or PostgreSQL (a
``postgresql+psycopg://`` URL). The schema is created and upgraded by Alembic migrations shipped in
``lai/archive/migrations``: :func:`open_catalog` runs ``alembic upgrade head`` on every open, so an old
catalog is brought up to date before use. Only pseudonyms and de-identified values are stored.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Collection
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker

from lai.data import CASE_COLUMNS, LESION_COLUMNS, write_index
from lai.files import sha256_file

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
CATALOG_FILE = "catalog.sqlite"


class Base(DeclarativeBase):
    """Declarative base of the catalog models."""


class Centre(Base):
    """A contributing centre."""

    __tablename__ = "centre"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64), unique=True)


class Patient(Base):
    """A patient, known only by pseudonym, at one centre."""

    __tablename__ = "patient"
    id: Mapped[int] = mapped_column(primary_key=True)
    pseudonym: Mapped[str] = mapped_column(sa.String(64), unique=True)
    centre_id: Mapped[int] = mapped_column(sa.ForeignKey("centre.id"))
    centre: Mapped[Centre] = relationship()


class Study(Base):
    """One exam: its pseudonym is the Dataset's case_id; its date is shifted."""

    __tablename__ = "study"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"))
    study_date: Mapped[str | None] = mapped_column(sa.String(10))
    vendor: Mapped[str | None] = mapped_column(sa.String(64))
    model: Mapped[str | None] = mapped_column(sa.String(64))
    field_strength: Mapped[float | None]
    patient: Mapped[Patient] = relationship()
    series: Mapped[list[Series]] = relationship(back_populates="study", order_by="Series.series_key")


class Series(Base):
    """One converted series (or one volume of a split dynamic series) with its recognised sequence."""

    __tablename__ = "series"
    id: Mapped[int] = mapped_column(primary_key=True)
    series_key: Mapped[str] = mapped_column(sa.String(96), unique=True)
    study_id: Mapped[int] = mapped_column(sa.ForeignKey("study.id"))
    source_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    series_number: Mapped[int | None]
    part: Mapped[int] = mapped_column(default=0)
    split_by: Mapped[str | None] = mapped_column(sa.String(32))
    description: Mapped[str | None] = mapped_column(sa.String(128))
    sequence: Mapped[str] = mapped_column(sa.String(32))
    confidence: Mapped[float]
    reason: Mapped[str] = mapped_column(sa.Text)
    canonical: Mapped[bool] = mapped_column(default=False)
    n_files: Mapped[int]
    shape: Mapped[str | None] = mapped_column(sa.String(64))
    spacing: Mapped[str | None] = mapped_column(sa.String(96))
    repetition_time: Mapped[float | None]
    echo_time: Mapped[float | None]
    inversion_time: Mapped[float | None]
    flip_angle: Mapped[float | None]
    b_values: Mapped[str | None] = mapped_column(sa.String(128))
    contrast_agent: Mapped[str | None] = mapped_column(sa.String(64))
    acquisition_time: Mapped[str | None] = mapped_column(sa.String(32))
    image_path: Mapped[str | None] = mapped_column(sa.String(255))
    nifti_path: Mapped[str] = mapped_column(sa.String(255))
    sidecar_path: Mapped[str | None] = mapped_column(sa.String(255))
    dicom_path: Mapped[str] = mapped_column(sa.String(255))
    study: Mapped[Study] = relationship(back_populates="series")


class Lesion(Base):
    """A lesion of a study: its id and its value in the study's lesion mask."""

    __tablename__ = "lesion"
    id: Mapped[int] = mapped_column(primary_key=True)
    lesion_id: Mapped[str] = mapped_column(sa.String(96), unique=True)
    study_id: Mapped[int] = mapped_column(sa.ForeignKey("study.id"))
    mask_label: Mapped[int | None]
    diameter_mm: Mapped[float | None]
    study: Mapped[Study] = relationship()
    label: Mapped[Label | None] = relationship(back_populates="lesion", uselist=False)


class Label(Base):
    """The diagnosis of a lesion and how it was established."""

    __tablename__ = "label"
    id: Mapped[int] = mapped_column(primary_key=True)
    lesion_id: Mapped[int] = mapped_column(sa.ForeignKey("lesion.id"), unique=True)
    diagnosis: Mapped[str] = mapped_column(sa.String(16))
    malignant: Mapped[bool]
    reference_standard: Mapped[str | None] = mapped_column(sa.String(64))
    source: Mapped[str | None] = mapped_column(sa.String(255))
    lesion: Mapped[Lesion] = relationship(back_populates="label")


class QCFinding(Base):
    """One quality-control finding on a series or a study's masks."""

    __tablename__ = "qc_finding"
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(sa.ForeignKey("study.id"))
    series_id: Mapped[int | None] = mapped_column(sa.ForeignKey("series.id"))
    check: Mapped[str] = mapped_column(sa.String(32))
    severity: Mapped[str] = mapped_column(sa.String(8))
    message: Mapped[str] = mapped_column(sa.Text)
    study: Mapped[Study] = relationship()
    series: Mapped[Series | None] = relationship()


class DatasetVersion(Base):
    """A state of the archive's Dataset index: when it was written and the sha256 of its dataset.json."""

    __tablename__ = "dataset_version"
    id: Mapped[int] = mapped_column(primary_key=True)
    created: Mapped[datetime.datetime]
    dataset_sha256: Mapped[str] = mapped_column(sa.String(64))
    n_cases: Mapped[int]
    n_series: Mapped[int]
    n_lesions: Mapped[int]


# --- Opening ---


def catalog_url(archive: str | os.PathLike[str], db: str | None = None) -> str:
    """Return the catalog URL: ``db`` when given (``postgresql://`` means psycopg 3), else the archive's SQLite."""
    if db:
        return "postgresql+psycopg://" + db[len("postgresql://") :] if db.startswith("postgresql://") else db
    return f"sqlite:///{Path(archive).resolve() / CATALOG_FILE}"


def upgrade(engine: sa.Engine) -> None:
    """Run ``alembic upgrade head`` on ``engine``'s database (creates the schema on a new one)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Catalog:
    """An open catalog: an engine on an up-to-date schema and a session factory.

    Examples
    --------
    >>> catalog = open_catalog("archive")                  # doctest: +SKIP
    >>> with catalog.session() as session:                 # doctest: +SKIP
    ...     session.scalars(sa.select(Series)).all()
    """

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def session(self) -> Session:
        """Return a new session (use it as a context manager)."""
        return self._sessions()

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_catalog(archive: str | os.PathLike[str], db: str | None = None) -> Catalog:
    """Open (creating or upgrading) the catalog of ``archive``, or the database at URL ``db``."""
    url = catalog_url(archive, db)
    if url.startswith("sqlite:///"):
        Path(archive).mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_foreign_keys)
    upgrade(engine)
    return Catalog(engine)


def _sqlite_foreign_keys(connection: object, _record: object) -> None:
    cursor = connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# --- The archive's Dataset index ---


LISTED_FOLDERS: tuple[str, ...] = ("images", "masks", "series", "dicom")
"""Folders of an archive whose files dataset.json lists with their sha256 (catalog and log/ are not)."""


def _file_hashes(
    archive: Path, previous: dict[str, str], changed_cases: Collection[str] | None
) -> dict[str, str]:
    """Return relative path -> sha256 of the listed folders' files.

    Files of cases outside ``changed_cases`` keep the hash the previous dataset.json gave them, so an
    ingest rehashes only what it wrote; ``None`` rehashes everything.
    """
    files = {}
    for folder in LISTED_FOLDERS:
        for path in sorted((archive / folder).rglob("*")):
            rel = path.relative_to(archive)
            if not path.is_file() or any(part.startswith(".") for part in rel.parts):
                continue
            key = rel.as_posix()
            case_id = rel.parts[1] if len(rel.parts) > 2 else None
            reuse = changed_cases is not None and case_id not in changed_cases and key in previous
            files[key] = previous[key] if reuse else sha256_file(path)
    return files


def write_dataset_index(
    archive: Path, catalog: Catalog, changed_cases: Collection[str] | None = None
) -> None:
    """Write cases.csv, lesions.csv (kept as it is) and dataset.json from the catalog and the files.

    Parameters
    ----------
    archive
        The archive folder.
    catalog
        Its open catalog.
    changed_cases
        Cases whose files changed since the last index; files of other cases keep their listed sha256.
        ``None`` (the default) rehashes every file.
    """
    with catalog.session() as session:
        rows = session.execute(
            sa.select(Study, Patient.pseudonym, Centre.name)
            .join(Patient, Study.patient_id == Patient.id)
            .join(Centre, Patient.centre_id == Centre.id)
            .order_by(Study.case_id)
        ).all()
        n_series = session.scalar(sa.select(sa.func.count(Series.id))) or 0
        cases = pd.DataFrame(
            [
                {
                    "case_id": study.case_id,
                    "patient_id": pseudonym,
                    "centre": centre,
                    "study_date": study.study_date,
                    "field_strength": study.field_strength,
                    "vendor": study.vendor,
                    "model": study.model,
                }
                for study, pseudonym, centre in rows
            ],
            columns=[*CASE_COLUMNS, "field_strength", "vendor", "model"],
        )
    lesions_path = archive / "lesions.csv"
    lesions = (
        pd.read_csv(lesions_path, dtype={"lesion_id": str, "case_id": str})
        if lesions_path.is_file()
        else pd.DataFrame(columns=list(LESION_COLUMNS))
    )
    previous = (
        json.loads((archive / "dataset.json").read_text()) if (archive / "dataset.json").is_file() else {}
    )
    files = _file_hashes(archive, dict(previous.get("files", {})), changed_cases)
    write_index(
        archive,
        name=str(previous.get("name", archive.name)),
        version=str(previous.get("version", "0.1.0")),
        description=str(previous.get("description", "LAI archive: de-identified multi-centre liver MRI")),
        cases=cases,
        lesions=lesions,
        files=files,
        centres=[{"name": c} for c in sorted(set(cases["centre"]))],
        provenance={"stage": "archive"},
    )
    with catalog.session() as session, session.begin():
        session.add(
            DatasetVersion(
                created=datetime.datetime.now(datetime.UTC).replace(tzinfo=None),
                dataset_sha256=sha256_file(archive / "dataset.json"),
                n_cases=len(cases),
                n_series=int(n_series),
                n_lesions=len(lesions),
            )
        )
