"""Feature groups: sequences and families parsed from column names, small groups merged, switches."""

from __future__ import annotations

import numpy as np

from lai.automl.feature_groups import OTHER, column_group, feature_groups


def test_column_names_give_sequence_and_family():
    assert column_group("portal:original_glcm_Contrast") == ("portal", "glcm")
    assert column_group("t2w:log-sigma-2-0-mm-3D_firstorder_Mean") == ("t2w", "firstorder")
    assert column_group("adc:wavelet-LLH_glszm_ZoneEntropy") == ("adc", "glszm")
    assert column_group("kinetics:arterial_lesion_to_liver_ratio") == ("kinetics", None)
    assert column_group("context:liver_volume") == ("context", None)
    assert column_group("age") == (OTHER, OTHER)
    assert column_group("t2w:oddname") == ("t2w", OTHER)


def test_groups_hold_the_column_indices_and_small_groups_are_merged():
    columns = [
        *(f"t2w:original_firstorder_F{j}" for j in range(4)),
        *(f"portal:original_glcm_F{j}" for j in range(4)),
        "kinetics:ratio_a",
        "context:liver_volume",
    ]
    groups = feature_groups(columns)
    assert sorted(groups.sequence) == ["other", "portal", "t2w"]
    np.testing.assert_array_equal(groups.sequence["t2w"], [0, 1, 2, 3])
    np.testing.assert_array_equal(groups.sequence["other"], [8, 9])
    assert sorted(groups.family) == ["firstorder", "glcm"]  # kinetics and context columns have no family
    assert ("sequence", "portal") in groups.switches and ("family", "glcm") in groups.switches
    on = {("family", "firstorder"): False, ("family", "glcm"): False}
    assert groups.columns(on).tolist() == [8, 9]  # only the family-less columns are left


def test_a_column_is_used_only_when_its_sequence_and_family_are_on():
    columns = [
        "t2w:original_firstorder_A",
        "t2w:original_glcm_B",
        "adc:original_firstorder_C",
        "adc:original_glcm_D",
    ]
    groups = feature_groups(columns)
    np.testing.assert_array_equal(groups.family["glcm"], [1, 3])
    assert groups.columns({}).tolist() == [0, 1, 2, 3]
    assert groups.columns({("sequence", "t2w"): False}).tolist() == [2, 3]
    assert groups.columns({("sequence", "t2w"): False, ("family", "glcm"): False}).tolist() == [2]
    assert groups.columns({("sequence", "t2w"): False, ("sequence", "adc"): False}).tolist() == []


def test_a_single_group_has_no_switch():
    groups = feature_groups([f"t2w:original_firstorder_F{j}" for j in range(5)])
    assert groups.switches == []
    assert groups.columns({}).tolist() == [0, 1, 2, 3, 4]
