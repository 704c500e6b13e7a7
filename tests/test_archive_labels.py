"""Labels and masks: validated against the catalog and taxonomy, written into the archive's Dataset."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import highdicom
import nrrd
import numpy as np
import pandas as pd
import pydicom
import pytest
import sqlalchemy as sa
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid
from typer.testing import CliRunner

from lai.archive.catalog import Label, Lesion, Series, open_catalog
from lai.archive.ingest import ingest
from lai.archive.labels import LabelError, import_labels, reference_image
from lai.cli import app
from lai.data import Dataset
from lai.imaging import Image, load_image, save_image
from lai.synth.dicom import ExamInfo, write_case_dicom

SHAPE = (16, 12, 5)


def _exam() -> ExamInfo:
    return ExamInfo(
        case_id="exam-l", patient_key="P-l", centre="centre-04", vendor="Siemens", field_strength=3.0,
        study_date=datetime.date(2022, 2, 2), contrast_agent="extracellular", phase_delays={},
        patient_age=66, patient_sex="M", seed=9,
    )  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ingested archive with one case (T2w, pre-contrast and portal phase); reused read-only."""
    root = tmp_path_factory.mktemp("labels")
    affine = np.diag([2.0, 2.0, 5.0, 1.0])
    affine[:3, 3] = (-16.0, -12.0, 0.0)
    images = {
        name: Image((np.arange(np.prod(SHAPE)).reshape(SHAPE) + 500 * i).astype(np.int16), affine)
        for i, name in enumerate(("t2w", "t1_pre", "portal"))
    }
    write_case_dicom(root / "in", images, _exam())
    ingest(root / "in", root / "archive", centre="centre-04", secret=b"l" * 32, scheduler="sync")
    return root / "archive"


