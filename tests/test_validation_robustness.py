"""Robustness: perturbations do what they say, re-extraction is the feature table's, ICCs and shifts are right."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from lai.data import Dataset, image_relpath, lesion_mask_relpath, write_index
from lai.imaging import Grid, Image, save_image
from lai.radiomics.table import extract_dataset
from lai.validation.robustness import (
    ORIGINAL,
    Perturbation,
    add_noise,
    bias_field,
    dilate_labels,
    erode_labels,
    perturb_case,
    perturb_contour,
    prediction_shift,
    resample_spacing,
    robustness_study,
)

AFFINE = np.array([[1.5, 0, 0, -30.0], [0, 1.5, 0, -30.0], [0, 0, 3.0, -24.0], [0, 0, 0, 1.0]])
SHAPE = (40, 40, 16)
SETTINGS = {"feature_classes": ["firstorder", "shape", "glcm"]}
STUDIED = (
    Perturbation("dilate"),
    Perturbation("contour"),
    Perturbation("scale", 1.3),
    Perturbation("rician", 15),
)


def write_lesion_dataset(root, n_cases: int = 5, seed: int = 0) -> Dataset:
    """Cases of one portal image with two textured ellipsoidal lesions of varied size and contrast."""
    rng = np.random.default_rng(seed)
    ijk = np.stack(np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij"), axis=-1)
    world = ijk @ AFFINE[:3, :3].T + AFFINE[:3, 3]
    files, cases, lesions = {}, [], []
    for c in range(n_cases):
        case_id = f"c{c}"
        image = 100.0 + ndimage.gaussian_filter(rng.normal(0, 8, SHAPE), 1.0)
        mask = np.zeros(SHAPE, dtype=np.uint8)
        for label, centre_x in ((1, -12.0), (2, 12.0)):
            radii = rng.uniform(5.0, 10.0, 3)
            inside = np.sum(((world - (centre_x, 0.0, 0.0)) / radii) ** 2, axis=-1) <= 1.0
            texture = ndimage.gaussian_filter(rng.normal(0, rng.uniform(5, 30), SHAPE), rng.uniform(0.5, 2.0))
            image[inside] = rng.uniform(40, 200) + texture[inside]
            mask[inside] = label
            lesions.append(
                {
                    "lesion_id": f"{case_id}-{label}",
                    "case_id": case_id,
                    "mask_label": label,
                    "diagnosis": "hcc" if label == 1 else "hem",
                    "malignant": label == 1,
                    "reference_standard": "histology",
                    "diameter_mm": float(2 * radii.max()),
                }
            )
        files[image_relpath(case_id, "portal")] = save_image(
            Image(image.astype(np.float32), AFFINE), root / image_relpath(case_id, "portal")
        )
        files[lesion_mask_relpath(case_id)] = save_image(
            Image(mask, AFFINE), root / lesion_mask_relpath(case_id)
        )
        cases.append(
            {"case_id": case_id, "patient_id": f"p{c}", "centre": "AB"[c % 2], "study_date": "2021-01-01"}
        )
    return write_index(
        root, name="robustness", cases=pd.DataFrame(cases), lesions=pd.DataFrame(lesions), files=files
    )


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Dataset:
    return write_lesion_dataset(tmp_path_factory.mktemp("robustness-data"))


@pytest.fixture(scope="module")
def study(dataset, tmp_path_factory):
    cache = tmp_path_factory.mktemp("robustness-cache")
    return robustness_study(dataset, SETTINGS, STUDIED, seed=3, cache_dir=cache, scheduler="sync"), cache


# --- Perturbations of arrays ---


def test_erosion_and_dilation_by_one_voxel_are_six_connected():
    cube = np.zeros((5, 5, 5), dtype=np.uint8)
    cube[1:4, 1:4, 1:4] = 1
    eroded = erode_labels(cube)
    assert eroded.sum() == 1 and eroded[2, 2, 2] == 1
    dot = np.zeros((5, 5, 5), dtype=np.uint8)
    dot[2, 2, 2] = 1
    assert dilate_labels(dot).sum() == 7


def test_dilation_never_overwrites_another_lesion():
    labels = np.zeros((6, 3, 3), dtype=np.uint8)
    labels[1:3, 1, 1], labels[3:5, 1, 1] = 1, 2
    grown = dilate_labels(labels)
    np.testing.assert_array_equal(grown[1:5, 1, 1], [1, 1, 2, 2])
    assert grown[0, 1, 1] == 1 and grown[5, 1, 1] == 2


def ball(radius_voxels: float, shape=(30, 30, 30)) -> np.ndarray:
    ijk = np.stack(np.meshgrid(*(np.arange(n) for n in shape), indexing="ij"), axis=-1)
    return (np.linalg.norm(ijk - np.array(shape) / 2, axis=-1) <= radius_voxels).astype(np.uint8)


def test_contour_perturbation_moves_the_boundary_smoothly_and_is_seeded():
    labels = ball(8.0)
    zero = perturb_contour(labels, (1.0, 1.0, 1.0), 0.0, np.random.default_rng(0))
    np.testing.assert_array_equal(zero, labels)
    first = perturb_contour(labels, (1.0, 1.0, 1.0), 1.0, np.random.default_rng(1))
    again = perturb_contour(labels, (1.0, 1.0, 1.0), 1.0, np.random.default_rng(1))
    other = perturb_contour(labels, (1.0, 1.0, 1.0), 1.0, np.random.default_rng(2))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    dice = 2 * np.sum((first > 0) & (labels > 0)) / (np.sum(first > 0) + np.sum(labels > 0))
    assert 0.75 < dice < 0.95
    assert ndimage.label(first > 0)[1] <= 3  # a smooth field leaves one body (and at most stray bits)


def test_gaussian_and_rician_noise_have_the_asked_sigma():
    rng = np.random.default_rng(0)
    flat = np.full((40, 40, 40), 100.0)
    assert np.std(add_noise(flat, 5.0, rng, rician=False)) == pytest.approx(5.0, rel=0.02)
    zero_signal = add_noise(np.zeros((40, 40, 40)), 5.0, rng, rician=True)
    assert zero_signal.mean() == pytest.approx(5.0 * np.sqrt(np.pi / 2), rel=0.02)  # Rayleigh mean


def test_noise_perturbation_uses_the_snr_of_the_lesion_signal():
    array = np.full((20, 20, 20), 10.0, dtype=np.float32)
    labels = np.zeros((20, 20, 20), dtype=np.uint8)
    labels[5:15, 5:15, 5:15] = 1
    array[labels == 1] = 200.0
    noisy, _ = perturb_case(
        Image(array, np.eye(4)), Image(labels, np.eye(4)), Perturbation("noise", 20), np.random.default_rng(0)
    )
    assert np.std(noisy.array - array) == pytest.approx(200.0 / 20, rel=0.03)


def test_bias_field_is_smooth_and_bounded_by_its_strength():
    field = bias_field(Grid((30, 20, 10), np.eye(4)), 0.2, np.random.default_rng(0))
    assert np.abs(np.log(field)).max() == pytest.approx(0.2)
    assert np.abs(np.diff(np.log(field), axis=0)).max() < 0.05


def test_resampling_keeps_the_extent_and_the_values_of_a_linear_ramp():
    x = np.arange(20, dtype=np.float32)[:, None, None] * np.ones((20, 20, 10), dtype=np.float32)
    image = Image(x, AFFINE.copy())
    coarse = resample_spacing(image, 3.0)
    assert coarse.spacing == pytest.approx((3.0, 3.0, 3.0))
    np.testing.assert_allclose(coarse.grid.world_bounds()[0], image.grid.world_bounds()[0], atol=1e-9)
    np.testing.assert_allclose(coarse.grid.world_bounds()[1], image.grid.world_bounds()[1], atol=1e-9)
    centre_mm = coarse.affine[0, 0] * np.arange(coarse.shape[0]) + coarse.affine[0, 3]
    expected = np.clip((centre_mm - AFFINE[0, 3]) / 1.5, 0, 19)
    np.testing.assert_allclose(coarse.array[:, 3, 1], expected, atol=1e-4)


def test_unknown_or_bad_perturbations_are_refused():
    with pytest.raises(ValueError, match="Unknown perturbation 'blur'"):
        Perturbation.parse("blur:2")
    with pytest.raises(ValueError, match="whole number of voxels"):
        Perturbation("erode", 1.5)
    assert Perturbation.parse("resample:3").name == "resample:3"


# --- The study ---


def test_original_extraction_equals_the_feature_table(dataset, study):
    result, _ = study
    table = extract_dataset(dataset, settings=SETTINGS, liver_features=False, scheduler="sync").frame
    columns = [c for c in result.tables[ORIGINAL].columns if ":" in c]
    assert len(columns) > 50
    original = result.tables[ORIGINAL].set_index("lesion_id")[columns]
    np.testing.assert_array_equal(
        original.to_numpy(), table.set_index("lesion_id").loc[original.index, columns]
    )
    assert result.perturbations == [p.name for p in STUDIED]
    assert result.n_lesions == 10


def test_shape_features_ignore_intensity_scaling_and_intensities_ignore_dilation_less(study):
    result, _ = study
    by = result.icc_by_perturbation
    assert by.loc["portal:original_shape_VoxelVolume", "scale:1.3"] == pytest.approx(1.0)
    assert by.loc["portal:original_firstorder_Mean", "scale:1.3"] == pytest.approx(1.0)  # liver-normalised
    volume_under_dilation = by.loc["portal:original_shape_VoxelVolume", "dilate:1"]
    assert 0.5 < volume_under_dilation < 1.0
    assert by.loc["portal:original_firstorder_Mean", "rician:15"] > 0.9
    assert result.icc["portal:original_shape_VoxelVolume"] < 1.0
    assert "portal:original_shape_Sphericity" in result.icc.index


def test_perturbed_tables_change_what_they_should(study):
    result, _ = study
    original, dilated = result.tables[ORIGINAL], result.tables["dilate:1"]
    scaled = result.tables["scale:1.3"]
    volume = "portal:original_shape_VoxelVolume"
    assert (dilated[volume] > original[volume]).all()
    np.testing.assert_array_equal(scaled[volume], original[volume])
    assert not np.allclose(result.tables["contour:1"][volume], original[volume])


def test_rerun_is_served_from_the_cache_and_a_fresh_run_gives_the_same_numbers(dataset, study, tmp_path):
    result, cache = study
    files = sorted(p.name for p in cache.rglob("*.pkl"))
    assert len(files) == 5 * (len(STUDIED) + 1)
    fresh = robustness_study(dataset, SETTINGS, STUDIED, seed=3, scheduler="sync", cache_dir=tmp_path)
    for name, table in result.tables.items():
        pd.testing.assert_frame_equal(table, fresh.tables[name])
    other_seed = robustness_study(dataset, SETTINGS, STUDIED[1:2], seed=4, scheduler="sync")
    volume = "portal:original_shape_VoxelVolume"
    assert not np.array_equal(other_seed.tables["contour:1"][volume], result.tables["contour:1"][volume])


def test_max_lesions_studies_a_seeded_subset(dataset):
    result = robustness_study(dataset, SETTINGS, STUDIED[2:3], seed=1, scheduler="sync", max_lesions=3)
    again = robustness_study(dataset, SETTINGS, STUDIED[2:3], seed=1, scheduler="sync", max_lesions=3)
    assert result.n_lesions == 3
    assert result.tables[ORIGINAL]["lesion_id"].tolist() == again.tables[ORIGINAL]["lesion_id"].tolist()


def test_prediction_shift_is_zero_where_the_model_features_do_not_move(study):
    result, _ = study
    original = result.tables[ORIGINAL]
    labels = original["lesion_id"].str.endswith("-1").to_numpy()
    shape_features = ["portal:original_shape_VoxelVolume", "portal:original_shape_Sphericity"]
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(original[shape_features], labels)
    shifts = prediction_shift(model, result.tables)
    assert len(shifts) == result.n_lesions * len(STUDIED)
    scaled = shifts[shifts["perturbation"] == "scale:1.3"]
    np.testing.assert_array_equal(scaled["shift"], 0.0)
    dilated = shifts[shifts["perturbation"] == "dilate:1"].reset_index(drop=True)
    expected = model.predict_proba(result.tables["dilate:1"][shape_features])[:, 1]
    np.testing.assert_allclose(dilated["p_perturbed"], expected)
    np.testing.assert_allclose(dilated["shift"], expected - dilated["p_reference"])
    assert (dilated["max_abs_shift"] > 0).all()
    summary = result.to_dict()
    assert summary["n_lesions"] == 10
    assert summary["perturbations"] == [p.name for p in STUDIED]
    assert summary["n_robust"]["0.75"] == len(result.robust_features(0.75))
    record = result.report_record(shifts, threshold=0.8)
    assert record["shifts"] == shifts["max_abs_shift"].tolist()
    assert (
        record["icc"]["portal:original_shape_VoxelVolume"] == result.icc["portal:original_shape_VoxelVolume"]
    )
    assert (record["threshold"], record["n_lesions"]) == (0.8, 10)


def test_prediction_shift_names_missing_columns(study):
    result, _ = study
    model = LogisticRegression().fit(pd.DataFrame({"adc:original_firstorder_Mean": [0.0, 1.0]}), [0, 1])
    with pytest.raises(ValueError, match="lacks 1 feature column"):
        prediction_shift(model, result.tables)


def test_prediction_shift_takes_columns_not_re_extracted_from_the_fixed_table(study):
    result, _ = study
    original = result.tables[ORIGINAL]
    labels = original["lesion_id"].str.endswith("-1").to_numpy()
    full = original.assign(**{"adc:original_firstorder_Mean": np.linspace(0.5, 1.5, len(original))})
    columns = ["portal:original_shape_VoxelVolume", "adc:original_firstorder_Mean"]
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(full[columns], labels)
    shifts = prediction_shift(model, result.tables, fixed=full.sample(frac=1.0, random_state=1))
    dilated = shifts[shifts["perturbation"] == "dilate:1"].reset_index(drop=True)
    moved = full.assign(**{columns[0]: result.tables["dilate:1"][columns[0]].to_numpy()})
    np.testing.assert_allclose(dilated["p_perturbed"], model.predict_proba(moved[columns])[:, 1])
    np.testing.assert_allclose(dilated["p_reference"], model.predict_proba(full[columns])[:, 1])
