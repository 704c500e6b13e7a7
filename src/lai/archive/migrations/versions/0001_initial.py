"""The first catalog schema: centres, patients, studies, series, lesions, labels, QC findings, dataset versions.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "centre",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
    )
    op.create_table(
        "patient",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("pseudonym", sa.String(64), nullable=False, unique=True),
        sa.Column("centre_id", sa.Integer(), sa.ForeignKey("centre.id"), nullable=False),
    )
    op.create_table(
        "study",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False, unique=True),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("patient.id"), nullable=False),
        sa.Column("study_date", sa.String(10), nullable=True),
        sa.Column("vendor", sa.String(64), nullable=True),
        sa.Column("model", sa.String(64), nullable=True),
        sa.Column("field_strength", sa.Double(), nullable=True),
    )
    op.create_table(
        "series",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("series_key", sa.String(96), nullable=False, unique=True),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("study.id"), nullable=False),
        sa.Column("source_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("series_number", sa.Integer(), nullable=True),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("split_by", sa.String(32), nullable=True),
        sa.Column("description", sa.String(128), nullable=True),
        sa.Column("sequence", sa.String(32), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("canonical", sa.Boolean(), nullable=False),
        sa.Column("n_files", sa.Integer(), nullable=False),
        sa.Column("shape", sa.String(64), nullable=True),
        sa.Column("spacing", sa.String(96), nullable=True),
        sa.Column("repetition_time", sa.Double(), nullable=True),
        sa.Column("echo_time", sa.Double(), nullable=True),
        sa.Column("inversion_time", sa.Double(), nullable=True),
        sa.Column("flip_angle", sa.Double(), nullable=True),
        sa.Column("b_values", sa.String(128), nullable=True),
        sa.Column("contrast_agent", sa.String(64), nullable=True),
        sa.Column("acquisition_time", sa.String(32), nullable=True),
        sa.Column("image_path", sa.String(255), nullable=True),
        sa.Column("nifti_path", sa.String(255), nullable=False),
        sa.Column("sidecar_path", sa.String(255), nullable=True),
        sa.Column("dicom_path", sa.String(255), nullable=False),
    )
    op.create_table(
        "lesion",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("lesion_id", sa.String(96), nullable=False, unique=True),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("study.id"), nullable=False),
        sa.Column("mask_label", sa.Integer(), nullable=True),
        sa.Column("diameter_mm", sa.Double(), nullable=True),
    )
    op.create_table(
        "label",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("lesion_id", sa.Integer(), sa.ForeignKey("lesion.id"), nullable=False, unique=True),
        sa.Column("diagnosis", sa.String(16), nullable=False),
        sa.Column("malignant", sa.Boolean(), nullable=False),
        sa.Column("reference_standard", sa.String(64), nullable=True),
        sa.Column("source", sa.String(255), nullable=True),
    )
    op.create_table(
        "qc_finding",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("study.id"), nullable=False),
        sa.Column("series_id", sa.Integer(), sa.ForeignKey("series.id"), nullable=True),
        sa.Column("check", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
    )
    op.create_table(
        "dataset_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("dataset_sha256", sa.String(64), nullable=False),
        sa.Column("n_cases", sa.Integer(), nullable=False),
        sa.Column("n_series", sa.Integer(), nullable=False),
        sa.Column("n_lesions", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    for table in ("dataset_version", "qc_finding", "label", "lesion", "series", "study", "patient", "centre"):
        op.drop_table(table)
