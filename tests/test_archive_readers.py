"""Readers of public layouts (LLD-MMRI2023, WORC database, Decathlon / nnU-Net) on small files in each format."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from lai.archive.readers import ReaderError, lld_mmri_crops, read_decathlon, read_lld_mmri, read_worc
from lai.cli import app
from lai.data import Dataset
from lai.data.validate import validate_dataset


def _nifti(path: Path, array: np.ndarray, affine: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(array, affine), path)


def _affine(spacing: tuple[float, float, float], origin: tuple[float, float, float]) -> np.ndarray:
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = origin
    return affine


# --- LLD-MMRI2023 ---

PHASES = {"C-pre": "t1_pre", "C+A": "arterial", "C+V": "portal", "In Phase": "t1_in"}
BOXES = {  # patient -> lesion index -> (category, box on every phase)
    "MR-101": {"0": (6, (4, 9, 3, 7, 1, 3)), "1": (0, (12, 15, 10, 14, 4, 4))},
    "MR-202": {"0": (4, (0, 5, 0, 4, 0, 1))},
}


@pytest.fixture(scope="module")
def lld(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two patients, four phases each on different grids; MR-101 as images/<patient>/<series>/*.nii.gz,
    MR-202 as images/<patient>/<study>/<series>.nii.gz."""
    root = tmp_path_factory.mktemp("lld")
    info: dict[str, list] = {}
    for patient, lesions in BOXES.items():
        info[patient] = []
        for number, phase in enumerate(PHASES):
            series = f"1.2.{number}.{patient[-3:]}"
            array = np.full((20, 16, 6), 10 * (number + 1), dtype=np.int16)
            affine = _affine((0.8 + 0.1 * number, 0.8, 5.0), (-1.0 * number, 3.0, 7.0))
            if patient == "MR-101":
                _nifti(root / "images" / patient / series / "image.nii.gz", array, affine)
            else:
                _nifti(root / "images" / patient / "study-9" / f"{series}.nii.gz", array, affine)
            annotation = {
                index: {
                    "category": category,
                    "bbox": {
                        "3D_box": dict(
                            zip(("x_min", "x_max", "y_min", "y_max", "z_min", "z_max"), box, strict=True)
                        )
                    },
                }
                for index, (category, box) in lesions.items()
            }
            info[patient].append(
                {
                    "studyUID": "study-9",
                    "seriesUID": series,
                    "phase": phase,
                    "annotation": {"lesion": annotation},
                }
            )
    (root / "labels").mkdir()
    (root / "labels" / "Annotation.json").write_text(json.dumps({"Annotation_info": info}))
    return root


def test_lld_mmri_reads_phases_boxes_and_classes(lld: Path, tmp_path: Path) -> None:
    dataset = read_lld_mmri(lld, tmp_path / "out")
    assert [str(problem) for problem in validate_dataset(dataset.root)] == []
    again = Dataset.read(tmp_path / "out")
    assert sorted(again.cases["case_id"]) == ["MR-101", "MR-202"]
    lesions = again.lesions.set_index("lesion_id")
    assert lesions.loc["MR-101_L01", "diagnosis"] == "hcc" and bool(lesions.loc["MR-101_L01", "malignant"])
    assert lesions.loc["MR-101_L02", "diagnosis"] == "hem" and not bool(
        lesions.loc["MR-101_L02", "malignant"]
    )
    assert lesions.loc["MR-202_L01", "diagnosis"] == "cyst"
    for case_id in ("MR-101", "MR-202"):
        assert again.sequences_of(case_id) == ("t1_in", "t1_pre", "arterial", "portal")


def test_lld_mmri_box_becomes_a_mask_on_each_phase_grid(lld: Path, tmp_path: Path) -> None:
    read_lld_mmri(lld, tmp_path / "out")
    for phase, sequence in PHASES.items():
        mask = nib.load(tmp_path / "out" / "masks" / "MR-101" / f"lesions_{sequence}.nii.gz")
        source = next((lld / "images" / "MR-101").glob(f"1.2.{list(PHASES).index(phase)}.101/*.nii.gz"))
        np.testing.assert_allclose(mask.affine, nib.load(source).affine)
        data = np.asarray(mask.dataobj)
        x0, x1, y0, y1, z0, z1 = BOXES["MR-101"]["0"][1]
        expected = np.zeros(data.shape, dtype=bool)
        expected[x0:x1, y0:y1, z0 : z1 + 1] = True  # x, y maxima exclusive; z maximum inclusive
        assert np.array_equal(data == 1, expected)
        assert int((data == 2).sum()) == (15 - 12) * (14 - 10) * 1
    common = nib.load(tmp_path / "out" / "masks" / "MR-101" / "lesions.nii.gz")
    portal = nib.load(tmp_path / "out" / "masks" / "MR-101" / "lesions_portal.nii.gz")
    assert np.array_equal(np.asarray(common.dataobj), np.asarray(portal.dataobj))


