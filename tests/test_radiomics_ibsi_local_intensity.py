"""IBSI local intensity features (lai.radiomics.local_intensity) against the IBSI 1 digital phantom.

The phantom's 2 mm voxels put 123 voxel centres inside the 1 cm^3 sphere; those outside the image do not
count, so the peaks near the phantom's edge average fewer voxels.
"""

from __future__ import annotations

import numpy as np
import pytest

from ibsi_reference import (
    assert_matches_reference,
    assert_no_warnings,
    phantom,
    reference_tags,
)
from lai.radiomics import local_intensity


def phantom_features() -> dict[str, float]:
    image, mask, spacing = phantom()
    return local_intensity.local_intensity_features(image, mask, spacing=spacing)


@pytest.mark.parametrize("tag", reference_tags("loc_"))
def test_local_intensity_matches_ibsi_digital_phantom(tag: str) -> None:
    assert_matches_reference(tag, phantom_features()[tag])


def test_local_intensity_covers_the_catalogue_in_ibsi_order() -> None:
    assert list(phantom_features()) == [d.base_tag for d in local_intensity.FEATURES]
    assert local_intensity.AGGREGATIONS == ()


def test_sphere_kernel_on_2mm_voxels_holds_123_voxel_centres() -> None:
    assert local_intensity.sphere_kernel((2.0, 2.0, 2.0)).sum() == 123


def test_local_intensity_of_a_constant_image_is_that_constant_without_warnings() -> None:
    image = np.full((6, 6, 6), 4.0)
    mask = np.zeros(image.shape, dtype=bool)
    mask[2:4, 2:4, 2:4] = True
    features = assert_no_warnings(
        local_intensity.local_intensity_features, image, mask, spacing=(1.0, 1.0, 1.0)
    )
    assert features == {"loc_peak_loc": 4.0, "loc_peak_glob": 4.0}


def test_local_intensity_of_a_one_voxel_roi_averages_its_neighbourhood() -> None:
    image = np.zeros((3, 3, 3))
    image[1, 1, 1] = 27.0
    mask = image > 0
    # 10 mm voxels: the sphere holds the centre voxel only
    coarse = assert_no_warnings(
        local_intensity.local_intensity_features, image, mask, spacing=(10.0, 10.0, 10.0)
    )
    assert coarse["loc_peak_loc"] == 27.0
    # 1 mm voxels: the 3x3x3 image lies inside the sphere, which averages all 27 voxels
    fine = local_intensity.local_intensity_features(image, mask, spacing=(1.0, 1.0, 1.0))
    assert fine["loc_peak_glob"] == pytest.approx(1.0)


def test_local_intensity_refuses_an_empty_roi() -> None:
    with pytest.raises(ValueError, match="at least one ROI voxel"):
        local_intensity.local_intensity_features(
            np.zeros((2, 2, 2)), np.zeros((2, 2, 2), bool), spacing=(1.0, 1.0, 1.0)
        )
