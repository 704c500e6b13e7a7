"""Leaderboards: one row per team, ranked by a metric or by the mean or median of per-metric ranks.

Ties share a rank ("standard competition ranking": 1, 2, 2, 4), as does grand-challenge.org; a missing
metric ranks last. Aggregating per-metric ranks by their mean or median follows Maier-Hein L et al. (2018),
"Why rankings of biomedical image analysis competitions should be interpreted with care", Nat Commun 9:5217.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lai.portal.scoring import LOWER_IS_BETTER

AGGREGATES: tuple[str, ...] = ("mean_rank", "median_rank")


@dataclass(frozen=True)
class Entry:
    """A scored submission as the leaderboard sees it: team, submission id, time, aggregate metrics."""

    team: str
    submission_id: int
    created_at: str
    metrics: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    """A leaderboard row: rank (shared on ties), the team's chosen entry and, for rank aggregates, its score."""

    rank: int
    entry: Entry
    score: float | None


def competition_rank(values: Sequence[float | None], lower_is_better: bool) -> np.ndarray:
    """Return ranks 1.. with ties sharing the lowest rank and missing values ranked after every other."""
    array = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    oriented = np.where(np.isnan(array), np.inf, array if lower_is_better else -array)
    return np.searchsorted(np.sort(oriented), oriented, side="left").astype(np.int64) + 1


def _scores(entries: Sequence[Entry], metrics: Sequence[str], rank_by: str) -> np.ndarray:
    """Return each entry's score, oriented so that lower is better."""
    if rank_by in AGGREGATES:
        ranks = np.array(
            [competition_rank([e.metrics.get(m) for e in entries], m in LOWER_IS_BETTER) for m in metrics]
        )
        return np.mean(ranks, axis=0) if rank_by == "mean_rank" else np.median(ranks, axis=0)
    values = np.array(
        [np.nan if e.metrics.get(rank_by) is None else e.metrics[rank_by] for e in entries], dtype=float
    )
    oriented = values if rank_by in LOWER_IS_BETTER else -values
    return np.where(np.isnan(oriented), np.inf, oriented)


def leaderboard(
    entries: Sequence[Entry], metrics: Sequence[str], rank_by: str, per_team: str = "best"
) -> list[Row]:
    """Return the ranked rows, one per team.

    Parameters
    ----------
    entries
        Every scored submission of the phase.
    metrics
        The phase's metric set (the ranks aggregated by ``mean_rank`` / ``median_rank``).
    rank_by
        A metric name, ``mean_rank`` or ``median_rank``.
    per_team
        ``best``: each team's best entry by ``rank_by`` (ranks aggregated over all entries; earliest wins a
        tie); ``latest``: each team's most recent entry.
    """
    if not entries:
        return []
    if per_team == "latest":
        chosen: dict[str, Entry] = {}
        for entry in sorted(entries, key=lambda e: (e.created_at, e.submission_id)):
            chosen[entry.team] = entry
    else:
        scores = _scores(entries, metrics, rank_by)
        order = sorted(
            range(len(entries)), key=lambda i: (scores[i], entries[i].created_at, entries[i].submission_id)
        )
        chosen = {}
        for i in order:
            chosen.setdefault(entries[i].team, entries[i])
    finalists = list(chosen.values())
    scores = _scores(finalists, metrics, rank_by)
    ranks = competition_rank([None if np.isinf(s) else float(s) for s in scores], lower_is_better=True)
    shown: list[Any] = [
        None if (np.isinf(s) or rank_by not in AGGREGATES) else round(float(s), 3) for s in scores
    ]
    rows = [Row(rank=int(r), entry=e, score=s) for r, e, s in zip(ranks, finalists, shown, strict=True)]
    return sorted(rows, key=lambda row: (row.rank, row.entry.team))
