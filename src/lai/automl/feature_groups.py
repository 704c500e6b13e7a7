"""Feature groups: the sequences and feature families a search can switch on and off.

Feature columns are named ``<sequence>:<filter>_<family>_<Feature>`` (``portal:original_glcm_Contrast``);
liver-specific ones carry a ``kinetics:`` or ``context:`` prefix, which is their "sequence" (they have no
family). Each sequence is one switch and each family (across sequences) another; a column is used when
both of its switches are on (a column without a family only needs its sequence). Groups with few columns are merged into one ``other`` group, so the search spends no
trials on a switch that can hardly matter. This is WORC's groupwise feature selection (Starmans et al.,
2021), with sequences as a second dimension so that the search summary tells which sequences matter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

OTHER = "other"
"""Name of the group that collects the columns of small groups and unparsable names."""

_NO_FAMILY = ("kinetics", "context")


def column_group(name: str) -> tuple[str, str | None]:
    """Return ``(sequence, family)`` of a feature column name: ``other`` where the name does not say,
    family ``None`` for the ``kinetics:`` and ``context:`` columns.

    Examples
    --------
    >>> column_group("t2w:log-sigma-2-0-mm-3D_glcm_Contrast")
    ('t2w', 'glcm')
    >>> column_group("kinetics:arterial_lesion_to_liver_ratio")
    ('kinetics', None)
    """
    prefix, colon, rest = name.partition(":")
    if not colon:
        return OTHER, OTHER
    if prefix in _NO_FAMILY:
        return prefix, None
    parts = rest.split("_")
    return prefix, parts[1] if len(parts) >= 3 else OTHER


@dataclass(frozen=True)
class FeatureGroups:
    """Column indices of each switchable group, in two dimensions: ``sequence`` and ``family``.

    A dimension with a single group has no switch and is left out of ``switches``.
    """

    sequence: Mapping[str, np.ndarray]
    family: Mapping[str, np.ndarray]
    n_columns: int

    @property
    def switches(self) -> list[tuple[str, str]]:
        """``(dimension, group)`` pairs the search switches, in a stable order."""
        return [
            (dimension, name)
            for dimension, groups in (("sequence", self.sequence), ("family", self.family))
            if len(groups) > 1
            for name in groups
        ]

    def columns(self, on: Mapping[tuple[str, str], bool]) -> np.ndarray:
        """Return the sorted indices of the columns whose sequence and family are both switched on.

        Parameters
        ----------
        on
            ``(dimension, group) -> bool``; a switch not named is on.
        """
        keep = np.ones(self.n_columns, dtype=bool)
        for dimension, groups in (("sequence", self.sequence), ("family", self.family)):
            if len(groups) < 2:
                continue
            mask = np.ones(self.n_columns, dtype=bool)  # columns outside every group of this dimension stay
            for name, indices in groups.items():
                mask[indices] = on.get((dimension, name), True)
            keep &= mask
        return np.flatnonzero(keep)


def feature_groups(columns: Sequence[str], min_fraction: float = 0.01) -> FeatureGroups:
    """Return the switchable feature groups of the column names ``columns``.

    Parameters
    ----------
    columns
        Feature column names in table order.
    min_fraction
        A group with fewer than ``max(2, ceil(min_fraction * len(columns)))`` columns joins ``other``.
    """
    names = [column_group(str(c)) for c in columns]
    smallest = max(2, math.ceil(min_fraction * len(names)))
    dimensions = []
    for axis in (0, 1):
        labels = np.array([pair[axis] for pair in names], dtype=object)
        counts = {label: int((labels == label).sum()) for label in dict.fromkeys(labels) if label is not None}
        merged = np.array(
            [None if label is None else label if counts[label] >= smallest else OTHER for label in labels],
            dtype=object,
        )
        present = sorted({label for label in merged if label is not None})
        dimensions.append({str(label): np.flatnonzero(merged == label) for label in present})
    return FeatureGroups(sequence=dimensions[0], family=dimensions[1], n_columns=len(names))
