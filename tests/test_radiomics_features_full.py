"""The full feature set of extract_features and extract_dataset: names, filters, PyRadiomics mode, robustness.

Expected names come from PyRadiomics' own baseline tables (their row names), filtered values from the
filter applied to the whole image with a plain numpy mean, PyRadiomics-mode values from the baselines.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from lai.data import Dataset, image_relpath, lesion_mask_relpath
from lai.imaging import Image, load_image
from lai.radiomics import (
    RadiomicsError,
    RadiomicsWarning,
    SettingsError,
    extract_dataset,
    extract_features,
    load_settings,
)
from lai.radiomics.filters import laplacian_of_gaussian, wavelet_subbands
from lai.radiomics.liver import liver_feature_columns
from radiomics_datasets import (
    BALLS,
    LESIONS,
    PORTAL_AFFINE,
    in_ball,
    world_of,
    write_awkward_dataset,
    write_dataset,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
PYRADIOMICS = SHARED / "pyradiomics"
TEXTURE = ("glcm", "glrlm", "glszm", "gldm", "ngtdm")
LOG_2MM = {"preset": "pyradiomics", "image_types": {"log": {"sigma_mm": [2.0]}}}


def pyradiomics_names(family: str) -> set[str]:
    """Return the feature names (after ``original_<family>_``) PyRadiomics wrote in its baseline table."""
    table = pd.read_csv(PYRADIOMICS / "baseline" / f"baseline_{family}.csv", index_col=0)
    prefix = f"original_{family}_"
    return {name[len(prefix) :] for name in table.index if name.startswith(prefix)}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return write_dataset(tmp_path_factory.mktemp("full"))


def test_default_columns_are_pyradiomics_names_of_every_family_on_the_original_image(
    dataset: Dataset,
) -> None:
    table = extract_dataset(dataset, scheduler="sync")
    per_family = {family: pyradiomics_names(family) for family in ("firstorder", *TEXTURE)}
    per_family["firstorder"] |= {"StandardDeviation"}  # sqrt(Variance); PyRadiomics has no column for it
    per_family["shape"] = pyradiomics_names("shape")
    expected = {
        f"{sequence}:original_{family}_{name}"
        for sequence in ("t2w", "portal")
        for family, names in per_family.items()
        for name in names
    }
    expected |= {"kinetics:t2w_lesion_to_liver_ratio", "kinetics:portal_lesion_to_liver_ratio"}
    expected |= set(liver_feature_columns(("t2w", "portal")))
    assert set(table.feature_columns) == expected
    for column in (
        "portal:original_glcm_Contrast",
        "portal:original_glszm_ZoneEntropy",
        "t2w:original_ngtdm_Coarseness",
    ):
        assert column in table.feature_columns


def test_log_mean_equals_the_mean_of_the_whole_image_log_inside_the_lesion(dataset: Dataset) -> None:
    frame = extract_dataset(dataset, settings=LOG_2MM, sequences=["portal"], scheduler="sync").frame
    row = frame.set_index("lesion_id").loc["c1-1"]
    image = load_image(dataset.root / image_relpath("c1", "portal"))
    mask = load_image(dataset.root / lesion_mask_relpath("c1")).array == 1
    whole = laplacian_of_gaussian(image.array, image.spacing, 2.0, normalise="pyradiomics")
    assert row["portal:log-sigma-2-0-mm-3D_firstorder_Mean"] == pytest.approx(np.mean(whole[mask]), rel=1e-9)
    assert not any(column.startswith("portal:original_glcm") for column in frame.columns)
    assert "portal:original_shape_VoxelVolume" in frame.columns  # shape is named once, under original


def test_filters_on_a_lesion_at_the_image_border_equal_whole_image_filtering() -> None:
    rng = np.random.default_rng(7)
    affine = np.diag([1.2, 1.2, 3.0, 1.0])
    array = rng.normal(100.0, 15.0, size=(30, 32, 16))
    labels = np.zeros(array.shape, dtype=np.int16)
    labels[0:6, 10:18, 5:9] = 1  # touches the i = 0 face, where the crop is clipped
    settings = {
        "preset": "pyradiomics",
        "feature_classes": ["firstorder"],
        "image_types": {"log": {"sigma_mm": [3.0]}, "wavelet": {"wavelet": "haar"}},
    }
    features = extract_features(Image(array, affine), Image(labels, affine), settings)
    inside = labels == 1
    log = laplacian_of_gaussian(array, (1.2, 1.2, 3.0), 3.0, normalise="pyradiomics")
    assert features["log-sigma-3-0-mm-3D_firstorder_Maximum"] == pytest.approx(log[inside].max(), rel=1e-9)
    bands = wavelet_subbands(array, "haar")
    for band in ("LLL", "HLH", "HHH"):
        assert features[f"wavelet-{band}_firstorder_Mean"] == pytest.approx(
            bands[band][inside].mean(), rel=1e-9
        )
    assert len([name for name in features if name.startswith("wavelet-")]) == 8 * 19


def test_pyradiomics_parameter_file_drives_extract_features_to_the_brain1_glcm_baseline(
    tmp_path: Path,
) -> None:
    table = pd.read_csv(PYRADIOMICS / "baseline" / "baseline_glcm.csv", index_col=0)
    setting = ast.literal_eval(table.loc["diagnostics_Configuration_Settings", "brain1"])
    params = tmp_path / "brain1.yaml"
    params.write_text(
        yaml.safe_dump(
            {
                "imageType": {"Original": {}},
                "featureClass": {"glcm": None},
                "setting": {"binWidth": setting["binWidth"], "label": setting["label"]},
            }
        ),
        encoding="utf-8",
    )
    found = extract_features(PYRADIOMICS / "brain1_image.nrrd", PYRADIOMICS / "brain1_label.nrrd", params)
    expected = {k: float(v) for k, v in table["brain1"].items() if k.startswith("original_glcm_")}
    assert set(found) == set(expected)
    for name, value in expected.items():
        assert found[name] == pytest.approx(value, rel=1e-6, abs=1e-9), name


def test_pyradiomics_parameter_file_drives_extract_dataset(dataset: Dataset) -> None:
    params = {"featureClass": {"glcm": ["Contrast"], "shape": ["VoxelVolume"]}, "setting": {"binWidth": 10}}
    table = extract_dataset(dataset, settings=params, sequences=["portal"], scheduler="sync")
    assert table.metadata["settings"]["pyradiomics_params"]["setting"]["binWidth"] == 10
    frame = table.frame.set_index("lesion_id")
    radiomic = [c for c in frame.columns if c.startswith("portal:")]
    assert radiomic == ["portal:original_glcm_Contrast", "portal:original_shape_VoxelVolume"]
    voxels = int(in_ball(world_of(PORTAL_AFFINE, (48, 48, 20)), 2).sum())
    assert frame.loc["c1-2", "portal:original_shape_VoxelVolume"] == pytest.approx(voxels * 1.5 * 1.5 * 3.0)


def test_feature_classes_restrict_the_columns(dataset: Dataset) -> None:
    settings = {"feature_classes": ["shape", "glszm"]}
    table = extract_dataset(dataset, settings=settings, sequences=["portal"], scheduler="sync")
    families = {c.split(":")[1].split("_")[1] for c in table.feature_columns if c.startswith("portal:")}
    assert families == {"shape", "glszm"}


def test_awkward_lesions_give_nan_and_one_warning_each_not_an_error(tmp_path: Path) -> None:
    dataset = write_awkward_dataset(tmp_path)
    with pytest.warns(RadiomicsWarning) as caught:
        frame = extract_dataset(dataset, scheduler="sync", liver_features=False).frame.set_index("lesion_id")
    messages = [str(w.message) for w in caught if issubclass(w.category, RadiomicsWarning)]
    assert len(messages) == 3
    assert {m.split(",")[0] for m in messages} == {"Lesion c1-2", "Lesion c1-3", "Lesion c1-4"}
    assert all("sequence portal" in m for m in messages)
    assert any("c1-3" in m and "not finite" in m for m in messages)
    assert any("c1-4" in m and "no voxel" in m for m in messages)
    portal = [c for c in frame.columns if c.startswith("portal:")]
    # the normal lesion (a constant region of one grey level) keeps every feature
    assert frame.loc["c1-1", portal].notna().all()
    assert frame.loc["c1-1", "portal:original_firstorder_Mean"] == pytest.approx(BALLS[1][2], rel=1e-6)
    assert frame.loc["c1-4", portal].isna().all()
    intensity = [c for c in portal if "_shape_" not in c]
    assert frame.loc["c1-3", intensity].isna().all()
    assert frame.loc["c1-3", "portal:original_shape_VoxelVolume"] == pytest.approx(
        np.count_nonzero(np.isnan(load_image(dataset.root / image_relpath("c1", "portal")).array)) * 6.75
    )
    assert frame.loc["c1-2", "portal:original_shape_VoxelVolume"] == pytest.approx(6.75)
    assert np.isnan(frame.loc["c1-2", "portal:original_glcm_Contrast"])


def test_nan_intensities_in_one_lesion_are_an_error_naming_it_in_extract_features() -> None:
    array = np.full((10, 10, 10), 5.0)
    array[4, 4, 4] = np.nan
    labels = np.zeros(array.shape, dtype=np.int8)
    labels[3:6, 3:6, 3:6] = 1
    with pytest.raises(RadiomicsError, match=r"label 1: original: 1 of 27 lesion intensities are not finite"):
        extract_features(Image(array, np.eye(4)), Image(labels, np.eye(4)), "pyradiomics")


def test_same_inputs_give_the_same_table(dataset: Dataset) -> None:
    settings = {"image_types": {"original": {}, "wavelet": {"wavelet": "haar"}}}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RadiomicsWarning)
        first = extract_dataset(dataset, settings=settings, scheduler="sync")
        second = extract_dataset(dataset, settings=settings, scheduler="processes")
    pd.testing.assert_frame_equal(first.frame, second.frame, check_exact=True)
    assert first.metadata["settings_hash"] == second.metadata["settings_hash"]


def test_texture_bin_width_replaces_the_default_bin_count() -> None:
    settings = load_settings({"texture_bin_width": 0.1})
    assert (settings["texture_bin_count"], settings["texture_bin_width"]) == (None, 0.1)
    assert load_settings()["texture_bin_count"] == 32
    assert load_settings("pyradiomics")["texture_bin_width"] == 25.0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"feature_classes": ["glcm", "lbp"]}, r"unknown class\(es\) \['lbp'\]"),
        ({"image_types": {"gabor": {}}}, r"unknown image type\(s\) \['gabor'\]"),
        ({"image_types": {"log": {}}}, "log.sigma_mm must be a list"),
        ({"image_types": {"wavelet": {"wavelet": "db4"}}}, "coif1"),
        ({"texture_bin_count": 16, "texture_bin_width": 0.1}, "exactly one of texture_bin_count"),
        ({"texture_bin_count": 2.5}, "texture_bin_count must be a whole number"),
        ({"force2D": "yes"}, "force2D must be true or false"),
        ({"distances": [0]}, "distances must be a list of positive integers"),
        ({"imageType": {"Square": {}}}, r"PyRadiomics parameters: .*Square"),
        ({"featureClass": {"glcm": ["Contrast", "Contrst"]}}, r"unknown glcm feature\(s\) \['Contrst'\]"),
    ],
)
def test_bad_feature_settings_are_refused_naming_the_key(settings: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(settings)


def test_missing_sequence_still_leaves_nan_without_warning(dataset: Dataset) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RadiomicsWarning)
        frame = extract_dataset(dataset, scheduler="sync").frame.set_index("lesion_id")
    assert frame.loc["c3-1", [c for c in frame.columns if c.startswith("t2w:")]].isna().all()
    assert LESIONS["lesion_id"].tolist() == frame.index.tolist()


def striped_lesion() -> tuple[Image, Image]:
    """A 6 x 6 x 6 voxel lesion whose slices (along k) alternate between 100 and 200, in noise-free liver."""
    array = np.full((12, 12, 12), 150.0)
    array[3:9, 3:9, 3:9] = np.where(np.arange(6) % 2 == 0, 100.0, 200.0)[None, None, :]
    labels = np.zeros(array.shape, dtype=np.int8)
    labels[3:9, 3:9, 3:9] = 1
    return Image(array, np.eye(4)), Image(labels, np.eye(4))


def test_force2d_glcm_sees_only_in_plane_neighbours() -> None:
    image, mask = striped_lesion()
    settings = {"preset": "pyradiomics", "feature_classes": ["glcm"], "texture_bin_count": 2}
    in_plane = extract_features(image, mask, {**settings, "force2D": True})
    volume = extract_features(image, mask, settings)
    # within a slice every voxel has the same level: no in-plane pair differs
    assert in_plane["original_glcm_Contrast"] == 0.0
    assert in_plane["original_glcm_JointEnergy"] == pytest.approx(0.5)
    # 9 of the 13 directions cross slices, where every pair differs by one level (contrast 1)
    assert volume["original_glcm_Contrast"] == pytest.approx(9 / 13)


def test_fixed_bin_count_texture_ignores_the_intensity_scale_and_fixed_width_does_not() -> None:
    rng = np.random.default_rng(11)
    array = rng.normal(100.0, 20.0, size=(16, 16, 12))
    labels = np.zeros(array.shape, dtype=np.int8)
    labels[4:12, 4:12, 3:9] = 1
    mask = Image(labels, np.eye(4))
    settings = {"preset": "pyradiomics", "feature_classes": list(TEXTURE)}
    for bins, invariant in (({"texture_bin_count": 32}, True), ({"texture_bin_width": 5.0}, False)):
        plain = extract_features(Image(array, np.eye(4)), mask, {**settings, **bins})
        scaled = extract_features(Image(array * 7.0, np.eye(4)), mask, {**settings, **bins})
        same = plain["original_glszm_ZoneEntropy"] == pytest.approx(scaled["original_glszm_ZoneEntropy"])
        assert same is invariant
        assert (plain == pytest.approx(scaled)) is invariant