def test_lld_mmri_crops_keep_world_position(lld: Path, tmp_path: Path) -> None:
    paths = lld_mmri_crops(lld, tmp_path / "crops")
    assert len(paths) == 3 * len(PHASES)  # 3 lesions x 4 phases
    crop = nib.load(tmp_path / "crops" / "MR-101_L01" / "arterial.nii.gz")
    # Box x 4..9, y 3..7, z 1..3 grown by 16 in plane and 2 slices, clipped at the 20 x 16 x 6 border.
    assert crop.shape == (20, 16, 6)
    small = nib.load(tmp_path / "crops" / "MR-101_L02" / "portal.nii.gz")
    assert small.shape == (20 - 0, 16 - 0, 6 - 2)  # z 4..4 grown by 2: 2..6 (clipped)
    source = nib.load(next((lld / "images" / "MR-101").glob("1.2.2.101/*.nii.gz")))
    np.testing.assert_allclose(small.affine[:3, 3], source.affine[:3, :3] @ [0, 0, 2] + source.affine[:3, 3])


def test_lld_mmri_errors_name_the_file(lld: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    (broken / "labels").mkdir(parents=True)
    (broken / "images").symlink_to(lld / "images")
    data = json.loads((lld / "labels" / "Annotation.json").read_text())
    data["Annotation_info"]["MR-101"][0]["phase"] = "C+X"
    (broken / "labels" / "Annotation.json").write_text(json.dumps(data))
    with pytest.raises(ReaderError, match=r"Annotation\.json: patient MR-101.*unknown phase 'C\+X'"):
        read_lld_mmri(broken, tmp_path / "out1")
    data["Annotation_info"]["MR-101"][0]["phase"] = "C-pre"
    data["Annotation_info"]["MR-101"][0]["annotation"]["lesion"]["0"]["bbox"]["3D_box"]["z_max"] = 6
    (broken / "labels" / "Annotation.json").write_text(json.dumps(data))
    with pytest.raises(ReaderError, match="outside the image"):
        read_lld_mmri(broken, tmp_path / "out2")


# --- WORC ---


@pytest.fixture(scope="module")
def worc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("worc")
    affine = _affine((1.0, 1.0, 3.0), (0.0, 0.0, 0.0))
    for patient, segmentations in {
        "Liver-001": {"segmentation.nii.gz": (slice(2, 5), slice(2, 5), slice(1, 2))},
        "Liver-002": {
            "segmentation_lesion_0.nii.gz": (slice(0, 2), slice(0, 2), slice(0, 1)),
            "segmentation_lesion_1.nii.gz": (slice(6, 9), slice(6, 8), slice(2, 4)),
        },
    }.items():
        _nifti(
            root / patient / "image.nii.gz",
            np.arange(10 * 10 * 4, dtype=np.float32).reshape(10, 10, 4),
            affine,
        )
        for name, where in segmentations.items():
            mask = np.zeros((10, 10, 4), dtype=np.uint8)
            mask[where] = 1
            _nifti(root / patient / name, mask, affine)
    (root / "pinfo_Liver.csv").write_text("Patient,Diagnosis\nLiver-001,1\nLiver-002,0\n")
    return root


def test_worc_reads_images_segmentations_and_labels(worc: Path, tmp_path: Path) -> None:
    dataset = read_worc(worc, tmp_path / "out")
    assert [str(problem) for problem in validate_dataset(dataset.root)] == []
    assert list(dataset.cases["case_id"]) == ["Liver-001", "Liver-002"]
    lesions = dataset.lesions.set_index("lesion_id")
    assert list(lesions.index) == ["Liver-001_L01", "Liver-002_L01", "Liver-002_L02"]
    assert [bool(v) for v in lesions["malignant"]] == [True, False, False]
    mask = np.asarray(nib.load(tmp_path / "out" / "masks" / "Liver-002" / "lesions.nii.gz").dataobj)
    assert int((mask == 1).sum()) == 4 and int((mask == 2).sum()) == 3 * 2 * 2
    image = nib.load(tmp_path / "out" / "images" / "Liver-001" / "t2w.nii.gz")
    assert np.array_equal(
        np.asarray(image.dataobj), np.asarray(nib.load(worc / "Liver-001" / "image.nii.gz").dataobj)
    )


def test_worc_import_resumes_from_its_cache_and_refuses_a_finished_dataset(
    worc: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = read_worc(worc, tmp_path / "out", cache_dir=cache, scheduler="sync")
    (tmp_path / "out" / "dataset.json").unlink()  # as if interrupted before the index was written
    again = read_worc(worc, tmp_path / "out", cache_dir=cache, scheduler="sync")
    assert again.files == first.files
    assert [str(problem) for problem in validate_dataset(tmp_path / "out")] == []
    with pytest.raises(ReaderError, match="already holds a Dataset"):
        read_worc(worc, tmp_path / "out")


def test_worc_segmentation_off_grid_is_refused(worc: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    (bad / "Liver-001").mkdir(parents=True)
    (bad / "Liver-001" / "image.nii.gz").symlink_to(worc / "Liver-001" / "image.nii.gz")
    _nifti(bad / "Liver-001" / "segmentation.nii.gz", np.ones((5, 5, 4), np.uint8), np.eye(4))
    (bad / "labels.csv").write_text("Patient,Diagnosis\nLiver-001,1\n")
    with pytest.raises(ReaderError, match=r"segmentation\.nii\.gz: not on the grid"):
        read_worc(bad, tmp_path / "out")
    (bad / "labels.csv").write_text("Patient,Label\nLiver-001,1\n")
    with pytest.raises(ReaderError, match=r"labels\.csv: needs columns Patient and Diagnosis"):
        read_worc(bad, tmp_path / "out")


# --- Decathlon / nnU-Net ---


def _label_map() -> np.ndarray:
    labels = np.zeros((12, 10, 5), dtype=np.uint8)
    labels[1:11, 1:9, :] = 1  # liver
    labels[2:4, 2:4, 1:3] = 2  # tumour 1
    labels[7:10, 5:8, 2:4] = 2  # tumour 2 (not touching)
    return labels


def test_msd_4d_images_and_tumour_components(tmp_path: Path) -> None:
    src = tmp_path / "Task99_LiverMR"
    affine = _affine((1.5, 1.5, 4.0), (5.0, -3.0, 0.0))
    image = np.stack([np.full((12, 10, 5), 100, np.int16), np.full((12, 10, 5), 900, np.int16)], axis=-1)
    _nifti(src / "imagesTr" / "liver_7.nii.gz", image, affine)
    _nifti(src / "labelsTr" / "liver_7.nii.gz", _label_map(), affine)
    (src / "dataset.json").write_text(json.dumps({
        "name": "LiverMR", "modality": {"0": "T2", "1": "ADC"},
        "labels": {"0": "background", "1": "liver", "2": "tumour"},
        "training": [{"image": "./imagesTr/liver_7.nii.gz", "label": "./labelsTr/liver_7.nii.gz"}],
    }))  # fmt: skip
    dataset = read_decathlon(src, tmp_path / "out")
    assert [str(problem) for problem in validate_dataset(dataset.root)] == []
    assert dataset.sequences_of("liver_7") == ("t2w", "adc")
    adc = np.asarray(nib.load(tmp_path / "out" / "images" / "liver_7" / "adc.nii.gz").dataobj)
    assert (adc == 900).all()
    assert list(dataset.lesions["lesion_id"]) == ["liver_7_L01", "liver_7_L02"]
    assert dataset.lesions["diagnosis"].isna().all()
    mask = np.asarray(nib.load(tmp_path / "out" / "masks" / "liver_7" / "lesions.nii.gz").dataobj)
    assert int((mask == 1).sum()) == 8 and int((mask == 2).sum()) == 18
    liver = np.asarray(nib.load(tmp_path / "out" / "masks" / "liver_7" / "liver.nii.gz").dataobj)
    assert int(liver.sum()) == 10 * 8 * 5


def test_nnunet_v2_per_channel_files_and_diagnosis_labels(tmp_path: Path) -> None:
    src = tmp_path / "Dataset501_Liver"
    affine = _affine((1.0, 1.0, 3.0), (0.0, 0.0, 0.0))
    _nifti(src / "imagesTr" / "case_001_0000.nii.gz", np.full((12, 10, 5), 5, np.int16), affine)
    _nifti(src / "labelsTr" / "case_001.nii.gz", _label_map(), affine)
    (src / "dataset.json").write_text(json.dumps({
        "channel_names": {"0": "portal"}, "labels": {"background": 0, "liver": 1, "hcc": 2},
        "numTraining": 1, "file_ending": ".nii.gz",
    }))  # fmt: skip
    dataset = read_decathlon(src, tmp_path / "out")
    assert dataset.sequences_of("case_001") == ("portal",)
    assert list(dataset.lesions["diagnosis"]) == ["hcc", "hcc"]
    assert [bool(v) for v in dataset.lesions["malignant"]] == [True, True]


def test_decathlon_unknown_channel_name_asks_for_channels(tmp_path: Path) -> None:
    src = tmp_path / "Task03_Liver"
    _nifti(src / "imagesTr" / "liver_0.nii.gz", np.zeros((12, 10, 5), np.int16), np.eye(4))
    _nifti(src / "labelsTr" / "liver_0.nii.gz", _label_map(), np.eye(4))
    (src / "dataset.json").write_text(
        json.dumps({"modality": {"0": "CT"}, "labels": {"0": "background", "1": "liver", "2": "cancer"}})
    )
    with pytest.raises(ReaderError, match=r"dataset\.json: channel 0 is 'CT'.*--channels"):
        read_decathlon(src, tmp_path / "out")
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "dataset",
            "import",
            str(src),
            "--format",
            "decathlon",
            "--out",
            str(tmp_path / "cli"),
            "--cache",
            str(tmp_path / "c"),
        ],
    )
    assert result.exit_code == 1 and "--channels" in result.output
    result = runner.invoke(
        app,
        [
            "dataset",
            "import",
            str(src),
            "--format",
            "decathlon",
            "--channels",
            "0=portal",
            "--out",
            str(tmp_path / "cli"),
            "--cache",
            str(tmp_path / "c"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert Dataset.read(tmp_path / "cli").sequences_of("liver_0") == ("portal",)