@pytest.fixture
def archive(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "archive"
    shutil.copytree(built, copy)
    return copy


def _case(archive: Path) -> str:
    return str(pd.read_csv(archive / "cases.csv")["case_id"].iloc[0])


def _mask(archive: Path, labels: dict[int, tuple[slice, slice, slice]]) -> Image:
    """A label map on the case's reference image grid with a box per label."""
    reference = reference_image(archive, _case(archive))
    assert reference is not None
    array = np.zeros(reference.shape, np.int16)
    for label, box in labels.items():
        array[box] = label
    return Image(array, reference.affine)


BOXES = {1: (slice(2, 5), slice(2, 5), slice(1, 3)), 2: (slice(9, 13), slice(6, 10), slice(2, 4))}


def _sheet(path: Path, rows: list[dict[str, object]]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _good_rows(case_id: str) -> list[dict[str, object]]:
    return [
        {"case_id": case_id, "mask_label": 1, "diagnosis": "hcc", "reference_standard": "histology",
         "diameter_mm": 12.5},
        {"case_id": case_id, "mask_label": 2, "diagnosis": "hem", "reference_standard": "typical imaging",
         "malignant": "false"},
    ]  # fmt: skip


def test_import_writes_lesions_masks_and_catalog_labels(archive: Path, tmp_path: Path) -> None:
    case_id = _case(archive)
    masks = tmp_path / "masks"
    save_image(_mask(archive, BOXES), masks / f"{case_id}.nii.gz")
    result = import_labels(archive, _sheet(tmp_path / "lesions.csv", _good_rows(case_id)), masks=masks)
    assert (result.lesions, result.cases) == (2, (case_id,))
    dataset = Dataset.read(archive)
    (case,) = list(dataset.iter_cases())
    assert [(x.lesion_id, x.mask_label, x.diagnosis, x.malignant) for x in case.lesions] == [
        (f"{case_id}-L1", 1, "hcc", True),
        (f"{case_id}-L2", 2, "hem", False),
    ]
    written = load_image(dataset.lesion_mask_path(case_id))
    assert np.array_equal(written.array, _mask(archive, BOXES).array)
    assert f"masks/{case_id}/lesions.nii.gz" in dataset.files
    with open_catalog(archive) as catalog, catalog.session() as session:
        labels = session.execute(
            sa.select(Lesion.lesion_id, Label.diagnosis, Label.reference_standard).join(Label)
        ).all()
    assert sorted(labels) == [
        (f"{case_id}-L1", "hcc", "histology"),
        (f"{case_id}-L2", "hem", "typical imaging"),
    ]


def test_reimport_replaces_a_lesion_by_its_id(archive: Path, tmp_path: Path) -> None:
    case_id = _case(archive)
    import_labels(archive, _sheet(tmp_path / "a.csv", _good_rows(case_id)))
    fixed = [{**_good_rows(case_id)[1], "diagnosis": "fnh"}]
    import_labels(archive, _sheet(tmp_path / "b.csv", fixed))
    lesions = pd.read_csv(archive / "lesions.csv")
    assert list(lesions["diagnosis"]) == ["hcc", "fnh"]


def test_every_bad_row_is_reported_with_file_row_and_problem(archive: Path, tmp_path: Path) -> None:
    case_id = _case(archive)
    sheet = _sheet(
        tmp_path / "lesions.csv",
        [
            {"case_id": case_id, "mask_label": 1, "diagnosis": "hepatoma", "reference_standard": "histology"},
            {"case_id": "no-such-case", "mask_label": 1, "diagnosis": "cyst", "reference_standard": "histology"},
            {"case_id": case_id, "mask_label": 3, "diagnosis": "met", "reference_standard": "histology",
             "malignant": "false"},
            {"case_id": case_id, "mask_label": 0, "diagnosis": "met", "reference_standard": "a guess"},
        ],
    )  # fmt: skip
    before = (archive / "lesions.csv").read_bytes()
    with pytest.raises(LabelError) as caught:
        import_labels(archive, sheet)
    message = str(caught.value)
    assert f"{sheet} row 2: diagnosis 'hepatoma' is not in the taxonomy" in message
    assert f"{sheet} row 3: case_id 'no-such-case' is not in the catalog" in message
    assert f"{sheet} row 4: malignant False contradicts diagnosis 'met'" in message
    assert f"{sheet} row 5: reference_standard 'a guess'" in message
    assert f"{sheet} row 5: mask_label '0': expected a positive integer" in message
    assert (archive / "lesions.csv").read_bytes() == before


def test_a_sheet_without_required_columns_is_refused(archive: Path, tmp_path: Path) -> None:
    sheet = _sheet(tmp_path / "x.csv", [{"case_id": _case(archive), "diagnosis": "hcc"}])
    with pytest.raises(LabelError, match=r"x.csv: missing column\(s\) mask_label, reference_standard"):
        import_labels(archive, sheet)


def test_a_series_reference_resolves_to_its_case(archive: Path, tmp_path: Path) -> None:
    with open_catalog(archive) as catalog, catalog.session() as session:
        key = session.scalars(sa.select(Series.series_key)).first()
    rows = [{"series": key, "mask_label": 1, "diagnosis": "cyst", "reference_standard": "typical imaging"}]
    import_labels(archive, _sheet(tmp_path / "s.csv", rows))
    assert list(pd.read_csv(archive / "lesions.csv")["case_id"]) == [_case(archive)]


def test_mask_labels_must_match_the_sheet(archive: Path, tmp_path: Path) -> None:
    case_id = _case(archive)
    masks = tmp_path / "masks"
    save_image(_mask(archive, {1: BOXES[1], 7: BOXES[2]}), masks / f"{case_id}.nii.gz")
    with pytest.raises(LabelError) as caught:
        import_labels(archive, _sheet(tmp_path / "l.csv", _good_rows(case_id)), masks=masks)
    assert "mask_label 2 of the sheet is not in the mask" in str(caught.value)
    assert "label 7 in the mask has no row in the sheet" in str(caught.value)
    assert f"{case_id}.nii.gz" in str(caught.value)


def test_a_mask_that_does_not_overlap_its_image_is_refused(archive: Path, tmp_path: Path) -> None:
    case_id = _case(archive)
    mask = _mask(archive, BOXES)
    shifted = mask.affine.copy()
    shifted[2, 3] += 500.0  # half a metre above the liver
    save_image(Image(mask.array, shifted), tmp_path / "m" / f"{case_id}.nii.gz")
    with pytest.raises(LabelError, match="does not overlap the case's image in world space"):
        import_labels(archive, _sheet(tmp_path / "l.csv", _good_rows(case_id)), masks=tmp_path / "m")


def test_an_nrrd_mask_lands_on_the_same_world_voxels(archive: Path, tmp_path: Path) -> None:
    case_id = _case(archive)
    mask = _mask(archive, BOXES)
    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ mask.affine
    header = {
        "space": "left-posterior-superior",
        "space directions": lps[:3, :3].T,
        "space origin": lps[:3, 3],
    }
    (tmp_path / "m").mkdir()
    nrrd.write(str(tmp_path / "m" / f"{case_id}.nrrd"), mask.array, header)
    import_labels(archive, _sheet(tmp_path / "l.csv", _good_rows(case_id)), masks=tmp_path / "m")
    written = load_image(archive / "masks" / case_id / "lesions.nii.gz")
    assert np.array_equal(written.array, mask.array)
    assert np.allclose(written.affine, mask.affine, atol=1e-5)


def _world(image: Image, label: int) -> set[tuple[float, ...]]:
    voxels = np.argwhere(image.array == label)
    world = voxels @ image.affine[:3, :3].T + image.affine[:3, 3]
    return {tuple(np.round(p, 2)) for p in world}


def test_a_dicom_seg_mask_lands_on_the_same_world_voxels(archive: Path, tmp_path: Path) -> None:
    case_id = _case(archive)
    with open_catalog(archive) as catalog, catalog.session() as session:
        folder = session.scalars(sa.select(Series.dicom_path).where(Series.image_path.is_not(None))).first()
    assert folder is not None
    sources = [pydicom.dcmread(p) for p in sorted((archive / folder).glob("*.dcm"))]
    sources.sort(key=lambda ds: float(ds.ImagePositionPatient[2]))
    labelmap = np.zeros((len(sources), int(sources[0].Rows), int(sources[0].Columns)), np.uint8)
    labelmap[1:3, 2:5, 3:6] = 1
    labelmap[2:4, 6:9, 1:3] = 2
    descriptions = [
        highdicom.seg.SegmentDescription(
            segment_number=n, segment_label=f"lesion {n}",
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=codes.SCT.Lesion,
            algorithm_type=highdicom.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for n in (1, 2)
    ]  # fmt: skip
    seg = highdicom.seg.Segmentation(
        source_images=sources, pixel_array=labelmap, segmentation_type="LABELMAP",
        segment_descriptions=descriptions, series_instance_uid=generate_uid(), series_number=99,
        sop_instance_uid=generate_uid(), instance_number=1, manufacturer="LAI tests",
        manufacturer_model_name="test", software_versions="1", device_serial_number="1",
    )  # fmt: skip
    (tmp_path / "m").mkdir()
    seg.save_as(tmp_path / "m" / f"{case_id}.dcm")
    import_labels(archive, _sheet(tmp_path / "l.csv", _good_rows(case_id)), masks=tmp_path / "m")
    written = load_image(archive / "masks" / case_id / "lesions.nii.gz")
    for label in (1, 2):
        expected = set()
        for k, r, c in np.argwhere(labelmap == label):
            ds = sources[k]
            row_dir, col_dir = (
                np.array(ds.ImageOrientationPatient[:3]),
                np.array(ds.ImageOrientationPatient[3:]),
            )
            lps = np.array(ds.ImagePositionPatient, float) + c * float(ds.PixelSpacing[1]) * row_dir
            lps = lps + r * float(ds.PixelSpacing[0]) * col_dir
            expected.add(tuple(np.round([-lps[0], -lps[1], lps[2]], 2)))
        assert _world(written, label) == expected


def test_cli_labels_import_fails_with_the_row_and_succeeds_on_a_good_sheet(
    archive: Path, tmp_path: Path
) -> None:
    case_id = _case(archive)
    bad = _sheet(tmp_path / "bad.csv", [{**_good_rows(case_id)[0], "diagnosis": "tumour"}])
    result = CliRunner().invoke(app, ["labels", "import", str(archive), str(bad)])
    assert result.exit_code == 1
    assert "row 2" in result.output and "tumour" in result.output
    good = _sheet(tmp_path / "good.csv", _good_rows(case_id))
    result = CliRunner().invoke(app, ["labels", "import", str(archive), str(good)])
    assert result.exit_code == 0, result.output
    assert "2 lesions in 1 cases" in result.output


def test_cli_labels_import_refuses_a_folder_that_is_not_an_archive(tmp_path: Path) -> None:
    sheet = _sheet(tmp_path / "l.csv", _good_rows("case-x"))
    result = CliRunner().invoke(app, ["labels", "import", str(tmp_path / "elsewhere"), str(sheet)])
    assert result.exit_code == 1 and "not an archive" in " ".join(result.output.split())
    assert not (tmp_path / "elsewhere").exists()


def test_liver_masks_are_written_binary_and_an_empty_one_is_refused(archive: Path, tmp_path: Path) -> None:
    case_id = _case(archive)
    reference = reference_image(archive, case_id)
    assert reference is not None
    liver = np.zeros(reference.shape, np.int16)
    liver[3:10, 2:9, :] = 5  # any positive value is liver
    save_image(Image(liver, reference.affine), tmp_path / "livers" / f"{case_id}.nii.gz")
    result = import_labels(
        archive, _sheet(tmp_path / "l.csv", _good_rows(case_id)), liver_masks=tmp_path / "livers"
    )
    assert result.masks == (f"masks/{case_id}/liver.nii.gz",)
    written = load_image(archive / "masks" / case_id / "liver.nii.gz")
    assert np.array_equal(written.array, (liver > 0).astype(np.uint8))
    save_image(Image(np.zeros_like(liver), reference.affine), tmp_path / "empty" / f"{case_id}.nii.gz")
    with pytest.raises(LabelError, match="the liver mask is empty"):
        import_labels(
            archive, _sheet(tmp_path / "l.csv", _good_rows(case_id)), liver_masks=tmp_path / "empty"
        )
