"""The IBSI 1 CT configurations A-E in the IBSI runner, on a synthetic CT-like volume.

The IBSI lung cancer CT phantom is not available here, so each preset is checked for the properties its
processing steps must have (grid, rounding, masks, discretisation, aggregations), with expected values
worked out in the tests from the manual's definitions, and against the manual's configuration tables.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lai.cli import app
from lai.imaging import Image, save_image
from lai.radiomics import SettingsError
from lai.radiomics.ibsi import IBSI_PRESETS, ProcessedRoi, ibsi_features, load_ibsi_settings, process_ibsi

CT_PRESETS = ("ibsi-ct-a", "ibsi-ct-b", "ibsi-ct-c", "ibsi-ct-d", "ibsi-ct-e")
SHAPE = (40, 40, 12)
SPACING = (0.9, 0.9, 2.5)


@pytest.fixture(scope="module")
def ct() -> tuple[Image, Image]:
    """A soft-tissue sphere (40 HU) in fat (-100 HU) in air, with an air pocket and a calcification.

    The ROI, a 13 mm sphere, takes in some fat, the air pocket (-900 HU, outside every range) and the
    calcification (1200 HU, above every range and an outlier).
    """
    rng = np.random.default_rng(11)
    affine = np.diag([*SPACING, 1.0])
    affine[:3, 3] = (-18.0, -18.0, -14.0)
    index = np.stack(np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij"), axis=-1)
    world = index @ affine[:3, :3].T + affine[:3, 3]
    radius = np.linalg.norm(world, axis=-1)
    hu = np.full(SHAPE, -1000.0)
    hu[radius < 17] = -100.0
    hu[radius < 11] = 40.0
    hu += rng.normal(0.0, 12.0, SHAPE)
    hu[np.linalg.norm(world - [4.0, 0.0, 0.0], axis=-1) < 3] = -900.0
    hu[np.linalg.norm(world - [-5.0, 3.0, 2.0], axis=-1) < 2] = 1200.0
    return Image(np.rint(hu), affine), Image((radius < 13).astype(np.uint8), affine)


@pytest.fixture(scope="module")
def processed(ct: tuple[Image, Image]) -> dict[str, ProcessedRoi]:
    return {name: process_ibsi(*ct, name) for name in CT_PRESETS}


@pytest.fixture(scope="module")
def tables(ct: tuple[Image, Image]) -> dict[str, pd.DataFrame]:
    return {name: ibsi_features(*ct, name) for name in CT_PRESETS}


# --- The presets are the manual's configurations ---

MANUAL = {
    # dimensions, resample, interpolation, rounding, range, outliers, (discretisation, bins), IVH
    "ibsi-ct-a": ("2D", None, None, False, [-500.0, 400.0], False, ("fbs", 25.0), ("none", None)),
    "ibsi-ct-b": (
        "2D",
        [2.0, 2.0, None],
        "linear",
        True,
        [-500.0, 400.0],
        False,
        ("fbn", 32),
        ("none", None),
    ),
    "ibsi-ct-c": (
        "3D",
        [2.0, 2.0, 2.0],
        "linear",
        True,
        [-1000.0, 400.0],
        False,
        ("fbs", 25.0),
        ("fbs", 2.5),
    ),
    "ibsi-ct-d": ("3D", [2.0, 2.0, 2.0], "linear", True, None, True, ("fbn", 32), ("none", None)),
    "ibsi-ct-e": ("3D", [2.0, 2.0, 2.0], "cubic", True, [-1000.0, 400.0], True, ("fbn", 32), ("fbn", 1000)),
}


@pytest.mark.parametrize("name", CT_PRESETS)
def test_preset_matches_the_manuals_configuration_table(name: str) -> None:
    dims, spacing, interpolation, rounding, bounds, outliers, (method, bins), (ivh, ivh_bins) = MANUAL[name]
    config = load_ibsi_settings(name)
    assert config["dimensions"] == dims
    assert config["resample"] == spacing
    assert config["in_plane_only"] == (dims == "2D" and spacing is not None)
    if spacing is not None:
        assert config["interpolation"] == interpolation
        assert (config["mask_interpolation"], config["mask_threshold"]) == ("linear", 0.5)
    assert config["round_intensities"] == rounding
    assert config["resegment_range"] == bounds
    assert config["resegment_outliers"] == outliers
    assert config["discretisation"] == method
    assert config["bin_width" if method == "fbs" else "bin_number"] == bins
    assert config["ivh_discretisation"] == ivh
    if ivh != "none":
        assert config["ivh_bin_width" if ivh == "fbs" else "ivh_bin_number"] == ivh_bins


# --- End to end ---


@pytest.mark.parametrize("name", CT_PRESETS)
def test_preset_gives_a_finite_value_for_every_tag(tables: dict[str, pd.DataFrame], name: str) -> None:
    table = tables[name]
    assert table["tag"].is_unique
    assert table.loc[~np.isfinite(table["value"]), "tag"].tolist() == []


@pytest.mark.parametrize("name", CT_PRESETS)
def test_preset_reports_the_aggregations_of_its_dimension(tables: dict[str, pd.DataFrame], name: str) -> None:
    texture = tables[name].loc[
        lambda t: t["family"].isin(["glcm", "glrlm", "glszm", "gldzm", "ngtdm", "ngldm"])
    ]
    is_3d = texture["tag"].str.contains("_3D")
    if MANUAL[name][0] == "2D":
        assert not is_3d.any()
        assert texture["tag"].str.contains("_2_5D").any()
        # 25 GLCM, 16 GLRLM features x 4 aggregations; GLSZM, GLDZM 16, NGTDM 5, NGLDM 17 x 2
        assert len(texture) == 25 * 4 + 16 * 4 + (16 + 16 + 5 + 17) * 2
    else:
        assert is_3d.all()
        assert len(texture) == 25 * 2 + 16 * 2 + 16 + 16 + 5 + 17
    assert set(tables[name]["family"]) >= {"morphology", "statistics", "intensity_histogram", "ivh"}


def test_the_command_runs_a_ct_preset_on_nifti_files(ct: tuple[Image, Image], tmp_path: Path) -> None:
    save_image(ct[0], tmp_path / "ct.nii.gz")
    save_image(ct[1], tmp_path / "mask.nii.gz")
    out = tmp_path / "values.csv"
    image, mask = str(tmp_path / "ct.nii.gz"), str(tmp_path / "mask.nii.gz")
    arguments = ["radiomics", "ibsi", image, mask, "--settings", "ibsi-ct-d", "--out", str(out)]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    values = pd.read_csv(out)
    assert "cm_contrast_3D_avg" in set(values["tag"])
    assert np.isfinite(values["value"]).all()


# --- Interpolation and rounding ---


@pytest.mark.parametrize("name", CT_PRESETS[1:])
def test_interpolated_presets_follow_the_ceiling_rule_and_round_to_integers(
    processed: dict[str, ProcessedRoi], name: str
) -> None:
    image = processed[name].image
    if name == "ibsi-ct-b":
        # in plane only: ceil(40 * 0.9 / 2) per in-plane axis; the 12 slices of 2.5 mm stay
        assert image.shape == (18, 18, 12)
        assert image.spacing == pytest.approx((2.0, 2.0, 2.5))
    else:
        assert image.shape == (18, 18, math.ceil(12 * 2.5 / 2.0))
        assert image.spacing == pytest.approx((2.0, 2.0, 2.0))
    assert np.array_equal(image.array, np.rint(image.array))


def test_configuration_a_keeps_the_original_grid_and_roi(
    processed: dict[str, ProcessedRoi], ct: tuple[Image, Image]
) -> None:
    roi = processed["ibsi-ct-a"]
    assert np.array_equal(roi.image.array, ct[0].array)
    assert np.array_equal(roi.morphological_mask, ct[1].array == 1)


# --- Re-segmentation ---


@pytest.mark.parametrize("name", ["ibsi-ct-a", "ibsi-ct-b", "ibsi-ct-c"])
def test_range_presets_keep_exactly_the_morphological_voxels_in_range(
    processed: dict[str, ProcessedRoi], name: str
) -> None:
    roi = processed[name]
    low, high = MANUAL[name][4]
    hu = roi.image.array
    expected = roi.morphological_mask & (hu >= low) & (hu <= high)
    assert np.array_equal(roi.intensity_mask, expected)
    # the air pocket and the calcification leave the intensity mask, not the morphological mask
    assert (roi.morphological_mask & (hu > high)).any()
    assert roi.intensity_mask.sum() < roi.morphological_mask.sum()


def _within_three_sd(hu: np.ndarray, mask: np.ndarray) -> np.ndarray:
    values = hu[mask]
    mean = values.sum() / values.size
    sd = math.sqrt(((values - mean) ** 2).sum() / values.size)
    return mask & (hu >= mean - 3 * sd) & (hu <= mean + 3 * sd)


def test_configuration_d_filters_outliers_at_three_standard_deviations(
    processed: dict[str, ProcessedRoi],
) -> None:
    roi = processed["ibsi-ct-d"]
    expected = _within_three_sd(roi.image.array, roi.morphological_mask)
    assert np.array_equal(roi.intensity_mask, expected)
    assert roi.image.array[roi.intensity_mask].max() < 1200


def test_configuration_e_filters_outliers_within_the_range(processed: dict[str, ProcessedRoi]) -> None:
    roi = processed["ibsi-ct-e"]
    hu = roi.image.array
    in_range = roi.morphological_mask & (hu >= -1000) & (hu <= 400)
    assert np.array_equal(roi.intensity_mask, _within_three_sd(hu, in_range))


# --- Discretisation ---


@pytest.mark.parametrize("name", ["ibsi-ct-b", "ibsi-ct-d", "ibsi-ct-e"])
def test_fixed_bin_number_presets_have_thirty_two_grey_levels(
    processed: dict[str, ProcessedRoi], name: str
) -> None:
    roi = processed[name]
    inside = roi.levels[roi.intensity_mask]
    assert roi.n_levels == 32
    assert (inside.min(), inside.max()) == (1, 32)
    assert (roi.levels[~roi.intensity_mask] == 0).all()


@pytest.mark.parametrize(("name", "low", "n_levels"), [("ibsi-ct-a", -500.0, 37), ("ibsi-ct-c", -1000.0, 57)])
def test_fixed_bin_size_presets_bin_from_the_range_lower_bound(
    processed: dict[str, ProcessedRoi], name: str, low: float, n_levels: int
) -> None:
    roi = processed[name]
    hu = roi.image.array[roi.intensity_mask]
    assert roi.levels[roi.intensity_mask].tolist() == (np.floor((hu - low) / 25.0) + 1).astype(int).tolist()
    # N_g: the bin of the range's upper bound, 400 HU
    assert roi.n_levels == n_levels == math.floor((400.0 - low) / 25.0) + 1


# --- Settings ---


def test_a_mapping_overrides_a_preset() -> None:
    config = load_ibsi_settings({"preset": "ibsi-ct-c", "dimensions": "all", "bin_width": 10.0})
    assert (config["dimensions"], config["bin_width"], config["resegment_range"]) == (
        "all",
        10.0,
        [-1000.0, 400.0],
    )


def test_settings_refuse_an_unknown_key() -> None:
    with pytest.raises(SettingsError, match="bin_widht"):
        load_ibsi_settings({"preset": "ibsi-ct-a", "bin_widht": 25})


def test_settings_refuse_fixed_bin_number_without_a_bin_number() -> None:
    with pytest.raises(SettingsError, match="bin_number"):
        load_ibsi_settings({"discretisation": "fbn"})


def test_settings_refuse_in_plane_interpolation_with_a_slice_spacing() -> None:
    with pytest.raises(SettingsError, match="in_plane_only"):
        load_ibsi_settings({"resample": [2.0, 2.0, 2.0], "in_plane_only": True})


def test_every_preset_loads() -> None:
    assert set(CT_PRESETS) < set(IBSI_PRESETS)
    for name in IBSI_PRESETS:
        assert load_ibsi_settings(name)["families"]


def test_settings_load_from_a_yaml_file_over_a_preset(tmp_path: Path) -> None:
    path = tmp_path / "ibsi.yaml"
    path.write_text("preset: ibsi-ct-d\nbin_number: 16\nresegment_range: [-200, null]\n", encoding="utf-8")
    config = load_ibsi_settings(str(path))
    assert (config["bin_number"], config["resegment_range"], config["resegment_outliers"]) == (
        16,
        [-200, None],
        True,
    )


# --- Intensity-volume histogram discretisation ---


def _ivh(tables: dict[str, pd.DataFrame], name: str, tag: str) -> float:
    return float(tables[name].set_index("tag").loc[tag, "value"])


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [("ibsi-ct-a", -500.0, 400.0), ("ibsi-ct-b", -500.0, 400.0), ("ibsi-ct-d", None, None)],
)
def test_ivh_without_discretisation_works_on_hounsfield_units_in_steps_of_one(
    tables: dict[str, pd.DataFrame],
    processed: dict[str, ProcessedRoi],
    name: str,
    low: float | None,
    high: float | None,
) -> None:
    hu = processed[name].values
    # I_x: the lowest grey level i of the grid (the re-segmentation range, else the ROI's own range, in
    # steps of 1 HU) that at most a fraction x of the ROI reaches
    grid = np.arange(hu.min() if low is None else low, (hu.max() if high is None else high) + 1.0)
    reached = np.array([(hu >= i).mean() for i in grid])
    for tag, fraction in (("ivh_i10", 0.1), ("ivh_i90", 0.9)):
        assert _ivh(tables, name, tag) == grid[np.flatnonzero(reached <= fraction)[0]]
    # V_x: the fraction of the ROI at or above the fraction x of the grid's span
    for tag, fraction in (("ivh_v10", 0.1), ("ivh_v90", 0.9)):
        assert _ivh(tables, name, tag) == np.mean(hu >= grid[0] + fraction * (grid[-1] - grid[0]))


def test_ivh_of_configuration_c_reports_centres_of_two_and_a_half_hu_bins(
    tables: dict[str, pd.DataFrame],
) -> None:
    for tag in ("ivh_i10", "ivh_i90"):
        # bin centres -1000 + (k - 1/2) 2.5 HU
        k = (_ivh(tables, "ibsi-ct-c", tag) + 1000.0) / 2.5 + 0.5
        assert k == pytest.approx(round(k))


def test_ivh_of_configuration_e_reports_levels_of_a_thousand_bins(tables: dict[str, pd.DataFrame]) -> None:
    for tag in ("ivh_i10", "ivh_i90"):
        value = _ivh(tables, "ibsi-ct-e", tag)
        assert value == round(value)
        assert 1 <= value <= 1000
    assert _ivh(tables, "ibsi-ct-e", "ivh_i10") > 100
